"""End to end: train.py learns the built-in demo dataset from scratch, on a CPU, in minutes."""

from __future__ import annotations

import json

import pytest
from effnet_support import demo_root, run_train_process

pytestmark = pytest.mark.needs_torch


@pytest.mark.slow
def test_demo_dataset_is_learned_well_above_chance(tmp_path):
    out = tmp_path / "run"
    result = run_train_process(
        "--demo-root",
        demo_root(),
        "--output-dir",
        out,
        "--device",
        "cpu",
        "--image-size",
        "32",
        "--batch-size",
        "32",
        "--epochs",
        "3",
        "--limit-train-batches",
        "50",
        "--workers",
        "0",
        "--lr",
        "0.16",
        "--warmup-epochs",
        "0.2",
        "--crop-scale-min",
        "0.35",
        "--drop-path-rate",
        "0",
        "--drop-rate",
        "0",
        "--log-interval",
        "10",
        "--progress",
        "off",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert len(epochs) == 3
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3  # the loss falls
    chance = 100.0 / 10
    assert epochs[-1]["val_top1"] >= 3.5 * chance, epochs  # 10 classes: chance is 10 %
    # The zoo's closing lines and case log report the same run.
    assert f"Final Train Accuracy : {epochs[-1]['val_top1']:.2f}" in result.stdout
    assert "Final Performance images/sec : " in result.stdout
    case_log = (out / "efficientnet_b0_bs32_1p_perf.log").read_text().splitlines()
    keys = [line.split(" = ")[0] for line in case_log]
    assert keys == [
        "Network",
        "RankSize",
        "BatchSize",
        "DeviceType",
        "CaseName",
        "ActualFPS",
        "TrainingTime",
        "ActualLoss",
        "E2ETrainingTime",
        "TrainAccuracy",
    ]
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
