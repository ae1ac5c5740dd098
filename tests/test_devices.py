"""Devices, mixed precision and loss scaling.

The NPU cannot run here. Where a test needs ``torch_npu`` it injects a fake module into
``sys.modules`` that provides exactly what ``devices.py`` calls on it -- ``torch.npu.is_available``,
``device_count``, ``set_device`` -- and registers PyTorch's PrivateUse1 backend under the name
``npu`` (what the real torch_npu does) so that ``torch.device("npu:3")`` exists. No NPU kernel runs;
what is proved is the selection logic, the error sentences, the backend and the precision plan.
"""

from __future__ import annotations

import sys
import types

import pytest
import torch
from effnet_support import DELIVERABLE  # noqa: F401  (puts the deliverable on sys.path)

# isort: split

import devices
from distributed import backend_for
from errors import ConfigError, DeviceError


@pytest.mark.parametrize(
    "device, amp, amp_dtype, loss_scale, dtype, mode, scale",
    [
        ("cpu", False, "auto", "auto", None, "none", 1.0),
        ("cpu", True, "auto", "auto", torch.bfloat16, "none", 1.0),
        ("cpu", True, "float16", "auto", torch.float16, "dynamic", 65536.0),
        ("cuda", True, "auto", "auto", torch.float16, "dynamic", 65536.0),
        ("cuda", True, "bfloat16", "auto", torch.bfloat16, "none", 1.0),
        ("cuda", True, "auto", "512", torch.float16, "static", 512.0),
        ("npu", True, "auto", "auto", torch.float16, "static", 128.0),
        ("npu", True, "auto", "dynamic", torch.float16, "dynamic", 65536.0),
        ("npu", False, "auto", "128", None, "none", 1.0),
    ],
)
def test_one_amp_flag_means_the_right_dtype_and_loss_scaling_per_device(
    device, amp, amp_dtype, loss_scale, dtype, mode, scale
):
    plan = devices.plan_precision(device, amp, amp_dtype, loss_scale)
    assert (plan.autocast_dtype, plan.loss_scale_mode, plan.initial_scale) == (dtype, mode, scale)


@pytest.mark.parametrize("bad", ["fast", "-1", "0", "nan", "inf"])
def test_bad_loss_scale_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="--loss-scale"):
        devices.plan_precision("npu", True, "auto", bad)


def _one_param_optimizer(grad: float):
    param = torch.nn.Parameter(torch.ones(3))
    param.grad = torch.full((3,), grad)
    return param, torch.optim.SGD([param], lr=1.0)


def test_static_scaler_unscales_skips_overflow_and_keeps_its_scale():
    scaler = devices.LossScaler("static", 128.0)
    assert scaler.scale_loss(torch.tensor(2.0)).item() == 256.0
    param, optimizer = _one_param_optimizer(256.0)
    assert scaler.unscale_(optimizer) is True
    assert torch.equal(param.grad, torch.full((3,), 2.0))
    _, overflowing = _one_param_optimizer(float("inf"))
    finite = scaler.unscale_(overflowing)
    scaler.update(finite)
    assert finite is False and scaler.scale == 128.0 and scaler.skipped_steps == 1


def test_dynamic_scaler_halves_on_overflow_and_doubles_after_clean_steps():
    scaler = devices.LossScaler("dynamic", 1024.0, growth_interval=3)
    scaler.update(False)
    assert scaler.scale == 512.0
    for _ in range(3):
        scaler.update(True)
    assert scaler.scale == 1024.0
    restored = devices.LossScaler("dynamic", 1.0, growth_interval=3)
    restored.load_state_dict(scaler.state_dict())
    assert restored.state_dict() == scaler.state_dict()


def test_cpu_autocast_runs_matmuls_in_bfloat16():
    plan = devices.plan_precision("cpu", True, "auto", "auto")
    with devices.autocast(plan):
        out = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16


def test_auto_falls_back_to_cpu_and_npu_without_torch_npu_is_one_clear_sentence(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_npu", None)  # makes `import torch_npu` fail
    assert devices.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(DeviceError) as caught:
        devices.resolve_device("npu")
    message = str(caught.value)
    assert "torch_npu" in message and "\n" not in message and "--device cpu" in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_request_without_a_gpu_is_a_device_error():
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        devices.resolve_device("cuda")


@pytest.fixture
def fake_torch_npu(monkeypatch):
    """A stand-in for torch_npu: 8 visible NPUs, records set_device calls."""
    if torch._C._get_privateuse1_backend_name() == "privateuseone":
        torch.utils.rename_privateuse1_backend("npu")
    if torch._C._get_privateuse1_backend_name() != "npu":
        pytest.skip("PrivateUse1 backend already registered under another name")
    calls: list[torch.device] = []
    npu = types.SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 8,
        set_device=calls.append,
    )
    monkeypatch.setitem(sys.modules, "torch_npu", types.ModuleType("torch_npu"))
    monkeypatch.setattr(torch, "npu", npu, raising=False)
    return calls


def test_npu_is_chosen_by_auto_and_bound_to_the_local_rank(fake_torch_npu):
    assert devices.resolve_device("auto", local_rank=3) == torch.device("npu:3")
    assert fake_torch_npu == [torch.device("npu:3")]
    assert backend_for("npu") == "hccl"
    with pytest.raises(DeviceError, match="only 8 visible"):
        devices.resolve_device("npu", local_rank=8)


def test_npu_installed_but_not_visible_says_what_to_check(fake_torch_npu, monkeypatch):
    monkeypatch.setattr(torch.npu, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="sees no NPU"):
        devices.resolve_device("npu")
    assert devices.resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("device, backend", [("npu", "hccl"), ("cuda", "nccl"), ("cpu", "gloo")])
def test_process_group_backend_follows_the_device(device, backend):
    assert backend_for(device) == backend
    assert backend_for(device, "gloo") == "gloo"
