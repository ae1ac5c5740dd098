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
