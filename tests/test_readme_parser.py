"""README text -> sections, fields and code references, however the README is written."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from modelzoo_kit.errors import InputFileError
from modelzoo_kit.readme import decode_readme, parse_readme, plain_text, read_readme

FIXTURES = Path(__file__).parent / "fixtures" / "readmes"


def fields_of(text: str) -> dict[str, str]:
    return {name: entry.value for name, entry in parse_readme(text).fields.items()}


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("**发布者（Publisher）：Huawei**", "publisher", "Huawei"),
        ("发布者（Publisher）：Huawei", "publisher", "Huawei"),
        ("**发布者(Publisher):Huawei**", "publisher", "Huawei"),
        ("**发布者 (Publisher) : Huawei**", "publisher", "Huawei"),
        ("**发布者（Publisher）**：Huawei", "publisher", "Huawei"),
        ("**Publisher（发布者）：Huawei**", "publisher", "Huawei"),
        ("**发布者（Publisher）：_huawei_**", "publisher", "huawei"),
        ("- 框架（Framework）：TensorFlow\\_1.15.0", "framework", "TensorFlow_1.15.0"),
        ("**框架（Framework）：TensorFlow_1.15.0**", "framework", "TensorFlow_1.15.0"),
        ("**大小（Size）**_**：【深加工】**", "size", "【深加工】"),
        ("**修改时间（Modified） ：2021.11.2**2", "modified", "2021.11.22"),
        ("**应用领域（Application Domain）：**\u00a0Object Detection", "application_domain",
         "Object Detection"),
        ("## 精度（Precision）：double", "precision", "double"),
        ("**应用级别（Categories）：_Bench__mark_**", "category", "Benchmark"),
        ("**描述（Description）：__基于TensorFlow框架的训练代码__**", "description",
         "基于TensorFlow框架的训练代码"),
    ],
)  # fmt: skip
def test_bilingual_labels_in_every_spelling(line: str, name: str, value: str) -> None:
    assert fields_of(f"# Model\n\n{line}\n")[name] == value


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("## 基本信息\n\n精度：Mixed\n\n版本：1.1\n", {"precision": "Mixed", "version": "1.1"}),
        ("## Basic Information\n\n**Precision: FP16**\n", {"precision": "FP16"}),
        ("## 基本信息\n\n**版本（Version）：**\n\n1.2\n\n", {"version": "1.2"}),
        (
            "## 基本信息\n\n**版本（Version）：**\n\n**大小（Size）：21M**\n",
            {"version": "", "size": "21M"},
        ),
    ],
)
def test_single_language_labels_and_values_on_the_next_line(
    block: str, expected: dict[str, str]
) -> None:
    assert fields_of(block) == expected


def test_single_language_labels_outside_basic_information_are_not_fields() -> None:
    text = "## 基本信息\n\n版本：1.1\n\n## 训练结果\n\n精度：76.1%\n"
    assert fields_of(text) == {"version": "1.1"}


def test_first_occurrence_wins_and_line_numbers_are_kept() -> None:
    text = "# M\n\n**版本（Version）：1.1**\n\n**版本（Version）：9.9**\n"
    entry = parse_readme(text).fields["version"]
    assert (entry.value, entry.line) == ("1.1", 3)


def test_html_headings_build_the_section_tree() -> None:
    document = read_readme(FIXTURES / "good.md")
    top = [(s.level, s.title, s.anchor, s.kind) for s in document.tree]
    assert top[0] == (1, "ResNet50 for PyTorch", None, "markdown")
    overview = next(s for s in document.sections if s.title == "概述")
    assert (overview.level, overview.anchor, overview.kind) == (2, "概述.md", "html")
    children = [c.title for c in overview.children]
    assert children == ["简述", "默认配置"]
    assert overview.children[0].anchor == "section194554031510"
    assert overview.line == 34 and overview.end_line == overview.children[-1].end_line
    assert document.basic_section is not None and document.basic_section.line == 10


def test_unspaced_and_bold_pseudo_headings() -> None:
    unspaced = parse_readme("#概述\n\ntext\n\n#训练环境准备\n")
    assert [(s.title, s.kind) for s in unspaced.sections] == [
        ("概述", "unspaced"),
        ("训练环境准备", "unspaced"),
    ]
    bold = parse_readme(" **基本信息** \n\n发布者（Publisher）：Huawei\n\n **概述** \n\nx\n")
    assert [(s.title, s.kind) for s in bold.sections] == [("基本信息", "bold"), ("概述", "bold")]
    assert bold.fields["publisher"].value == "Huawei"


@pytest.mark.parametrize(
    ("entry", "keys", "url"),
    [
        (
            "-   参考实现：\n\n    ```\n    url=https://github.com/a/b.git\n    branch=master\n"
            "    commit_id=" + "a" * 40 + "\n    ```\n",
            {"url": "https://github.com/a/b.git", "branch": "master", "commit_id": "a" * 40},
            "https://github.com/a/b.git",
        ),
        (
            "- 参考实现：\n\n  url = https://github.com/a/b\n\n  branch = dev\n\n"
            "  commit\\_id = " + "b" * 40 + "\n",
            {"url": "https://github.com/a/b", "branch": "dev", "commit_id": "b" * 40},
            "https://github.com/a/b",
        ),
        ("- 参考实现：https://github.com/a/b\n", {}, "https://github.com/a/b"),
        ("- 参考实现：[GitHub - a/b](https://github.com/a/b)\n", {}, "https://github.com/a/b"),
        ("- [参考实现](https://github.com/a/b)\n", {}, "https://github.com/a/b"),
        ("- 模型来源：Github](https://github.com/a/b)\n", {}, "https://github.com/a/b"),
        ("-   参考实现(需优化)：\n\n    https://github.com/a/b.\n", {}, "https://github.com/a/b"),
        (
            "参考论文及源代码地址：\nA Paper https://arxiv.org/abs/1\nhttps://github.com/a/b\n",
            {},
            "https://github.com/a/b",
        ),
    ],
)
def test_reference_blocks_in_every_form(entry: str, keys: dict[str, str], url: str) -> None:
    block = parse_readme("# M\n\n## 概述\n\n" + entry + "\n## 默认配置\n").reference("reference")
    assert block is not None
    assert {k: v.value for k, v in block.keys.items()} == keys
    assert block.url is not None and block.url.value == url


def test_reference_url_trailing_period_is_noted() -> None:
    block = parse_readme("- 参考实现：\n\n  https://github.com/a/b.\n").reference("reference")
    assert block is not None and block.url is not None
    assert block.url.value == "https://github.com/a/b" and "punctuation" in block.url.note


def test_adaptation_and_reference_blocks_stay_apart() -> None:
    document = read_readme(FIXTURES / "good.md")
    reference, adapted = document.reference("reference"), document.reference("adapted")
    assert reference is not None and adapted is not None
    assert "code_path" not in reference.keys
    assert adapted.keys["code_path"].value.endswith("ResNet50_for_PyTorch")
    assert adapted.keys["commit_id"].line == 57


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("**_huawei_**", "huawei"),
        ("TensorFlow\\_1.15.0", "TensorFlow_1.15.0"),
        ("TensorFlow_1.15.0", "TensorFlow_1.15.0"),
        ("Learning rate\\(LR\\)", "Learning rate(LR)"),
        ('简述<a name="section1"></a>', "简述"),
        ("[text](https://x.y)", "text"),
        ("\u00a0 value \u3000", "value"),
    ],
)
def test_plain_text(raw: str, plain: str) -> None:
    assert plain_text(raw) == plain


def test_crlf_and_bom_read_like_lf(tmp_path: Path) -> None:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    lf = parse_readme(text)
    (tmp_path / "crlf.md").write_bytes(codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode())
    (tmp_path / "utf16.md").write_bytes(text.encode("utf-16"))
    for name in ("crlf.md", "utf16.md"):
        other = read_readme(tmp_path / name)
        assert other.fields == lf.fields
        assert [(s.title, s.line) for s in other.sections] == [
            (s.title, s.line) for s in lf.sections
        ]
        assert other.encoding_problems == []


def test_invalid_utf8_is_read_with_the_bad_lines_reported() -> None:
    document = read_readme(FIXTURES / "mz001_not_utf8.md")
    assert document.encoding_problems == [41]
    assert document.fields["publisher"].value == "Huawei"


def test_mojibake_labels_keep_their_ascii_values() -> None:
    text = (
        "# T\n\n**\ufffd\ufffd\ufffdPublisher\ufffd\ufffd\ufffd\ufffd**\n\n"
        "**\u04e6\ufffdApplication Domain\ufffd\ufffdAudio**\n"
    )
    fields = parse_readme(text).fields
    assert fields["application_domain"].value == "Audio"
    assert fields["application_domain"].readable
    assert not fields["publisher"].readable


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00", bytes(range(32)) * 100])
def test_binary_input_is_one_clear_error(data: bytes) -> None:
    with pytest.raises(InputFileError, match="binary file"):
        decode_readme(data, "README.md")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read"):
        read_readme(tmp_path / "absent.md")


def test_basic_information_section_wins_over_an_earlier_mention() -> None:
    text = (
        "# M\n\n> 修改时间（Modified）：2020.01.01 (old notes)\n\n## 基本信息\n\n"
        "**修改时间（Modified）：2021.01.01**\n\n## 概述\n\n**框架（Framework）：PyTorch 1.8**\n"
    )
    fields = parse_readme(text).fields
    assert (fields["modified"].value, fields["modified"].line) == ("2021.01.01", 7)
    assert fields["framework"].value == "PyTorch 1.8"  # bilingual label: read anywhere


LINKS_README = """# M

- [概述](#概述.md) and [训练环境准备\\[MindSpore\\]](#训练环境准备-MindSpore.md)
- [a link whose text
  runs on](https://example.com/a_b\\_c)

![](.\\img\\acc.png) <img src="figures/inline.png">

<div align="center"><img src="figures/block.png" width="400"/></div>

模型来源：Github](https://github.com/NVlabs/noise2noise)

[Ascend 环境变量](https://gitee.com/ascend/wikis/Ascend 910 设置)

```
[not a link](inside/a/fence.png)
```
"""


def test_links_come_from_markdown_its_tokens() -> None:
    document = parse_readme(LINKS_README)
    found = [(link.text, link.target, link.line, link.is_image) for link in document.links]
    assert found == [
        ("概述", "#概述.md", 3, False),
        ("训练环境准备[MindSpore]", "#训练环境准备-MindSpore.md", 3, False),
        ("a link whose text runs on", "https://example.com/a_b_c", 4, False),
        ("", ".\\img\\acc.png", 7, True),
        ("", "figures/inline.png", 7, True),
        ("", "figures/block.png", 9, True),
    ]
    assert [(s.value, s.line) for s in document.stray_link_text] == [
        ("模型来源：Github](https://github.com/NVlabs/noise2noise)", 11)
    ]


def test_links_of_a_mis_indented_list_item_are_read_too() -> None:
    document = parse_readme("# M\n\ntext\n\n    [paper](https://arxiv.org/abs/1)\n")
    (link,) = document.links_on_line(5)
    assert (link.text, link.target) == ("paper", "https://arxiv.org/abs/1")
    assert document.links == []  # markdown shows it as code; only readers take it as a link


MIS_INDENTED_FENCE = (
    "## 开始训练\n\n"
    "- 单卡训练\n\n"
    "     启动单卡训练。\n\n"
    "\t\t ```\n"
    "\t\t bash ./test/train_full_1p.sh --data_path=xxx\n"
    "\t\t ```\n\n"
    "\t\t 其余说明仍是文字。\n"
)


def test_a_fence_indented_too_far_is_code_not_readable_text() -> None:
    """A list item's ``` indented a tab too far opens an indented code block, which the rules
    read as mis-indented prose; the lines of the fence inside it are code all the same."""
    document = parse_readme(MIS_INDENTED_FENCE)
    readable = {document.lines[i].strip() for i in document.readable_lines}
    assert "bash ./test/train_full_1p.sh --data_path=xxx" not in readable
    assert "```" not in readable
    assert "其余说明仍是文字。" in readable
    assert [s.value for s in document.scripts] == ["test/train_full_1p.sh"]  # still checked


@pytest.mark.parametrize(
    "line, label",
    [
        ("参考实现   ：https://github.com/o/r", "参考实现"),
        ("[参考实现] (官方) : https://github.com/o/r", "参考实现"),
        ("源码地址（GitHub）：https://github.com/o/r", "源码地址"),
        ("| beam_search | beam_size   |" + " " * 80 + "2 |", None),
    ],
)
def test_reference_labels_around_runs_of_spaces(line: str, label: str | None) -> None:
    """A padded table row is no label (refused in linear time: the label ends in a character
    that is not a space), and spaces before the colon or the bracketed qualifier still count."""
    from modelzoo_kit.readme import match_reference_label

    found = match_reference_label(line)
    assert (found[1] if found else None) == label
