"""Hash a local folder exactly the way ``git add`` + ``git write-tree`` would.

Provenance compares *object ids*, not file contents fetched one by one: if the id of the tree
we compute for the deliverable folder equals the id of ``<commit>:<code_path>``, the two are
identical byte for byte, and not a single blob has to come from the remote.

What changes an id, and how each case is handled here:

* **content** — a blob id is ``sha1(b"blob <size>\\0" + bytes)`` of the bytes git *stores*,
  which are the working-tree bytes after git's "clean" conversions (below).
* **executable bit** — git records ``100755`` when the owner may execute the file, ``100644``
  otherwise; no other permission bit matters.
* **symlinks** — mode ``120000``; the blob is the link target (never followed).
* **empty folders** — git has no entry for them; they vanish from the tree.
* **nested repositories / submodules** — a folder holding ``.git`` is a *gitlink* (``160000``)
  whose id is the commit checked out there, not the files inside.
* **line endings** — ``.gitattributes`` (``text``, ``text=auto``, ``eol``, ``-text``/``binary``)
  and ``core.autocrlf`` make git turn CRLF into LF before hashing. We apply the same rules,
  including git's binary detection for ``auto``. When git's "safer autocrlf" rule depends on
  the index (which a plain folder does not have), :attr:`LocalEntry.raw_oid` keeps the id of the
  unconverted bytes so the caller can accept either.
* **Git LFS** — ``filter=lfs`` files are stored as pointer files; we compute the pointer
  (``oid sha256:…`` + ``size``) from the content, exactly as ``git lfs clean`` writes it.
* ``ident`` (``$Id$`` collapsing) and ``working-tree-encoding`` are applied; any *other*
  ``filter=`` driver runs a user program we cannot know, so the raw bytes are hashed and a
  :class:`HashNote` says the id may differ.

Ordering: entries are sorted by name bytes, with a folder compared as if its name ended
in ``/`` (so ``a.txt`` sorts before folder ``a`` … ``a/`` > ``a.txt``), as git's
``base_name_compare`` does.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from modelzoo_kit.errors import InputFileError, InputProblem
from modelzoo_kit.globs import compile_glob
from modelzoo_kit.inputs import MAX_FOLDER_DEPTH, MAX_SOURCE_BYTES, read_bytes

MODE_FILE = "100644"
MODE_EXECUTABLE = "100755"
MODE_SYMLINK = "120000"
MODE_TREE = "40000"  # git writes tree modes without the leading zero
MODE_GITLINK = "160000"

LFS_POINTER_HEADER = b"version https://git-lfs.github.com/spec/v1\n"


def object_id(kind: str, data: bytes, algorithm: str = "sha1") -> str:
    """The id git gives an object: ``hash(b"<kind> <size>\\0" + data)``."""
    digest = hashlib.new(algorithm)
    digest.update(f"{kind} {len(data)}\0".encode())
    digest.update(data)
    return digest.hexdigest()


def blob_id(data: bytes, algorithm: str = "sha1") -> str:
    return object_id("blob", data, algorithm)


def _sort_key(item: tuple[str, bytes, str]) -> bytes:
    mode, name, _ = item
    return name + b"/" if mode == MODE_TREE else name


def tree_id(entries: Iterable[tuple[str, bytes, str]], algorithm: str = "sha1") -> str:
    """The id of a tree made of ``(mode, name, object id)`` entries, in git's order."""
    body = bytearray()
    for mode, name, oid in sorted(entries, key=_sort_key):
        body += mode.encode() + b" " + name + b"\0" + bytes.fromhex(oid)
    return object_id("tree", bytes(body), algorithm)


# --------------------------------------------------------------------------- git patterns


def path_matches(pattern: str, path: str) -> bool:
    """Whether ``path`` (POSIX, relative) matches a gitignore-style ``pattern``.

    A pattern without ``/`` matches the name at any depth; one with ``/`` is anchored at the
    root; a trailing ``/`` (or a match on a parent folder) covers everything below. A ``path``
    ending in ``/`` is a folder (so ``build/`` matches it)."""
    is_folder = path.endswith("/")
    path = path.rstrip("/")
    pattern = pattern.strip()
    if not pattern:
        return False
    directory_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    anchored = "/" in pattern
    pattern = pattern.lstrip("/")
    parts = path.split("/")
    candidates = []
    for end in range(1, len(parts) + 1):
        if directory_only and end == len(parts) and not is_folder:
            continue  # the pattern names a folder; the full path here is the file itself
        prefix = "/".join(parts[:end])
        candidates.append(prefix if anchored else parts[end - 1])
    return any(compile_glob(pattern).match(candidate) for candidate in candidates)


# --------------------------------------------------------------------------- attributes


@dataclass(frozen=True)
class AttributeRule:
    base: str  # folder (relative, POSIX, "" for the root) of the .gitattributes file
    pattern: str
    values: tuple[tuple[str, str | bool | None], ...]  # None = unspecified ("!attr")

    def matches(self, path: str) -> bool:
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        pattern = self.pattern
        if "/" not in pattern.rstrip("/"):
            return compile_glob(pattern).match(path.rsplit("/", 1)[-1])
        return compile_glob(pattern.lstrip("/")).match(path)


_MACROS: dict[str, tuple[tuple[str, bool], ...]] = {
    "binary": (("diff", False), ("merge", False), ("text", False)),
}


def parse_gitattributes(text: str, base: str = "") -> list[AttributeRule]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("[attr]"):
            continue
        pattern, *tokens = line.split()
        values: list[tuple[str, str | bool | None]] = []
        for token in tokens:
            if token.startswith("-"):
                values.append((token[1:], False))
            elif token.startswith("!"):
                values.append((token[1:], None))
            elif "=" in token:
                name, value = token.split("=", 1)
                values.append((name, value))
            else:
                values.extend(_MACROS.get(token, ()))
                values.append((token, True))
        rules.append(AttributeRule(base, pattern, tuple(values)))
    return rules


def attributes_for(path: str, rules: list[AttributeRule]) -> dict[str, str | bool | None]:
    """The attributes git gives ``path``: later lines and deeper files win."""
    result: dict[str, str | bool | None] = {}
    for rule in rules:  # rules are ordered shallow -> deep, top -> bottom
        if rule.matches(path):
            for name, value in rule.values:
                result[name] = value
    return result


# --------------------------------------------------------------------------- conversions


@dataclass(frozen=True)
class HashNote:
    """Something about a file that git could hash differently from us (or did on purpose)."""

    path: str
    kind: str  # "filter", "submodule", "special", "encoding", "lfs"
    message: str


_NONPRINTABLE = bytes(b for b in range(32) if b not in (8, 9, 10, 13, 27, 12)) + b"\x7f"


def _is_binary_for_git(data: bytes) -> bool:
    """git's convert_is_binary(): a NUL, a lone CR, or too many non-printable bytes."""
    nul = b"\0" in data
    lone_cr = data.count(b"\r") != data.count(b"\r\n")
    nonprintable = len(data) - len(data.translate(None, _NONPRINTABLE))
    printable = len(data) - nonprintable
    if data.endswith(b"\x1a"):
        nonprintable -= 1
    return nul or lone_cr or (printable >> 7) < nonprintable


def lfs_pointer(data: bytes) -> bytes:
    """The pointer file ``git lfs clean`` stores for ``data`` (spec v1)."""
    if data.startswith(LFS_POINTER_HEADER) and len(data) < 1024:
        return data  # already a pointer (the file was never smudged)
    digest = hashlib.sha256(data).hexdigest()
    return LFS_POINTER_HEADER + f"oid sha256:{digest}\nsize {len(data)}\n".encode()


_IDENT = re.compile(rb"\$Id:[^$\n]*\$")


def clean_bytes(
    data: bytes, attrs: dict[str, str | bool | None], autocrlf: str | None
) -> tuple[bytes, str | None]:
    """The bytes git stores for a working-tree file, and a note when we cannot be sure."""
    note = None
    filter_name = attrs.get("filter")
    if filter_name == "lfs":
        data = lfs_pointer(data)
    elif isinstance(filter_name, str):
        note = (
            f"filter={filter_name} runs a program we cannot run; hashed the file as it is, "
            "so it may differ from what git stores"
        )
    encoding = attrs.get("working-tree-encoding")
    if isinstance(encoding, str):
        try:
            data = data.decode(encoding).encode("utf-8")
        except (LookupError, UnicodeError):
            note = f"working-tree-encoding={encoding} does not decode this file; hashed as it is"
    text = attrs.get("text")
    eol = attrs.get("eol")
    if text is False:
        convert = False
    elif text is True or (text is None and isinstance(eol, str)):
        convert = True
    elif text == "auto" or (text is None and autocrlf in ("true", "input")):
        convert = not _is_binary_for_git(data)
    else:
        convert = False
    if convert and b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    if attrs.get("ident") is True:
        data = _IDENT.sub(b"$Id$", data)
    return data, note


# --------------------------------------------------------------------------- the folder


@dataclass(frozen=True)
class LocalEntry:
    """One file, link or gitlink of the folder, as git would record it."""

    path: str  # POSIX, relative to the hashed folder
    mode: str
    oid: str
    raw_oid: str | None = None  # id of the bytes as they are, when a conversion changed them


@dataclass
class LocalTree:
    root: Path
    tree_id: str
    entries: dict[str, LocalEntry]
    notes: list[HashNote] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    empty_dirs: set[str] = field(default_factory=set)


def nested_tree_ids(entries: Iterable[LocalEntry], algorithm: str = "sha1") -> dict[str, str]:
    """The id of every folder (``""`` = the root) built from flat entries, bottom-up."""
    children: dict[str, list[tuple[str, bytes, str]]] = {"": []}
    for entry in entries:
        parts = entry.path.split("/")
        for depth in range(1, len(parts)):
            children.setdefault("/".join(parts[:depth]), [])
        parent = "/".join(parts[:-1])
        children[parent].append((entry.mode, os.fsencode(parts[-1]), entry.oid))
    ids: dict[str, str] = {}
    for folder in sorted(children, key=lambda p: -p.count("/") - (1 if p else 0)):
        ids[folder] = tree_id(children[folder], algorithm)
        if folder:
            parent, _, name = folder.rpartition("/")
            children[parent].append((MODE_TREE, os.fsencode(name), ids[folder]))
    return ids


def flat_tree_id(entries: Iterable[LocalEntry], algorithm: str = "sha1") -> str:
    """The root tree id of flat entries (empty list -> git's empty tree)."""
    return nested_tree_ids(list(entries), algorithm)[""]


GitlinkResolver = Callable[[Path], str | None]


def _read_gitlink_head(folder: Path) -> str | None:
    """The commit checked out in a nested repository, or None (no commit yet / unreadable).

    Asked of git through the kit's hardened runner (the nested repository's config is as
    untrusted as the folder); imported here so that hashing alone never needs git."""
    from modelzoo_kit.gitrun import head_commit

    return head_commit(folder)


def hash_folder(
    folder: Path,
    *,
    exclude: Callable[[str], bool] | None = None,
    autocrlf: str | None = None,
    algorithm: str = "sha1",
    resolve_gitlink: GitlinkResolver = _read_gitlink_head,
) -> LocalTree:
    """Hash ``folder`` as git would after ``git add -A`` of exactly these files.

    ``exclude(relpath)`` drops paths (gitignore'd files, ``provenance.ignore``); it gets a
    folder's path with a trailing ``/``, and an excluded folder is not descended into.
    ``.gitattributes`` files inside the folder are honoured; ``autocrlf`` is the user's
    ``core.autocrlf`` (``true``/``input``/``false``)."""
    root = Path(folder)
    entries: dict[str, LocalEntry] = {}
    notes: list[HashNote] = []
    excluded: list[str] = []
    empty_dirs: set[str] = set()
    rules: list[AttributeRule] = []

    def walk(directory: Path, rel: str) -> bool:
        if rel.count("/") >= MAX_FOLDER_DEPTH:
            raise InputFileError([InputProblem(directory, None, None, "", (
                f"folders nested more than {MAX_FOLDER_DEPTH} deep; flatten the folder"))])
        attributes_file = directory / ".gitattributes"
        if attributes_file.is_file() and not attributes_file.is_symlink():
            data = read_bytes(attributes_file, MAX_SOURCE_BYTES, what=".gitattributes")
            rules.extend(parse_gitattributes(data.decode("utf-8", errors="replace"), rel))
        found = False
        with os.scandir(directory) as scan:
            items = sorted(scan, key=lambda e: e.name)
        for item in items:
            if item.name == ".git":
                continue
            path = f"{rel}/{item.name}" if rel else item.name
            info = item.stat(follow_symlinks=False)
            folder_mark = "/" if stat.S_ISDIR(info.st_mode) else ""
            if exclude is not None and exclude(path + folder_mark):
                excluded.append(path)
                continue
            if stat.S_ISLNK(info.st_mode):
                target = os.fsencode(os.readlink(item.path))
                entries[path] = LocalEntry(path, MODE_SYMLINK, blob_id(target, algorithm))
                found = True
            elif stat.S_ISDIR(info.st_mode):
                child = Path(item.path)
                if (child / ".git").exists():
                    head = resolve_gitlink(child)
                    if head is None:
                        notes.append(
                            HashNote(
                                path,
                                "submodule",
                                "nested repository has no commit checked "
                                "out; git would refuse to add it",
                            )
                        )
                    else:
                        entries[path] = LocalEntry(path, MODE_GITLINK, head)
                        found = True
                elif walk(child, path):
                    found = True
                else:
                    empty_dirs.add(path)
            elif stat.S_ISREG(info.st_mode):
                mode = MODE_EXECUTABLE if info.st_mode & stat.S_IXUSR else MODE_FILE
                raw = Path(item.path).read_bytes()
                attrs = attributes_for(path, rules)
                stored, note = clean_bytes(raw, attrs, autocrlf)
                if note:
                    notes.append(HashNote(path, "filter", note))
                oid = blob_id(stored, algorithm)
                raw_oid = blob_id(raw, algorithm) if stored != raw else None
                entries[path] = LocalEntry(path, mode, oid, raw_oid)
                found = True
            else:
                notes.append(HashNote(path, "special", "not a file, link or folder; git skips it"))
        del rules[len(rules) - _rules_added(rules, rel) :]
        return found

    walk(root, "")
    return LocalTree(
        root=root,
        tree_id=flat_tree_id(entries.values(), algorithm),
        entries=entries,
        notes=notes,
        excluded=excluded,
        empty_dirs=empty_dirs,
    )


def _rules_added(rules: list[AttributeRule], rel: str) -> int:
    """How many trailing rules came from ``rel``'s own .gitattributes (dropped on leaving it)."""
    count = 0
    for rule in reversed(rules):
        if rule.base != rel:
            break
        count += 1
    return count
