# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Train, evaluate, fine-tune and export EfficientNet on NPU, CUDA or CPU -- the one entry point.

Examples (run from this folder)::

    python train.py                                   # built-in demo dataset, any machine
    python train.py --data /data/imagenet --amp       # ImageNet, template recipe, 1 device
    torchrun --nproc_per_node 8 train.py --data /data/imagenet --amp        # 8 devices
    python train.py --data /data/imagenet --evaluate --resume runs/b0/best.pt
    python train.py --data /data/flowers --pretrained b0.pth --num-classes 5 --freeze-backbone
    python train.py --pretrained runs/b0/best.pt --export-onnx b0.onnx

``build_parser`` is the single source of the parameters: every ``add_argument`` call carries a
literal default and a help string, so documentation tools read the table from this file with
``ast`` without importing torch.

Exit status: 0 done; 2 a usage, data or checkpoint problem (one line on stderr); 3 training
diverged: the loss became NaN/inf or the weights exploded (the last good checkpoint is kept);
130/143 stopped by SIGINT/SIGTERM after saving ``last.pt`` (continue with ``--resume auto``).
"""

from __future__ import annotations

import argparse
import re
import sys

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_DIVERGED = 3


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the images come from and how many of them a run reads."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        default=None,
        help="dataset root holding train/<class>/<image> and val/<class>/<image> "
        "(ImageNet layout, any number of classes); omit to use the demo dataset",
    )
    data.add_argument(
        "--dataset",
        default="auto",
        choices=("auto", "imagefolder", "demo", "synthetic"),
        help="auto: imagefolder when --data is given, else demo; synthetic: random "
        "tensors on the device, for performance runs",
    )
    data.add_argument(
        "--demo-root",
        default="data/demo",
        help="where the built-in demo dataset (10 classes of drawn shapes and "
        "textures, 64x64) is generated on first use",
    )
    data.add_argument(
        "--on-corrupt",
        default="fail",
        choices=("fail", "skip"),
        help="what an undecodable image does: stop with its path, or be skipped "
        "with a warning naming it",
    )
    data.add_argument(
        "--data-pipeline",
        default="cpu",
        choices=("cpu", "device"),
        help="where ImageFolder JPEGs are decoded and augmented: in the loader workers (cpu) or "
        "on the training device, batched (device; see data_pipeline/on_device.py)",
    )
    data.add_argument(
        "--workers",
        type=int,
        default=None,
        help="data-loading processes per device (default: min(8, CPUs per device))",
    )
    data.add_argument(
        "--limit-train-batches",
        type=int,
        default=None,
        help="train at most this many steps per epoch (smoke and performance runs)",
    )
    data.add_argument(
        "--limit-val-batches", type=int, default=None, help="evaluate at most this many batches"
    )


def add_preprocessing_arguments(parser: argparse.ArgumentParser) -> None:
    """Crop sizes and augmentation of training and evaluation images."""
    preprocessing = parser.add_argument_group("preprocessing")
    preprocessing.add_argument(
        "--image-size",
        type=int,
        default=224,
        help="training crop and evaluation centre-crop size in pixels",
    )
    preprocessing.add_argument(
        "--crop-fraction",
        type=float,
        default=0.875,
        help="evaluation resizes the short side to image-size / crop-fraction "
        "(224 -> 256) before the centre crop",
    )
    preprocessing.add_argument(
        "--crop-scale-min",
        type=float,
        default=0.08,
        help="smallest area fraction RandomResizedCrop keeps",
    )
    preprocessing.add_argument(
        "--auto-augment",
        default="none",
        choices=("none", "autoaugment", "randaugment"),
        help="extra augmentation policy after crop and flip",
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The architecture and its regularisation."""
    model = parser.add_argument_group("model")
    model.add_argument(
        "--arch",
        default="efficientnet_b0",
        choices=(
            "efficientnet_b0",
            "efficientnet_b1",
            "efficientnet_b2",
            "efficientnet_b3",
            "efficientnet_b4",
            "efficientnet_b5",
            "efficientnet_b6",
            "efficientnet_b7",
        ),
        help="network variant",
    )
    model.add_argument(
        "--num-classes",
        type=int,
        default=None,
        help="classes of the head (default: the dataset's; 1000 for synthetic)",
    )
    model.add_argument(
        "--padding",
        default="auto",
        choices=("auto", "symmetric", "same"),
        help="convolution padding: symmetric (PyTorch/torchvision), same "
        "(TensorFlow, for lukemelas weights); auto picks same only for lukemelas "
        "--pretrained weights",
    )
    model.add_argument("--drop-rate", type=float, default=0.2, help="dropout before the classifier")
    model.add_argument(
        "--drop-path-rate",
        type=float,
        default=0.2,
        help="stochastic depth rate of the last block (linear in depth)",
    )
    model.add_argument(
        "--zero-init-last-bn",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="zero-initialise the last BN of every residual branch",
    )


def add_weights_arguments(parser: argparse.ArgumentParser) -> None:
    """Initial weights and what fine-tuning trains."""
    weights = parser.add_argument_group("pretrained weights")
    weights.add_argument(
        "--pretrained",
        default=None,
        help="initial weights: a checkpoint of this script, or a lukemelas or "
        "torchvision EfficientNet state dict",
    )
    weights.add_argument(
        "--pretrained-format",
        default="auto",
        choices=("auto", "ours", "timm", "efficientnet", "lukemelas", "torchvision"),
        help="program that wrote --pretrained; decides padding and BN settings (lukemelas: TF "
        "same padding, BN eps 1e-3; the others symmetric, 1e-5; ours: as recorded). auto: "
        "detected from its keys; efficientnet: timm's key names, ours for a train.py checkpoint",
    )
    weights.add_argument(
        "--freeze-backbone",
        action="store_true",
        default=False,
        help="train only the classifier (transfer learning)",
    )
    weights.add_argument(
        "--backbone-lr-scale",
        type=float,
        default=1.0,
        help="learning-rate multiplier of the backbone (e.g. 0.1 when "
        "fine-tuning a pretrained network)",
    )


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    """How the model executes: memory format, compilation, allocator, BatchNorm sync."""
    execution = parser.add_argument_group("execution")
    execution.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="channels_last memory format (default: on for CPU and CUDA, "
        "where it is faster; off for NPU)",
    )
    execution.add_argument(
        "--compile", action="store_true", default=False, help="torch.compile the model"
    )
    execution.add_argument(
        "--cpu-allocator",
        choices=("retain", "system"),
        default="retain",
        help="CPU runs: keep freed memory in the process for reuse (retain: no page faults "
        "per step, faster; see bench/README.md) or glibc's defaults (system)",
    )
    execution.add_argument(
        "--sync-bn",
        action="store_true",
        default=False,
        help="synchronise BatchNorm statistics across devices",
    )


def add_optimisation_arguments(parser: argparse.ArgumentParser) -> None:
    """Epochs, batch, learning-rate schedule, SGD, regularisers of the loss, EMA."""
    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--epochs", type=int, default=90, help="training epochs")
    optim.add_argument(
        "--batch-size",
        type=int,
        default=256,
        help="batch per device; the global batch is this times the world size",
    )
    optim.add_argument(
        "--lr", type=float, default=0.1, help="peak learning rate for a global batch of 256"
    )
    optim.add_argument(
        "--lr-scaling",
        default="linear",
        choices=("linear", "none"),
        help="linear: peak LR = lr x global batch / 256; none: lr as given",
    )
    optim.add_argument(
        "--warmup-epochs",
        type=float,
        default=5.0,
        help="linear warmup length before the cosine decay",
    )
    optim.add_argument("--min-lr", type=float, default=0.0, help="learning rate at the end")
    optim.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    optim.add_argument("--nesterov", action="store_true", default=False, help="Nesterov momentum")
    optim.add_argument("--weight-decay", type=float, default=1e-4, help="L2 weight decay")
    optim.add_argument(
        "--decay-bn-bias",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also decay BatchNorm parameters and biases",
    )
    optim.add_argument(
        "--label-smoothing", type=float, default=0.1, help="label smoothing of the training loss"
    )
    optim.add_argument(
        "--clip-grad-norm",
        type=float,
        default=None,
        help="clip the global gradient norm to this value",
    )
    optim.add_argument(
        "--ema",
        action="store_true",
        default=False,
        help="keep an exponential moving average of the weights and evaluate it",
    )
    optim.add_argument("--ema-decay", type=float, default=0.9999, help="EMA decay per step")
    optim.add_argument(
        "--seed", type=int, default=42, help="seed of initialisation, data order and augmentation"
    )


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """The device, mixed precision and the distributed backend."""
    device = parser.add_argument_group("device and precision")
    device.add_argument(
        "--device",
        default="auto",
        choices=("auto", "npu", "cuda", "cpu"),
        help="auto: NPU if torch_npu sees one, else CUDA, else CPU",
    )
    device.add_argument(
        "--amp",
        action="store_true",
        default=False,
        help="mixed precision (NPU/CUDA float16 with loss scaling, CPU bfloat16)",
    )
    device.add_argument(
        "--amp-dtype",
        default="auto",
        choices=("auto", "float16", "bfloat16"),
        help="autocast dtype with --amp (auto: bfloat16 on CPU, else float16)",
    )
    device.add_argument(
        "--loss-scale",
        default="auto",
        help="loss scaling with float16: auto (NPU static 128, CUDA dynamic), "
        "dynamic, none, or a number for a static scale",
    )
    device.add_argument(
        "--dist-backend",
        default="auto",
        choices=("auto", "hccl", "nccl", "gloo"),
        help="process-group backend (auto: hccl on NPU, nccl on CUDA, gloo on CPU)",
    )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The output folder, resuming, evaluating, exporting, saving and logging."""
    run = parser.add_argument_group("run")
    run.add_argument(
        "--output-dir",
        default="runs/efficientnet_b0",
        help="checkpoints (last.pt, best.pt), metrics.jsonl and the case log",
    )
    run.add_argument(
        "--resume",
        default=None,
        help="continue a run exactly: a last.pt/best.pt path, or auto for "
        "<output-dir>/last.pt (a fresh start when it does not exist)",
    )
    run.add_argument(
        "--evaluate",
        action="store_true",
        default=False,
        help="only evaluate the --resume or --pretrained weights on val/",
    )
    run.add_argument(
        "--export-onnx",
        default=None,
        help="only export the --resume or --pretrained weights to this ONNX file",
    )
    run.add_argument(
        "--save-interval-steps",
        type=int,
        default=0,
        help="also save last.pt every this many steps (0: at epoch ends only)",
    )
    run.add_argument(
        "--log-interval",
        type=int,
        default=50,
        help="steps between log lines (and loss finiteness checks)",
    )
    run.add_argument(
        "--progress",
        default="auto",
        choices=("auto", "on", "off"),
        help="per-epoch progress bar (auto: when stderr is a terminal)",
    )
    run.add_argument(
        "--case-name",
        default=None,
        help="zoo case name for the case log (default: <arch>_bs<global batch>_<N>p_<acc|perf>)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train, evaluate, fine-tune or export EfficientNet (NPU, CUDA or CPU; "
        "one process per device under torchrun).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )

    add_data_arguments(parser)
    add_preprocessing_arguments(parser)
    add_model_arguments(parser)
    add_weights_arguments(parser)
    add_execution_arguments(parser)
    add_optimisation_arguments(parser)
    add_device_arguments(parser)
    add_run_arguments(parser)
    return parser


def one_line(exc: BaseException) -> str:
    """The user-facing line of an error, also when a DataLoader worker wrapped it."""
    text = str(exc).strip()
    if "Original Traceback" in text:
        last = text.splitlines()[-1]
        text = re.sub(r"^[\w.]*Error:\s*", "", last)
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from common.errors import (  # after parsing: --help needs no torch
        TrainingDivergedError,
        TrainingError,
    )

    try:
        from training import runner

        return runner.run(args)
    except TrainingDivergedError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr, flush=True)
        return EXIT_DIVERGED
    except TrainingError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except RuntimeError as exc:
        from data_pipeline.image_folder import loader_worker_death

        death = loader_worker_death(exc)
        if death is not None:
            print(f"error: {one_line(death)}", file=sys.stderr, flush=True)
            return EXIT_USAGE
        if "CorruptImageError" in str(exc):
            print(f"error: {one_line(exc)}", file=sys.stderr, flush=True)
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    sys.exit(main())
