"""Facts the README derives from the deliverable folder instead of asking a person to write them:
the directory tree and the checkpoint's size.

The tree must not depend on what a training run left behind (checkpoints, logs, caches), or
``render --check`` would differ between a developer's folder and a clean checkout. Inside a git
work tree the files are the ones git would commit (tracked plus untracked-but-not-ignored);
elsewhere (an unpacked source package) every file except caches and hidden ones. The README
files the renderer writes are always listed, so the first render and the second agree.
"""

from __future__ import annotations

import fnmatch
import os
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from modelzoo_kit import fieldrules
from modelzoo_kit.errors import InputFileError, InputProblem
from modelzoo_kit.gitrun import git_output
from modelzoo_kit.inputs import MAX_FOLDER_DEPTH
from modelzoo_kit.layouts import README_FILES

#: Files the renderer writes into the folder; always part of the tree.
RENDERED_FILES: tuple[str, ...] = tuple(README_FILES.values())

#: Never shown: byte-code caches, editor and tool droppings.
ALWAYS_EXCLUDED: tuple[str, ...] = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".*",
    "*.egg-info",
    ".pytest_cache",
)


def deliverable_files(folder: Path, exclude: Iterable[str] = ()) -> list[str]:
    """The deliverable's files as sorted POSIX paths relative to ``folder``."""
    listed = _git_files(folder)
    if listed is None:
        listed = _walk_files(folder)
    too_deep = next((p for p in listed if len(p.parts) > MAX_FOLDER_DEPTH), None)
    if too_deep is not None:
        raise InputFileError([InputProblem(folder / too_deep.parts[0], None, None, "", (
            f"folders nested more than {MAX_FOLDER_DEPTH} deep; flatten the folder"))])
    patterns = (*ALWAYS_EXCLUDED, *exclude)
    files = {str(p) for p in listed if not _excluded(p, patterns)}
    files.update(name for name in RENDERED_FILES if not _excluded(PurePosixPath(name), patterns))
    return sorted(files, key=lambda p: p.split("/"))


def _walk_files(folder: Path) -> list[PurePosixPath]:
    return list(files_below(folder))


def files_below(folder: Path, skip_hidden: bool = False) -> Iterator[PurePosixPath]:
    """Every file and link below ``folder`` (relative paths), without recursion and without
    following a link to a folder, so a link loop or a 1,000-deep tree ends: a folder deeper
    than MAX_FOLDER_DEPTH is given as ``its/path/...``, not entered. ``skip_hidden`` leaves
    out folders whose name starts with a dot."""
    stack = [(folder, PurePosixPath())]
    while stack:
        directory, rel = stack.pop()
        try:
            with os.scandir(directory) as scan:
                entries = list(scan)
        except OSError:
            continue
        for entry in entries:
            path = rel / entry.name
            if entry.is_dir(follow_symlinks=False):
                if skip_hidden and entry.name.startswith("."):
                    continue
                if len(path.parts) <= MAX_FOLDER_DEPTH:
                    stack.append((Path(entry.path), path))
                else:
                    yield path / "..."
            elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                yield path


def _excluded(path: PurePosixPath, patterns: Iterable[str]) -> bool:
    text = str(path)
    for pattern in patterns:
        if fnmatch.fnmatchcase(text, pattern) or any(
            fnmatch.fnmatchcase(part, pattern) for part in path.parts
        ):
            return True
    return False


def _git_files(folder: Path) -> list[PurePosixPath] | None:
    """What git would commit under ``folder``; None when it is not in a work tree (or no git).

    Through :func:`modelzoo_kit.gitrun.git_output`, like every git call: the folder may sit in
    a repository whose config names programs (``core.fsmonitor``) that must not run."""
    out = git_output(
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."], cwd=folder
    )
    if out is None:
        return None
    names = [n for n in out.split("\0") if n]
    # A file deleted from the work tree but still in the index is not part of the folder.
    return [PurePosixPath(n) for n in names if (folder / n).exists()]


def directory_tree(
    folder: Path, notes: dict[str, str] | None = None, exclude: Iterable[str] = ()
) -> str:
    """The folder as a ``tree``-style drawing, each path's note (if any) aligned beside it.

    ``notes`` keys are paths relative to the folder; a folder's note may be written with or
    without a trailing slash."""
    notes = {k.rstrip("/"): v for k, v in (notes or {}).items()}
    files = deliverable_files(folder, exclude)
    tree: dict[str, dict] = {}
    for file in files:
        node = tree
        for part in file.split("/"):
            node = node.setdefault(part, {})
    rows: list[tuple[str, str]] = [(folder.resolve().name + "/", notes.get(".", ""))]

    def walk(node: dict[str, dict], prefix: str, parent: str) -> None:
        entries = sorted(node.items(), key=lambda item: (not item[1], item[0]))
        for index, (name, children) in enumerate(entries):
            last = index == len(entries) - 1
            path = f"{parent}{name}"
            shown = _printable_name(name)
            label = f"{shown}/" if children else shown
            rows.append((f"{prefix}{'└── ' if last else '├── '}{label}", notes.get(path, "")))
            if children:
                walk(children, prefix + ("    " if last else "│   "), f"{path}/")

    walk(tree, "", "")
    width = max(_display_width(text) for text, _ in rows) + 2
    lines = []
    for text, note in rows:
        if note:
            padding = " " * (width - _display_width(text))
            lines.append(f"{text}{padding}# {note}")
        else:
            lines.append(text)
    return "\n".join(lines)


def _printable_name(name: str) -> str:
    """A file name that is not UTF-8 (held as surrogate escapes) with its bytes as ``\\xff``:
    the README is UTF-8, and writing the raw name would fail."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _display_width(text: str) -> int:
    """Columns a string takes in a monospaced font (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def unknown_note_paths(
    folder: Path, notes: Iterable[str], exclude: Iterable[str] = ()
) -> list[str]:
    """Note keys that name no file or folder of the deliverable (a renamed or deleted file)."""
    files = deliverable_files(folder, exclude)
    known = set(files) | {"."}
    for file in files:
        parts = file.split("/")
        known.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return [key for key in notes if key.rstrip("/") not in known]


def checkpoint_size(folder: Path, checkpoint: str) -> str:
    """The checkpoint's size written the template's way (``21M``)."""
    return fieldrules.format_size((folder / checkpoint).stat().st_size)
