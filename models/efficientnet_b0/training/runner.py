# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""What ``train.py`` does once its arguments are parsed: set up, then evaluate, export or train.

The parts live in their own modules: ``run_config`` (the typed configuration), ``output_folder``
(which checkpoint to resume, never overwriting a run), ``weights`` (reading any weights file and
the network it needs), ``training_state`` and ``checkpointing`` (what a checkpoint holds, saving
and restoring it), ``training_loop`` (the epochs) and ``export`` (ONNX). This module wires them
in the order a run needs them.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import torch
from common.errors import CheckpointError, ConfigError, TrainingError
from data_pipeline.demo_dataset import ensure_demo_dataset
from data_pipeline.image_folder import (
    IMAGENET_TRAIN_IMAGES,
    Loaders,
    SyntheticBatches,
    build_image_loaders,
    eval_resize_size,
)
from data_pipeline.on_device import build_device_image_loaders
from model import weights
from model.efficientnet import build_model, recommended_memory_format

from training.checkpointing import restore_checkpoint
from training.devices import plan_precision, resolve_device
from training.distributed import (
    DistEnv,
    backend_for,
    barrier,
    broadcast_object,
    destroy_process_group,
    init_process_group,
    read_env,
)
from training.output_folder import OutputFolder
from training.run_config import RunConfig
from training.run_context import RunContext
from training.training_loop import EXIT_OK, TrainingLoop, evaluate_on
from training.training_state import TrainingState, build_training_state


def on_all_ranks(env: DistEnv, work):
    """Run ``work`` on rank 0 and share its result or its ``TrainingError`` with every rank.

    Keeps ranks in step: a check that fails on rank 0 (an existing run in the output folder, a
    folder it cannot write) stops every rank with the same message instead of leaving the others
    waiting in a collective.
    """
    outcome: tuple[str, object] = ("ok", None)
    if env.is_main:
        try:
            outcome = ("ok", work())
        except TrainingError as exc:
            outcome = (type(exc).__name__, str(exc))
    outcome = broadcast_object(outcome)
    if outcome[0] != "ok":
        kinds = {cls.__name__: cls for cls in (ConfigError, CheckpointError, TrainingError)}
        raise kinds.get(outcome[0], TrainingError)(outcome[1])
    return outcome[1]


# ----------------------------------------------------------------------------------- data
def loader_workers(ctx: RunContext) -> int:
    if ctx.config.workers is not None:
        return ctx.config.workers
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    per_device = max(1, (cpus or 1) // max(1, ctx.env.world_size))
    return min(8, per_device)


def dataset_root(ctx: RunContext) -> Path | None:
    """The image folder to read, None for synthetic batches; draws the demo images if needed."""
    config = ctx.config
    kind = config.dataset
    if kind == "auto":
        kind = "imagefolder" if config.data else "demo"
    if kind == "synthetic":
        return None
    if kind == "imagefolder":
        return Path(str(config.data)).expanduser()
    root = Path(config.demo_root)
    # One process per machine draws the images; the others wait, then find them. A failure
    # on that process is re-raised after the barrier, so no rank is left waiting in it.
    failure: TrainingError | None = None
    if ctx.env.local_rank == 0:
        try:
            ensure_demo_dataset(root, log=ctx.log)
        except TrainingError as exc:
            failure = exc
    barrier()
    if failure is not None:
        raise failure
    return ensure_demo_dataset(root, log=ctx.log)


def build_loaders(ctx: RunContext, num_classes_hint: int | None) -> Loaders:
    config, env = ctx.config, ctx.env
    root = dataset_root(ctx)
    if root is None:
        classes = config.num_classes or num_classes_hint or 1000
        length = config.limit_train_batches or math.ceil(
            IMAGENET_TRAIN_IMAGES / (config.batch_size * env.world_size)
        )
        synthetic = SyntheticBatches(
            config.batch_size,
            config.image_size,
            classes,
            length,
            ctx.device,
            config.seed + env.rank,
        )
        return Loaders(synthetic, None, tuple(str(i) for i in range(classes)), None)
    options = dict(
        batch_size=config.batch_size,
        image_size=config.image_size,
        resize_size=eval_resize_size(config.image_size, config.crop_fraction),
        crop_scale_min=config.crop_scale_min,
        auto_augment=config.auto_augment,
        workers=loader_workers(ctx),
        on_corrupt=config.on_corrupt,
        seed=config.seed,
        rank=env.rank,
        world_size=env.world_size,
    )
    if config.data_pipeline == "device":
        return build_device_image_loaders(root, device=ctx.device, **options)
    return build_image_loaders(root, pin_memory=ctx.device.type != "cpu", **options)


# -------------------------------------------------------------------------------- weights
def read_weights(ctx: RunContext, path: Path, fmt: str = "auto") -> weights.WeightsFile:
    """``weights.read_weights``, telling the user when nothing proves the contents intact."""
    loaded = weights.read_weights(path, fmt)
    if not loaded.verified:
        ctx.log(
            f"note: {path} carries no sha256 seal (written by another program or an older "
            "train.py): its contents are unverified"
        )
    return loaded


def read_pretrained(ctx: RunContext) -> weights.WeightsFile:
    """``--pretrained``, read by the one reader, and refused if it is another variant."""
    path = Path(str(ctx.config.pretrained)).expanduser()
    pretrained = read_weights(ctx, path, ctx.config.pretrained_format)
    arch = pretrained.arch
    if arch is not None and arch != ctx.config.arch:
        raise CheckpointError(
            f"{path} holds {arch} weights, but this run builds {ctx.config.arch}; "
            f"pass --arch {arch}"
        )
    return pretrained


def model_settings(config: RunConfig, source: weights.WeightsFile | None) -> weights.ModelSettings:
    """``--padding`` when given, else the rule of ``weights.settings_for`` for the weights."""
    if config.padding != "auto":
        return weights.ModelSettings.for_padding(config.padding)
    if source is None:
        return weights.settings_for("ours")
    return source.settings


def build_network(config: RunConfig, num_classes: int, settings: weights.ModelSettings):
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    return build_model(
        config.arch,
        num_classes=num_classes,
        padding=settings.padding,
        bn_eps=settings.bn_eps,
        bn_momentum=settings.bn_momentum,
        image_size=config.image_size,
        drop_rate=config.drop_rate,
        drop_path_rate=config.drop_path_rate,
        zero_init_last_bn=config.zero_init_last_bn,
    )


# ------------------------------------------------------------------------------ main flow
def resume_source(ctx: RunContext) -> Path | None:
    """The checkpoint to resume, after checking the output folder may take this run."""
    config = ctx.config
    resume_path = ctx.output.resume_path(config.resume)
    if config.resume == "auto" and resume_path is None:
        ctx.log(f"no {ctx.output.last} yet: starting a new run")
    if resume_path is not None and not resume_path.is_file():
        raise CheckpointError(f"checkpoint {resume_path} does not exist")
    if config.training:
        on_all_ranks(ctx.env, lambda: ctx.output.prepare(resume_path))
    return resume_path


def class_count(ctx: RunContext, loaders: Loaders | None, recorded) -> int:
    config = ctx.config
    if loaders is None:  # export: no data
        return config.num_classes or (recorded.num_classes if recorded else None) or 1000
    num_classes = len(loaders.classes)
    if config.num_classes is not None and config.num_classes != num_classes:
        raise ConfigError(
            f"--num-classes {config.num_classes} but the dataset has {num_classes} classes"
        )
    return num_classes


def prepare_state(ctx: RunContext) -> tuple[TrainingState, Loaders | None]:
    """The training state with the weights the run starts from, and the loaders (not to export)."""
    config = ctx.config
    resume_path = resume_source(ctx)
    pretrained = read_pretrained(ctx) if config.pretrained else None
    # A resume file is train.py's by definition; restore_checkpoint refuses anything else.
    resumed = read_weights(ctx, resume_path, "ours") if resume_path is not None else None
    loaders = None
    if not config.export_onnx:
        loaders = build_loaders(ctx, pretrained.num_classes if pretrained else None)
    num_classes = class_count(ctx, loaders, resumed or pretrained)
    settings = model_settings(config, resumed or pretrained)
    model = build_network(config, num_classes, settings)
    if pretrained is not None:
        weights.load_weights_into(model, pretrained, allow_new_head=True)
        ctx.log(f"loaded {pretrained.format} weights from {config.pretrained}")
    del pretrained  # the host copy is in the model now
    record = config.record(settings.padding, num_classes, ctx.env.world_size)
    classes = loaders.classes if loaders is not None else ()
    state = build_training_state(ctx, model, record, classes)
    if resumed is not None:
        restore_checkpoint(ctx, state, resumed)
    ctx.log(
        f"{config.arch}: {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{num_classes} classes, padding {settings.padding}; device {ctx.device} x "
        f"{ctx.env.world_size}, {ctx.plan.description}, {state.sgd_implementation} SGD"
        + (", channels_last" if ctx.channels_last else "")
        + (", CPU acceleration" if state.cpu_accelerated else "")
    )
    return state, loaders


def export_run(ctx: RunContext, state: TrainingState, path: Path) -> int:
    """Rank 0 writes the ONNX file of the run's weights (the EMA's with ``--ema``)."""
    from export import onnx_export as export

    if ctx.env.is_main:
        model = state.weights_to_export.cpu().eval()
        try:
            result = export.export_onnx(model, path, image_size=ctx.config.image_size)
        except export.OnnxExportError as exc:
            raise ConfigError(str(exc)) from None
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
        ctx.log(
            f"exported {path} (onnxruntime matches PyTorch to {result.max_abs_diff:.2g}, "
            f"opset {result.opset})"
        )
    return EXIT_OK


def execute(ctx: RunContext) -> int:
    state, loaders = prepare_state(ctx)
    config = ctx.config
    if config.export_onnx:
        return export_run(ctx, state, Path(config.export_onnx))
    assert loaders is not None  # built for everything but export
    if config.evaluate:
        result = evaluate_on(ctx, loaders, state.model)
        ctx.log(
            f"evaluation: top-1 {result.top1:.2f}  top-5 {result.top5:.2f}  "
            f"loss {result.loss:.4f}  ({result.images} images)"
        )
        return EXIT_OK
    return TrainingLoop(ctx, state, loaders).run()


def make_context(config: RunConfig, env: DistEnv, device: torch.device, started: float):
    channels_last = (
        config.channels_last
        if config.channels_last is not None
        else recommended_memory_format(device.type) == torch.channels_last
    )
    return RunContext(
        config=config,
        env=env,
        device=device,
        plan=plan_precision(device.type, config.amp, config.amp_dtype, config.loss_scale),
        channels_last=channels_last,
        output=OutputFolder(config.output_dir),
        started=started,
    )


def run(args) -> int:
    """Set up the device and process group for ``args``, run, and always leave the group."""
    started = time.time()
    config = RunConfig.from_args(args)
    env = read_env()
    device = resolve_device(config.device, env.local_rank)
    if device.type == "cpu" and config.cpu_allocator == "retain":
        from cpu_accel.allocator import retain_freed_memory

        retain_freed_memory()  # before the first large tensor; see cpu_accel.allocator
    if device.type == "cuda":
        # Every training batch has one shape (fixed crop), so cuDNN's autotuner times each
        # convolution's algorithms once and keeps the fastest; the bench turns it on for all.
        torch.backends.cudnn.benchmark = True
    init_process_group(env, device, backend_for(device.type, config.dist_backend))
    try:
        return execute(make_context(config, env, device, started))
    finally:
        destroy_process_group()


__all__ = ["execute", "run"]
