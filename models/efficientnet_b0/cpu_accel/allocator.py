# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Keep freed host memory in the process, so CPU training does not page-fault every step.

Why: PyTorch's CPU tensors come straight from ``malloc``. glibc serves every block over its
mmap threshold (at most 32 MB) with a fresh ``mmap`` and returns it with ``munmap`` when the
tensor dies, so each training step maps, zero-fills and unmaps every large activation again:
about 3 GB per step for EfficientNet-B0 at batch 32, 224 px, a large part of the step
(measured in bench/README.md).
Serving large blocks from the heap and never trimming it (``M_MMAP_MAX=0``,
``M_TRIM_THRESHOLD`` at its maximum) lets the next step reuse the same pages, which is what
jemalloc or tcmalloc under ``LD_PRELOAD`` would give, without a preload or a new dependency.

The price: memory freed by the process stays in it (the resident size stays at the peak of the
run), which is what a training process wants anyway. It changes glibc's settings for the whole
process, so it is applied once, at start-up, by the training entry point and only for CPU runs;
elsewhere (macOS, musl, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1  # mallopt takes an int


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # musl has no mallopt; glibc alone has gnu_get_libc_version.
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def retain_freed_memory() -> bool:
    """Make glibc keep freed blocks for reuse; True when the settings took effect."""
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, _INT_MAX))


__all__ = ["retain_freed_memory"]
