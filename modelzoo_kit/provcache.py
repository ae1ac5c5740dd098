"""What a provenance check learnt about a (repository, commit), kept so ``--offline`` can
give the same verdict as the online run that learnt it.

The partial git repositories of :mod:`modelzoo_kit.gitremote` hold the *good* answers (the
commit, its trees). The *negative* ones — the repository does not exist, the branch does not,
the commit does not, the commit is on no branch — leave nothing in git, so they are written
here, one small JSON record per (repository, commit), with the time they were learnt and the
refs the remote advertised then. Records are written atomically (a reader never sees half of
one; two runs writing the same record both leave a whole one), and the cache as a whole is
bounded: :func:`prune` removes the least recently used repositories and records beyond a size,
:func:`clear` removes everything the kit put there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

FACTS_DIR = "facts"
#: An empty bare git dir the checks reuse to ask what git ignores outside a repository.
SCRATCH_GIT_DIR = "scratch-ignore.empty"
#: Default bound on the whole cache (git repositories and records).
DEFAULT_MAX_BYTES = 4 * 1024**3


@dataclass
class CommitFacts:
    """The answers about one commit of one repository, as the remote gave them."""

    url: str
    commit: str
    learnt_at: str = ""
    #: ``{"kind": ..., "message": ...}`` when the repository could not be read
    error: dict[str, str] | None = None
    heads: dict[str, str] | None = None
    tags: dict[str, str] | None = None
    exists: bool | None = None
    branches_containing: list[str] | None = None
    tags_containing: list[str] | None = None
    filter_supported: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FactStore:
    """One JSON record per (repository key, commit) under ``cache_dir/facts``."""

    def __init__(self, cache_dir: Path):
        self.folder = Path(cache_dir) / FACTS_DIR

    def _file(self, repo_key: str, commit: str) -> Path:
        digest = hashlib.sha256(f"{repo_key}\0{commit}".encode()).hexdigest()[:32]
        return self.folder / f"{digest}.json"

    def load(self, repo_key: str, commit: str) -> CommitFacts | None:
        path = self._file(repo_key, commit)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            facts = CommitFacts(**data)
        except (OSError, ValueError, TypeError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: kept longest by prune
        return facts

    def save(self, repo_key: str, facts: CommitFacts) -> None:
        """Write the record atomically; a cache that cannot be written is no error (the
        check still has its answer, only a later offline run will not)."""
        from modelzoo_kit.errors import OutputFileError
        from modelzoo_kit.writing import write_atomically

        facts.learnt_at = facts.learnt_at or _now()
        with contextlib.suppress(OutputFileError, OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(self._file(repo_key, facts.commit),
                             json.dumps(asdict(facts), sort_keys=True) + "\n")


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock: one thread of this process and one process at a time (``flock`` on
    ``path.lock`` where the platform has it), so two checks never fetch into one cache
    repository at once."""
    key = str(Path(path).absolute())
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    with lock:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: threads only
            yield
            return
        with open(f"{key}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _entries(cache_dir: Path) -> list[tuple[float, int, Path]]:
    """(last use, size, path) of every repository and record the kit keeps in ``cache_dir``."""
    from modelzoo_kit.gitrun import folder_size

    found = []
    root = Path(cache_dir)
    for repo in root.glob("*.git"):
        if repo.is_dir() and not repo.is_symlink():
            found.append((repo.stat().st_mtime, folder_size(repo), repo))
    for record in (root / FACTS_DIR).glob("*.json"):
        info = record.stat()
        found.append((info.st_mtime, info.st_size, record))
    return found


def prune(cache_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """Remove the least recently used repositories and records until the cache holds at most
    ``max_bytes``; return how many were removed."""
    entries = sorted(_entries(cache_dir), reverse=True)
    total, removed = 0, 0
    for _, size, path in entries:
        total += size
        if total > max_bytes:
            _remove(path)
            removed += 1
    return removed


def clear(cache_dir: Path) -> int:
    """Remove every repository, record and lock the kit put in ``cache_dir`` (nothing else);
    return how many entries went."""
    entries = _entries(cache_dir)
    for _, _, path in entries:
        _remove(path)
    for lock in Path(cache_dir).glob("*.lock"):
        lock.unlink(missing_ok=True)
    _remove(Path(cache_dir) / SCRATCH_GIT_DIR)
    return len(entries)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
