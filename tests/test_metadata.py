"""The deliverable model: field rules applied, cross-field rules, bilingual text."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from modelzoo_kit.metadata import (
    Deliverable,
    Localized,
    cross_field_problems,
    localize,
)

FIXTURES = Path(__file__).parent / "fixtures" / "deliverables"
GOOD = yaml.safe_load((FIXTURES / "minimal" / "deliverable.yaml").read_text(encoding="utf-8"))


def data(**changes: object) -> dict:
    """The minimal fixture's data with dotted-path changes (None deletes the key)."""
    result = copy.deepcopy(GOOD)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = result
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return result


def problems(**changes: object) -> dict[str, str]:
    deliverable = Deliverable.model_validate(data(**changes), context={"defer_cross_checks": True})
    return {".".join(map(str, loc)): message for loc, message in cross_field_problems(deliverable)}


def test_the_minimal_fixture_is_valid_and_normalised():
    deliverable = Deliverable.model_validate(data(basic__precision="mixed"))
    assert deliverable.basic.precision == "Mixed"
    assert deliverable.basic.modified == date(2026, 11, 25)
    assert deliverable.basic.modified_text == "2026.11.25"
    assert deliverable.provenance.ignore == ["README.md", "README.en.md", "deliverable.yaml"]


def test_unknown_keys_are_errors():
    with pytest.raises(ValidationError, match="descripton"):
        Deliverable.model_validate(data(basic__descripton="x"))


def test_version_read_as_a_number_asks_for_quotes():
    with pytest.raises(ValidationError, match="quote it"):
        Deliverable.model_validate(data(basic__version=1.1))


def test_version_given_as_an_integer_is_not_two_part():
    with pytest.raises(ValidationError, match="not two-part"):
        Deliverable.model_validate(data(basic__version=1))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"basic__application_domain": "Other"}, "basic.application_domain_note"),
        ({"basic__application_domain_note": "why"}, "basic.application_domain_note"),
        ({"basic__category": "Official"}, "basic.category"),
        (
            {
                "basic__category": "Official",
                "basic__category_evidence": {
                    "cards": 1, "throughput": 1100, "baseline_throughput": 1000,
                    "baseline": "V100, same code", "command": "bash test/perf.sh",
                    "measured": "2026.11.25",
                },
            },
            "basic.category_evidence",
        ),
        (
            {
                "overview__inference": {
                    "url": "https://github.com/example/zoo.git", "branch": "main",
                    "commit_id": "0" * 40, "code_path": "infer",
                }
            },
            "overview.inference",
        ),
        ({"entry_points__Train_Fast": {"command": "x", "description": "y"}},
         "entry_points.Train_Fast"),
    ],
)  # fmt: skip
def test_cross_field_rules_name_the_field(changes, field):
    found = problems(**changes)
    assert field in found, found


def test_other_with_a_note_and_measured_official_are_valid():
    evidence = {
        "cards": 1, "throughput": 1300, "baseline_throughput": 1000, "baseline": "V100",
        "command": "bash test/train_performance_1p.sh", "measured": "2026-11-25",
    }  # fmt: skip
    assert (
        problems(
            basic__application_domain="Other",
            basic__application_domain_note="Video Enhancement",
            basic__category="official",
            basic__category_evidence=evidence,
        )
        == {}
    )
    deliverable = Deliverable.model_validate(
        data(
            basic__application_domain="other",
            basic__application_domain_note="Video Enhancement",
            basic__category="Official",
            basic__category_evidence=evidence,
        )
    )
    assert deliverable.basic.application_domain_text == "Other（Video Enhancement）"
    assert deliverable.basic.category_evidence.ratio == pytest.approx(1.3)


def test_inline_other_note_is_pointed_at_the_note_field():
    with pytest.raises(ValidationError, match="application_domain_note"):
        Deliverable.model_validate(data(basic__application_domain="Other (Video)"))


def test_inference_from_the_same_source_is_valid():
    adapted = GOOD["overview"]["adapted"]
    assert problems(overview__inference={**adapted, "code_path": "infer"}) == {}


def test_cross_field_problems_fail_plain_validation_too():
    with pytest.raises(ValidationError, match="basic.application_domain_note: application"):
        Deliverable.model_validate(data(basic__application_domain="Other"))


def test_missing_entry_points_are_reported_with_the_field_errors():
    with pytest.raises(ValidationError) as caught:
        Deliverable.model_validate(
            data(
                **{"entry_points__evaluate": None, "entry_points__train-8p": None}, basic__size="1G"
            )
        )
    locs = {error["loc"] for error in caught.value.errors()}
    assert {("entry_points",), ("basic", "size")} <= locs
    assert "'train-8p', 'evaluate'" in str(caught.value)


def test_one_size_per_deliverable():
    with pytest.raises(ValidationError, match="one size"):
        Deliverable.model_validate(data(basic__size="20M (pth)/10M (onnx)"))


def test_text_is_one_string_or_both_languages():
    assert localize("same", "en") == "same"
    assert localize(Localized(zh="中文", en="English"), "zh") == "中文"
    with pytest.raises(ValidationError):
        Deliverable.model_validate(data(overview__summary={"zh": "只有中文"}))
    with pytest.raises(ValidationError, match="placeholder"):
        Deliverable.model_validate(data(basic__description={"zh": "一句话描述", "en": "x"}))
