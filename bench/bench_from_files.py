"""Training from JPEG files, end to end, against the synthetic-batch step, with images/s per stage.

    python bench/bench_from_files.py --device cuda --amp bfloat16 --batch-size 256 \
        --images 8192 --workers 16 --out bench/results/from_files_cuda.json
    python bench/bench_from_files.py --images 32 --batch-size 8 --image-size 64   # CPU smoke

The deliverable's own code is measured, as ``train.py --data-pipeline device`` runs it: the
loader workers read the files' bytes (``read``), the device decodes each batch with
``decode_jpeg`` (``decode``), crops, resizes, flips and normalises it (``augment``), and
``engine.train_step`` trains on it (``step``). Each stage is timed alone over the same batches
(device synchronised around it), then all of them together (``end_to_end``) as the training
loop runs them, so overlap shows as end_to_end above the slowest stage's share. ``synthetic``
is the step on one fixed batch already on the device (the zoo's performance mode); the goal
of the issue is end_to_end at least 90% of it. ``--pipelines cpu`` adds the CPU pipeline
(``data.build_image_loaders``: PIL decode and augmentation in the workers) end to end.

The JPEGs are generated in a temporary folder (ImageNet-like, about 500x375, quality 90, as
bench_data_pipeline.py makes them); nothing is downloaded. Weights are random.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DELIVERABLE = REPO / "models" / "efficientnet_b0"
sys.path.insert(0, str(DELIVERABLE))
sys.path.insert(0, str(REPO / "bench"))

# isort: split

from bench_data_pipeline import make_jpegs  # noqa: E402
from data_pipeline import image_folder as data  # noqa: E402
from data_pipeline import on_device as dp  # noqa: E402
from model.efficientnet import build_model  # noqa: E402
from training import devices  # noqa: E402
from training.engine import train_step  # noqa: E402
from training.optim import build_sgd, parameter_groups, sgd_implementation  # noqa: E402

NUM_CLASSES = 1000


def synchronize(device: torch.device) -> None:
    devices.synchronize(device)


def images_per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


class Trainer:
    """The deliverable's model, SGD, precision plan and step, as ``train.py`` builds them."""

    def __init__(self, device: torch.device, amp: str, channels_last: bool) -> None:
        self.device = device
        self.plan = devices.plan_precision(device.type, amp != "none", amp if amp != "none"
                                           else "auto", "auto")
        self.model = build_model("efficientnet_b0", num_classes=NUM_CLASSES).to(device)
        if device.type == "cpu" and self.plan.autocast_dtype is None:
            from cpu_accel import accelerate  # as train.py does for a float32 CPU run

            accelerate(self.model)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format).train()
        groups = parameter_groups(self.model, 1e-4, False)
        self.optimizer = build_sgd(groups, 0.1, 0.9, False, sgd_implementation(device.type))
        self.scaler = devices.LossScaler(self.plan.loss_scale_mode, self.plan.initial_scale,
                                         device=device)

    def step(self, images: torch.Tensor, targets: torch.Tensor) -> None:
        images = images.contiguous(memory_format=self.memory_format)
        train_step(self.model, images, targets, self.optimizer, self.scaler, self.plan, 0.1, None)


def timed_batches(batches: Iterable, work: Callable, device: torch.device) -> tuple[int, float]:
    """Images processed and seconds taken by ``work(batch)`` over ``batches`` (one warm-up)."""
    count, seconds = 0, 0.0
    for index, batch in enumerate(batches):
        synchronize(device)
        start = time.perf_counter()
        images = work(batch)
        synchronize(device)
        if index > 0:  # the first batch holds start-up (workers, cuDNN autotuning)
            seconds += time.perf_counter() - start
            count += images
    return count, seconds


def measure_stages(loaders: data.Loaders, trainer: Trainer) -> dict[str, float]:
    """images/s of read, decode, augment and step alone, over the same batches."""
    train: dp.DeviceBatches = loaders.train
    decoder = train.decoder
    encoded, start = [], time.perf_counter()
    for index, samples in enumerate(train.loader):
        if index == 1:  # the first batch holds the workers' start-up
            start = time.perf_counter()
        encoded.append(samples)
    read_s = time.perf_counter() - start
    read_count = sum(len(samples) for samples in encoded[1:])
    decoded = [decoder.decode(samples) for samples in encoded]
    augmented = [decoder(samples) for samples in encoded]
    device = trainer.device

    def augment(pair) -> int:
        samples, images = pair
        batch = torch.stack([decoder.augmentation(image, s.seed)
                             for image, s in zip(images, samples, strict=True)])
        dp.normalize(batch)
        return len(samples)

    def step(batch) -> int:
        trainer.step(*batch)
        return batch[1].numel()

    stages = {
        "read": images_per_second(read_count, read_s),
        "decode": images_per_second(*timed_batches(encoded, lambda s: len(decoder.decode(s)),
                                                   device)),
        "augment": images_per_second(*timed_batches(zip(encoded, decoded, strict=True), augment,
                                                    device)),
        "step": images_per_second(*timed_batches(augmented, step, device)),
    }
    return stages


def measure_end_to_end(loader: Iterable, trainer: Trainer) -> float:
    """images/s of the whole loop: load, (decode, augment,) copy and step, as the runner does."""
    def step(batch) -> int:
        images, targets = batch[0].to(trainer.device, non_blocking=True), batch[1].to(
            trainer.device, non_blocking=True)
        trainer.step(images, targets)
        return targets.numel()

    count, seconds, start = 0, 0.0, None
    for index, batch in enumerate(loader):
        if index == 1:
            synchronize(trainer.device)
            start = time.perf_counter()
        images = step(batch)
        if index >= 1:
            count += images
    synchronize(trainer.device)
    if start is not None:
        seconds = time.perf_counter() - start
    return images_per_second(count, seconds)


def measure_synthetic(trainer: Trainer, batch_size: int, image_size: int, steps: int) -> float:
    batch = data.SyntheticBatches(batch_size, image_size, NUM_CLASSES, steps + 1, trainer.device,
                                  0)
    return measure_end_to_end(batch, trainer)


def build_loaders(pipeline: str, root: Path, args: argparse.Namespace,
                  device: torch.device) -> data.Loaders:
    common = dict(batch_size=args.batch_size, image_size=args.image_size,
                  resize_size=data.eval_resize_size(args.image_size), crop_scale_min=0.08,
                  auto_augment="none", workers=args.workers, on_corrupt="fail", seed=0, rank=0,
                  world_size=1)
    if pipeline == "device":
        return dp.build_device_image_loaders(root, device=device, **common)
    return data.build_image_loaders(root, pin_memory=device.type != "cpu", **common)


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    trainer = Trainer(device, args.amp, channels_last=True)
    with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp:
        root = Path(tmp)
        make_jpegs(root, args.images)
        steps = args.images // args.batch_size
        report: dict = {
            "device": str(device), "amp": args.amp, "batch_size": args.batch_size,
            "image_size": args.image_size, "images": args.images, "workers": args.workers,
            "torch": torch.__version__, "cpus": os.cpu_count(), "pipelines": {},
        }
        report["synthetic"] = measure_synthetic(trainer, args.batch_size, args.image_size, steps)
        for pipeline in args.pipelines:
            loaders = build_loaders(pipeline, root, args, device)
            figures: dict = {"end_to_end": measure_end_to_end(loaders.train, trainer)}
            if pipeline == "device":
                figures["stages"] = measure_stages(loaders, trainer)
            figures["vs_synthetic"] = figures["end_to_end"] / report["synthetic"]
            report["pipelines"][pipeline] = figures
    return report


def format_report(report: dict) -> str:
    lines = [f"training from files on {report['device']}, amp {report['amp']}, batch "
             f"{report['batch_size']}, {report['image_size']}px, {report['workers']} workers "
             "(images/s)", f"  synthetic batch step   {report['synthetic']:10.1f}"]
    for pipeline, figures in report["pipelines"].items():
        lines.append(f"  {pipeline} pipeline end to end {figures['end_to_end']:10.1f}  "
                     f"({100 * figures['vs_synthetic']:.0f}% of synthetic)")
        for stage, value in figures.get("stages", {}).items():
            lines.append(f"    {stage:<8} {value:10.1f}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--amp", default="none", choices=("none", "bfloat16", "float16"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--images", type=int, default=256, help="JPEGs generated for train/")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--pipelines", nargs="+", choices=("device", "cpu"), default=["device"])
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: torch sees no CUDA device here", file=sys.stderr)
        return 2
    if args.images < 2 * args.batch_size:
        print("--images must hold at least two batches (the first is a warm-up)", file=sys.stderr)
        return 2
    report = run(args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
