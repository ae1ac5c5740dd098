# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Device selection, mixed precision and loss scaling for NPU, CUDA and CPU.

``torch_npu`` (the Ascend adapter) is imported only when an NPU is asked for or probed, so this
module and the whole pipeline import and run on machines without it. Mixed precision is one flag
(``--amp``); what it means depends on the device:

==========  =================  =============================================================
device      --amp-dtype auto   loss scaling (``--loss-scale auto``)
==========  =================  =============================================================
npu         float16            static 128 (the Ascend 910 needs a static scale)
cuda        float16            dynamic (start 65536, x2 every 2000 clean steps, /2 on overflow)
cpu         bfloat16           none (bfloat16 has float32's range)
==========  =================  =============================================================

The loss scaler is our own small class rather than ``torch.amp.GradScaler`` because it must do
both static and dynamic scaling identically on every device (GradScaler cannot hold a static
scale: its growth factor must exceed 1), and because it can then be tested on a CPU.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass

import torch
from common.errors import ConfigError, DeviceError

DEVICE_KINDS = ("auto", "npu", "cuda", "cpu")
NPU_STATIC_LOSS_SCALE = 128.0
DYNAMIC_INITIAL_SCALE = 65536.0
DYNAMIC_GROWTH_INTERVAL = 2000


def import_torch_npu():
    """Import torch_npu, or return None when it is not installed."""
    try:
        return importlib.import_module("torch_npu")
    except ImportError:
        return None


def npu_available() -> bool:
    if import_torch_npu() is None:
        return False
    npu = getattr(torch, "npu", None)
    return bool(npu is not None and npu.is_available())


def resolve_device(requested: str, local_rank: int = 0) -> torch.device:
    """Turn ``--device`` into a concrete device for this process and make it current.

    ``auto`` prefers NPU, then CUDA, then CPU. An explicit device that is not usable raises
    ``DeviceError`` with one sentence that says why and what to do.
    """
    if requested not in DEVICE_KINDS:
        raise ConfigError(f"--device must be one of {', '.join(DEVICE_KINDS)}, not {requested!r}")
    if requested == "auto":
        if npu_available():
            requested = "npu"
        elif torch.cuda.is_available():
            requested = "cuda"
        else:
            requested = "cpu"
    if requested == "npu":
        if import_torch_npu() is None:
            raise DeviceError(
                "--device npu needs torch_npu, the Ascend PyTorch adapter, which is not installed "
                "here: install the torch_npu that matches this torch and your CANN toolkit "
                "(see requirements.txt), or choose --device cuda or --device cpu"
            )
        if not torch.npu.is_available():
            raise DeviceError(
                "--device npu: torch_npu is installed but sees no NPU; check the driver, "
                "that CANN's set_env.sh was sourced (test/env_npu.sh does it) and "
                "ASCEND_RT_VISIBLE_DEVICES"
            )
        return _claim(torch.npu, "npu", "NPU", local_rank)
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                "--device cuda: no CUDA GPU is visible to this torch build; "
                "check the driver and CUDA_VISIBLE_DEVICES, or choose --device cpu"
            )
        return _claim(torch.cuda, "cuda", "GPU", local_rank)
    return torch.device("cpu")


def _claim(backend, kind: str, label: str, local_rank: int) -> torch.device:
    """Device ``local_rank`` of ``backend`` (``torch.npu``, ``torch.cuda``), made current.

    One device per process: torchrun's local rank picks it, so a rank beyond the visible
    devices is a launch error, reported before any work starts.
    """
    count = backend.device_count()
    if local_rank >= count:
        raise DeviceError(
            f"local rank {local_rank} needs {label} {local_rank}; only {count} visible"
        )
    device = torch.device(f"{kind}:{local_rank}")
    backend.set_device(device)
    return device


@dataclass(frozen=True)
class PrecisionPlan:
    """What ``--amp``/``--amp-dtype``/``--loss-scale`` mean on one device."""

    device_type: str
    autocast_dtype: torch.dtype | None  # None: plain float32
    loss_scale_mode: str  # "none" | "static" | "dynamic"
    initial_scale: float

    @property
    def description(self) -> str:
        if self.autocast_dtype is None:
            return "float32"
        dtype = str(self.autocast_dtype).removeprefix("torch.")
        scale = {
            "none": "no loss scaling",
            "static": f"static loss scale {self.initial_scale:g}",
            "dynamic": f"dynamic loss scale from {self.initial_scale:g}",
        }[self.loss_scale_mode]
        return f"mixed precision {dtype} autocast, {scale}"


def plan_precision(device_type: str, amp: bool, amp_dtype: str, loss_scale: str) -> PrecisionPlan:
    """Decide autocast dtype and loss scaling; a pure function so it is tested for every device."""
    if not amp:
        return PrecisionPlan(device_type, None, "none", 1.0)
    dtypes = {"float16": torch.float16, "bfloat16": torch.bfloat16}
    if amp_dtype == "auto":
        dtype = torch.bfloat16 if device_type == "cpu" else torch.float16
    elif amp_dtype in dtypes:
        dtype = dtypes[amp_dtype]
    else:
        raise ConfigError(f"--amp-dtype must be auto, float16 or bfloat16, not {amp_dtype!r}")
    if loss_scale == "auto":
        if dtype == torch.bfloat16:
            return PrecisionPlan(device_type, dtype, "none", 1.0)
        if device_type == "npu":
            return PrecisionPlan(device_type, dtype, "static", NPU_STATIC_LOSS_SCALE)
        return PrecisionPlan(device_type, dtype, "dynamic", DYNAMIC_INITIAL_SCALE)
    if loss_scale == "dynamic":
        return PrecisionPlan(device_type, dtype, "dynamic", DYNAMIC_INITIAL_SCALE)
    if loss_scale == "none":
        return PrecisionPlan(device_type, dtype, "none", 1.0)
    try:
        value = float(loss_scale)
    except ValueError:
        raise ConfigError(
            f"--loss-scale must be auto, dynamic, none or a positive number, not {loss_scale!r}"
        ) from None
    if not value > 0 or value != value or value == float("inf"):
        raise ConfigError(f"--loss-scale must be a positive finite number, not {loss_scale!r}")
    return PrecisionPlan(device_type, dtype, "static", value)


def autocast(plan: PrecisionPlan):
    """The autocast context for ``plan`` (a no-op context for float32)."""
    if plan.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=plan.device_type, dtype=plan.autocast_dtype)


class LossScaler:
    """Scales the loss before backward and unscales gradients before the optimiser step.

    ``static``: a fixed scale; a step whose gradients overflow is skipped. ``dynamic``: the scale
    halves on overflow (step skipped, never below 1) and doubles after ``growth_interval`` clean
    steps. ``none``: no scaling, but a step with non-finite gradients is still skipped.
    Gradients are identical on every DDP rank after all-reduce, so every rank takes the same skip
    decision without extra communication.

    The scale, the overflow flag and the counters live on the device as tensors, so checking and
    adapting cost no host sync. Skipping the step costs none either when the optimiser can skip
    on the device (``_step_supports_amp_scaling``: torch's fused SGD, used on CUDA); any other
    optimiser (the stock SGD on CPU, torch_npu's NpuFusedSGD, which takes no ``found_inf``) needs
    one host read of the flag per step, as ``torch.amp.GradScaler`` does for such optimisers.
    ``scale``, ``skipped_steps`` and ``state_dict`` read the device: call them at log intervals
    and checkpoints, not per step.
    """

    def __init__(
        self,
        mode: str,
        initial_scale: float = 1.0,
        growth_interval: int = DYNAMIC_GROWTH_INTERVAL,
        device: torch.device | str = "cpu",
    ) -> None:
        if mode not in ("none", "static", "dynamic"):
            raise ValueError(f"unknown loss scale mode {mode!r}")
        self.mode = mode
        self.growth_interval = growth_interval
        self.device = torch.device(device)
        start = float(initial_scale) if mode != "none" else 1.0
        self._scale = torch.full((1,), start, dtype=torch.float32, device=self.device)
        self._clean_steps = torch.zeros(1, dtype=torch.int32, device=self.device)
        self._skipped_steps = torch.zeros(1, dtype=torch.int64, device=self.device)

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    @property
    def scale(self) -> float:
        return float(self._scale.item())

    @property
    def clean_steps(self) -> int:
        return int(self._clean_steps.item())

    @property
    def skipped_steps(self) -> int:
        return int(self._skipped_steps.item())

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        return loss * self._scale.to(loss.device).squeeze() if self.enabled else loss

    def unscale_(self, optimizer: torch.optim.Optimizer) -> torch.Tensor:
        """Divide gradients by the scale in place; return ``found_inf`` (1.0 if any is not finite).

        ``found_inf`` is a one-element float tensor on the device, the form torch's fused
        optimisers take; nothing is read back to the host.
        """
        found_inf = torch.zeros(1, dtype=torch.float32, device=self.device)
        inverse = (1.0 / self._scale) if self.enabled else torch.ones_like(self._scale)
        by_dtype: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    grad = param.grad
                    by_dtype.setdefault((grad.device, grad.dtype), []).append(grad)
        for (device, _), grads in by_dtype.items():
            found_here = found_inf.to(device)
            torch._amp_foreach_non_finite_check_and_unscale_(grads, found_here, inverse.to(device))
            if found_here.device != found_inf.device:
                found_inf = torch.maximum(found_inf, found_here.to(found_inf.device))
            else:
                found_inf = found_here
        return found_inf

    def step(self, optimizer: torch.optim.Optimizer, found_inf: torch.Tensor) -> None:
        """Take the optimiser step unless ``found_inf``; on the device where the optimiser can."""
        if getattr(optimizer, "_step_supports_amp_scaling", False):
            optimizer.found_inf = found_inf  # type: ignore[attr-defined]
            try:
                optimizer.step()
            finally:
                del optimizer.found_inf  # type: ignore[attr-defined]
        elif not bool(found_inf.item()):
            optimizer.step()

    def update(self, found_inf: torch.Tensor | bool) -> None:
        """Record one step's outcome (``found_inf``, or a bool: whether it overflowed) and adapt."""
        if not isinstance(found_inf, torch.Tensor):
            found_inf = torch.full((1,), float(found_inf), device=self.device)
        found_inf = found_inf.to(self.device, torch.float32)
        self._skipped_steps += found_inf.to(torch.int64)
        if self.mode == "dynamic":
            torch._amp_update_scale_(
                self._scale, self._clean_steps, found_inf, 2.0, 0.5, self.growth_interval
            )
            self._scale.clamp_(min=1.0)
        else:
            clean = (found_inf == 0).to(torch.int32)
            self._clean_steps.add_(1).mul_(clean)

    def state_dict(self) -> dict:
        return {
            "mode": self.mode,
            "scale": self.scale,
            "growth_interval": self.growth_interval,
            "clean_steps": self.clean_steps,
            "skipped_steps": self.skipped_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        self._scale.fill_(float(state["scale"]))
        self._clean_steps.fill_(int(state["clean_steps"]))
        self._skipped_steps.fill_(int(state["skipped_steps"]))


def device_rng_state(device: torch.device) -> torch.Tensor | None:
    """The RNG state of the accelerator ``device`` (None on CPU)."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    if device.type == "npu":
        return torch.npu.get_rng_state(device)
    return None


def set_device_rng_state(device: torch.device, state: torch.Tensor | None) -> None:
    if state is None:
        return
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    elif device.type == "npu":
        torch.npu.set_rng_state(state, device)


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so wall-clock throughput is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "npu":
        torch.npu.synchronize(device)
