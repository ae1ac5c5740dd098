"""Adopting the kit on an existing zoo: drafts that always load, nothing of a README dropped,
clone addresses, a whole zoo at once, and hand-written regions kept byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deliverable_fixtures import copy_fixture

from modelzoo_kit.carried import KEEP_BEGIN, KEEP_END, line_key
from modelzoo_kit.cli import main
from modelzoo_kit.errors import InputFileError
from modelzoo_kit.extract import extracted_file
from modelzoo_kit.loading import draft_problems, load_deliverable
from modelzoo_kit.render import render_folder
from modelzoo_kit.rules import check_deliverable_folder

FIXTURES = Path(__file__).parent / "fixtures" / "migrate"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS_FILES = sorted((CORPUS / "files").glob("*.md")) + sorted(
    (CORPUS / "pytorch-2022" / "files").glob("*.md")
)


def _migrated(tmp_path: Path, readme: Path) -> tuple[Path, object]:
    """``readme`` copied alone into a folder, extracted there, its draft written beside it."""
    folder = tmp_path / "deliverable"
    folder.mkdir()
    shutil.copy(readme, folder / "README.md")
    made = extracted_file(folder / "README.md")
    (folder / "deliverable.yaml").write_text(made.text, encoding="utf-8")
    return folder, made


def _survival(original: str, rendered: str) -> float:
    shown = {line_key(line) for line in rendered.splitlines()}
    keys = [k for k in map(line_key, original.splitlines()) if k]
    return sum(k in shown for k in keys) / len(keys)


def test_a_legacy_readme_becomes_a_draft_that_loads_renders_and_keeps_every_line(
    tmp_path: Path,
) -> None:
    folder, made = _migrated(tmp_path, FIXTURES / "legacy_tf.md")
    deliverable = load_deliverable(folder)
    assert deliverable.draft
    assert deliverable.basic.size == "465M"  # **模型大小（Size）：465M**
    adapted = deliverable.overview.adapted
    assert adapted.url == "https://gitee.com/ascend/ModelZoo-TensorFlow.git"
    assert adapted.branch == "master"
    assert adapted.code_path.endswith("DenseNet161_ID1579_for_TensorFlow")
    original = (folder / "README.md").read_text(encoding="utf-8")
    (rendered,) = render_folder(folder, ("zh",))
    assert _survival(original, rendered.text) == 1.0
    text = rendered.text
    assert "草稿（Draft）" in text and "`basic.category`" in text  # the open decisions, shown
    assert "git clone https://gitee.com/ascend/ModelZoo-TensorFlow.git" in text
    # What no field holds comes back in its section, in order: the note under a command, the
    # README's own parameter table, a sub-section and an FAQ the template does not name.
    for earlier, later in [
        ("训练约需 12 小时", "高级参考</h2>"),
        ("| --batch_size | 每卡的批大小 | 32 |", "#### 训练结果"),
        ("#### 训练结果", "## FAQ"),
        ("## FAQ", "把 --batch_size 调小到 16。"),
    ]:
        assert earlier in text and later in text
        assert text.index(earlier) < text.rindex(later)


def test_the_header_lists_what_validate_reports_for_the_draft(tmp_path: Path) -> None:
    folder, made = _migrated(tmp_path, FIXTURES / "legacy_tf.md")
    header = [line for line in made.text.splitlines() if line.startswith("#   line ")]
    assert len(header) == len(made.decisions) > 0
    found = check_deliverable_folder(folder).findings
    reported = sorted((f.line, f.message) for f in found if f.rule == "MZ307")
    assert reported == sorted((p.line, f"{p.field}: {p.message}") for p in made.decisions)
    fields = {p.field for p in made.decisions}
    # the second wave the old header never named: evidence, parameter source, entry points
    assert {"basic.category", "advanced.training_script", "entry_points.train-8p.command"} <= fields


def test_a_todo_outside_a_draft_is_an_error_at_its_line(tmp_path: Path) -> None:
    folder, _ = _migrated(tmp_path, FIXTURES / "legacy_tf.md")
    path = folder / "deliverable.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("draft: true\n", ""), "utf-8")
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    problem = next(p for p in caught.value.problems if p.field == "overview.adapted.commit_id")
    assert "open decision" in problem.message and problem.line


def test_a_todo_cannot_stand_for_a_whole_section(tmp_path: Path) -> None:
    folder, _ = _migrated(tmp_path, FIXTURES / "legacy_tf.md")
    path = folder / "deliverable.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("\nmixed_precision:\n")
    end = text.index("\nenvironment:")
    path.write_text(text[:start] + "\nmixed_precision: TODO" + text[end:], encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    assert any("fields inside it" in p.message for p in caught.value.problems)


def test_render_keeps_hand_written_regions_byte_for_byte(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path)
    assert main(["render", str(folder), "--lang", "zh"]) == 0
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8")
    heading = "## 训练过程"
    assert heading in text
    region = f"{KEEP_BEGIN}\n手写的说明：  两个空格，\t一个制表符。\n\n\n| a | b |\n{KEEP_END}"
    start = text.index(heading)
    end = text.index("\n## ", start + 1)
    readme.write_text(text[:end] + "\n" + region + "\n" + text[end:], encoding="utf-8")
    assert main(["render", str(folder), "--lang", "zh"]) == 0
    after = readme.read_text(encoding="utf-8")
    assert region in after
    assert after.index(heading) < after.index(region) < after.index("\n## ", start + 1)
    assert main(["render", "--check", str(folder), "--lang", "zh"]) == 0


def _zoo(tmp_path: Path) -> Path:
    zoo = tmp_path / "zoo"
    for name in ("a", "b"):
        (zoo / "cv" / name).mkdir(parents=True)
        shutil.copy(FIXTURES / "legacy_tf.md", zoo / "cv" / name / "README.md")
    (zoo / "README.md").write_text("# The zoo\n\nA list of models.\n", encoding="utf-8")
    return zoo


def test_extract_a_whole_zoo_never_overwrites_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zoo = _zoo(tmp_path)
    existing = zoo / "cv" / "b" / "deliverable.yaml"
    existing.write_text("hand: written\n", encoding="utf-8")
    assert main(["extract", "-r", str(zoo), "--dry-run"]) == 1
    assert not (zoo / "cv" / "a" / "deliverable.yaml").exists()
    assert main(["extract", "-r", str(zoo)]) == 1
    out = capsys.readouterr().out
    assert "open decision(s)" in out and "exists; left as it is" in out
    assert existing.read_text(encoding="utf-8") == "hand: written\n"
    assert load_deliverable(zoo / "cv" / "a").draft
    assert not (zoo / "deliverable.yaml").exists()  # the zoo's own README is no deliverable
    assert main(["extract", "-r", str(zoo), "--force"]) == 1
    assert load_deliverable(zoo / "cv" / "b").draft


def test_extract_render_extract_gives_the_same_file(tmp_path: Path) -> None:
    folder, made = _migrated(tmp_path, FIXTURES / "legacy_tf.md")
    (rendered,) = render_folder(folder, ("zh",))
    rendered.path.write_text(rendered.text, encoding="utf-8")
    again = extracted_file(folder / "README.md")
    assert again.text == made.text


def test_text_the_extraction_copied_is_never_read_back_as_a_typed_value(tmp_path: Path) -> None:
    import yaml

    from modelzoo_kit.carried import CARRIED_BEGIN, CARRIED_END

    folder, made = _migrated(tmp_path, FIXTURES / "legacy_tf.md")
    (rendered,) = render_folder(folder, ("zh",))
    text = rendered.text
    assert text.count(CARRIED_BEGIN) == text.count(CARRIED_END) > 0
    # A paper label and a basic field inside the copied text: a reader of the README sees a
    # second paper and publisher, but they are copied text, not what deliverable.yaml says.
    forged = "- 参考论文：\n\n  [Another paper](https://example.org/another)\n\n**发布者（Publisher）：Forged**"
    text = text.replace(CARRIED_BEGIN, f"{CARRIED_BEGIN}\n\n{forged}", 1)
    rendered.path.write_text(text, encoding="utf-8")
    again = extracted_file(folder / "README.md")
    first, second = yaml.safe_load(made.text), yaml.safe_load(again.text)
    assert second["overview"]["paper"] == first["overview"]["paper"]
    assert second["basic"]["publisher"] == first["basic"]["publisher"] != "Forged"
    assert "Another paper" in yaml.safe_dump(second["readme_text"], allow_unicode=True)


def test_a_line_of_inline_code_in_three_backticks_opens_no_code_block(tmp_path: Path) -> None:
    """CommonMark: a backtick fence's info string has no backtick, so the line is inline code."""
    import yaml

    readme = tmp_path / "legacy.md"
    readme.write_text(
        "# T\n\n## 链接数据\n\n1. 链接数据集。\n\n   ```ln -s ${data}/ downloads```\n\n"
        "2. 开始训练。\n\n## FAQ\n\n无。\n",
        encoding="utf-8",
    )
    folder, made = _migrated(tmp_path, readme)
    carried = "\n".join(yaml.safe_load(made.text)["readme_text"].values())
    assert "ln -s ${data}/ downloads```" in carried
    assert "```" not in [line.strip() for line in carried.split("\n")]  # no fence closed
    (rendered,) = render_folder(folder, ("zh",))
    rendered.path.write_text(rendered.text, encoding="utf-8")
    assert extracted_file(folder / "README.md").text == made.text


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus is not here")
@pytest.mark.parametrize("readme", CORPUS_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_corpus_readme_migrates_to_a_draft_that_loads(tmp_path: Path, readme: Path) -> None:
    folder, made = _migrated(tmp_path, readme)
    load_deliverable(folder)
    assert draft_problems(folder) == made.decisions
    original = readme.read_text(encoding="utf-8", errors="replace")
    (rendered,) = render_folder(folder, ("zh",))
    assert _survival(original, rendered.text) >= 0.95


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus is not here")
@pytest.mark.parametrize("readme", CORPUS_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_corpus_readme_extracts_renders_and_extracts_to_the_same_file(
    tmp_path: Path, readme: Path
) -> None:
    """Both layouts, every README, no exception: the rendered draft is read back into the
    same deliverable.yaml (typed fields from what they render, copied text as it was copied)."""
    folder, made = _migrated(tmp_path, readme)
    (rendered,) = render_folder(folder, ("zh",))
    rendered.path.write_text(rendered.text, encoding="utf-8")
    again = extracted_file(folder / "README.md")
    assert again.text == made.text


def test_absl_tf_flags_and_click_parameters_are_read_without_importing(tmp_path: Path) -> None:
    from modelzoo_kit.script_params import read_parameters

    rows = {
        p.name: (p.default, p.type, p.choices, p.help, p.required, p.is_switch)
        for p in read_parameters(FIXTURES / "flags_script.py")
    }
    assert rows == {
        "--batch_size": ("32", "int", (), "per-card batch", False, False),
        "--data_path": (None, "str", (), "dataset folder", False, False),
        "--mode": ("train", "str", ("train", "eval"), "what to run", False, False),
        "--lr": ("0.1", None, (), "learning rate", False, False),
        "--amp": ("False", None, (), "mixed precision", False, True),
        "config": (None, None, (), "", True, False),
    }


def test_extract_takes_the_parameter_source_the_readme_names(tmp_path: Path) -> None:
    folder = tmp_path / "deliverable"
    folder.mkdir()
    text = (FIXTURES / "legacy_tf.md").read_text(encoding="utf-8")
    text = text.replace("bash test/train_full_1p.sh", "python3 main_npu.py")
    (folder / "README.md").write_text(text, encoding="utf-8")
    shutil.copy(FIXTURES / "flags_script.py", folder / "main_npu.py")
    made = extracted_file(folder / "README.md")
    assert "training_script: main_npu.py" in made.text
    assert "advanced.training_script" not in {p.field for p in made.decisions}
    (folder / "deliverable.yaml").write_text(made.text, encoding="utf-8")
    (rendered,) = render_folder(folder, ("zh",))
    assert "| `--batch_size` | per-card batch | 32 |" in rendered.text


def test_a_rendered_readme_keeps_the_parameter_source_it_names(tmp_path: Path) -> None:
    """The rendered directory tree names every script of the folder; the parameter table says
    which one is the source, and that stays the answer on the next extraction."""
    folder = tmp_path / "deliverable"
    folder.mkdir()
    shutil.copy(FIXTURES / "legacy_tf.md", folder / "README.md")
    shutil.copy(FIXTURES / "flags_script.py", folder / "entry.py")  # the README never names it
    made = extracted_file(folder / "README.md")
    assert "advanced.training_script" in {p.field for p in made.decisions}
    (folder / "deliverable.yaml").write_text(made.text, encoding="utf-8")
    (rendered,) = render_folder(folder, ("zh",))
    assert "entry.py" in rendered.text  # in the directory tree
    rendered.path.write_text(rendered.text, encoding="utf-8")
    assert extracted_file(folder / "README.md").text == made.text


def test_the_migration_bench_measures_a_folder_of_readmes(tmp_path: Path) -> None:
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench" / "bench_migration.py"
    result = subprocess.run(
        [sys.executable, str(bench), str(FIXTURES), "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines()[1:6])
    assert lines == {
        "loads": "100.0%", "renders": "100.0%", "header_is_validate": "100.0%",
        "idempotent": "100.0%", "lines": "100.0%",
    }  # fmt: skip


def test_control_characters_in_carried_text_are_written_as_escapes(tmp_path: Path) -> None:
    readme = tmp_path / "legacy.md"
    readme.write_text("# T\n\n## 训练过程\n\nlog: \x1b[31mred\x1b[0m\n", encoding="utf-8")
    folder, made = _migrated(tmp_path, readme)
    assert "\x1b" not in made.text and "\\x1b[31mred" in made.text
    assert load_deliverable(folder).draft
