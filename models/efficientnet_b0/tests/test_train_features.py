"""train.py features beyond plain training: bf16 autocast on CPU, divergence handling,
evaluation, transfer learning from lukemelas/torchvision weights, ONNX export."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from effnet_support import TINY, model_state, small_image_folder, train_main

# isort: split

from common import checkpoint as ckpt
from model import weights

pytestmark = pytest.mark.needs_torch

ONE_EPOCH = [*TINY, "--epochs", "1", "--data", str(small_image_folder())]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One short fp32 run whose checkpoints the tests below evaluate, export and extend."""
    out = tmp_path_factory.mktemp("trained")
    assert train_main(*ONE_EPOCH, "--output-dir", out, "--ema", "--ema-decay", "0.9") == 0
    return out


def test_amp_on_cpu_trains_in_bfloat16_without_loss_scaling(tmp_path, capsys):
    out = tmp_path / "amp"
    assert train_main(*ONE_EPOCH, "--amp", "--output-dir", out, "--limit-train-batches", "2") == 0
    assert "mixed precision bfloat16 autocast, no loss scaling" in capsys.readouterr().out
    saved = torch.load(out / "last.pt", weights_only=True)
    assert saved["scaler"]["mode"] == "none" and saved["config"]["amp"] is True
    losses = [
        json.loads(x)["loss"]
        for x in (out / "metrics.jsonl").read_text().splitlines()
        if '"kind": "train"' in x
    ]
    assert losses and all(0 < loss < 10 for loss in losses)
    assert saved["model"]["conv_stem.weight"].dtype == torch.float32  # master weights stay fp32


def test_non_finite_loss_stops_with_exit_3_and_keeps_the_last_good_checkpoint(
    tmp_path, trained_run, capsys
):
    out = tmp_path / "diverging"
    out.mkdir()
    (out / "last.pt").write_bytes((trained_run / "last.pt").read_bytes())
    before = hashlib.sha256((out / "last.pt").read_bytes()).hexdigest()
    status = train_main(
        *TINY,
        "--data",
        small_image_folder(),
        "--output-dir",
        out,
        "--resume",
        "auto",
        "--epochs",
        "2",
        "--lr",
        "1e30",
        "--ema",
    )
    err = capsys.readouterr().err
    assert status == 3 and "Traceback" not in err
    assert "loss became non-finite" in err and "last good checkpoint" in err
    assert hashlib.sha256((out / "last.pt").read_bytes()).hexdigest() == before


@pytest.mark.parametrize(
    "saving",
    [["--save-interval-steps", "1", "--epochs", "3"], ["--batch-size", "32", "--epochs", "10"]],
    ids=["step-save", "epoch-end-save"],
)
def test_exploded_weights_never_replace_the_last_good_checkpoint(
    tmp_path, trained_run, capsys, saving
):
    """A step's loss is computed before its update, so the loss of the step that ruins the
    weights is still finite; the save itself must refuse them (it once wrote weights of 1e29).
    With a batch of 32 an epoch is one step: the epoch-end save comes right after it."""
    out = tmp_path / "diverging"
    out.mkdir()
    (out / "last.pt").write_bytes((trained_run / "last.pt").read_bytes())
    good = model_state(out / "last.pt")
    status = train_main(
        *TINY,
        "--data",
        small_image_folder(),
        "--output-dir",
        out,
        "--resume",
        "auto",
        "--lr",
        "1e30",
        "--ema",
        *saving,
    )
    err = capsys.readouterr().err
    kept = model_state(out / "last.pt")
    assert all(torch.equal(good[k], kept[k]) for k in good)
    assert sorted(p.name for p in out.iterdir()) == ["last.pt", "metrics.jsonl"]
    assert status == 3 and "Traceback" not in err
    assert "the weights diverged" in err and "last good checkpoint" in err


@pytest.mark.parametrize(
    "change, reference, expected",
    [
        (lambda s: s, 2.0, None),
        (lambda s: {**s, "w": s["w"] * 9000}, 2.0, None),
        (lambda s: {**s, "w": s["w"] * 20000}, 2.0, "above the bound of 2e+04"),
        (lambda s: {**s, "w": s["w"] * 6000}, 0.0, "above the bound of 1e+04"),
        (lambda s: {**s, "b": torch.tensor([float("nan")])}, 2.0, "b holds a non-finite value"),
        (lambda s: {**s, "w": torch.full((2,), 2e8)}, 1e6, "above the bound of 1e+08"),
    ],
    ids=["unchanged", "grown-9000x", "grown-20000x", "from-zero", "nan", "above-the-limit"],
)
def test_exploded_or_non_finite_weights_are_defined_by_growth_and_a_limit(
    change, reference, expected
):
    healthy = {"w": torch.tensor([-2.0, 1.0]), "b": torch.zeros(1), "steps": torch.tensor(10**9)}
    problem = ckpt.unsound_weights(change(healthy), reference=reference)
    assert problem is None if expected is None else expected in problem


def test_evaluate_reports_top1_top5_and_loss(trained_run, capsys):
    status = train_main(
        *TINY,
        "--data",
        small_image_folder(),
        "--evaluate",
        "--resume",
        trained_run / "best.pt",
        "--output-dir",
        trained_run,
    )
    assert status == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("evaluation:"))
    top1, top5 = float(line.split()[2]), float(line.split()[4])
    assert 0 <= top1 <= top5 == 100.0  # 3 classes: the top 5 always holds the answer
    assert "(18 images)" in line


def test_ema_weights_are_saved_and_evaluated(trained_run):
    saved = torch.load(trained_run / "last.pt", weights_only=True)
    assert saved["ema"]["updates"] == 4 and set(saved["ema"]["module"]) == set(saved["model"])
    epoch = next(
        json.loads(x)
        for x in (trained_run / "metrics.jsonl").read_text().splitlines()
        if '"kind": "epoch"' in x
    )
    assert 0.0 <= epoch["ema_val_top1"] <= 100.0


def _torchvision_weights(path):
    import torchvision

    torch.manual_seed(1)
    torch.save(torchvision.models.efficientnet_b0(weights=None).state_dict(), path)


def _lukemelas_weights(path):
    from efficientnet_pytorch import EfficientNet

    torch.manual_seed(1)
    torch.save(EfficientNet.from_name("efficientnet-b0").state_dict(), path)


@pytest.mark.parametrize(
    "write_weights, padding",
    [(_torchvision_weights, "symmetric"), (_lukemelas_weights, "same")],
    ids=["torchvision", "lukemelas"],
)
def test_fine_tuning_pretrained_weights_with_a_new_head_and_frozen_backbone(
    tmp_path, write_weights, padding
):
    source = tmp_path / "pretrained.pth"
    write_weights(source)
    out = tmp_path / "finetune"
    status = train_main(
        *ONE_EPOCH,
        "--pretrained",
        source,
        "--freeze-backbone",
        "--output-dir",
        out,
        "--limit-train-batches",
        "2",
    )
    assert status == 0
    saved = torch.load(out / "last.pt", weights_only=True)
    assert saved["config"]["padding"] == padding  # lukemelas weights need TF "same" padding
    model = saved["model"]
    assert model["classifier.weight"].shape == (3, 1280)  # new head for the 3 classes
    reference = weights.model_for_state_dict(torch.load(source, weights_only=True)).state_dict()
    frozen = [
        k
        for k in model
        if not k.startswith("classifier.")
        and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    ]
    assert all(torch.equal(model[k], reference[k]) for k in frozen)


def test_backbone_learning_rate_is_scaled_separately_from_the_head(tmp_path):
    out = tmp_path / "scaled"
    assert (
        train_main(
            *ONE_EPOCH,
            "--backbone-lr-scale",
            "0.1",
            "--output-dir",
            out,
            "--limit-train-batches",
            "1",
        )
        == 0
    )
    groups = torch.load(out / "last.pt", weights_only=True)["optimizer"]["param_groups"]
    scales = sorted({g["lr_scale"] for g in groups})
    assert scales == [0.1, 1.0]
    assert {g["weight_decay"] for g in groups} == {0.0, 1e-4}  # no decay on BN and biases


@pytest.mark.slow
def test_export_onnx_through_train_py_matches_pytorch(trained_run, tmp_path, capsys):
    target = tmp_path / "model.onnx"
    status = train_main(
        "--pretrained",
        trained_run / "best.pt",
        "--export-onnx",
        target,
        "--image-size",
        "32",
        "--device",
        "cpu",
    )
    assert status == 0, capsys.readouterr().err
    assert target.stat().st_size > 1_000_000
    assert "onnxruntime matches PyTorch" in capsys.readouterr().out


def test_static_loss_scale_runs_through_the_training_loop(tmp_path, capsys):
    """The NPU recipe's static loss scale (128) in a real loop. CPU autocast cannot backpropagate
    float16 through this network, so the CPU runs it with bfloat16; the scaler code is the same."""
    out = tmp_path / "scaled"
    status = train_main(
        *ONE_EPOCH,
        "--amp",
        "--loss-scale",
        "128",
        "--output-dir",
        out,
        "--limit-train-batches",
        "2",
    )
    assert status == 0
    assert "bfloat16 autocast, static loss scale 128" in capsys.readouterr().out
    scaler = torch.load(out / "last.pt", weights_only=True)["scaler"]
    assert scaler["mode"] == "static" and scaler["scale"] == 128.0
    assert scaler["clean_steps"] + scaler["skipped_steps"] == 2
