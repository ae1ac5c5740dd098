"""Untrusted text made safe to show: credentials masked, control characters made visible.

Everything the kit prints that came from data someone else wrote (a url from deliverable.yaml,
an entry-point command, git's own stderr, a README line) passes through :func:`shown` on its
way to a terminal or a report, so

* ``https://user:token@host/x`` is printed as ``https://***@host/x`` (git masks it the same
  way in its own messages); an ``ssh://git@host`` login name, which is no secret, is kept;
* a carriage return, an ESC sequence, a backspace or a bidirectional override cannot make the
  terminal show one text while another one is what the kit runs or reports: each is written
  as its escape (``\\r``, ``\\x1b``, ``\\u202e``). Tabs stay, and newlines stay unless the
  text is meant to be one line (``one_line=True``).

No I/O here.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s?#'\"]*)@")
_LOGIN_ONLY_SCHEMES = ("ssh://", "git+ssh://", "ssh+git://")

#: C0 controls but tab and newline, DEL, C1 controls, and the Unicode characters that reorder
#: or hide text on a terminal (bidirectional overrides and isolates, line/paragraph separators).
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_CONTROL_OR_NEWLINE = re.compile(_CONTROL.pattern[:-1] + "\n]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\x1b": "\\x1b", "\b": "\\b", "\x00": "\\0"}


def first_control(text: str, one_line: bool = False) -> str | None:
    """The first control character in ``text`` as its escape (``\\x1b``), or None; a newline
    counts when ``one_line``. The metadata model uses it to refuse such values."""
    match = (_CONTROL_OR_NEWLINE if one_line else _CONTROL).search(text)
    return _escape(match) if match else None


def mask_credentials(text: str) -> str:
    """``text`` with the user-info part of every ``scheme://user:secret@host`` url masked.

    A password (``user:secret@``) or a lone token (``https://token@host``) becomes ``***``;
    an ssh login name without a password (``ssh://git@host``) is kept, as it is no secret."""

    def mask(match: re.Match[str]) -> str:
        scheme, userinfo = match.group("scheme"), match.group("userinfo")
        if scheme.lower() in _LOGIN_ONLY_SCHEMES and ":" not in userinfo:
            return match.group(0)
        return f"{scheme}***@"

    return _USERINFO.sub(mask, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, one_line: bool = False) -> str:
    """``text`` with every control character written as its escape (``\\r``, ``\\x1b``);
    ``one_line`` escapes newlines too."""
    pattern = _CONTROL_OR_NEWLINE if one_line else _CONTROL
    return pattern.sub(_escape, text)


def shown(text: object, one_line: bool = False) -> str:
    """What the kit prints for a value that came from data: credentials masked, control
    characters escaped. Use it wherever such a value reaches a terminal or a report."""
    return escape_controls(mask_credentials(str(text)), one_line=one_line)
