"""Shared helpers for the deliverable's tests (not a test module); the kit's tests use it too.

The deliverable's modules import each other as top-level modules (``from data import ...``), as
they do when ``train.py`` runs from its folder, so the folder goes on ``sys.path`` here. The demo
dataset is generated once per test process into a temporary folder and reused by every test.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DELIVERABLE = Path(__file__).resolve().parents[1]  # this tests/ folder's parent
if str(DELIVERABLE) not in sys.path:
    sys.path.insert(0, str(DELIVERABLE))

# Small, fast settings every training test starts from: 32 px crops of the 64 px demo images,
# no stochastic layers (so runs compare exactly), one thread-light loader, no progress bar.
TINY = [
    "--device",
    "cpu",
    "--image-size",
    "32",
    "--batch-size",
    "8",
    "--workers",
    "0",
    "--drop-rate",
    "0",
    "--drop-path-rate",
    "0",
    "--crop-scale-min",
    "0.35",
    "--progress",
    "off",
    "--log-interval",
    "1",
    "--warmup-epochs",
    "0",
]


@functools.lru_cache(maxsize=1)
def demo_root() -> Path:
    """The demo dataset, generated once per test process."""
    from data_pipeline.demo_dataset import ensure_demo_dataset

    folder = Path(tempfile.mkdtemp(prefix="effnet-demo-")) / "demo"
    return ensure_demo_dataset(folder, log=lambda _message: None)


@functools.lru_cache(maxsize=1)
def small_image_folder() -> Path:
    """A 3-class ImageFolder (12 train, 6 val images per class) cut from the demo images."""
    import shutil

    source = demo_root()
    target = Path(tempfile.mkdtemp(prefix="effnet-small-")) / "data"
    for split, count in (("train", 12), ("val", 6)):
        for name in ("circle", "checkerboard", "vertical_stripes"):
            folder = target / split / name
            folder.mkdir(parents=True)
            for image in sorted((source / split / name).iterdir())[:count]:
                shutil.copy(image, folder / image.name)
    return target


def compiled_cpu_kernels():
    """The deliverable's compiled CPU kernels (built on first use); the test skips without them."""
    import pytest
    from cpu_accel import kernels as cpu_kernels

    module = cpu_kernels.load()
    if module is None:
        pytest.skip(f"no C++ toolchain here ({cpu_kernels._unavailable})")
    return module


def randomise_batch_norms(model, seed: int = 0):
    """Give every BatchNorm non-trivial statistics and affine terms, so eval uses all of them.

    For models of any library (weights interchange and export compare against them).
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model.eval()


def model_with_trained_statistics(padding: str = "symmetric", seed: int = 0):
    """A B0 whose BatchNorms are not the identity (a fresh one would hide folding mistakes).

    Running statistics are those of random images (as after training) and the affine
    parameters are random, so every folded scale and shift differs from 1 and 0.
    """
    import torch
    from cpu_accel import accelerate
    from model.efficientnet import build_model

    torch.manual_seed(seed)
    model = build_model(padding=padding, num_classes=10, image_size=64)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.2, 0.2)
            norm.reset_running_stats()
            norm.momentum = None  # a plain average over the calibration batches
        for _ in range(2):
            model.train()(torch.randn(8, 3, 64, 64))
    for norm in norms:
        norm.momentum = 0.1
    return accelerate(model).eval()


def train_main(*argv: str) -> int:
    """Run ``train.py`` in this process (no interpreter start-up) and return its exit status."""
    import torch
    import train

    # One thread: on the shared 2-core test machine, oversubscribed threads are many times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train.main([str(a) for a in argv])
    finally:
        torch.set_num_threads(threads)


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    env.update(extra)
    return env


def run_train_process(*argv: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
    """Run ``python train.py ARGV`` from the deliverable's folder and capture its output."""
    return subprocess.run(
        [sys.executable, "train.py", *map(str, argv)],
        cwd=DELIVERABLE,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def model_state(checkpoint_path: Path) -> dict:
    import torch

    return torch.load(checkpoint_path, map_location="cpu", weights_only=True)["model"]
