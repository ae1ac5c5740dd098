"""The one way the kit writes an output file (a README, deliverable.yaml, the schema).

A file is written to a temporary file in the same folder and moved into place with
``os.replace``, so a reader never sees half of it. Only a *regular file* is ever replaced:
a path that names a folder, a FIFO, a socket or a device (``extract -o /dev/null --force`` as
root) is refused with :class:`UnsafeOutputError`, as is a **symbolic link**, whatever it points
to. Following a link would write wherever it points (a README.md in a received repository may
be a link to ``~/.bashrc``); replacing it would silently turn a link into a file. Either is a
decision for the user: remove the link, or name its target.

The check and the replacement are two steps; a path swapped between them by another process
is not defended against (nor is it by ``os.replace`` itself).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from modelzoo_kit.errors import ModelzooError, OutputFileError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UnsafeOutputError(ModelzooError, FileExistsError):
    """The output path exists and is not a regular file, so the kit will not replace it."""


def check_replaceable(path: Path) -> None:
    """Raise :class:`UnsafeOutputError` unless ``path`` is absent or a regular file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    hint = (
        "remove the link, or write to the file it points to"
        if stat.S_ISLNK(mode)
        else "choose another path; only a regular file is ever replaced"
    )
    raise UnsafeOutputError(f"{path}: is {kind}, not a regular file; {hint}")


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, LF line ends) to ``path`` via a temporary file in the same folder
    and ``os.replace``, so a reader never sees half a file; refuses to replace anything but a
    regular file (:func:`check_replaceable`).

    A file that cannot be written (a read-only folder, a full disk) raises
    :class:`~modelzoo_kit.errors.OutputFileError`; the old file is left as it was."""
    path = Path(path)
    check_replaceable(path)
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise OutputFileError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        # surrogateescape: a name read from a non-UTF-8 file name goes back as its own bytes
        with os.fdopen(handle, "w", encoding="utf-8", errors="surrogateescape",
                       newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputFileError(
                f"{path}: cannot write: {exc.strerror or exc}; the file there before is unchanged"
            ) from None
        raise


def write_if_changed(path: Path, text: str) -> bool:
    """:func:`write_atomically`, unless ``path`` is a regular file holding exactly the bytes
    ``text`` would be written as; whether it wrote. A rebuild that changes nothing then leaves
    its files (and their modification times, which caches and ``make`` go by) as they were."""
    data = text.encode("utf-8", "surrogateescape")
    try:
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode) and info.st_size == len(data):
            with open(path, "rb") as stream:
                if stream.read(len(data) + 1) == data:
                    return False
    except OSError:
        pass  # absent or unreadable: written (or refused) below
    write_atomically(path, text)
    return True


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; a new one gets what ``open`` would give it (mkstemp
    alone would leave it readable by its owner only)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
