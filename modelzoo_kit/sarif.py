"""Findings as SARIF 2.1.0, the format code scanning reads (GitHub, Gitee, IDEs), so a
zoo's findings show on the README lines they are about.

``tool.driver.rules`` lists every rule of :data:`~modelzoo_kit.findings.RULES` (id, summary,
default level), and each result names its rule by id and index, its file as a relative uri
and, where the finding has one, its line (and column) as the region. Paths are written as
``validate`` shows them (relative to where it ran), which is what an upload from the
repository's root expects. The output is deterministic: rules by id, results in report order.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from modelzoo_kit import __version__
from modelzoo_kit.findings import RULES, Finding, Severity

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/modelzoo-kit/modelzoo-kit"

#: Finding severity -> SARIF result level.
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(path: str) -> str:
    """A relative uri reference for a path (``\\`` as ``/``, spaces and the like escaped); an
    absolute path as a ``file://`` uri."""
    path = path.replace("\\", "/")
    if path.startswith("/"):
        return "file://" + quote(path, safe="/")
    while path.startswith("./"):
        path = path[2:]
    return quote(path, safe="/")


def sarif_log(findings: list[Finding]) -> dict[str, Any]:
    import modelzoo_kit.provenance  # noqa: F401 - registers the PV rules
    import modelzoo_kit.rules  # noqa: F401 - registers the MZ rules

    ids = sorted(RULES)
    index = {rule_id: number for number, rule_id in enumerate(ids)}
    rules = [
        {
            "id": rule_id,
            "shortDescription": {"text": RULES[rule_id].summary},
            "defaultConfiguration": {"level": LEVELS[RULES[rule_id].severity]},
            "helpUri": f"{INFORMATION_URI}/blob/main/docs/"
            f"{'provenance' if rule_id.startswith('PV') else 'rules'}.md",
        }
        for rule_id in ids
    ]
    results = []
    for finding in sorted(findings, key=Finding.sort_key):
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(finding.path)}}
        if finding.line is not None and finding.line >= 1:
            region: dict[str, int] = {"startLine": finding.line}
            if finding.column is not None and finding.column >= 1:
                region["startColumn"] = finding.column
            if finding.end_line is not None and finding.end_line >= finding.line:
                region["endLine"] = finding.end_line
                if finding.end_column is not None and finding.end_column >= 1:
                    region["endColumn"] = finding.end_column
            location["region"] = region
        text = finding.message + (f" (hint: {finding.hint})" if finding.hint else "")
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": LEVELS[finding.severity],
            "message": {"text": text},
            "locations": [{"physicalLocation": location}],
        }
        if finding.rule in index:
            result["ruleIndex"] = index[finding.rule]
        if finding.baseline == "new":
            # Under --baseline only findings it does not list are reported: SARIF's "new".
            result["baselineState"] = "new"
        if finding.fix:
            result["properties"] = {"fix": finding.fix}
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "modelzoo-kit",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def report_sarif(findings: list[Finding]) -> str:
    return json.dumps(sarif_log(findings), ensure_ascii=False, indent=1) + "\n"
