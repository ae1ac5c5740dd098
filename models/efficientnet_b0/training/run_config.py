# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""The run's configuration: train.py's arguments, typed and checked once, recorded in checkpoints.

``RunConfig.from_args`` is the only place that reads argparse's namespace; every other module
takes a ``RunConfig``, whose fields are train.py's flags one to one (a test keeps them equal), so
a misspelt option name is a type error rather than an ``AttributeError`` deep in a run.
``record`` is what every checkpoint stores as ``config``: these values plus what the run resolved
from them (padding, class count, number of processes).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields

from common.errors import ConfigError


@dataclass(frozen=True)
class RunConfig:
    # data
    data: str | None
    dataset: str
    demo_root: str
    on_corrupt: str
    image_size: int
    crop_fraction: float
    crop_scale_min: float
    auto_augment: str
    data_pipeline: str
    workers: int | None
    limit_train_batches: int | None
    limit_val_batches: int | None
    # model
    arch: str
    num_classes: int | None
    padding: str
    drop_rate: float
    drop_path_rate: float
    zero_init_last_bn: bool
    pretrained: str | None
    pretrained_format: str
    freeze_backbone: bool
    backbone_lr_scale: float
    channels_last: bool | None
    compile: bool
    cpu_allocator: str
    sync_bn: bool
    # optimisation
    epochs: int
    batch_size: int
    lr: float
    lr_scaling: str
    warmup_epochs: float
    min_lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    decay_bn_bias: bool
    label_smoothing: float
    clip_grad_norm: float | None
    ema: bool
    ema_decay: float
    seed: int
    # device and precision
    device: str
    amp: bool
    amp_dtype: str
    loss_scale: str
    dist_backend: str
    # run
    output_dir: str
    resume: str | None
    evaluate: bool
    export_onnx: str | None
    save_interval_steps: int
    log_interval: int
    progress: str
    case_name: str | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunConfig:
        """The configuration of parsed arguments, refused with a ``ConfigError`` if inconsistent."""
        config = cls(**{f.name: getattr(args, f.name) for f in fields(cls)})
        config.validate()
        return config

    @property
    def training(self) -> bool:
        return not (self.evaluate or self.export_onnx)

    def record(self, padding: str, num_classes: int, world_size: int) -> dict:
        """What a checkpoint stores as ``config``: plain values, readable with weights_only."""
        return {
            **asdict(self),
            "padding": padding,
            "num_classes": num_classes,
            "world_size": world_size,
        }

    def validate(self) -> None:
        """Range checks argparse cannot express, as one-line ``ConfigError``s."""
        self._check_counts()
        self._check_fractions()
        self._check_modes()

    def _check_counts(self) -> None:
        at_least_one = {
            "--epochs": self.epochs,
            "--batch-size": self.batch_size,
            "--image-size": self.image_size,
            "--log-interval": self.log_interval,
        }
        for flag, value in at_least_one.items():
            if value is None or value < 1:
                raise ConfigError(f"{flag} must be at least 1, not {value}")
        optional = {
            "--limit-train-batches": self.limit_train_batches,
            "--limit-val-batches": self.limit_val_batches,
            "--num-classes": self.num_classes,
        }
        for flag, value in optional.items():
            if value is not None and value < 1:
                raise ConfigError(f"{flag} must be at least 1, not {value}")
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"--workers must be 0 or more, not {self.workers}")
        if self.save_interval_steps < 0:
            raise ConfigError("--save-interval-steps must be 0 or more")

    def _check_fractions(self) -> None:
        if not 0.0 < self.crop_scale_min <= 1.0:
            raise ConfigError(f"--crop-scale-min must be in (0, 1], not {self.crop_scale_min}")
        if not 0.0 < self.crop_fraction <= 1.0:
            raise ConfigError(f"--crop-fraction must be in (0, 1], not {self.crop_fraction}")
        for flag, value in {
            "--drop-rate": self.drop_rate,
            "--drop-path-rate": self.drop_path_rate,
            "--label-smoothing": self.label_smoothing,
        }.items():
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{flag} must be in [0, 1), not {value}")
        if self.lr <= 0 or self.warmup_epochs < 0 or self.weight_decay < 0:
            raise ConfigError(
                "--lr must be positive; --warmup-epochs and --weight-decay not negative"
            )
        if not 0.0 < self.ema_decay < 1.0:
            raise ConfigError(f"--ema-decay must be in (0, 1), not {self.ema_decay}")
        if self.backbone_lr_scale < 0:
            raise ConfigError(
                f"--backbone-lr-scale must not be negative, not {self.backbone_lr_scale}"
            )

    def _check_modes(self) -> None:
        if self.dataset == "imagefolder" and not self.data:
            raise ConfigError("--dataset imagefolder needs --data PATH")
        if self.data and self.dataset in ("demo", "synthetic"):
            raise ConfigError(f"--data and --dataset {self.dataset} exclude each other")
        if self.evaluate and self.export_onnx:
            raise ConfigError("choose one of --evaluate and --export-onnx")
        if not self.training and not (self.resume or self.pretrained):
            flag = "--evaluate" if self.evaluate else "--export-onnx"
            raise ConfigError(f"{flag} needs weights: pass --resume PATH or --pretrained PATH")
        if self.evaluate and self.dataset == "synthetic":
            raise ConfigError("--evaluate needs real images: pass --data or use the demo dataset")
