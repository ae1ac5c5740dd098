# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""EfficientNet B0-B7 (Tan & Le, 2019): the architecture as data, decoded into modules.

One compact per-stage table (``B0_STAGES``) describes EfficientNet-B0; every other variant is the
same table scaled by its compound coefficients (width, depth, resolution, dropout), so B1-B7 are
numbers, not copies of code. State-dict keys follow timm's public names (``conv_stem``, ``bn1``,
``blocks.{stage}.{block}.conv_dw``, ``se.conv_reduce``, ``conv_head``, ``classifier``), which is
why timm's ``efficientnet_b0`` weights load unchanged and the converters in ``model/weights.py``
only rename lukemelas's and torchvision's keys.

Two padding styles, one model:

* ``"symmetric"`` (default, torchvision/timm): ``kernel // 2`` on every side.
* ``"same"`` (TensorFlow, lukemelas/efficientnet_pytorch): the pads TF's ``SAME`` would use,
  computed once for a fixed ``image_size`` when the model is built. Where they are symmetric the
  convolution pads itself; only stride-2 convolutions on even sizes get an asymmetric
  ``F.pad`` with constant pads. Nothing is computed from the input shape at run time.

Each padding style comes with its source's BatchNorm constants (``same``: eps 1e-3, momentum
0.01 as in TF; ``symmetric``: PyTorch's 1e-5 and 0.1), overridable with ``bn_eps`` and
``bn_momentum``; eps matters for eval parity with the source weights.

The template's initialisation: Kaiming-normal (fan-out) convolutions, and the last BatchNorm of
every residual branch zero-initialised (``zero_init_last_bn``), so each residual block starts as
the identity and a deep network trains like a shallow one at first.

This is the plain model: PyTorch's own ops, the same on every device, and what export, tracing
and ``torch.compile`` see. Speed on CPU: use ``model.to(memory_format=torch.channels_last)`` and
feed channels-last inputs (see ``recommended_memory_format``); activations are in place only
where no gradient is recorded (see ``silu``). The hand-written CPU paths (fused BatchNorm+SiLU,
the fused squeeze-excitation gate, BatchNorm folded into convolutions, each block as one kernel)
live in ``cpu_accel``, whose ``accelerate(model)`` swaps them in for float32 CPU runs; nothing
here imports it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Padding = Literal["symmetric", "same"]
PADDING_STYLES: tuple[str, ...] = ("symmetric", "same")


@dataclass(frozen=True)
class StageSpec:
    """One stage of EfficientNet-B0: ``num_repeats`` MBConv blocks of one shape."""

    expand_ratio: int
    kernel_size: int
    stride: int
    in_channels: int
    out_channels: int
    num_repeats: int


# EfficientNet-B0, Table 1 of the paper (stage 1, the stem, and stage 9, the head, are separate).
# fmt: off
B0_STAGES: tuple[StageSpec, ...] = (
    #         expand kernel stride  in   out  repeats
    StageSpec(1,     3,     1,    32,   16,  1),
    StageSpec(6,     3,     2,    16,   24,  2),
    StageSpec(6,     5,     2,    24,   40,  2),
    StageSpec(6,     3,     2,    40,   80,  3),
    StageSpec(6,     5,     1,    80,  112,  3),
    StageSpec(6,     5,     2,   112,  192,  4),
    StageSpec(6,     3,     1,   192,  320,  1),
)
# fmt: on
B0_STEM_CHANNELS = 32
B0_HEAD_CHANNELS = 1280
SE_RATIO = 0.25  # squeeze width relative to the block's *input* channels
CHANNEL_DIVISOR = 8


@dataclass(frozen=True)
class CompoundScaling:
    """The coefficients that turn B0 into a larger variant."""

    width: float
    depth: float
    image_size: int
    dropout: float


ARCH_SCALING: dict[str, CompoundScaling] = {
    "efficientnet_b0": CompoundScaling(1.0, 1.0, 224, 0.2),
    "efficientnet_b1": CompoundScaling(1.0, 1.1, 240, 0.2),
    "efficientnet_b2": CompoundScaling(1.1, 1.2, 260, 0.3),
    "efficientnet_b3": CompoundScaling(1.2, 1.4, 300, 0.3),
    "efficientnet_b4": CompoundScaling(1.4, 1.8, 380, 0.4),
    "efficientnet_b5": CompoundScaling(1.6, 2.2, 456, 0.4),
    "efficientnet_b6": CompoundScaling(1.8, 2.6, 528, 0.5),
    "efficientnet_b7": CompoundScaling(2.0, 3.1, 600, 0.5),
}
ARCH_IMAGE_SIZE: dict[str, int] = {name: s.image_size for name, s in ARCH_SCALING.items()}
ARCHITECTURES: tuple[str, ...] = tuple(ARCH_SCALING)


class UnknownArchitectureError(ValueError):
    """``build_model`` was asked for an architecture this module does not define."""


def round_channels(channels: float, width: float, divisor: int = CHANNEL_DIVISOR) -> int:
    """Scale a channel count by ``width`` and round to a multiple of ``divisor``.

    Never rounds down by more than 10%, exactly as the reference implementation (and
    torchvision's ``_make_divisible``) do, so scaled variants keep their published shapes.
    """
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    """Scale a stage's block count by ``depth``, rounding up."""
    return int(math.ceil(depth * repeats))


@dataclass(frozen=True)
class BlockArgs:
    """Everything one MBConv block needs, decoded from the stage table."""

    in_channels: int
    out_channels: int
    expand_ratio: int
    kernel_size: int
    stride: int
    se_channels: int
    drop_path_rate: float
    input_size: int  # spatial size of the block's input, for static TF-"same" padding

    @property
    def mid_channels(self) -> int:
        return self.in_channels * self.expand_ratio

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


def output_size(input_size: int, stride: int) -> int:
    """Spatial size after a convolution with TF-"same" or symmetric odd-kernel padding."""
    return -(-input_size // stride)


def decode_stages(
    scaling: CompoundScaling,
    image_size: int,
    drop_path_rate: float,
    stages: Sequence[StageSpec] = B0_STAGES,
) -> list[list[BlockArgs]]:
    """Decode the B0 stage table, scaled by ``scaling``, into per-block arguments.

    Stochastic depth grows linearly with the block's position: block ``i`` of ``n`` drops its
    residual branch with probability ``drop_path_rate * i / n`` (as lukemelas, timm and
    torchvision do).
    """
    repeats = [round_repeats(s.num_repeats, scaling.depth) for s in stages]
    total_blocks = sum(repeats)
    size = output_size(image_size, 2)  # after the stem
    block_index = 0
    decoded: list[list[BlockArgs]] = []
    for stage, count in zip(stages, repeats, strict=True):
        in_channels = round_channels(stage.in_channels, scaling.width)
        out_channels = round_channels(stage.out_channels, scaling.width)
        blocks = []
        for i in range(count):
            stride = stage.stride if i == 0 else 1
            block_in = in_channels if i == 0 else out_channels
            blocks.append(
                BlockArgs(
                    in_channels=block_in,
                    out_channels=out_channels,
                    expand_ratio=stage.expand_ratio,
                    kernel_size=stage.kernel_size,
                    stride=stride,
                    se_channels=max(1, int(block_in * SE_RATIO)),
                    drop_path_rate=drop_path_rate * block_index / total_blocks,
                    input_size=size,
                )
            )
            size = output_size(size, stride)
            block_index += 1
        decoded.append(blocks)
    return decoded


def tf_same_pads(input_size: int, kernel_size: int, stride: int) -> tuple[int, int]:
    """(before, after) zero padding TensorFlow's ``SAME`` applies along one axis."""
    total = max((output_size(input_size, stride) - 1) * stride + kernel_size - input_size, 0)
    return total // 2, total - total // 2


class StaticPadConv2d(nn.Conv2d):
    """A convolution with an asymmetric zero padding fixed when the model is built.

    A subclass of ``nn.Conv2d`` (same parameters, same state-dict keys); the pads are plain
    integers, so tracing, ONNX export and ``torch.compile`` see a constant ``Pad``.
    """

    def __init__(self, *args, pads: tuple[int, int, int, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pads = pads  # F.pad order: left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pads))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pads={self.pads}"


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise convolution (one filter per channel, no bias), with optional static pads.

    Its own class so that ``cpu_accel`` can give CPU training its custom op; same parameters
    and state-dict keys as ``nn.Conv2d``.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        pads: tuple[int, int, int, int] | None = None,
    ) -> None:
        super().__init__(
            channels, channels, kernel_size, stride, padding, groups=channels, bias=False
        )
        self.pads = pads  # asymmetric TF-"same" pads applied before the convolution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pads is not None:
            x = F.pad(x, self.pads)
        return super().forward(x)

    def extra_repr(self) -> str:
        pads = f", pads={self.pads}" if self.pads is not None else ""
        return f"{super().extra_repr()}{pads}"


def make_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    groups: int = 1,
    bias: bool = False,
    padding: Padding = "symmetric",
    input_size: int | None = None,
) -> nn.Conv2d:
    """A convolution padded in the requested style; TF-"same" needs the input's spatial size.

    Symmetric pads are the convolution's own; asymmetric TF-"same" pads (stride 2 on even
    sizes) are constants applied with ``F.pad``, computed here once for ``input_size``.
    """
    if padding == "symmetric" or kernel_size == 1:
        before = after = kernel_size // 2
    elif input_size is None:
        raise ValueError("TF-'same' padding is static: the input size must be known")
    else:
        before, after = tf_same_pads(input_size, kernel_size, stride)
    pads = None if before == after else (before, after, before, after)
    symmetric = before if pads is None else 0
    if groups > 1 and groups == in_channels == out_channels and not bias:
        return DepthwiseConv2d(in_channels, kernel_size, stride, symmetric, pads)
    if pads is None:
        return nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, symmetric, groups=groups, bias=bias
        )
    return StaticPadConv2d(
        in_channels, out_channels, kernel_size, stride, 0, groups=groups, bias=bias, pads=pads
    )


def silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU, in place only where no gradient is recorded.

    Under autograd an in-place ``silu_`` makes PyTorch clone its input first (the backward
    needs it), which costs one full copy of every activation per step: 49 copies in B0.
    Without autograd (``inference_mode``, ``no_grad``) in
    place is free and saves an allocation.
    """
    return F.silu(x, inplace=not torch.is_grad_enabled())


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm followed by an optional SiLU, in one module.

    Keeping the activation inside the norm module keeps the state-dict keys timm's
    (``bn1.weight`` ...) and gives one place to change how the pair is computed.
    """

    def __init__(self, num_features: int, eps: float, momentum: float, act: bool = True) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.apply_act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return silu(x) if self.apply_act else x

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, act={'SiLU' if self.apply_act else None}"


class SqueezeExcite(nn.Module):
    """Channel attention: global average pool, reduce, SiLU, expand, sigmoid gate."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, squeeze_channels, 1, bias=True)
        self.conv_expand = nn.Conv2d(squeeze_channels, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.conv_expand(silu(self.conv_reduce(scale)))
        return x * scale.sigmoid()


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero a whole sample's residual branch with probability ``rate``.

    Survivors are scaled by ``1 / (1 - rate)`` so the expected output is unchanged.
    """
    if rate == 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask.div_(keep)


class DropPath(nn.Module):
    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.rate, self.training)

    def extra_repr(self) -> str:
        return f"rate={self.rate:.4f}"


@dataclass(frozen=True)
class NormSettings:
    eps: float
    momentum: float

    def __call__(self, channels: int, act: bool = True) -> BatchNormAct2d:
        return BatchNormAct2d(channels, eps=self.eps, momentum=self.momentum, act=act)


class DepthwiseSeparable(nn.Module):
    """The first stage's block (expand ratio 1): depthwise conv, SE, pointwise projection."""

    def __init__(self, args: BlockArgs, norm: NormSettings, padding: Padding) -> None:
        super().__init__()
        self.has_residual = args.has_residual
        self.conv_dw = make_conv(
            args.in_channels,
            args.in_channels,
            args.kernel_size,
            args.stride,
            groups=args.in_channels,
            padding=padding,
            input_size=args.input_size,
        )
        self.bn1 = norm(args.in_channels)
        self.se = SqueezeExcite(args.in_channels, args.se_channels)
        self.conv_pw = nn.Conv2d(args.in_channels, args.out_channels, 1, bias=False)
        self.bn2 = norm(args.out_channels, act=False)
        self.drop_path = DropPath(args.drop_path_rate) if self.has_residual else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_pw(self.se(self.bn1(self.conv_dw(x)))))
        if self.has_residual:
            out = self.drop_path(out) + x
        return out

    def last_norm(self) -> nn.BatchNorm2d:
        return self.bn2


class InvertedResidual(nn.Module):
    """MBConv: pointwise expansion, depthwise conv, SE, linear pointwise projection."""

    def __init__(self, args: BlockArgs, norm: NormSettings, padding: Padding) -> None:
        super().__init__()
        mid = args.mid_channels
        self.has_residual = args.has_residual
        self.conv_pw = nn.Conv2d(args.in_channels, mid, 1, bias=False)
        self.bn1 = norm(mid)
        self.conv_dw = make_conv(
            mid,
            mid,
            args.kernel_size,
            args.stride,
            groups=mid,
            padding=padding,
            input_size=args.input_size,
        )
        self.bn2 = norm(mid)
        self.se = SqueezeExcite(mid, args.se_channels)
        self.conv_pwl = nn.Conv2d(mid, args.out_channels, 1, bias=False)
        self.bn3 = norm(args.out_channels, act=False)
        self.drop_path = DropPath(args.drop_path_rate) if self.has_residual else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        out = self.bn3(self.conv_pwl(self.se(out)))
        if self.has_residual:
            out = self.drop_path(out) + x
        return out

    def last_norm(self) -> nn.BatchNorm2d:
        return self.bn3


def make_block(args: BlockArgs, norm: NormSettings, padding: Padding) -> nn.Module:
    if args.expand_ratio == 1:
        return DepthwiseSeparable(args, norm, padding)
    return InvertedResidual(args, norm, padding)


def init_classifier(linear: nn.Linear) -> None:
    """Uniform in +-1/sqrt(fan_in): initial logits stay small whatever the number of classes.

    (torchvision's 1/sqrt(fan_out) gives a 10-class head weights ten times larger than a
    1000-class head, and initial losses far above log(num_classes).)
    """
    bound = 1.0 / math.sqrt(linear.in_features)
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.zeros_(linear.bias)


class EfficientNet(nn.Module):
    """EfficientNet: stem, seven MBConv stages, 1x1 head, pooling, dropout, classifier.

    ``classifier`` is the only layer that depends on ``num_classes``; everything else is the
    backbone (``backbone_parameters()``), which is what transfer learning keeps.
    """

    def __init__(
        self,
        arch: str,
        scaling: CompoundScaling,
        num_classes: int,
        padding: Padding,
        image_size: int,
        drop_rate: float,
        drop_path_rate: float,
        zero_init_last_bn: bool,
        bn_eps: float,
        bn_momentum: float,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.padding: Padding = padding
        self.image_size = image_size
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        norm = NormSettings(eps=bn_eps, momentum=bn_momentum)
        stem_channels = round_channels(B0_STEM_CHANNELS, scaling.width)
        self.conv_stem = make_conv(3, stem_channels, 3, 2, padding=padding, input_size=image_size)
        self.bn1 = norm(stem_channels)
        stages = decode_stages(scaling, image_size, drop_path_rate)
        self.blocks = nn.Sequential(
            *(nn.Sequential(*(make_block(a, norm, padding) for a in stage)) for stage in stages)
        )
        head_in = stages[-1][-1].out_channels
        self.num_features = round_channels(B0_HEAD_CHANNELS, scaling.width)
        self.conv_head = nn.Conv2d(head_in, self.num_features, 1, bias=False)
        self.bn2 = norm(self.num_features)
        self.classifier = nn.Linear(self.num_features, num_classes)
        self.initialize_weights(zero_init_last_bn)

    def initialize_weights(self, zero_init_last_bn: bool = True) -> None:
        """Kaiming-normal (fan-out) convs, unit BN, small uniform head; zero last BN if asked."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                init_classifier(module)
        if zero_init_last_bn:
            for block in self.residual_blocks():
                nn.init.zeros_(block.last_norm().weight)

    def residual_blocks(self) -> list[DepthwiseSeparable | InvertedResidual]:
        """Blocks with a skip connection (stride 1, same channels in and out)."""
        return [
            b
            for b in self.modules()
            if isinstance(b, (DepthwiseSeparable, InvertedResidual)) and b.has_residual
        ]

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a freshly initialised one for ``num_classes`` classes."""
        self.num_classes = num_classes
        device = self.classifier.weight.device
        self.classifier = nn.Linear(self.num_features, num_classes, device=device)
        init_classifier(self.classifier)

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the classifier's."""
        head = {id(p) for p in self.classifier.parameters()}
        return [p for p in self.parameters() if id(p) not in head]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.conv_stem(x))
        x = self.blocks(x)
        return self.bn2(self.conv_head(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        x = x.mean((2, 3))
        if self.drop_rate > 0.0:
            x = F.dropout(x, self.drop_rate, self.training)
        return self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def default_bn_settings(padding: Padding) -> tuple[float, float]:
    """(eps, momentum) of the weights each padding style is for: TF's or PyTorch's."""
    return (1e-3, 0.01) if padding == "same" else (1e-5, 0.1)


def build_model(
    arch: str = "efficientnet_b0",
    num_classes: int = 1000,
    padding: Padding = "symmetric",
    image_size: int | None = None,
    drop_rate: float | None = None,
    drop_path_rate: float = 0.2,
    zero_init_last_bn: bool = True,
    bn_eps: float | None = None,
    bn_momentum: float | None = None,
) -> EfficientNet:
    """Build an EfficientNet variant.

    ``image_size`` (default: the variant's resolution) only matters for ``padding="same"``,
    whose pads are fixed for it; ``drop_rate`` defaults to the variant's dropout before the
    classifier; ``bn_eps``/``bn_momentum`` default to the padding style's source (see
    ``default_bn_settings``).
    """
    key = arch.replace("-", "_").lower()
    if key not in ARCH_SCALING:
        raise UnknownArchitectureError(
            f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}"
        )
    if padding not in PADDING_STYLES:
        raise ValueError(f"padding must be one of {PADDING_STYLES}, not {padding!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, not {num_classes}")
    scaling = ARCH_SCALING[key]
    eps, momentum = default_bn_settings(padding)
    return EfficientNet(
        arch=key,
        scaling=scaling,
        num_classes=num_classes,
        padding=padding,
        image_size=image_size or scaling.image_size,
        drop_rate=scaling.dropout if drop_rate is None else drop_rate,
        drop_path_rate=drop_path_rate,
        zero_init_last_bn=zero_init_last_bn,
        bn_eps=eps if bn_eps is None else bn_eps,
        bn_momentum=momentum if bn_momentum is None else bn_momentum,
    )


def recommended_memory_format(device_type: str) -> torch.memory_format:
    """channels_last where it speeds up training (CPU, CUDA), contiguous elsewhere (NPU)."""
    return torch.channels_last if device_type in ("cpu", "cuda") else torch.contiguous_format


def efficientnet_b0(**kwargs) -> EfficientNet:
    return build_model("efficientnet_b0", **kwargs)


def efficientnet_b1(**kwargs) -> EfficientNet:
    return build_model("efficientnet_b1", **kwargs)


def efficientnet_b2(**kwargs) -> EfficientNet:
    return build_model("efficientnet_b2", **kwargs)


def efficientnet_b3(**kwargs) -> EfficientNet:
    return build_model("efficientnet_b3", **kwargs)


def efficientnet_b4(**kwargs) -> EfficientNet:
    return build_model("efficientnet_b4", **kwargs)


def efficientnet_b5(**kwargs) -> EfficientNet:
    return build_model("efficientnet_b5", **kwargs)


def efficientnet_b6(**kwargs) -> EfficientNet:
    return build_model("efficientnet_b6", **kwargs)


def efficientnet_b7(**kwargs) -> EfficientNet:
    return build_model("efficientnet_b7", **kwargs)


__all__ = [
    "ARCH_IMAGE_SIZE",
    "ARCH_SCALING",
    "ARCHITECTURES",
    "BlockArgs",
    "BatchNormAct2d",
    "CompoundScaling",
    "DepthwiseConv2d",
    "DepthwiseSeparable",
    "EfficientNet",
    "InvertedResidual",
    "SqueezeExcite",
    "StageSpec",
    "UnknownArchitectureError",
    "build_model",
    "decode_stages",
    "recommended_memory_format",
] + [f"efficientnet_b{i}" for i in range(8)]
