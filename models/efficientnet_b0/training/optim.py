# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Optimiser, learning-rate schedule and weight EMA of the template recipe.

SGD with momentum 0.9; weight decay 1e-4 on convolution and linear weights only (BN parameters and
biases are not decayed unless ``--decay-bn-bias``); cosine learning rate with linear warmup,
evaluated per step as a pure function of the step, so resuming needs only the step counter.

The SGD implementation follows the device (``sgd_implementation``): on an NPU the fused
``torch_npu.optim.NpuFusedSGD`` the Ascend ModelZoo's PyTorch models use (one fused update over
all parameters instead of one small operator per tensor, which the NPU dispatches slowly); on
CUDA ``torch.optim.SGD(fused=True)``, which can also skip an overflowing step on the device
(``found_inf``) so the loss scaler needs no host sync; on CPU the stock ``torch.optim.SGD``.
"""

from __future__ import annotations

import copy
import importlib
import math
import sys

import torch
from torch import nn


def parameter_groups(
    model: nn.Module,
    weight_decay: float,
    decay_bn_bias: bool,
    backbone_lr_scale: float = 1.0,
    head_prefix: str = "classifier.",
) -> list[dict]:
    """Split trainable parameters by (decayed?, head?) into SGD groups.

    Every group carries ``lr_scale``: 1 for the head, ``backbone_lr_scale`` for the rest, which
    transfer learning uses to train a pretrained backbone more gently than a new head.
    """
    buckets: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decayed = decay_bn_bias or param.ndim > 1
        is_head = name.startswith(head_prefix)
        buckets.setdefault((decayed, is_head), []).append(param)
    groups = []
    for (decayed, is_head), params in sorted(buckets.items()):
        groups.append(
            {
                "params": params,
                "weight_decay": weight_decay if decayed else 0.0,
                "lr_scale": 1.0 if is_head else backbone_lr_scale,
            }
        )
    return groups


SGD_IMPLEMENTATIONS = ("npu_fused", "fused", "stock")


def sgd_implementation(device_type: str) -> str:
    """Which SGD to build on ``device_type``: ``npu_fused``, ``fused`` (CUDA) or ``stock``.

    An NPU whose torch_npu lacks ``optim.NpuFusedSGD`` (very old adapters) falls back to the stock
    SGD with a warning on stderr rather than failing, since the arithmetic is the same.
    """
    if device_type == "npu":
        if _npu_fused_sgd_class() is not None:
            return "npu_fused"
        print(
            "[Warning] torch_npu.optim.NpuFusedSGD is not available in this torch_npu: "
            "using torch.optim.SGD (same arithmetic, slower step)",
            file=sys.stderr,
        )
        return "stock"
    if device_type == "cuda":
        return "fused"
    return "stock"


def _npu_fused_sgd_class():
    try:
        return getattr(importlib.import_module("torch_npu.optim"), "NpuFusedSGD", None)
    except ImportError:
        return None


def build_sgd(
    groups: list[dict],
    lr: float,
    momentum: float,
    nesterov: bool,
    implementation: str = "stock",
) -> torch.optim.Optimizer:
    """SGD over ``groups``; ``implementation`` is one of ``SGD_IMPLEMENTATIONS``.

    ``npu_fused`` must be built after the model is on the NPU and its parameters must not be
    replaced afterwards (NpuFusedSGD fuses their storage), which the runner guarantees.
    """
    if implementation == "npu_fused":
        fused_sgd = _npu_fused_sgd_class()
        if fused_sgd is None:
            raise ValueError("torch_npu.optim.NpuFusedSGD is not available")
        return fused_sgd(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    if implementation == "fused":
        fused = torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov, fused=True)
        _zero_momentum_buffers(fused)
        return fused
    if implementation == "stock":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    raise ValueError(f"unknown SGD implementation {implementation!r}; one of {SGD_IMPLEMENTATIONS}")


def _zero_momentum_buffers(optimizer: torch.optim.SGD) -> None:
    """Start every momentum buffer at zero, which gives the same first update as none.

    Fused SGD allocates missing buffers with ``empty_like`` and fills them in its first update;
    when the loss scaler skips that update on the device (``found_inf``), the buffers would keep
    whatever the memory held. From zeros, ``momentum * 0 + grad`` equals the fresh buffer exactly.
    """
    for group in optimizer.param_groups:
        if group["momentum"] == 0:
            continue
        for param in group["params"]:
            optimizer.state[param]["momentum_buffer"] = torch.zeros_like(
                param, memory_format=torch.preserve_format
            )


def cosine_lr(
    step: int, total_steps: int, warmup_steps: int, peak_lr: float, min_lr: float = 0.0
) -> float:
    """Linear warmup from peak/warmup to peak over ``warmup_steps``, then cosine to ``min_lr``."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_lr + 0.5 * (peak_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


class ModelEma:
    """Exponential moving average of weights (and a copy of BN buffers) for evaluation.

    Warmup of the decay (``min(decay, (1 + n) / (10 + n))``) keeps early averages from being
    dominated by the random initialisation in short runs.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        current = model.state_dict()
        for name, average in self.module.state_dict().items():
            value = current[name].detach()
            if average.dtype.is_floating_point:
                average.mul_(decay).add_(value.to(average.dtype), alpha=1.0 - decay)
            else:
                average.copy_(value)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
