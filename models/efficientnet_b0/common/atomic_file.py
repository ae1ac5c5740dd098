# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Files that are always the old version or the new one, never half of either.

Why one place: checkpoints, exported weights and ONNX models are all written the same way -- a
temporary file in the target's folder, flushed and fsynced, renamed over the target with
``os.replace`` (atomic on POSIX), and the folder fsynced so the rename itself is durable. A
process killed at any moment leaves the previous file intact; at worst a hidden temporary file
remains, which ``remove_stale_temporaries`` clears.

``tempfile.mkstemp`` creates its file readable by its owner only (0600); the finished file gets
the permissions any new file of this process gets (0666 less the umask, usually 0644), and a
file being replaced keeps its own, so a checkpoint written on a shared machine is as readable as
the rest of the run's output.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # platforms without directory fds (Windows) rely on os.replace alone
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(target: Path) -> int:
    """The permissions ``target`` keeps (if it exists) or a new file would get."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def remove_stale_temporaries(folder: Path, name_pattern: str = "*") -> None:
    """Delete temporaries of ``folder``'s files matching ``name_pattern`` left by killed writes."""
    for stale in folder.glob(f".{name_pattern}.*{TEMPORARY_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = TEMPORARY_SUFFIX) -> Iterator[Path]:
    """A temporary path to write ``path``'s new contents to; it becomes ``path`` on success.

    The caller writes the whole file to the yielded path (by name: ``torch.save``,
    ``torch.onnx.export``...; ``suffix`` for writers that go by the file's extension). On
    leaving the block normally the file is fsynced, given its permissions and renamed over
    ``path``; on an exception it is removed and ``path`` is left as it was. ``OSError`` from
    creating the folder or the temporary file propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        _fsync(temporary)
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


__all__ = ["TEMPORARY_SUFFIX", "atomic_path", "remove_stale_temporaries"]
