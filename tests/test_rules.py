"""Each rule fires on its own fixture README, at the right line, and nowhere on a clean one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from modelzoo_kit import fieldrules
from modelzoo_kit.readme import parse_readme, read_readme
from modelzoo_kit.rules import (
    RULES,
    check_deliverable_folder,
    check_readme,
    check_readme_file,
)

FIXTURES = Path(__file__).parent / "fixtures" / "readmes"
DELIVERABLES = Path(__file__).parent / "fixtures" / "deliverables"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


def deliverable_folder(tmp_path: Path, readme: Path) -> Path:
    """A folder holding the README and the script it runs, as a real deliverable would."""
    folder = tmp_path / "model"
    (folder / "test").mkdir(parents=True)
    (folder / "test" / "train_full_1p.sh").write_text("#!/bin/bash\n")
    shutil.copyfile(readme, folder / "README.md")
    return folder


def rules_and_lines(tmp_path: Path, fixture: str) -> list[tuple[str, int | None]]:
    folder = deliverable_folder(tmp_path, FIXTURES / fixture)
    findings = check_readme_file(folder / "README.md", "README.md", folder)
    return sorted(((f.rule, f.line) for f in findings), key=lambda x: (x[0], x[1] or 0))


@pytest.mark.parametrize("fixture", ["good.md", "good.en.md"])
def test_clean_readme_has_no_findings(tmp_path: Path, fixture: str) -> None:
    assert rules_and_lines(tmp_path, fixture) == []


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("mz001_not_utf8.md", [("MZ001", 41)]),
        ("mz002_binary.md", [("MZ002", None)]),
        ("mz101_missing_section.md", [("MZ101", None), ("MZ105", 7)]),
        ("mz102_section_order.md", [("MZ102", 87)]),
        ("mz103_unspaced_heading.md", [("MZ103", 61)]),
        ("mz104_anchor_mismatch.md", [("MZ104", 85), ("MZ105", 7)]),
        ("mz105_toc_link.md", [("MZ105", 9)]),
        ("mz106_heading_colon.md", [("MZ106", 61)]),
        ("mz107_broken_link.md", [("MZ107", 69)]),
        (
            "mz108_bold_headings.md",
            [
                ("MZ108", 4),
                ("MZ108", 28),
                ("MZ108", 61),
                ("MZ108", 65),
                ("MZ108", 79),
                ("MZ108", 83),
            ],
        ),
        ("mz201_missing_field.md", [("MZ201", 10)]),
        ("mz202_repeated_field.md", [("MZ202", 3)]),
        ("mz210_publisher.md", [("MZ210", 12)]),
        ("mz211_domain.md", [("MZ211", 14)]),
        ("mz212_version.md", [("MZ212", 16)]),
        ("mz213_modified.md", [("MZ213", 18)]),
        ("mz214_size.md", [("MZ214", 20)]),
        ("mz215_framework.md", [("MZ215", 22)]),
        ("mz216_model_format.md", [("MZ216", 24)]),
        ("mz217_precision.md", [("MZ217", 26)]),
        ("mz218_processor.md", [("MZ218", 28), ("MZ401", 28)]),
        ("mz219_category.md", [("MZ219", 30)]),
        ("mz220_description.md", [("MZ220", 32), ("MZ401", 32)]),
        ("mz230_stray_markup.md", [("MZ230", 18)]),
        ("mz240_no_reference.md", [("MZ240", None)]),
        ("mz241_empty_reference.md", [("MZ241", 44)]),
        ("mz242_reference_url_only.md", [("MZ242", 44)]),
        ("mz243_bad_commit.md", [("MZ243", 49)]),
        ("mz244_no_adaptation.md", [("MZ244", None)]),
        ("mz245_adaptation_incomplete.md", [("MZ245", 52)]),
        ("mz301_missing_image.md", [("MZ301", 40)]),
        ("mz302_missing_script.md", [("MZ302", 82)]),
        ("mz401_placeholder.md", [("MZ401", 75)]),
        ("mz402_template_example.md", [("MZ402", 38)]),
    ],
)
def test_rule_fires_on_its_fixture(
    tmp_path: Path, fixture: str, expected: list[tuple[str, int | None]]
) -> None:
    assert rules_and_lines(tmp_path, fixture) == expected


def test_every_readme_rule_has_a_fixture_and_every_rule_is_documented() -> None:
    fixture_ids = {p.name[:5].upper() for p in FIXTURES.glob("**/mz*.md")}
    # MZ303-MZ305 need a deliverable.yaml (tested below), MZ307 a draft one (test_migration.py);
    # MZ100 a zoo walk (test_walk.py).
    folder_rules = {"MZ100", "MZ303", "MZ304", "MZ305", "MZ307"}
    assert set(RULES) - folder_rules <= fixture_ids
    documented = set(re.findall(r"^\| (MZ\d{3}) \|", DOCS.read_text(encoding="utf-8"), re.M))
    assert documented == set(RULES)


def test_field_findings_carry_the_metadata_rules_message_and_hint(tmp_path: Path) -> None:
    findings = check_readme_file(FIXTURES / "mz214_size.md", "README.md", tmp_path)
    size = next(f for f in findings if f.rule == "MZ214")
    with pytest.raises(fieldrules.FieldRuleError) as raised:
        fieldrules.check_size("1263056KB")
    assert (size.message, size.hint) == (raised.value.message, raised.value.hint)
    assert "1233M" in size.hint


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("**应用领域（Application Domain）：Natural Language Processing**", "MZ211"),
        ("**应用领域（Application Domain）：Other (Video Enhancement)**", None),
        ("**大小（Size）：1.3G**", "MZ214"),
        ("**大小（Size）：39.76MB (pth.tar)/20 MB (onnx)**", None),
        ("**框架（Framework）：TensorFlow_1.15.0**", None),
        ("**精度（Precision）：84%~88%**", "MZ217"),
        ("**精度（Precision）：fp32**", None),
        ("**应用级别（Categories）：Demo**", "MZ219"),
        ("**修改时间（Modified） ：2021.7.19**", None),
    ],
)
def test_field_values_judged_like_the_metadata_model(line: str, rule: str | None) -> None:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    label = line.split("：")[0]
    original = next(x for x in text.splitlines() if x.startswith(label))
    document = parse_readme(text.replace(original, line), "README.md")
    fired = {f.rule for f in check_readme(document)} - {"MZ303"}
    assert fired == ({rule} if rule else set())


def test_placeholders_in_code_blocks_are_left_alone() -> None:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    text += "\n```\ngit clone {repository_url}\ncd xxx\n```\n"
    assert [f.rule for f in check_readme(parse_readme(text, "README.md"))] == []


# --------------------------------------------------------------------------- deliverable folders


@pytest.fixture()
def rendered_deliverable(tmp_path: Path) -> Path:
    folder = tmp_path / "minimal"
    shutil.copytree(DELIVERABLES / "minimal", folder)
    from modelzoo_kit.render import render_folder, write_atomically

    for rendered in render_folder(folder):
        write_atomically(rendered.path, rendered.text)
    return folder


def _rules(findings: list) -> set[str]:
    return {f.rule for f in findings}


def test_rendered_deliverable_agrees_with_its_yaml(rendered_deliverable: Path) -> None:
    result = check_deliverable_folder(rendered_deliverable, "minimal")
    assert result.files_checked == 3
    assert result.deliverable is not None
    assert not _rules(result.findings) & {"MZ303", "MZ304", "MZ305", "MZ201", "MZ101"}


def test_edited_readme_field_is_out_of_sync(rendered_deliverable: Path) -> None:
    readme = rendered_deliverable / "README.md"
    text = readme.read_text(encoding="utf-8")
    version_line = next(line for line in text.splitlines() if "版本（Version）" in line)
    readme.write_text(text.replace(version_line, "**版本（Version）：1.9**"), encoding="utf-8")
    findings = check_deliverable_folder(rendered_deliverable, "minimal").findings
    sync = [f for f in findings if f.rule == "MZ303"]
    assert len(sync) == 1 and "`version`" in sync[0].message
    assert sync[0].path == "minimal/README.md"
    assert sync[0].line == text.splitlines().index(version_line) + 1


def test_edited_commit_id_is_out_of_sync(rendered_deliverable: Path) -> None:
    readme = rendered_deliverable / "README.en.md"
    text = readme.read_text(encoding="utf-8")
    commit = re.search(r"commit_id=([0-9a-f]{40})", text)
    assert commit is not None
    readme.write_text(text.replace(commit.group(1), "f" * 40, 1), encoding="utf-8")
    findings = check_deliverable_folder(rendered_deliverable, "minimal").findings
    assert any(f.rule == "MZ303" and "commit_id" in f.message for f in findings)


def test_invalid_yaml_is_reported_per_problem_with_lines(rendered_deliverable: Path) -> None:
    yaml_path = rendered_deliverable / "deliverable.yaml"
    text = yaml_path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(\s+version:).*$", r'\1 "1"', text, count=1)
    yaml_path.write_text(text, encoding="utf-8")
    result = check_deliverable_folder(rendered_deliverable, "minimal")
    problems = [f for f in result.findings if f.rule == "MZ304"]
    assert problems and all(f.path == "minimal/deliverable.yaml" for f in problems)
    assert all(f.line for f in problems)
    assert result.deliverable is None


def test_folder_without_readme(rendered_deliverable: Path) -> None:
    (rendered_deliverable / "README.md").unlink()
    result = check_deliverable_folder(rendered_deliverable, "minimal")
    assert "MZ305" in _rules(result.findings)


def test_read_readme_and_parse_agree() -> None:
    path = FIXTURES / "good.md"
    assert read_readme(path).fields == parse_readme(path.read_text(encoding="utf-8")).fields
