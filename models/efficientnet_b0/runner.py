"""What ``train.py`` does once its arguments are parsed: set up, train or evaluate or export.

The pieces live in their own modules (data, devices, distributed, checkpoint, optim, engine,
reporting); this module wires them together and owns the run's state: epoch, step, best accuracy,
the files in ``--output-dir``, and the rules for resuming and for refusing to overwrite a run.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import checkpoint as ckpt
import torch
import weights
from cpu_allocator import retain_freed_memory
from data import (
    IMAGENET_TRAIN_IMAGES,
    Loaders,
    SyntheticBatches,
    build_image_loaders,
    eval_resize_size,
)
from demo_dataset import ensure_demo_dataset
from device_pipeline import build_device_image_loaders
from devices import (
    LossScaler,
    device_rng_state,
    plan_precision,
    resolve_device,
    set_device_rng_state,
    synchronize,
)
from distributed import (
    DistEnv,
    any_rank,
    backend_for,
    barrier,
    broadcast_object,
    destroy_process_group,
    gather_objects,
    init_process_group,
    parameter_checksum,
    read_env,
    scaled_learning_rate,
    wrap_model,
)
from efficientnet import build_model, recommended_memory_format
from engine import EvalResult, evaluate, to_device, train_step
from errors import (
    CheckpointError,
    ConfigError,
    ExplodedWeightsError,
    NonFiniteLossError,
    TrainingError,
)
from optim import (
    ModelEma,
    build_sgd,
    cosine_lr,
    parameter_groups,
    set_lr,
    sgd_implementation,
)
from reporting import (
    EpochProgress,
    MetricsLog,
    RunSummary,
    Throughput,
    case_name,
    progress_enabled,
    write_case_log,
)

EXIT_OK = 0
STOP_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
# Config keys a resumed run must share with its checkpoint: they define the model's tensors.
RESUME_MUST_MATCH = ("arch", "padding", "num_classes")


def validate(args) -> None:
    """Range checks argparse cannot express, as one-line ``ConfigError``s."""
    positive = {
        "--epochs": args.epochs,
        "--batch-size": args.batch_size,
        "--image-size": args.image_size,
        "--log-interval": args.log_interval,
    }
    for flag, value in positive.items():
        if value is None or value < 1:
            raise ConfigError(f"{flag} must be at least 1, not {value}")
    for flag, value in {
        "--limit-train-batches": args.limit_train_batches,
        "--limit-val-batches": args.limit_val_batches,
        "--num-classes": args.num_classes,
    }.items():
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be at least 1, not {value}")
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be 0 or more, not {args.workers}")
    if not 0.0 < args.crop_scale_min <= 1.0:
        raise ConfigError(f"--crop-scale-min must be in (0, 1], not {args.crop_scale_min}")
    if not 0.0 < args.crop_fraction <= 1.0:
        raise ConfigError(f"--crop-fraction must be in (0, 1], not {args.crop_fraction}")
    for flag, value in {
        "--drop-rate": args.drop_rate,
        "--drop-path-rate": args.drop_path_rate,
        "--label-smoothing": args.label_smoothing,
    }.items():
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{flag} must be in [0, 1), not {value}")
    if args.lr <= 0 or args.warmup_epochs < 0 or args.weight_decay < 0:
        raise ConfigError("--lr must be positive; --warmup-epochs and --weight-decay not negative")
    if not 0.0 < args.ema_decay < 1.0:
        raise ConfigError(f"--ema-decay must be in (0, 1), not {args.ema_decay}")
    if args.backbone_lr_scale < 0:
        raise ConfigError(f"--backbone-lr-scale must not be negative, not {args.backbone_lr_scale}")
    if args.save_interval_steps < 0:
        raise ConfigError("--save-interval-steps must be 0 or more")
    if args.dataset in ("imagefolder",) and not args.data:
        raise ConfigError("--dataset imagefolder needs --data PATH")
    if args.data and args.dataset in ("demo", "synthetic"):
        raise ConfigError(f"--data and --dataset {args.dataset} exclude each other")
    if args.evaluate and args.export_onnx:
        raise ConfigError("choose one of --evaluate and --export-onnx")
    if (args.evaluate or args.export_onnx) and not (args.resume or args.pretrained):
        flag = "--evaluate" if args.evaluate else "--export-onnx"
        raise ConfigError(f"{flag} needs weights: pass --resume PATH or --pretrained PATH")
    if args.evaluate and args.dataset == "synthetic":
        raise ConfigError("--evaluate needs real images: pass --data or use the demo dataset")


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
            signal.signal(signum, handler)
        self._previous.clear()


@dataclass
class Progress:
    """The counters a checkpoint stores to continue exactly where a run stopped."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_top1: float | None = None
    last_top1: float | None = None
    train_seconds: float = 0.0
    epoch_loss_sum: float = 0.0  # sum of the epoch's per-step mean losses so far
    epoch_steps: int = 0
    epoch_correct: int = 0
    epoch_seen: int = 0
    history: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Run:
    def __init__(self, args, env: DistEnv, device: torch.device, started: float) -> None:
        self.args = args
        self.env = env
        self.device = device
        self.started = started
        self.plan = plan_precision(device.type, args.amp, args.amp_dtype, args.loss_scale)
        self.output_dir = Path(args.output_dir).expanduser()
        self.progress = Progress()
        self.stop = StopRequest()
        self.metrics = MetricsLog(None)
        self.ema: ModelEma | None = None
        self.saved_magnitude = 1.0  # largest weight at the start or last save; see save()
        self.classes: tuple[str, ...] = ()
        self.channels_last = (
            args.channels_last
            if args.channels_last is not None
            else recommended_memory_format(device.type) == torch.channels_last
        )

    # ----------------------------------------------------------------------------------- output
    def log(self, message: str) -> None:
        if self.env.is_main:
            print(message, flush=True)

    # ------------------------------------------------------------------------------------ setup
    def workers(self) -> int:
        if self.args.workers is not None:
            return self.args.workers
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        per_device = max(1, (cpus or 1) // max(1, self.env.world_size))
        return min(8, per_device)

    def dataset_root(self) -> Path | None:
        args = self.args
        kind = args.dataset
        if kind == "auto":
            kind = "imagefolder" if args.data else "demo"
        if kind == "synthetic":
            return None
        if kind == "imagefolder":
            return Path(args.data).expanduser()
        root = Path(args.demo_root)
        # One process per machine draws the images; the others wait, then find them. A failure
        # on that process is re-raised after the barrier, so no rank is left waiting in it.
        failure: TrainingError | None = None
        if self.env.local_rank == 0:
            try:
                ensure_demo_dataset(root, log=self.log)
            except TrainingError as exc:
                failure = exc
        barrier()
        if failure is not None:
            raise failure
        return ensure_demo_dataset(root, log=self.log)

    def build_loaders(self, num_classes_hint: int | None) -> Loaders:
        args = self.args
        root = self.dataset_root()
        if root is None:
            classes = args.num_classes or num_classes_hint or 1000
            length = args.limit_train_batches or math.ceil(
                IMAGENET_TRAIN_IMAGES / (args.batch_size * self.env.world_size)
            )
            synthetic = SyntheticBatches(
                args.batch_size,
                args.image_size,
                classes,
                length,
                self.device,
                args.seed + self.env.rank,
            )
            return Loaders(synthetic, None, tuple(str(i) for i in range(classes)), None)
        options = dict(
            batch_size=args.batch_size,
            image_size=args.image_size,
            resize_size=eval_resize_size(args.image_size, args.crop_fraction),
            crop_scale_min=args.crop_scale_min,
            auto_augment=args.auto_augment,
            workers=self.workers(),
            on_corrupt=args.on_corrupt,
            seed=args.seed,
            rank=self.env.rank,
            world_size=self.env.world_size,
        )
        if args.data_pipeline == "device":
            return build_device_image_loaders(root, device=self.device, **options)
        return build_image_loaders(root, pin_memory=self.device.type != "cpu", **options)

    def prepare_output_dir(self, resume_path: Path | None) -> None:
        """Refuse to overwrite another run's checkpoints; check that the folder is writable."""
        out = self.output_dir
        existing = [name for name in (ckpt.LAST, ckpt.BEST) if (out / name).exists()]
        if existing:
            if resume_path is None:
                raise ConfigError(
                    f"{out} already holds a run ({', '.join(existing)}); continue it with "
                    "--resume auto, or choose another --output-dir"
                )
            if resume_path.resolve().parent != out.resolve():
                raise ConfigError(
                    f"{out} holds a different run ({', '.join(existing)}) than {resume_path}; "
                    "choose another --output-dir to continue from that checkpoint"
                )
        try:
            out.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"cannot write to --output-dir {out}: {exc.strerror or exc}"
            ) from None

    def resume_path(self) -> Path | None:
        if not self.args.resume:
            return None
        if self.args.resume == "auto":
            path = self.output_dir / ckpt.LAST
            return path if path.exists() else None
        return Path(self.args.resume).expanduser()

    def read_pretrained(self) -> weights.WeightsFile:
        """``--pretrained``, read by the one reader, and refused if it is another variant."""
        path = Path(self.args.pretrained).expanduser()
        pretrained = self.read_weights(path, self.args.pretrained_format)
        arch = pretrained.arch
        if arch is not None and arch != self.args.arch:
            raise CheckpointError(
                f"{path} holds {arch} weights, but this run builds {self.args.arch}; "
                f"pass --arch {arch}"
            )
        return pretrained

    def read_weights(self, path: Path, fmt: str = "auto") -> weights.WeightsFile:
        """``weights.read_weights``, telling the user when nothing proves the contents intact."""
        loaded = weights.read_weights(path, fmt)
        if not loaded.verified:
            self.log(
                f"note: {path} carries no sha256 seal (written by another program or an older "
                "train.py): its contents are unverified"
            )
        return loaded

    def model_settings(
        self, pretrained: weights.WeightsFile | None, resumed: weights.WeightsFile | None
    ) -> weights.ModelSettings:
        """``--padding`` when given, else the rule of ``weights.settings_for`` for the weights."""
        if self.args.padding != "auto":
            return weights.ModelSettings.for_padding(self.args.padding)
        source = resumed or pretrained
        if source is None:
            return weights.settings_for("ours")
        return source.settings

    def build_network(self, num_classes: int, settings: weights.ModelSettings):
        args = self.args
        torch.manual_seed(args.seed)
        random.seed(args.seed)
        return build_model(
            args.arch,
            num_classes=num_classes,
            padding=settings.padding,
            bn_eps=settings.bn_eps,
            bn_momentum=settings.bn_momentum,
            image_size=args.image_size,
            drop_rate=args.drop_rate,
            drop_path_rate=args.drop_path_rate,
            zero_init_last_bn=args.zero_init_last_bn,
        )

    def config(self, padding: str, num_classes: int) -> dict:
        config = {k: v for k, v in vars(self.args).items() if k != "run"}
        config.update(padding=padding, num_classes=num_classes, world_size=self.env.world_size)
        return config

    # ---------------------------------------------------------------------------- checkpoints
    def save(self, path_names: tuple[str, ...]) -> None:
        """Save the full training state on rank 0 (collective: every rank must call it).

        Weights that ``ckpt.unsound_weights`` refuses stop the run instead, on every rank, and
        leave the files in ``--output-dir`` as they were.
        """
        extra = [t for s in self.optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
        if self.ema is not None:
            extra += list(self.ema.module.state_dict().values())
        model_state = self.model.state_dict()
        problem = ckpt.unsound_weights(model_state, self.saved_magnitude, extra)
        if any_rank(problem is not None, self.device):
            raise ExplodedWeightsError(
                f"the weights diverged by epoch {self.progress.epoch + 1} step "
                f"{self.progress.step_in_epoch} (global step {self.progress.global_step}): "
                f"{problem or 'on another rank'}; training stopped without saving, "
                f"{self.kept_checkpoint()}; lower --lr, set --clip-grad-norm or check the data"
            )
        rng = gather_objects(ckpt.capture_rng_state(self.device, device_rng_state))
        self.saved_magnitude = ckpt.largest_magnitude(model_state)[0]  # on every rank
        if not self.env.is_main:
            return
        state = {
            "kind": ckpt.KIND,
            "format_version": ckpt.FORMAT_VERSION,
            "config": self.run_config,
            "classes": list(self.classes),
            "model": model_state,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "progress": self.progress.as_dict(),
            "rng": rng,
        }
        for name in path_names:
            ckpt.atomic_save(state, self.output_dir / name)

    def kept_checkpoint(self) -> str:
        last = self.output_dir / ckpt.LAST
        if last.exists():
            return f"the last good checkpoint {last} is kept"
        return "no checkpoint had been saved yet"

    def restore(self, resumed: weights.WeightsFile) -> None:
        obj, path = resumed.contents, resumed.path
        if not resumed.is_training_checkpoint:
            raise CheckpointError(
                f"{path} is a weights file, not a train.py checkpoint; pass it as --pretrained"
            )
        ckpt.check_architecture(obj, path, self.args.arch)
        saved = obj["config"]
        for key in RESUME_MUST_MATCH:
            if saved.get(key) != self.run_config.get(key):
                raise CheckpointError(
                    f"{path} was trained with {key}={saved.get(key)!r}, this run has "
                    f"{key}={self.run_config.get(key)!r}; they must match to resume"
                )
        ckpt.check_state_dict_fits(self.model, obj["model"], path)
        try:
            self.model.load_state_dict(obj["model"])
            if self.args.evaluate or self.args.export_onnx:
                if self.ema is not None and obj.get("ema") is not None:
                    self.ema.load_state_dict(obj["ema"])
                self.log(f"loaded the weights of {path}")
                return  # evaluation and export need the weights only, not the training state
            self.restore_training_state(obj, path)
        except (AttributeError, IndexError, KeyError, RuntimeError, TypeError, ValueError) as exc:
            text = str(exc).strip().splitlines()
            raise CheckpointError(
                f"the training state in {path} cannot be restored ({type(exc).__name__}: "
                f"{text[0][:160] if text else ''}); it is damaged or was written by an "
                "incompatible train.py"
            ) from None
        changed = [
            f"{k} {saved[k]!r} -> {self.run_config[k]!r}"
            for k in ("epochs", "lr", "batch_size", "world_size", "device", "amp")
            if k in saved and saved[k] != self.run_config.get(k)
        ]
        if changed:
            self.log("note: resuming with changed settings: " + ", ".join(changed))
        self.log(
            f"resumed from {path}: epoch {self.progress.epoch + 1}, "
            f"step {self.progress.step_in_epoch} of the epoch, global step "
            f"{self.progress.global_step}"
        )

    def restore_training_state(self, obj: dict, path: Path) -> None:
        """Optimizer, loss scaler, EMA, counters and RNG streams of a checkpoint, into this run."""
        saved = obj["config"]
        try:
            self.optimizer.load_state_dict(obj["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(
                f"optimizer state in {path} does not fit this run ({exc}); resume with the same "
                "--freeze-backbone and --decay-bn-bias settings"
            ) from None
        self.scaler.load_state_dict(obj["scaler"])
        if self.ema is not None and obj.get("ema") is not None:
            self.ema.load_state_dict(obj["ema"])
        elif self.ema is not None:
            self.log("note: the checkpoint has no EMA; the EMA starts from the current weights")
        self.progress = Progress(**obj["progress"])
        global_batch = saved["batch_size"] * saved.get("world_size", 1)
        if self.progress.step_in_epoch and global_batch != self.global_batch:
            raise CheckpointError(
                f"{path} stopped in the middle of an epoch with a global batch of {global_batch}; "
                f"resume with the same --batch-size and number of processes (now "
                f"{self.global_batch})"
            )
        rng = obj.get("rng") or []
        if len(rng) == self.env.world_size:
            ckpt.restore_rng_state(rng[self.env.rank], self.device, set_device_rng_state)
        else:
            self.log(f"note: {path} was written by {len(rng)} process(es); random streams restart")
            torch.manual_seed(self.args.seed + self.progress.global_step + self.env.rank)

    # ----------------------------------------------------------------------------- main flow
    def execute(self) -> int:
        args = self.args
        resume_path = self.resume_path()
        if args.resume == "auto" and resume_path is None:
            self.log(f"no {self.output_dir / ckpt.LAST} yet: starting a new run")
        if resume_path is not None and not resume_path.is_file():
            raise CheckpointError(f"checkpoint {resume_path} does not exist")
        training = not (args.evaluate or args.export_onnx)
        if training:
            on_all_ranks(self.env, lambda: self.prepare_output_dir(resume_path))

        pretrained = self.read_pretrained() if args.pretrained else None
        # A resume file is train.py's by definition; restore() refuses anything else by name.
        resumed = self.read_weights(resume_path, "ours") if resume_path is not None else None

        loaders = None
        if not args.export_onnx:
            loaders = self.build_loaders(pretrained.num_classes if pretrained else None)
            self.classes = loaders.classes
            num_classes = len(self.classes)
            if args.num_classes is not None and args.num_classes != num_classes:
                raise ConfigError(
                    f"--num-classes {args.num_classes} but the dataset has {num_classes} classes"
                )
        else:
            recorded = resumed or pretrained
            num_classes = args.num_classes or (recorded.num_classes if recorded else None) or 1000
            del recorded
        settings = self.model_settings(pretrained, resumed)
        padding = settings.padding
        self.global_batch = args.batch_size * self.env.world_size
        self.run_config = self.config(padding, num_classes)

        self.model = self.build_network(num_classes, settings)
        if pretrained is not None:
            weights.load_weights_into(self.model, pretrained, allow_new_head=True)
            self.log(f"loaded {pretrained.format} weights from {args.pretrained}")
        del pretrained  # the host copy is in the model now
        if args.freeze_backbone:
            for param in self.model.backbone_parameters():
                param.requires_grad_(False)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model.to(self.device, memory_format=memory_format)
        self.train_model = wrap_model(self.model, self.env, self.device, args.sync_bn)
        if args.compile:
            self.train_model = torch.compile(self.train_model)
        if args.ema:
            self.ema = ModelEma(self.model, args.ema_decay)

        self.peak_lr = scaled_learning_rate(args.lr, self.global_batch, args.lr_scaling)
        groups = parameter_groups(
            self.model, args.weight_decay, args.decay_bn_bias, args.backbone_lr_scale
        )
        if not groups:
            raise ConfigError("no trainable parameters (is everything frozen?)")
        self.sgd_implementation = sgd_implementation(self.device.type)
        self.optimizer = build_sgd(
            groups, self.peak_lr, args.momentum, args.nesterov, self.sgd_implementation
        )
        self.scaler = LossScaler(
            self.plan.loss_scale_mode, self.plan.initial_scale, device=self.device
        )
        if resumed is not None:
            self.restore(resumed)
            del resumed

        self.log(
            f"{args.arch}: {sum(p.numel() for p in self.model.parameters()):,} parameters, "
            f"{num_classes} classes, padding {padding}; device {self.device} x "
            f"{self.env.world_size}, {self.plan.description}, {self.sgd_implementation} SGD"
            + (", channels_last" if self.channels_last else "")
        )
        if args.export_onnx:
            return self.export(Path(args.export_onnx))
        if args.evaluate:
            result = self.evaluate_model(loaders, self.model)
            self.log(
                f"evaluation: top-1 {result.top1:.2f}  top-5 {result.top5:.2f}  "
                f"loss {result.loss:.4f}  ({result.images} images)"
            )
            return EXIT_OK
        return self.train(loaders)

    def export(self, path: Path) -> int:
        import export as onnx_export

        if self.env.is_main:
            model = (self.ema.module if self.ema is not None else self.model).cpu().eval()
            try:
                result = onnx_export.export_onnx(model, path, image_size=self.args.image_size)
            except onnx_export.OnnxExportError as exc:
                raise ConfigError(str(exc)) from None
            except OSError as exc:
                raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
            self.log(
                f"exported {path} (onnxruntime matches PyTorch to {result.max_abs_diff:.2g}, "
                f"opset {result.opset})"
            )
        return EXIT_OK

    def evaluate_model(self, loaders: Loaders, model) -> EvalResult:
        return evaluate(
            model,
            loaders.val,
            self.device,
            self.plan,
            self.channels_last,
            self.args.limit_val_batches,
        )

    # -------------------------------------------------------------------------------- training
    def train(self, loaders: Loaders) -> int:
        args = self.args
        self.metrics = MetricsLog(self.output_dir / "metrics.jsonl" if self.env.is_main else None)
        full_epoch = len(loaders.train)
        steps_per_epoch = min(full_epoch, args.limit_train_batches or full_epoch)
        if steps_per_epoch < 1:
            raise ConfigError("the training set yields no full batch; lower --batch-size")
        total_steps = steps_per_epoch * args.epochs
        warmup_steps = min(round(args.warmup_epochs * steps_per_epoch), total_steps)
        mode = "perf" if (loaders.val is None or args.limit_train_batches) else "acc"
        case = args.case_name or case_name(args.arch, self.global_batch, self.env.world_size, mode)
        self.metrics.write(
            "start",
            config=self.run_config,
            steps_per_epoch=steps_per_epoch,
            peak_lr=self.peak_lr,
            global_batch=self.global_batch,
        )
        self.log(
            f"training {args.epochs} epochs x {steps_per_epoch} steps, global batch "
            f"{self.global_batch}, peak LR {self.peak_lr:g}, warmup {warmup_steps} steps"
        )
        show_bar = progress_enabled(args.progress, self.env.is_main)
        self.saved_magnitude = ckpt.largest_magnitude(self.model.state_dict())[0]
        throughput = Throughput(skip=1)
        last_loss: float | None = None
        self.stop.install()
        try:
            while self.progress.epoch < args.epochs:
                outcome = self.train_epoch(
                    loaders, steps_per_epoch, total_steps, warmup_steps, show_bar, throughput
                )
                if outcome is not None:
                    return outcome
                last_loss = self.progress.history[-1]["train_loss"]
        finally:
            self.stop.restore()
            self.metrics.write("end", global_step=self.progress.global_step)

        if self.env.is_distributed:
            checksums = gather_objects(parameter_checksum(self.model))
            identical = len(set(checksums)) == 1
            self.log(f"replicas identical across {len(checksums)} ranks: {identical}")
            self.metrics.write("replicas", checksums=checksums, identical=identical)
        summary = RunSummary(
            network=args.arch,
            rank_size=self.env.world_size,
            global_batch=self.global_batch,
            case=case,
            fps=throughput.images_per_second,
            final_loss=last_loss,
            train_accuracy=self.progress.last_top1,
            e2e_seconds=time.time() - self.started,
        )
        if self.env.is_main:
            for line in summary.final_lines():
                print(line, flush=True)
            path = write_case_log(summary, self.output_dir)
            self.log(f"case log: {path}")
            self.metrics.write("summary", **summary.case_log())
        self.metrics.close()
        return EXIT_OK

    def check_finite(self, loss_sum: torch.Tensor, steps: int) -> float:
        """Mean loss over the last ``steps`` steps; stops every rank if any rank's is not finite."""
        value = loss_sum.item() / max(1, steps)
        if any_rank(not math.isfinite(value), self.device):
            raise NonFiniteLossError(
                f"the loss became non-finite ({value}) by epoch {self.progress.epoch + 1} step "
                f"{self.progress.step_in_epoch} (global step {self.progress.global_step}); "
                f"training stopped without saving, {self.kept_checkpoint()}; lower --lr, set "
                "--clip-grad-norm or check the data"
            )
        return value

    def train_epoch(
        self,
        loaders: Loaders,
        steps_per_epoch: int,
        total_steps: int,
        warmup_steps: int,
        show_bar: bool,
        throughput: Throughput,
    ) -> int | None:
        """One epoch from ``progress.step_in_epoch``; returns an exit code when asked to stop."""
        args, progress = self.args, self.progress
        epoch, start = progress.epoch, progress.step_in_epoch
        if loaders.train_sampler is not None:
            loaders.train_sampler.set_epoch(epoch, skip=start * args.batch_size)
        self.train_model.train()
        bar = EpochProgress(show_bar, steps_per_epoch, epoch, args.epochs, initial=start)
        interval_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        epoch_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        epoch_correct = torch.zeros((), dtype=torch.int64, device=self.device)
        interval_steps, epoch_seen, epoch_steps = 0, 0, 0
        synchronize(self.device)
        interval_start = time.perf_counter()
        epoch_start = interval_start
        stop_every = 1 if not self.env.is_distributed else 10
        iterator = iter(loaders.train)
        try:
            for step in range(start, steps_per_epoch):
                batch = next(iterator, None)  # None: a batch of only skipped corrupt images
                lr = cosine_lr(
                    progress.global_step, total_steps, warmup_steps, self.peak_lr, args.min_lr
                )
                set_lr(self.optimizer, lr)
                if batch is not None:
                    images, targets = to_device(batch[0], batch[1], self.device, self.channels_last)
                    result = train_step(
                        self.train_model,
                        images,
                        targets,
                        self.optimizer,
                        self.scaler,
                        self.plan,
                        args.label_smoothing,
                        args.clip_grad_norm,
                    )
                    if self.ema is not None and bool(result.stepped):  # one read, only with --ema
                        self.ema.update(self.model)
                    interval_loss += result.loss
                    epoch_loss += result.loss
                    epoch_correct += result.correct
                    epoch_seen += result.count
                    epoch_steps += 1
                    interval_steps += 1
                progress.global_step += 1
                progress.step_in_epoch = step + 1
                last_step = step + 1 == steps_per_epoch
                if (step + 1) % args.log_interval == 0 or last_step:
                    mean_loss = self.check_finite(interval_loss, interval_steps)
                    synchronize(self.device)
                    now = time.perf_counter()
                    images_done = interval_steps * self.global_batch
                    seconds = now - interval_start
                    throughput.add(images_done, seconds)
                    rate = images_done / seconds if seconds > 0 else 0.0
                    train_acc = (
                        100.0
                        * (progress.epoch_correct + epoch_correct.item())
                        / max(1, progress.epoch_seen + epoch_seen)
                    )
                    message = (
                        f"epoch {epoch + 1}/{args.epochs} step {step + 1}/{steps_per_epoch} "
                        f"loss {mean_loss:.4f} train-acc@1 {train_acc:.2f} lr {lr:.5g} "
                        f"images/s {rate:.1f}"
                    )
                    if show_bar:
                        bar.bar.write(message, file=sys.stdout)
                    else:
                        self.log(message)
                    self.metrics.write(
                        "train",
                        epoch=epoch + 1,
                        step=step + 1,
                        global_step=progress.global_step,
                        loss=mean_loss,
                        train_top1=train_acc,
                        lr=lr,
                        images_per_second=rate,
                    )
                    interval_loss.zero_()
                    interval_steps = 0
                    interval_start = time.perf_counter()
                bar.update(
                    loss=f"{result.loss.item():.3f}" if show_bar and batch is not None else "",
                    lr=f"{lr:.4f}",
                )
                stop_now = (step + 1) % stop_every == 0 or last_step
                if stop_now and any_rank(self.stop.signal is not None, self.device):
                    self.check_finite(epoch_loss, epoch_steps)
                    self.fold_epoch_sums(epoch_loss, epoch_correct, epoch_seen, epoch_steps)
                    return self.stop_and_save()
                if (
                    args.save_interval_steps
                    and progress.global_step % args.save_interval_steps == 0
                    and not last_step
                ):
                    self.check_finite(epoch_loss, epoch_steps)
                    self.fold_epoch_sums(epoch_loss, epoch_correct, epoch_seen, epoch_steps)
                    epoch_loss.zero_()
                    epoch_correct.zero_()
                    epoch_seen, epoch_steps = 0, 0
                    self.save((ckpt.LAST,))
        finally:
            bar.close()
        self.check_finite(epoch_loss, epoch_steps)
        self.fold_epoch_sums(epoch_loss, epoch_correct, epoch_seen, epoch_steps)
        epoch_seconds = time.perf_counter() - epoch_start
        progress.train_seconds += epoch_seconds
        record = {
            "epoch": epoch + 1,
            "train_loss": progress.epoch_loss_sum / max(1, progress.epoch_steps),
            "train_top1": 100.0 * progress.epoch_correct / max(1, progress.epoch_seen),
            "seconds": epoch_seconds,
        }
        names: tuple[str, ...] = (ckpt.LAST,)
        if loaders.val is not None:
            result = self.evaluate_model(loaders, self.model)
            record.update(
                val_loss=result.loss,
                val_top1=result.top1,
                val_top5=result.top5,
                val_images=result.images,
            )
            if self.ema is not None:
                ema_result = self.evaluate_model(loaders, self.ema.module)
                record.update(ema_val_top1=ema_result.top1, ema_val_top5=ema_result.top5)
            progress.last_top1 = result.top1
            if progress.best_top1 is None or result.top1 > progress.best_top1:
                progress.best_top1 = result.top1
                names = (ckpt.LAST, ckpt.BEST)
            self.log(
                f"epoch {epoch + 1}/{args.epochs} val top-1 {result.top1:.2f} top-5 "
                f"{result.top5:.2f} loss {result.loss:.4f} (best top-1 {progress.best_top1:.2f})"
            )
        progress.history.append(record)
        self.metrics.write("epoch", **record)
        progress.epoch += 1
        progress.step_in_epoch = 0
        progress.epoch_loss_sum, progress.epoch_steps = 0.0, 0
        progress.epoch_correct, progress.epoch_seen = 0, 0
        self.save(names)
        if any_rank(self.stop.signal is not None, self.device):
            return self.stop_and_save(already_saved=True)
        return None

    def fold_epoch_sums(
        self, loss: torch.Tensor, correct: torch.Tensor, seen: int, steps: int
    ) -> None:
        """Move the on-device epoch sums into ``progress`` (a checkpoint stores them)."""
        self.progress.epoch_loss_sum += loss.item()
        self.progress.epoch_steps += steps
        self.progress.epoch_correct += int(correct.item())
        self.progress.epoch_seen += seen

    def stop_and_save(self, already_saved: bool = False) -> int:
        signum = self.stop.signal or signal.SIGTERM
        if not already_saved:
            self.save((ckpt.LAST,))
        name = signal.Signals(signum).name
        self.log(
            f"received {name}: saved {self.output_dir / ckpt.LAST} at epoch "
            f"{self.progress.epoch + 1} step {self.progress.step_in_epoch}; continue with "
            "--resume auto"
        )
        self.metrics.write("stopped", signal=name, global_step=self.progress.global_step)
        return STOP_EXIT_CODES.get(signum, 143)


def run(args) -> int:
    """Set up the device and process group for ``args``, run, and always leave the group."""
    started = time.time()
    validate(args)
    env = read_env()
    device = resolve_device(args.device, env.local_rank)
    if device.type == "cpu" and args.cpu_allocator == "retain":
        retain_freed_memory()  # before the first large tensor; see cpu_allocator
    if device.type == "cuda":
        # Every training batch has one shape (fixed crop), so cuDNN's autotuner times each
        # convolution's algorithms once and keeps the fastest; the bench turns it on for all.
        torch.backends.cudnn.benchmark = True
    init_process_group(env, device, backend_for(device.type, args.dist_backend))
    try:
        return Run(args, env, device, started).execute()
    finally:
        destroy_process_group()


__all__ = ["Run", "run", "validate"]
