# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Hand-written CPU kernels (``csrc/``), compiled on first use by the machine's C++ compiler.

Why: a few of EfficientNet's CPU kernels are far slower in PyTorch than the arithmetic needs.
The depthwise weight gradient for 5x5 filters costs about ten times its forward in oneDNN
(``csrc/depthwise_cpu.cpp``); BatchNorm followed by SiLU is two ATen ops that pass over the
activation about thirteen times in a training step where nine do
(``csrc/batchnorm_silu_cpu.cpp``, used through ``batchnorm_silu``); in inference, a block's
five layers write and re-read the network's largest activations four times where none is
needed (``csrc/mbconv_cpu.cpp``, used through ``fused_block``).

The build uses ``torch.utils.cpp_extension`` (a C++ compiler and ninja) with OpenMP, so the
kernels run on PyTorch's threads (``torch.set_num_threads``; the library is the one PyTorch
loaded). It takes about a minute once and is cached in ``TORCH_EXTENSIONS_DIR`` (default
``~/.cache/torch_extensions``) under a name made of the CPU type (it is compiled for the host's
instruction set) and a digest of the sources, so neither another CPU nor another version of
these files ever gets a stale build. Without a compiler, or with ``EFFICIENTNET_CPU_KERNELS=0``
in the environment, training and inference run PyTorch's kernels instead: the same values to
float rounding, only slower. Accelerators (NPU, CUDA) never use these kernels.

Two of the kernels, the BatchNorm+SiLU and the whole-block one, hold 16-lane vectors in
registers: on a CPU without AVX-512 (an AVX2 build has half the registers, each half the width)
they ran slower than PyTorch's kernels, so there they are not used (``load(WIDE_VECTORS)``), and
the depthwise weight gradient, which is faster everywhere, still is (bench/README.md has the
figures). ``EFFICIENTNET_CPU_KERNELS=1`` uses every kernel on any CPU: the tests set it, so the
kernels' paths are checked wherever the tests run.
"""

from __future__ import annotations

import hashlib
import os
import platform
import threading
import warnings
from pathlib import Path

import torch

CSRC = Path(__file__).with_name("csrc")
SOURCES = [
    CSRC / "bindings.cpp",
    CSRC / "depthwise_cpu.cpp",
    CSRC / "batchnorm_silu_cpu.cpp",
    CSRC / "mbconv_cpu.cpp",
]
SWITCH = "EFFICIENTNET_CPU_KERNELS"  # "0": never build or use them; "1": use all, on any CPU
WIDE_VECTORS = 512  # bits: what the kernels with 16-lane register blocking are written for

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


def _source_digest() -> str:
    """A digest of every file in ``csrc`` (headers too, which the build's own check misses)."""
    digest = hashlib.sha1()
    for path in sorted(CSRC.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:8]


def load(min_vector_bits: int = 0):
    """The compiled kernels, building them on first call; None when they cannot be had.

    ``min_vector_bits``: None also when the build's vectors are narrower than that (a kernel
    tuned for wider ones would be slower than PyTorch's here), unless ``SWITCH`` is "1".
    """
    module = _built()
    if module is None or min_vector_bits <= 0 or os.environ.get(SWITCH) == "1":
        return module
    return module if module.vector_bits() >= min_vector_bits else None


def _built():
    """The compiled kernels, built once per process; None when they cannot be had."""
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
                name=f"efficientnet_cpu_kernels_{_cpu_tag()}_{_source_digest()}",
                sources=[str(path) for path in SOURCES],
                extra_cflags=["-O3", "-march=native", "-fopenmp"],
                extra_ldflags=["-fopenmp"],
                verbose=False,
            )
        except Exception as exc:  # no compiler, no ninja, a failed build: fall back, loudly
            _unavailable = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            warnings.warn(
                f"EfficientNet CPU kernels unavailable ({_unavailable}); PyTorch's slower "
                f"kernels are used instead (set {SWITCH}=0 to skip the build)",
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


__all__ = ["SWITCH", "WIDE_VECTORS", "depthwise_weight_grad", "load"]
