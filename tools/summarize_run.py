"""Print the main job's closing summary from a training run folder of the bundled deliverable.

Reads only what train.py writes (metrics.jsonl, the case log, checkpoints), so the summary is
the run's own record rather than numbers scraped from the console.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def records(metrics: Path) -> list[dict]:
    lines = metrics.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--seconds", type=int, default=None, help="wall time of the whole job")
    args = parser.parse_args(argv)
    metrics = args.run_dir / "metrics.jsonl"
    if not metrics.is_file():
        print(f"summary: {metrics} does not exist; did the training step run?", file=sys.stderr)
        return 2
    rows = records(metrics)
    epochs = [r for r in rows if r.get("kind") == "epoch"]
    summary = next((r for r in reversed(rows) if r.get("kind") == "summary"), {})
    best = max((r["val_top1"] for r in epochs if "val_top1" in r), default=None)
    last = epochs[-1] if epochs else {}
    onnx = args.run_dir / "efficientnet_b0.onnx"
    lines = [
        ("epochs trained", str(len(epochs))),
        ("best val top-1 (%)", f"{best:.2f}" if best is not None else "-"),
        ("last val top-5 (%)", f"{last['val_top5']:.2f}" if "val_top5" in last else "-"),
        ("train images/s", summary.get("ActualFPS", "-")),
        ("checkpoints", f"{args.run_dir / 'best.pt'}, {args.run_dir / 'last.pt'}"),
        ("metrics log", str(metrics)),
        ("case log", ", ".join(str(p) for p in sorted(args.run_dir.glob("*.log"))) or "-"),
        ("ONNX model", str(onnx) if onnx.is_file() else "- (not exported)"),
    ]
    if args.seconds is not None:
        lines.append(("whole job (s)", str(args.seconds)))
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"  {name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
