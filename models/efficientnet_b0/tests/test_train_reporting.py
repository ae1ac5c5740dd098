"""What train.py reports: the zoo's case log and closing lines, throughput, the progress bar,
and a parameter table that tools read statically."""

from __future__ import annotations

import ast
import io
import subprocess
import sys

import pytest
from effnet_support import DELIVERABLE

# isort: split

from training import reporting

pytestmark = pytest.mark.needs_torch


def _summary(**overrides):
    values = dict(
        network="efficientnet_b0",
        rank_size=8,
        global_batch=2048,
        case="efficientnet_b0_bs2048_8p_acc",
        fps=10240.0,
        final_loss=1.23456,
        train_accuracy=76.5,
        e2e_seconds=3600.4,
    )
    values.update(overrides)
    return reporting.RunSummary(**values)


def test_case_log_has_the_zoo_keys_in_order_and_step_time_in_milliseconds(tmp_path):
    path = reporting.write_case_log(_summary(), tmp_path)
    lines = path.read_text().splitlines()
    assert path.name == "efficientnet_b0_bs2048_8p_acc.log"
    assert [line.split(" = ")[0] for line in lines] == list(reporting.CASE_LOG_KEYS)
    values = dict(line.split(" = ") for line in lines)
    assert values["TrainingTime"] == "200.00"  # 2048 images / 10240 images/s = 200 ms per step
    assert values["ActualLoss"] == "1.2346" and values["E2ETrainingTime"] == "3600"


def test_closing_lines_match_the_zoo_scripts_grep_patterns():
    assert _summary(train_accuracy=None).final_lines() == [
        "Final Performance images/sec : 10240.00",
        "Final Train Accuracy : None",
        "E2E Training Duration sec : 3600",
    ]


@pytest.mark.parametrize(
    "measurements, expected",
    [
        ([(100, 10.0), (1000, 1.0), (1000, 1.0)], 1000.0),  # the warm-up interval is left out
        ([(100, 2.0)], 50.0),  # one interval only: it is all there is
        ([], None),
    ],
)
def test_throughput_leaves_out_the_warm_up_interval(measurements, expected):
    meter = reporting.Throughput(skip=1)
    for images, seconds in measurements:
        meter.add(images, seconds)
    assert meter.images_per_second == expected


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "setting, is_main, stream, expected",
    [
        ("auto", True, _Terminal(), True),
        ("auto", True, io.StringIO(), False),  # redirected to a log: plain lines only
        ("on", True, io.StringIO(), True),
        ("off", True, _Terminal(), False),
        ("on", False, _Terminal(), False),  # only rank 0 draws
    ],
)
def test_progress_bar_only_on_rank_0_and_a_terminal_unless_forced(
    setting, is_main, stream, expected
):
    assert reporting.progress_enabled(setting, is_main, stream) is expected


def test_progress_bar_counts_steps_from_a_resumed_position(capsys):
    bar = reporting.EpochProgress(True, total=10, epoch=1, epochs=3, initial=4)
    bar.update(loss="0.5")
    assert bar.bar.n == 5
    bar.close()
    assert "epoch 2/3" in capsys.readouterr().err


def test_metrics_log_appends_flushed_json_lines(tmp_path):
    log = reporting.MetricsLog(tmp_path / "m.jsonl")
    log.write("train", step=1, loss=2.0)
    assert '"kind": "train"' in (tmp_path / "m.jsonl").read_text()  # readable before close
    log.close()
    reporting.MetricsLog(tmp_path / "m.jsonl").write("train", step=2)
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 2


def test_every_parameter_is_readable_statically_with_a_literal_default_and_help():
    tree = ast.parse((DELIVERABLE / "train.py").read_text())
    calls = [
        c
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "add_argument"
    ]
    flags = []
    for call in calls:
        keywords = {k.arg: k.value for k in call.keywords}
        assert isinstance(keywords.get("help"), (ast.Constant, ast.JoinedStr, ast.BinOp))
        ast.literal_eval(keywords["default"])  # a literal, or this raises
        flags.append(call.args[0].value)
    assert {
        "--data",
        "--epochs",
        "--batch-size",
        "--lr",
        "--amp",
        "--device",
        "--resume",
        "--pretrained",
        "--evaluate",
        "--export-onnx",
        "--sync-bn",
    } <= set(flags)


def test_help_needs_no_torch_import():
    code = (
        "import sys; sys.argv = ['train.py', '--help']; import runpy\n"
        "try:\n    runpy.run_path('train.py', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=DELIVERABLE, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--amp" in result.stdout
