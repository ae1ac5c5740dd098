"""Reading the files a user hands the kit, bounded before a byte is read.

Every input file goes through :func:`read_bytes`: it opens without blocking (a FIFO named
README.md answers at once instead of hanging), refuses anything but a regular file (``/dev/zero``,
a FIFO, a socket, a folder), checks the size with ``fstat`` before reading and reads at most the
limit (a 6 GB sparse file costs nothing), and, given the deliverable's folder, refuses a path that
resolves outside it (a README.md linked to a private file is never shown). Each refusal is one
:class:`~modelzoo_kit.errors.InputFileError` that names the file and says what to do.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from modelzoo_kit.errors import InputFileError, InputProblem

#: deliverable.yaml: a real one is a few KB.
MAX_YAML_BYTES = 1024 * 1024
#: READMEs: real deliverable READMEs are under 100 KB; GitHub stops rendering long before this.
MAX_README_BYTES = 10 * 1024 * 1024
#: Training scripts and other text the kit parses.
MAX_SOURCE_BYTES = 10 * 1024 * 1024
#: Deepest folder nesting the kit walks (a deliverable has 3 or 4 levels).
MAX_FOLDER_DEPTH = 100


def refuse(path: Path, message: str) -> InputFileError:
    return InputFileError([InputProblem(path, None, None, "", message)])


def _size_text(nbytes: int) -> str:
    if nbytes >= 1024**2:
        return f"{nbytes / 1024**2:.1f} MB"
    return f"{nbytes / 1024:.1f} KB"


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, with every link followed, is ``folder`` or below it."""
    real = os.path.realpath(path)
    root = os.path.realpath(folder)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def read_bytes(path: Path, limit: int, *, within: Path | None = None, what: str = "file") -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes (inside ``within``)."""
    path = Path(path)
    if within is not None and not is_inside(path, within):
        raise refuse(
            path,
            f"is a link that leads out of {within}; the kit reads only the deliverable's own "
            "files (copy the file into the folder instead of linking it)",
        )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise refuse(path, "cannot read: no such file") from None
    except IsADirectoryError:
        raise refuse(path, f"is a folder, not a {what}; remove or rename it") from None
    except PermissionError:
        raise refuse(
            path, "permission denied; make it readable (chmod u+r) or run as its owner"
        ) from None
    except OSError as exc:
        raise refuse(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise refuse(path, f"is a folder, not a {what}; remove or rename it")
        if not stat.S_ISREG(info.st_mode):
            raise refuse(
                path, f"is not a regular file (a FIFO, socket or device); a {what} must be one"
            )
        if info.st_size > limit:
            raise refuse(
                path,
                f"is {_size_text(info.st_size)}, over the {_size_text(limit)} a {what} may be",
            )
        os.set_blocking(fd, True)
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise refuse(path, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise refuse(path, f"grew past the {_size_text(limit)} a {what} may be while being read")
    return data


def read_text(path: Path, limit: int, *, within: Path | None = None, what: str = "file") -> str:
    """:func:`read_bytes` decoded as UTF-8; other bytes are refused with the line they are on."""
    data = read_bytes(path, limit, within=within, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            [InputProblem(Path(path), line, None, "", f"not UTF-8 text ({exc.reason}); "
                          "save it as UTF-8")]
        ) from None
