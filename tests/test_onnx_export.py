"""ONNX export: onnxruntime reproduces PyTorch's logits; the CLI writes only checked files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402  (puts the deliverable's folder on sys.path)
import onnx  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402
from efficientnet import build_model  # noqa: E402
from export import INPUT_NAME, OUTPUT_NAME, export_onnx, run  # noqa: E402
from weights import save_state_dict  # noqa: E402

IMAGE_SIZE = 64


def calibrated(model: torch.nn.Module) -> torch.nn.Module:
    """Set BN running statistics from one batch, so eval logits have a realistic scale."""
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
            module.reset_running_stats()
    with torch.no_grad():
        model.train()(torch.randn(8, 3, IMAGE_SIZE, IMAGE_SIZE))
    return model.eval()


def onnx_logits(path: Path, batch: torch.Tensor) -> torch.Tensor:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: batch.numpy()})
    return torch.from_numpy(logits)


@pytest.mark.parametrize(
    ("padding", "opset"),
    [("same", 11), ("symmetric", 11), ("symmetric", 18)],
    ids=["same-opset11", "symmetric-opset11", "symmetric-opset18-torch.export"],
)
def test_onnx_logits_match_pytorch(tmp_path: Path, padding: str, opset: int) -> None:
    model = calibrated(
        build_model(num_classes=10, padding=padding, image_size=IMAGE_SIZE, zero_init_last_bn=False)
    ).to(memory_format=torch.channels_last)
    path = tmp_path / "model.onnx"
    result = export_onnx(model, path, image_size=IMAGE_SIZE, opset=opset)
    assert result.max_abs_diff <= 1e-4
    assert onnx.load(str(path)).opset_import[0].version == opset

    # An independent check, with a batch size the export never saw.
    batch = torch.randn(3, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = model(batch)
    assert expected.abs().max() > 1e-2
    torch.testing.assert_close(onnx_logits(path, batch), expected, atol=1e-4, rtol=0)

    onnx.checker.check_model(str(path))
    assert model.training is False and model.conv_stem.weight.is_contiguous(
        memory_format=torch.channels_last
    ), "exporting must not change the caller's model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "export.py", *args],
        cwd=effnet_support.DELIVERABLE,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_exports_a_training_checkpoint(tmp_path: Path) -> None:
    model = calibrated(build_model(num_classes=5, image_size=IMAGE_SIZE))
    torch.save(
        {"model": model.state_dict(), "epoch": 1, "config": {"arch": "efficientnet_b0"}},
        tmp_path / "best.pth",
    )
    output = tmp_path / "out" / "b0.onnx"
    done = run_cli(
        "--checkpoint",
        str(tmp_path / "best.pth"),
        "--output",
        str(output),
        "--image-size",
        str(IMAGE_SIZE),
        "--static-batch",
    )
    assert done.returncode == 0, done.stderr
    assert "5 classes" in done.stdout and "onnxruntime matches PyTorch" in done.stdout
    assert "best.pth carries no sha256 seal" in done.stdout  # torch.save'd: unverified
    batch = torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    with torch.no_grad():
        expected = model(batch)
    torch.testing.assert_close(onnx_logits(output, batch), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("make_checkpoint", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_bytes(b"not a checkpoint"), "not a readable PyTorch checkpoint"),
        (
            lambda p: torch.save({"fc.weight": torch.zeros(2, 2)}, p),
            "not an EfficientNet checkpoint",
        ),
        (
            lambda p: save_state_dict(build_model("efficientnet_b0", num_classes=3), p),
            "does not fit efficientnet_b1",
        ),
        (
            lambda p: (
                save_state_dict(build_model(num_classes=3), p),
                p.write_bytes(p.read_bytes()[:5000] + b"\0" * 3000 + p.read_bytes()[8000:]),
            ),
            "is damaged",
        ),
    ],
    ids=["missing", "corrupt", "other-architecture", "other-variant", "flipped-bytes"],
)
def test_bad_checkpoints_fail_with_one_clear_line(tmp_path: Path, capsys, make_checkpoint, message):
    checkpoint = tmp_path / "model.pth"
    make_checkpoint(checkpoint)
    output = tmp_path / "model.onnx"
    extra = ["--arch", "efficientnet_b1"] if "b1" in message else []
    assert run(["--checkpoint", str(checkpoint), "--output", str(output), *extra]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.count("\n") == 1 and error.startswith("export: error: ")
    assert not output.exists()


def test_an_unsupported_opset_is_a_usage_error(tmp_path: Path, capsys) -> None:
    checkpoint = save_state_dict(build_model(num_classes=3), tmp_path / "model.pth")
    output = tmp_path / "model.onnx"
    assert run(["--checkpoint", str(checkpoint), "--output", str(output), "--opset", "9"]) == 2
    assert "opset 9 is not supported" in capsys.readouterr().err
    assert not output.exists()
