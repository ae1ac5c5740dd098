"""Mistakes a user can make with train.py end in one clear line and exit status 2, never a
traceback, and never overwrite a run."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
import torch
from effnet_support import TINY, demo_root, run_train_process, small_image_folder, train_main
from PIL import Image

# isort: split

from common import checkpoint as ckpt

pytestmark = pytest.mark.needs_torch


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def dataset_with(tmp_path):
    """Build train/ and val/ from a {relative path: bytes or None (folder)} table."""
    png = (demo_root() / "val" / "circle" / "circle_0000.png").read_bytes()

    def build(layout: dict[str, bytes | None]):
        root = tmp_path / "dataset"
        for relative, content in layout.items():
            path = root / relative
            if content is None:
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(png if content == b"png" else content)
        return root

    return build


GOOD = {
    f"{split}/{c}/{i}.png": b"png" for split in ("train", "val") for c in "ab" for i in range(4)
}


@pytest.mark.parametrize(
    "layout, expected",
    [
        (None, "does not exist"),
        ({"train/a/0.png": b"png"}, "lacks"),
        ({**GOOD, "train/c": None, "val/c": None}, "holds no images"),
        ({**GOOD, "train/a/1.png": b"\x89PNG broken"}, "corrupt image"),
    ],
    ids=["missing-folder", "missing-val", "empty-class", "corrupt-image"],
)
def test_bad_datasets_fail_with_one_line_naming_the_path(
    tmp_path, capsys, dataset_with, layout, expected
):
    root = dataset_with(layout) if layout is not None else tmp_path / "nowhere"
    status = train_main(
        *TINY,
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--data",
        root,
        "--output-dir",
        tmp_path / "out",
    )
    line = _error_line(capsys)
    assert status == 2 and expected in line and str(tmp_path) in line


def _png_of(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG; 20000 x 20000 is 400 megapixels in 60 kB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\0" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


BROKEN = {"broken-png": b"\x89PNG broken", "20000x20000-png": None}


@pytest.mark.parametrize("kind", BROKEN)
def test_corrupt_image_can_be_skipped_instead(tmp_path, capsys, dataset_with, kind):
    content = BROKEN[kind] or _png_of(20000, 20000)
    root = dataset_with({**GOOD, "train/a/1.png": content})
    status = train_main(
        *TINY,
        "--batch-size",
        "7",
        "--epochs",
        "1",
        "--data",
        root,
        "--on-corrupt",
        "skip",
        "--output-dir",
        tmp_path / "out",
    )
    assert status == 0
    assert "skipping corrupt image" in capsys.readouterr().err


@pytest.mark.parametrize("side", [20000, 10000], ids=["400-megapixels", "100-megapixels"])
def test_an_image_beyond_the_decompression_bomb_limit_is_corrupt_data(
    tmp_path, capsys, dataset_with, side
):
    """PIL raises above twice its limit and only warns (then decodes) between the two."""
    root = dataset_with({**GOOD, "train/a/1.png": _png_of(side, side)})
    status = train_main(
        *TINY,
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--data",
        root,
        "--output-dir",
        tmp_path / "out",
    )
    line = _error_line(capsys)
    assert status == 2 and "corrupt image" in line and "1.png" in line
    assert "pixels" in line and "--on-corrupt skip" in line


def _fake_checkpoint(path, arch):
    """A train.py checkpoint complete in form, for architecture ``arch``."""
    ckpt.atomic_save(
        {
            "kind": ckpt.KIND,
            "format_version": ckpt.FORMAT_VERSION,
            "config": {"arch": arch},
            "classes": [],
            "model": {"conv_stem.weight": torch.zeros(1)},
            "optimizer": {},
            "scaler": {},
            "ema": None,
            "progress": {},
            "rng": [],
        },
        path,
    )


@pytest.mark.parametrize(
    "make_args, expected",
    [
        (lambda tmp: ["--resume", tmp / "missing.pt"], "does not exist"),
        (
            lambda tmp: (
                _fake_checkpoint(tmp / "b3.pt", "efficientnet_b3"),
                ["--resume", tmp / "b3.pt"],
            )[1],
            "architecture 'efficientnet_b3'",
        ),
        (
            lambda tmp: (
                torch.save(torch.nn.Conv2d(3, 8, 3).state_dict(), tmp / "resnet.pt"),
                ["--pretrained", tmp / "resnet.pt"],
            )[1],
            "not an EfficientNet checkpoint",
        ),
        (
            lambda tmp: (
                torch.save({"_conv_stem.weight": torch.zeros(48, 3, 3, 3)}, tmp / "b4.pt"),
                ["--pretrained", tmp / "b4.pt"],
            )[1],
            "does not fit efficientnet_b0",
        ),
        (
            lambda tmp: ((tmp / "out").mkdir(), (tmp / "out" / "last.pt").write_bytes(b"x"), [])[2],
            "already holds a run",
        ),
        (lambda tmp: ((tmp / "out").write_text("a file"), [])[1], "cannot write to --output-dir"),
        (lambda tmp: ["--batch-size", "0"], "--batch-size must be at least 1"),
        (lambda tmp: ["--num-classes", "5"], "the dataset has 3 classes"),
        (lambda tmp: ["--evaluate"], "--evaluate needs weights"),
        (lambda tmp: ["--loss-scale", "lots", "--amp"], "--loss-scale must be"),
        (
            lambda tmp: (
                (tmp / "notes.pt").write_text("a text file\n"),
                ["--resume", tmp / "notes.pt"],
            )[1],
            "not a readable PyTorch checkpoint",
        ),
        (
            lambda tmp: (
                (tmp / "notes.pt").write_text("a text file\n"),
                ["--pretrained", tmp / "notes.pt"],
            )[1],
            "not a readable PyTorch checkpoint",
        ),
        (
            lambda tmp: (
                torch.save({"kind": ckpt.KIND}, tmp / "kind.pt"),
                ["--resume", tmp / "kind.pt"],
            )[1],
            "lacks 'format_version'",
        ),
        (
            lambda tmp: (
                torch.save({"kind": ckpt.KIND}, tmp / "kind.pt"),
                ["--pretrained", tmp / "kind.pt"],
            )[1],
            "lacks 'format_version'",
        ),
        (
            lambda tmp: (
                torch.save({"conv_stem.weight": [1, 2]}, tmp / "list.pt"),
                ["--pretrained", tmp / "list.pt"],
            )[1],
            "holds a list, not a tensor",
        ),
    ],
    ids=[
        "missing-checkpoint",
        "other-architecture",
        "foreign-state-dict",
        "other-variant",
        "existing-run",
        "unwritable-output",
        "bad-batch",
        "class-count",
        "evaluate-no-weights",
        "bad-loss-scale",
        "text-file-resume",
        "text-file-pretrained",
        "kind-only-resume",
        "kind-only-pretrained",
        "list-weights-pretrained",
    ],
)
def test_bad_checkpoints_and_settings_fail_with_one_clear_line(
    tmp_path, capsys, make_args, expected
):
    extra = make_args(tmp_path)
    status = train_main(
        *TINY,
        "--epochs",
        "1",
        "--data",
        small_image_folder(),
        "--output-dir",
        tmp_path / "out",
        *extra,
    )
    assert status == 2
    assert expected in _error_line(capsys)


def test_an_existing_run_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "best.pt").write_bytes(b"precious")
    assert train_main(*TINY, "--data", small_image_folder(), "--output-dir", out) == 2
    assert (out / "best.pt").read_bytes() == b"precious"
    assert "--resume auto" in _error_line(capsys)


def _truncated_jpeg() -> bytes:
    image = Image.open(demo_root() / "val" / "circle" / "circle_0000.png").convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


@pytest.mark.parametrize("workers", ["1", "3"])
def test_a_corrupt_jpeg_read_by_a_loader_worker_ends_the_run_with_exit_2(
    tmp_path, dataset_with, workers
):
    """The worker's error reaches the user and the process exits: it once hung in its exit
    handler, joining workers that ignored the SIGTERM it sent them."""
    # 9 training images in 3 batches of 3: the sampler reads every one of them
    root = dataset_with({**GOOD, "train/a/1.jpg": _truncated_jpeg()})
    result = run_train_process(
        *TINY,
        "--workers",
        workers,
        "--batch-size",
        "3",
        "--epochs",
        "1",
        "--data",
        root,
        "--output-dir",
        tmp_path / "out",
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "corrupt image" in errors[0] and "1.jpg" in errors[0]


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """last.pt of a one-step run, to damage or rewrite in the tests below."""
    out = tmp_path_factory.mktemp("trained")
    assert (
        train_main(
            *TINY,
            "--epochs",
            "1",
            "--limit-train-batches",
            "1",
            "--data",
            small_image_folder(),
            "--output-dir",
            out,
        )
        == 0
    )
    return out / ckpt.LAST


@pytest.mark.parametrize("flag", ["--resume", "--pretrained"])
def test_a_checkpoint_with_flipped_bytes_is_refused_and_nothing_is_overwritten(
    tmp_path, capsys, trained_checkpoint, flag
):
    out = tmp_path / "out"
    out.mkdir()
    damaged = bytearray(trained_checkpoint.read_bytes())
    for i in range(len(damaged) // 3, len(damaged) // 3 + 5000):
        damaged[i] ^= 0x55
    (out / ckpt.LAST).write_bytes(damaged)
    target = ["--resume", "auto"] if flag == "--resume" else ["--pretrained", out / ckpt.LAST]
    other_out = out if flag == "--resume" else tmp_path / "new"
    status = train_main(
        *TINY, "--epochs", "2", "--data", small_image_folder(), "--output-dir", other_out, *target
    )
    line = _error_line(capsys)
    assert status == 2 and "is damaged" in line and str(out / ckpt.LAST) in line
    assert (out / ckpt.LAST).read_bytes() == damaged
    assert sorted(p.name for p in out.iterdir()) == [ckpt.LAST]


def test_an_unsealed_checkpoint_of_format_1_still_loads_and_is_reported_unverified(
    tmp_path, capsys, trained_checkpoint
):
    older = torch.load(trained_checkpoint, weights_only=True)
    older["format_version"] = 1
    torch.save(older, tmp_path / "old.pt")
    status = train_main(
        *TINY,
        "--data",
        small_image_folder(),
        "--evaluate",
        "--resume",
        tmp_path / "old.pt",
        "--output-dir",
        tmp_path,
    )
    out = capsys.readouterr().out
    assert status == 0 and "evaluation: top-1" in out
    assert f"{tmp_path / 'old.pt'} carries no sha256 seal" in out and "unverified" in out
