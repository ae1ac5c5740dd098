"""Datasets of the training deliverable: demo generation, ImageFolder checks, corrupt images,
resumable seeded sampling."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from effnet_support import demo_root, small_image_folder

# isort: split

from common.errors import CorruptImageError, DataError
from data_pipeline import demo_dataset
from data_pipeline import image_folder as data

pytestmark = pytest.mark.needs_torch


def test_demo_dataset_has_ten_balanced_classes_and_is_byte_identical_to_a_fresh_drawing():
    root = demo_root()
    for split, count in (
        ("train", demo_dataset.TRAIN_PER_CLASS),
        ("val", demo_dataset.VAL_PER_CLASS),
    ):
        index = data.scan_split(root / split)
        assert index.classes == tuple(sorted(demo_dataset.DEMO_CLASSES))
        assert len(index.samples) == count * len(demo_dataset.DEMO_CLASSES)
    # Determinism: redraw two images from their seeds and compare the PNG bytes on disk.
    for split, name, i in (("train", "ring", 7), ("val", "dots", 3)):
        rng = random.Random(f"demo-v{demo_dataset.DEMO_VERSION}/{split}/{name}/{i}")
        buffer = io.BytesIO()
        demo_dataset.draw_demo_image(name, rng).save(buffer, format="PNG")
        on_disk = (root / split / name / f"{name}_{i:04d}.png").read_bytes()
        assert hashlib.sha256(buffer.getvalue()).digest() == hashlib.sha256(on_disk).digest()


def test_demo_dataset_is_reused_and_never_mixed_into_a_foreign_folder(tmp_path):
    assert demo_dataset.ensure_demo_dataset(demo_root()) == demo_root()
    foreign = tmp_path / "mine"
    (foreign / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="not the built-in demo dataset"):
        demo_dataset.ensure_demo_dataset(foreign)
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, "does not exist"),
        ({"train/a/x.png": True}, "lacks"),
        (
            {"train/a/x.png": True, "train/b/readme.txt": True, "val/a/y.png": True},
            "holds no images",
        ),
        ({"train/a/x.png": True, "val/z/y.png": True}, "class folders that train/ lacks"),
        ({"train/x.png": True, "val/a/y.png": True}, "has no class folders"),
    ],
    ids=["missing-root", "missing-val", "empty-class", "unknown-val-class", "flat-train"],
)
def test_bad_dataset_layouts_fail_with_the_folder_named(tmp_path, layout, message):
    root = tmp_path / "dataset"
    if layout:
        png = (demo_root() / "val" / "circle" / "circle_0000.png").read_bytes()
        for relative in layout:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
    with pytest.raises(DataError, match=message) as caught:
        train_dir, val_dir = data.split_dirs(root)
        classes = data.scan_split(train_dir).classes
        data.scan_split(val_dir, classes)
    assert str(tmp_path) in str(caught.value)


@pytest.fixture
def folder_with_corrupt_image(tmp_path):
    root = tmp_path / "dataset"
    png = (demo_root() / "val" / "circle" / "circle_0000.png").read_bytes()
    for split in ("train", "val"):
        folder = root / split / "circle"
        folder.mkdir(parents=True)
        (folder / "good.png").write_bytes(png)
        (folder / "broken.png").write_bytes(png[: len(png) // 3])
    return root


def test_corrupt_image_is_fatal_by_default_and_named(folder_with_corrupt_image):
    index = data.scan_split(folder_with_corrupt_image / "train")
    dataset = data.ImageFolderDataset(index, data.eval_transform(32, 37), on_corrupt="fail")
    broken = next(i for i, (p, _) in enumerate(index.samples) if p.endswith("broken.png"))
    with pytest.raises(CorruptImageError, match="broken.png"):
        dataset[broken]


def test_corrupt_image_is_skipped_with_a_warning_when_asked(folder_with_corrupt_image, capsys):
    index = data.scan_split(folder_with_corrupt_image / "train")
    dataset = data.ImageFolderDataset(index, data.eval_transform(32, 37), on_corrupt="skip")
    batch = data.skip_missing_collate([dataset[i] for i in range(len(dataset))])
    assert batch[0].shape == (1, 3, 32, 32)
    assert "broken.png" in capsys.readouterr().err
    assert data.skip_missing_collate([None, None]) is None


def test_augmentation_depends_only_on_seed_epoch_and_index():
    index = data.scan_split(small_image_folder() / "train")
    dataset = data.ImageFolderDataset(index, data.train_transform(32, 0.35, "none"))
    seed = data.augmentation_seed(1, 0, 5)
    first, label = dataset[(5, seed)]
    again, _ = dataset[(5, seed)]
    assert first.equal(again) and label == index.samples[5][1]
    other_epoch, _ = dataset[(5, data.augmentation_seed(1, 1, 5))]
    assert not first.equal(other_epoch)


def test_seeded_sampler_skips_exactly_the_samples_a_resumed_run_has_seen():
    dataset = list(range(50))
    full = data.SeededSampler(dataset, num_replicas=1, rank=0, seed=3)
    full.set_epoch(2)
    order = list(full)
    resumed = data.SeededSampler(dataset, num_replicas=1, rank=0, seed=3)
    resumed.set_epoch(2, skip=16)
    assert list(resumed) == order[16:] and len(resumed) == 34
    full.set_epoch(3)
    assert list(full) != order


def test_ranks_partition_the_epoch_and_see_the_single_process_augmentation_seeds():
    dataset = list(range(40))
    single = data.SeededSampler(dataset, num_replicas=1, rank=0, seed=9)
    single.set_epoch(1)
    ranks = [data.SeededSampler(dataset, num_replicas=2, rank=r, seed=9) for r in (0, 1)]
    for sampler in ranks:
        sampler.set_epoch(1)
    merged = [pair for sampler in ranks for pair in sampler]
    assert sorted(merged) == sorted(single)


def test_eval_shards_cover_every_image_once():
    shards = [list(data.ShardSampler(11, 3, r)) for r in range(3)]
    assert sorted(i for shard in shards for i in shard) == list(range(11))


@pytest.mark.parametrize("image_size, resize", [(224, 256), (32, 37), (64, 73)])
def test_eval_resize_keeps_the_224_to_256_ratio(image_size, resize):
    assert data.eval_resize_size(image_size) == resize
