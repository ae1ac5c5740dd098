"""One registry for every rule id, validation (MZ) and provenance (PV), and the docs of each
checked against it: an id, its severity and its documentation cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelzoo_kit import findings, provenance, rules
from modelzoo_kit.findings import Rule, Severity, register_rules

ROOT = Path(__file__).resolve().parents[1]
_SEVERITY_WORDS = {"info": Severity.INFO, "warn": Severity.WARNING, "warning": Severity.WARNING,
                   "err": Severity.ERROR, "error": Severity.ERROR}  # fmt: skip


def documented(doc: str, prefix: str) -> dict[str, list[Severity]]:
    """Rule id -> the severities its table row names, the usual one first."""
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    rows = re.findall(rf"^\|\s*({prefix}\d{{3}})\s*\|\s*([^|]+?)\s*\|", text, re.M)
    return {
        rule: [_SEVERITY_WORDS[w] for w in re.findall(r"[a-z]+", severity) if w in _SEVERITY_WORDS]
        for rule, severity in rows
    }


def registered(table: dict[str, Rule]) -> dict[str, list[Severity]]:
    return {rule.id: [rule.severity, *rule.also] for rule in table.values()}


def test_validation_and_provenance_rules_share_one_registry() -> None:
    assert set(findings.RULES) == set(rules.RULES) | set(provenance.PROVENANCE_RULES)
    assert not set(rules.RULES) & set(provenance.PROVENANCE_RULES)
    assert all(rule_id.startswith("MZ") for rule_id in rules.RULES)
    assert all(rule_id.startswith("PV") for rule_id in provenance.PROVENANCE_RULES)


@pytest.mark.parametrize(
    ("doc", "prefix", "table"),
    [("rules.md", "MZ", rules.RULES), ("provenance.md", "PV", provenance.PROVENANCE_RULES)],
)
def test_the_docs_give_every_rule_and_its_severities(
    doc: str, prefix: str, table: dict[str, Rule]
) -> None:
    assert documented(doc, prefix) == registered(table)


def test_every_provenance_id_the_checker_reports_is_registered_and_used() -> None:
    source = (ROOT / "modelzoo_kit" / "provenance.py").read_text(encoding="utf-8")
    reported = set(re.findall(r"\.add\(\s*\"(PV\d{3})\"", source))
    assert reported == set(provenance.PROVENANCE_RULES)
    assert not re.search(r"\.add\(\s*\"PV\d{3}\",\s*Severity\.", source)  # from the registry


def test_a_rule_reports_only_its_own_severities() -> None:
    pv060 = provenance.PROVENANCE_RULES["PV060"]
    assert pv060.finding("d.yaml", 3, "not verified").severity is Severity.WARNING
    assert pv060.finding("d.yaml", 3, "x", severity=Severity.ERROR).severity is Severity.ERROR
    with pytest.raises(ValueError, match="PV060 does not report info"):
        pv060.finding("d.yaml", 3, "x", severity=Severity.INFO)


def test_an_id_is_registered_once() -> None:
    with pytest.raises(ValueError, match="MZ101 is registered twice"):
        register_rules(Rule("MZ101", Severity.ERROR, "again"))
