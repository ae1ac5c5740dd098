"""Findings and the two reports every command shares."""

from __future__ import annotations

import json

import pytest

from modelzoo_kit.findings import (
    Finding,
    Severity,
    exit_code,
    filter_findings,
    report_json,
    report_text,
)

ERR = Finding("MZ101", Severity.ERROR, "b/README.md", 12, "version '3' is not two-part", "1.1")
WARN = Finding("PV019", Severity.WARNING, "a/deliverable.yaml", 4, "no partial fetch", column=3)
INFO = Finding("PV010", Severity.INFO, "a/deliverable.yaml", None, "exact match")


@pytest.mark.parametrize(
    ("select", "ignore", "expected"),
    [
        ((), (), [ERR, WARN, INFO]),
        (("PV",), (), [WARN, INFO]),
        (("MZ101",), (), [ERR]),
        ((), ("PV01",), [ERR]),
        (("PV",), ("PV010",), [WARN]),
    ],
)
def test_select_and_ignore_take_rule_ids_or_prefixes(select, ignore, expected):
    assert filter_findings([ERR, WARN, INFO], select, ignore) == expected


@pytest.mark.parametrize(
    ("findings", "code"), [([], 0), ([WARN, INFO], 0), ([INFO, ERR], 1)]
)
def test_only_errors_fail(findings, code):
    assert exit_code(findings) == code


def test_json_report_has_the_documented_stable_shape():
    payload = json.loads(report_json([ERR, WARN, INFO], files_checked=2))
    assert payload["schema"] == 1
    assert payload["summary"] == {
        "files": 2,
        "errors": 1,
        "warnings": 1,
        "infos": 1,
        "by_rule": {"MZ101": 1, "PV010": 1, "PV019": 1},
    }
    first = payload["findings"][0]
    assert list(first) == ["rule", "severity", "path", "line", "column", "message", "hint"]
    # sorted by path, then line (None first), so a/ comes before b/
    assert [f["path"] for f in payload["findings"]] == [
        "a/deliverable.yaml",
        "a/deliverable.yaml",
        "b/README.md",
    ]
    assert payload["findings"][1]["column"] == 3


def test_text_report_groups_by_file_and_shows_hints():
    text = report_text([ERR, WARN, INFO], files_checked=2)
    lines = text.splitlines()
    assert lines[0] == "a/deliverable.yaml"
    assert "b/README.md" in lines
    assert lines.index("b/README.md") > lines.index("a/deliverable.yaml")
    assert any("4:3" in line and "PV019" in line for line in lines)
    assert "hint: 1.1" in text
    assert lines[-1] == "2 file(s) checked: 1 error(s), 1 warning(s), 1 info"
    assert "\x1b[" not in text


def test_colour_and_rule_table_on_request():
    text = report_text([ERR, ERR, WARN], files_checked=1, colour=True, table=True)
    assert "\x1b[31m" in text
    assert any(line.split() == ["MZ101", "2"] for line in text.splitlines())


def test_clean_report_is_one_summary_line():
    assert report_text([], files_checked=5) == (
        "5 file(s) checked: 0 error(s), 0 warning(s), 0 info\n"
    )


def test_json_report_puts_one_finding_per_line_and_parses_when_empty():
    text = report_json([ERR, WARN], files_checked=1)
    rows = [line for line in text.splitlines() if line.strip().startswith('{"rule"')]
    assert len(rows) == 2
    assert json.loads(rows[0].rstrip(","))["rule"] == "PV019"
    assert json.loads(report_json([], files_checked=0))["findings"] == []
    assert json.loads(report_json([Finding("MZ1", Severity.INFO, "读我.md", 1, "中文")], 1))[
        "findings"][0]["path"] == "读我.md"
