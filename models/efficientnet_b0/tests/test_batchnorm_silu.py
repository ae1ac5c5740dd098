"""The fused BatchNorm+SiLU CPU kernel: nn.BatchNorm2d's values, gradients, running statistics."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402  (puts the deliverable's folder on sys.path)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from cpu_accel import accelerate  # noqa: E402
from cpu_accel.fast_modules import CpuBatchNormAct2d  # noqa: E402
from model.efficientnet import build_model  # noqa: E402

fast_modules = sys.modules["cpu_accel.fast_modules"]
batchnorm_silu = sys.modules["cpu_accel.batchnorm_silu"]
cpu_kernels = sys.modules["cpu_accel.kernels"]


@pytest.fixture(scope="module")
def kernels():
    return effnet_support.compiled_cpu_kernels()


def reference(x, weight, bias, eps):
    """ATen's pair in float64: the values both float32 paths are measured against."""
    y = F.batch_norm(x.double(), None, None, weight.double(), bias.double(), True, 0.0, eps)
    return F.silu(y)


def relative_error(got, expected) -> float:
    return ((got.double() - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize(
    "shape, offset",
    [
        ((4, 32, 9, 7), 0.0),
        ((3, 19, 5, 6), 0.0),  # channels not a multiple of the 16-lane blocks
        ((5, 48, 1, 1), 0.0),  # 1x1 spatial: channels-last and contiguous at once
        ((2, 16, 12, 12), 50.0),  # a mean far larger than the spread
    ],
)
def test_kernel_forward_and_backward_match_float64(kernels, shape, offset) -> None:
    torch.manual_seed(shape[1])
    x = (torch.randn(shape) * 2 + offset).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.rand(shape[1]) + 0.5, torch.randn(shape[1])
    out, mean, invstd, var = kernels.batchnorm_silu_forward(x, weight, bias, 1e-5)

    x64 = x.double().requires_grad_()
    w64, b64 = weight.double().requires_grad_(), bias.double().requires_grad_()
    expected = reference(x64, w64, b64, 1e-5)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert relative_error(out, expected) < 1e-5
    dims = (0, 2, 3)
    # A mean near zero is judged against the spread, a large one against float32's own rounding.
    exact_mean = x64.detach().mean(dims)
    bound = 1e-6 * x64.detach().std() + 1.2e-7 * exact_mean.abs()
    assert ((mean.double() - exact_mean).abs() <= bound).all()
    assert relative_error(var, x64.detach().var(dims, unbiased=False)) < 1e-5
    assert relative_error(invstd, (x64.detach().var(dims, unbiased=False) + 1e-5).rsqrt()) < 1e-5

    grad = torch.randn_like(out)
    expected_grads = torch.autograd.grad(expected, (x64, w64, b64), grad.double())
    got_grads = kernels.batchnorm_silu_backward(grad, x, weight, bias, mean, invstd)
    for got, want in zip(got_grads, expected_grads, strict=True):
        assert relative_error(got, want) < 1e-4
    assert got_grads[0].is_contiguous(memory_format=torch.channels_last)


def test_kernel_takes_a_gradient_in_any_layout(kernels) -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 16, 5, 5).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.rand(16) + 0.5, torch.randn(16)
    _, mean, invstd, _ = kernels.batchnorm_silu_forward(x, weight, bias, 1e-3)
    grad = torch.randn(2, 16, 5, 5)  # NCHW-contiguous, as the head's pooling gradient arrives
    nchw = kernels.batchnorm_silu_backward(grad, x, weight, bias, mean, invstd)
    nhwc = kernels.batchnorm_silu_backward(
        grad.contiguous(memory_format=torch.channels_last), x, weight, bias, mean, invstd
    )
    for a, b in zip(nchw, nhwc, strict=True):
        assert torch.equal(a, b)


def two_training_steps(forward, norm, inputs):
    """Outputs and input/parameter gradients of two steps, and ``norm``'s buffers after them."""
    results = []
    for x in inputs:
        x = x.clone().requires_grad_()
        out = forward(x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), x.grad, norm.weight.grad.clone(), norm.bias.grad.clone()))
        norm.weight.grad = norm.bias.grad = None
    buffers = (norm.running_mean.clone(), norm.running_var.clone(), norm.num_batches_tracked)
    return results, buffers


@pytest.mark.parametrize("momentum", [0.1, None])
def test_module_matches_batchnorm_then_silu(kernels, momentum) -> None:
    torch.manual_seed(0)
    inputs = [
        (torch.randn(4, 24, 6, 6) * 3 + 1).contiguous(memory_format=torch.channels_last)
        for _ in range(2)
    ]
    fused = CpuBatchNormAct2d(24, eps=1e-3, momentum=momentum).train()
    with torch.no_grad():
        fused.weight.uniform_(0.5, 1.5)
        fused.bias.normal_()
    plain = torch.nn.BatchNorm2d(24, eps=1e-3, momentum=momentum).train()
    plain.load_state_dict(fused.state_dict())

    got, got_buffers = two_training_steps(fused, fused, inputs)
    want, want_buffers = two_training_steps(lambda x: F.silu(plain(x)), plain, inputs)
    for step_got, step_want in zip(got, want, strict=True):
        for a, b in zip(step_got, step_want, strict=True):
            assert (a - b).abs().max() <= 1e-4 * b.abs().max() + 1e-6
    for a, b in zip(got_buffers, want_buffers, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
    assert int(got_buffers[2]) == 2


def test_the_fused_path_runs_exactly_where_it_applies(kernels) -> None:
    norm = CpuBatchNormAct2d(16, eps=1e-5, momentum=0.1).train()
    x = torch.randn(2, 16, 4, 4)
    fused_name = "_BatchNormSiLUBackward"

    def backward_name(module, tensor):
        return type(module(tensor).grad_fn).__name__

    assert fused_name in backward_name(norm, x.contiguous(memory_format=torch.channels_last))
    assert fused_name not in backward_name(norm, x)  # NCHW: ATen's pair
    no_act = CpuBatchNormAct2d(16, eps=1e-5, momentum=0.1, act=False).train()
    assert fused_name not in backward_name(no_act, x.contiguous(memory_format=torch.channels_last))
    with torch.no_grad():
        assert norm(x.contiguous(memory_format=torch.channels_last)).grad_fn is None

    class Synced(CpuBatchNormAct2d):  # what distributed.convert_sync_batchnorm makes of the class
        pass

    synced = Synced(16, eps=1e-5, momentum=0.1).train()
    assert fused_name not in backward_name(synced, x.contiguous(memory_format=torch.channels_last))
    one_value = torch.randn(1, 16, 1, 1).contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        norm(one_value)  # ATen's own error, not a division by zero in the kernel


def test_without_the_kernels_training_takes_atens_pair(monkeypatch) -> None:
    monkeypatch.setattr(cpu_kernels, "_module", None)
    monkeypatch.setattr(cpu_kernels, "_unavailable", f"{cpu_kernels.SWITCH}=0")
    norm = CpuBatchNormAct2d(8, eps=1e-5, momentum=0.1).train()
    x = torch.randn(2, 8, 3, 3).contiguous(memory_format=torch.channels_last)
    assert not batchnorm_silu.batchnorm_silu_applies(norm, x)
    assert type(norm(x.requires_grad_()).grad_fn).__name__ == "SiluBackward0"


def test_a_training_step_gets_atens_gradients(kernels, monkeypatch) -> None:
    torch.manual_seed(0)
    model = accelerate(
        build_model(num_classes=10, image_size=64, drop_path_rate=0.0, drop_rate=0.0)
    )
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(4, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (4,))
    calls: list[int] = []
    real = fast_modules.batchnorm_silu
    monkeypatch.setattr(fast_modules, "batchnorm_silu", lambda *a: calls.append(1) or real(*a))
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def step():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        return {name: p.grad.clone() for name, p in model.named_parameters()}, {
            k: v.clone() for k, v in model.state_dict().items()
        }

    fused_grads, fused_state = step()
    assert len(calls) == 33  # every BatchNorm followed by SiLU in B0
    model.load_state_dict(before)
    monkeypatch.setattr(fast_modules, "batchnorm_silu_applies", lambda norm, x: False)
    plain_grads, plain_state = step()
    floor = 1e-5 * max(g.abs().max().item() for g in plain_grads.values())
    for name, expected in plain_grads.items():
        scale = expected.abs().max().item()
        assert (fused_grads[name] - expected).abs().max().item() <= 1e-4 * scale + floor, name
    for name, expected in plain_state.items():
        if expected.is_floating_point():
            assert torch.allclose(fused_state[name], expected, rtol=1e-4, atol=1e-6), name
        else:
            assert torch.equal(fused_state[name], expected), name
