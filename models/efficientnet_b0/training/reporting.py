# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""What a run tells people and tools: progress bar, log lines, JSON-lines metrics, zoo summary.

Only rank 0 reports. A progress bar (tqdm) is drawn per epoch when stderr is a terminal; the log
lines on stdout are written either way, so a redirected log (the zoo's test scripts) stays clean
and greppable. At the end the run prints the zoo's conventional lines

    Final Performance images/sec : 1234.56
    Final Train Accuracy : 76.20
    E2E Training Duration sec : 3600

and writes the ``key = value`` case log (``<output>/<CaseName>.log``) exactly as the Ascend
ModelZoo test scripts write theirs, so existing zoo tooling reads it unchanged.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CASE_LOG_KEYS = (
    "Network",
    "RankSize",
    "BatchSize",
    "DeviceType",
    "CaseName",
    "ActualFPS",
    "TrainingTime",
    "ActualLoss",
    "E2ETrainingTime",
    "TrainAccuracy",
)


def progress_enabled(setting: str, is_main: bool, stream=sys.stderr) -> bool:
    if not is_main or setting == "off":
        return False
    if setting == "on":
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


class EpochProgress:
    """A tqdm bar over one epoch's steps showing loss, accuracy, images/s and LR (or nothing)."""

    def __init__(
        self, enabled: bool, total: int, epoch: int, epochs: int, initial: int = 0
    ) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                initial=initial,
                desc=f"epoch {epoch + 1}/{epochs}",
                unit="step",
                dynamic_ncols=True,
                leave=True,
                file=sys.stderr,
            )

    def update(self, **postfix) -> None:
        if self.bar is not None:
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class MetricsLog:
    """Append-only JSON-lines file: one record per log interval, evaluation and run summary.

    Each record is flushed as it is written, so a crashed or killed run keeps its history and a
    resumed run appends to it.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.handle = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def write(self, kind: str, **values) -> None:
        if self.handle is None:
            return
        record = {"kind": kind, "time": round(time.time(), 3), **values}
        self.handle.write(json.dumps(record, sort_keys=False) + "\n")
        self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


@dataclass
class Throughput:
    """Images per second over timed intervals, leaving out the first ``skip`` intervals (graph
    compilation, allocator and cache warm-up) unless nothing else was measured."""

    skip: int = 1
    intervals: int = 0
    images: int = 0
    seconds: float = 0.0
    all_images: int = 0
    all_seconds: float = 0.0

    def add(self, images: int, seconds: float) -> None:
        self.intervals += 1
        self.all_images += images
        self.all_seconds += seconds
        if self.intervals > self.skip:
            self.images += images
            self.seconds += seconds

    @property
    def images_per_second(self) -> float | None:
        if self.seconds > 0:
            return self.images / self.seconds
        if self.all_seconds > 0:
            return self.all_images / self.all_seconds
        return None


def case_name(network: str, batch_size: int, rank_size: int, mode: str) -> str:
    """The zoo's case name: ``<network>_bs<batch>_<N>p_<acc|perf>``."""
    return f"{network}_bs{batch_size}_{rank_size}p_{mode}"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "None" if value is None else f"{value:.{digits}f}"


@dataclass
class RunSummary:
    network: str
    rank_size: int
    global_batch: int
    case: str
    fps: float | None
    final_loss: float | None
    train_accuracy: float | None
    e2e_seconds: float

    def case_log(self) -> dict[str, str]:
        step_ms = self.global_batch * 1000.0 / self.fps if self.fps else None
        return {
            "Network": self.network,
            "RankSize": str(self.rank_size),
            "BatchSize": str(self.global_batch),
            "DeviceType": platform.machine(),
            "CaseName": self.case,
            "ActualFPS": _fmt(self.fps),
            "TrainingTime": _fmt(step_ms),
            "ActualLoss": _fmt(self.final_loss, 4),
            "E2ETrainingTime": str(int(round(self.e2e_seconds))),
            "TrainAccuracy": _fmt(self.train_accuracy),
        }

    def final_lines(self) -> list[str]:
        return [
            f"Final Performance images/sec : {_fmt(self.fps)}",
            f"Final Train Accuracy : {_fmt(self.train_accuracy)}",
            f"E2E Training Duration sec : {int(round(self.e2e_seconds))}",
        ]


def write_case_log(summary: RunSummary, folder: Path) -> Path:
    """Write ``<folder>/<CaseName>.log`` (``key = value`` lines) atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{summary.case}.log"
    temporary = path.with_name(f".{path.name}.tmp")
    text = "".join(f"{key} = {value}\n" for key, value in summary.case_log().items())
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path
