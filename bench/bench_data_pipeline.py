"""Benchmark: is the training data pipeline ever the bottleneck?

Measures, on JPEGs shaped like ImageNet's (about 500x375, quality 90) generated in a temporary
folder, images per second of
  * decode alone (PIL open + RGB convert), one process;
  * decode + the training transform of models/efficientnet_b0 (RandomResizedCrop 224, flip,
    to-tensor, normalise): what one DataLoader worker delivers;
  * the deliverable's own train loader (``data.build_image_loaders``) with 0, 1 and 2 workers.
The training step itself runs at about 18 images/s on this 2-core CPU (bench_training_speed.py),
so the ratio "loader / step" says how much headroom the pipeline has. Installs and downloads
nothing; writes JSON with --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

DELIVERABLE = Path(__file__).resolve().parents[1] / "models" / "efficientnet_b0"
sys.path.insert(0, str(DELIVERABLE))


def make_jpegs(root: Path, count: int, classes: int = 4) -> None:
    """Smooth random colour fields with noise: realistic JPEG sizes, deterministic content."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", count), ("val", max(classes, count // 10))):
        for i in range(n):
            folder = root / split / f"class_{i % classes}"
            folder.mkdir(parents=True, exist_ok=True)
            low = rng.integers(0, 255, size=(12, 16, 3), dtype=np.uint8)
            image = Image.fromarray(low).resize((500, 375), Image.BICUBIC)
            noise = rng.integers(-20, 20, size=(375, 500, 3))
            pixels = np.clip(np.asarray(image, dtype=np.int32) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_decode(paths: list[Path]) -> float:
    from PIL import Image

    start = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.convert("RGB")
    return rate(len(paths), time.perf_counter() - start)


def bench_transform(paths: list[Path], image_size: int) -> float:
    from data_pipeline.image_folder import train_transform
    from PIL import Image

    transform = train_transform(image_size, 0.08, "none")
    start = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            transform(image.convert("RGB"))
    return rate(len(paths), time.perf_counter() - start)


def bench_loader(root: Path, workers: int, image_size: int, batch_size: int) -> float:
    from data_pipeline.image_folder import build_image_loaders, eval_resize_size

    loaders = build_image_loaders(
        root, batch_size=batch_size, image_size=image_size,
        resize_size=eval_resize_size(image_size), crop_scale_min=0.08, auto_augment="none",
        workers=workers, on_corrupt="fail", seed=0, rank=0, world_size=1, pin_memory=False,
    )
    loader = loaders.train
    if hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(0)
    iterator = iter(loader)
    next(iterator)  # worker start-up is not throughput
    seen, start = 0, time.perf_counter()
    for images, _labels in iterator:
        seen += images.shape[0]
    return rate(seen, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=400, help="training JPEGs to generate")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--step-rate", type=float, default=18.1,
                        help="training images/s to compare against (bench_training_speed.py)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # one worker's view; the loader rows use real worker processes
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        root = Path(tmp)
        make_jpegs(root, args.images)
        paths = sorted((root / "train").rglob("*.jpg"))
        size_kb = sum(p.stat().st_size for p in paths) / len(paths) / 1024
        results = {
            "decode_per_process": bench_decode(paths),
            "decode_transform_per_worker": bench_transform(paths, args.image_size),
            "loader": {w: bench_loader(root, w, args.image_size, args.batch_size)
                       for w in args.workers},
        }
    print(f"{len(paths)} JPEGs of 500x375 (mean {size_kb:.0f} KB), crop {args.image_size}")
    print(f"  decode only, one process          : {results['decode_per_process']:8.1f} img/s")
    print(f"  decode + train transform, 1 worker: {results['decode_transform_per_worker']:8.1f}"
          " img/s")
    for workers, value in results["loader"].items():
        print(f"  train loader, {workers} worker(s)          : {value:8.1f} img/s"
              f"  ({value / args.step_rate:.1f}x the training step's {args.step_rate} img/s)")
    if args.out:
        payload = {"settings": vars(args) | {"out": str(args.out)}, "mean_jpeg_kb": size_kb,
                   **results}
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
