# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Datasets, transforms, samplers and loaders.

Three sources share one interface: an ImageFolder tree (``train/<class>/*.jpg``, ``val/<class>/``;
ImageNet or any custom dataset with any number of classes), the built-in demo dataset (generated
on first use, see ``demo_dataset``), and synthetic tensors for performance runs.

Augmentation is reproducible per sample: the train sampler yields ``(index, seed)`` pairs where the
seed depends only on (run seed, epoch, index), and the dataset draws its random crop and flip from
that seed. So a run resumed in the middle of an epoch, or run with any number of loader workers,
sees exactly the same images as an uninterrupted one, and the global RNG is left to the model
(stochastic depth, dropout), whose state the checkpoint saves.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from common.errors import ConfigError, CorruptImageError, DataError
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision import transforms as T

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
IMAGENET_TRAIN_IMAGES = 1_281_167
DEFAULT_CROP_FRACTION = 0.875  # 224 / 256


@dataclass(frozen=True)
class ImageFolderIndex:
    """The files of one split: class names in sorted order and (path, class index) samples."""

    root: Path
    classes: tuple[str, ...]
    samples: tuple[tuple[str, int], ...]


def scan_split(split_dir: Path, classes: tuple[str, ...] | None = None) -> ImageFolderIndex:
    """Index ``split_dir/<class>/<image>``; ``classes`` (from train/) fixes the label order."""
    if not split_dir.is_dir():
        raise DataError(f"dataset folder {split_dir} does not exist (expected train/ and val/)")
    found = sorted(entry.name for entry in split_dir.iterdir() if entry.is_dir())
    if not found:
        raise DataError(f"{split_dir} has no class folders (expected {split_dir}/<class>/<image>)")
    if classes is None:
        classes = tuple(found)
    else:
        unknown = sorted(set(found) - set(classes))
        if unknown:
            raise DataError(
                f"{split_dir} has class folders that train/ lacks: {', '.join(unknown[:5])}"
            )
    samples: list[tuple[str, int]] = []
    for label, name in enumerate(classes):
        class_dir = split_dir / name
        if not class_dir.is_dir():
            continue  # a validation split may cover fewer classes than train/
        files = sorted(
            str(path)
            for path in class_dir.rglob("*")
            if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
        )
        if not files:
            raise DataError(
                f"class folder {class_dir} holds no images "
                f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder"
            )
        samples.extend((path, label) for path in files)
    return ImageFolderIndex(split_dir, classes, tuple(samples))


def augmentation_seed(run_seed: int, epoch: int, index: int) -> int:
    """A per-(run, epoch, sample) seed, independent of sampler position, worker and rank."""
    return ((run_seed * 1_000_003 + epoch) * 998_244_353 + index) % (2**63 - 1)


class ImageFolderDataset(Dataset):
    """Decodes an ``ImageFolderIndex``; corrupt files are reported by path, then skipped or fatal.

    A key is either an index (evaluation) or an ``(index, seed)`` pair from ``SeededSampler``
    (training): the transform then runs under ``torch.manual_seed(seed)`` in a forked RNG.
    """

    def __init__(self, index: ImageFolderIndex, transform, on_corrupt: str = "fail") -> None:
        self.index = index
        self.transform = transform
        self.on_corrupt = on_corrupt
        self._reported: set[str] = set()

    def __len__(self) -> int:
        return len(self.index.samples)

    def _open(self, path: str) -> Image.Image | None:
        """The image at ``path`` in RGB, or None (skipped); undecodable files are corrupt data.

        So is an image larger than PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``,
        about 89 megapixels): PIL would only warn below twice the limit and decode gigabytes.
        """
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    return image.convert("RGB")
        except (
            OSError,
            UnidentifiedImageError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as exc:
            message = f"corrupt image {path}: {exc}"
            if self.on_corrupt == "fail":
                raise CorruptImageError(message + " (pass --on-corrupt skip to skip it)") from None
            if path not in self._reported:
                self._reported.add(path)
                print(f"warning: skipping {message}", file=sys.stderr, flush=True)
            return None

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        path, label = self.index.samples[index]
        image = self._open(path)
        if image is None:
            return None
        if seed is None:
            return self.transform(image), label
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(image), label


def skip_missing_collate(batch):
    """Default collation after dropping the samples a skipped corrupt image left as ``None``."""
    batch = [item for item in batch if item is not None]
    if not batch:
        return None
    return torch.utils.data.default_collate(batch)


class SeededSampler(DistributedSampler):
    """``DistributedSampler`` that yields ``(index, augmentation seed)`` and can resume mid-epoch.

    ``set_epoch(epoch, skip=n)`` drops this rank's first ``n`` samples of the epoch's order (the
    ones a resumed run already trained on). With one process it is a seeded shuffling sampler.
    """

    def __init__(self, dataset, num_replicas: int, rank: int, seed: int, shuffle: bool = True):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        super().set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in list(super().__iter__())[self.skip :]:
            yield index, augmentation_seed(self.seed, self.epoch, index)

    def __len__(self) -> int:
        return max(0, super().__len__() - self.skip)


class ShardSampler(Sampler[int]):
    """Evaluation sharding without padding: rank r gets indices r, r+W, ...; the metric sums are
    all-reduced, so every image counts exactly once whatever the world size."""

    def __init__(self, length: int, num_replicas: int, rank: int) -> None:
        self.indices = list(range(rank, length, num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def eval_resize_size(image_size: int, crop_fraction: float = DEFAULT_CROP_FRACTION) -> int:
    """The short side images are resized to before the centre crop: 224 -> 256."""
    return int(math.floor(image_size / crop_fraction + 0.5))


def train_transform(image_size: int, crop_scale_min: float, auto_augment: str) -> T.Compose:
    steps: list = [
        T.RandomResizedCrop(image_size, scale=(crop_scale_min, 1.0), antialias=True),
        T.RandomHorizontalFlip(),
    ]
    if auto_augment == "autoaugment":
        steps.append(T.AutoAugment(T.AutoAugmentPolicy.IMAGENET))
    elif auto_augment == "randaugment":
        steps.append(T.RandAugment())
    elif auto_augment != "none":
        raise ConfigError(
            f"--auto-augment must be none, autoaugment or randaugment, not {auto_augment!r}"
        )
    steps += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return T.Compose(steps)


def eval_transform(image_size: int, resize_size: int) -> T.Compose:
    return T.Compose(
        [
            T.Resize(resize_size, antialias=True),
            T.CenterCrop(image_size),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


class SyntheticBatches:
    """The same random batch, already on the device, ``length`` times: measures the model and the
    device alone, with no decoding or host-to-device copies (the zoo's performance mode)."""

    def __init__(
        self,
        batch_size: int,
        image_size: int,
        num_classes: int,
        length: int,
        device: torch.device,
        seed: int,
    ) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.randn(batch_size, 3, image_size, image_size, generator=generator)
        self.targets = torch.randint(0, num_classes, (batch_size,), generator=generator)
        self.images = self.images.to(device)
        self.targets = self.targets.to(device)
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        for _ in range(self.length):
            yield self.images, self.targets


def _leave_termination_signals_to_the_main_process(_worker_id: int) -> None:
    """Move a loader worker out of the run's process group, so that only its parent stops it.

    Ctrl-C (SIGINT to the terminal's process group) and ``kill -TERM -- -PGID`` must reach the
    main process alone, which saves a checkpoint and then stops its workers. A worker in its own
    group never receives them, yet still dies of the SIGTERM its parent sends it directly --
    ``multiprocessing``'s exit handler terminates daemonic children and then joins them. (Ignoring
    SIGTERM in the worker instead made that join wait forever whenever a run ended with its
    workers still waiting for work, e.g. after a worker reported a corrupt image.) A worker also
    exits within seconds of its parent's death on its own (PyTorch's watchdog).
    """
    if hasattr(os, "setpgid"):  # POSIX; Windows delivers neither signal to a process group
        os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def loader_worker_death(exc: BaseException) -> DataError | None:
    """The user-facing error for PyTorch's report that a loader worker died, else None.

    A worker killed by a signal (most often the out-of-memory killer) or exiting abruptly is
    reported by PyTorch as a ``RuntimeError`` -- raised from its SIGCHLD handler, so at any
    point of the main process -- and would otherwise end the run in a traceback. PyTorch's
    wording is the only mark it carries.
    """
    text = str(exc).strip()
    if "DataLoader worker" not in text or not (
        "killed by signal" in text or "exited unexpectedly" in text
    ):
        return None
    return DataError(
        f"a data-loading worker died ({text.splitlines()[0]}); most often the out-of-memory "
        "killer ended it: lower --workers or --batch-size"
    )


@dataclass
class Loaders:
    train: Any  # DataLoader, SyntheticBatches or device_pipeline.DeviceBatches
    val: Any  # DataLoader, DeviceBatches or None
    classes: tuple[str, ...]
    train_sampler: SeededSampler | None


def split_dirs(root: Path) -> tuple[Path, Path]:
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist")
    train_dir, val_dir = root / "train", root / "val"
    missing = [str(p) for p in (train_dir, val_dir) if not p.is_dir()]
    if missing:
        raise DataError(
            f"dataset folder {root} lacks {' and '.join(missing)} "
            "(expected the ImageNet layout: train/<class>/<image> and val/<class>/<image>)"
        )
    return train_dir, val_dir


def check_one_batch_per_rank(train_dir: Path, images: int, batch_size: int, world_size: int):
    per_rank = math.ceil(images / world_size)
    if per_rank < batch_size:
        raise ConfigError(
            f"{train_dir} has {images} images, {per_rank} per process: fewer than one "
            f"batch of {batch_size}; lower --batch-size"
        )


def loader_options(workers: int, pin_memory: bool, collate_fn, seed: int) -> dict:
    """DataLoader options shared by the train and val loaders of both pipelines."""
    return dict(
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=collate_fn,
        worker_init_fn=_leave_termination_signals_to_the_main_process if workers > 0 else None,
        persistent_workers=workers > 0,
        # A private generator: creating an iterator must not consume the global RNG, whose
        # state belongs to the model and is saved in checkpoints.
        generator=torch.Generator().manual_seed(seed),
    )


def build_image_loaders(
    root: Path,
    *,
    batch_size: int,
    image_size: int,
    resize_size: int,
    crop_scale_min: float,
    auto_augment: str,
    workers: int,
    on_corrupt: str,
    seed: int,
    rank: int,
    world_size: int,
    pin_memory: bool,
) -> Loaders:
    """Loaders for ``root/train`` and ``root/val``, sharded for ``world_size`` processes."""
    train_dir, val_dir = split_dirs(root)
    train_index = scan_split(train_dir)
    val_index = scan_split(val_dir, train_index.classes)
    train_set = ImageFolderDataset(
        train_index, train_transform(image_size, crop_scale_min, auto_augment), on_corrupt
    )
    val_set = ImageFolderDataset(val_index, eval_transform(image_size, resize_size), on_corrupt)
    check_one_batch_per_rank(train_dir, len(train_set), batch_size, world_size)
    sampler = SeededSampler(train_set, world_size, rank, seed)
    common = loader_options(workers, pin_memory, skip_missing_collate, seed)
    train = DataLoader(train_set, batch_size=batch_size, sampler=sampler, drop_last=True, **common)
    val = DataLoader(
        val_set,
        batch_size=batch_size,
        sampler=ShardSampler(len(val_set), world_size, rank),
        drop_last=False,
        **common,
    )
    return Loaders(train, val, train_index.classes, sampler)
