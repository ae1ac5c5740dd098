"""Devices, mixed precision and loss scaling.

The NPU cannot run here. Where a test needs ``torch_npu`` it injects, in a subprocess, a fake
module into ``sys.modules`` that provides exactly what ``training/devices.py`` calls on it --
``torch.npu.is_available``, ``device_count``, ``set_device`` -- and registers PyTorch's PrivateUse1
backend under the name ``npu`` (what the real torch_npu does) so that ``torch.device("npu:3")``
exists; where the optimiser is under test it also provides ``torch_npu.optim.NpuFusedSGD`` with
the real one's signature. No NPU kernel runs; what is proved is the selection logic, the error
sentences, the backend, the precision plan and which optimiser is built.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from effnet_support import DELIVERABLE

# isort: split

from common.errors import ConfigError, DeviceError
from training import devices
from training.distributed import backend_for

pytestmark = pytest.mark.needs_torch


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
    assert scaler.unscale_(optimizer).item() == 0.0
    assert torch.equal(param.grad, torch.full((3,), 2.0))
    _, overflowing = _one_param_optimizer(float("inf"))
    found_inf = scaler.unscale_(overflowing)
    scaler.update(found_inf)
    assert found_inf.item() == 1.0 and scaler.scale == 128.0 and scaler.skipped_steps == 1


@pytest.mark.parametrize("mode", ["none", "static", "dynamic"])
def test_every_mode_skips_a_step_with_non_finite_gradients(mode):
    scaler = devices.LossScaler(mode, 4.0)
    param, optimizer = _one_param_optimizer(float("nan"))
    scaler.step(optimizer, scaler.unscale_(optimizer))
    assert torch.equal(param.detach(), torch.ones(3))


def test_dynamic_scaler_halves_on_overflow_and_doubles_after_clean_steps():
    scaler = devices.LossScaler("dynamic", 1024.0, growth_interval=3)
    scaler.update(True)
    assert scaler.scale == 512.0
    for _ in range(3):
        scaler.update(False)
    assert scaler.scale == 1024.0
    restored = devices.LossScaler("dynamic", 1.0, growth_interval=3)
    restored.load_state_dict(scaler.state_dict())
    assert restored.state_dict() == scaler.state_dict()


def test_dynamic_scale_never_falls_below_one():
    scaler = devices.LossScaler("dynamic", 2.0)
    for _ in range(3):
        scaler.update(True)
    assert scaler.scale == 1.0 and scaler.skipped_steps == 3


def _sgd_pair():
    """The same one-layer problem under stock and fused SGD (fused runs on a CPU too)."""
    from training import optim

    torch.manual_seed(0)
    weights = torch.randn(4, 3)
    runs = []
    for implementation in ("stock", "fused"):
        param = torch.nn.Parameter(weights.clone())
        groups = [{"params": [param], "weight_decay": 1e-4}]
        runs.append((param, optim.build_sgd(groups, 0.1, 0.9, True, implementation)))
    return runs


def test_fused_sgd_skips_on_the_device_and_matches_stock_sgd_after_a_skipped_first_step():
    grads = [torch.full((4, 3), float("inf")), torch.randn(4, 3), torch.randn(4, 3)]
    results = []
    for param, optimizer in _sgd_pair():
        scaler = devices.LossScaler("dynamic", 8.0)
        for grad in grads:
            param.grad = grad.clone() * scaler.scale
            scaler.step(optimizer, scaler.unscale_(optimizer))
            scaler.update(torch.tensor([float(not torch.isfinite(grad).all())]))
        results.append(param.detach().clone())
        assert scaler.skipped_steps == 1
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=1e-6)


def test_scaler_step_with_fused_sgd_never_reads_the_device(monkeypatch):
    (_, _), (param, optimizer) = _sgd_pair()
    scaler = devices.LossScaler("dynamic", 8.0)
    param.grad = torch.randn(4, 3)

    def host_read(*_):
        raise AssertionError("a host sync in the step")

    monkeypatch.setattr(torch.Tensor, "item", host_read)
    monkeypatch.setattr(torch.Tensor, "__bool__", host_read)
    found_inf = scaler.unscale_(optimizer)
    scaler.step(optimizer, found_inf)
    scaler.update(found_inf)
    monkeypatch.undo()
    assert scaler.skipped_steps == 0 and scaler.clean_steps == 1


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


FAKE_NPU_CHECKS = textwrap.dedent(
    """
    import sys, types, torch
    sys.path.insert(0, {deliverable!r})
    from training import devices
    from training.distributed import backend_for
    from common.errors import DeviceError

    # The fake: registering PrivateUse1 as "npu" (as torch_npu does) makes torch.device("npu:3")
    # exist; torch.npu offers only what training/devices.py calls. It is process-wide, hence a
    # subprocess.
    torch.utils.rename_privateuse1_backend("npu")
    calls = []
    visible = [True]
    torch.npu = types.SimpleNamespace(
        is_available=lambda: visible[0], device_count=lambda: 8, set_device=calls.append
    )
    sys.modules["torch_npu"] = types.ModuleType("torch_npu")

    assert devices.resolve_device("auto", local_rank=3) == torch.device("npu:3")
    assert calls == [torch.device("npu:3")]
    assert backend_for("npu") == "hccl"
    try:
        devices.resolve_device("npu", local_rank=8)
        raise AssertionError("rank 8 of 8 NPUs was accepted")
    except DeviceError as exc:
        assert "only 8 visible" in str(exc)
    visible[0] = False
    try:
        devices.resolve_device("npu")
        raise AssertionError("an invisible NPU was accepted")
    except DeviceError as exc:
        assert "sees no NPU" in str(exc) and "set_env.sh" in str(exc)
    assert devices.resolve_device("auto") == torch.device("cpu")
    print("fake NPU checks passed")
    """
)


def test_npu_selection_binds_the_local_rank_and_explains_failures_with_a_fake_torch_npu():
    script = FAKE_NPU_CHECKS.format(deliverable=str(DELIVERABLE))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fake NPU checks passed" in result.stdout


@pytest.mark.parametrize("device, backend", [("npu", "hccl"), ("cuda", "nccl"), ("cpu", "gloo")])
def test_process_group_backend_follows_the_device(device, backend):
    assert backend_for(device) == backend
    assert backend_for(device, "gloo") == "gloo"


FAKE_NPU_OPTIMIZER_CHECKS = textwrap.dedent(
    """
    import sys, types, torch
    sys.path.insert(0, {deliverable!r})
    from training import optim

    # The fake torch_npu.optim.NpuFusedSGD records how it was built; the real one has this
    # signature (params, lr, momentum, dampening, weight_decay, nesterov).
    built = []
    class NpuFusedSGD(torch.optim.SGD):
        def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
            built.append(dict(lr=lr, momentum=momentum, nesterov=nesterov))
            super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov)
    package = types.ModuleType("torch_npu")
    package.optim = types.ModuleType("torch_npu.optim")
    {define_fused}
    sys.modules["torch_npu"] = package
    sys.modules["torch_npu.optim"] = package.optim

    implementation = optim.sgd_implementation("npu")
    print("implementation", implementation)
    groups = [{{"params": [torch.nn.Parameter(torch.ones(3))], "weight_decay": 0.0}}]
    optimizer = optim.build_sgd(groups, 0.1, 0.9, True, implementation)
    print("built", type(optimizer).__name__, built)
    """
)


@pytest.mark.parametrize(
    "define_fused, implementation, optimizer, warned",
    [
        ("package.optim.NpuFusedSGD = NpuFusedSGD", "npu_fused", "NpuFusedSGD", False),
        ("pass  # an old torch_npu without the fused optimiser", "stock", "SGD", True),
    ],
)
def test_npu_uses_torch_npu_fused_sgd_and_falls_back_with_a_warning(
    define_fused, implementation, optimizer, warned
):
    script = FAKE_NPU_OPTIMIZER_CHECKS.format(
        deliverable=str(DELIVERABLE), define_fused=define_fused
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"implementation {implementation}" in result.stdout
    assert f"built {optimizer} " in result.stdout
    if implementation == "npu_fused":
        assert "{'lr': 0.1, 'momentum': 0.9, 'nesterov': True}" in result.stdout
    assert ("NpuFusedSGD is not available" in result.stderr) is warned


@pytest.mark.parametrize("device, implementation", [("cuda", "fused"), ("cpu", "stock")])
def test_sgd_implementation_follows_the_device(device, implementation):
    from training import optim

    assert optim.sgd_implementation(device) == implementation


def test_unknown_sgd_implementation_is_refused():
    from training import optim

    with pytest.raises(ValueError, match="unknown SGD implementation"):
        optim.build_sgd([{"params": [torch.nn.Parameter(torch.ones(1))]}], 0.1, 0.9, False, "x")
