# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""ONNX export of a trained EfficientNet, checked against PyTorch with onnxruntime.

The command is train.py's (run from this folder)::

    python train.py --pretrained runs/b0/best.pt --export-onnx efficientnet_b0.onnx

train.py reads the weights with ``weights.read_weights`` and builds the network their format
needs (``weights.settings_for``: TF "same" padding for lukemelas weights), exactly as it does to
train, evaluate or fine-tune, then calls ``export_onnx`` here. The file is written to a temporary
name and renamed only after onnxruntime reproduced PyTorch's logits on a sample batch, so a
failed export never leaves a half-written or wrong model behind. train.py's is the one export
command (the ``python export.py`` alias of earlier versions is gone).

Ascend inference: ONNX -> OM with ATC
-------------------------------------
On a host with the CANN toolkit (``source /usr/local/Ascend/ascend-toolkit/set_env.sh``)::

    atc --model=efficientnet_b0.onnx --framework=5 --output=efficientnet_b0_bs16 \\
        --input_format=NCHW --input_shape="image:16,3,224,224" \\
        --soc_version=Ascend910B --log=error

``--framework=5`` means ONNX; ``--input_shape`` fixes the batch the OM model runs (export with a
dynamic batch and pick it here, or pass ``--dynamic_batch_size="1,8,16"`` together with
``--input_shape="image:-1,3,224,224"``); ``--soc_version`` must name the chip that will run it
(``npu-smi info`` shows it, e.g. Ascend310P3 for inference cards). The default opset 11 is the
one every ATC release reads (the zoo's own pth2onnx scripts use it); ``--opset 18`` uses
PyTorch's newer torch.export-based exporter for toolchains that accept it. The OM
model expects the same preprocessing as evaluation: resize 256, center crop 224, ImageNet mean and
std, NCHW float32 (or set an AIPP config in ATC to do it on the device).
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from common.atomic_file import atomic_path
from torch import nn

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
DEFAULT_OPSET = 11
MIN_OPSET = 11
DYNAMO_MIN_OPSET = 18


class OnnxExportError(RuntimeError):
    """The exported model could not be written, loaded, or did not reproduce PyTorch."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    image_size: int
    opset: int
    max_abs_diff: float
    dynamic_batch: bool


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    image_size: int,
    batch_size: int = 2,
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    atol: float = 1e-4,
    seed: int = 0,
) -> ExportResult:
    """Export ``model`` (eval mode, fp32, NCHW) to ``path`` and check it with onnxruntime.

    The caller's model is not changed (a copy is exported). The check runs a random batch of
    ``batch_size`` images through both and requires the largest absolute difference of the
    logits to be at most ``atol``; with ``dynamic_batch`` it also runs a batch of another size.
    """
    path = Path(path)
    source = getattr(model, "_orig_mod", model)
    source = getattr(source, "module", source)
    exported = copy.deepcopy(source).float().eval().to("cpu", memory_format=torch.contiguous_format)
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randn(batch_size, 3, image_size, image_size, generator=generator)
    with atomic_path(path, suffix=".onnx") as tmp:  # nothing at `path` unless the check passes
        _write_onnx(exported, sample, tmp, dynamic_batch, opset)
        samples = [sample]
        if dynamic_batch:
            samples.append(
                torch.randn(batch_size + 1, 3, image_size, image_size, generator=generator)
            )
        diff = max(_max_abs_diff(exported, tmp, s) for s in samples)
        if not diff <= atol:
            raise OnnxExportError(
                f"onnxruntime's logits differ from PyTorch's by {diff:.3g} (tolerance {atol:g}); "
                f"{path} was not written"
            )
    return ExportResult(path, image_size, opset, diff, dynamic_batch)


def _write_onnx(
    model: nn.Module, sample: torch.Tensor, path: Path, dynamic_batch: bool, opset: int
) -> None:
    """Opset 18 and later: the torch.export-based exporter; earlier: the TorchScript one.

    The new exporter writes opset 18 natively and cannot convert this graph down (its version
    converter has no ``Pad`` adapter); older ATC releases read opset 11 best, which only the
    TorchScript exporter writes.
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is not supported; use {MIN_OPSET} or later")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if opset >= DYNAMO_MIN_OPSET:
            batch = torch.export.Dim("batch", min=1, max=4096)
            program = torch.onnx.export(
                model,
                (sample,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                opset_version=opset,
                dynamic_shapes={"x": {0: batch}} if dynamic_batch else None,
                external_data=False,
                verbose=False,
            )
            if program is None:
                raise OnnxExportError("torch.onnx.export returned no program")
            program.save(str(path), external_data=False)
            return
        torch.onnx.export(
            model,
            (sample,),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_axes=(
                {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
            ),
            do_constant_folding=True,
        )


def _max_abs_diff(model: nn.Module, path: Path, sample: torch.Tensor) -> float:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: sample.numpy()})
    with torch.no_grad():
        torch_logits = model(sample)
    return float((torch.from_numpy(onnx_logits) - torch_logits).abs().max())
