# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Saving a run's ``TrainingState`` to ``--output-dir`` and restoring it from a checkpoint.

The file format, seal and atomic write are ``common/checkpoint.py``'s; reading is
``model/weights.py``'s (``read_weights``). This module decides what a run puts in a checkpoint,
refuses to save diverged weights over a good one, and checks that a checkpoint fits the run it
resumes.
"""

from __future__ import annotations

import torch
from common import checkpoint as ckpt
from common.errors import CheckpointError, ExplodedWeightsError
from model.weights import WeightsFile

from training.devices import device_rng_state, set_device_rng_state
from training.distributed import any_rank, gather_objects
from training.run_context import RunContext
from training.training_state import Progress, TrainingState

# Config keys a resumed run must share with its checkpoint: they define the model's tensors.
RESUME_MUST_MATCH = ("arch", "padding", "num_classes")
# Settings a resumed run may change; the user is told which did.
RESUME_MAY_CHANGE = ("epochs", "lr", "batch_size", "world_size", "device", "amp")


def save_checkpoint(ctx: RunContext, state: TrainingState, names: tuple[str, ...]) -> None:
    """Save the full training state on rank 0 (collective: every rank must call it).

    Weights that ``ckpt.unsound_weights`` refuses stop the run instead, on every rank, and
    leave the files in ``--output-dir`` as they were.
    """
    extra = [t for s in state.optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    if state.ema is not None:
        extra += list(state.ema.module.state_dict().values())
    model_state = state.model.state_dict()
    problem = ckpt.unsound_weights(model_state, state.saved_magnitude, extra)
    if any_rank(problem is not None, ctx.device):
        progress = state.progress
        raise ExplodedWeightsError(
            f"the weights diverged by epoch {progress.epoch + 1} step "
            f"{progress.step_in_epoch} (global step {progress.global_step}): "
            f"{problem or 'on another rank'}; training stopped without saving, "
            f"{ctx.output.kept_checkpoint()}; lower --lr, set --clip-grad-norm or check the data"
        )
    rng = gather_objects(ckpt.capture_rng_state(ctx.device, device_rng_state))
    state.saved_magnitude = ckpt.largest_magnitude(model_state)[0]  # on every rank
    if not ctx.env.is_main:
        return
    contents = {
        "kind": ckpt.KIND,
        "format_version": ckpt.FORMAT_VERSION,
        "config": state.record,
        "classes": list(state.classes),
        "model": model_state,
        "optimizer": state.optimizer.state_dict(),
        "scaler": state.scaler.state_dict(),
        "ema": state.ema.state_dict() if state.ema is not None else None,
        "progress": state.progress.as_dict(),
        "rng": rng,
    }
    for name in names:
        ckpt.atomic_save(contents, ctx.output.path / name)


def restore_checkpoint(ctx: RunContext, state: TrainingState, resumed: WeightsFile) -> None:
    """Load ``resumed`` into ``state``: the weights only to evaluate or export, else all of it."""
    obj, path = resumed.contents, resumed.path
    if not resumed.is_training_checkpoint:
        raise CheckpointError(
            f"{path} is a weights file, not a train.py checkpoint; pass it as --pretrained"
        )
    ckpt.check_architecture(obj, path, ctx.config.arch)
    saved = obj["config"]
    for key in RESUME_MUST_MATCH:
        if saved.get(key) != state.record.get(key):
            raise CheckpointError(
                f"{path} was trained with {key}={saved.get(key)!r}, this run has "
                f"{key}={state.record.get(key)!r}; they must match to resume"
            )
    ckpt.check_state_dict_fits(state.model, obj["model"], path)
    try:
        state.model.load_state_dict(obj["model"])
        if not ctx.config.training:
            if state.ema is not None and obj.get("ema") is not None:
                state.ema.load_state_dict(obj["ema"])
            ctx.log(f"loaded the weights of {path}")
            return  # evaluation and export need the weights only, not the training state
        restore_training_state(ctx, state, resumed)
    except (AttributeError, IndexError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        text = str(exc).strip().splitlines()
        raise CheckpointError(
            f"the training state in {path} cannot be restored ({type(exc).__name__}: "
            f"{text[0][:160] if text else ''}); it is damaged or was written by an "
            "incompatible train.py"
        ) from None
    report_resumed(ctx, state, resumed)


def restore_training_state(ctx: RunContext, state: TrainingState, resumed: WeightsFile) -> None:
    """Optimizer, loss scaler, EMA, counters and RNG streams of a checkpoint, into ``state``."""
    obj, path = resumed.contents, resumed.path
    try:
        state.optimizer.load_state_dict(obj["optimizer"])
    except (ValueError, KeyError) as exc:
        raise CheckpointError(
            f"optimizer state in {path} does not fit this run ({exc}); resume with the same "
            "--freeze-backbone and --decay-bn-bias settings"
        ) from None
    state.scaler.load_state_dict(obj["scaler"])
    if state.ema is not None and obj.get("ema") is not None:
        state.ema.load_state_dict(obj["ema"])
    elif state.ema is not None:
        ctx.log("note: the checkpoint has no EMA; the EMA starts from the current weights")
    state.progress = Progress(**obj["progress"])
    saved = obj["config"]
    global_batch = saved["batch_size"] * saved.get("world_size", 1)
    if state.progress.step_in_epoch and global_batch != ctx.global_batch:
        raise CheckpointError(
            f"{path} stopped in the middle of an epoch with a global batch of {global_batch}; "
            f"resume with the same --batch-size and number of processes (now "
            f"{ctx.global_batch})"
        )
    rng = obj.get("rng") or []
    if len(rng) == ctx.env.world_size:
        ckpt.restore_rng_state(rng[ctx.env.rank], ctx.device, set_device_rng_state)
    else:
        ctx.log(f"note: {path} was written by {len(rng)} process(es); random streams restart")
        torch.manual_seed(ctx.config.seed + state.progress.global_step + ctx.env.rank)


def report_resumed(ctx: RunContext, state: TrainingState, resumed: WeightsFile) -> None:
    saved = resumed.contents["config"]
    changed = [
        f"{k} {saved[k]!r} -> {state.record[k]!r}"
        for k in RESUME_MAY_CHANGE
        if k in saved and saved[k] != state.record.get(k)
    ]
    if changed:
        ctx.log("note: resuming with changed settings: " + ", ".join(changed))
    progress = state.progress
    ctx.log(
        f"resumed from {resumed.path}: epoch {progress.epoch + 1}, "
        f"step {progress.step_in_epoch} of the epoch, global step {progress.global_step}"
    )
