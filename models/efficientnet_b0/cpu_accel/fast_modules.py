# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in the parent folder. SPDX-License-Identifier: Apache-2.0
"""The model's modules with the hand-written CPU paths, swapped in by ``accelerate``.

Each class subclasses one module of ``model.efficientnet`` and adds no parameter, buffer or
attribute, so swapping an instance's class changes how it computes and nothing it holds: the
state dict, checkpoints and ``load_state_dict`` see the plain model. Every forward decides per
call whether its fast path applies (a model can be moved to another device or dtype, put in
eval mode, traced or compiled after it was accelerated) and otherwise runs the plain module's.

* training (autograd recording, float32 CPU, eager): BatchNorm+SiLU as one kernel
  (``batchnorm_silu``), the squeeze-excitation gate with its own backward (``squeeze_excite``);
* CPU autograd, eager or compiled: the depthwise convolution as a custom op (``depthwise``);
* inference (eval, no autograd, float32 CPU, eager): every BatchNorm folded into its
  convolution (``folding``), each block as one kernel where it can be built (``fused_block``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from model.efficientnet import (
    BatchNormAct2d,
    DepthwiseConv2d,
    DepthwiseSeparable,
    EfficientNet,
    InvertedResidual,
    SqueezeExcite,
)
from torch import nn

from cpu_accel.batchnorm_silu import batchnorm_silu, batchnorm_silu_applies
from cpu_accel.depthwise import depthwise_conv2d
from cpu_accel.folding import conv_bn, folding_applies
from cpu_accel.fused_block import fused_block_applies, mbconv_forward
from cpu_accel.squeeze_excite import fused_gate_applies, squeeze_excite


class CpuBatchNormAct2d(BatchNormAct2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Only for this class itself: a synchronised subclass
        # (``training.distributed.convert_sync_batchnorm``) must reach its own normalisation.
        if self.apply_act and type(self) is CpuBatchNormAct2d and batchnorm_silu_applies(self, x):
            return batchnorm_silu(self, x)
        return super().forward(x)


class CpuDepthwiseConv2d(DepthwiseConv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pads is not None:
            x = F.pad(x, self.pads)
        return depthwise_conv2d(x, self.weight, self.stride[0], self.padding[0])


class CpuSqueezeExcite(SqueezeExcite):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if fused_gate_applies(x):
            return squeeze_excite(x, self.conv_reduce, self.conv_expand)
        return super().forward(x)


class CpuEfficientNet(EfficientNet):
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if folding_applies(self, x):
            return folded_features(self, x)
        return super().forward_features(x)


FAST_CLASSES: dict[type[nn.Module], type[nn.Module]] = {
    BatchNormAct2d: CpuBatchNormAct2d,
    DepthwiseConv2d: CpuDepthwiseConv2d,
    SqueezeExcite: CpuSqueezeExcite,
    EfficientNet: CpuEfficientNet,
}


def folded(
    x: torch.Tensor,
    conv: nn.Conv2d,
    norm: BatchNormAct2d,
    residual: torch.Tensor | None = None,
) -> torch.Tensor:
    """``norm(conv(x)) (+ residual)`` as one convolution with the norm folded in (eval only)."""
    pads = getattr(conv, "pads", None)  # static asymmetric TF-"same" pads, if any
    return conv_bn(x, conv, norm, act=norm.apply_act, residual=residual, pads=pads)


def folded_block(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A block's eval-mode forward with its BatchNorms folded, as one kernel where it can be."""
    residual = x if block.has_residual else None
    if isinstance(block, DepthwiseSeparable):
        if fused_block_applies(x, (block.bn1,)):
            depthwise, project = (block.conv_dw, block.bn1), (block.conv_pw, block.bn2)
            return mbconv_forward(block, x, None, depthwise, block.se, project, block.has_residual)
        out = block.se(folded(x, block.conv_dw, block.bn1))
        return folded(out, block.conv_pw, block.bn2, residual)
    if isinstance(block, InvertedResidual):
        if fused_block_applies(x, (block.bn1, block.bn2)):
            expand, depthwise = (block.conv_pw, block.bn1), (block.conv_dw, block.bn2)
            project = (block.conv_pwl, block.bn3)
            return mbconv_forward(
                block, x, expand, depthwise, block.se, project, block.has_residual
            )
        out = folded(folded(x, block.conv_pw, block.bn1), block.conv_dw, block.bn2)
        return folded(block.se(out), block.conv_pwl, block.bn3, residual)
    raise TypeError(f"no folded forward for {type(block).__name__}")


def folded_features(model: EfficientNet, x: torch.Tensor) -> torch.Tensor:
    """CPU inference of the backbone with each BatchNorm folded into its convolution."""
    x = folded(x, model.conv_stem, model.bn1)
    for stage in model.blocks:
        for block in stage:
            x = folded_block(block, x)
    return folded(x, model.conv_head, model.bn2)


__all__ = ["FAST_CLASSES", "folded_features"]
