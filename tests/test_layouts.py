"""The pytorch-2022 layout: each of its rules fires on its own fixture README at the right line,
none fires on a clean one, and no rule of the template's sections or fields ever fires on it.

Fixtures: ``tests/fixtures/readmes/pytorch-2022/`` (a clean README and one copy per rule, broken
in one place), checked inside a model folder that holds the layout's training scripts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelzoo_kit.errors import UsageError
from modelzoo_kit.layouts import LAYOUTS, PYTORCH_2022, TEMPLATE, get_layout
from modelzoo_kit.readme import read_readme
from modelzoo_kit.results import read_results_table
from modelzoo_kit.rules import RULES, check_readme, check_readme_file, tables_in

FIXTURES = Path(__file__).parent / "fixtures" / "readmes" / "pytorch-2022"
MODEL = "ResNet50_for_PyTorch"
SCRIPTS = (
    "test/train_full_1p.sh",
    "test/train_full_8p.sh",
    "test/train_performance_1p.sh",
    "test/train_performance_8p.sh",
    "requirements.txt",
    "public_address_statement.md",
)


def model_folder(tmp_path: Path, readme: Path) -> Path:
    folder = tmp_path / "cv" / "classification" / MODEL
    for name in SCRIPTS:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("#!/bin/bash\n")
    shutil.copyfile(readme, folder / "README.md")
    return folder


def rules_and_lines(tmp_path: Path, fixture: str) -> list[tuple[str, int | None]]:
    folder = model_folder(tmp_path, FIXTURES / fixture)
    findings = check_readme_file(folder / "README.md", "README.md", folder, layout=PYTORCH_2022)
    return sorted(((f.rule, f.line) for f in findings), key=lambda x: (x[0], x[1] or 0))


def test_clean_readme_has_no_findings(tmp_path: Path) -> None:
    assert rules_and_lines(tmp_path, "good.md") == []


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("mz101_missing_section.md", [("MZ101", None), ("MZ105", 7)]),
        ("mz102_section_order.md", [("MZ102", 64)]),
        ("mz109_missing_subsection.md", [("MZ109", 53)]),
        ("mz242_reference_url_only.md", [("MZ242", 15)]),
        ("mz243_bad_commit.md", [("MZ243", 19)]),
        ("mz245_adaptation_incomplete.md", [("MZ245", 22)]),
        ("mz246_code_path_parent.md", [("MZ246", 26)]),
        ("mz250_no_results_table.md", [("MZ250", 73)]),
        ("mz251_results_no_fps.md", [("MZ251", 77)]),
        ("mz252_results_fps_text.md", [("MZ252", 82)]),
        ("mz253_results_no_accuracy.md", [("MZ253", 77)]),
        ("mz254_results_missing_row.md", [("MZ254", 77)]),
        ("mz255_no_version_table.md", [("MZ255", 31)]),
        ("mz301_missing_image.md", [("MZ301", 13)]),
        ("mz302_missing_script.md", [("MZ302", 70)]),
        ("mz306_toc_file_links.md", [("MZ306", 3)]),
        ("mz401_placeholder.md", [("MZ401", 88)]),
    ],
)
def test_rule_fires_on_its_fixture(
    tmp_path: Path, fixture: str, expected: list[tuple[str, int | None]]
) -> None:
    assert rules_and_lines(tmp_path, fixture) == expected


def test_every_new_layout_rule_has_a_fixture() -> None:
    fixture_ids = {p.name[:5].upper() for p in FIXTURES.glob("mz*.md")}
    new_rules = {"MZ109", "MZ246", "MZ250", "MZ251", "MZ252", "MZ253", "MZ254", "MZ255"}
    assert new_rules <= set(RULES)
    assert new_rules | {"MZ306"} <= fixture_ids


#: Rules about the template's own sections, anchors and basic-information fields.
TEMPLATE_ONLY = {"MZ104", "MZ201", "MZ202", "MZ230"} | {f"MZ2{n}" for n in range(10, 21)}


def test_template_rules_never_fire_on_the_new_layout(tmp_path: Path) -> None:
    for fixture in sorted(FIXTURES.glob("*.md")):
        folder = model_folder(tmp_path / fixture.stem, fixture)
        findings = check_readme(read_readme(folder / "README.md"), folder, layout=PYTORCH_2022)
        assert not {f.rule for f in findings} & TEMPLATE_ONLY, fixture.name
        template_sections = [s.name for s in TEMPLATE.sections]
        assert not [f for f in findings if any(f"`{n}`" in f.message for n in template_sections)]


def test_the_same_readme_read_as_the_template_is_all_missing_sections(tmp_path: Path) -> None:
    folder = model_folder(tmp_path, FIXTURES / "good.md")
    rules = {f.rule for f in check_readme(read_readme(folder / "README.md"), folder)}
    assert {"MZ101", "MZ201"} <= rules


@pytest.mark.parametrize(
    ("name", "row", "cards", "baseline", "fps", "metric"),
    [
        ("good.md", 0, 1, True, "810.2", None),
        ("good.md", 3, 8, False, "12003.7", "76.05"),
    ],
)
def test_results_table_rows_are_typed(
    name: str, row: int, cards: int, baseline: bool, fps: str, metric: str | None
) -> None:
    document = read_readme(FIXTURES / name)
    results = read_results_table(tables_in(document, PYTORCH_2022, "训练结果展示")[0])
    got = results.rows[row]
    assert (got.cards, got.is_baseline) == (cards, baseline)
    assert got.throughput is not None and got.throughput.text == fps
    acc = got.metrics["Acc@1"]
    assert (acc.text if acc else None) == metric
    assert results.cards() == {1, 8} and results.metric_names == ("Acc@1",)


def test_layouts_are_found_by_name() -> None:
    assert get_layout(None) is TEMPLATE and list(LAYOUTS) == ["template", "pytorch-2022"]
    with pytest.raises(UsageError, match="pytorch-2022"):
        get_layout("pytorch-2019")


@pytest.mark.parametrize(
    ("old", "new", "fired"),
    [
        # A throughput column however it is worded.
        ("| NAME     | Acc@1 | FPS     |", "| NAME     | Acc@1 | throughput rate (samples/s) |",
         set()),
        ("| NAME     | Acc@1 | FPS     |", "| Device   | Acc@1 | FPS     |", set()),
        # No accuracy in the only table; then the accuracy in a second table (pre-training,
        # then fine-tuning) counts.
        ("| 8p-NPU   | 76.05 |", "| 8p-NPU   | -     |", {"MZ253"}),
        ("| 8p-NPU   | 76.05 | 12003.7 | 90     | O2       | 1.8           |\n",
         "| 8p-NPU   | -     | 12003.7 | 90     | O2       | 1.8           |\n\n"
         "| NAME   | Acc@1 | FPS  |\n| --- | --- | --- |\n| 8p-NPU | 80.1  | 9000 |\n",
         set()),
        # The older form of the version table: | 配套 | 版本 | with a PyTorch row.
        ("  | Torch_Version | 三方库依赖版本 |\n  | :-----------: | :------------: |\n"
         "  | PyTorch 1.8   | pillow==9.1.0  |",
         "  | 配套 | 版本 |\n  | --- | --- |\n  | 固件与驱动 | 23.0 |\n  | PyTorch | 1.8 |",
         set()),
        # 模型来源 is not how this layout labels its reference: the entry is missing.
        ("- 参考实现：", "- 模型来源：", {"MZ240"}),
        # A path the reader fills in is no missing script.
        ("bash ./test/train_full_8p.sh",
         "source xxx/ascend-toolkit/set_env.sh; bash ./test/train_full_8p.sh", set()),
        # A script of another checkout, run after cd into it, is not looked for here; a
        # script run from a folder of the deliverable still is.
        ("     bash ./test/train_full_8p.sh",
         "     git clone https://github.com/open-mmlab/mmcv.git; cd mmcv\n"
         "     python3 setup.py build_ext\n     bash ./test/train_full_8p.sh", set()),
        ("     bash ./test/train_full_8p.sh",
         "     cd test; python3 setup.py build_ext\n     bash ./test/train_full_8p.sh",
         {"MZ302"}),
    ],
)  # fmt: skip
def test_new_layout_reads_what_the_zoo_writes(
    tmp_path: Path, old: str, new: str, fired: set[str]
) -> None:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    assert old in text
    readme = tmp_path / "README.md"
    readme.write_text(text.replace(old, new, 1), encoding="utf-8")
    folder = model_folder(tmp_path / "zoo", readme)
    findings = check_readme(read_readme(folder / "README.md"), folder, layout=PYTORCH_2022)
    assert {f.rule for f in findings} == fired


def test_extract_reads_the_new_layout_into_deliverable_yaml() -> None:
    from modelzoo_kit.extract import read_extraction

    data = read_extraction(FIXTURES / "good.md").data
    assert data["layout"] == "pytorch-2022"
    assert data["basic"] == {"framework": "PyTorch 1.8"}
    assert data["overview"]["reference"] == {
        "url": "https://github.com/pytorch/examples.git",
        "commit_id": "49e1a8847c8c4d8d3c576479cb2fe2fd2ac583de",
    }
    assert data["overview"]["adapted"]["code_path"].endswith(MODEL)
    assert data["quick_start"]["dataset"].startswith("1. 获取数据集。")
    assert data["results"][3] == {
        "cards": 8, "metrics": {"Acc@1": 76.05}, "throughput": 12003.7, "epochs": 90,
        "amp_type": "O2", "framework_version": "1.8",
    }  # fmt: skip
    assert data["results"][0]["baseline"] == "竞品V"
    assert {"train-1p", "train-8p"} <= set(data["entry_points"])
