"""Hypothesis: whatever a README contains, the reader, the rules and the importer answer with
data and findings (or one InputFileError for bytes that are no text), never a crash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelzoo_kit.errors import InputFileError
from modelzoo_kit.extract import extract
from modelzoo_kit.readme import decode_readme, parse_readme, plain_text
from modelzoo_kit.rules import check_readme, check_readme_file

FRAGMENTS = [
    "**", "_", "__", "*", "\\", "\\_", "#", "## ", "#概述", "\n", "\n\n", "\r\n", "  ", "    ",
    "- ", "1. ", "> ", "```", "~~~", "<h2 id=\"概述.md\">", "</h2>", "<a name=\"x\"></a>",
    "<table>", "</table>", "[", "]", "(", ")", "](#", "](figures/a.png)", "![", "：", ":", "（",
    "）", "(", "发布者（Publisher）", "大小（Size）", "Version", "版本", "应用级别（Categories）",
    "参考实现", "适配昇腾 AI 处理器的实现", "url=", "branch=", "commit_id=", "code_path=",
    "https://github.com/a/b", "1.1", "98M", "1263056KB", "PyTorch_1.6.0", "【深加工】", "xx1",
    "XXX", "{docker_image}", "\ufeff", "\ufffd", "\u00a0", "\u3000", "基本信息", "概述",
    "bash test/train_full_1p.sh", "|", "---", "<!--", "-->", "\t",
]  # fmt: skip

fragments = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8))
markdownish = st.lists(fragments, max_size=60).map("".join)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(markdownish)
def test_reader_rules_and_importer_never_crash(text: str) -> None:
    document = parse_readme(text, "README.md")
    line_count = len(document.lines)
    for section in document.sections:
        assert 1 <= section.line <= section.end_line <= line_count
    for entry in document.fields.values():
        assert "\n" not in entry.value and 1 <= entry.line <= line_count
    for item in check_readme(document):
        assert item.line is None or 1 <= item.line <= line_count
        assert item.message
    data = extract(document).data
    assert data["schema_version"] == 1 and data["name"]


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_decode_or_give_one_input_error(data: bytes) -> None:
    try:
        text, bad_lines = decode_readme(data, "README.md")
    except InputFileError as exc:
        assert "README.md" in str(exc)
        return
    assert "\r" not in text
    assert all(1 <= line <= text.count("\n") + 1 for line in bad_lines)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_any_file_gets_findings(tmp_path_factory, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "README.md"
    path.write_bytes(data)
    findings = check_readme_file(path, "README.md")
    assert findings  # an arbitrary file is never a complete deliverable README


@FUZZ
@given(markdownish)
def test_plain_text_is_trimmed_single_line_text(text: str) -> None:
    line = text.replace("\r", " ").replace("\n", " ")
    cleaned = plain_text(line)
    assert cleaned == cleaned.strip(" \t\u00a0\u3000\ufeff")
    assert "\n" not in cleaned
