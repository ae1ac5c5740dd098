"""ONNX export: onnxruntime reproduces PyTorch's and each weights library's logits; train.py's
command writes only checked files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_torch

import efficientnet_pytorch  # noqa: E402
import onnx  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

# effnet_support puts the deliverable's folder on sys.path.
from effnet_support import randomise_batch_norms, train_main  # noqa: E402
from export.onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx  # noqa: E402
from model.efficientnet import build_model  # noqa: E402
from model.weights import convert_state_dict, save_state_dict  # noqa: E402

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


def export_with_train_py(*args: object) -> int:
    return train_main("--device", "cpu", "--image-size", IMAGE_SIZE, *args)


def lukemelas_weights(path: Path) -> torch.nn.Module:
    reference = efficientnet_pytorch.EfficientNet.from_name(
        "efficientnet-b0", image_size=IMAGE_SIZE
    )
    torch.save(randomise_batch_norms(reference).state_dict(), path)
    return reference


def torchvision_weights(path: Path) -> torch.nn.Module:
    reference = randomise_batch_norms(torchvision.models.efficientnet_b0(weights=None))
    torch.save(reference.state_dict(), path)
    return reference


def timm_weights(path: Path) -> torch.nn.Module:
    """A checkpoint as timm's train.py writes it: ``{"state_dict": ..., "arch": ..., ...}``.

    timm is not installed here, so the weights are torchvision's renamed into timm's keys (which
    are ours) by ``weights.convert_state_dict``, and the reference logits are torchvision's:
    timm's ``efficientnet_b0`` is the same network (symmetric padding, BN eps 1e-5).
    """
    reference = randomise_batch_norms(torchvision.models.efficientnet_b0(weights=None))
    timm_state = convert_state_dict(reference.state_dict(), build_model(), source="torchvision")
    torch.save({"epoch": 3, "arch": "efficientnet_b0", "state_dict": timm_state}, path)
    return reference


@pytest.mark.slow
@pytest.mark.parametrize(
    ("write_weights", "padding"),
    [
        (lukemelas_weights, "padding same"),
        (torchvision_weights, "padding symmetric"),
        (timm_weights, "padding symmetric"),
    ],
    ids=["lukemelas", "torchvision", "timm"],
)
def test_exported_weights_give_their_librarys_logits(
    tmp_path: Path, capsys, write_weights, padding: str
) -> None:
    """The ONNX file of each format's weights reproduces that library's own model, not ours.

    The onnxruntime check inside the export compares against the PyTorch model the export built;
    only a comparison with the source library proves that model was the right one (lukemelas
    weights in a symmetric-padding model would pass the first and fail this).
    """
    weights_file, output = tmp_path / "weights.pth", tmp_path / "model.onnx"
    reference = write_weights(weights_file)
    status = export_with_train_py("--pretrained", weights_file, "--export-onnx", output)
    out = capsys.readouterr()
    assert status == 0, out.err
    assert padding in out.out
    batch = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = reference.eval()(batch)
    assert expected.abs().max() > 1e-2  # the comparison is not vacuous
    torch.testing.assert_close(onnx_logits(output, batch), expected, atol=1e-4, rtol=0)


def test_a_training_checkpoint_exports_with_its_class_count(tmp_path: Path, capsys) -> None:
    model = calibrated(build_model(num_classes=5, image_size=IMAGE_SIZE))
    torch.save(
        {"model": model.state_dict(), "epoch": 1, "config": {"arch": "efficientnet_b0"}},
        tmp_path / "best.pth",
    )
    output = tmp_path / "out" / "b0.onnx"
    assert export_with_train_py("--pretrained", tmp_path / "best.pth", "--export-onnx", output) == 0
    printed = capsys.readouterr().out
    assert "5 classes" in printed and "onnxruntime matches PyTorch" in printed
    assert "best.pth carries no sha256 seal" in printed  # torch.save'd: unverified
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
            "holds efficientnet_b0 weights, but this run builds efficientnet_b1",
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
    assert export_with_train_py("--pretrained", checkpoint, "--export-onnx", output, *extra) == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.count("\n") == 1 and error.startswith("error: ")
    assert not output.exists()


def test_an_unsupported_opset_is_refused_before_writing(tmp_path: Path) -> None:
    output = tmp_path / "model.onnx"
    with pytest.raises(ValueError, match="opset 9 is not supported"):
        export_onnx(build_model(num_classes=3).eval(), output, image_size=IMAGE_SIZE, opset=9)
    assert not output.exists()
