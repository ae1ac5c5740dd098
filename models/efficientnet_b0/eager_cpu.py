"""When the hand-written CPU training paths may replace PyTorch's ops.

Why one place: the fused squeeze-excitation (``squeeze_excite``) and the BatchNorm+SiLU kernel
(``batchnorm_silu``) write their own gradients, so they must stay out of everything that needs
PyTorch's op-by-op graph or other dtypes: ``torch.compile`` (inductor fuses the plain ops
itself), tracing and export, autocast, and other devices (NPU, CUDA), which keep ATen's kernels.
"""

from __future__ import annotations

import torch


def eager_cpu_training(x: torch.Tensor) -> bool:
    """Float32 CPU, autograd recording, eager mode: where the CPU training paths apply."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
        and not torch.jit.is_tracing()
    )


__all__ = ["eager_cpu_training"]
