"""The benchmarks' new pieces run (tiny shapes, nothing timed): the end-to-end-from-files
measure on a CPU and the extra GPU configurations of bench_training_speed.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from effnet_support import subprocess_env

pytestmark = pytest.mark.needs_torch

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "ignore", str(BENCH / script), *args],
                          env=subprocess_env(), capture_output=True, text=True, timeout=600)


def test_training_from_files_reports_every_stage_and_both_pipelines(tmp_path):
    out = tmp_path / "from_files.json"
    result = _bench("bench_from_files.py", "--images", "8", "--batch-size", "4",
                    "--image-size", "32", "--workers", "1", "--pipelines", "device", "cpu",
                    "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["synthetic"] > 0
    assert set(report["pipelines"]["device"]["stages"]) == {"read", "decode", "augment", "step"}
    assert report["pipelines"]["cpu"]["end_to_end"] > 0
    assert "% of synthetic" in result.stdout


def test_fused_and_foreach_sgd_configurations_run_on_a_cpu(tmp_path):
    result = _bench("bench_training_speed.py", "--impls", "ours", "--configs",
                    "channels_last+fused_sgd", "channels_last+foreach_sgd", "--batch-size", "2",
                    "--image-size", "32", "--rounds", "1", "--steps-per-round", "1",
                    "--no-memory", "--no-scaling", "--threads", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ours/channels_last+fused_sgd" in result.stdout
    assert "ours/channels_last+foreach_sgd" in result.stdout


def test_cuda_graph_configurations_need_a_gpu():
    result = _bench("bench_training_speed.py", "--configs",
                    "compile_cudagraphs+channels_last+fused_sgd")
    assert result.returncode == 2 and "need --device cuda" in result.stderr
