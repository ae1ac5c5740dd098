"""What a check found, and the two ways to report it.

Validation, README rules and provenance all speak :class:`Finding`, so every report, exit code
and JSON shape is written once, here.

JSON report shape (stable; ``"schema": 1`` changes only when a field is removed or renamed)::

    {
      "schema": 1,
      "summary": {"files": 3, "errors": 2, "warnings": 1, "infos": 0,
                  "by_rule": {"MZ101": 1, ...}},
      "findings": [
        {"rule": "MZ101", "severity": "error", "path": "models/x/README.md",
         "line": 12, "column": null, "message": "...", "hint": "..."}
      ]
    }

A finding may add ``end_line`` / ``end_column`` (its span, where a fix knows it), ``fix``
(``"safe"`` / ``"unsafe"``: ``validate --fix`` can fix it) and ``baseline`` (``"new"``: a
baseline is in use and does not list it); they are left out when unknown.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from modelzoo_kit.display import mask_credentials, shown


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Finding:
    """One result of a check. ``rule`` is a stable id (``MZ1xx`` metadata/README, ``PV...``
    provenance) that users can select or ignore; ``hint`` tells them what to do about it."""

    rule: str
    severity: Severity
    path: str
    line: int | None
    message: str
    hint: str = ""
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    """The span ``line:column`` to ``end_line:end_column`` (1-based, end exclusive) the finding
    is about, where a fix knows it; ``column`` alone is a point."""
    fix: str | None = None
    """``"safe"`` or ``"unsafe"`` when ``validate --fix`` can fix it (:mod:`modelzoo_kit.fixes`)."""
    baseline: str | None = None
    """``"new"`` when a baseline is in use and does not list it (:mod:`modelzoo_kit.baseline`)."""

    def __post_init__(self) -> None:
        # Messages quote urls from deliverable.yaml and READMEs: never show their credentials.
        object.__setattr__(self, "message", mask_credentials(self.message))
        object.__setattr__(self, "hint", mask_credentials(self.hint))

    def sort_key(self) -> tuple:
        return (self.path, self.line or 0, self.column or 0, self.severity.rank, self.rule)

    def to_json(self) -> dict:
        # Built by hand: dataclasses.asdict deep-copies, which dominated a 1,000-README report.
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
            # Added only when known, so reports without a fix or baseline stay as they were.
            **{key: value for key, value in self._annotations() if value is not None},
        }

    def _annotations(self) -> tuple[tuple[str, object], ...]:
        return (
            ("end_line", self.end_line),
            ("end_column", self.end_column),
            ("fix", self.fix),
            ("baseline", self.baseline),
        )


@dataclass(frozen=True)
class Rule:
    """A check with a stable id: the severity its findings have, ``also`` the other severities
    some of them may have (PV060 is an error under ``--strict``), and a one-line summary.

    Every rule, validation (``MZ``) and provenance (``PV``), is registered in :data:`RULES`;
    docs/rules.md and docs/provenance.md document them, and a test checks each against it."""

    id: str
    severity: Severity
    summary: str
    also: tuple[Severity, ...] = ()

    def finding(
        self,
        path: str,
        line: int | None,
        message: str,
        hint: str = "",
        column: int | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        chosen = self.severity if severity is None else severity
        if chosen is not self.severity and chosen not in self.also:
            raise ValueError(f"rule {self.id} does not report {chosen.value} findings")
        return Finding(self.id, chosen, path, line, message, hint, column)


#: Rule id -> rule, for every check the kit has. Ids are stable: a rule may be retired, never
#: renumbered.
RULES: dict[str, Rule] = {}


def register_rules(*rules: Rule) -> dict[str, Rule]:
    """Add rules to :data:`RULES` (an id may be registered once) and return them by id."""
    for rule in rules:
        if rule.id in RULES:
            raise ValueError(f"rule {rule.id} is registered twice")
        RULES[rule.id] = rule
    return {rule.id: rule for rule in rules}


def filter_findings(
    findings: Iterable[Finding], select: Iterable[str] = (), ignore: Iterable[str] = ()
) -> list[Finding]:
    """Keep the findings whose rule id starts with a selected prefix and with no ignored one.

    Prefixes let a user select a whole family (``--select PV`` for every provenance rule)."""
    select, ignore = tuple(select), tuple(ignore)
    kept = []
    for finding in findings:
        if select and not finding.rule.startswith(select):
            continue
        if ignore and finding.rule.startswith(ignore):
            continue
        kept.append(finding)
    return kept


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when nothing is an error, 1 otherwise (2 is kept for usage and input errors)."""
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0


def summarize(findings: list[Finding], files_checked: int) -> dict:
    counts = Counter(f.severity.value for f in findings)
    by_rule = Counter(f.rule for f in findings)
    return {
        "files": files_checked,
        "errors": counts.get("error", 0),
        "warnings": counts.get("warning", 0),
        "infos": counts.get("info", 0),
        "by_rule": dict(sorted(by_rule.items())),
    }


def report_json(
    findings: list[Finding], files_checked: int, walk: dict | None = None
) -> str:
    """``walk`` (a zoo walk's classification counts and problems) joins the summary."""
    # One finding per line: readable and diffable, and every json.dumps call stays on the C
    # encoder (``indent`` falls back to the pure-Python one, a tenth of a zoo's validate time).
    ordered = sorted(findings, key=Finding.sort_key)
    summary = json.dumps(
        {**summarize(ordered, files_checked), **(walk or {})}, ensure_ascii=False
    )
    rows = ",\n    ".join(json.dumps(f.to_json(), ensure_ascii=False) for f in ordered)
    body = f"[\n    {rows}\n  ]" if rows else "[]"
    return f'{{\n  "schema": 1,\n  "summary": {summary},\n  "findings": {body}\n}}\n'


_COLOURS = {Severity.ERROR: "\x1b[31m", Severity.WARNING: "\x1b[33m", Severity.INFO: "\x1b[36m"}
_RESET = "\x1b[0m"
_FIX_MARK = {"safe": "  [fix: --fix]", "unsafe": "  [fix: --fix --unsafe-fixes]"}
_BOLD = "\x1b[1m"


def report_text(
    findings: list[Finding], files_checked: int, colour: bool = False, table: bool = False
) -> str:
    """A readable report grouped by file; ``table`` adds per-rule counts (for a whole zoo)."""

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    lines: list[str] = []
    current = None
    for f in sorted(findings, key=Finding.sort_key):
        if f.path != current:
            if current is not None:
                lines.append("")
            lines.append(paint(shown(f.path, one_line=True), _BOLD))
            current = f.path
        where = f"{f.line}" if f.line is not None else "-"
        if f.line is not None and f.column is not None:
            where += f":{f.column}"
        sev = paint(f"{f.severity.value:<7}", _COLOURS[f.severity])
        # Messages quote README lines and metadata values: one line each, controls escaped.
        fixable = _FIX_MARK.get(f.fix or "", "")
        lines.append(
            f"  {where:>6}  {sev} {f.rule}  {shown(f.message, one_line=True)}{fixable}"
        )
        if f.hint:
            lines.append(f"{'':>17}hint: {shown(f.hint, one_line=True)}")
    summary = summarize(findings, files_checked)
    if lines:
        lines.append("")
    if table and summary["by_rule"]:
        lines.append(f"{'rule':<10} {'count':>6}")
        for rule, count in summary["by_rule"].items():
            lines.append(f"{rule:<10} {count:>6}")
        lines.append("")
    lines.append(
        f"{summary['files']} file(s) checked: {summary['errors']} error(s), "
        f"{summary['warnings']} warning(s), {summary['infos']} info"
    )
    return "\n".join(lines) + "\n"
