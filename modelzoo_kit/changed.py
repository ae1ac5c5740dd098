"""``validate -r --changed-since REV``: only the model folders a git range touched.

A pull request gate checks what the pull request changed: the files that differ between the
merge base of REV and HEAD and HEAD (``git diff REV...HEAD``, as a pull request's "files
changed"), renames counted on both sides, so a folder moved away is checked where it went
and a folder that lost a file to a rename is checked too. Each touched file belongs to the
deepest training folder of the zoo walk that holds it; files in no training folder touch
nothing. Git runs through :mod:`modelzoo_kit.gitrun` (offline, no hooks, filters or
textconv: a diff of two commits reads no work-tree content).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from modelzoo_kit.errors import UsageError
from modelzoo_kit.gitrun import GitCommandError, run_git


def _git(args: list[str], cwd: Path) -> tuple[int, str]:
    try:
        result = run_git(args, cwd=cwd, offline=True, check=False)
    except GitCommandError as exc:
        raise UsageError(f"--changed-since: {exc}") from None
    return result.returncode, result.stdout.decode("utf-8", errors="surrogateescape")


def changed_files(root: Path, rev: str) -> set[str]:
    """Paths relative to ``root`` (a zoo inside a git work tree) that ``rev...HEAD`` touched,
    both sides of a rename. Errors a user can fix (no work tree, an unknown REV) are
    :class:`UsageError`."""
    if not rev or rev.startswith("-"):
        raise UsageError(f"--changed-since: {rev!r} is not a revision")
    code, top = _git(["rev-parse", "--show-toplevel"], root)
    if code != 0 or not top.strip():
        raise UsageError(f"--changed-since: {root} is not inside a git work tree")
    code, _ = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                   root)  # fmt: skip
    if code != 0:
        raise UsageError(f"--changed-since: {rev!r} is not a commit in the repository of {root}")
    code, out = _git(
        ["diff", "--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv", "--no-color",
         f"{rev}...HEAD", "--"],
        root,
    )  # fmt: skip
    if code != 0:
        raise UsageError(f"--changed-since: git diff {rev}...HEAD failed in {root}")
    base = Path(top.strip()).resolve()
    try:
        inside = PurePosixPath(root.resolve().relative_to(base).as_posix())
    except ValueError:
        raise UsageError(f"--changed-since: {root} is outside its work tree {base}") from None
    return {rel for path in _diff_paths(out) if (rel := _below(path, inside)) is not None}


def _diff_paths(out: str) -> list[str]:
    """``--name-status -z``: a status field, then one path (two for renames and copies)."""
    fields = out.split("\0")
    paths, index = [], 0
    while index < len(fields) and fields[index]:
        status = fields[index]
        count = 2 if status[:1] in ("R", "C") else 1
        paths.extend(fields[index + 1 : index + 1 + count])
        index += 1 + count
    return paths


def _below(path: str, inside: PurePosixPath) -> str | None:
    if str(inside) == ".":
        return path
    pure = PurePosixPath(path)
    try:
        return pure.relative_to(inside).as_posix()
    except ValueError:
        return None


def touched_folders(folders: list[str], files: set[str]) -> set[str]:
    """The folders (walk-relative, ``.`` the root) that hold a touched file: for each file,
    the deepest of ``folders`` above it."""
    known = set(folders)
    touched: set[str] = set()
    for file in files:
        parent = PurePosixPath(file).parent
        for candidate in (parent, *parent.parents):
            name = candidate.as_posix()
            if name in known:
                touched.add(name)
                break
    return touched
