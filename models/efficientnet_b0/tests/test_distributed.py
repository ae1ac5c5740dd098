"""Data-parallel training with two real processes under torchrun (gloo on CPU)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import torch
from effnet_support import (
    DELIVERABLE,
    TINY,
    model_state,
    run_train_process,
    small_image_folder,
    subprocess_env,
)

# isort: split

from common.errors import ConfigError
from training.distributed import DistEnv, read_env, scaled_learning_rate

pytestmark = pytest.mark.needs_torch


def _records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_gloo_ranks_with_sync_bn_match_one_process_with_the_same_global_batch(tmp_path):
    common = [
        *TINY,
        "--data",
        str(small_image_folder()),
        "--epochs",
        "1",
        "--lr",
        "0.4",
        "--limit-train-batches",
        "3",
    ]
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    one = run_train_process(*common, "--output-dir", single)  # batch 8 in one process
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "train.py",
            *common,
            "--batch-size",
            "4",
            "--sync-bn",
            "--output-dir",
            str(ddp),
        ],
        cwd=DELIVERABLE,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert "device cpu x 2" in two.stdout and "global batch 8" in two.stdout

    replicas = next(r for r in _records(ddp) if r["kind"] == "replicas")
    assert replicas["identical"] and len(replicas["checksums"]) == 2

    expected, actual = model_state(single / "last.pt"), model_state(ddp / "last.pt")
    assert expected.keys() == actual.keys()  # SyncBatchNorm keeps the state-dict keys
    # Measured: after these 3 steps the largest difference is ~5e-5 (float summation order);
    # without --sync-bn it is ~0.4, because each rank then normalises with its own half batch.
    for key in expected:
        difference = (expected[key].float() - actual[key].float()).abs().max().item()
        assert difference < 5e-4, (key, difference)
    single_epoch = next(r for r in _records(single) if r["kind"] == "epoch")
    ddp_epoch = next(r for r in _records(ddp) if r["kind"] == "epoch")
    assert single_epoch["val_images"] == ddp_epoch["val_images"] == 18  # each image once
    assert abs(single_epoch["val_top1"] - ddp_epoch["val_top1"]) <= 100 / 18
    assert (ddp / "efficientnet_b0_bs8_2p_perf.log").is_file()


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, DistEnv(0, 0, 1)),
        ({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "h"}, DistEnv(3, 1, 4)),
    ],
)
def test_torchrun_environment_is_read(environ, expected):
    assert read_env(environ) == expected


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"WORLD_SIZE": "two"}, "not an integer"),
        ({"RANK": "4", "WORLD_SIZE": "4", "MASTER_ADDR": "h"}, "inconsistent"),
        ({"RANK": "0", "WORLD_SIZE": "2"}, "MASTER_ADDR"),
    ],
)
def test_broken_torchrun_environment_is_a_config_error(environ, message):
    with pytest.raises(ConfigError, match=message):
        read_env(environ)


@pytest.mark.parametrize(
    "base, global_batch, rule, expected",
    [
        (0.1, 256, "linear", 0.1),
        (0.1, 2048, "linear", 0.8),
        (0.1, 64, "linear", 0.025),
        (0.1, 2048, "none", 0.1),
    ],
)
def test_learning_rate_scales_linearly_from_the_reference_batch(base, global_batch, rule, expected):
    assert scaled_learning_rate(base, global_batch, rule) == pytest.approx(expected)


def test_sync_bn_conversion_keeps_the_layers_activation_and_state_dict_keys(monkeypatch):
    from cpu_accel import accelerate, fast_modules
    from model.efficientnet import build_model
    from training.distributed import AllReduceBatchNorm, NativeSyncBatchNorm, convert_sync_batchnorm

    # The originals computed as the synchronised layers do, with ATen's BatchNorm and SiLU (not
    # the fused CPU kernel, whose rounding a 2-sample batch would amplify): equal bit for bit.
    monkeypatch.setattr(fast_modules, "batchnorm_silu_applies", lambda norm, x: False)

    plain = build_model(num_classes=3, image_size=32, drop_rate=0.0, drop_path_rate=0.0)
    model = accelerate(copy.deepcopy(plain))  # a CPU run's model: the synced layers keep working
    images = torch.randn(2, 3, 32, 32)
    keys = list(model.state_dict())
    expected_train = copy.deepcopy(model).train()(images)
    expected_eval = copy.deepcopy(model).eval()(images)
    for device_type, kind in (("cpu", AllReduceBatchNorm), ("cuda", NativeSyncBatchNorm)):
        converted = convert_sync_batchnorm(copy.deepcopy(model), device_type)
        norms = [m for m in converted.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert norms and all(isinstance(m, kind) for m in norms)
        assert list(converted.state_dict()) == keys
        # Without a process group the synchronised layers compute exactly what the originals do
        # (activation included), in evaluation and in training.
        assert torch.equal(converted.eval()(images), expected_eval)
        assert torch.equal(converted.train()(images), expected_train)
