# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""One training step and one evaluation pass: the arithmetic, nothing about files or flags."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from training.devices import LossScaler, PrecisionPlan, autocast
from training.distributed import all_reduce_sum


def to_device(
    images: torch.Tensor, targets: torch.Tensor, device: torch.device, channels_last: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    images = images.to(device, non_blocking=True).contiguous(memory_format=memory_format)
    return images, targets.to(device, non_blocking=True)


@dataclass
class StepResult:
    loss: torch.Tensor  # detached, on the device (read it only at log intervals)
    correct: torch.Tensor
    count: int
    stepped: torch.Tensor  # bool, on the device: False where non-finite gradients skipped it


def train_step(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: LossScaler,
    plan: PrecisionPlan,
    label_smoothing: float,
    clip_grad_norm: float | None,
) -> StepResult:
    """Forward, (scaled) backward, unscale, optional clipping, then a step unless grads overflow.

    No host sync where the optimiser skips on the device (see ``LossScaler``): clipping runs
    whatever the flag says, since a skipped step discards the clipped gradients anyway.
    """
    with autocast(plan):
        logits = model(images)
    loss = F.cross_entropy(logits.float(), targets, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale_loss(loss).backward()
    found_inf = scaler.unscale_(optimizer)
    if clip_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    scaler.step(optimizer, found_inf)
    scaler.update(found_inf)
    with torch.no_grad():
        correct = (logits.argmax(dim=1) == targets).sum()
    return StepResult(loss.detach(), correct, targets.numel(), found_inf[0] == 0)


@dataclass
class EvalResult:
    loss: float
    top1: float
    top5: float
    images: int

    def as_dict(self) -> dict[str, float]:
        return {"loss": self.loss, "top1": self.top1, "top5": self.top5, "images": self.images}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    device: torch.device,
    plan: PrecisionPlan,
    channels_last: bool,
    limit_batches: int | None = None,
) -> EvalResult:
    """Top-1, top-5 (percent) and mean cross-entropy over the loader, summed over all ranks."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    top1 = torch.zeros((), dtype=torch.int64, device=device)
    top5 = torch.zeros((), dtype=torch.int64, device=device)
    count = 0
    for batch_index, batch in enumerate(loader):
        if limit_batches is not None and batch_index >= limit_batches:
            break
        if batch is None:
            continue
        images, targets = to_device(batch[0], batch[1], device, channels_last)
        with autocast(plan):
            logits = model(images)
        logits = logits.float()
        loss_sum += F.cross_entropy(logits, targets, reduction="sum").double()
        k = min(5, logits.shape[1])
        best = logits.topk(k, dim=1).indices
        hits = best == targets[:, None]
        top1 += hits[:, 0].sum()
        top5 += hits.any(dim=1).sum()
        count += targets.numel()
    totals = all_reduce_sum(
        [loss_sum.item(), float(top1.item()), float(top5.item()), float(count)], device
    )
    images = int(totals[3])
    if images == 0:
        return EvalResult(float("nan"), 0.0, 0.0, 0)
    return EvalResult(
        totals[0] / images, 100.0 * totals[1] / images, 100.0 * totals[2] / images, images
    )
