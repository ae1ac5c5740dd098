"""``modelzoo export-card``: a deliverable as a Hugging Face model card (through
huggingface_hub's own card classes; the card round-trips through them) and as
ModelScope/Modelers-style front matter."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from modelzoo_kit.cards import card_facts, modelscope_card_text
from modelzoo_kit.cli import main

ZOO = Path(__file__).parent / "fixtures" / "catalog" / "zoo"
APACHE = "                                 Apache License\n                           Version 2.0, January 2004\n"  # noqa: E501


@pytest.fixture()
def yolo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "yolo_pt"
    shutil.copytree(ZOO / "detection" / "yolo_pt", folder)
    (tmp_path / "repo" / ".git").mkdir()
    (tmp_path / "repo" / "LICENSE").write_text(APACHE, "utf-8")
    return folder


def _front(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_facts_in_the_hubs_vocabulary(yolo: Path) -> None:
    facts = card_facts(yolo)
    assert (facts.license, facts.library, facts.pipeline_tag) == (
        "apache-2.0", "pytorch", "object-detection")
    assert facts.tags == ["pytorch", "object-detection", "fp32", "research", "ascend", "modelzoo"]
    assert facts.datasets == ["ImageNet"] and facts.hardware == ["NPU"]


def test_no_license_file_means_no_license_key(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    shutil.copytree(ZOO / "vision" / "tiny", folder)
    (tmp_path / ".git").mkdir()
    assert card_facts(folder).license is None


def test_hugging_face_card_round_trips_through_huggingface_hub(
    yolo: Path, tmp_path: Path
) -> None:
    hub = pytest.importorskip("huggingface_hub", reason="the hub extra is not installed")
    out = tmp_path / "README.md"
    assert main(["export-card", str(yolo), "--format", "hf", "-o", str(out)]) == 0
    text = out.read_text("utf-8")
    card = hub.ModelCard.load(out)
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0" and data["library_name"] == "pytorch"
    assert data["pipeline_tag"] == "object-detection" and data["datasets"] == ["ImageNet"]
    assert "ascend" in data["tags"]
    results = {(r.metric_name, r.metric_value) for r in card.data.eval_results}
    assert results == {("mAP (8p)", 41.2), ("throughput (samples/s) (8p)", 4485.8)}  # no 竞品 row
    assert str(hub.ModelCard(str(card))) == str(card) == text
    assert "# YOLO for PyTorch" in card.text


def test_a_card_without_results_has_no_model_index(tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub", reason="the hub extra is not installed")
    from modelzoo_kit.cards import hf_card_text

    assert "model-index" not in hf_card_text(card_facts(ZOO / "vision" / "legacy"))


def test_without_huggingface_hub_hf_is_a_usage_error(
    yolo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    assert main(["export-card", str(yolo), "--format", "hf"]) == 2
    assert "pip install 'modelzoo-kit[hub]'" in capsys.readouterr().err


def test_modelscope_front_matter(yolo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-card", str(yolo), "--format", "modelscope"]) == 0
    front = _front(capsys.readouterr().out)
    assert front == {
        "frameworks": ["PyTorch"], "license": "apache-2.0", "tasks": ["object-detection"],
        "hardwares": ["NPU"],
        "tags": ["pytorch", "object-detection", "fp32", "research", "ascend", "modelzoo"],
        "datasets": {"train": ["ImageNet"], "evaluation": ["ImageNet"]}, "metrics": ["mAP"],
    }  # fmt: skip


def test_hostile_values_add_no_markup_to_a_card() -> None:
    facts = card_facts(ZOO / "hostile")
    text = modelscope_card_text(facts)
    assert set(_front(text)) <= {"frameworks", "license", "tasks", "hardwares", "tags",
                                 "datasets", "metrics"}  # fmt: skip
    assert "<script" not in text and "<img" not in text and "</p>" not in text
    assert "&lt;script&gt;window.__pwned=1" in text


@pytest.mark.parametrize("target", ["missing", "empty"])
def test_a_folder_that_is_no_deliverable_exits_2(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if target == "empty":
        (tmp_path / target).mkdir()
    assert main(["export-card", str(tmp_path / target)]) == 2
    assert str(tmp_path / target) in capsys.readouterr().err
