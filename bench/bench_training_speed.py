"""Training-step and eval throughput of our EfficientNet-B0 against the peers, on one machine.

    python bench/bench_training_speed.py --out bench/results/training_speed.json
    python bench/bench_training_speed.py --quick            # a few minutes, no compile

Implementations: ours (models/efficientnet_b0), lukemelas/efficientnet_pytorch (the reference,
"baseline"), timm and torchvision. Each runs in four configurations: NCHW, channels_last,
torch.compile, and torch.compile + channels_last. A training step is forward + label-smoothed
cross-entropy + backward + SGD (momentum, weight decay) on one fixed batch; eval is a forward
in eval mode (running BatchNorm statistics, no dropout) under ``torch.inference_mode``.
Everything uses the same batch, resolution, dtype (fp32) and thread count.

On a GPU (``--device cuda``) the same comparison runs with mixed precision (``--amp bfloat16``
or ``--amp float16``, the latter with ``torch.amp.GradScaler`` for every candidate), cuDNN's
autotuner on for all, and peak memory read from the CUDA allocator (``max_memory_allocated``).
``--gpu-configs`` adds what a GPU user would also try, for every candidate alike: foreach and
fused SGD, and torch.compile with max-autotune, CUDA graphs (reduce-overhead) and both; their
compile time is the first step's, amortised in the break-even.

Why the method looks like this:

* One process, interleaved rounds: every candidate is measured once per round, in rotated order,
  so a burst of load from elsewhere on the machine hits all of them alike; the report gives the
  median with min-max over rounds, and ratios taken within this one run.
* First step reported separately: it holds torch.compile's compilation (and eager warm-up),
  from an empty inductor cache (a fresh ``TORCHINDUCTOR_CACHE_DIR``) unless
  ``--warm-compile-cache``;
  the break-even is the number of steps after which compiling has paid for itself against the
  same implementation's best eager configuration.
* Peak memory is measured in a fresh subprocess per candidate (so one model's allocator state
  cannot inflate another's): the resident set size sampled every 2 ms during steady-state
  training steps, minus the resident size before the first step (model, optimiser and batch
  already allocated). Compile configurations reuse the inductor cache of the main run.
* One allocator for all: glibc's malloc is set once for the process as ``train.py`` sets it on
  CPU (``--cpu-allocator retain``: freed activations are reused, not mapped afresh every step;
  about 1.25x on every implementation). ``--cpu-allocator system`` measures glibc's defaults.
* Scaling: ours and the best peer, channels_last eager, over batch sizes and resolutions; the
  cost per image relative to the default shape shows how the cost grows with the work.

Nothing is installed or downloaded: the peers come from the ``bench`` extra
(``pip install -e .[train,bench]``) and all weights are random.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[1]
DELIVERABLE = REPO / "models" / "efficientnet_b0"
IMPLEMENTATIONS = ("ours", "lukemelas", "timm", "torchvision")
BASELINE = "lukemelas"


@dataclass(frozen=True)
class Config:
    """How a candidate runs: memory format, compile mode and SGD implementation.

    ``compile_mode`` is ``torch.compile``'s ``mode`` (None: eager): ``default``,
    ``max-autotune-no-cudagraphs`` (autotuned kernels), ``reduce-overhead`` (CUDA graphs) and
    ``max-autotune`` (both). ``sgd`` is ``stock`` (torch's default choice), ``foreach`` or
    ``fused`` (one kernel for all parameters).
    """

    channels_last: bool
    compile_mode: str | None = None
    sgd: str = "stock"
    gpu_only: bool = False

    @property
    def compiled(self) -> bool:
        return self.compile_mode is not None


CONFIGS = {
    "nchw": Config(False),
    "channels_last": Config(True),
    "compile": Config(False, "default"),
    "compile+channels_last": Config(True, "default"),
}
# What a GPU user would also try, only when asked for (--gpu-configs or --configs), since the
# compile modes take minutes per candidate. CUDA graphs need --device cuda; the rest run anywhere.
GPU_CONFIGS = {
    "channels_last+foreach_sgd": Config(True, sgd="foreach"),
    "channels_last+fused_sgd": Config(True, sgd="fused"),
    "compile+channels_last+fused_sgd": Config(True, "default", "fused"),
    "compile_autotune+channels_last+fused_sgd": Config(True, "max-autotune-no-cudagraphs", "fused"),
    "compile_cudagraphs+channels_last+fused_sgd": Config(
        True, "reduce-overhead", "fused", gpu_only=True
    ),
    "compile_autotune_cudagraphs+channels_last+fused_sgd": Config(
        True, "max-autotune", "fused", gpu_only=True
    ),
}
ALL_CONFIGS = {**CONFIGS, **GPU_CONFIGS}
AMP_DTYPES = {"none": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
NUM_CLASSES = 1000
LABEL_SMOOTHING = 0.1


# ----------------------------------------------------------------------------- models


def deliverable_module(name: str):
    """A module of the deliverable, imported as train.py imports it: from its own folder."""
    if str(DELIVERABLE) not in sys.path:
        sys.path.insert(0, str(DELIVERABLE))
    return importlib.import_module(name)


def build_network(impl: str) -> nn.Module:
    """A freshly initialised EfficientNet-B0 of ``impl``, with the recipe's regularisation."""
    if impl == "ours":
        efficientnet = deliverable_module("model.efficientnet")
        return efficientnet.build_model("efficientnet_b0", num_classes=NUM_CLASSES)
    if impl == "lukemelas":
        from efficientnet_pytorch import EfficientNet

        return EfficientNet.from_name("efficientnet-b0", num_classes=NUM_CLASSES)
    if impl == "timm":
        import timm

        return timm.create_model("efficientnet_b0", num_classes=NUM_CLASSES, drop_path_rate=0.2)
    if impl == "torchvision":
        import torchvision

        return torchvision.models.efficientnet_b0(weights=None, num_classes=NUM_CLASSES)
    raise ValueError(f"unknown implementation {impl!r}")


def package_versions() -> dict[str, str]:
    versions = {"torch": torch.__version__, "python": platform.python_version()}
    for name in ("torchvision", "timm", "efficientnet_pytorch"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            dist = "efficientnet-pytorch" if name == "efficientnet_pytorch" else name
            versions[name] = version(dist)
    return versions


@dataclass
class Candidate:
    """One (implementation, configuration): its model, optimiser and compiled callables."""

    impl: str
    config: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    forward: Callable[[torch.Tensor], torch.Tensor]
    images: torch.Tensor
    amp_dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None

    @property
    def name(self) -> str:
        return f"{self.impl}/{self.config}"


def make_sgd(model: nn.Module, implementation: str) -> torch.optim.SGD:
    """The benchmark's SGD (momentum 0.9, weight decay 1e-4) in one of its implementations."""
    options = {"stock": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[implementation]
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, **options)


def make_candidate(impl: str, config: str, images: torch.Tensor, amp: str = "none") -> Candidate:
    """``images`` already sits on the device the candidate runs on."""
    spec = ALL_CONFIGS[config]
    torch.manual_seed(0)
    model = build_network(impl).to(images.device).train()
    if impl == "ours" and images.device.type == "cpu" and AMP_DTYPES[amp] is None:
        # What train.py does for a float32 CPU run (training.training_state).
        deliverable_module("cpu_accel").accelerate(model)
    if spec.channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = make_sgd(model, spec.sgd)
    forward = torch.compile(model, mode=spec.compile_mode) if spec.compiled else model
    amp_dtype = AMP_DTYPES[amp]
    scaler = torch.amp.GradScaler(images.device.type) if amp_dtype is torch.float16 else None
    return Candidate(impl, config, model, optimizer, forward, images, amp_dtype, scaler)


def autocast(candidate: Candidate) -> contextlib.AbstractContextManager:
    if candidate.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=candidate.images.device.type, dtype=candidate.amp_dtype)


def train_step(candidate: Candidate, labels: torch.Tensor) -> None:
    with autocast(candidate):
        logits = candidate.forward(candidate.images)
        loss = F.cross_entropy(logits, labels, label_smoothing=LABEL_SMOOTHING)
    candidate.optimizer.zero_grad(set_to_none=True)
    if candidate.scaler is None:
        loss.backward()
        candidate.optimizer.step()
    else:
        candidate.scaler.scale(loss).backward()
        candidate.scaler.step(candidate.optimizer)
        candidate.scaler.update()


def eval_step(candidate: Candidate) -> None:
    """Inference as an evaluation loop runs it: eval mode (running BN statistics, no dropout)."""
    candidate.model.eval()
    try:
        with torch.inference_mode(), autocast(candidate):
            candidate.forward(candidate.images)
    finally:
        candidate.model.train()


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock read after it has seen the work done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], None], device: torch.device | None = None) -> float:
    if device is not None:
        synchronize(device)
    start = time.perf_counter()
    fn()
    if device is not None:
        synchronize(device)
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- statistics


@dataclass
class Throughput:
    """Per-round samples: wall-clock images/s, and this process's CPU seconds per image.

    CPU time is a second view for a shared machine: time spent descheduled by other work does
    not count in it (spinning threads still do), so its ratios are steadier than wall-clock's.
    """

    images_per_s: list[float] = field(default_factory=list)
    cpu_s_per_image: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        rates = self.images_per_s
        return {
            "median": statistics.median(rates),
            "min": min(rates),
            "max": max(rates),
            "samples": len(rates),
            "rounds": rates,
            "cpu_s_per_image_median": statistics.median(self.cpu_s_per_image),
        }


def interleaved_rounds(
    candidates: list[Candidate],
    step: Callable[[Candidate], None],
    rounds: int,
    steps_per_round: int,
    batch_size: int,
    log: Callable[[str], None],
    label: str,
) -> dict[str, Throughput]:
    """Run every candidate once per round, rotating the order; one sample per round."""
    results = {c.name: Throughput() for c in candidates}
    for r in range(rounds):
        shift = r % len(candidates)
        order = candidates[shift:] + candidates[:shift]
        for candidate in order:

            def round_of_steps(c: Candidate = candidate) -> None:
                for _ in range(steps_per_round):
                    step(c)

            cpu_start = time.process_time()
            # One clock over the round's steps: a GPU queues them back to back, as training does.
            elapsed = timed(round_of_steps, candidate.images.device)
            cpu = time.process_time() - cpu_start
            images = batch_size * steps_per_round
            results[candidate.name].images_per_s.append(images / elapsed)
            results[candidate.name].cpu_s_per_image.append(cpu / images)
        log(f"  {label} round {r + 1}/{rounds} done")
    return results


# ----------------------------------------------------------------------------- memory


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Samples the resident set size in a thread; ``peak`` is the largest value seen."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss_bytes())
            time.sleep(self.interval_s)

    def __enter__(self) -> RssSampler:
        self.peak = current_rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_bytes())


def measure_memory_in_child(args: argparse.Namespace) -> None:
    """Child mode: one candidate, print its memory figures as one JSON line."""
    set_cpu_allocator(args.cpu_allocator)
    torch.set_num_threads(args.threads)
    images, labels = make_batch(args.batch_size, args.image_size)
    candidate = make_candidate(args.child_impl, args.child_config, images)
    gc.collect()
    before = current_rss_bytes()
    step = (
        (lambda: train_step(candidate, labels))
        if args.child_mode == "train"
        else (lambda: eval_step(candidate))
    )
    for _ in range(2):  # warm-up (and compile) outside the sampled window
        step()
    with RssSampler() as sampler:
        for _ in range(2):
            step()
    print(json.dumps({"rss_before_mb": before / 2**20, "peak_rss_mb": sampler.peak / 2**20}))


def measure_gpu_memory(candidate: Candidate, labels: torch.Tensor) -> dict:
    """Peak CUDA allocation over two training steps, above what was allocated before them.

    The CUDA allocator counts every tensor exactly, so this runs in the main process: the other
    candidates' tensors are in both figures and cancel out.
    """
    device = candidate.images.device
    synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(2):
        train_step(candidate, labels)
    synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    return {
        "allocated_before_mb": before / 2**20,
        "peak_allocated_mb": peak / 2**20,
        "training_mb": (peak - before) / 2**20,
    }


def measure_memory(args: argparse.Namespace, impl: str, config: str, mode: str) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-impl", impl,
        "--child-config", config,
        "--child-mode", mode,
        "--batch-size", str(args.batch_size),
        "--image-size", str(args.image_size),
        "--threads", str(args.threads),
        "--cpu-allocator", args.cpu_allocator,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["training_mb"] = figures["peak_rss_mb"] - figures["rss_before_mb"]
    return figures


# ----------------------------------------------------------------------------- the run


def make_batch(
    batch_size: int, image_size: int, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch_size, 3, image_size, image_size, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (batch_size,), generator=generator)
    return images.to(device), labels.to(device)


def set_cpu_allocator(mode: str) -> bool:
    """The deliverable's ``--cpu-allocator``, for the whole process: every candidate alike.

    ``retain`` is what ``train.py`` does on CPU by default (see ``cpu_accel/allocator.py``); it is
    process-wide, so the ratios between implementations compare models, never allocators.
    """
    if mode != "retain":
        return False
    return deliverable_module("cpu_accel.allocator").retain_freed_memory()


def initialise_backends() -> None:
    """Pay the process's one-time costs (oneDNN set-up, lazy imports) before any timing."""
    probe = nn.Sequential(nn.Conv2d(3, 8, 3, groups=1), nn.BatchNorm2d(8), nn.SiLU())
    for memory_format in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 3, 16, 16).contiguous(memory_format=memory_format)
        probe.to(memory_format=memory_format)(x).sum().backward()


def warm_up(candidates: list[Candidate], labels: torch.Tensor, log) -> dict[str, dict]:
    """First train and eval calls (compile time included), then one more of each."""
    first: dict[str, dict] = {}
    for candidate in candidates:
        device = candidate.images.device
        train_first = timed(lambda c=candidate: train_step(c, labels), device)
        train_step(candidate, labels)
        eval_first = timed(lambda c=candidate: eval_step(c), device)
        eval_step(candidate)
        first[candidate.name] = {"train_first_step_s": train_first, "eval_first_call_s": eval_first}
        log(f"  warm-up {candidate.name}: first train step {train_first:.1f} s, "
            f"first eval {eval_first:.1f} s")  # fmt: skip
    return first


def scaling_run(args: argparse.Namespace, impls: list[str], log) -> dict:
    """img/s for each impl over batch sizes and resolutions (channels_last, eager)."""
    shapes = [(b, args.image_size) for b in args.scaling_batch_sizes] + [
        (args.batch_size, s) for s in args.scaling_image_sizes if s != args.image_size
    ]
    results: dict[str, dict[str, dict]] = {}
    for batch_size, image_size in shapes:
        images, labels = make_batch(batch_size, image_size, args.device)
        candidates = [make_candidate(i, "channels_last", images, args.amp) for i in impls]
        for c in candidates:
            train_step(c, labels)
        train = interleaved_rounds(
            candidates, lambda c, y=labels: train_step(c, y), args.scaling_rounds, 1, batch_size,
            log, f"scaling b{batch_size} r{image_size}",
        )  # fmt: skip
        key = f"batch{batch_size}_res{image_size}"
        results[key] = {
            c.impl: {"batch_size": batch_size, "image_size": image_size,
                     **train[c.name].summary()}
            for c in candidates
        }  # fmt: skip
        del candidates
        gc.collect()
    base_key = f"batch{args.batch_size}_res{args.image_size}"
    if base_key in results:
        for figures in results.values():
            for impl, entry in figures.items():
                base = results[base_key][impl]
                work = entry["image_size"] ** 2 / args.image_size**2
                # seconds per image relative to the default shape, per unit of pixel work
                entry["relative_cost_per_image"] = base["median"] / entry["median"]
                entry["relative_cost_per_pixel"] = base["median"] / entry["median"] / work
    return results


def best_of(summary: dict[str, dict], impls: list[str], key: str) -> tuple[str, float]:
    options = [
        (name, figures[key]["median"])
        for name, figures in summary.items()
        if name.split("/")[0] in impls
    ]
    return max(options, key=lambda item: item[1])


def run(args: argparse.Namespace) -> dict:
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    on_gpu = args.device == "cuda"
    allocator_retained = not on_gpu and set_cpu_allocator(args.cpu_allocator)
    torch.set_num_threads(args.threads)
    if on_gpu:
        # The autotuner picks each convolution's fastest algorithm for the fixed shapes: on for
        # every candidate, as train.py turns it on for CUDA.
        torch.backends.cudnn.benchmark = True
    initialise_backends()
    images, labels = make_batch(args.batch_size, args.image_size, args.device)
    log(f"building {len(args.impls) * len(args.configs)} candidates")
    candidates = [make_candidate(i, c, images, args.amp) for c in args.configs for i in args.impls]
    first = warm_up(candidates, labels, log)
    train = interleaved_rounds(
        candidates, lambda c: train_step(c, labels), args.rounds, args.steps_per_round,
        args.batch_size, log, "train",
    )  # fmt: skip
    evaluation = interleaved_rounds(
        candidates, eval_step, args.rounds, args.steps_per_round, args.batch_size, log, "eval"
    )
    gpu_memory = {}
    if args.memory and on_gpu:
        log("peak memory, from the CUDA allocator")
        gpu_memory = {c.name: measure_gpu_memory(c, labels) for c in candidates}
    summary: dict[str, dict] = {}
    for c in candidates:
        summary[c.name] = {
            "impl": c.impl,
            "config": c.config,
            "train": train[c.name].summary(),
            "eval": evaluation[c.name].summary(),
            **first[c.name],
        }
        if c.name in gpu_memory:
            summary[c.name]["memory_train"] = gpu_memory[c.name]
    del candidates
    gc.collect()

    peers = [i for i in args.impls if i != "ours"]
    comparisons: dict[str, dict] = {}
    if "ours" in args.impls and peers:
        for key in ("train", "eval"):
            ours_name, ours_rate = best_of(summary, ["ours"], key)
            peer_name, peer_rate = best_of(summary, peers, key)
            entry = {
                "ours_best": ours_name,
                "ours_images_per_s": ours_rate,
                "best_peer": peer_name,
                "best_peer_images_per_s": peer_rate,
                "ratio_vs_best_peer": ours_rate / peer_rate,
                "cpu_time_ratio_vs_best_peer": (
                    summary[peer_name][key]["cpu_s_per_image_median"]
                    / summary[ours_name][key]["cpu_s_per_image_median"]
                ),
            }
            if BASELINE in args.impls:
                base_name, base_rate = best_of(summary, [BASELINE], key)
                entry.update(
                    baseline_best=base_name,
                    baseline_images_per_s=base_rate,
                    ratio_vs_baseline=ours_rate / base_rate,
                )
            comparisons[key] = entry
        for figures in summary.values():
            for key in ("train", "eval"):
                figures[key]["ratio_vs_best_peer"] = (
                    figures[key]["median"] / comparisons[key]["best_peer_images_per_s"]
                )
    add_break_even(summary, args)

    if args.memory and not on_gpu:
        log("peak memory, one subprocess per candidate")
        for name, figures in summary.items():
            if ALL_CONFIGS[figures["config"]].compiled and not args.memory_compile:
                continue
            figures["memory_train"] = measure_memory(args, figures["impl"], figures["config"],
                                                     "train")  # fmt: skip
            log(f"  {name}: {figures['memory_train']}")

    scaling = {}
    if args.scaling:
        best_peer_impl = comparisons["train"]["best_peer"].split("/")[0] if comparisons else None
        impls = ["ours"] + ([best_peer_impl] if best_peer_impl else [])
        scaling = scaling_run(args, impls, log)

    return {
        "settings": {
            "batch_size": args.batch_size,
            "image_size": args.image_size,
            "threads": args.threads,
            "device": args.device,
            "dtype": "float32" if args.amp == "none" else f"float32 weights, {args.amp} autocast",
            "loss_scaling": "GradScaler" if args.amp == "float16" else "none",
            "cudnn_benchmark": on_gpu,
            "rounds": args.rounds,
            "steps_per_round": args.steps_per_round,
            "label_smoothing": LABEL_SMOOTHING,
            "optimizer": "SGD lr 0.1 momentum 0.9 weight_decay 1e-4",
            "cpu_allocator": args.cpu_allocator,
            "cpu_allocator_applied": allocator_retained,
            "eval": "model.eval() under torch.inference_mode",
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "gpu": torch.cuda.get_device_name() if on_gpu else None,
            "load_average_at_end": os.getloadavg(),
        },
        "versions": package_versions(),
        "results": summary,
        "comparisons": comparisons,
        "scaling": scaling,
    }


def add_break_even(summary: dict[str, dict], args: argparse.Namespace) -> None:
    """Steps after which compiling pays for itself against the impl's best eager config."""
    for figures in summary.values():
        if not ALL_CONFIGS[figures["config"]].compiled:
            continue
        eager = [
            f for f in summary.values()
            if f["impl"] == figures["impl"] and not ALL_CONFIGS[f["config"]].compiled
        ]  # fmt: skip
        if not eager:
            continue
        best_eager = max(eager, key=lambda f: f["train"]["median"])
        step_eager = args.batch_size / best_eager["train"]["median"]
        step_compiled = args.batch_size / figures["train"]["median"]
        overhead = figures["train_first_step_s"] - step_compiled
        saving = step_eager - step_compiled
        figures["compile_overhead_s"] = overhead
        figures["break_even_steps_vs"] = best_eager["config"]
        figures["break_even_steps"] = overhead / saving if saving > 0 else None


# ----------------------------------------------------------------------------- report


def format_report(report: dict) -> str:
    s = report["settings"]
    lines = [
        f"EfficientNet-B0 training step on {report['machine']['gpu'] or 'CPU'}, {s['dtype']}, "
        f"batch {s['batch_size']}, {s['image_size']}px, {s['threads']} threads, "
        f"{s['rounds']} interleaved rounds x {s['steps_per_round']} steps, "
        f"CPU allocator {s['cpu_allocator']} (images/s: median [min-max])",
        "",
        f"{'implementation/config':34} {'train img/s':>24} {'eval img/s':>24} "
        f"{'first step s':>12} {'train MB':>9}",
    ]
    for name, f in report["results"].items():
        train, ev = f["train"], f["eval"]
        memory = f.get("memory_train", {}).get("training_mb")
        memory_text = "-" if memory is None else f"{memory:.0f}"
        lines.append(
            f"{name:34} {train['median']:8.1f} [{train['min']:5.1f}-{train['max']:5.1f}]  "
            f"{ev['median']:8.1f} [{ev['min']:5.1f}-{ev['max']:5.1f}]  "
            f"{f['train_first_step_s']:12.1f} {memory_text:>9}"
        )
    lines.append("")
    for key, c in report["comparisons"].items():
        line = (
            f"{key}: ours {c['ours_images_per_s']:.1f} ({c['ours_best']}) = "
            f"{c['ratio_vs_best_peer']:.2f}x best peer {c['best_peer']} "
            f"({c['best_peer_images_per_s']:.1f}; by CPU time "
            f"{c['cpu_time_ratio_vs_best_peer']:.2f}x)"
        )
        if "ratio_vs_baseline" in c:
            line += (
                f", {c['ratio_vs_baseline']:.2f}x baseline {c['baseline_best']} "
                f"({c['baseline_images_per_s']:.1f})"
            )
        lines.append(line)
    for name, f in report["results"].items():
        if f.get("break_even_steps") is not None:
            lines.append(
                f"{name}: compile overhead {f['compile_overhead_s']:.0f} s, pays off after "
                f"{f['break_even_steps']:.0f} steps vs {f['break_even_steps_vs']}"
            )
    if report["scaling"]:
        lines += ["", "scaling (channels_last, eager): img/s median, cost per pixel vs default"]
        for key, figures in report["scaling"].items():
            cells = ", ".join(
                f"{impl} {e['median']:.1f} ({e.get('relative_cost_per_pixel', float('nan')):.2f})"
                for impl, e in figures.items()
            )
            lines.append(f"  {key}: {cells}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the full report as JSON here")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--amp",
        choices=tuple(AMP_DTYPES),
        default="none",
        help="autocast dtype for every candidate (float16 adds a GradScaler); default none: fp32",
    )
    parser.add_argument(
        "--cpu-allocator",
        choices=("retain", "system"),
        default="retain",
        help="glibc malloc for the whole process, as train.py's flag (default retain)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps-per-round", type=int, default=2)
    parser.add_argument(
        "--impls", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS)
    )
    parser.add_argument("--configs", nargs="+", choices=list(ALL_CONFIGS), default=list(CONFIGS))
    parser.add_argument(
        "--gpu-configs",
        action="store_true",
        help="add the GPU configurations (foreach/fused SGD, compile max-autotune, CUDA graphs)",
    )
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the per-candidate peak-memory subprocesses")  # fmt: skip
    parser.add_argument("--no-memory-compile", dest="memory_compile", action="store_false",
                        help="measure memory of eager configurations only")  # fmt: skip
    parser.add_argument("--no-scaling", dest="scaling", action="store_false")
    parser.add_argument("--scaling-batch-sizes", type=int, nargs="+", help="default 8 16 32 64")
    parser.add_argument(
        "--scaling-image-sizes", type=int, nargs="+", help="default 160 192 224 256"
    )
    parser.add_argument("--scaling-rounds", type=int, help="default 3 (--quick: 2)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="eager configs only, 3 rounds of 1 step, no compile, small scaling sweep",
    )
    parser.add_argument(
        "--warm-compile-cache",
        action="store_true",
        help="reuse the user's inductor cache (first-step times then omit most compiling)",
    )
    parser.add_argument("--child-impl", help=argparse.SUPPRESS)
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    parser.add_argument("--child-mode", default="train", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child_impl:
        measure_memory_in_child(args)
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: torch sees no CUDA device here", file=sys.stderr)
        return 2
    if args.gpu_configs:
        args.configs += [c for c in GPU_CONFIGS if c not in args.configs]
    needs_gpu = [c for c in args.configs if ALL_CONFIGS[c].gpu_only and args.device != "cuda"]
    if needs_gpu:
        print(f"--configs {' '.join(needs_gpu)} need --device cuda", file=sys.stderr)
        return 2
    defaults = {
        "rounds": (7, 3),
        "steps_per_round": (2, 1),
        "scaling_rounds": (3, 2),
        "scaling_batch_sizes": ([8, 16, 32, 64], [16, args.batch_size]),
        "scaling_image_sizes": ([160, 192, 224, 256], [160, args.image_size]),
    }
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.quick:
        args.configs = [c for c in args.configs if not ALL_CONFIGS[c].compiled]
    if not args.warm_compile_cache and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        # An empty inductor cache makes the first step's compile time what a first run pays;
        # the memory subprocesses inherit it, warm, through the environment.
        fresh_cache = tempfile.mkdtemp(prefix="bench-inductor-")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = fresh_cache
        atexit.register(shutil.rmtree, fresh_cache, ignore_errors=True)
    report = run(args)
    if args.out:  # first: a long run's figures must survive a reporting bug
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        tmp.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(tmp, args.out)
    print(format_report(report))
    if args.out:
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
