# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""The output-folder policy: which checkpoint ``--resume`` means, and never overwriting a run.

A folder that holds ``last.pt`` or ``best.pt`` belongs to a run; a new run there is refused (it
would replace that run's checkpoints), and so is resuming it from a checkpoint of another
folder. Only ``--resume auto`` or ``--resume <this folder>/last.pt`` continues it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import checkpoint as ckpt
from common.errors import ConfigError


class OutputFolder:
    """``--output-dir``: where a run's checkpoints, metrics and case log go."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()

    @property
    def last(self) -> Path:
        return self.path / ckpt.LAST

    def resume_path(self, resume: str | None) -> Path | None:
        """The checkpoint ``--resume`` names; for ``auto``, this folder's ``last.pt`` if any."""
        if not resume:
            return None
        if resume == "auto":
            return self.last if self.last.exists() else None
        return Path(resume).expanduser()

    def prepare(self, resume_path: Path | None) -> None:
        """Refuse to overwrite another run's checkpoints; check that the folder is writable."""
        out = self.path
        existing = [name for name in (ckpt.LAST, ckpt.BEST) if (out / name).exists()]
        if existing:
            if resume_path is None:
                raise ConfigError(
                    f"{out} already holds a run ({', '.join(existing)}); continue it with "
                    "--resume auto, or choose another --output-dir"
                )
            if resume_path.resolve().parent != out.resolve():
                raise ConfigError(
                    f"{out} holds a different run ({', '.join(existing)}) than {resume_path}; "
                    "choose another --output-dir to continue from that checkpoint"
                )
        try:
            out.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"cannot write to --output-dir {out}: {exc.strerror or exc}"
            ) from None

    def kept_checkpoint(self) -> str:
        """What a stopped run leaves behind, for its error message."""
        if self.last.exists():
            return f"the last good checkpoint {self.last} is kept"
        return "no checkpoint had been saved yet"
