"""CPU inference of a block's first half in one kernel: expansion, depthwise conv, squeeze-excite.

Why: in eval, a block's 1x1 expansion writes the network's largest activations (154 MB for B0's
first expanding block at batch 32), and the depthwise convolution, the squeeze-excitation's pool
and its scaling each read them back. ``csrc/mbconv_cpu.cpp`` computes the expanded rows into a
buffer that stays in cache, runs the depthwise convolution from there, sums the pool on the way
and scales each image by its gate while it is still in cache. Over B0 at batch 32 on 2 threads
those layers take about 0.7x the time of oneDNN's kernels plus ATen's pool and scale, which
is most of why eval runs about 1.2x faster than with folding alone (``bench/README.md``).

The block's projection stays a folded oneDNN convolution (``folding``): it is a plain GEMM
that oneDNN does well, and it takes the residual addition as a post-op.

Used inside the folded inference path only (``folding.folding_applies``: eval mode, no
autograd, float32 CPU eager, not tracing, exporting or compiling), for channels-last inputs
(the layout the kernel reads without a copy; NCHW runs keep oneDNN's path), and only when the
compiled kernels are available (``cpu_kernels``). Same values as the folded path up to float
rounding: about 1e-6 relative, from the order of the sums and an exp and reciprocal within
2 ulp of ATen's.
"""

from __future__ import annotations

import cpu_kernels
import torch
from folding import folded_weight_and_bias
from torch import Tensor, nn

_PACKED_ATTRIBUTE = "_fused_block_packed"


def fused_block_applies(x: Tensor, norms: tuple[nn.Module, ...]) -> bool:
    """Whether a block whose folded path runs on ``x`` may run this kernel instead.

    ``norms``: the BatchNormAct2d layers the kernel folds; each must end in its SiLU.
    """
    return (
        x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and all(getattr(norm, "apply_act", False) for norm in norms)
        and cpu_kernels.load() is not None
    )


def _padding(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding of ``conv``: its static pads, else its own."""
    pads = getattr(conv, "pads", None)  # TF-"same" pads, F.pad's order
    if pads is not None:
        return pads
    pad_h, pad_w = conv.padding
    return pad_w, pad_w, pad_h, pad_h


def _packed_weights(
    owner: nn.Module,
    expand: tuple[nn.Conv2d, nn.BatchNorm2d] | None,
    conv_dw: nn.Conv2d,
    norm_dw: nn.BatchNorm2d,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Folded weights with the channel axis innermost, as the kernel walks them; cached.

    The cache follows ``folding``'s: its folded tensors are the same objects until a source
    tensor changes, so holding them and comparing by identity is exact.
    """
    folded = folded_weight_and_bias(conv_dw, norm_dw)
    if expand is not None:
        folded = folded + folded_weight_and_bias(*expand)
    cached = getattr(owner, _PACKED_ATTRIBUTE, None)
    if cached is not None and len(cached[0]) == len(folded):
        if all(a is b for a, b in zip(cached[0], folded, strict=True)):
            return cached[1]
    dw_weight, dw_bias = folded[0], folded[1]
    channels = dw_weight.shape[0]
    packed_dw = dw_weight.reshape(channels, -1).t().contiguous()  # (k*k, C)
    if expand is not None:
        expand_weight, expand_bias = folded[2], folded[3]
        packed_expand = expand_weight.reshape(channels, -1).t().contiguous()  # (C_in, C)
    else:
        packed_expand = expand_bias = dw_weight.new_empty(0)
    packed = (packed_expand, expand_bias.contiguous(), packed_dw, dw_bias.contiguous())
    # A plain attribute, not a buffer: it never enters state_dict() or a checkpoint.
    object.__setattr__(owner, _PACKED_ATTRIBUTE, (folded, packed))
    return packed


def expand_depthwise_se(
    owner: nn.Module,
    x: Tensor,
    expand: tuple[nn.Conv2d, nn.BatchNorm2d] | None,
    conv_dw: nn.Conv2d,
    norm_dw: nn.BatchNorm2d,
    se: nn.Module,
) -> Tensor:
    """``se(silu(bn_dw(conv_dw(silu(bn(conv(x)))))))``, with ``expand = (conv, bn)`` or none.

    ``owner`` (the block) keeps the packed weights. ``se`` is a ``SqueezeExcite``: its
    ``conv_reduce`` and ``conv_expand`` are 1x1 convolutions with biases.
    """
    packed = _packed_weights(owner, expand, conv_dw, norm_dw)
    expand_weight, expand_bias, dw_weight, dw_bias = packed
    left, right, top, bottom = _padding(conv_dw)
    kernel_h, kernel_w = conv_dw.kernel_size
    stride_h, stride_w = conv_dw.stride
    if kernel_h != kernel_w or stride_h != stride_w or conv_dw.dilation != (1, 1):
        raise ValueError("the fused block kernel takes square kernels and strides, no dilation")
    out_h = (x.shape[2] + top + bottom - kernel_h) // stride_h + 1
    out_w = (x.shape[3] + left + right - kernel_w) // stride_w + 1
    module = cpu_kernels.load()
    assert module is not None, "fused_block_applies() is checked first"
    return module.mbconv_expand_depthwise_se(
        x,
        expand_weight,
        expand_bias,
        dw_weight,
        dw_bias,
        se.conv_reduce.weight.contiguous(),
        se.conv_reduce.bias.contiguous(),
        se.conv_expand.weight.contiguous(),
        se.conv_expand.bias.contiguous(),
        kernel_h,
        stride_h,
        top,
        left,
        out_h,
        out_w,
    )


__all__ = ["expand_depthwise_se", "fused_block_applies"]
