# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in the parent folder. SPDX-License-Identifier: Apache-2.0
"""CPU acceleration of the plain model, applied by one call: ``accelerate(model)``.

Why apart: the hand-written CPU work (C++ kernels in ``csrc/`` built on first use, autograd
functions with their own backward, BatchNorm folding, a custom op) is what makes CPU training
and inference fast (bench/README.md has the figures), and none of it has any use on an NPU or a
GPU. The model (``model.efficientnet``) never imports this package; ``train.py`` imports it only
for a float32 run on the CPU (``training.training_state``), so on NPU and CUDA nothing of it is
loaded, no custom op is registered and no predicate is evaluated.

``accelerate`` swaps the class of each module it knows for a subclass that adds the fast paths
(``fast_modules``), as ``training.distributed`` swaps BatchNorm for its synchronised form: same
parameters, buffers and state-dict keys, same values to float rounding (tests compare both).
"""

from __future__ import annotations

from torch import nn

from cpu_accel.fast_modules import FAST_CLASSES


def accelerate(model: nn.Module) -> nn.Module:
    """Give ``model``'s modules their CPU fast paths, in place; returns ``model``.

    Only modules of exactly a plain class are swapped (a synchronised BatchNorm keeps its own
    class); calling it twice changes nothing.
    """
    for module in model.modules():
        fast = FAST_CLASSES.get(type(module))
        if fast is not None:
            module.__class__ = fast
    return model


def is_accelerated(model: nn.Module) -> bool:
    """Whether any of ``model``'s modules runs a CPU fast path."""
    fast = set(FAST_CLASSES.values())
    return any(type(module) in fast for module in model.modules())


__all__ = ["accelerate", "is_accelerated"]
