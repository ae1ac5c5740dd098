"""The device input pipeline (``--data-pipeline device``), run on a CPU: ``decode_jpeg`` decodes
on a CPU too, so the same code the GPU runs is checked here against the CPU pipeline."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from effnet_support import TINY, train_main
from PIL import Image

# isort: split

from common.errors import ConfigError, CorruptImageError
from data_pipeline import image_folder as data
from data_pipeline import on_device as dp

pytestmark = pytest.mark.needs_torch

CPU = torch.device("cpu")
SIZES = [(48, 64), (64, 40), (57, 57)]


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """A smooth image (JPEG-friendly, so decoders agree closely) with structure to crop."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(3, 6, 6, generator=generator)
    smooth = torch.nn.functional.interpolate(
        coarse[None], size=(height, width), mode="bicubic", align_corners=False
    )[0]
    pixels = (smooth.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(pixels)


def _jpeg_folder(root: Path, per_class: int = 4) -> Path:
    for split in ("train", "val"):
        for label in ("a", "b"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(per_class):
                width, height = SIZES[i % len(SIZES)]
                _photo(width, height, hash((split, label, i)) % 1000).save(
                    folder / f"{i}.jpg", quality=95
                )
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _jpeg_folder(tmp_path_factory.mktemp("jpegs"))


def test_normalisation_equals_to_tensor_then_normalize_exactly():
    image = _photo(20, 16, 0)
    expected = data.T.Normalize(data.IMAGENET_MEAN, data.IMAGENET_STD)(data.T.ToTensor()(image))
    pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1).float()
    torch.testing.assert_close(dp.normalize(pixels[None])[0], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 7, 123456789])
@pytest.mark.parametrize("width, height", SIZES)
def test_crop_box_and_flip_are_the_cpu_transforms_for_the_same_seed(seed, width, height):
    image = _photo(width, height, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        box = data.T.RandomResizedCrop.get_params(image, [0.08, 1.0], [3 / 4, 4 / 3])
        flip = bool(torch.rand(1) < 0.5)
    assert dp.crop_and_flip(height, width, seed, (0.08, 1.0)) == (box, flip)


@pytest.mark.parametrize("train", [True, False])
def test_device_path_matches_the_cpu_pipeline_up_to_the_resize_kernel(folder, train):
    """Same image, same seed: the same crop and flip, so only resampling rounding differs."""
    size, resize = 32, data.eval_resize_size(32)
    if train:
        cpu = data.train_transform(size, 0.08, "none")
    else:
        cpu = data.eval_transform(size, resize)
    augmentation = dp.DeviceAugmentation(train, size, resize, (0.08, 1.0))
    decoder = dp.DeviceDecoder(CPU, augmentation)
    index = data.scan_split(folder / "train")
    encoded = dp.EncodedImageDataset(index)
    other_seed_differs = []
    for i, (path, _) in enumerate(index.samples):
        seed = data.augmentation_seed(42, 0, i)
        key = (i, seed) if train else i
        expected, _ = data.ImageFolderDataset(index, cpu)[key]
        got, _ = decoder([encoded[key]])
        difference = (got[0] - expected).abs()
        assert got.shape == (1, 3, size, size)
        assert difference.mean() < 0.03 and difference.max() < 0.5, path
        if train:  # the tolerance is tight enough to tell another crop or flip apart
            other, _ = decoder([encoded[(i, seed + 1)]])
            other_seed_differs.append(bool((other[0] - expected).abs().mean() > 0.03))
    assert all(other_seed_differs)


def test_a_batch_decodes_at_once_with_labels_and_skips_or_names_corrupt_files(folder, tmp_path):
    index = data.scan_split(folder / "train")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(dp.JPEG_MAGIC + bytes(random.Random(0).randbytes(200)))
    samples = [dp.EncodedImageDataset(index)[i] for i in range(3)]
    samples.append(
        dp.EncodedSample(np.fromfile(broken, dtype=np.uint8), True, 1, None, str(broken))
    )
    augmentation = dp.DeviceAugmentation(False, 16, 18, (0.08, 1.0))
    images, targets = dp.DeviceDecoder(CPU, augmentation, "skip")(samples)
    assert images.shape == (3, 3, 16, 16)
    assert targets.tolist() == [label for _, label in index.samples[:3]]
    with pytest.raises(CorruptImageError, match="broken.jpg"):
        dp.DeviceDecoder(CPU, augmentation, "fail")(samples)


def test_a_png_in_the_folder_is_decoded_by_the_worker(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    _photo(30, 20, 3).save(tmp_path / "train" / "a" / "x.png")
    sample = dp.EncodedImageDataset(data.scan_split(tmp_path / "train"))[0]
    assert not sample.jpeg and sample.data.shape == (3, 20, 30)


def test_auto_augment_is_refused_on_the_device_path(folder):
    with pytest.raises(ConfigError, match="--data-pipeline cpu"):
        dp.build_device_image_loaders(
            folder,
            device=CPU,
            batch_size=2,
            image_size=16,
            resize_size=18,
            crop_scale_min=0.08,
            auto_augment="randaugment",
            workers=0,
            on_corrupt="fail",
            seed=0,
            rank=0,
            world_size=1,
        )


@pytest.mark.parametrize("workers", ["0", "2"])
def test_train_py_trains_and_evaluates_with_the_device_pipeline(folder, tmp_path, capsys, workers):
    out = tmp_path / "run"
    status = train_main(
        *TINY,
        "--epochs",
        "1",
        "--data",
        str(folder),
        "--batch-size",
        "4",
        "--workers",
        workers,
        "--data-pipeline",
        "device",
        "--output-dir",
        out,
    )
    assert status == 0, capsys.readouterr().err
    assert (out / "last.pt").exists()
