"""Every basic-information rule with values that meet it and values that break it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelzoo_kit import fieldrules
from modelzoo_kit.fieldrules import (
    FIELD_RULES,
    FieldRuleError,
    check_application_domain,
    check_branch,
    check_category,
    check_category_evidence,
    check_code_path,
    check_commit_id,
    check_description,
    check_framework,
    check_model_format,
    check_modified,
    check_precision,
    check_processor,
    check_publisher,
    check_repository_url,
    check_size,
    check_version,
    format_size,
    size_matches,
    size_to_bytes,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.parametrize(
    ("text", "value", "noted"),
    [
        ("Classification", "Classification", False),
        ("classification", "Classification", True),
        ("Object Detection", "Object Detection", False),
        ("  NLP ", "NLP", False),
        ("_Object Detection_", "Object Detection", False),
        ("ocr", "OCR", True),
        ("Reinforcement Learning", "Reinforcement Learning", False),
        ("Text To Speech", "Text To Speech", False),
        ("Other (Video Enhancement)", "Other: Video Enhancement", False),
        ("其他（超分辨率）", "Other: 超分辨率", False),
        ("Other: Depth Estimation", "Other: Depth Estimation", False),
    ],
)
def test_application_domain_accepts_the_template_list(text, value, noted):
    result = check_application_domain(text)
    assert result.value == value
    assert bool(result.notes) is noted


@pytest.mark.parametrize(
    ("text", "hint_mentions"),
    [
        ("Image Classification", "Classification"),
        ("Natural Language Processing", "NLP"),
        ("Optical Character Recognition", "OCR"),
        ("目标检测", "Object Detection"),
        ("CV", "choose one of"),
        ("Video Enhancement", "choose one of"),
        ("Other", "application_domain_note"),
        ("", "write the application domain"),
        ("【深加工】", "replace"),
    ],
)
def test_application_domain_rejects_other_spellings_with_a_hint(text, hint_mentions):
    with pytest.raises(FieldRuleError) as caught:
        check_application_domain(text)
    assert hint_mentions in caught.value.hint


def test_application_domain_other_takes_a_separate_note():
    assert check_application_domain("Other", note="Super-Resolution").value == (
        "Other: Super-Resolution"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.1", "1.1"), ("0.1", "0.1"), ("1.0", "1.0"), ("1.15", "1.15"), ("V1.2", "1.2"),
     ("_1.1_", "1.1"), ("1.10", "1.10")],
)  # fmt: skip
def test_version_two_digit_rule_accepts(text, value):
    assert check_version(text).value == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1", "not two-part"),
        ("1.1.0", "not two-part"),
        ("2.0", "reserved"),
        ("3.1", "reserved"),
        ("one", "not a two-part number"),
        ("", "empty"),
    ],
)
def test_version_two_digit_rule_rejects(text, message):
    with pytest.raises(FieldRuleError, match=message):
        check_version(text)


def test_version_generation_names_the_hardware_line():
    assert fieldrules.version_generation("0.3") == "C3X"
    assert fieldrules.version_generation("1.15") == "C7X"


@pytest.mark.parametrize(
    ("text", "value", "noted"),
    [
        ("2020.04.11", "2020.04.11", False),
        ("2021.7.19", "2021.07.19", True),
        ("2021-07-19", "2021.07.19", True),
        ("2021/7/19", "2021.07.19", True),
        ("2021年7月19日", "2021.07.19", True),
        ("2024.02.29", "2024.02.29", False),
    ],
)
def test_modified_accepts_real_dates(text, value, noted):
    result = check_modified(text)
    assert result.value == value
    assert bool(result.notes) is noted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2021.02.30", "does not exist"),
        ("2023.02.29", "does not exist"),
        ("2021.13.01", "does not exist"),
        ("2021.7", "not a date"),
        ("yesterday", "not a date"),
        ("2021.07-19", "not a date"),
    ],
)
def test_modified_rejects_impossible_or_malformed_dates(text, message):
    with pytest.raises(FieldRuleError, match=message):
        check_modified(text)


@pytest.mark.parametrize(
    ("text", "value", "noted"),
    [
        ("21M", "21M", False),
        ("888K", "888K", False),
        ("1.39M", "1.39M", False),
        ("2457.6M", "2457.6M", False),
        ("1193MB", "1193M", True),
        ("66KB", "66K", True),
        ("252k", "252K", True),
        ("100 M", "100M", False),
        ("39.76MB (pth.tar)/20 MB (onnx)", "39.76M (pth.tar)/20M (onnx)", True),
    ],
)
def test_size_accepts_k_below_1m_and_m_above(text, value, noted):
    result = check_size(text)
    assert result.value == value
    assert bool(result.notes) is noted


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("3761KB", "should be written in M", "write 3.7M"),
        ("1024K", "should be written in M", "write 1M"),
        ("940160KB", "should be written in M", "write 918M"),
        ("1.3G", "G unit", "write 1331M"),
        ("0.5M", "below 1M", "write 512K"),
        ("500B", "below 1M", "write 1K"),
        ("21", "no K or M unit", ""),
        ("big", "not an xxK/xxM size", ""),
        ("【深加工】", "placeholder", ""),
        ("", "empty", ""),
    ],
)
def test_size_rejects_g_units_and_1024k_or_more(text, message, hint):
    with pytest.raises(FieldRuleError, match=message) as caught:
        check_size(text)
    assert hint in caught.value.hint


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [
        (0, "1K"),
        (1, "1K"),
        (1024, "1K"),
        (888 * 1024, "888K"),
        (1023 * 1024 + 511, "1023K"),
        (1024 * 1024 - 1, "1M"),
        (1024 * 1024, "1M"),
        (int(1.44 * 1024**2), "1.4M"),
        (21_439_727, "20M"),
        (1193 * 1024**2, "1193M"),
    ],
)
def test_format_size_writes_bytes_the_templates_way(nbytes, text):
    assert format_size(nbytes) == text
    check_size(text)  # what it writes always meets the rule


@pytest.mark.parametrize(
    ("text", "nbytes", "matches"),
    [
        ("20M", 21_439_727, True),  # 20.4 MiB
        ("21M", 21_439_727, True),  # 21.4 MB
        ("25M", 21_439_727, False),
        ("888K", 888 * 1024, True),
        ("888K", 700 * 1024, False),
        ("1.4M", 1_468_006, True),
    ],
)
def test_size_matches_allows_rounding_and_either_k(text, nbytes, matches):
    assert size_matches(text, nbytes) is matches


def test_size_to_bytes():
    assert size_to_bytes("2M") == 2 * 1024**2
    assert size_to_bytes("888KB") == 888 * 1024


@pytest.mark.parametrize(
    ("text", "value", "noted"),
    [
        ("PyTorch 2.1.0", "PyTorch 2.1.0", False),
        ("PyTorch_1.6.0", "PyTorch 1.6.0", True),
        ("TensorFlow1.15.0", "TensorFlow 1.15.0", True),
        ("TensorFlow_1.15.0", "TensorFlow 1.15.0", True),
        ("pytorch 1.7", "PyTorch 1.7", True),
        ("PyTorch (1.5.0)", "PyTorch 1.5.0", True),
        ("MindSpore 1.1.1", "MindSpore 1.1.1", False),
        ("PyTorch 2.14.1", "PyTorch 2.14.1", False),
    ],
)
def test_framework_needs_a_version_and_normalises_separators(text, value, noted):
    result = check_framework(text)
    assert result.value == value
    assert bool(result.notes) is noted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PyTorch", "has no version"),
        ("Pytroch", "has no version"),
        ("Pytroch 1.5", "misspelt"),
        ("TensorFlow / PyTorch", "not a framework name and version"),
        ("", "empty"),
    ],
)
def test_framework_rejects(text, message):
    with pytest.raises(FieldRuleError, match=message):
        check_framework(text)


def test_framework_unknown_to_the_kit_is_accepted_with_a_note():
    result = check_framework("Jittor 1.3")
    assert result.value == "Jittor 1.3"
    assert any("not one the kit knows" in note for note in result.notes)


@pytest.mark.parametrize(
    ("text", "value"),
    [("ckpt", "ckpt"), ("pth", "pth"), (".h5", "h5"), ("ckpt, pb, om", "ckpt, pb, om"),
     ("pth.tar/onnx/om", "pth.tar/onnx/om")],
)  # fmt: skip
def test_model_format(text, value):
    assert check_model_format(text).value == value


@pytest.mark.parametrize("text", ["", "【深加工】", "ckpt, ", "???"])
def test_model_format_rejects(text):
    with pytest.raises(FieldRuleError):
        check_model_format(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("FP32", "FP32"), ("fp16", "FP16"), ("Mixed", "Mixed"), ("MIXED", "Mixed"),
     ("Mixed/FP16", "Mixed/FP16")],
)  # fmt: skip
def test_precision_case_insensitive(text, value):
    assert check_precision(text).value == value


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("混合精度", "Mixed"),
        ("O2(训练)、FP32（推理）", "FP32, FP16 or Mixed"),
        ("84%~88%", "accuracy figure"),
        ("double", "FP32, FP16 or Mixed"),
        ("Single", "FP32"),
        ("【深加工】", "replace"),
    ],
)
def test_precision_rejects(text, hint):
    with pytest.raises(FieldRuleError) as caught:
        check_precision(text)
    assert hint in caught.value.hint


@pytest.mark.parametrize(
    ("text", "value"),
    [("Official", "Official"), ("research", "Research"), ("Benchmark", "Benchmark"),
     ("tutorial", "Tutorial"), ("Tutorials", "Tutorial")],
)  # fmt: skip
def test_category(text, value):
    assert check_category(text).value == value


@pytest.mark.parametrize(
    ("text", "hint"),
    [("Reserch", "did you mean 'Research'"), ("Demo", "Research"), ("finetune", "Research"),
     ("Released", "Research")],
)  # fmt: skip
def test_category_rejects(text, hint):
    with pytest.raises(FieldRuleError) as caught:
        check_category(text)
    assert hint in caught.value.hint


@pytest.mark.parametrize(
    ("category", "ratio", "cards"),
    [("Official", 1.2, 1), ("Official", 1.31, 1), ("Benchmark", 1.8, 32), ("Research", None, None),
     ("Tutorial", 0.3, 1)],
)  # fmt: skip
def test_category_evidence_meets_the_bar(category, ratio, cards):
    check_category_evidence(category, ratio, cards)


@pytest.mark.parametrize(
    ("category", "ratio", "cards", "message"),
    [
        ("Official", 1.19, 1, "needs throughput >= 1.2x"),
        ("Official", 1.5, 8, "measured on 1 card"),
        ("Official", None, None, "no measurement"),
        ("Benchmark", 1.79, 32, "needs throughput >= 1.8x"),
        ("Benchmark", 2.0, 8, "measured on 32 card"),
    ],
)
def test_category_evidence_below_the_bar(category, ratio, cards, message):
    with pytest.raises(FieldRuleError, match=message):
        check_category_evidence(category, ratio, cards)


def test_commit_id_is_40_hex():
    assert check_commit_id("3d400a58023086b5c128ecd4b3ea46c129b5988b").value.startswith("3d400a")
    upper = check_commit_id("3D400A58023086B5C128ECD4B3EA46C129B5988B")
    assert upper.value == "3d400a58023086b5c128ecd4b3ea46c129b5988b" and upper.notes


@pytest.mark.parametrize(
    ("text", "message"),
    [("3d400a5", "abbreviated"), ("3d400a58023086b5c128ecd4b3ea46c129b5988bb", "not 40 hex"),
     ("g" * 40, "not 40 hex"), ("master", "not 40 hex")],
)  # fmt: skip
def test_commit_id_rejects(text, message):
    with pytest.raises(FieldRuleError, match=message):
        check_commit_id(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("models/efficientnet_b0", "models/efficientnet_b0"), ("./models/x/", "models/x"),
     (".", "."), ("built-in\\PyTorch\\x", "built-in/PyTorch/x"), ("a/./b", "a/b")],
)  # fmt: skip
def test_code_path_is_relative_inside_the_repository(text, value):
    assert check_code_path(text).value == value


@pytest.mark.parametrize(
    ("text", "message"),
    [("/abs/path", "absolute"), ("C:\\zoo", "absolute"), ("../elsewhere", "leaves"),
     ("models/../../x", "leaves"), ("", "empty")],
)  # fmt: skip
def test_code_path_rejects(text, message):
    with pytest.raises(FieldRuleError, match=message):
        check_code_path(text)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (check_repository_url, "https://github.com/a/b.git", "github.com/a/b"),
        (check_repository_url, "git@gitee.com:ascend/modelzoo.git", "https://github.com/a/b."),
        (check_branch, "master", "my branch"),
        (check_branch, "release/v1.0", "a..b"),
        (check_publisher, "Huawei", "  "),
        (check_processor, "昇腾910", "【深加工】"),
        (check_description, "基于PyTorch框架的EfficientNet-B0图像分类网络训练代码", "一句话描述"),
    ],
)
def test_other_fields(check, good, bad):
    assert check(good).value == good
    with pytest.raises(FieldRuleError):
        check(bad)


def test_field_rules_cover_every_basic_field():
    basic = {"publisher", "application_domain", "version", "modified", "size", "framework",
             "model_format", "precision", "processor", "category", "description"}  # fmt: skip
    assert basic <= set(FIELD_RULES)


def test_error_carries_message_and_hint():
    with pytest.raises(FieldRuleError) as caught:
        check_version("2.0")
    assert caught.value.message.startswith("version '2.0'")
    assert caught.value.hint and caught.value.hint in str(caught.value)


def test_parse_modified_returns_a_date():
    assert fieldrules.parse_modified("2021.7.19") == date(2021, 7, 19)


_GOLD_FIELDS = {
    "application_domain": "application_domain",
    "version": "version",
    "size": "size",
    "framework": "framework",
    "precision": "precision",
    "categories": "category",
    "modified": "modified",
}


@pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="shared corpus not present")
def test_rules_agree_with_the_labelled_corpus():
    """A value breaks a rule exactly when the hand labels record a violation of that field."""
    disagreements = []
    for line in (SHARED / "corpus" / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for gold_field, rule in _GOLD_FIELDS.items():
            value = row.get(gold_field)
            if value is None:
                continue
            labelled = any(
                v.startswith((gold_field + " ", gold_field.split("_")[0] + " "))
                for v in row["violations"]
            )
            try:
                FIELD_RULES[rule](value)
                broken = False
            except FieldRuleError:
                broken = True
            if broken != labelled:
                disagreements.append((row["file"], gold_field, value))
    assert disagreements == []


@given(st.integers(min_value=0, max_value=64 * 1024**3))
def test_format_size_always_meets_the_rule_and_matches_the_file(nbytes):
    text = format_size(nbytes)
    assert check_size(text).value == text
    assert size_matches(text, nbytes) or nbytes < 512  # below half a K rounds up to 1K


@pytest.mark.parametrize(
    ("rule", "text"),
    [("version", "V1.2"), ("modified", "2021/7/9"), ("size", "66KB"),
     ("framework", "PyTorch_1.6.0"), ("precision", "mixed"), ("category", "Tutorials"),
     ("application_domain", "ocr"),
     ("code_path", "./a/b/"), ("commit_id", "A" * 40), ("model_format", ".h5")],
)  # fmt: skip
def test_normalising_is_idempotent(rule, text):
    once = FIELD_RULES[rule](text)
    twice = FIELD_RULES[rule](once.value)
    assert twice.value == once.value
    assert once.notes and not twice.notes
