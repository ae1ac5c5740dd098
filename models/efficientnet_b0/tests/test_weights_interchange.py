"""Weights interchange with the real peer packages: same weights, same logits (fp32, eval)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402, F401, I001  (puts the deliverable's folder on sys.path)
import efficientnet_pytorch  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from common import checkpoint as ckpt  # noqa: E402
from common.errors import CheckpointError  # noqa: E402
from effnet_support import randomise_batch_norms  # noqa: E402
from model.efficientnet import build_model  # noqa: E402
from model.weights import (  # noqa: E402
    WeightsMismatchError,
    detect_format,
    infer_arch,
    load_into,
    load_state_dict_file,
    model_for_state_dict,
    model_for_weights,
    read_weights,
    save_state_dict,
    settings_for,
)

LOGIT_TOLERANCE = 1e-4


def assert_same_logits(reference, ours, image_size: int, seed: int = 0) -> None:
    x = torch.randn(2, 3, image_size, image_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = reference(x)
        actual = ours.eval()(x)
    assert expected.abs().max() > 10 * LOGIT_TOLERANCE  # the comparison is not vacuous
    torch.testing.assert_close(actual, expected, atol=LOGIT_TOLERANCE, rtol=0)


@pytest.mark.parametrize(
    ("name", "image_size"),
    [
        ("efficientnet-b0", 224),  # its own resolution: asymmetric TF pads at 224, 112, 56, 28
        ("efficientnet-b2", 65),  # odd sizes: symmetric TF pads; width and depth scaled
    ],
)
def test_lukemelas_weights_give_lukemelas_logits(name: str, image_size: int) -> None:
    torch.manual_seed(0)
    reference = efficientnet_pytorch.EfficientNet.from_name(name, image_size=image_size)
    randomise_batch_norms(reference)
    ours = model_for_state_dict(reference.state_dict(), arch=name, image_size=image_size)
    assert ours.padding == "same"
    assert_same_logits(reference, ours, image_size)


@pytest.mark.parametrize("arch", ["efficientnet_b0", "efficientnet_b3"])
def test_torchvision_weights_give_torchvision_logits(arch: str) -> None:
    torch.manual_seed(0)
    reference = randomise_batch_norms(getattr(torchvision.models, arch)(weights=None))
    ours = model_for_state_dict(reference.state_dict(), arch=arch)
    assert ours.padding == "symmetric"
    assert_same_logits(reference, ours, 64)


def test_padding_matters_for_lukemelas_weights() -> None:
    """TF-padded weights in a symmetric model run, but the feature maps are shifted."""
    torch.manual_seed(0)
    reference = efficientnet_pytorch.EfficientNet.from_name("efficientnet-b0", image_size=64)
    randomise_batch_norms(reference)
    state = reference.state_dict()
    right = load_into(build_model(padding="same", image_size=64), state).eval()
    wrong = load_into(build_model(padding="symmetric", bn_eps=1e-3), state).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = reference._swish(reference._bn0(reference._conv_stem(x)))
        torch.testing.assert_close(right.bn1(right.conv_stem(x)), expected, atol=1e-5, rtol=0)
        assert (wrong.bn1(wrong.conv_stem(x)) - expected).abs().max() > 0.1


def test_saved_weights_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    original = randomise_batch_norms(build_model(num_classes=5))
    path = save_state_dict(original, tmp_path / "weights" / "model.pth")
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pth"]  # no temp files left
    state = load_state_dict_file(path)
    assert detect_format(state) == "efficientnet"
    restored = model_for_state_dict(state)
    assert restored.num_classes == 5
    assert_same_logits(original, restored, 64)


def test_training_checkpoints_and_ddp_prefixes_are_unwrapped(tmp_path: Path) -> None:
    model = build_model(num_classes=3)
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model": wrapped, "epoch": 3}, tmp_path / "last.pth")
    state = load_state_dict_file(tmp_path / "last.pth")
    restored = load_into(build_model(num_classes=3), state)
    assert torch.equal(restored.conv_stem.weight, model.conv_stem.weight)


def test_a_new_head_keeps_the_backbone() -> None:
    source = torchvision.models.efficientnet_b0(weights=None)
    ours = model_for_state_dict(source.state_dict(), num_classes=10)
    assert ours.classifier.out_features == 10
    assert torch.equal(ours.conv_stem.weight, source.features[0][0].weight)
    assert torch.equal(ours.conv_head.weight, source.features[8][0].weight)


def test_another_number_of_classes_is_a_named_shape_mismatch() -> None:
    source = build_model(num_classes=10).state_dict()
    with pytest.raises(WeightsMismatchError) as error:
        load_into(build_model(num_classes=1000), source, source_name="ten.pth")
    message = str(error.value)
    assert "ten.pth" in message
    assert "classifier.weight (10, 1280) (expected (1000, 1280))" in message


def test_another_variant_is_rejected_with_the_tensors_that_differ() -> None:
    source = torchvision.models.efficientnet_b1(weights=None).state_dict()
    with pytest.raises(WeightsMismatchError) as error:
        load_into(build_model("efficientnet_b0"), source)
    assert error.value.unexpected  # B1 has more blocks than B0
    assert "features.1.1.block" in str(error.value)


def test_another_architecture_is_rejected_by_name() -> None:
    source = torchvision.models.resnet18(weights=None).state_dict()
    with pytest.raises(WeightsMismatchError, match=r"conv1\.weight"):
        load_into(build_model(), source, source_name="resnet18.pth")
    assert infer_arch(source) is None


@pytest.mark.parametrize("variant", range(8))
def test_the_variant_is_recognised_from_lukemelas_tensors(variant: int) -> None:
    with torch.device("meta"):
        source = efficientnet_pytorch.EfficientNet.from_name(f"efficientnet-b{variant}")
    assert infer_arch(source.state_dict()) == f"efficientnet_b{variant}"


@pytest.mark.parametrize(
    ("fmt", "config", "padding", "eps", "momentum"),
    [
        ("lukemelas", {}, "same", 1e-3, 0.01),
        ("torchvision", {}, "symmetric", 1e-5, 0.1),
        ("timm", {}, "symmetric", 1e-5, 0.1),
        ("ours", {"padding": "same"}, "same", 1e-3, 0.01),
        ("ours", {"padding": "symmetric"}, "symmetric", 1e-5, 0.1),
        ("ours", {}, "symmetric", 1e-5, 0.1),
    ],
)
def test_one_rule_decides_padding_and_batch_norm_by_weights_format(
    fmt, config, padding, eps, momentum
):
    settings = settings_for(fmt, config)
    assert (settings.padding, settings.bn_eps, settings.bn_momentum) == (padding, eps, momentum)


def _training_checkpoint(path: Path, padding: str) -> None:
    model = build_model(num_classes=4, padding=padding, image_size=64)
    torch.save(
        {
            "kind": ckpt.KIND,
            "format_version": 1,
            "config": {"arch": "efficientnet_b0", "padding": padding, "num_classes": 4},
            "classes": [],
            "model": model.state_dict(),
            "optimizer": {},
            "scaler": {},
            "ema": None,
            "progress": {},
            "rng": [],
        },
        path,
    )


@pytest.mark.parametrize(
    ("write", "fmt", "padding"),
    [
        (
            lambda p: torch.save(
                efficientnet_pytorch.EfficientNet.from_name(
                    "efficientnet-b0", image_size=64
                ).state_dict(),
                p,
            ),
            "lukemelas",
            "same",
        ),
        (
            lambda p: torch.save(torchvision.models.efficientnet_b0().state_dict(), p),
            "torchvision",
            "symmetric",
        ),
        (
            lambda p: torch.save({"state_dict": build_model().state_dict(), "epoch": 2}, p),
            "timm",
            "symmetric",
        ),
        (lambda p: _training_checkpoint(p, "same"), "ours", "same"),
    ],
    ids=["lukemelas", "torchvision", "timm", "ours"],
)
def test_read_weights_names_the_format_and_builds_its_network(tmp_path: Path, write, fmt, padding):
    path = tmp_path / "weights.pth"
    write(path)
    weights_file = read_weights(path)
    assert weights_file.format == fmt and weights_file.arch == "efficientnet_b0"
    model = model_for_weights(weights_file, image_size=64)
    assert model.padding == padding
    assert model.bn1.eps == settings_for(fmt, weights_file.config).bn_eps


def test_read_weights_refuses_a_file_of_another_network_by_name(tmp_path: Path):
    path = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(CheckpointError, match="resnet.pth is not an EfficientNet checkpoint"):
        read_weights(path)
