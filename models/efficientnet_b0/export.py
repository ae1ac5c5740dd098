"""ONNX export of a trained EfficientNet, checked against PyTorch with onnxruntime.

Usage (from this folder)::

    python export.py --checkpoint output/best.pth --output efficientnet_b0.onnx

The architecture, class count and padding are read from the checkpoint when it records them
(``config``) or inferred from its tensors; flags override. The file is written to a temporary
name and renamed only after onnxruntime reproduced PyTorch's logits on a sample batch, so a
failed export never leaves a half-written or wrong model behind.

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

import argparse
import copy
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import checkpoint as ckpt
import torch
from atomic_file import atomic_path
from efficientnet import ARCH_IMAGE_SIZE, PADDING_STYLES, UnknownArchitectureError, build_model
from errors import CheckpointError
from torch import nn
from weights import (
    WeightsMismatchError,
    infer_arch,
    infer_num_classes,
    load_into,
    strip_wrappers,
)

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


# ----------------------------------------------------------------------------- command line


@dataclass(frozen=True)
class CheckpointContents:
    state_dict: dict[str, torch.Tensor]
    config: Mapping[str, object]
    verified: bool  # a sha256 seal proved the file intact (see checkpoint.py)


def read_checkpoint(path: Path) -> CheckpointContents:
    """A weights file or a training checkpoint, read by ``checkpoint.load`` (the one reader)."""
    loaded = ckpt.load(path)
    contents = loaded.contents
    config = contents.get("config") if isinstance(contents.get("config"), Mapping) else {}
    state = strip_wrappers(ckpt.state_dict_of(contents, path))
    return CheckpointContents(state, config or {}, loaded.verified)


def _config_value(config: Mapping[str, object], *names: str) -> object | None:
    for name in names:
        if config.get(name) is not None:
            return config[name]
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Export an EfficientNet checkpoint to ONNX and check it with onnxruntime."
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="weights or checkpoint file")
    parser.add_argument("--output", required=True, type=Path, help="ONNX file to write")
    parser.add_argument("--arch", default=None, help="architecture (default: from checkpoint)")
    parser.add_argument("--num-classes", type=int, default=None, help="default: from checkpoint")
    parser.add_argument(
        "--padding", choices=PADDING_STYLES, default=None, help="default: from checkpoint config"
    )
    parser.add_argument("--image-size", type=int, default=None, help="default: the arch's size")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")
    parser.add_argument(
        "--static-batch", action="store_true", help="fix the batch size instead of a dynamic axis"
    )
    parser.add_argument("--batch-size", type=int, default=1, help="sample batch for the check")
    parser.add_argument("--atol", type=float, default=1e-4, help="allowed logit difference")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        contents = read_checkpoint(args.checkpoint)
        if not contents.verified:
            print(
                f"note: {args.checkpoint} carries no sha256 seal (written by another program or "
                "an older train.py): its contents are unverified"
            )
        config = contents.config
        arch = str(
            args.arch
            or _config_value(config, "arch", "model")
            or infer_arch(contents.state_dict)
            or ""
        )
        if not arch:
            raise CheckpointError(
                f"{args.checkpoint}: not an EfficientNet checkpoint (no stem weights); "
                "pass --arch if it is one"
            )
        num_classes = args.num_classes or infer_num_classes(contents.state_dict) or 1000
        padding = args.padding or str(_config_value(config, "padding") or "symmetric")
        image_size = args.image_size or int(
            _config_value(config, "image_size", "crop_size")
            or ARCH_IMAGE_SIZE.get(arch.replace("-", "_"), 224)
        )
        model = build_model(
            arch,
            num_classes=num_classes,
            padding=padding,  # type: ignore[arg-type]  # validated by build_model
            image_size=image_size,
        )
        load_into(model, contents.state_dict, source_name=str(args.checkpoint))
        result = export_onnx(
            model,
            args.output,
            image_size=image_size,
            batch_size=args.batch_size,
            dynamic_batch=not args.static_batch,
            opset=args.opset,
            atol=args.atol,
        )
    except (CheckpointError, WeightsMismatchError, UnknownArchitectureError, ValueError) as error:
        print(f"export: error: {error}", file=sys.stderr)
        return 2
    except OnnxExportError as error:
        print(f"export: error: {error}", file=sys.stderr)
        return 1
    print(
        f"wrote {result.path} ({arch}, {num_classes} classes, {padding} padding, "
        f"{image_size}x{image_size}, opset {result.opset}, "
        f"{'dynamic' if result.dynamic_batch else 'static'} batch); "
        f"onnxruntime matches PyTorch to {result.max_abs_diff:.2e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run())
