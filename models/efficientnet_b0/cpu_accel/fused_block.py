# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""CPU inference of a whole EfficientNet block in one kernel (``csrc/mbconv_cpu.cpp``).

Why: in eval, a block's 1x1 expansion writes the network's largest activations (154 MB for B0's
first expanding block at batch 32), and the depthwise convolution, the squeeze-excitation's pool,
its scaling and the projection each read them back. The kernel computes the expanded rows into
a buffer that stays in cache, runs the depthwise convolution from there, sums the pool on the
way, and projects each image as soon as it is done, with its gate folded into the projection
weight (the gain over folding alone is measured in bench/README.md).

Where folding the gate would cost more than it saves (``projection_in_kernel``: 7x7 maps in
B0), the kernel stops after the squeeze-excitation and oneDNN's folded convolution projects,
with the residual addition as its post-op.

Used inside the folded inference path only (``folding.folding_applies``: eval mode, no
autograd, float32 CPU eager, not tracing, exporting or compiling), for channels-last inputs
(the layout the kernel reads without a copy; NCHW runs keep oneDNN's path), and only when the
compiled kernels are built for 512-bit vectors (``kernels.WIDE_VECTORS``). Same values as
the folded path up to float rounding: a few 1e-6 relative, from the order of the sums and an
exp and reciprocal within 2 ulp of ATen's.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cpu_accel import kernels
from cpu_accel.folding import conv_bn, folded_weight_and_bias

_PACKED_ATTRIBUTE = "_fused_block_packed"

Pair = tuple[nn.Conv2d, nn.BatchNorm2d]


def fused_block_applies(x: Tensor, norms: tuple[nn.Module, ...]) -> bool:
    """Whether a block whose folded path runs on ``x`` may run this kernel instead.

    ``norms``: the BatchNormAct2d layers the kernel folds before its SiLUs; each must have one.
    """
    return (
        x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and all(getattr(norm, "apply_act", False) for norm in norms)
        and kernels.load(kernels.WIDE_VECTORS) is not None
    )


def projection_in_kernel(pixels: int, out_channels: int) -> bool:
    """Whether the kernel should also run the projection, with the gate folded into its weight.

    Folding an image's gate into the projection writes a (C, C_out) weight per image; scaling
    the activation instead touches (pixels, C). The kernel projects when its weight is the
    smaller of the two (B0: every block whose output is 14x14 or larger); otherwise oneDNN's
    batched convolution, which is faster than the kernel's per-image product on 7x7 maps,
    projects the scaled activation.
    """
    return pixels > out_channels


def _padding(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding of ``conv``: its static pads, else its own."""
    pads = getattr(conv, "pads", None)  # TF-"same" pads, F.pad's order
    if pads is not None:
        return pads
    pad_h, pad_w = conv.padding
    return pad_w, pad_w, pad_h, pad_h


def _same(a: tuple[Tensor, ...] | None, b: tuple[Tensor, ...] | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(x is y for x, y in zip(a, b, strict=True))


def _packed_weights(
    owner: nn.Module, expand: Pair | None, depthwise: Pair, project: Pair | None
) -> tuple[Tensor, ...]:
    """Folded weights with the output channels innermost, as the kernel walks them; cached.

    The cache follows ``folding``'s: its folded tensors are the same objects until a source
    tensor changes, so holding them and comparing by identity is exact.
    """
    pairs = (expand, depthwise, project)
    folded = tuple(folded_weight_and_bias(*pair) if pair is not None else None for pair in pairs)
    cached = getattr(owner, _PACKED_ATTRIBUTE, None)
    if cached is not None and all(map(_same, cached[0], folded)):
        return cached[1]
    empty = depthwise[0].weight.new_empty(0)
    packed: list[Tensor] = []
    for pair in folded:
        if pair is None:
            packed += [empty, empty]
        else:
            weight, bias = pair
            # (C_out, C_in / groups, kh, kw) -> (C_in / groups * kh * kw, C_out)
            packed += [weight.reshape(weight.shape[0], -1).t().contiguous(), bias.contiguous()]
    # A plain attribute, not a buffer: it never enters state_dict() or a checkpoint.
    object.__setattr__(owner, _PACKED_ATTRIBUTE, (folded, tuple(packed)))
    return tuple(packed)


def mbconv_forward(
    owner: nn.Module,
    x: Tensor,
    expand: Pair | None,
    depthwise: Pair,
    se: nn.Module,
    project: Pair,
    residual: bool,
) -> Tensor:
    """A block's folded inference from its ``(conv, bn)`` pairs, the kernel doing most of it.

    ``project(se(silu(bn_dw(conv_dw(silu(bn(conv(x))))))))`` ``(+ x)``: ``expand`` is absent in
    the first stage's blocks. ``owner`` (the block) keeps the packed weights; ``se`` is a
    ``SqueezeExcite``, whose ``conv_reduce`` and ``conv_expand`` are 1x1 convolutions with
    biases. The projection's norm has no activation.
    """
    conv_dw = depthwise[0]
    left, right, top, bottom = _padding(conv_dw)
    kernel_h, kernel_w = conv_dw.kernel_size
    stride_h, stride_w = conv_dw.stride
    if kernel_h != kernel_w or stride_h != stride_w or conv_dw.dilation != (1, 1):
        raise ValueError("the fused block kernel takes square kernels and strides, no dilation")
    out_h = (x.shape[2] + top + bottom - kernel_h) // stride_h + 1
    out_w = (x.shape[3] + left + right - kernel_w) // stride_w + 1
    conv_project, norm_project = project
    in_kernel = projection_in_kernel(out_h * out_w, conv_project.out_channels)
    expand_w, expand_b, dw_w, dw_b, project_w, project_b = _packed_weights(
        owner, expand, depthwise, project if in_kernel else None
    )
    module = kernels.load()
    assert module is not None, "fused_block_applies() is checked first"
    out = module.mbconv_forward(
        x,
        expand_w,
        expand_b,
        dw_w,
        dw_b,
        se.conv_reduce.weight.contiguous(),
        se.conv_reduce.bias.contiguous(),
        se.conv_expand.weight.contiguous(),
        se.conv_expand.bias.contiguous(),
        project_w,
        project_b,
        residual and in_kernel,
        kernel_h,
        stride_h,
        top,
        left,
        out_h,
        out_w,
    )
    if in_kernel:
        return out
    return conv_bn(out, conv_project, norm_project, act=False, residual=x if residual else None)


__all__ = ["fused_block_applies", "mbconv_forward", "projection_in_kernel"]
