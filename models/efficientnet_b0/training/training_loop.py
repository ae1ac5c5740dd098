# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""The epoch loop: steps, logging, metrics, EMA, interval saves, evaluation, stopping on a signal.

``TrainingLoop`` is made with everything it uses (the run's context and training state, the
loaders, the schedule, the metrics file) and ``run()`` trains from ``state.progress`` to the last
epoch. Counters live in ``state.progress`` between steps so that a checkpoint written at any save
point (interval, epoch end, SIGTERM) continues the run exactly.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from dataclasses import dataclass

import torch
from common import checkpoint as ckpt
from common.errors import ConfigError, NonFiniteLossError
from data_pipeline.image_folder import Loaders

from training.checkpointing import save_checkpoint
from training.devices import synchronize
from training.distributed import any_rank, gather_objects, parameter_checksum
from training.engine import EvalResult, StepResult, evaluate, to_device, train_step
from training.optim import cosine_lr, set_lr
from training.reporting import (
    EpochProgress,
    MetricsLog,
    RunSummary,
    Throughput,
    case_name,
    progress_enabled,
    write_case_log,
)
from training.run_context import RunContext
from training.training_state import Progress, TrainingState

EXIT_OK = 0
STOP_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopRequest:
    """Remembers SIGTERM/SIGINT so the loop can save a checkpoint and leave between steps."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, _frame) -> None:
        self.signal = signum

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()


@dataclass(frozen=True)
class Schedule:
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int

    @classmethod
    def of(cls, ctx: RunContext, loaders: Loaders) -> Schedule:
        config = ctx.config
        full_epoch = len(loaders.train)
        steps_per_epoch = min(full_epoch, config.limit_train_batches or full_epoch)
        if steps_per_epoch < 1:
            raise ConfigError("the training set yields no full batch; lower --batch-size")
        total_steps = steps_per_epoch * config.epochs
        warmup_steps = min(round(config.warmup_epochs * steps_per_epoch), total_steps)
        return cls(steps_per_epoch, total_steps, warmup_steps)


class EpochSums:
    """Loss and accuracy sums kept on the device between log lines (no host sync per step)."""

    def __init__(self, device: torch.device) -> None:
        self.interval_loss = torch.zeros((), dtype=torch.float64, device=device)
        self.epoch_loss = torch.zeros((), dtype=torch.float64, device=device)
        self.epoch_correct = torch.zeros((), dtype=torch.int64, device=device)
        self.interval_steps = 0
        self.epoch_seen = 0
        self.epoch_steps = 0
        self.interval_start = time.perf_counter()

    def add(self, result: StepResult) -> None:
        self.interval_loss += result.loss
        self.epoch_loss += result.loss
        self.epoch_correct += result.correct
        self.epoch_seen += result.count
        self.epoch_steps += 1
        self.interval_steps += 1

    def start_interval(self) -> None:
        self.interval_loss.zero_()
        self.interval_steps = 0
        self.interval_start = time.perf_counter()

    def fold_into(self, progress: Progress) -> None:
        """Move the epoch sums into ``progress`` (a checkpoint stores them) and zero them."""
        progress.epoch_loss_sum += self.epoch_loss.item()
        progress.epoch_steps += self.epoch_steps
        progress.epoch_correct += int(self.epoch_correct.item())
        progress.epoch_seen += self.epoch_seen
        self.epoch_loss.zero_()
        self.epoch_correct.zero_()
        self.epoch_seen, self.epoch_steps = 0, 0


def evaluate_on(ctx: RunContext, loaders: Loaders, model: torch.nn.Module) -> EvalResult:
    return evaluate(
        model, loaders.val, ctx.device, ctx.plan, ctx.channels_last, ctx.config.limit_val_batches
    )


class TrainingLoop:
    def __init__(self, ctx: RunContext, state: TrainingState, loaders: Loaders) -> None:
        self.ctx = ctx
        self.state = state
        self.loaders = loaders
        self.schedule = Schedule.of(ctx, loaders)
        self.stop = StopRequest()
        self.throughput = Throughput(skip=1)
        self.show_bar = progress_enabled(ctx.config.progress, ctx.env.is_main)
        # Rank 0 checks for a stop request every step; with several ranks, every 10 (a collective).
        self.stop_every = 1 if not ctx.env.is_distributed else 10
        metrics_path = ctx.output.path / "metrics.jsonl" if ctx.env.is_main else None
        self.metrics = MetricsLog(metrics_path)

    def run(self) -> int:
        """Train to the last epoch; an exit code: 0, or 130/143 when stopped by a signal."""
        ctx, state, schedule = self.ctx, self.state, self.schedule
        self.metrics.write(
            "start",
            config=state.record,
            steps_per_epoch=schedule.steps_per_epoch,
            peak_lr=state.peak_lr,
            global_batch=ctx.global_batch,
        )
        ctx.log(
            f"training {ctx.config.epochs} epochs x {schedule.steps_per_epoch} steps, global "
            f"batch {ctx.global_batch}, peak LR {state.peak_lr:g}, warmup "
            f"{schedule.warmup_steps} steps"
        )
        state.saved_magnitude = ckpt.largest_magnitude(state.model.state_dict())[0]
        self.stop.install()
        try:
            while state.progress.epoch < ctx.config.epochs:
                outcome = self.train_epoch()
                if outcome is not None:
                    return outcome
        finally:
            self.stop.restore()
            self.metrics.write("end", global_step=state.progress.global_step)
        self.compare_replicas()
        self.report()
        self.metrics.close()
        return EXIT_OK

    def train_epoch(self) -> int | None:
        """One epoch from ``progress.step_in_epoch``; returns an exit code when asked to stop."""
        progress, config = self.state.progress, self.ctx.config
        epoch, start = progress.epoch, progress.step_in_epoch
        if self.loaders.train_sampler is not None:
            self.loaders.train_sampler.set_epoch(epoch, skip=start * config.batch_size)
        self.state.train_model.train()
        steps = self.schedule.steps_per_epoch
        bar = EpochProgress(self.show_bar, steps, epoch, config.epochs, initial=start)
        synchronize(self.ctx.device)
        sums = EpochSums(self.ctx.device)
        epoch_start = sums.interval_start
        iterator = iter(self.loaders.train)
        try:
            for step in range(start, steps):
                batch = next(iterator, None)  # None: a batch of only skipped corrupt images
                outcome = self.train_one_step(step, batch, sums, bar)
                if outcome is not None:
                    return outcome
        finally:
            bar.close()
        self.check_finite(sums.epoch_loss, sums.epoch_steps)
        sums.fold_into(progress)
        return self.end_epoch(time.perf_counter() - epoch_start)

    def train_one_step(self, step: int, batch, sums: EpochSums, bar: EpochProgress) -> int | None:
        """One optimizer step, its log line and save points; an exit code when asked to stop."""
        ctx, state, config = self.ctx, self.state, self.ctx.config
        progress, schedule = state.progress, self.schedule
        lr = cosine_lr(
            progress.global_step,
            schedule.total_steps,
            schedule.warmup_steps,
            state.peak_lr,
            config.min_lr,
        )
        set_lr(state.optimizer, lr)
        result = self.step_on(batch) if batch is not None else None
        if result is not None:
            sums.add(result)
        progress.global_step += 1
        progress.step_in_epoch = step + 1
        last_step = step + 1 == schedule.steps_per_epoch
        if (step + 1) % config.log_interval == 0 or last_step:
            self.log_interval(step, lr, sums, bar)
        bar.update(
            loss=f"{result.loss.item():.3f}" if self.show_bar and result is not None else "",
            lr=f"{lr:.4f}",
        )
        stop_now = (step + 1) % self.stop_every == 0 or last_step
        if stop_now and any_rank(self.stop.signal is not None, ctx.device):
            self.check_finite(sums.epoch_loss, sums.epoch_steps)
            sums.fold_into(progress)
            return self.stop_and_save()
        interval = config.save_interval_steps
        if interval and progress.global_step % interval == 0 and not last_step:
            self.check_finite(sums.epoch_loss, sums.epoch_steps)
            sums.fold_into(progress)
            save_checkpoint(ctx, state, (ckpt.LAST,))
        return None

    def step_on(self, batch) -> StepResult:
        ctx, state = self.ctx, self.state
        images, targets = to_device(batch[0], batch[1], ctx.device, ctx.channels_last)
        result = train_step(
            state.train_model,
            images,
            targets,
            state.optimizer,
            state.scaler,
            ctx.plan,
            ctx.config.label_smoothing,
            ctx.config.clip_grad_norm,
        )
        if state.ema is not None and bool(result.stepped):  # one read, only with --ema
            state.ema.update(state.model)
        return result

    def log_interval(self, step: int, lr: float, sums: EpochSums, bar: EpochProgress) -> None:
        """The log line and metrics record of the steps since the last one."""
        ctx, progress = self.ctx, self.state.progress
        mean_loss = self.check_finite(sums.interval_loss, sums.interval_steps)
        synchronize(ctx.device)
        images_done = sums.interval_steps * ctx.global_batch
        seconds = time.perf_counter() - sums.interval_start
        self.throughput.add(images_done, seconds)
        rate = images_done / seconds if seconds > 0 else 0.0
        correct = progress.epoch_correct + sums.epoch_correct.item()
        train_acc = 100.0 * correct / max(1, progress.epoch_seen + sums.epoch_seen)
        message = (
            f"epoch {progress.epoch + 1}/{ctx.config.epochs} step {step + 1}/"
            f"{self.schedule.steps_per_epoch} loss {mean_loss:.4f} train-acc@1 {train_acc:.2f} "
            f"lr {lr:.5g} images/s {rate:.1f}"
        )
        if self.show_bar:
            bar.bar.write(message, file=sys.stdout)
        else:
            ctx.log(message)
        self.metrics.write(
            "train",
            epoch=progress.epoch + 1,
            step=step + 1,
            global_step=progress.global_step,
            loss=mean_loss,
            train_top1=train_acc,
            lr=lr,
            images_per_second=rate,
        )
        sums.start_interval()

    def end_epoch(self, epoch_seconds: float) -> int | None:
        """Evaluate, record the epoch and save ``last.pt`` (and ``best.pt`` when it is)."""
        progress = self.state.progress
        progress.train_seconds += epoch_seconds
        record = {
            "epoch": progress.epoch + 1,
            "train_loss": progress.epoch_loss_sum / max(1, progress.epoch_steps),
            "train_top1": 100.0 * progress.epoch_correct / max(1, progress.epoch_seen),
            "seconds": epoch_seconds,
        }
        names: tuple[str, ...] = (ckpt.LAST,)
        if self.loaders.val is not None and self.evaluate_epoch(record):
            names = (ckpt.LAST, ckpt.BEST)
        progress.history.append(record)
        self.metrics.write("epoch", **record)
        progress.epoch += 1
        progress.step_in_epoch = 0
        progress.epoch_loss_sum, progress.epoch_steps = 0.0, 0
        progress.epoch_correct, progress.epoch_seen = 0, 0
        save_checkpoint(self.ctx, self.state, names)
        if any_rank(self.stop.signal is not None, self.ctx.device):
            return self.stop_and_save(already_saved=True)
        return None

    def evaluate_epoch(self, record: dict) -> bool:
        """Validation results into ``record``; True when this epoch is the best so far."""
        ctx, state, progress = self.ctx, self.state, self.state.progress
        result = evaluate_on(ctx, self.loaders, state.model)
        record.update(
            val_loss=result.loss,
            val_top1=result.top1,
            val_top5=result.top5,
            val_images=result.images,
        )
        if state.ema is not None:
            ema_result = evaluate_on(ctx, self.loaders, state.ema.module)
            record.update(ema_val_top1=ema_result.top1, ema_val_top5=ema_result.top5)
        progress.last_top1 = result.top1
        best = progress.best_top1 is None or result.top1 > progress.best_top1
        if best:
            progress.best_top1 = result.top1
        ctx.log(
            f"epoch {progress.epoch + 1}/{ctx.config.epochs} val top-1 {result.top1:.2f} top-5 "
            f"{result.top5:.2f} loss {result.loss:.4f} (best top-1 {progress.best_top1:.2f})"
        )
        return best

    def check_finite(self, loss_sum: torch.Tensor, steps: int) -> float:
        """Mean loss over the last ``steps`` steps; stops every rank if any rank's is not finite."""
        value = loss_sum.item() / max(1, steps)
        if any_rank(not math.isfinite(value), self.ctx.device):
            progress = self.state.progress
            raise NonFiniteLossError(
                f"the loss became non-finite ({value}) by epoch {progress.epoch + 1} step "
                f"{progress.step_in_epoch} (global step {progress.global_step}); "
                f"training stopped without saving, {self.ctx.output.kept_checkpoint()}; lower "
                "--lr, set --clip-grad-norm or check the data"
            )
        return value

    def stop_and_save(self, already_saved: bool = False) -> int:
        signum = self.stop.signal or signal.SIGTERM
        if not already_saved:
            save_checkpoint(self.ctx, self.state, (ckpt.LAST,))
        name = signal.Signals(signum).name
        progress = self.state.progress
        self.ctx.log(
            f"received {name}: saved {self.ctx.output.last} at epoch "
            f"{progress.epoch + 1} step {progress.step_in_epoch}; continue with "
            "--resume auto"
        )
        self.metrics.write("stopped", signal=name, global_step=progress.global_step)
        return STOP_EXIT_CODES.get(signum, 143)

    def compare_replicas(self) -> None:
        if self.ctx.env.is_distributed:
            checksums = gather_objects(parameter_checksum(self.state.model))
            identical = len(set(checksums)) == 1
            self.ctx.log(f"replicas identical across {len(checksums)} ranks: {identical}")
            self.metrics.write("replicas", checksums=checksums, identical=identical)

    def report(self) -> None:
        """The zoo's summary lines and case log (rank 0)."""
        ctx, progress, config = self.ctx, self.state.progress, self.ctx.config
        mode = "perf" if (self.loaders.val is None or config.limit_train_batches) else "acc"
        history = progress.history
        summary = RunSummary(
            network=config.arch,
            rank_size=ctx.env.world_size,
            global_batch=ctx.global_batch,
            case=config.case_name
            or case_name(config.arch, ctx.global_batch, ctx.env.world_size, mode),
            fps=self.throughput.images_per_second,
            final_loss=history[-1]["train_loss"] if history else None,
            train_accuracy=progress.last_top1,
            e2e_seconds=time.time() - ctx.started,
        )
        if ctx.env.is_main:
            for line in summary.final_lines():
                print(line, flush=True)
            path = write_case_log(summary, ctx.output.path)
            ctx.log(f"case log: {path}")
            self.metrics.write("summary", **summary.case_log())
