# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""CPU inference with every BatchNorm folded into the convolution before it.

Why: in eval mode a BatchNorm is a fixed per-channel affine map, so ``bn(conv(x))`` is one
convolution with scaled weights and a bias. Folding removes a full read and write of every
activation (49 BatchNorms in B0), and oneDNN's fused post-ops (``mkldnn._convolution_pointwise``)
then apply the SiLU and the residual addition inside the convolution as well, so a block's
projection writes its output once (the gain is measured in bench/README.md).

Same numerics up to float rounding (the folded weight is ``w * gamma / sqrt(var + eps)``, about
1e-7 relative); the module's parameters and buffers are never modified, so training, state
dicts and checkpoints see nothing. Folded weights are cached per convolution and recomputed
when any of the tensors they were folded from changes (its storage or its version counter:
an optimizer step, ``load_state_dict`` and ``.to()`` all change one of them).

Used only where it is exact and supported: eval mode, no autograd, a float32 CPU tensor, no
autocast, and not while tracing, exporting to ONNX or compiling (those see the plain modules).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cpu_accel.eager_cpu import eager_cpu_float32

_CACHE_ATTRIBUTE = "_folded_conv_bn"


def folding_applies(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``module``'s forward on ``x`` may run folded (see the module docstring)."""
    return (
        not module.training
        and not torch.is_grad_enabled()
        and eager_cpu_float32(x)
        and not torch.jit.is_scripting()
        and not torch.onnx.is_in_onnx_export()
    )


def _fused_kernels_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(
        torch.ops.mkldnn, "_convolution_pointwise"
    )


FUSED_KERNELS = _fused_kernels_available()


def _source_key(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple:
    tensors = (conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var)
    return tuple(
        (t.data_ptr(), t._version, t.dtype) if t is not None else None for t in tensors
    ) + (bn.eps,)


def folded_weight_and_bias(
    conv: nn.Conv2d, bn: nn.BatchNorm2d
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of the one convolution equal to ``bn(conv(x))`` in eval mode."""
    key = _source_key(conv, bn)
    cached = getattr(bn, _CACHE_ATTRIBUTE, None)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm that tracks no running statistics")
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    if conv.bias is not None:
        shift = shift + conv.bias * scale
    weight = (conv.weight * scale.view(-1, 1, 1, 1)).contiguous()
    bias = shift.contiguous()
    # A plain attribute, not a buffer: it never enters state_dict() or a checkpoint.
    object.__setattr__(bn, _CACHE_ATTRIBUTE, (key, weight, bias))
    return weight, bias


def conv_bn(
    x: torch.Tensor,
    conv: nn.Conv2d,
    bn: nn.BatchNorm2d,
    act: bool,
    residual: torch.Tensor | None = None,
    pads: tuple[int, int, int, int] | None = None,
) -> torch.Tensor:
    """``silu(bn(conv(pad(x))))`` (``act``) or ``bn(conv(pad(x))) + residual``, as one kernel.

    ``pads`` are asymmetric zero pads applied before the convolution (TF-"same" padding);
    ``conv.padding`` is the convolution's own symmetric padding.
    """
    if act and residual is not None:
        raise ValueError("a folded convolution takes an activation or a residual, not both")
    if pads is not None:
        x = F.pad(x, pads)
    weight, bias = folded_weight_and_bias(conv, bn)
    padding, stride = list(conv.padding), list(conv.stride)
    dilation, groups = list(conv.dilation), conv.groups
    if FUSED_KERNELS:
        if residual is not None:
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, residual, weight, bias, padding, stride, dilation, groups,
                "add", None, None, [], None,
            )  # fmt: skip
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, padding, stride, dilation, groups,
            "swish" if act else "none", [], None,
        )  # fmt: skip
    out = F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    if act:
        return F.silu(out, inplace=True)
    return out if residual is None else out.add_(residual)


__all__ = ["FUSED_KERNELS", "conv_bn", "folded_weight_and_bias", "folding_applies"]
