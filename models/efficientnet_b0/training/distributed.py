# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Data-parallel training under torchrun: environment, process group, DDP, batch and LR scaling.

Launch with torchrun, which sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT:

  one machine, 8 devices:
    torchrun --nproc_per_node 8 train.py ...
  several machines (run on each; node 0's address is the rendezvous point):
    torchrun --nnodes 2 --node_rank <0|1> --nproc_per_node 8 \\
             --master_addr <node0 ip> --master_port 29500 train.py ...
  or elastic rendezvous:
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d \\
             --rdzv_endpoint <node0 ip>:29500 --rdzv_id <job id> train.py ...

The backend follows the device: hccl on NPU, nccl on CUDA, gloo on CPU. ``--batch-size`` is per
device; the global batch is batch x world size and the learning rate scales linearly from the
reference batch 256 (Goyal et al., 2017), so one recipe serves 1 and 8 devices.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from common.errors import ConfigError
from torch import nn

REFERENCE_BATCH = 256
BACKEND_FOR_DEVICE = {"npu": "hccl", "cuda": "nccl", "cpu": "gloo"}


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job (one process per device)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def read_env(environ: Mapping[str, str] = os.environ) -> DistEnv:
    """Read torchrun's variables; absent variables mean a single process."""

    def number(name: str, default: int) -> int:
        text = environ.get(name)
        if text is None or text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"environment variable {name}={text!r} is not an integer") from None

    world_size = number("WORLD_SIZE", 1)
    rank = number("RANK", 0)
    local_rank = number("LOCAL_RANK", rank if world_size > 1 else 0)
    if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
        raise ConfigError(
            f"inconsistent torchrun environment: RANK={rank} LOCAL_RANK={local_rank} "
            f"WORLD_SIZE={world_size}"
        )
    if world_size > 1 and not environ.get("MASTER_ADDR"):
        raise ConfigError(
            "WORLD_SIZE > 1 but MASTER_ADDR is not set: launch with torchrun "
            "(see test/train_full_8p.sh)"
        )
    return DistEnv(rank=rank, local_rank=local_rank, world_size=world_size)


def backend_for(device_type: str, requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    return BACKEND_FOR_DEVICE[device_type]


def init_process_group(env: DistEnv, device: torch.device, backend: str) -> None:
    """Join the job's process group (no-op for a single process)."""
    if not env.is_distributed or dist.is_initialized():
        return
    kwargs = {}
    if device.type == "cuda":  # torch_npu binds the device through torch.npu.set_device
        kwargs["device_id"] = device
    dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size, **kwargs)


def destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def scaled_learning_rate(
    base_lr: float, global_batch: int, rule: str, reference_batch: int = REFERENCE_BATCH
) -> float:
    """``base_lr`` is the LR for ``reference_batch``; ``linear`` scales it with the global batch."""
    if rule == "none":
        return base_lr
    if rule == "linear":
        return base_lr * global_batch / reference_batch
    raise ConfigError(f"--lr-scaling must be linear or none, not {rule!r}")


class _DifferentiableAllReduce(torch.autograd.Function):
    """Sum over ranks whose gradient is again the sum over ranks (each rank's loss depends on
    every rank's contribution to a global statistic)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total


class AllReduceBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Normalisation over the global batch for CPU processes (gloo), where PyTorch's
    SyncBatchNorm refuses to run.

    Batch statistics are all-reduced with a differentiable all-reduce (mean first, then the
    centred second moment, for accuracy), so autograd yields the exact gradient of BN over the
    global batch. Running statistics use the unbiased global variance, as BatchNorm does.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        all_reduce = _DifferentiableAllReduce.apply
        dims = (0, 2, 3)
        count = float(x.numel() // x.shape[1]) * dist.get_world_size()
        mean = all_reduce(x.sum(dims)) / count
        centred = x - mean[None, :, None, None]
        var = all_reduce((centred * centred).sum(dims)) / count
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                unbiased = var * (count / max(count - 1.0, 1.0))
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(unbiased.detach(), momentum)
        return y


class NativeSyncBatchNorm(nn.SyncBatchNorm):
    """PyTorch's SyncBatchNorm (CUDA, and NPU through torch_npu), as a mix-in."""


_SYNCED_CLASSES: dict[tuple[type, type], type] = {}


def _synced_class(norm_class: type, sync_class: type) -> type:
    """``norm_class`` with its normalisation step replaced by ``sync_class``'s.

    The model's norm layers may add behaviour around BatchNorm (the EfficientNet's
    ``BatchNormAct2d`` applies SiLU after ``super().forward``). Putting the synchronised
    normalisation *behind* the layer's own class in the method order keeps that behaviour, the
    attributes and the state-dict keys, where ``nn.SyncBatchNorm.convert_sync_batchnorm`` would
    replace the layer by a plain SyncBatchNorm and silently drop the activation.
    """
    key = (norm_class, sync_class)
    if key not in _SYNCED_CLASSES:
        _SYNCED_CLASSES[key] = type(f"Synced{norm_class.__name__}", (norm_class, sync_class), {})
    return _SYNCED_CLASSES[key]


def convert_sync_batchnorm(module: nn.Module, device_type: str = "cuda") -> nn.Module:
    """Make every BatchNorm layer of ``module`` normalise over the global batch, in place.

    PyTorch's SyncBatchNorm on accelerators, ``AllReduceBatchNorm`` on CPU.
    """
    sync_class = AllReduceBatchNorm if device_type == "cpu" else NativeSyncBatchNorm
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and not isinstance(
            layer, (nn.SyncBatchNorm, AllReduceBatchNorm)
        ):
            layer.__class__ = _synced_class(type(layer), sync_class)
            layer.process_group = None  # SyncBatchNorm's attribute: the whole world
    return module


def wrap_model(model: nn.Module, env: DistEnv, device: torch.device, sync_bn: bool) -> nn.Module:
    """DDP-wrap ``model`` (after optional SyncBatchNorm conversion); identity for one process.

    The conversion happens in place, so ``model`` itself keeps the synchronised layers.
    """
    if not env.is_distributed:
        return model
    if sync_bn:
        model = convert_sync_batchnorm(model, device.type)
    device_ids = [device.index] if device.type in ("cuda", "npu") else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum ``values`` over all ranks (identity for one process)."""
    if not dist.is_initialized():
        return list(values)
    tensor = torch.tensor(
        values, dtype=torch.float64 if device.type == "cpu" else torch.float32, device=device
    )
    dist.all_reduce(tensor)
    return tensor.tolist()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on some rank (stop requests, errors)."""
    if not dist.is_initialized():
        return flag
    return all_reduce_sum([1.0 if flag else 0.0], device)[0] > 0


def gather_objects(obj) -> list:
    """Every rank's ``obj``, in rank order (``[obj]`` for one process)."""
    if not dist.is_initialized():
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def parameter_checksum(model: nn.Module) -> float:
    """A position-weighted float64 sum of the parameters, to compare replicas across ranks.

    Buffers are left out: without SyncBatchNorm each rank's BN running statistics differ by
    design between DDP's broadcasts of rank 0's buffers.
    """
    with torch.no_grad():
        return float(
            sum(
                p.detach().double().sum().item() * (i + 1) for i, p in enumerate(model.parameters())
            )
        )


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside torch.compile and DDP wrappers."""
    model = getattr(model, "_orig_mod", model)
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
