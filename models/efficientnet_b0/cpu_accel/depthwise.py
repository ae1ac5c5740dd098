# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Depthwise convolution as an opaque custom op for CPU training under torch.compile.

Why: compiling EfficientNet's training step for CPU, inductor hands several depthwise
convolutions' saved inputs to ``convolution_backward`` in a layout that is neither
channels-last nor contiguous, so oneDNN first copies the largest activations of the network
(32x96x112x112 and friends) every step. Wrapped as a custom op with a fake (meta)
implementation, the convolution and its backward run exactly the same ATen kernels as eager
PyTorch, but inductor must give them the tensors in the layout eager would: the copies go, and
the surrounding BatchNorm/SiLU/SE arithmetic is still fused around them. Numerics are
unchanged (the same kernels compute the same values).

The backward takes the weight gradient of channels-last float32 tensors from the hand-written
kernel in ``kernels`` when it can be built (faster than oneDNN's over B0: bench/README.md),
and oneDNN's otherwise.

Used only where it helps: CPU tensors with autograd recording. Inference, ONNX export and
other devices (CUDA, NPU) call ``F.conv2d`` directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cpu_accel import kernels

OP_NAMESPACE = "modelzoo_efficientnet"


def _memory_format_of(x: Tensor) -> torch.memory_format:
    """The layout a convolution keeps: channels-last in, channels-last out."""
    if (
        x.dim() == 4
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=torch.channels_last)
    ):
        return torch.channels_last
    return torch.contiguous_format


def _output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _define_ops():
    """Register the forward and backward ops once per process (a module may be imported twice)."""
    existing = getattr(getattr(torch.ops, OP_NAMESPACE), "depthwise_conv2d", None)
    if existing is not None:
        return existing

    @torch.library.custom_op(f"{OP_NAMESPACE}::depthwise_conv2d", mutates_args=())
    def depthwise_conv2d(x: Tensor, weight: Tensor, stride: int, padding: int) -> Tensor:
        out = F.conv2d(x, weight, None, stride, padding, 1, x.shape[1])
        return out.contiguous(memory_format=_memory_format_of(x))

    @depthwise_conv2d.register_fake
    def _(x: Tensor, weight: Tensor, stride: int, padding: int) -> Tensor:
        n, c, h, w = x.shape
        k = weight.shape[-1]
        shape = (n, c, _output_size(h, k, stride, padding), _output_size(w, k, stride, padding))
        return x.new_empty(shape).contiguous(memory_format=_memory_format_of(x))

    @torch.library.custom_op(f"{OP_NAMESPACE}::depthwise_conv2d_backward", mutates_args=())
    def depthwise_conv2d_backward(
        grad: Tensor, x: Tensor, weight: Tensor, stride: int, padding: int
    ) -> tuple[Tensor, Tensor]:
        # Under CPU autocast the forward convolution ran in grad's dtype (bfloat16) while x or
        # weight may be float32; backward runs without autocast, so it casts as autocast did and
        # returns each gradient in its input's dtype.
        compute = grad.dtype
        grad_weight = None
        if compute == x.dtype == torch.float32 and _memory_format_of(x) == torch.channels_last:
            grad_weight = kernels.depthwise_weight_grad(x, grad, weight.shape[-1], stride, padding)
        grad_x, onednn_grad_weight, _ = torch.ops.aten.convolution_backward(
            grad,
            x.to(compute),
            weight.to(compute),
            None,
            [stride, stride],
            [padding, padding],
            [1, 1],
            False,
            [0, 0],
            x.shape[1],
            [True, grad_weight is None, False],
        )
        if grad_weight is None:
            grad_weight = onednn_grad_weight.to(weight.dtype)
        grad_x = grad_x.to(x.dtype).contiguous(memory_format=_memory_format_of(x))
        return grad_x, grad_weight.contiguous()

    @depthwise_conv2d_backward.register_fake
    def _(grad: Tensor, x: Tensor, weight: Tensor, stride: int, padding: int):
        grad_x = x.new_empty(x.shape).contiguous(memory_format=_memory_format_of(x))
        return grad_x, weight.new_empty(weight.shape)

    def setup_context(ctx, inputs, output) -> None:
        x, weight, stride, padding = inputs
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding = stride, padding

    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        grad_x, grad_weight = depthwise_conv2d_backward(grad, x, weight, ctx.stride, ctx.padding)
        return grad_x, grad_weight, None, None

    depthwise_conv2d.register_autograd(backward, setup_context=setup_context)
    return depthwise_conv2d


depthwise_conv2d_op = _define_ops()


def depthwise_conv2d(x: Tensor, weight: Tensor, stride: int, padding: int) -> Tensor:
    """A depthwise convolution (groups = channels, no bias), symmetric ``padding``."""
    if x.device.type == "cpu" and torch.is_grad_enabled():
        return depthwise_conv2d_op(x, weight, stride, padding)
    return F.conv2d(x, weight, None, stride, padding, 1, x.shape[1])
