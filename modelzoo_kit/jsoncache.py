"""The kit's cache files (``validate -r --walk-cache FILE``, ``catalog --cache FILE``).

A cache is a JSON object (data only: nothing in it is ever run or unpickled), written
atomically through :func:`~modelzoo_kit.writing.write_atomically`, and tagged with what made
it: its kind, its schema, the kit version and the options its entries depend on. A file that
is absent, unreadable, not JSON, or tagged otherwise is not used; :func:`load_cache` says why,
so a caller can tell the user, and the next save replaces it. A cache lives where the caller
says and nowhere else.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any


def load_cache(path: Path, tag: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the cache, None) when ``path`` holds one tagged ``tag``; else (None, why it is not
    used), the reason None for a file that is not there yet (a first run)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc})"
    except UnicodeDecodeError:
        return None, f"{path}: is not a cache file (not UTF-8 text)"
    except json.JSONDecodeError as exc:
        return None, f"{path}: is not a cache file (not JSON: {exc.msg}, line {exc.lineno})"
    except (ValueError, RecursionError):
        return None, f"{path}: is not a cache file (not JSON the kit reads)"
    if not isinstance(data, dict):
        return None, f"{path}: is not a cache file (not a JSON object)"
    for key, wanted in tag.items():
        if data.get(key) != wanted:
            return None, f"{path}: was made {_made_by(key, data.get(key), wanted)}"
    return data, None


def _made_by(key: str, found: Any, wanted: Any) -> str:
    if key == "kind":
        return f"as {found!r}, not as a {wanted!r} cache" if found else "by no kit command"
    if key == "kit":
        return f"by modelzoo-kit {found}, not {wanted}"
    return f"with {key} {found!r}, not {wanted!r}"


def save_cache(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically. ASCII escapes: a file name that is not UTF-8 is
    a lone surrogate, which JSON can escape but no UTF-8 file can hold as it is."""
    from modelzoo_kit.writing import write_atomically

    write_atomically(path, json.dumps(data, separators=(",", ":")))


def file_stamp(path: Path, follow: bool = True) -> list[int] | None:
    """What a cache keys a file by: [size, modification time in ns] of a regular file; None
    for anything else (with ``follow`` False, a symbolic link is anything else). Size and
    mtime, as ``validate -r --walk-cache``: a stat, not a read."""
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError):
        return None
    return [info.st_size, info.st_mtime_ns] if stat.S_ISREG(info.st_mode) else None
