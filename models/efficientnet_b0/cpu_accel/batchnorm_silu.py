# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""BatchNorm followed by SiLU for CPU training, as one hand-written kernel.

Why: ATen runs the pair as two ops. The forward passes over the activation about five times
(statistics, normalisation, SiLU), autograd keeps the BatchNorm's output alive only for the
SiLU's backward (one more activation-sized tensor per pair), and the backward passes over it
about eight times. ``csrc/batchnorm_silu_cpu.cpp`` reads x twice and writes once in the forward,
and in the backward recomputes the normalised value from x and finishes the input gradient in
place: six passes. B0 has 33 such pairs, on its largest activations, so the pair's time and
the tensors autograd no longer keeps matter to the whole step (figures: bench/README.md).

Semantics are ``nn.BatchNorm2d``'s in training mode: normalisation with the biased batch
variance, running statistics updated with the unbiased one by ``momentum`` (or the cumulative
average when ``momentum`` is None), ``num_batches_tracked`` counted. Used for channels-last
float32 CPU tensors in eager training (``eager_cpu``) when the kernels are built for 512-bit
vectors (``kernels.WIDE_VECTORS``); everything else, synchronised BatchNorm included, takes
ATen's ops.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from cpu_accel import kernels
from cpu_accel.eager_cpu import eager_cpu_training


class _BatchNormSiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, eps: float):
        compiled = kernels.load()
        out, mean, invstd, var = compiled.batchnorm_silu_forward(x, weight, bias, eps)
        ctx.save_for_backward(x, weight, bias, mean, invstd)
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor, _grad_mean: Tensor, _grad_var: Tensor):
        x, weight, bias, mean, invstd = ctx.saved_tensors
        grad_x, grad_weight, grad_bias = kernels.load().batchnorm_silu_backward(
            grad, x, weight, bias, mean, invstd
        )
        return grad_x, grad_weight, grad_bias, None


def batchnorm_silu_applies(norm: nn.BatchNorm2d, x: Tensor) -> bool:
    """Whether ``silu(norm(x))`` may run as the fused kernel (see the module docstring)."""
    return (
        norm.training
        and norm.weight is not None
        and norm.bias is not None
        and x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and x.numel() > x.shape[1]  # else ATen raises its "more than 1 value per channel" error
        and eager_cpu_training(x)
        and kernels.load(kernels.WIDE_VECTORS) is not None
    )


def batchnorm_silu(norm: nn.BatchNorm2d, x: Tensor) -> Tensor:
    """``silu(norm(x))`` for a BatchNorm in training mode, updating its running statistics."""
    factor = 0.0
    if norm.track_running_stats and norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
    out, mean, var = _BatchNormSiLU.apply(x, norm.weight, norm.bias, norm.eps)
    if norm.track_running_stats and norm.running_mean is not None:
        count = x.numel() // x.shape[1]
        with torch.no_grad():
            norm.running_mean.mul_(1.0 - factor).add_(mean, alpha=factor)
            norm.running_var.mul_(1.0 - factor).add_(var, alpha=factor * count / (count - 1))
    return out


__all__ = ["batchnorm_silu", "batchnorm_silu_applies"]
