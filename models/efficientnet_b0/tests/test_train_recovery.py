"""Interrupted runs continue exactly: SIGTERM saves and exits; SIGKILL loses at most the steps
since the last save; either way the resumed run's weights equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from effnet_support import DELIVERABLE, TINY, model_state, small_image_folder, subprocess_env

pytestmark = pytest.mark.needs_torch

# 36 training images / batch 8 = 4 steps per epoch, 3 epochs: the stops below land mid-epoch.
RUN = ["--epochs", "3", "--lr", "0.4"]


def _args(out):
    return [*TINY, "--data", str(small_image_folder()), "--output-dir", str(out), *RUN]


def _start(out, *extra, new_session=False):
    return subprocess.Popen(
        [sys.executable, "train.py", *_args(out), *extra],
        cwd=DELIVERABLE,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def _run(out, *extra):
    process = _start(out, *extra)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr[-2000:]
    return stdout


def _wait_for(process, marker):
    for line in process.stdout:
        if marker in line:
            return
    raise AssertionError(f"the run ended before printing {marker!r}: {process.stderr.read()}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    _run(out)
    return model_state(out / "last.pt")


def _assert_same_weights(expected, actual):
    assert expected.keys() == actual.keys()
    different = [k for k in expected if not torch.equal(expected[k], actual[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.mark.slow
def test_sigterm_saves_mid_epoch_and_the_resumed_run_equals_an_uninterrupted_one(
    tmp_path, uninterrupted
):
    out = tmp_path / "run"
    process = _start(out)
    _wait_for(process, "epoch 2/3 step 1/4")
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "received SIGTERM: saved" in stdout and "--resume auto" in stdout
    assert "Traceback" not in stderr
    stopped = torch.load(out / "last.pt", weights_only=True)["progress"]
    assert stopped["epoch"] == 1 and 1 <= stopped["step_in_epoch"] < 4  # mid-epoch
    resumed = _run(out, "--resume", "auto")
    assert "resumed from" in resumed
    _assert_same_weights(uninterrupted, model_state(out / "last.pt"))
    kinds = [json.loads(x)["kind"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert "stopped" in kinds and kinds[-1] == "summary"


@pytest.mark.slow
def test_sigkill_loses_only_unsaved_steps_and_the_resumed_run_equals_an_uninterrupted_one(
    tmp_path, uninterrupted
):
    out = tmp_path / "run"
    process = _start(out, "--save-interval-steps", "1")
    _wait_for(process, "epoch 2/3 step 3/4")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    survived = torch.load(out / "last.pt", weights_only=True)["progress"]
    assert survived["global_step"] >= 5
    _run(out, "--resume", "auto")
    _assert_same_weights(uninterrupted, model_state(out / "last.pt"))


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_still_saves_with_loader_workers(tmp_path):
    """Ctrl-C and ``kill -TERM -- -PGID`` signal every process of the group: the loader workers
    live in groups of their own, so the main process saves while they keep serving it."""
    out = tmp_path / "run"
    process = _start(out, "--workers", "2", new_session=True)
    try:
        _wait_for(process, "epoch 1/3 step 2/4")
        os.killpg(process.pid, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, stderr[-2000:]
    assert "received SIGTERM: saved" in stdout and "Traceback" not in stderr
    assert torch.load(out / "last.pt", weights_only=True)["progress"]["global_step"] >= 2


def _children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as handle:
            found += [int(x) for x in handle.read().split()]
    return found


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_a_loader_worker_killed_by_a_signal_ends_the_run_with_one_line_and_exit_2(tmp_path):
    """As the out-of-memory killer does: the run reports the dead worker and exits, no hang."""
    process = _start(tmp_path / "run", "--workers", "1", "--save-interval-steps", "1")
    try:
        _wait_for(process, "epoch 1/3 step 1/4")
        for child in _children(process.pid):
            os.kill(child, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "a data-loading worker died" in errors[0]
