"""The fused squeeze-excitation gate: the module's values and gradients, with fewer passes."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402, F401  (puts the deliverable's folder on sys.path)
import torch  # noqa: E402
from cpu_accel import accelerate  # noqa: E402
from model.efficientnet import SqueezeExcite, build_model  # noqa: E402

fast_modules = sys.modules["cpu_accel.fast_modules"]
squeeze_excite = sys.modules["cpu_accel.squeeze_excite"]


def test_hand_written_gradients_pass_gradcheck() -> None:
    torch.manual_seed(0)
    se = SqueezeExcite(6, 2).double()
    x = torch.randn(3, 6, 4, 5, dtype=torch.double, requires_grad=True)
    params = [
        se.conv_reduce.weight.detach().flatten(1).requires_grad_(),
        se.conv_reduce.bias.detach().clone().requires_grad_(),
        se.conv_expand.weight.detach().flatten(1).requires_grad_(),
        se.conv_expand.bias.detach().clone().requires_grad_(),
    ]
    gate = squeeze_excite._SqueezeExciteGate.apply
    assert torch.autograd.gradcheck(gate, (x, *params))


def grads_of_a_step(model, x, y):
    model.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("channels_last", [True, False])
def test_a_training_step_gets_the_module_paths_gradients(channels_last, monkeypatch) -> None:
    torch.manual_seed(0)
    model = accelerate(
        build_model(num_classes=10, image_size=64, drop_path_rate=0.0, drop_rate=0.0)
    )
    for block in model.residual_blocks():  # zero-initialised last norms would hide SE grads
        torch.nn.init.ones_(block.last_norm().weight)
    x, y = torch.randn(4, 3, 64, 64), torch.randint(0, 10, (4,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    calls: list[int] = []
    real = fast_modules.squeeze_excite
    monkeypatch.setattr(fast_modules, "squeeze_excite", lambda *a: calls.append(1) or real(*a))
    fused = grads_of_a_step(model, x, y)
    assert len(calls) == 16  # every block's SE ran fused
    monkeypatch.setattr(fast_modules, "fused_gate_applies", lambda x: False)
    plain = grads_of_a_step(model, x, y)
    # Gradients that are zero in exact arithmetic (a bias right before a training-mode
    # BatchNorm) are float noise on both paths: the floor is relative to the largest gradient.
    floor = 1e-5 * max(g.abs().max().item() for g in plain.values())
    for name, expected in plain.items():
        scale = expected.abs().max().item()
        assert (fused[name] - expected).abs().max().item() <= 1e-4 * scale + floor, name


def test_only_eager_float32_cpu_training_takes_the_fused_path(monkeypatch) -> None:
    x = torch.randn(2, 4, 3, 3)
    applies = squeeze_excite.fused_gate_applies
    assert applies(x)
    assert not applies(x.double())
    with torch.no_grad():
        assert not applies(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not applies(x)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert not applies(x)
