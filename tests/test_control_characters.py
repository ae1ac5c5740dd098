"""What the terminal shows is what the data says: control characters from data are escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from deliverable_fixtures import copy_fixture

from modelzoo_kit import loading
from modelzoo_kit.cli import main
from modelzoo_kit.commands.extract import header
from modelzoo_kit.display import escape_controls, shown
from modelzoo_kit.errors import UsageError
from modelzoo_kit.findings import Finding, Severity, report_text
from modelzoo_kit.metadata import EntryPoint

#: Anything a terminal would act on instead of showing (newline and tab excepted).
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

HIDING = [
    "echo safe\rrm -rf ~",  # CR: the terminal overwrites the start of the line
    "rm -rf ~ \x1b[2K\x1b[1Gecho safe",  # ESC: erase the line, back to column 1
    "echo a\bb",
    "echo \u202eevil\u202c",  # bidirectional override
    "echo \x00nul \x7f \x9b",
]


@pytest.mark.parametrize(
    "text,one_line,expected",
    [
        ("a\rb", False, "a\\rb"),
        ("a\x1b[2Kb", False, "a\\x1b[2Kb"),
        ("a\nb\tc", False, "a\nb\tc"),
        ("a\nb", True, "a\\nb"),
        ("\u202eabc", False, "\\u202eabc"),
        ("\x9b\x7f\x00", False, "\\x9b\\x7f\\0"),
        ("plain 中文 text", False, "plain 中文 text"),
    ],
)
def test_escape_controls(text: str, one_line: bool, expected: str) -> None:
    assert escape_controls(text, one_line=one_line) == expected
    assert escape_controls(expected, one_line=one_line) == expected  # idempotent


@pytest.fixture
def hostile_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deliverable whose entry points hide text (loaded as if the model let them through)."""
    folder = copy_fixture(tmp_path)
    real = loading.load_deliverable(folder)
    entries = {
        **real.entry_points,
        **{f"hide-{i}": EntryPoint.model_construct(command=c, description="x")
           for i, c in enumerate(HIDING)},
    }
    hostile = real.model_copy(update={"entry_points": entries})
    monkeypatch.setattr(loading, "load_deliverable", lambda *a, **k: hostile)
    return folder


def test_run_lists_commands_with_controls_escaped(
    hostile_entry_points: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(hostile_entry_points)]) == 0
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out), repr(out)
    assert "echo safe\\rrm -rf ~" in out and "\\x1b[2K" in out


@pytest.mark.parametrize("index", range(len(HIDING)))
def test_run_dry_run_shows_the_command_bash_would_run(
    hostile_entry_points: Path, index: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(hostile_entry_points), f"hide-{index}", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert not RAW_CONTROL.search(err), repr(err)
    assert escape_controls(HIDING[index]) in err


@pytest.mark.parametrize("text", HIDING)
def test_findings_text_report_escapes_controls(text: str) -> None:
    finding = Finding("MZ210", Severity.ERROR, f"x{text}.md", 3, f"publisher {text}",
                      f"hint {text}\nsecond line")
    report = report_text([finding], 1)
    assert not RAW_CONTROL.search(report), repr(report)
    assert len(report.splitlines()) == len(report_text(
        [Finding("MZ210", Severity.ERROR, "x.md", 3, "m", "h")], 1).splitlines())


def test_validate_report_of_a_hostile_readme_escapes_controls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\x1b[2K\n\n<h2 id=\"交付件基本信息.md\">交付件基本信息</h2>\n\n"
        "**发布者（Publisher）：\x1b]0;pwned\x07Evil\u202e**\n\n**版本（Version）：9\x1b[1m.9**\n",
        encoding="utf-8",
    )
    main(["validate", str(readme), "--color", "never"])
    out = capsys.readouterr().out
    assert "MZ2" in out
    assert not RAW_CONTROL.search(out), repr(out)


def test_extract_notes_stay_comment_lines() -> None:
    text = header(Path("README\n.md"), ["a note\nevil: injected", "b\x1b[2K"])
    assert yaml.safe_load(text) is None  # still nothing but comments
    assert not RAW_CONTROL.search(text)


def test_errors_escape_controls_but_keep_their_lines() -> None:
    message = str(UsageError("first\x1b[2K line\nsecond\r line"))
    assert message == "first\\x1b[2K line\nsecond\\r line"
    assert shown(message) == message


def test_render_check_diff_escapes_controls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture(tmp_path)
    (folder / "README.md").write_text("# x\x1b]0;title\x07\n\x1b[2Kfake line\n", encoding="utf-8")
    assert main(["render", str(folder), "--check", "--lang", "zh"]) == 1
    out = capsys.readouterr().out
    assert "\\x1b[2Kfake line" in out
    assert not RAW_CONTROL.search(out), repr(out[:300])
