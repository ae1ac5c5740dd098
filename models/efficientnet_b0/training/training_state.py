# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Everything a checkpoint saves and restores, built once before a run evaluates, exports or trains.

``TrainingState`` is complete when made (``build_training_state``): the model, its wrapped
training form, optimizer, loss scaler, EMA and counters exist from the start, so saving,
restoring and the training loop never depend on which method ran first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from common.errors import ConfigError

from training.devices import LossScaler
from training.distributed import scaled_learning_rate, wrap_model
from training.optim import ModelEma, build_sgd, parameter_groups, sgd_implementation
from training.run_context import RunContext


@dataclass
class Progress:
    """The counters a checkpoint stores to continue exactly where a run stopped."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_top1: float | None = None
    last_top1: float | None = None
    train_seconds: float = 0.0
    epoch_loss_sum: float = 0.0  # sum of the epoch's per-step mean losses so far
    epoch_steps: int = 0
    epoch_correct: int = 0
    epoch_seen: int = 0
    history: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class TrainingState:
    model: torch.nn.Module  # the unwrapped model: what checkpoints and exports hold
    train_model: torch.nn.Module  # the model as trained: DDP-wrapped, compiled
    optimizer: torch.optim.Optimizer
    scaler: LossScaler
    ema: ModelEma | None
    sgd_implementation: str
    cpu_accelerated: bool  # cpu_accel's fast paths swapped in (state dict unchanged)
    peak_lr: float
    record: dict  # the run configuration every checkpoint stores (RunConfig.record)
    classes: tuple[str, ...]
    progress: Progress = field(default_factory=Progress)
    saved_magnitude: float = 1.0  # largest weight at the start or last save; see checkpointing

    @property
    def weights_to_export(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.model


def cpu_acceleration_applies(ctx: RunContext) -> bool:
    """A float32 run on the CPU that trains or evaluates: ``cpu_accel`` makes it faster.

    Mixed precision (autocast) runs PyTorch's ops, and an export must see the plain model;
    NPU and CUDA runs never import ``cpu_accel`` at all.
    """
    return (
        ctx.device.type == "cpu" and ctx.plan.autocast_dtype is None and not ctx.config.export_onnx
    )


def build_training_state(
    ctx: RunContext, model: torch.nn.Module, record: dict, classes: tuple[str, ...]
) -> TrainingState:
    """Move ``model`` to the device and build what trains it, as ``ctx.config`` asks."""
    config = ctx.config
    if config.freeze_backbone:
        for param in model.backbone_parameters():  # type: ignore[operator]
            param.requires_grad_(False)
    cpu_accelerated = cpu_acceleration_applies(ctx)
    if cpu_accelerated:
        from cpu_accel import accelerate  # imported for float32 CPU runs only

        accelerate(model)
    memory_format = torch.channels_last if ctx.channels_last else torch.contiguous_format
    model.to(ctx.device, memory_format=memory_format)
    train_model = wrap_model(model, ctx.env, ctx.device, config.sync_bn)
    if config.compile:
        train_model = torch.compile(train_model)  # type: ignore[assignment]
    ema = ModelEma(model, config.ema_decay) if config.ema else None
    peak_lr = scaled_learning_rate(config.lr, ctx.global_batch, config.lr_scaling)
    groups = parameter_groups(
        model, config.weight_decay, config.decay_bn_bias, config.backbone_lr_scale
    )
    if not groups:
        raise ConfigError("no trainable parameters (is everything frozen?)")
    implementation = sgd_implementation(ctx.device.type)
    optimizer = build_sgd(groups, peak_lr, config.momentum, config.nesterov, implementation)
    scaler = LossScaler(ctx.plan.loss_scale_mode, ctx.plan.initial_scale, device=ctx.device)
    return TrainingState(
        model=model,
        train_model=train_model,
        optimizer=optimizer,
        scaler=scaler,
        ema=ema,
        sgd_implementation=implementation,
        cpu_accelerated=cpu_accelerated,
        peak_lr=peak_lr,
        record=record,
        classes=classes,
    )
