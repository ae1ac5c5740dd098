# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""When the hand-written CPU paths may replace PyTorch's ops.

Why one place: the fused squeeze-excitation (``squeeze_excite``) and the BatchNorm+SiLU kernel
(``batchnorm_silu``) write their own gradients, and inference folds BatchNorm into oneDNN
convolutions (``folding``), so all of them must stay out of everything that needs PyTorch's
op-by-op graph or other dtypes: ``torch.compile`` (inductor fuses the plain ops itself),
tracing, autocast, and other devices (NPU, CUDA), which keep ATen's kernels.
"""

from __future__ import annotations

import torch


def eager_cpu_float32(x: torch.Tensor) -> bool:
    """Float32 CPU in eager mode: no autocast, not compiling, not tracing.

    What every hand-written CPU path needs, in training (``eager_cpu_training``) and in
    inference (``folding.folding_applies``).
    """
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
        and not torch.jit.is_tracing()
    )


def eager_cpu_training(x: torch.Tensor) -> bool:
    """Float32 CPU, autograd recording, eager mode: where the CPU training paths apply."""
    return torch.is_grad_enabled() and eager_cpu_float32(x)


__all__ = ["eager_cpu_float32", "eager_cpu_training"]
