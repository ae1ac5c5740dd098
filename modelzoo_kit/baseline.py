"""A baseline of known findings, so that a legacy zoo can gate what is new.

``validate --baseline FILE`` reports only the findings FILE does not list, plus the entries of
FILE that no longer match anything (fixed: ``--update-baseline`` drops them). An entry is a
*fingerprint* of a finding, never its line number, so that lines moving (a paragraph added
above) leave it matched:

* ``rule``: a finding of another rule is never hidden;
* ``path``: the file, relative to the zoo root (the PATH of ``validate -r``; without ``-r``
  the path as findings show it, relative to the working directory), so a finding in another
  file is never hidden. A renamed folder's findings are new: the baseline cannot know that
  ``a/`` became ``b/``, and a rename is the moment a pull request touches the folder anyway;
* ``text``: the offending line, whitespace collapsed and credentials masked (a finding
  without a line, such as a missing section, uses its message with line numbers removed).
  Lines longer than :data:`TEXT_LIMIT` keep their start and a hash of the whole;
* ``count``: how many findings share the three (two identical broken lines are two).

The file is JSON, not YAML: the kit writes it and diffs show it, and JSON has one spelling
for a string (no ``no``/``on`` booleans, no folded or quoted styles to churn), so the same
findings always give the same bytes. Entries are sorted by path, rule and text, one per line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from modelzoo_kit.display import mask_credentials
from modelzoo_kit.errors import InputFileError, InputProblem
from modelzoo_kit.findings import Finding
from modelzoo_kit.inputs import read_bytes
from modelzoo_kit.readme import MAX_README_BYTES, decode_readme
from modelzoo_kit.writing import write_atomically

BASELINE_SCHEMA = 1
#: Longer offending lines are kept as their first characters and a hash of the whole line.
TEXT_LIMIT = 120

_SPACE = re.compile(r"\s+")
_LINE_NUMBER = re.compile(r"\b(lines?) \d+")

Key = tuple[str, str, str]
"""(path relative to the zoo root, rule, normalised text)."""


def normalise_text(text: str) -> str:
    """The offending text as a fingerprint holds it: independent of indentation and spacing,
    bounded in length, and with no credentials written to the baseline file."""
    text = mask_credentials(_SPACE.sub(" ", text).strip())
    if len(text) <= TEXT_LIMIT:
        return text
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{text[:100]}… #{digest}"


class LineSource:
    """The lines of the files findings name, each file read once (bounded, as the checks read
    them: BOM dropped, CRLF and CR made ``\\n``, so line numbers mean what the finding meant)."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str] | None] = {}

    def line(self, path: str, number: int) -> str | None:
        if path not in self._lines:
            self._lines[path] = self._read(path)
        lines = self._lines[path]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    @staticmethod
    def _read(path: str) -> list[str] | None:
        source = Path(path)
        try:
            data = read_bytes(source, MAX_README_BYTES, within=source.parent, what="file")
            text, _ = decode_readme(data, path)
        except (InputFileError, OSError):
            return None
        return text.split("\n")


def relative_path(path: str, roots: Iterable[str]) -> str:
    """``path`` as findings show it -> relative to the first zoo root (as shown) below which it
    lies; unchanged when there is none."""
    for root in roots:
        if root in ("", "."):
            return path
        prefix = root.rstrip("/") + "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
        if path == root.rstrip("/"):
            return "."
    return path


def fingerprint(finding: Finding, roots: Iterable[str], source: LineSource) -> Key:
    """The key a baseline holds for ``finding``."""
    text = source.line(finding.path, finding.line) if finding.line is not None else None
    if text is None or not text.strip():
        text = _LINE_NUMBER.sub(r"\1 N", finding.message)
    return (relative_path(finding.path, roots), finding.rule, normalise_text(text))


@dataclass(frozen=True)
class BaselineEntry:
    path: str
    rule: str
    text: str
    count: int = 1

    @property
    def key(self) -> Key:
        return (self.path, self.rule, self.text)

    def to_json(self) -> dict:
        return {"path": self.path, "rule": self.rule, "text": self.text, "count": self.count}


@dataclass
class BaselineResult:
    """What comparing findings with a baseline gave: the findings it does not list (marked
    ``baseline="new"``), how many it hid, and its entries nothing matched any more."""

    new: list[Finding]
    known: int
    fixed: list[BaselineEntry]

    def summary(self, file: Path) -> dict:
        return {
            "baseline": {
                "file": str(file),
                "known": self.known,
                "new": len(self.new),
                "fixed": [entry.to_json() for entry in self.fixed],
            }
        }

    def text(self, file: Path) -> str:
        from modelzoo_kit.display import shown

        lines = [f"baseline {shown(str(file), one_line=True)}: {self.known} known finding(s) "
                 f"hidden, {len(self.new)} new"]  # fmt: skip
        if self.fixed:
            total = sum(entry.count for entry in self.fixed)
            lines.append(f"{total} baseline entr{'y is' if total == 1 else 'ies are'} fixed "
                         "(run with --update-baseline to drop them):")  # fmt: skip
            for entry in self.fixed:
                times = f" (x{entry.count})" if entry.count > 1 else ""
                lines.append(f"  {shown(entry.path, one_line=True)}  {entry.rule}  "
                             f"{shown(entry.text, one_line=True)}{times}")  # fmt: skip
        return "\n".join(lines) + "\n"


def entries_of(findings: Iterable[Finding], roots: Iterable[str]) -> list[BaselineEntry]:
    """The baseline that lists exactly ``findings``, sorted."""
    roots, source = tuple(roots), LineSource()
    counts = Counter(fingerprint(f, roots, source) for f in findings)
    return [BaselineEntry(*key, count) for key, count in sorted(counts.items())]


def compare(
    findings: list[Finding],
    entries: list[BaselineEntry],
    roots: Iterable[str],
    checked: Callable[[BaselineEntry], bool] = lambda entry: True,
) -> BaselineResult:
    """Split ``findings`` into the ones ``entries`` list and the new ones. Each entry hides at
    most ``count`` findings of its key: a third identical finding where two were known is new.
    An entry nothing matched is fixed only where ``checked`` says this run looked (a run of
    some rules, or of the folders a git range touched, says nothing about the others)."""
    roots, source = tuple(roots), LineSource()
    left = Counter({entry.key: entry.count for entry in entries})
    new: list[Finding] = []
    for finding in sorted(findings, key=Finding.sort_key):
        key = fingerprint(finding, roots, source)
        if left[key] > 0:
            left[key] -= 1
        else:
            new.append(replace(finding, baseline="new"))
    fixed = [BaselineEntry(*key, count) for key, count in sorted(left.items()) if count > 0]
    fixed = [entry for entry in fixed if checked(entry)]
    return BaselineResult(new, len(findings) - len(new), fixed)


def dumps(entries: list[BaselineEntry]) -> str:
    """The file's text: deterministic, one entry per line, so a diff shows each change."""
    rows = ",\n    ".join(
        json.dumps(entry.to_json(), ensure_ascii=False, sort_keys=False) for entry in entries
    )
    body = f"[\n    {rows}\n  ]" if rows else "[]"
    return f'{{\n  "schema": {BASELINE_SCHEMA},\n  "entries": {body}\n}}\n'


def write_baseline(file: Path, entries: list[BaselineEntry]) -> None:
    write_atomically(file, dumps(entries))


def _bad(file: Path, message: str) -> InputFileError:
    return InputFileError([InputProblem(file, None, None, "", message)])


def load_baseline(file: Path) -> list[BaselineEntry]:
    """Read a baseline file; a missing, unreadable or malformed one is an input error."""
    try:
        data = read_bytes(file, 256 * 1024**2, what="baseline")
    except OSError as exc:
        raise _bad(file, f"cannot be read: {exc.strerror or exc}") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(file, f"is not a baseline (JSON): {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != BASELINE_SCHEMA:
        raise _bad(file, f"is not a modelzoo baseline (schema {BASELINE_SCHEMA})")
    entries = []
    for index, item in enumerate(document.get("entries", [])):
        try:
            entry = BaselineEntry(item["path"], item["rule"], item["text"], int(item["count"]))
            if not all(isinstance(v, str) for v in entry.key) or entry.count < 1:
                raise TypeError
        except (KeyError, TypeError, ValueError):
            raise _bad(file, f"entry {index + 1} is not {{path, rule, text, count}}") from None
        entries.append(entry)
    return entries
