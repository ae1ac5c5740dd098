# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""User-facing errors of the training pipeline.

``train.py`` catches ``TrainingError`` and prints its message as one line (no traceback), so every
mistake a user can make -- a missing folder, an empty class, a corrupt image, a checkpoint of
another network, an output folder that already holds a different run -- is raised as one of these
types with a message that names the file and says what to do.
"""

from __future__ import annotations


class TrainingError(Exception):
    """Root of the errors a user can cause and fix; the message is the whole story."""


class ConfigError(TrainingError, ValueError):
    """Command-line parameters that contradict each other or the environment."""


class DataError(TrainingError, OSError):
    """A dataset folder, class folder or image that cannot be used."""


class CorruptImageError(DataError):
    """An image file that cannot be decoded; the message names its path.

    Takes the message as its only argument so that a DataLoader worker can re-raise it in the
    main process as the same type.
    """


class CheckpointError(TrainingError, OSError):
    """A checkpoint that is missing, unreadable, or belongs to a different model or run."""


class DamagedCheckpointError(CheckpointError):
    """A sealed checkpoint whose bytes are no longer those written: the sha256 differs or is gone.

    Its own type because the remedy differs: the file is not wrong for this run, it is broken;
    use another copy or an earlier checkpoint.
    """


class DeviceError(TrainingError, RuntimeError):
    """A requested device (NPU, CUDA) that this machine or installation cannot provide."""


class TrainingDivergedError(TrainingError, ArithmeticError):
    """Training diverged; ``train.py`` exits 3 and the last good checkpoint is left as it was."""


class NonFiniteLossError(TrainingDivergedError):
    """The loss became NaN or infinite."""


class ExplodedWeightsError(TrainingDivergedError):
    """The weights to be saved are non-finite or exploded (see ``checkpoint.unsound_weights``).

    The loss a step reports is computed before that step's update, so a loss check alone lets
    a checkpoint of ruined weights replace the last good one; the save itself refuses them.
    """
