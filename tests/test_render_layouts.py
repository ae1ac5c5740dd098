"""The same deliverable.yaml renders either layout; each rendering validates clean as its layout;
the results table round-trips; ``new --layout`` scaffolds a deliverable of that layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deliverable_fixtures import FIXTURES, edit_yaml

from modelzoo_kit.cli import main
from modelzoo_kit.errors import InputFileError
from modelzoo_kit.layouts import PYTORCH_2022, TEMPLATE
from modelzoo_kit.loading import load_deliverable
from modelzoo_kit.metadata import ResultRow, evidence_from_results
from modelzoo_kit.readme import parse_readme
from modelzoo_kit.render import render_folder, render_readme
from modelzoo_kit.results import read_results_table
from modelzoo_kit.rules import check_deliverable_folder, check_readme, tables_in

RESULTS = """results:
  - {cards: 1, baseline: 竞品V, metrics: {Acc@1: null}, throughput: 810.5, epochs: 1}
  - {cards: 8, baseline: 竞品V, metrics: {Acc@1: 76.1}, throughput: 6105, epochs: 90}
  - {cards: 1, metrics: {Acc@1: null}, throughput: 1710.25, epochs: 1, amp_type: O2,
     framework_version: "2.1"}
  - {cards: 8, metrics: {Acc@1: 76.05}, throughput: 12003.7, epochs: 90, amp_type: O2,
     framework_version: "2.1"}
"""


def tiny(tmp_path: Path, layout: str | None = None, results: bool = False) -> Path:
    """The minimal fixture in a folder named as its code_path ends, with the scripts its
    entry points run."""
    folder = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "minimal", folder)
    for script in ("train_full_8p.sh", "train_eval_1p.sh"):
        (folder / "test" / script).write_text("#!/bin/bash\n")
    if layout:
        edit_yaml(folder, "schema_version: 1\n", f"schema_version: 1\nlayout: {layout}\n")
    if results:
        path = folder / "deliverable.yaml"
        path.write_text(path.read_text(encoding="utf-8") + RESULTS, encoding="utf-8")
    return folder


@pytest.mark.parametrize("layout", ["template", "pytorch-2022"])
@pytest.mark.parametrize("results", [False, True])
def test_the_same_metadata_renders_and_validates_clean_in_either_layout(
    tmp_path: Path, layout: str, results: bool
) -> None:
    folder = tiny(tmp_path, layout, results)
    for rendered in render_folder(folder):
        rendered.path.write_text(rendered.text, encoding="utf-8")
    findings = check_deliverable_folder(folder).findings
    assert [(f.path, f.rule, f.line, f.message) for f in findings] == []


def test_render_with_another_layout_moves_a_deliverable(tmp_path: Path) -> None:
    folder = tiny(tmp_path)
    assert main(["render", str(folder), "--layout", "pytorch-2022"]) == 0
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("# ") and "\n# 训练结果展示\n" in text and "交付件基本信息" not in text
    # Checked as the layout deliverable.yaml names it is stale; once the yaml says so, clean.
    assert main(["render", str(folder), "--check"]) == 1
    edit_yaml(folder, "schema_version: 1\n", "schema_version: 1\nlayout: pytorch-2022\n")
    assert main(["render", str(folder), "--check"]) == 0
    assert main(["validate", str(folder)]) == 0


def test_the_bundled_deliverable_keeps_the_template() -> None:
    folder = Path(__file__).resolve().parents[1] / "models" / "efficientnet_b0"
    assert load_deliverable(folder).layout == "template"
    assert main(["render", str(folder), "--check"]) == 0


@pytest.mark.parametrize("layout", [TEMPLATE, PYTORCH_2022])
def test_results_table_round_trips(tmp_path: Path, layout) -> None:  # type: ignore[no-untyped-def]
    folder = tiny(tmp_path, layout.name, results=True)
    deliverable = load_deliverable(folder)
    document = parse_readme(render_readme(deliverable, folder, "zh"), "README.md")
    section = layout.results_section or "高级参考"
    table = read_results_table(
        next(t for t in tables_in(document, layout, section) if t.header[0] == "NAME")
    )
    assert [(r.name, r.cards, r.is_baseline) for r in table.rows] == [
        ("1p-竞品V", 1, True), ("8p-竞品V", 8, True), ("1p-NPU", 1, False), ("8p-NPU", 8, False),
    ]  # fmt: skip
    assert [r.throughput.text for r in table.rows if r.throughput] == [
        "810.5", "6105", "1710.25", "12003.7",
    ]  # fmt: skip
    assert table.rows[3].metrics["Acc@1"].text == "76.05"  # type: ignore[union-attr]
    assert check_readme(document, layout=layout) == [] or layout is TEMPLATE


@pytest.mark.parametrize(
    ("rows", "cards", "expected"),
    [
        ([ResultRow(cards=1, throughput=120), ResultRow(cards=1, baseline="V100", throughput=100)],
         1, (1.2, 1)),
        ([ResultRow(cards=8, throughput=800)], None, None),
        ([ResultRow(cards=8, throughput=800), ResultRow(cards=8, baseline="A", throughput=400)],
         1, None),
    ],
)  # fmt: skip
def test_category_evidence_derives_from_the_results(rows, cards, expected) -> None:  # type: ignore[no-untyped-def]
    assert evidence_from_results(rows, cards) == expected


def test_official_is_backed_by_the_results_table(tmp_path: Path) -> None:
    folder = tiny(tmp_path, results=True)
    edit_yaml(folder, "category: Research", "category: Official")
    # 1p: 1710.25 / 810.5 = 2.1x the competitor, over Official's 1.2x on one card.
    assert load_deliverable(folder).basic.category == "Official"
    path = folder / "deliverable.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("throughput: 1710.25", "throughput: 900"),
        encoding="utf-8",
    )
    with pytest.raises(InputFileError, match="1.2x"):
        load_deliverable(folder)


def test_an_unknown_layout_is_an_error_naming_the_choices(tmp_path: Path) -> None:
    folder = tiny(tmp_path, layout="pytorch-2019")
    with pytest.raises(InputFileError, match="pytorch-2022"):
        load_deliverable(folder)


def test_new_scaffolds_the_layout(tmp_path: Path) -> None:
    assert main(["new", "resnet", "--dir", str(tmp_path), "--layout", "pytorch-2022"]) == 0
    text = (tmp_path / "resnet" / "deliverable.yaml").read_text(encoding="utf-8")
    assert "layout: pytorch-2022" in text and "results:" in text


def test_every_entry_point_the_pytorch_layout_renders_is_read_back(tmp_path: Path) -> None:
    from modelzoo_kit.extract import extract

    folder = tiny(tmp_path, "pytorch-2022")
    (folder / "test" / "train_performance_1p.sh").write_text("#!/bin/bash\n")
    others = (
        "  performance-1p:\n    command: bash test/train_performance_1p.sh --data_path=/data\n"
        "    description: 单卡性能\n"
        "  export:\n    command: python3 pth2onnx.py --checkpoint ./model.pth\n"
        "    description: 导出 ONNX\n"
    )
    edit_yaml(folder, "provenance:\n", others + "provenance:\n")
    text = render_readme(load_deliverable(folder), folder, "zh")
    entry_points = extract(parse_readme(text)).data["entry_points"]
    assert entry_points["performance-1p"] == {
        "command": "bash test/train_performance_1p.sh --data_path=/data",
        "description": "单卡性能",
    }
    assert entry_points["export"] == {
        "command": "python3 pth2onnx.py --checkpoint ./model.pth",
        "description": "导出 ONNX",
    }


@pytest.mark.parametrize(
    "value, shown",
    [(6105.0, "6105"), (76.05, "76.05"), (5038.508, "5038.508"), (17420.493, "17420.493"),
     (0.854, "0.854"), (1234567.0, "1234567.0")],
)  # fmt: skip
def test_a_measured_number_is_written_so_that_it_reads_back_the_same(
    value: float, shown: str
) -> None:
    from modelzoo_kit.render import md_number

    assert md_number(value) == shown
    assert float(md_number(value)) == value


def test_an_open_framework_in_the_version_table_reads_back_as_the_same_decision(
    tmp_path: Path,
) -> None:
    from modelzoo_kit.extract import extract

    folder = tiny(tmp_path, "pytorch-2022")
    todo = "TODO: the README has no such field"
    edit_yaml(folder, "  framework: PyTorch 2.1.0\n", f"  framework: '{todo}'\n")
    edit_yaml(folder, "schema_version: 1\n", "schema_version: 1\ndraft: true\n")
    text = render_readme(load_deliverable(folder), folder, "zh")
    assert f"| {todo} |" in text
    assert extract(parse_readme(text)).data["basic"]["framework"] == todo


def test_environment_notes_whose_first_line_is_indented_read_back_the_same(
    tmp_path: Path,
) -> None:
    from modelzoo_kit.extract import extract

    folder = tiny(tmp_path, "pytorch-2022")
    software = " - 安装依赖。\n\n   ```\n   pip install -r requirements.txt\n   ```"
    block = "".join(f"    {line}\n" if line else "\n" for line in software.split("\n"))
    edit_yaml(folder, "environment:\n", "environment:\n  software: |2-\n" + block)
    assert load_deliverable(folder).environment.software == software
    text = render_readme(load_deliverable(folder), folder, "zh")
    assert extract(parse_readme(text)).data["environment"]["software"] == software


def test_a_metric_a_row_lacks_stays_absent_and_one_without_a_value_stays_null(
    tmp_path: Path,
) -> None:
    from modelzoo_kit.extract import extract

    folder = tiny(tmp_path, "pytorch-2022")
    path = folder / "deliverable.yaml"
    rows = (
        "results:\n"
        "  - {cards: 1, metrics: {mAP: null}, throughput: 79.04}\n"
        "  - {cards: 8, metrics: {mAP50: 0.854}, throughput: 491.32}\n"
    )
    path.write_text(path.read_text(encoding="utf-8") + rows, encoding="utf-8")
    text = render_readme(load_deliverable(folder), folder, "zh")
    results = extract(parse_readme(text)).data["results"]
    assert [r["metrics"] for r in results] == [{"mAP": None}, {"mAP50": 0.854}]


def test_results_rows_are_read_as_the_rendered_table_writes_them(tmp_path: Path) -> None:
    """Two tables of the README with their metrics in other orders, and a cell with a run of
    spaces: the rows hold what the one rendered table shows, so a second extraction agrees."""
    import yaml

    from modelzoo_kit.extract import extract

    folder = tiny(tmp_path, "pytorch-2022")
    text = render_readme(load_deliverable(folder), folder, "zh")
    tables = (
        "| NAME | Acc@5 | Acc@1 | FPS | AMP_Type |\n| :--: | :--: | :--: | :--: | :--: |\n"
        "| 1p-NPU | 90.1 | 70.2 | 100 | LM:O1  ASR:O2 |\n\n"
        "| NAME | Acc@1 | Acc@5 | FPS | AMP_Type |\n| :--: | :--: | :--: | :--: | :--: |\n"
        "| 8p-NPU | 71.5 | 91.3 | 800 | O2 |\n\n"
    )
    start = text.index("**表 2**")
    text = text[:start] + tables + text[text.index("训练完成后", start) :]
    results = extract(parse_readme(text)).data["results"]
    assert [list(r["metrics"]) for r in results] == [["Acc@5", "Acc@1"], ["Acc@5", "Acc@1"]]
    assert results[0]["amp_type"] == "LM:O1 ASR:O2"
    path = folder / "deliverable.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["results"] = results
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    again = render_readme(load_deliverable(folder), folder, "zh")
    assert extract(parse_readme(again)).data["results"] == results
