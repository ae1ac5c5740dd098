"""The hand-written CPU kernels: oneDNN's values, and a clean fallback when they cannot be built."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402  (puts the deliverable's folder on sys.path)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

cpu_kernels = importlib.import_module("cpu_accel.kernels")


def onednn_weight_grad(x, grad, weight, stride, padding):
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0],
        x.shape[1], [False, True, False],
    )[1]  # fmt: skip


@pytest.fixture(scope="module")
def kernels():
    return effnet_support.compiled_cpu_kernels()


@pytest.mark.parametrize(
    "channels, size, kernel, stride",
    [(16, 9, 3, 1), (24, 10, 3, 2), (32, 11, 5, 2), (40, 8, 5, 1), (48, 7, 3, 1), (19, 6, 5, 2)],
)
def test_depthwise_weight_grad_equals_onednn(kernels, channels, size, kernel, stride) -> None:
    torch.manual_seed(channels)
    padding = kernel // 2
    x = torch.randn(3, channels, size, size).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(channels, 1, kernel, kernel)
    out = F.conv2d(x, weight, None, stride, padding, 1, channels)
    grad = torch.randn_like(out).contiguous(memory_format=torch.channels_last)
    expected = onednn_weight_grad(x, grad, weight, stride, padding)
    got = cpu_kernels.depthwise_weight_grad(x, grad, kernel, stride, padding)
    assert got.shape == expected.shape == weight.shape
    assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_a_failed_build_warns_once_and_falls_back(monkeypatch) -> None:
    import torch.utils.cpp_extension as cpp_extension

    def no_compiler(**kwargs):
        raise RuntimeError("no C++ compiler found\nlong build log")

    monkeypatch.setattr(cpu_kernels, "_module", None)
    monkeypatch.setattr(cpu_kernels, "_unavailable", None)
    monkeypatch.setattr(cpp_extension, "load", no_compiler)
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler found"):
        assert cpu_kernels.load() is None
    assert cpu_kernels.depthwise_weight_grad(torch.zeros(1, 1, 3, 3), None, 3, 1, 1) is None


def test_the_switch_turns_them_off_without_building() -> None:
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); from cpu_accel import kernels;"
        " import torch.utils.cpp_extension as c; c.load = None;"
        " print(kernels.load(), kernels._unavailable)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(effnet_support.DELIVERABLE)],
        env={**os.environ, cpu_kernels.SWITCH: "0"},
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.split() == ["None", f"{cpu_kernels.SWITCH}=0"]


class NarrowBuild:
    """The real kernels, reporting a build for 256-bit vectors (AVX2) instead of this one's."""

    def __init__(self, module) -> None:
        self._module = module

    def vector_bits(self) -> int:
        return 256

    def __getattr__(self, name):
        return getattr(self._module, name)


@pytest.fixture
def narrow_build(kernels, monkeypatch):
    narrow = NarrowBuild(kernels)
    monkeypatch.setattr(cpu_kernels, "_module", narrow)
    monkeypatch.delenv(cpu_kernels.SWITCH, raising=False)
    return narrow


def test_the_build_reports_the_vector_width_it_was_compiled_for(kernels) -> None:
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
        flags = next((line.split() for line in cpuinfo if line.startswith("flags")), [])
    if not flags:
        pytest.skip("no x86 flags in /proc/cpuinfo")
    # The build is -march=native: the widest vectors this CPU has.
    expected = 512 if "avx512f" in flags else 256 if "avx2" in flags else 128
    assert kernels.vector_bits() == expected


def test_a_narrower_build_keeps_only_the_kernels_that_are_faster_on_it(narrow_build, monkeypatch):
    assert cpu_kernels.load(cpu_kernels.WIDE_VECTORS) is None
    assert cpu_kernels.load() is narrow_build
    assert cpu_kernels.load(256) is narrow_build
    monkeypatch.setenv(cpu_kernels.SWITCH, "1")
    assert cpu_kernels.load(cpu_kernels.WIDE_VECTORS) is narrow_build


def test_on_a_narrower_build_the_model_takes_pytorchs_paths_but_the_depthwise_gradient(
    narrow_build, monkeypatch
) -> None:
    from cpu_accel import fast_modules

    fused_block = sys.modules["cpu_accel.fused_block"]
    batchnorm_silu = sys.modules["cpu_accel.batchnorm_silu"]
    gradients: list = []
    real = narrow_build._module.depthwise_weight_grad
    monkeypatch.setattr(
        narrow_build, "depthwise_weight_grad", lambda *a: gradients.append(1) or real(*a),
        raising=False,
    )  # fmt: skip
    model = effnet_support.model_with_trained_statistics("symmetric")
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    norm = model.blocks[1][0].bn1
    activation = torch.randn(2, norm.num_features, 8, 8, requires_grad=True)
    activation = activation.contiguous(memory_format=torch.channels_last)
    assert not fused_block.fused_block_applies(x, (norm,))
    assert not batchnorm_silu.batchnorm_silu_applies(norm.train(), activation)
    monkeypatch.setenv(cpu_kernels.SWITCH, "1")  # the same calls, every kernel allowed
    assert fused_block.fused_block_applies(x, (norm,))
    assert batchnorm_silu.batchnorm_silu_applies(norm, activation)
    monkeypatch.delenv(cpu_kernels.SWITCH)
    calls: list = []
    monkeypatch.setattr(fast_modules, "mbconv_forward", lambda *a, **k: calls.append(1))
    with torch.inference_mode():
        model.eval()(x)
    assert calls == []
    model.train()(x).sum().backward()
    assert len(gradients) == 16  # every block's depthwise convolution
