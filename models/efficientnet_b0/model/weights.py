# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Weights interchange: lukemelas, torchvision and timm state dicts into our EfficientNet.

Our keys are timm's, so timm checkpoints load as they are. lukemelas/efficientnet_pytorch and
torchvision.models.efficientnet_b0 name the same tensors differently; the converters here rename
them by rule, from the target model's own structure, and check that every tensor arrives with the
right shape. A checkpoint of another architecture (another variant, a ResNet, a different head
without ``allow_new_head``) fails with ``WeightsMismatchError`` naming the keys and shapes that
do not fit, instead of PyTorch's long ``load_state_dict`` traceback.

Which network the weights need is one rule, ``settings_for``, by the format that wrote them:
lukemelas's were trained in TensorFlow with "same" padding and BN eps 1e-3 / momentum 0.01;
torchvision's and timm's ``efficientnet_b0`` use symmetric padding and PyTorch's eps 1e-5 /
momentum 0.1; a train.py checkpoint ("ours") records the padding it was trained with. Training,
evaluation, fine-tuning and export all read a file with ``read_weights`` and build with these
settings, so no path can pair lukemelas weights with symmetric padding by falling back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from common import checkpoint as ckpt
from common.errors import CheckpointError
from torch import nn

from model.efficientnet import (
    ARCH_SCALING,
    B0_HEAD_CHANNELS,
    B0_STAGES,
    B0_STEM_CHANNELS,
    PADDING_STYLES,
    DepthwiseSeparable,
    EfficientNet,
    Padding,
    build_model,
    default_bn_settings,
    round_channels,
    round_repeats,
)

# How a state dict names its tensors ("efficientnet": timm's names, which are also ours).
SourceFormat = Literal["efficientnet", "lukemelas", "torchvision"]
SOURCE_FORMATS: tuple[str, ...] = ("efficientnet", "lukemelas", "torchvision")
# Which program wrote the weights: decides the padding and BN settings (``settings_for``).
WeightsFormat = Literal["ours", "timm", "lukemelas", "torchvision"]
WEIGHTS_FORMATS: tuple[str, ...] = ("ours", "timm", "lukemelas", "torchvision")
_KEY_NAMING: dict[str, SourceFormat] = {
    "ours": "efficientnet",
    "timm": "efficientnet",
    "lukemelas": "lukemelas",
    "torchvision": "torchvision",
}
MAX_LISTED = 8
SE_REDUCE_KEY = re.compile(r"(se\.conv_reduce|_se_reduce|\.fc1)\.weight$")


class WeightsMismatchError(ValueError):
    """A state dict does not fit the model: missing, unexpected or differently shaped tensors."""

    def __init__(
        self,
        source: str,
        missing: list[str],
        unexpected: list[str],
        shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
        target: str,
    ) -> None:
        self.missing = missing
        self.unexpected = unexpected
        self.shape_mismatches = shape_mismatches
        parts = []
        if shape_mismatches:
            shown = ", ".join(
                f"{k} {tuple(got)} (expected {tuple(want)})"
                for k, got, want in shape_mismatches[:MAX_LISTED]
            )
            parts.append(f"{len(shape_mismatches)} tensor(s) of the wrong shape: {shown}")
        if missing:
            parts.append(f"{len(missing)} missing: {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: {_listing(unexpected)}")
        super().__init__(
            f"{source} does not fit {target}: "
            + "; ".join(parts)
            + ". Is it a checkpoint of another architecture or number of classes?"
        )


def _listing(keys: list[str]) -> str:
    more = f" and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else ""
    return ", ".join(keys[:MAX_LISTED]) + more


def strip_wrappers(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` (DDP) and ``_orig_mod.`` (torch.compile) key prefixes."""
    cleaned = {}
    for key, value in state_dict.items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        cleaned[key] = value
    return cleaned


def detect_format(state_dict: Mapping[str, torch.Tensor]) -> SourceFormat | None:
    """Which implementation wrote this state dict, from its stem's key; None if unknown."""
    keys = set(strip_wrappers(state_dict))
    if "conv_stem.weight" in keys:
        return "efficientnet"
    if "_conv_stem.weight" in keys:
        return "lukemelas"
    if "features.0.0.weight" in keys:
        return "torchvision"
    return None


def _blocks(model: EfficientNet) -> list[tuple[int, int, nn.Module]]:
    return [(s, b, block) for s, stage in enumerate(model.blocks) for b, block in enumerate(stage)]


def _block_renames_lukemelas(block: nn.Module) -> dict[str, str]:
    """Our module name inside one block -> lukemelas's."""
    common = {"se.conv_reduce": "_se_reduce", "se.conv_expand": "_se_expand"}
    if isinstance(block, DepthwiseSeparable):
        return {
            **common,
            "conv_dw": "_depthwise_conv",
            "bn1": "_bn1",
            "conv_pw": "_project_conv",
            "bn2": "_bn2",
        }
    return {
        **common,
        "conv_pw": "_expand_conv",
        "bn1": "_bn0",
        "conv_dw": "_depthwise_conv",
        "bn2": "_bn1",
        "conv_pwl": "_project_conv",
        "bn3": "_bn2",
    }


def _block_renames_torchvision(block: nn.Module) -> dict[str, str]:
    if isinstance(block, DepthwiseSeparable):
        return {
            "conv_dw": "block.0.0",
            "bn1": "block.0.1",
            "se.conv_reduce": "block.1.fc1",
            "se.conv_expand": "block.1.fc2",
            "conv_pw": "block.2.0",
            "bn2": "block.2.1",
        }
    return {
        "conv_pw": "block.0.0",
        "bn1": "block.0.1",
        "conv_dw": "block.1.0",
        "bn2": "block.1.1",
        "se.conv_reduce": "block.2.fc1",
        "se.conv_expand": "block.2.fc2",
        "conv_pwl": "block.3.0",
        "bn3": "block.3.1",
    }


def module_renames(model: EfficientNet, source: SourceFormat) -> dict[str, str]:
    """Our module path -> the source's module path, for every module holding tensors."""
    if source == "efficientnet":
        return {}
    if source == "lukemelas":
        renames = {
            "conv_stem": "_conv_stem",
            "bn1": "_bn0",
            "conv_head": "_conv_head",
            "bn2": "_bn1",
            "classifier": "_fc",
        }
        for flat, (s, b, block) in enumerate(_blocks(model)):
            for ours, theirs in _block_renames_lukemelas(block).items():
                renames[f"blocks.{s}.{b}.{ours}"] = f"_blocks.{flat}.{theirs}"
        return renames
    renames = {
        "conv_stem": "features.0.0",
        "bn1": "features.0.1",
        "conv_head": f"features.{len(model.blocks) + 1}.0",
        "bn2": f"features.{len(model.blocks) + 1}.1",
        "classifier": "classifier.1",
    }
    for s, b, block in _blocks(model):
        for ours, theirs in _block_renames_torchvision(block).items():
            renames[f"blocks.{s}.{b}.{ours}"] = f"features.{s + 1}.{b}.{theirs}"
    return renames


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    model: EfficientNet,
    source: SourceFormat | None = None,
    source_name: str = "state dict",
    allow_new_head: bool = False,
) -> dict[str, torch.Tensor]:
    """Rename ``state_dict`` (from ``source``, detected if None) into ``model``'s keys.

    Every tensor must be used and have the model's shape; with ``allow_new_head`` a classifier
    of another number of classes is dropped (the model keeps its own freshly initialised one),
    which is what fine-tuning on a new dataset needs.
    """
    state_dict = strip_wrappers(state_dict)
    if source is None:
        source = detect_format(state_dict)
        if source is None:
            raise WeightsMismatchError(
                source_name,
                missing=[],
                unexpected=sorted(state_dict)[:MAX_LISTED],
                shape_mismatches=[],
                target=f"{model.arch} (no EfficientNet stem key found)",
            )
    renames = module_renames(model, source)
    target = model.state_dict()
    converted: dict[str, torch.Tensor] = {}
    missing: list[str] = []
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    used: set[str] = set()
    for key, wanted in target.items():
        module_path, _, tensor_name = key.rpartition(".")
        source_key = f"{renames.get(module_path, module_path)}.{tensor_name}"
        if source_key not in state_dict:
            if tensor_name == "num_batches_tracked":
                converted[key] = wanted.clone()
                continue
            missing.append(source_key)
            continue
        used.add(source_key)
        tensor = state_dict[source_key]
        if tuple(tensor.shape) != tuple(wanted.shape):
            if allow_new_head and module_path == "classifier":
                converted[key] = wanted.clone()
                continue
            mismatched.append((source_key, tuple(tensor.shape), tuple(wanted.shape)))
            continue
        converted[key] = tensor.detach().to(dtype=wanted.dtype)
    unexpected = sorted(k for k in state_dict if k not in used)
    if missing or unexpected or mismatched:
        raise WeightsMismatchError(
            f"{source_name} ({source} format)", missing, unexpected, mismatched, model.arch
        )
    return converted


def load_into(
    model: EfficientNet,
    state_dict: Mapping[str, torch.Tensor],
    source: SourceFormat | None = None,
    source_name: str = "state dict",
    allow_new_head: bool = False,
) -> EfficientNet:
    """Convert and load ``state_dict`` into ``model`` (strictly); returns the model."""
    converted = convert_state_dict(state_dict, model, source, source_name, allow_new_head)
    model.load_state_dict(converted, strict=True)
    return model


def infer_num_classes(state_dict: Mapping[str, torch.Tensor]) -> int | None:
    """The classifier's output count in any supported format, None if there is no classifier."""
    state_dict = strip_wrappers(state_dict)
    for key in ("classifier.weight", "_fc.weight", "classifier.1.weight"):
        if key in state_dict:
            return int(state_dict[key].shape[0])
    return None


def infer_arch(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """The variant with this stem width and number of blocks; None if no variant matches."""
    state_dict = strip_wrappers(state_dict)
    stem_keys = ("conv_stem.weight", "_conv_stem.weight", "features.0.0.weight")
    stem = next((state_dict[k] for k in stem_keys if k in state_dict), None)
    if stem is None:
        return None
    num_blocks = sum(1 for k in state_dict if SE_REDUCE_KEY.search(k))
    head_keys = ("classifier.weight", "_fc.weight", "classifier.1.weight")
    head = next((state_dict[k] for k in head_keys if k in state_dict), None)
    for name, scaling in ARCH_SCALING.items():
        blocks = sum(round_repeats(s.num_repeats, scaling.depth) for s in B0_STAGES)
        stem_width = round_channels(B0_STEM_CHANNELS, scaling.width)
        head_width = round_channels(B0_HEAD_CHANNELS, scaling.width)
        if head is not None and head.shape[1] != head_width:
            continue
        if stem.shape[0] == stem_width and blocks == num_blocks:
            return name
    return None


def model_for_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    arch: str = "efficientnet_b0",
    num_classes: int | None = None,
    source_name: str = "state dict",
    **model_kwargs,
) -> EfficientNet:
    """Build the model these in-memory weights need (``settings_for``) and load them into it.

    ``num_classes`` other than the checkpoint's keeps a new, freshly initialised classifier.
    """
    source = detect_format(state_dict)
    fmt = weights_format_of(state_dict, training_checkpoint=False) or "timm"
    if "padding" not in model_kwargs:
        settings = settings_for(fmt)
        model_kwargs.update(
            padding=settings.padding, bn_eps=settings.bn_eps, bn_momentum=settings.bn_momentum
        )
    stored_classes = infer_num_classes(state_dict)
    classes = num_classes or stored_classes or 1000
    model = build_model(arch, num_classes=classes, **model_kwargs)
    return load_into(
        model,
        state_dict,
        source=source,
        source_name=source_name,
        allow_new_head=stored_classes is not None and classes != stored_classes,
    )


@dataclass(frozen=True)
class ModelSettings:
    """What the weights' format decides about the network that runs them."""

    padding: Padding
    bn_eps: float
    bn_momentum: float

    @classmethod
    def for_padding(cls, padding: str) -> ModelSettings:
        if padding not in PADDING_STYLES:
            raise CheckpointError(f"padding must be one of {PADDING_STYLES}, not {padding!r}")
        eps, momentum = default_bn_settings(padding)  # type: ignore[arg-type]  # checked above
        return cls(padding, eps, momentum)  # type: ignore[arg-type]


def settings_for(fmt: WeightsFormat, config: Mapping[str, object] | None = None) -> ModelSettings:
    """The one rule: padding and BN constants by the format that wrote the weights.

    lukemelas: TF "same" with eps 1e-3; torchvision and timm: symmetric with eps 1e-5; ours: the
    padding the run recorded in its ``config`` (symmetric for a run that recorded none).
    """
    if fmt == "lukemelas":
        return ModelSettings.for_padding("same")
    if fmt == "ours":
        return ModelSettings.for_padding(str((config or {}).get("padding") or "symmetric"))
    return ModelSettings.for_padding("symmetric")


def weights_format_of(state_dict: Mapping[str, torch.Tensor], training_checkpoint: bool):
    """The program that wrote ``state_dict``: from its key names, and whether train.py's file."""
    naming = detect_format(state_dict)
    if naming == "efficientnet":
        return "ours" if training_checkpoint else "timm"
    return naming


@dataclass(frozen=True)
class WeightsFile:
    """A checkpoint or weights file as every command reads it (``read_weights``)."""

    path: Path
    contents: dict  # all the file holds: a train.py checkpoint's optimizer, progress, rng ...
    state_dict: dict[str, torch.Tensor]  # the model's weights, unwrapped, prefixes stripped
    format: WeightsFormat
    verified: bool  # a sha256 seal proved the file intact (see common/checkpoint.py)

    @property
    def is_training_checkpoint(self) -> bool:
        return ckpt.is_training_checkpoint(self.contents)

    @property
    def config(self) -> dict:
        """The run configuration a train.py checkpoint records; {} for other programs' files."""
        return self.contents["config"] if self.is_training_checkpoint else {}

    @property
    def settings(self) -> ModelSettings:
        return settings_for(self.format, self.config)

    @property
    def arch(self) -> str | None:
        return self.config.get("arch") or infer_arch(self.state_dict)

    @property
    def num_classes(self) -> int | None:
        return self.config.get("num_classes") or infer_num_classes(self.state_dict)


def read_weights(path: str | os.PathLike[str], fmt: str = "auto") -> WeightsFile:
    """The one reader of weights for training, evaluation, fine-tuning and export.

    ``checkpoint.load`` checks the seal and reads with ``weights_only``; this unwraps the state
    dict and decides its format: ``fmt`` "auto" detects it from the keys, "efficientnet" (timm's
    key names) means ours for a train.py checkpoint and timm's otherwise. Raises
    ``CheckpointError`` naming the file for anything that is not EfficientNet weights.
    """
    path = Path(path)
    loaded = ckpt.load(path)
    training = ckpt.is_training_checkpoint(loaded.contents)
    state = strip_wrappers(ckpt.state_dict_of(loaded.contents, path))
    if fmt in ("auto", "efficientnet"):
        detected = weights_format_of(state, training)
        if detected is None and fmt == "auto":
            example = next(iter(state), "<empty>")
            raise CheckpointError(
                f"{path} is not an EfficientNet checkpoint or state dict of a known format "
                f"(first key {example!r}); pass --pretrained-format if it is one"
            )
        fmt = detected or ("ours" if training else "timm")
    if fmt not in WEIGHTS_FORMATS:
        raise CheckpointError(f"unknown weights format {fmt!r}; use one of {WEIGHTS_FORMATS}")
    return WeightsFile(path, loaded.contents, state, fmt, loaded.verified)  # type: ignore[arg-type]


def model_for_weights(
    weights: WeightsFile,
    arch: str | None = None,
    num_classes: int | None = None,
    padding: str | None = None,
    **model_kwargs,
) -> EfficientNet:
    """Build the network ``weights`` need (``settings_for``) and load them into it.

    ``padding`` other than None overrides the rule (the BN constants follow it); a
    ``num_classes`` other than the file's keeps a new, freshly initialised classifier.
    """
    settings = weights.settings if padding is None else ModelSettings.for_padding(padding)
    stored_classes = weights.num_classes
    classes = num_classes or stored_classes or 1000
    model = build_model(
        arch or weights.arch or "efficientnet_b0",
        num_classes=classes,
        padding=settings.padding,
        bn_eps=settings.bn_eps,
        bn_momentum=settings.bn_momentum,
        **model_kwargs,
    )
    return load_weights_into(model, weights, allow_new_head=classes != stored_classes)


def load_weights_into(
    model: EfficientNet, weights: WeightsFile, allow_new_head: bool = False
) -> EfficientNet:
    """``load_into`` for a file read by ``read_weights``: a mismatch is a ``CheckpointError``."""
    try:
        return load_into(
            model,
            weights.state_dict,
            source=_KEY_NAMING[weights.format],
            source_name=str(weights.path),
            allow_new_head=allow_new_head,
        )
    except WeightsMismatchError as exc:
        raise CheckpointError(str(exc)) from None


def save_state_dict(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write the model's state dict atomically and sealed (see ``checkpoint.atomic_save``)."""
    model = getattr(model, "_orig_mod", model)
    model = getattr(model, "module", model)
    return ckpt.atomic_save(model.state_dict(), path)


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The weights in a file, read by ``checkpoint.load`` (seal checked, ``weights_only``).

    Unwraps ``{"model": ...}``-style checkpoints; raises ``CheckpointError`` for anything else.
    """
    path = Path(path)
    return ckpt.state_dict_of(ckpt.load(path).contents, path)


__all__ = [
    "SOURCE_FORMATS",
    "WEIGHTS_FORMATS",
    "ModelSettings",
    "WeightsFile",
    "WeightsMismatchError",
    "convert_state_dict",
    "detect_format",
    "infer_arch",
    "infer_num_classes",
    "load_into",
    "load_state_dict_file",
    "load_weights_into",
    "model_for_state_dict",
    "model_for_weights",
    "module_renames",
    "read_weights",
    "save_state_dict",
    "settings_for",
    "strip_wrappers",
]
