# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Squeeze-and-excitation for CPU training, with one pass for its input gradient instead of four.

Why: ``x * gate(x.mean((2, 3)))`` differentiated op by op makes autograd write the gradient of
the multiplication (``grad * gate``), expand the mean's gradient to a full-size tensor, and add
the two: three full-size tensors written and read for every block's largest activation. Both
terms are known at once, so this function writes ``dx = grad * gate + d_mean / (H * W)`` with a
single broadcasting ``addcmul`` (its share of the step: bench/README.md). The gate's own
layers are tiny (pooled vectors), so their gradients are written out by hand below;
``tests/test_squeeze_excite.py`` checks them with ``gradcheck``.

Same values as the module path up to float rounding; used only for CPU float32 training in
eager mode (``torch.compile`` fuses the plain ops itself, and other devices keep them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cpu_accel.eager_cpu import eager_cpu_training


class _SqueezeExciteGate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, w_reduce: Tensor, b_reduce: Tensor, w_expand: Tensor,
                b_expand: Tensor) -> Tensor:  # fmt: skip
        pooled = x.mean((2, 3))
        hidden = F.linear(pooled, w_reduce, b_reduce)
        gate = F.linear(F.silu(hidden), w_expand, b_expand).sigmoid()
        ctx.save_for_backward(x, pooled, hidden, gate, w_reduce, w_expand)
        return x * gate[:, :, None, None]

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, pooled, hidden, gate, w_reduce, w_expand = ctx.saved_tensors
        d_gate = (grad * x).sum((2, 3))
        d_logit = d_gate * gate * (1.0 - gate)  # sigmoid'
        sig = hidden.sigmoid()
        activated = hidden * sig
        d_hidden = (d_logit @ w_expand) * (sig * (1.0 + hidden * (1.0 - sig)))  # silu'
        d_pooled = d_hidden @ w_reduce
        area = x.shape[2] * x.shape[3]
        d_x = torch.addcmul((d_pooled / area)[:, :, None, None], grad, gate[:, :, None, None])
        return (
            d_x,
            d_hidden.t() @ pooled,
            d_hidden.sum(0),
            d_logit.t() @ activated,
            d_logit.sum(0),
        )


def fused_gate_applies(x: Tensor) -> bool:
    """CPU float32 training in eager mode (see the module docstring and ``eager_cpu``)."""
    return eager_cpu_training(x)


def squeeze_excite(x: Tensor, reduce: nn.Conv2d, expand: nn.Conv2d) -> Tensor:
    """``x * sigmoid(expand(silu(reduce(mean(x)))))``; ``reduce``, ``expand``: 1x1 convs."""
    return _SqueezeExciteGate.apply(
        x, reduce.weight.flatten(1), reduce.bias, expand.weight.flatten(1), expand.bias
    )


__all__ = ["fused_gate_applies", "squeeze_excite"]
