"""`modelzoo run`: the deliverable's declared commands run from its folder, as written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelzoo_kit.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "deliverables" / "minimal"

RECORDER = """#!/usr/bin/env bash
printf '%s\\n' "$PWD" "$@" > args.txt
exit "${EXIT_WITH:-0}"
"""


@pytest.fixture
def deliverable(tmp_path: Path) -> Path:
    folder = tmp_path / "minimal"
    shutil.copytree(FIXTURE, folder)
    (folder / "test" / "train_full_1p.sh").write_text(RECORDER)
    return folder


def test_runs_the_declared_command_in_the_deliverable_folder_with_extra_args(deliverable, capsys):
    code = main(["run", str(deliverable), "train-1p", "--", "--epochs", "2", "a b"])
    assert code == 0
    lines = (deliverable / "args.txt").read_text().splitlines()
    assert Path(lines[0]).resolve() == deliverable.resolve()
    assert lines[1:] == ["--data_path=/data/imagenet", "--epochs", "2", "a b"]
    assert "bash test/train_full_1p.sh --data_path=/data/imagenet --epochs 2 'a b'" in (
        capsys.readouterr().err
    )


def test_exit_status_is_the_commands_own(deliverable, monkeypatch, capsys):
    monkeypatch.setenv("EXIT_WITH", "3")
    assert main(["run", str(deliverable), "train-1p"]) == 3
    assert "train-1p failed with exit status 3" in capsys.readouterr().err


def test_dry_run_prints_and_runs_nothing(deliverable, capsys):
    assert main(["run", str(deliverable), "train-1p", "--dry-run"]) == 0
    assert not (deliverable / "args.txt").exists()
    assert "test/train_full_1p.sh" in capsys.readouterr().err


def test_without_a_task_lists_the_entry_points(deliverable, capsys):
    assert main(["run", str(deliverable)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["train-1p", "train-8p", "evaluate"]


def test_unknown_task_is_a_usage_error_naming_the_declared_ones(deliverable, capsys):
    assert main(["run", str(deliverable), "deploy"]) == 2
    err = capsys.readouterr().err
    assert "no entry point 'deploy'" in err and "train-1p, train-8p, evaluate" in err
    assert "Traceback" not in err


def test_missing_deliverable_is_an_input_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nowhere"), "train-1p"]) == 2
    assert "deliverable.yaml" in capsys.readouterr().err
