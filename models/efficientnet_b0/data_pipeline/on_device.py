# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Decode and augment ImageFolder JPEGs on the training device (``--data-pipeline device``).

At several thousand images per second the CPU pipeline (PIL decode, crop, flip, normalise in
loader workers) needs the whole host; here the workers only read the files' bytes, and the
device decodes a batch at once (``torchvision.io.decode_jpeg(device=...)``: nvJPEG on CUDA),
crops, resizes, flips and normalises it. ``decode_jpeg`` also runs on a CPU, so every line of
this module is tested without a GPU.

The augmentation is the CPU path's, sample for sample: each training image draws its
RandomResizedCrop box and its flip from the same per-sample seed (``augmentation_seed``) in the
same order as ``data.train_transform``, so the same image gets the same box and flip on either
path. Pixels differ only by the resize kernel (PIL's antialiased bilinear against torch's) and the
JPEG decoder's rounding. What stays on the host: files that are not JPEGs (decoded in the worker),
and the extra policies of ``--auto-augment``, which this path refuses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from common.errors import ConfigError, CorruptImageError
from torch.utils.data import DataLoader, Dataset
from torchvision import io as tvio
from torchvision.transforms import RandomResizedCrop

from data_pipeline.image_folder import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageFolderIndex,
    Loaders,
    SeededSampler,
    ShardSampler,
    check_one_batch_per_rank,
    loader_options,
    scan_split,
    split_dirs,
)

JPEG_MAGIC = b"\xff\xd8\xff"
RRC_RATIO = (3.0 / 4.0, 4.0 / 3.0)


@dataclass
class EncodedSample:
    """One file as the worker leaves it: JPEG bytes (``jpeg``) or, for other formats, pixels."""

    data: np.ndarray  # uint8: the file's bytes (jpeg) or a decoded CHW RGB image
    jpeg: bool
    label: int
    seed: int | None
    path: str


class EncodedImageDataset(Dataset):
    """The files of an ``ImageFolderIndex``, read but not decoded (JPEGs) -- the workers' share.

    Keys are those of ``data.ImageFolderDataset``: an index, or an ``(index, seed)`` pair.
    Samples hold numpy arrays, not tensors: a worker's tensors travel to the main process as
    one shared-memory file descriptor each, and a batch of hundreds exhausts the process's
    descriptors; arrays travel by value through the worker's pipe.
    """

    def __init__(self, index: ImageFolderIndex) -> None:
        self.index = index

    def __len__(self) -> int:
        return len(self.index.samples)

    def __getitem__(self, key) -> EncodedSample:
        index, seed = key if isinstance(key, tuple) else (key, None)
        path, label = self.index.samples[index]
        data = np.fromfile(path, dtype=np.uint8)
        jpeg = data[:3].tobytes() == JPEG_MAGIC
        if not jpeg:
            try:
                data = tvio.decode_image(torch.from_numpy(data), mode=tvio.ImageReadMode.RGB)
                data = data.numpy()
            except RuntimeError:
                data = np.empty(0, dtype=np.uint8)  # reported as corrupt on decode
        return EncodedSample(data, jpeg, label, seed, path)


def keep_samples(batch: list[EncodedSample]) -> list[EncodedSample]:
    """Collation: the samples stay a list, since encoded files differ in length."""
    return batch


def crop_and_flip(height: int, width: int, seed: int, scale: tuple[float, float]):
    """The RandomResizedCrop box ``(top, left, h, w)`` and the flip for one seeded sample.

    Drawn exactly as ``data.train_transform`` draws them under the sample's seed (box first,
    then ``RandomHorizontalFlip``'s ``torch.rand(1) < 0.5``), hence the same box and flip.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        shape_only = torch.empty(0, height, width)  # get_params reads only the size
        box = RandomResizedCrop.get_params(shape_only, list(scale), list(RRC_RATIO))
        flip = bool(torch.rand(1) < 0.5)
    return box, flip


def resize_short_side(image: torch.Tensor, size: int) -> torch.Tensor:
    """``T.Resize(size)`` for a float CHW tensor: short side to ``size``, antialiased bilinear."""
    height, width = image.shape[-2:]
    if height <= width:
        new_h, new_w = size, int(size * width / height)
    else:
        new_h, new_w = int(size * height / width), size
    return _resize(image, new_h, new_w)


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return F.interpolate(
        image[None], size=(height, width), mode="bilinear", antialias=True, align_corners=False
    )[0]


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """``T.CenterCrop(size)`` (same rounding of the offsets) for an image at least ``size``."""
    height, width = image.shape[-2:]
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return image[..., top : top + size, left : left + size]


def normalize(batch: torch.Tensor) -> torch.Tensor:
    """uint8-range floats to ImageNet-normalised ones: ``ToTensor`` then ``Normalize``."""
    mean = torch.tensor(IMAGENET_MEAN, device=batch.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=batch.device).view(1, 3, 1, 1)
    return (batch / 255.0 - mean) / std


@dataclass(frozen=True)
class DeviceAugmentation:
    """What one split does to each decoded image on the device."""

    train: bool
    image_size: int
    resize_size: int
    crop_scale: tuple[float, float]

    def __call__(self, image: torch.Tensor, seed: int | None) -> torch.Tensor:
        pixels = image.float()
        if not self.train:
            return center_crop(resize_short_side(pixels, self.resize_size), self.image_size)
        if seed is None:
            raise ValueError("a training sample needs its augmentation seed")
        (top, left, height, width), flip = crop_and_flip(
            image.shape[-2], image.shape[-1], seed, self.crop_scale
        )
        crop = _resize(
            pixels[:, top : top + height, left : left + width], self.image_size, self.image_size
        )
        return crop.flip(-1) if flip else crop


class DeviceDecoder:
    """Decodes a worker's batch of ``EncodedSample`` on ``device`` and augments it there.

    JPEGs are decoded in one batched ``decode_jpeg`` call; when that fails, one at a time, so a
    corrupt file is named and handled as ``--on-corrupt`` says (``fail`` or ``skip``).
    """

    def __init__(
        self, device: torch.device, augmentation: DeviceAugmentation, on_corrupt: str = "fail"
    ) -> None:
        self.device = device
        self.augmentation = augmentation
        self.on_corrupt = on_corrupt
        self._reported: set[str] = set()

    def decode(self, samples: list[EncodedSample]) -> list[torch.Tensor | None]:
        """Each sample's RGB CHW uint8 image on the device, or None for a skipped corrupt one."""
        images: list[torch.Tensor | None] = [None] * len(samples)
        jpegs = [i for i, s in enumerate(samples) if s.jpeg]
        try:
            decoded = tvio.decode_jpeg(
                [torch.from_numpy(samples[i].data) for i in jpegs],
                mode=tvio.ImageReadMode.RGB,
                device=self.device,
            )
            for i, image in zip(jpegs, decoded, strict=True):
                images[i] = image
        except RuntimeError:
            for i in jpegs:
                images[i] = self._decode_one(samples[i])
        for i, sample in enumerate(samples):
            if not sample.jpeg:
                pixels = torch.from_numpy(sample.data)
                images[i] = pixels.to(self.device) if pixels.numel() else None
                if images[i] is None:
                    self._corrupt(sample.path, "not a decodable image")
        return images

    def _decode_one(self, sample: EncodedSample) -> torch.Tensor | None:
        try:
            return tvio.decode_jpeg(
                torch.from_numpy(sample.data), mode=tvio.ImageReadMode.RGB, device=self.device
            )
        except RuntimeError as exc:
            self._corrupt(sample.path, str(exc).splitlines()[0] if str(exc) else "undecodable")
            return None

    def _corrupt(self, path: str, reason: str) -> None:
        message = f"corrupt image {path}: {reason}"
        if self.on_corrupt == "fail":
            raise CorruptImageError(message + " (pass --on-corrupt skip to skip it)")
        if path not in self._reported:
            self._reported.add(path)
            print(f"warning: skipping {message}", file=sys.stderr, flush=True)

    def __call__(self, samples: list[EncodedSample]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The batch ``(images, targets)`` on the device, normalised; None if nothing decoded."""
        kept = [
            (image, sample)
            for image, sample in zip(self.decode(samples), samples, strict=True)
            if image is not None
        ]
        if not kept:
            return None
        batch = torch.stack([self.augmentation(image, sample.seed) for image, sample in kept])
        targets = torch.tensor([sample.label for _, sample in kept], device=self.device)
        return normalize(batch), targets


class DeviceBatches:
    """A loader of file bytes, decoded and augmented on the device as it is iterated.

    Behaves as the CPU path's ``DataLoader`` does for the runner: ``len``, iteration yielding
    ``(images, targets)`` already on the device (or None for a batch of only skipped images).
    """

    def __init__(self, loader: DataLoader, decoder: DeviceDecoder) -> None:
        self.loader = loader
        self.decoder = decoder

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor] | None]:
        for samples in self.loader:
            yield self.decoder(samples)


def build_device_image_loaders(
    root,
    *,
    device: torch.device,
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
) -> Loaders:
    """``data.build_image_loaders`` with decoding and augmentation moved to ``device``.

    Samplers, sharding and seeds are the CPU path's, so a run may switch pipelines on resume.
    """
    if auto_augment != "none":
        raise ConfigError(
            f"--data-pipeline device does not run --auto-augment {auto_augment}; "
            "use --data-pipeline cpu for it"
        )
    train_dir, val_dir = split_dirs(root)
    train_index = scan_split(train_dir)
    val_index = scan_split(val_dir, train_index.classes)
    train_set, val_set = EncodedImageDataset(train_index), EncodedImageDataset(val_index)
    check_one_batch_per_rank(train_dir, len(train_set), batch_size, world_size)
    sampler = SeededSampler(train_set, world_size, rank, seed)
    common = loader_options(workers, False, keep_samples, seed)
    train = DataLoader(train_set, batch_size=batch_size, sampler=sampler, drop_last=True, **common)
    val = DataLoader(
        val_set,
        batch_size=batch_size,
        drop_last=False,
        sampler=ShardSampler(len(val_set), world_size, rank),
        **common,
    )
    crop_scale = (crop_scale_min, 1.0)
    train_aug = DeviceAugmentation(True, image_size, resize_size, crop_scale)
    val_aug = DeviceAugmentation(False, image_size, resize_size, crop_scale)
    return Loaders(
        DeviceBatches(train, DeviceDecoder(device, train_aug, on_corrupt)),
        DeviceBatches(val, DeviceDecoder(device, val_aug, on_corrupt)),
        train_index.classes,
        sampler,
    )
