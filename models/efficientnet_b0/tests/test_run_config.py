"""The typed run configuration: one field per train.py flag, checked once, in every checkpoint."""

from __future__ import annotations

import dataclasses

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402, F401, I001  (puts the deliverable's folder on sys.path)
from common.errors import ConfigError  # noqa: E402
from training.output_folder import OutputFolder  # noqa: E402
from training.run_config import RunConfig  # noqa: E402
from train import build_parser  # noqa: E402


def config_of(*argv: str) -> RunConfig:
    return RunConfig.from_args(build_parser().parse_args(list(argv)))


def test_every_flag_is_a_field_and_every_field_a_flag() -> None:
    flags = {a.dest for a in build_parser()._actions if a.dest != "help"}
    assert {f.name for f in dataclasses.fields(RunConfig)} == flags


def test_the_configuration_cannot_change_once_built() -> None:
    config = config_of("--epochs", "3")
    assert config.epochs == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 4  # type: ignore[misc]


def test_the_record_holds_every_flag_and_what_the_run_resolved() -> None:
    record = config_of("--padding", "auto").record("same", 7, 2)
    assert record["padding"] == "same" and record["num_classes"] == 7
    assert record["world_size"] == 2 and record["lr"] == 0.1
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in record.values())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--workers", "-1"], "--workers must be 0 or more"),
        (["--crop-fraction", "1.5"], "--crop-fraction must be in (0, 1]"),
        (["--drop-rate", "1"], "--drop-rate must be in [0, 1)"),
        (["--ema-decay", "1"], "--ema-decay must be in (0, 1)"),
        (["--dataset", "imagefolder"], "--dataset imagefolder needs --data PATH"),
        (["--evaluate"], "--evaluate needs weights"),
        (["--evaluate", "--export-onnx", "x.onnx"], "choose one of --evaluate and --export-onnx"),
    ],
)
def test_inconsistent_settings_are_one_line_config_errors(argv, message) -> None:
    with pytest.raises(ConfigError) as error:
        config_of(*argv)
    assert message in str(error.value)


def test_the_output_folder_refuses_to_overwrite_a_run(tmp_path) -> None:
    folder = OutputFolder(tmp_path / "run")
    folder.prepare(None)
    folder.last.write_bytes(b"a checkpoint")
    assert folder.resume_path("auto") == folder.last
    with pytest.raises(ConfigError, match="already holds a run"):
        folder.prepare(None)
    with pytest.raises(ConfigError, match="holds a different run"):
        folder.prepare(tmp_path / "elsewhere" / "last.pt")
    folder.prepare(folder.last)  # resuming this run is fine
    assert "is kept" in folder.kept_checkpoint()
