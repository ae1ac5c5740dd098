"""Rendering: the template's layout exactly, derived content, determinism, values as data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deliverable_fixtures import FIXTURES, copy_fixture, edit_yaml

from modelzoo_kit.errors import InputFileError
from modelzoo_kit.loading import load_deliverable
from modelzoo_kit.render import render_folder, render_readme, stale

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "training-deliverable-template.zh.md"

#: The template's headings and anchors, in order (its 默认配置示例 is an example, not a section).
ZH_HEADINGS = [
    '<h2 id="交付件基本信息.md">交付件基本信息</h2>',
    '<h2 id="概述.md">概述</h2>',
    '## 简述<a name="section194554031510"></a>',
    '## 默认配置<a name="section91661242121611"></a>',
    '## 支持特性<a name="section1899153513554"></a>',
    '## 混合精度训练<a name="section168064817164"></a>',
    '## 开启混合精度<a name="section20779114113713"></a>',
    '<h2 id="训练环境准备.md">训练环境准备</h2>',
    '<h2 id="快速上手.md">快速上手</h2>',
    '## 数据集准备<a name="section361114841316"></a>',
    '## 模型训练<a name="section715881518135"></a>',
    '<h2 id="迁移学习指导.md">迁移学习指导</h2>',
    '<h2 id="高级参考.md">高级参考</h2>',
    '## 脚本和示例代码<a name="section08421615141513"></a>',
    '## 脚本参数<a name="section6669162441511"></a>',
    '## 训练过程<a name="section1589455252218"></a>',
    '## 推理/验证过程<a name="section1465595372416"></a>',
]
ZH_TOC = [
    "-   [交付件基本信息](#交付件基本信息.md)",
    "-   [概述](#概述.md)",
    "-   [训练环境准备](#训练环境准备.md)",
    "-   [快速上手](#快速上手.md)",
    "-   [迁移学习指导](#迁移学习指导.md)",
    "-   [高级参考](#高级参考.md)",
]
ZH_FIELDS = [
    "**发布者（Publisher）：Huawei**",
    "**应用领域（Application Domain）：Classification**",
    "**版本（Version）：1.1**",
    "**修改时间（Modified） ：2026.11.25**",
    "**大小（Size）：888K**",
    "**框架（Framework）：PyTorch 2.1.0**",
    "**模型格式（Model Format）：pth**",
    "**精度（Precision）：Mixed**",
    "**处理器（Processor）：昇腾910**",
    "**应用级别（Categories）：Research**",
    "**描述（Description）：基于PyTorch框架的TinyNet图像分类网络训练代码**",
]
#: Instructions and placeholders of the template that must never reach a README.
TEMPLATE_INSTRUCTIONS = [
    "描述要点", "示例：", "可以从以下做选择", "一句话描述", "训练交付件模板", "xxx", "XXX",
    "【深加工】", "figures/zh-cn_image", "_XXX_", "当前先写为", "请备注",
]  # fmt: skip




def render(folder: Path, lang: str = "zh") -> str:
    return render_readme(load_deliverable(folder), folder, lang)


def test_zh_reproduces_the_templates_toc_headings_and_anchors_in_order():
    text = render(FIXTURES / "minimal")
    lines = text.splitlines()
    assert lines[0] == "# TinyNet for PyTorch"
    assert lines[1:7] == ZH_TOC
    positions = [text.index(heading) for heading in ZH_HEADINGS]
    assert positions == sorted(positions)
    for line in ZH_FIELDS:
        assert f"\n{line}\n" in text


@pytest.mark.skipif(not SPEC.is_file(), reason="shared template not present")
def test_headings_are_the_ones_the_template_spec_uses():
    spec = SPEC.read_text(encoding="utf-8")
    spec_headings = [
        line
        for line in spec.splitlines()
        if line.startswith(("<h2 id=", "## ")) and "默认配置示例" not in line
    ]
    assert spec_headings == ZH_HEADINGS
    labels = re.findall(r"[\u4e00-\u9fff]+（[A-Z][A-Za-z ]+）", spec)
    assert len(labels) == len(ZH_FIELDS)
    for label in labels:
        assert label in "\n".join(ZH_FIELDS), label


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_template_instructions_or_placeholders(lang):
    text = render(FIXTURES / "minimal", lang)
    for instruction in TEMPLATE_INSTRUCTIONS:
        assert instruction not in text, instruction


def test_en_is_english_with_the_same_sections():
    zh, en = render(FIXTURES / "minimal", "zh"), render(FIXTURES / "minimal", "en")
    assert re.findall(r"[\u4e00-\u9fff]", en) == []
    assert "**Publisher: Huawei**" in en and "**Processor: Ascend 910**" in en
    assert re.findall(r'<a name="(section\d+)">', zh) == re.findall(r'<a name="(section\d+)">', en)
    assert en.count("<h2 id=") == zh.count("<h2 id=") == 6


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rendering_is_deterministic_across_runs_and_locations(tmp_path, lang):
    first = render(FIXTURES / "minimal", lang)
    assert render(FIXTURES / "minimal", lang) == first
    assert render(copy_fixture(tmp_path), lang) == first  # outside git: files listed by walking


def test_values_are_data_not_template_code(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(
        folder,
        "zh: TinyNet是一个用于测试的小网络。",
        "zh: '{{ 7 * 7 }} {% if true %}x{% endif %} {{ d.name }}'",
    )
    text = render(folder)
    assert "{{ 7 * 7 }} {% if true %}x{% endif %} {{ d.name }}" in text
    assert "49 x tiny_net" not in text


def test_html_values_are_escaped_only_in_the_image_table(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "name: ascend-pytorch-x86", 'name: "<script>alert(1)</script>"')
    edit_yaml(folder, "zh: TinyNet是一个用于测试的小网络。", "zh: a <b>bold</b> & plain")
    text = render(folder)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>" not in text
    assert "a <b>bold</b> & plain" in text  # Markdown prose is passed through as written


def test_basic_field_values_cannot_break_the_bold_label(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "publisher: Huawei", "publisher: 'Hua**wei_x'")
    assert "**发布者（Publisher）：Hua\\*\\*wei\\_x**" in render(folder)


def test_tree_is_derived_from_the_folder(tmp_path):
    folder = copy_fixture(tmp_path)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"")
    (folder / "scripts").mkdir()
    (folder / "scripts" / "docker_start.sh").write_text("#!/bin/bash\n", encoding="utf-8")
    text = render(folder)
    tree = text.split("```\nminimal/\n", 1)[1].split("```", 1)[0]
    assert "├── scripts/\n│   └── docker_start.sh\n" in tree
    assert "pycache" not in tree
    assert re.search(r"└── train\.py +# 训练入口\n", tree)
    assert "README.md" in tree and "README.en.md" in tree  # before the first render too


def test_tree_exclude_and_unknown_note_paths(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "  training_process:", "  tree_exclude: ['test']\n  training_process:")
    with pytest.raises(InputFileError) as caught:
        render(folder)  # the note names a folder the tree leaves out
    (problem,) = caught.value.problems
    assert problem.field == "advanced.files.test"
    lines = (folder / "deliverable.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[problem.line - 1].strip().startswith("test: {zh: 启动脚本")


def test_parameter_table_comes_from_the_training_script():
    text = render(FIXTURES / "minimal")
    assert "| `--data_path` | dataset root with train/ and val/ | 必填 |" in text
    assert "| `--batch_size`、`-b` | batch size per card | 32 |" in text
    assert "| `--lr` | learning rate \\| peak | 0.1 |" in text
    assert "| `--amp` | mixed precision（开关参数） | False |" in text
    assert "| `--device` | device（可选：cpu、cuda、npu） | cpu |" in text


def test_parameter_help_can_be_translated(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(
        folder,
        "  training_process:",
        "  parameter_help:\n    --lr: {zh: 学习率, en: learning rate}\n  training_process:",
    )
    assert "| `--lr` | 学习率 | 0.1 |" in render(folder, "zh")
    assert "| `--lr` | learning rate | 0.1 |" in render(folder, "en")


def test_parameters_follow_the_script(tmp_path):
    folder = copy_fixture(tmp_path)
    script = folder / "train.py"
    script.write_text(
        script.read_text(encoding="utf-8").replace(
            "    return parser",
            '    parser.add_argument("--epochs", type=int, default=90, help="epochs")\n'
            "    return parser",
        ),
        encoding="utf-8",
    )
    assert "| `--epochs` | epochs | 90 |" in render(folder)


def test_size_is_derived_from_the_checkpoint(tmp_path):
    folder = copy_fixture(tmp_path)
    (folder / "weights.pth").write_bytes(b"\0" * (3 * 1024 * 1024 + 200 * 1024))
    edit_yaml(folder, "  size: 888K\n", "  checkpoint: weights.pth\n")
    assert "**大小（Size）：3.2M**" in render(folder)
    assert "**Size: 3.2M**" in render(folder, "en")


def test_commands_come_from_entry_points(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "bash test/train_full_8p.sh", "bash test/train_full_8p.sh --amp")
    text = render(folder)
    section = text.split('## 模型训练<a name="section715881518135"></a>', 1)[1]
    assert "```\n        bash test/train_full_8p.sh --amp --data_path=/data/imagenet\n" in section
    assert "python3 train.py --data_path=/data/imagenet --evaluate" in section


def test_official_category_shows_its_evidence(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(
        folder,
        "  category: Research\n",
        "  category: Official\n  category_evidence:\n    cards: 1\n    throughput: 1300\n"
        "    baseline_throughput: 1000\n    baseline: V100\n    command: bash perf.sh\n"
        "    measured: 2026-11-20\n",
    )
    zh, en = render(folder, "zh"), render(folder, "en")
    assert "单卡训练性能为基线性能1.2倍" in zh and "1.30倍" in zh
    assert "1.30x" in en and "single-card training throughput at least 1.2x" in en


def test_stale_gives_a_unified_diff(tmp_path):
    folder = copy_fixture(tmp_path)
    (zh,) = render_folder(folder, ("zh",))
    assert stale(zh).startswith("--- README.md (committed)\n+++ README.md (rendered)\n")
    zh.path.write_text(zh.text, encoding="utf-8")
    assert stale(zh) == ""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_bundled_deliverable_readme_is_up_to_date(lang):
    """The committed README of models/efficientnet_b0 is exactly its rendering."""
    (rendered,) = render_folder(ROOT / "models" / "efficientnet_b0", (lang,))
    assert stale(rendered) == "", f"run: modelzoo render models/efficientnet_b0\n{stale(rendered)}"


def test_hyperparameters_can_be_the_scripts_own_defaults(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "    Batch size: 32\n", "    Batch size: {flag: --batch_size}\n")
    assert "    -   Batch size: 32\n" in render(folder)
    script = folder / "train.py"
    script.write_text(
        script.read_text(encoding="utf-8").replace("default=32", "default=64"), encoding="utf-8"
    )
    assert "    -   Batch size: 64\n" in render(folder)


@pytest.mark.parametrize(
    ("name", "inference"),
    [("evaluate", True), ("demo-evaluate", True), ("export", True), ("demo-export", True),
     ("demo", False), ("train-1p", False), ("performance-8p", False), ("evaluator", False)],
)
def test_entry_points_are_grouped_by_their_last_word(name, inference):
    from modelzoo_kit.render import is_inference_entry

    assert is_inference_entry(name) is inference
