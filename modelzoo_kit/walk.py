"""A zoo walk that misses nothing: every folder with a README is classified
(:mod:`modelzoo_kit.classify`), the training deliverables are checked, and folders that cannot
be walked (unreadable, a symlink loop) are reported instead of stopping the walk.

Each folder is walked once: a symlink to a folder already walked (a loop, or a second way in)
is reported and not entered again.

With a cache file (``validate -r --walk-cache FILE``) a re-run costs a few stats per folder:

- a directory whose mtime has not changed keeps its listing (an entry added, removed or renamed
  changes its directory's mtime);
- a README whose size and mtime have not changed keeps its result; one that changed is read,
  and its result is reused when its bytes hash to the same key;
- a training folder's result also depends on its files (the images, scripts and links its
  README names must exist), so it is keyed by a fingerprint of the folder's listing too.

The cache is a JSON file (data only, never code), written atomically, tagged with the kit
version and the walk's options (:mod:`modelzoo_kit.jsoncache`, as the catalogue's); one that
does not match, or does not parse, is ignored and rewritten. It lives where the caller says and
nowhere else.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from bisect import bisect_left
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from modelzoo_kit import __version__
from modelzoo_kit.classify import Classification, classify
from modelzoo_kit.errors import InputFileError
from modelzoo_kit.findings import Finding, Severity
from modelzoo_kit.jsoncache import load_cache, save_cache
from modelzoo_kit.layouts import DELIVERABLE_FILE, README_FILES, get_layout

#: Folders a zoo walk never enters.
SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}

_README = re.compile(r"^readme(?:[._-][\w.-]*)?\.md$", re.IGNORECASE)
_TRAIN_SCRIPT = re.compile(r"^train_.*\.sh$")
CACHE_SCHEMA = 1


@dataclass(frozen=True)
class WalkProblem:
    path: str
    message: str


@dataclass
class FolderResult:
    """One folder with a README: what it was taken for and its findings."""

    folder: str
    """Relative to the walk's root (``.`` for the root)."""
    readme: str
    classification: Classification
    findings: list[Finding]


@dataclass
class WalkReport:
    folders: list[FolderResult] = field(default_factory=list)
    problems: list[WalkProblem] = field(default_factory=list)
    readmes_read: int = 0
    """READMEs read and classified this run (the rest came from the cache)."""

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.folders:
            label = result.classification.label
            counts[label] = counts.get(label, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.folders for f in result.findings]


@dataclass
class _Dir:
    mtime: int
    subdirs: list[str]
    readme: str | None
    train_scripts: bool
    names_digest: str
    has_deliverable: bool


def _choose_readme(names: Iterable[str]) -> str | None:
    candidates = sorted(n for n in names if _README.match(n))
    if not candidates:
        return None
    main = README_FILES["zh"]
    return main if main in candidates else candidates[0]


class _Walker:
    def __init__(self, root: Path, cache: dict | None) -> None:
        self.root = root
        self.old_dirs: dict[str, list] = (cache or {}).get("dirs", {})
        self.dirs: dict[str, _Dir] = {}
        self.problems: list[WalkProblem] = []
        self.seen: dict[tuple[int, int], str] = {}
        self._sorted: list[str] | None = None
        self.rescanned = 0

    def walk(self) -> None:
        self._visit(".", str(self.root))

    def _visit(self, rel: str, path: str) -> None:
        # An explicit stack: a zoo can be deeper than Python's recursion limit. Paths are
        # strings: pathlib's objects cost more than the stat calls on a cached re-run.
        stack = [(rel, path)]
        while stack:
            rel, path = stack.pop()
            try:
                info = os.stat(path)
            except OSError as exc:
                self.problems.append(WalkProblem(rel, f"cannot be read: {exc.strerror or exc}"))
                continue
            key = (info.st_dev, info.st_ino)
            if key in self.seen:
                target = self.seen[key]
                loop = target == "." or rel.startswith(target + "/")
                what = "a symlink loop back to" if loop else "a second way into"
                self.problems.append(WalkProblem(rel, f"{what} {target!r}: walked once, there"))
                continue
            self.seen[key] = rel
            entry = self._listing(rel, path, info)
            if entry is None:
                continue
            self.dirs[rel] = entry
            for name in reversed(entry.subdirs):
                child = name if rel == "." else f"{rel}/{name}"
                stack.append((child, f"{path}/{name}"))

    def _listing(self, rel: str, path: str, info: os.stat_result) -> _Dir | None:
        old = self.old_dirs.get(rel)
        if old is not None and old[0] == info.st_mtime_ns:
            return _Dir(*old)
        self.rescanned += 1
        try:
            with os.scandir(path) as entries:
                subdirs, files = [], []
                for item in entries:
                    try:
                        is_dir = item.is_dir()  # follows symlinks: loops are caught by inode
                    except OSError:
                        is_dir = False
                    if is_dir:
                        if item.name not in SKIPPED_DIRS and not item.name.startswith("."):
                            subdirs.append(item.name)
                    else:
                        files.append(item.name)
        except OSError as exc:
            self.problems.append(WalkProblem(rel, f"cannot be listed: {exc.strerror or exc}"))
            return None
        subdirs.sort()
        files.sort()
        digest = hashlib.sha1(_bytes("\0".join(files + ["/"] + subdirs)))
        return _Dir(
            info.st_mtime_ns,
            subdirs,
            _choose_readme(files),
            any(_TRAIN_SCRIPT.match(n) for n in files),
            digest.hexdigest()[:16],
            DELIVERABLE_FILE in files,
        )

    def has_training_scripts(self, rel: str) -> bool:
        test = self.dirs.get("test" if rel == "." else f"{rel}/test")
        return bool(test and test.train_scripts)

    def fingerprint(self, rel: str) -> str:
        """A digest of the folder's whole listing (every file and folder below it)."""
        if self._sorted is None:
            self._sorted = sorted(self.dirs)
        names = self._sorted
        digest = hashlib.sha1(_bytes(f"{rel}\0{self.dirs[rel].names_digest}\n"))
        if rel == ".":
            below = range(len(names))
        else:
            prefix = rel + "/"
            start = bisect_left(names, prefix)
            end = bisect_left(names, rel + "0")  # "0" is the character after "/"
            below = range(start, end)
        for index in below:
            name = names[index]
            digest.update(_bytes(f"{name}\0{self.dirs[name].names_digest}\n"))
        return digest.hexdigest()[:16]


def _join(base: str, rel: str, name: str) -> str:
    parts = [p for p in (base, rel, name) if p and p != "."]
    return "/".join(p.rstrip("/") for p in parts) if parts else name


def _finding_to_json(finding: Finding) -> list:
    return [
        finding.rule,
        finding.severity.value,
        finding.path,
        finding.line,
        finding.message,
        finding.hint,
        finding.column,
    ]


def _finding_from_json(item: list) -> Finding:
    rule, severity, path, line, message, hint, column = item
    return Finding(rule, Severity(severity), path, line, message, hint, column)


@dataclass(frozen=True)
class _Job:
    folder: str
    path: Path
    readme: str
    shown: str
    layout: str | None
    deliverable: bool


def _check(job: _Job) -> list[Finding]:
    """Findings for one training folder (run in a worker process when there are many)."""
    from modelzoo_kit.readme import read_readme
    from modelzoo_kit.rules import _unreadable, check_deliverable_folder, check_readme

    if job.deliverable:
        forced = get_layout(job.layout) if job.layout else None
        return check_deliverable_folder(job.path, job.shown, layout=forced).findings
    layout = get_layout(job.layout)
    readme = job.path / job.readme
    shown = _join(job.shown, "", job.readme)
    try:
        document = read_readme(readme)
    except InputFileError as exc:
        return [_unreadable(readme, shown, exc)]
    return check_readme(document, job.path, shown, layout)


def _no_layout(shown: str, classification: Classification) -> Finding:
    from modelzoo_kit.rules import finding

    return finding(
        "MZ100",
        shown,
        None,
        f"a training folder whose README follows no known layout ({classification.evidence})",
        "write the README in the template's layout (or pytorch-2022's), or force one with "
        "--layout",
    )


def _no_readme(shown: str) -> Finding:
    from modelzoo_kit.rules import finding

    return finding(
        "MZ305",
        shown,
        None,
        "a training folder (test/train_*.sh) without a README",
        "write its README in a layout, or render it from a deliverable.yaml",
    )


def walk_zoo(
    root: Path,
    shown_root: str,
    layout: str | None = None,
    cache_file: Path | None = None,
    jobs: int = 1,
    only: Callable[[list[str]], set[str]] | None = None,
) -> WalkReport:
    """Walk ``root``: classify every folder with a README and check the training deliverables.
    ``shown_root`` prefixes the paths in findings; ``layout`` forces a layout; ``cache_file``
    keeps results between runs (see the module docstring); ``jobs`` > 1 checks in parallel.
    ``only`` picks, from the training folders found, the ones to check and report (``validate
    --changed-since``); such a partial walk reads the cache but never writes it."""
    options = {"kind": "walk", "schema": CACHE_SCHEMA, "kit": __version__, "layout": layout,
               "shown": shown_root}  # fmt: skip
    cache = _load_cache(cache_file, options)
    walker = _Walker(root, cache)
    walker.walk()
    old_results: dict[str, list] = (cache or {}).get("results", {})
    results: dict[str, list] = {}
    report = WalkReport(problems=list(walker.problems))
    pending: list[tuple[FolderResult, _Job, str]] = []
    for rel in sorted(walker.dirs):
        entry = walker.dirs[rel]
        if entry.has_deliverable:
            # deliverable.yaml names its layout: always a deliverable, checked afresh (the
            # README is rendered from it, so it is no key of its own).
            result = FolderResult(
                rel, entry.readme or README_FILES["zh"],
                Classification("training", layout, DELIVERABLE_FILE), [],
            )  # fmt: skip
            report.folders.append(result)
            path = Path(root if rel == "." else os.path.join(root, rel))
            job = _Job(rel, path, result.readme, _join(shown_root, rel, ""), layout, True)
            pending.append((result, job, rel))
            results[rel] = [None, None, None, None, []]
            continue
        if entry.readme is None:
            if walker.has_training_scripts(rel):
                # A training folder without a README is a deliverable too: never skipped.
                shown = _join(shown_root, rel, README_FILES["zh"])
                report.folders.append(
                    FolderResult(rel, "", Classification("training-no-readme", None, "test/"),
                                 [_no_readme(shown)])
                )  # fmt: skip
            continue
        folder_path = str(root) if rel == "." else f"{root}/{rel}"
        readme_path = f"{folder_path}/{entry.readme}"
        train = walker.has_training_scripts(rel)
        try:
            info = os.stat(readme_path)
        except OSError as exc:
            report.problems.append(
                WalkProblem(_join("", rel, entry.readme), f"cannot be read: {exc.strerror}")
            )
            continue
        if not stat.S_ISREG(info.st_mode):
            report.problems.append(WalkProblem(_join("", rel, entry.readme), "not a file"))
            continue
        old = old_results.get(rel)
        stamp = [entry.readme, info.st_size, info.st_mtime_ns, train]
        content_key = None
        if old is None or old[0] != stamp:
            try:
                with open(readme_path, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                report.problems.append(
                    WalkProblem(_join("", rel, entry.readme), f"cannot be read: {exc.strerror}")
                )
                continue
            content_key = hashlib.sha1(data).hexdigest()
            if old is not None and old[1] == content_key and old[0][3] == train:
                old = [stamp, *old[1:]]
            else:
                old = None
        shown_folder = _join(shown_root, rel, "")
        if old is not None:
            kind, layout_name, evidence = old[2]
            classification = Classification(kind, layout_name, evidence)
            fingerprint = walker.fingerprint(rel) if kind == "training" else ""
            if fingerprint == old[3]:
                findings = [_finding_from_json(item) for item in old[4]]
                report.folders.append(FolderResult(rel, entry.readme, classification, findings))
                results[rel] = old
                continue
            content_key = old[1]
        else:
            report.readmes_read += 1
            text = _decode(data)
            classification = classify(text, train, layout)
            fingerprint = walker.fingerprint(rel) if classification.kind == "training" else ""
        result = FolderResult(rel, entry.readme, classification, [])
        report.folders.append(result)
        record = [stamp, content_key, [classification.kind, classification.layout,
                                       classification.evidence], fingerprint]  # fmt: skip
        if classification.kind == "training":
            assert classification.layout is not None
            job = _Job(rel, Path(folder_path), entry.readme, shown_folder,
                       classification.layout, entry.has_deliverable)  # fmt: skip
            pending.append((result, job, rel))
        elif classification.kind == "training-unknown":
            result.findings = [_no_layout(_join(shown_folder, "", entry.readme), classification)]
        results[rel] = [*record, [_finding_to_json(f) for f in result.findings]]
    if only is not None:
        chosen = only([f.folder for f in report.folders
                       if f.classification.kind.startswith("training")])  # fmt: skip
        report.folders = [f for f in report.folders if f.folder in chosen]
        pending = [p for p in pending if p[2] in chosen]
        cache_file = None
    for (result, _job, rel), findings in zip(pending, _run_jobs([p[1] for p in pending], jobs),
                                            strict=True):  # fmt: skip
        result.findings = findings
        results[rel] = [*results[rel][:4], [_finding_to_json(f) for f in findings]]
    changed = walker.rescanned or report.readmes_read or pending or results != old_results
    if cache_file is not None and changed:
        dirs = {rel: [d.mtime, d.subdirs, d.readme, d.train_scripts, d.names_digest,
                      d.has_deliverable] for rel, d in walker.dirs.items()}  # fmt: skip
        save_cache(cache_file, {**options, "dirs": dirs, "results": results})
    return report


def _run_jobs(jobs: list[_Job], workers: int) -> list[list[Finding]]:
    if workers <= 1 or len(jobs) < 8:
        return [_check(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_check, jobs, chunksize=8))


def _decode(data: bytes) -> str:
    from modelzoo_kit.readme import decode_readme

    try:
        return decode_readme(data)[0]
    except InputFileError:
        return ""


def _load_cache(path: Path | None, options: dict) -> dict | None:
    """The walk cache at ``path`` when it was made with ``options``; any other file is
    ignored (and replaced by the next save), silently: a walk without it is only slower."""
    return load_cache(path, options)[0] if path is not None else None


def _bytes(text: str) -> bytes:
    """A path's own bytes again: names that are not UTF-8 come from the file system as
    surrogate escapes, and two such names must not hash alike."""
    return text.encode("utf-8", "surrogateescape")


def classify_folders(
    root: Path, layout: str | None = None
) -> tuple[list[FolderResult], list[WalkProblem]]:
    """The walk without its checks: every folder with a README (or training scripts) and what
    it was taken for, findings left empty. The catalogue lists a zoo's deliverables this way
    and reads their findings from a report, so building it never re-validates the zoo."""
    from modelzoo_kit.inputs import MAX_README_BYTES

    walker = _Walker(root, None)
    walker.walk()
    folders: list[FolderResult] = []
    problems = list(walker.problems)
    for rel in sorted(walker.dirs):
        entry = walker.dirs[rel]
        if entry.has_deliverable:
            readme = entry.readme or README_FILES["zh"]
            folders.append(FolderResult(rel, readme, Classification("training", layout,
                                                                    DELIVERABLE_FILE), []))
            continue
        train = walker.has_training_scripts(rel)
        if entry.readme is None:
            if train:
                folders.append(FolderResult(rel, "", Classification("training-no-readme", None,
                                                                    "test/"), []))
            continue
        readme_path = os.path.join(root, rel, entry.readme)
        try:
            if not stat.S_ISREG(os.stat(readme_path).st_mode):
                problems.append(WalkProblem(_join("", rel, entry.readme), "not a file"))
                continue
            with open(readme_path, "rb") as handle:
                data = handle.read(MAX_README_BYTES)
        except OSError as exc:
            problems.append(
                WalkProblem(_join("", rel, entry.readme), f"cannot be read: {exc.strerror}")
            )
            continue
        folders.append(FolderResult(rel, entry.readme, classify(_decode(data), train, layout), []))
    return folders, problems


def citing_folders(root: Path) -> tuple[list[tuple[str, str | None]], list[WalkProblem]]:
    """Every folder below ``root`` holding a deliverable.yaml or a README, walked as
    ``validate -r`` walks (loops and unreadable folders are problems, not stops): (folder
    relative to ``root``, its README's name or None) in order, and the problems."""
    walker = _Walker(Path(root), None)
    walker.walk()
    found = [(rel, None if entry.has_deliverable else entry.readme)
             for rel, entry in sorted(walker.dirs.items())
             if entry.has_deliverable or entry.readme]
    return found, list(walker.problems)
