"""The EfficientNet model: published shapes, the template's initialisation, padding, drop path."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402, F401  (puts the deliverable's folder on sys.path)
import torch  # noqa: E402
import torchvision  # noqa: E402
from model.efficientnet import (  # noqa: E402
    ARCH_IMAGE_SIZE,
    ARCHITECTURES,
    UnknownArchitectureError,
    build_model,
    drop_path,
    efficientnet_b0,
    tf_same_pads,
)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_b0_has_the_published_parameter_count() -> None:
    assert parameter_count(efficientnet_b0()) == 5_288_548


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_variant_has_torchvisions_tensor_shapes(arch: str) -> None:
    with torch.device("meta"):
        ours = build_model(arch)
        reference = getattr(torchvision.models, arch)()
    assert parameter_count(ours) == parameter_count(reference)
    assert sorted(p.shape for p in ours.parameters()) == sorted(
        p.shape for p in reference.parameters()
    )


def test_resolutions_grow_with_the_variant() -> None:
    sizes = [ARCH_IMAGE_SIZE[a] for a in ARCHITECTURES]
    assert sizes[0] == 224 and sizes[-1] == 600
    assert sizes == sorted(sizes)


def test_public_attribute_names_split_backbone_and_head() -> None:
    model = build_model(num_classes=10)
    for name in ("conv_stem", "bn1", "blocks", "conv_head", "bn2", "classifier"):
        assert hasattr(model, name)
    head = {id(p) for p in model.classifier.parameters()}
    backbone = model.backbone_parameters()
    assert not head & {id(p) for p in backbone}
    assert len(backbone) + 2 == len(list(model.parameters()))
    assert model.classifier.out_features == 10


def test_reset_classifier_replaces_only_the_head() -> None:
    model = build_model(num_classes=1000)
    stem = model.conv_stem.weight.clone()
    model.reset_classifier(7)
    assert model.classifier.weight.shape == (7, 1280)
    assert torch.equal(model.conv_stem.weight, stem)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7)


def residual_blocks(model):
    return model.residual_blocks()


def test_last_bn_of_every_residual_branch_starts_at_zero() -> None:
    model = build_model()
    blocks = residual_blocks(model)
    assert len(blocks) == 9  # B0: 16 blocks, 7 of which change shape
    for block in blocks:
        assert torch.count_nonzero(block.last_norm().weight) == 0


@pytest.mark.parametrize("training", [False, True])
def test_residual_blocks_are_the_identity_at_initialisation(training: bool) -> None:
    model = build_model(drop_path_rate=0.0).train(training)
    torch.manual_seed(0)
    for block in residual_blocks(model):
        channels = block.last_norm().num_features
        x = torch.randn(2, channels, 8, 8)
        assert torch.equal(block(x), x)


def test_blocks_that_change_shape_are_not_zeroed() -> None:
    model = build_model()
    shape_changing = [b for stage in model.blocks for b in stage if not b.has_residual]
    assert len(shape_changing) == 7
    for block in shape_changing:
        assert torch.all(block.last_norm().weight == 1)


def test_zero_init_can_be_switched_off() -> None:
    model = build_model(zero_init_last_bn=False, drop_path_rate=0.0).eval()
    for block in residual_blocks(model):
        assert torch.all(block.last_norm().weight == 1)
    block = residual_blocks(model)[0]
    x = torch.randn(2, block.last_norm().num_features, 8, 8)
    assert not torch.equal(block(x), x)


def test_convolutions_get_kaiming_normal_fan_out() -> None:
    torch.manual_seed(0)
    weight = build_model().conv_head.weight  # 1280 x 320, fan_out 1280
    expected_std = (2.0 / 1280) ** 0.5
    assert abs(weight.std().item() - expected_std) / expected_std < 0.02
    assert abs(weight.mean().item()) < expected_std * 0.02


def test_drop_path_drops_whole_samples_and_keeps_the_expectation() -> None:
    torch.manual_seed(0)
    x = torch.ones(4000, 3, 2, 2)
    out = drop_path(x, 0.25, training=True)
    per_sample = out.flatten(1)
    assert torch.all((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1))
    assert abs(out.mean().item() - 1.0) < 0.05
    assert torch.equal(drop_path(x, 0.25, training=False), x)


def test_drop_path_rate_grows_linearly_with_depth() -> None:
    model = build_model(drop_path_rate=0.2)
    rates = [b.drop_path.rate for b in residual_blocks(model)]
    assert rates == sorted(rates)
    assert 0 < rates[0] < rates[-1] < 0.2


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pads"),
    [
        (224, 3, 2, (0, 1)),
        (225, 3, 2, (1, 1)),
        (112, 5, 2, (1, 2)),
        (7, 5, 1, (2, 2)),
        (14, 3, 1, (1, 1)),
        (1, 3, 2, (1, 1)),
    ],
)
def test_tf_same_pads_match_tensorflow(size, kernel, stride, pads) -> None:
    assert tf_same_pads(size, kernel, stride) == pads


def test_same_padding_is_static_and_keeps_tf_output_sizes() -> None:
    model = build_model(padding="same", image_size=64).eval()
    static = [m for m in model.modules() if getattr(m, "pads", None) is not None]
    assert static, "stride-2 convolutions on even sizes need asymmetric pads"
    assert all(
        isinstance(m.pads, tuple) and all(isinstance(p, int) for p in m.pads) for m in static
    )
    features = model.forward_features(torch.randn(1, 3, 64, 64))
    assert features.shape == (1, 1280, 2, 2)


def test_channels_last_gives_the_same_logits() -> None:
    torch.manual_seed(0)
    model = build_model(zero_init_last_bn=False).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = model(x)
        model = model.to(memory_format=torch.channels_last)
        fast = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=1e-4)


def test_a_training_step_reduces_the_loss_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = build_model(num_classes=4, drop_rate=0.0, drop_path_rate=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8) % 4
    losses = []
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"arch": "efficientnet_b9"}, "efficientnet_b9"), ({"arch": "resnet50"}, "choose one of")],
)
def test_unknown_architectures_are_named(kwargs, message) -> None:
    with pytest.raises(UnknownArchitectureError, match=message):
        build_model(**kwargs)


@pytest.mark.parametrize("kwargs", [{"padding": "valid"}, {"num_classes": 0}])
def test_bad_options_are_rejected(kwargs) -> None:
    with pytest.raises(ValueError):
        build_model(**kwargs)


def test_arch_names_accept_dashes() -> None:
    assert build_model("efficientnet-b1").arch == "efficientnet_b1"


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (5, 2)])
def test_depthwise_op_matches_conv2d_values_and_gradients(memory_format, kernel, stride) -> None:
    from cpu_accel.depthwise import depthwise_conv2d

    torch.manual_seed(0)
    x = torch.randn(2, 6, 9, 9).contiguous(memory_format=memory_format).requires_grad_()
    weight = torch.randn(6, 1, kernel, kernel, requires_grad=True)
    out = depthwise_conv2d(x, weight, stride, kernel // 2)
    expected = torch.nn.functional.conv2d(x, weight, None, stride, kernel // 2, 1, 6)
    assert out.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, weight), grad)
    want = torch.autograd.grad(expected, (x, weight), grad)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


def test_depthwise_op_registration_is_sound_for_compile() -> None:
    """opcheck: schema, fake (meta) kernel, autograd registration, as torch.compile needs."""
    from cpu_accel.depthwise import depthwise_conv2d_op

    x = torch.randn(2, 4, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
    weight = torch.randn(4, 1, 3, 3, requires_grad=True)
    torch.library.opcheck(depthwise_conv2d_op, (x, weight, 2, 1))
