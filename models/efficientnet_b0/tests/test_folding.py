"""BatchNorm folding for CPU inference: same logits as the plain modules, and only where exact."""

from __future__ import annotations

import copy
import sys

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402  (puts the deliverable's folder on sys.path)
import torch  # noqa: E402
from cpu_accel import fast_modules  # noqa: E402  (imports the deliverable's CPU modules)

model_with_trained_statistics = effnet_support.model_with_trained_statistics

folding = sys.modules["cpu_accel.folding"]


def unfolded_logits(model, x: torch.Tensor, monkeypatch) -> torch.Tensor:
    with monkeypatch.context() as patch:
        patch.setattr(fast_modules, "folding_applies", lambda module, x: False)
        with torch.inference_mode():
            return model(x)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool((a - b).abs().max() <= 1e-5 * b.abs().max() + 1e-6)


@pytest.mark.parametrize("padding", ["symmetric", "same"])
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("fused_kernels", [True, False])
def test_folded_inference_gives_the_unfolded_logits(
    padding, channels_last, fused_kernels, monkeypatch
) -> None:
    if fused_kernels and not folding.FUSED_KERNELS:
        pytest.skip("this torch build has no oneDNN fused convolutions")
    monkeypatch.setattr(folding, "FUSED_KERNELS", fused_kernels)
    # Folding alone: the blocks' fused kernel (tests/test_fused_block.py) would take over the
    # expansion and depthwise convolutions of channels-last runs.
    monkeypatch.setattr(fast_modules, "fused_block_applies", lambda x, norms: False)
    model = model_with_trained_statistics(padding)
    x = torch.randn(3, 3, 64, 64)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    expected = unfolded_logits(model, x, monkeypatch)
    calls = []
    real_conv_bn = fast_modules.conv_bn
    monkeypatch.setattr(
        fast_modules, "conv_bn", lambda *a, **k: calls.append(1) or real_conv_bn(*a, **k)
    )
    with torch.inference_mode():
        got = model(x)
    assert len(calls) == 49  # every convolution that has a BatchNorm ran folded
    assert close(got, expected), (got - expected).abs().max()


def test_folding_leaves_parameters_buffers_and_state_dict_alone() -> None:
    model = model_with_trained_statistics()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64))
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    copy.deepcopy(model)  # the cache must not stop EMA copies


def test_the_cache_follows_changes_to_weights_and_statistics(monkeypatch) -> None:
    model = model_with_trained_statistics()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        first = model(x)
        model.blocks[1][0].bn2.running_var.mul_(4.0)  # in place, as a training step does
        model.conv_stem.weight.mul_(0.5)
        second = model(x)
    assert not close(second, first)
    assert close(second, unfolded_logits(model, x, monkeypatch))
    replacement = model_with_trained_statistics(seed=1)
    model.load_state_dict(replacement.state_dict())
    with torch.no_grad():
        third = model(x)
    assert close(third, unfolded_logits(replacement, x, monkeypatch))


def test_training_autograd_export_and_compile_see_the_plain_modules(monkeypatch) -> None:
    model = model_with_trained_statistics()
    x = torch.randn(2, 3, 64, 64)
    assert folding.folding_applies(model, x) is False  # grad mode is on in tests
    with torch.no_grad():
        assert folding.folding_applies(model, x)
        assert not folding.folding_applies(model.train(), x)
        model.eval()
        assert not folding.folding_applies(model, x.double())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not folding.folding_applies(model, x)
        monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
        assert not folding.folding_applies(model, x)
        monkeypatch.undo()
        monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
        assert not folding.folding_applies(model, x)


def test_a_norm_without_running_statistics_is_refused() -> None:
    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
    bn = torch.nn.BatchNorm2d(4, track_running_stats=False)
    with pytest.raises(ValueError, match="running statistics"):
        folding.folded_weight_and_bias(conv, bn)


def test_a_conv_bias_is_folded_too() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=True)
    bn = torch.nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        x = torch.randn(2, 3, 8, 8)
        expected = bn(conv(x))
        got = folding.conv_bn(x, conv, bn, act=False)
    assert close(got, expected)
