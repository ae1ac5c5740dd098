"""Hand-written CPU kernels (``csrc/``), compiled on first use by the machine's C++ compiler.

Why: a few of EfficientNet's CPU training kernels are far slower in oneDNN than the arithmetic
needs. The depthwise weight gradient for 5x5 filters costs about ten times its forward there;
``csrc/depthwise_cpu.cpp`` computes it in about a third of oneDNN's time over B0's layers
(155 ms -> 55 ms per step at batch 32, 224 px, 2 threads).

The build uses ``torch.utils.cpp_extension`` (a C++ compiler and ninja), takes about half a
minute once, and is cached per CPU type (it is compiled for the host's instruction set) in
``TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions``). Without a compiler, or with
``EFFICIENTNET_CPU_KERNELS=0`` in the environment, training runs oneDNN's kernels instead: the
same values to float rounding, only slower. Accelerators (NPU, CUDA) never use these kernels.
"""

from __future__ import annotations

import hashlib
import os
import platform
import threading
import warnings
from pathlib import Path

import torch

SOURCES = [Path(__file__).with_name("csrc") / "depthwise_cpu.cpp"]
SWITCH = "EFFICIENTNET_CPU_KERNELS"  # "0": never build or use them

_lock = threading.Lock()
_module = None
_unavailable: str | None = None


def _cpu_tag() -> str:
    """A short id of the host's instruction set: a build for one CPU may not run on another."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return hashlib.sha1(f"{platform.machine()} {flags}".encode()).hexdigest()[:10]


def load():
    """The compiled kernels, building them on first call; None when they cannot be had."""
    global _module, _unavailable
    if _module is not None or _unavailable is not None:
        return _module
    with _lock:
        if _module is not None or _unavailable is not None:
            return _module
        if os.environ.get(SWITCH, "1") == "0":
            _unavailable = f"{SWITCH}=0"
            return None
        try:
            from torch.utils.cpp_extension import load as build

            _module = build(
                name=f"efficientnet_cpu_kernels_{_cpu_tag()}",
                sources=[str(path) for path in SOURCES],
                extra_cflags=["-O3", "-march=native", "-fopenmp-simd"],
                verbose=False,
            )
        except Exception as exc:  # no compiler, no ninja, a failed build: fall back, loudly
            _unavailable = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            warnings.warn(
                f"EfficientNet CPU kernels unavailable ({_unavailable}); training uses oneDNN's "
                f"slower depthwise weight gradient (set {SWITCH}=0 to skip the build)",
                RuntimeWarning,
                stacklevel=2,
            )
    return _module


def depthwise_weight_grad(
    x: torch.Tensor, grad: torch.Tensor, kernel: int, stride: int, padding: int
) -> torch.Tensor | None:
    """The depthwise weight gradient from the compiled kernel, or None to use oneDNN's."""
    module = load()
    if module is None:
        return None
    return module.depthwise_weight_grad(x, grad, kernel, stride, padding)


__all__ = ["SWITCH", "depthwise_weight_grad", "load"]
