"""Precision on the older layout (the template of ../shared/spec): each mistake the validator
made on the real TensorFlow zoo stands for a class of README, proved here by one fixture that
must pass (the validator was wrong) and one that must still be reported (the rule still
works). Fixtures: tests/fixtures/readmes/precision/, each a copy of good.md with one change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelzoo_kit import fieldrules
from modelzoo_kit.findings import Finding
from modelzoo_kit.readme import parse_readme, reference_role
from modelzoo_kit.rules import check_readme, check_readme_file

FIXTURES = Path(__file__).parent / "fixtures" / "readmes" / "precision"


def findings_for(tmp_path: Path, fixture: str) -> list[Finding]:
    """Validate a fixture as a deliverable folder holding its script and one image."""
    folder = tmp_path / "model"
    (folder / "test").mkdir(parents=True)
    (folder / "test" / "train_full_1p.sh").write_text("#!/bin/bash\n")
    (folder / "img").mkdir()
    (folder / "img" / "acc.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    shutil.copyfile(FIXTURES / fixture, folder / "README.md")
    return check_readme_file(folder / "README.md", "README.md", folder)


def rules_and_lines(findings: list[Finding]) -> list[tuple[str, int | None]]:
    return sorted(((f.rule, f.line) for f in findings), key=lambda x: (x[0], x[1] or 0))


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        # A framework written as its package is spelt (TensorFlow-gpu_1.14.0) is no misspelling.
        ("framework_package_good.md", []),
        ("framework_package_bad.md", [("MZ215", 22)]),
        # 模型大小（Size）: a qualified Chinese label, the English one naming the field.
        ("size_label_good.md", []),
        ("size_label_bad.md", [("MZ214", 20)]),
        # ![](.\img\acc.png): a backslash separates folders, as in the browsers that show it.
        ("backslash_image_good.md", []),
        ("backslash_image_bad.md", [("MZ301", 71)]),
        # [概述](#概述.md) over `## 概述`: the link is wrong, the section is there.
        ("toc_anchor_good.md", []),
        ("toc_anchor_bad.md", [("MZ105", 4)]),
        # 源码地址, 开源代码, 参考项目…: the labels authors give the reference implementation.
        ("reference_label_good.md", []),
        ("reference_label_bad.md", [("MZ240", None)]),
        # xxx the text defines (其中：xxx是数据集的路径) is a variable, not a template gap.
        ("defined_variable_good.md", []),
        ("defined_variable_bad.md", [("MZ401", 79)]),
        # A closing ``` indented too far: the fence swallows the sections after it.
        ("unclosed_fence_good.md", []),
        ("unclosed_fence_bad.md", [("MZ101", 85), ("MZ101", 89), ("MZ105", 7), ("MZ105", 8)]),
    ],
)
def test_each_class_is_judged_as_a_careful_reader_would(
    tmp_path: Path, fixture: str, expected: list[tuple[str, int | None]]
) -> None:
    assert rules_and_lines(findings_for(tmp_path, fixture)) == expected


@pytest.mark.parametrize(
    ("label", "counts"),
    [
        ("参考实现", True),
        ("源码地址", True),
        ("开源代码", True),
        ("参考项目", True),
        ("参考开源实现", True),
        ("原作者开源代码链接为", True),
        ("论文中实验代码的开源链接", True),
        ("官方代码仓", True),
        ("代码来源", True),
        ("GitHub项目地址", True),
        ("Original code", True),
        ("获取代码", False),  # getting the code: the adapted code's clone, not the reference
        ("训练代码参考", False),
        ("代码", False),
        ("项目", False),
        ("参考论文", False),
        ("脚本和示例代码", False),
    ],
)
def test_the_labels_authors_give_the_reference_implementation(label: str, counts: bool) -> None:
    found = reference_role(label)
    assert (found is not None and found[0] == "reference") == counts


@pytest.mark.parametrize(
    ("written", "framework"),
    [
        ("TensorFlow-gpu_1.14.0", "TensorFlow 1.14.0"),
        ("tensorflow_gpu 1.15", "TensorFlow 1.15"),
        ("torch 1.8.1", "PyTorch 1.8.1"),
        ("mindspore-ascend 1.5.0", "MindSpore 1.5.0"),
        ("mxnet-cu101 1.6.0", "MXNet 1.6.0"),
        ("paddlepaddle-gpu 2.2", "PaddlePaddle 2.2"),
    ],
)
def test_a_framework_written_as_its_package_is_that_framework(written: str, framework: str) -> None:
    checked = fieldrules.check_framework(written)
    assert checked.value == framework
    assert any("package" in note for note in checked.notes)


@pytest.mark.parametrize("written", ["TensorFlwo-gpu 1.14.0", "Pytroch 1.8.1", "torchh 1.8"])
def test_a_misspelt_framework_is_still_misspelt(written: str) -> None:
    with pytest.raises(fieldrules.FieldRuleError, match="misspelt"):
        fieldrules.check_framework(written)


def test_a_missing_backslash_image_is_named_as_written(tmp_path: Path) -> None:
    (image,) = [f for f in findings_for(tmp_path, "backslash_image_bad.md") if f.rule == "MZ301"]
    assert "img/loss.png" in image.message


def test_a_toc_link_in_the_template_anchor_form_says_the_section_is_there(
    tmp_path: Path,
) -> None:
    (link,) = findings_for(tmp_path, "toc_anchor_bad.md")
    assert "the section is there" in link.message
    assert "'概述' (line 34) is a markdown heading, whose anchor is #概述" in link.message
    assert "add the section" not in link.hint
    assert '<h2 id="概述.md">概述</h2>' in link.hint


def test_toc_links_in_the_template_anchor_form_are_one_finding() -> None:
    text = (FIXTURES / "toc_anchor_bad.md").read_text(encoding="utf-8")
    for name in ("训练环境准备", "快速上手"):
        text = text.replace(f'<h2 id="{name}.md">{name}</h2>', f"## {name}")
    (link,) = check_readme(parse_readme(text, "README.md"))
    assert link.message.startswith("3 links use the template's")


def test_a_section_swallowed_by_a_code_block_names_the_block(tmp_path: Path) -> None:
    missing = [f for f in findings_for(tmp_path, "unclosed_fence_bad.md") if f.rule == "MZ101"]
    assert [f.message for f in missing] == [
        f"missing section `{name}`: its heading (line {line}) is inside the code block that "
        "opens at line 81 and runs to line 93, so it shows as code"
        for name, line in (("迁移学习指导", 85), ("高级参考", 89))
    ]


def test_toc_links_to_a_swallowed_section_name_the_code_block(tmp_path: Path) -> None:
    links = [f for f in findings_for(tmp_path, "unclosed_fence_bad.md") if f.rule == "MZ105"]
    assert [f.message for f in links] == [
        f"link [{name}](#{name}.md) points to a heading (line {line}) inside the code block "
        "that opens at line 81, which markdown shows as code"
        for name, line in (("迁移学习指导", 85), ("高级参考", 89))
    ]


def test_a_code_block_never_closed_is_said_to_be() -> None:
    text = (FIXTURES.parent / "good.md").read_text(encoding="utf-8")
    command = "bash test/train_full_1p.sh --data_path=/data/imagenet\n"
    text = text.replace(command + "```\n", command).replace("```\n├──", "├──")
    text = text[: text.rindex("```")]
    missing = [f for f in check_readme(parse_readme(text, "README.md")) if f.rule == "MZ101"]
    assert [f.line for f in missing] == [84, 88]
    assert all("opens at line 81 and is never closed" in f.message for f in missing)
