# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""What every part of a run shares and never changes: configuration, processes, device, folder."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from training.devices import PrecisionPlan
from training.distributed import DistEnv
from training.output_folder import OutputFolder
from training.run_config import RunConfig


@dataclass(frozen=True)
class RunContext:
    config: RunConfig
    env: DistEnv
    device: torch.device
    plan: PrecisionPlan
    channels_last: bool
    output: OutputFolder
    started: float  # time.time() when the run began, for the end-to-end duration

    @property
    def global_batch(self) -> int:
        return self.config.batch_size * self.env.world_size

    def log(self, message: str) -> None:
        if self.env.is_main:
            print(message, flush=True)
