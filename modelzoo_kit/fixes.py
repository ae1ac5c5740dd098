"""Mechanical fixes for findings, rule by rule: ``validate --fix`` and ``--diff``.

A fix belongs to one rule (:data:`FIXES`, keyed by rule id, each marked safe or unsafe in
docs/rules.md, as ruff marks its fixes). It turns a finding into :class:`Edit` spans inside
single lines of the README, so every byte outside the spans stays as it was: the file is
decoded as strict UTF-8 (BOM and CRLF kept), the spans replaced, and the text written back
atomically (:mod:`modelzoo_kit.writing`). A file that is not UTF-8 is left alone.

A fix is kept only when re-validating the edited text drops its finding and adds none (lines
never move, so findings compare by rule and line); when the file's fixes together fail that,
each is tried alone. So ``--fix`` is idempotent: a second run finds nothing it can fix.

A README rendered from deliverable.yaml is never edited: the value is fixed in the yaml and
the README rendered again (``modelzoo render``); ``--fix`` says so instead.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote

from modelzoo_kit import fieldrules
from modelzoo_kit.classify import detect_layout
from modelzoo_kit.errors import InputFileError
from modelzoo_kit.findings import Finding
from modelzoo_kit.inputs import read_bytes
from modelzoo_kit.layouts import DELIVERABLE_FILE, Layout, get_layout
from modelzoo_kit.readme import MAX_README_BYTES, FieldValue, ReadmeDocument, parse_readme

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Edit:
    """Replace columns ``start``..``end`` (0-based, end exclusive, in characters) of 1-based
    ``line`` with ``text`` (never a line break: lines do not move)."""

    line: int
    start: int
    end: int
    text: str


Planner = Callable[[ReadmeDocument, Finding], list[Edit]]


@dataclass(frozen=True)
class Fix:
    rule: str
    safe: bool
    summary: str
    plan: Planner


#: Rule id -> its fix. docs/rules.md marks each one safe or unsafe (a test checks).
FIXES: dict[str, Fix] = {}


def _fix(rule: str, safe: bool, summary: str) -> Callable[[Planner], Planner]:
    def register(plan: Planner) -> Planner:
        FIXES[rule] = Fix(rule, safe, summary, plan)
        return plan

    return register


# --------------------------------------------------------------------------- field values


def _field_at(document: ReadmeDocument, line: int | None) -> FieldValue | None:
    return next((e for e in document.fields.values() if e.line == line and e.readable), None)


def _value_span(raw: str, value: str) -> tuple[int, int] | None:
    """Where ``value`` is written in its label line: after the label's colon, exactly."""
    colons = [i for i in (raw.find("："), raw.find(":")) if i >= 0]
    if not value or not colons:
        return None
    start = raw.find(value, min(colons) + 1)
    return (start, start + len(value)) if start >= 0 else None


def _correction(check: Callable[[str], object], value: str) -> str | None:
    try:
        check(value)
    except fieldrules.FieldRuleError as exc:
        return exc.correction
    return None


def _replace_value(document: ReadmeDocument, finding: Finding, new: str | None) -> list[Edit]:
    entry = _field_at(document, finding.line)
    if entry is None or not new:
        return []
    span = _value_span(entry.raw, entry.value)
    if span is None or entry.value == new:
        return []
    return [Edit(entry.line, span[0], span[1], new)]


def _value_of(document: ReadmeDocument, finding: Finding) -> str:
    entry = _field_at(document, finding.line)
    return entry.value if entry is not None else ""


@_fix("MZ214", True, "size in the template's units: 3761KB -> 3.7M, 1.3G -> 1331M")
def fix_size(document: ReadmeDocument, finding: Finding) -> list[Edit]:
    value = _value_of(document, finding)
    return _replace_value(document, finding, _correction(fieldrules.check_size, value))


@_fix("MZ211", True, "application domain synonym -> the list value (图像分类 -> Classification)")
def fix_domain(document: ReadmeDocument, finding: Finding) -> list[Edit]:
    value = _value_of(document, finding)
    new = _correction(fieldrules.check_application_domain, value)
    return _replace_value(document, finding, new)


@_fix("MZ217", True, "precision synonym -> FP32 / FP16 / Mixed (混合精度 -> Mixed)")
def fix_precision(document: ReadmeDocument, finding: Finding) -> list[Edit]:
    value = _value_of(document, finding)
    return _replace_value(document, finding, _correction(fieldrules.check_precision, value))


_FRAMEWORK_NAME = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9]*)(?P<rest>[\s_-]*[(（]?\s*[vV]?\d.*)$")


@_fix("MZ215", False, "misspelt framework name -> the closest known one (Pytroch -> PyTorch)")
def fix_framework(document: ReadmeDocument, finding: Finding) -> list[Edit]:
    """Unsafe: the closest name by spelling is a guess (the version is kept as written)."""
    value = _value_of(document, finding)
    match = _FRAMEWORK_NAME.match(value)
    if match is None:
        return []
    known = {name.lower(): name for name in fieldrules.FRAMEWORKS}
    close = difflib.get_close_matches(match.group("name").lower(), list(known), n=1, cutoff=0.75)
    if not close:
        return []
    new = known[close[0]] + match.group("rest")
    return _replace_value(document, finding, new if _correction_ok(new) else None)


def _correction_ok(value: str) -> bool:
    try:
        fieldrules.check_framework(value)
    except fieldrules.FieldRuleError:
        return False
    return True


_LINE_PREFIX = re.compile(r"^(?P<keep>\s*(?:>\s*)*(?:(?:[-*+]|\d{1,3}[.)、])\s+)?)(?:#{1,6}\s*)?")


@_fix("MZ230", False, "label with broken bold or written as a heading -> **label：value**")
def fix_label_markup(document: ReadmeDocument, finding: Finding) -> list[Edit]:
    """Unsafe: where the author meant the bold to end is a guess, and the line is rewritten
    from the value as read (emphasis and escapes inside it are dropped)."""
    entry = _field_at(document, finding.line)
    if entry is None or not entry.value:
        return []
    raw = entry.raw.rstrip()
    colon = "：" if "：" in raw else ":"
    prefix = _LINE_PREFIX.match(raw)
    start = prefix.end("keep") if prefix else 0
    if _value_span(raw, entry.value) is None:
        return []  # the value is on the next line, or escaped: nothing to rebuild from
    return [Edit(entry.line, start, len(raw), f"**{entry.label}{colon}{entry.value}**")]


# --------------------------------------------------------------------------- headings, links

_UNSPACED = re.compile(r"^ {0,3}#{1,6}(?=[^#\s])")


@_fix("MZ103", True, "heading without its space: #概述 -> # 概述")
def fix_heading_space(document: ReadmeDocument, finding: Finding) -> list[Edit]:
    if finding.line is None:
        return []
    match = _UNSPACED.match(document.lines[finding.line - 1])
    return [Edit(finding.line, match.end(), match.end(), " ")] if match else []


@_fix("MZ105", True, "TOC anchors in the template's form over markdown headings -> #slug")
def fix_toc_anchors(document: ReadmeDocument, finding: Finding) -> list[Edit]:
    """The one finding for every ``[概述](#概述.md)`` link whose section is ``## 概述``: each
    such link gets the heading's own anchor. Other MZ105 findings name no heading to link to."""
    from modelzoo_kit.rules import heading_named_by_file_anchor, heading_slug

    if "<h2 id=" not in finding.message:
        return []
    targets = set(document.anchors)
    for section in document.sections:
        targets |= {section.title, heading_slug(section.title)}
    edits: list[Edit] = []
    for link in document.links:
        if not link.target.startswith("#") or link.is_image:
            continue
        anchor = unquote(link.target[1:])
        if anchor in targets or anchor.lower() in targets:
            continue
        heading = heading_named_by_file_anchor(document, anchor)
        if heading is None:
            continue
        edits.extend(_link_target_edits(document, link.line, link.target,
                                        "#" + heading_slug(heading.title)))  # fmt: skip
    return sorted(set(edits), key=lambda e: (e.line, e.start))


def _link_target_edits(document: ReadmeDocument, line: int, target: str, new: str) -> list[Edit]:
    text = document.lines[line - 1]
    needle = f"]({target}"
    edits, at = [], text.find(needle)
    while at >= 0:
        end = at + len(needle)
        if end == len(text) or text[end] in ") \t\"'":
            edits.append(Edit(line, at + 2, end, new))
        at = text.find(needle, end)
    return edits


# --------------------------------------------------------------------------- applying


@dataclass
class FilePlan:
    """One README's fixes: its text before and after, and the findings they fix."""

    path: str
    before: str
    after: str
    fixed: list[Finding]
    edits: list[Edit]

    def diff(self) -> str:
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            f"a/{self.path}",
            f"b/{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                       for line in lines)  # fmt: skip


@dataclass
class FixPlan:
    files: list[FilePlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Why a file with fixable findings was left alone (rendered, not UTF-8)."""

    def by_rule(self) -> dict[str, int]:
        counts = Counter(f.rule for plan in self.files for f in plan.fixed)
        return dict(sorted(counts.items()))


def _split(text: str) -> tuple[str, list[str], list[str]]:
    """(BOM, lines, line ends) of a file's text, as the parser numbers its lines."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    ends = _LINE_END.findall(body)
    return bom, _LINE_END.split(body), ends


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with each edit made in its line; characters outside the spans unchanged."""
    bom, lines, ends = _split(text)
    for edit in sorted(set(edits), key=lambda e: (e.line, e.start), reverse=True):
        line = lines[edit.line - 1]
        lines[edit.line - 1] = line[: edit.start] + edit.text + line[edit.end :]
    return bom + "".join(line + end for line, end in zip(lines, [*ends, ""], strict=True))


def _overlap(edits: list[Edit]) -> bool:
    ordered = sorted(edits, key=lambda e: (e.line, e.start, e.end))
    pairs = zip(ordered, ordered[1:], strict=False)
    return any(a.line == b.line and b.start < a.end for a, b in pairs)


class _Checker:
    """Re-validation of one README's text, as (rule, line) counts: the test every fix passes."""

    def __init__(self, path: Path, shown: str, layout: Layout) -> None:
        self.path, self.shown, self.layout = path, shown, layout

    def document(self, text: str) -> ReadmeDocument:
        return parse_readme(text, str(self.path))

    def keys(
        self, text: str, document: ReadmeDocument | None = None
    ) -> Counter[tuple[str, int | None]]:
        from modelzoo_kit.rules import check_readme

        document = document if document is not None else self.document(text)
        found = check_readme(document, self.path.parent, self.shown, self.layout)
        return Counter((f.rule, f.line) for f in found)


def _passes(
    checker: _Checker, text: str, before: Counter, fixed: list[Finding], edits: list[Edit]
) -> str | None:
    """The edited text when the edits drop every finding in ``fixed`` and add none."""
    if not edits or _overlap(edits):
        return None
    after_text = apply_edits(text, edits)
    after = checker.keys(after_text)
    gone = before - after
    if after - before or Counter((f.rule, f.line) for f in fixed) - gone:
        return None
    return after_text


def _read_utf8(path: Path) -> str | None:
    try:
        data = read_bytes(path, MAX_README_BYTES, within=path.parent, what="README")
        return data.decode("utf-8")
    except (InputFileError, OSError, UnicodeDecodeError):
        return None


def plan_file(
    path: str, findings: list[Finding], layout: str | None, allowed: Callable[[Fix], bool]
) -> FilePlan | str | None:
    """The fixes for one README's findings (a note string when it must be left alone)."""
    source = Path(path)
    if (source.parent / DELIVERABLE_FILE).is_file():
        return (f"{path}: rendered from {DELIVERABLE_FILE}, not edited: fix the value in "
                f"{DELIVERABLE_FILE} and run `modelzoo render {source.parent}`")  # fmt: skip
    text = _read_utf8(source)
    if text is None:
        return f"{path}: not a readable UTF-8 file, not edited"
    chosen = get_layout(layout or detect_layout(text))
    checker = _Checker(source, path, chosen)
    document = checker.document(text)
    before = checker.keys(text, document)
    candidates: list[tuple[Finding, list[Edit]]] = []
    for finding in findings:
        fix = FIXES.get(finding.rule)
        if fix is None or not allowed(fix) or before[(finding.rule, finding.line)] == 0:
            continue
        edits = fix.plan(document, finding)
        if edits:
            candidates.append((finding, edits))
    if not candidates:
        return None
    every = [edit for _, edits in candidates for edit in edits]
    after = _passes(checker, text, before, [f for f, _ in candidates], every)
    if after is not None:
        return FilePlan(path, text, after, [f for f, _ in candidates], every)
    kept: list[tuple[Finding, list[Edit]]] = []
    for finding, edits in candidates:  # one by one: keep each fix that passes with the rest
        trial = [e for _, kept_edits in kept for e in kept_edits] + edits
        if _passes(checker, text, before, [f for f, _ in kept] + [finding], trial) is not None:
            kept.append((finding, edits))
    if not kept:
        return None
    edits = [e for _, kept_edits in kept for e in kept_edits]
    return FilePlan(path, text, apply_edits(text, edits), [f for f, _ in kept], edits)


def plan_fixes(
    findings: Iterable[Finding], layout: str | None = None, unsafe: bool = False
) -> FixPlan:
    """The fixes ``--fix`` would make for ``findings`` (safe ones; ``unsafe`` adds the rest)."""
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.rule in FIXES and finding.path.endswith(".md"):
            by_file.setdefault(finding.path, []).append(finding)
    plan = FixPlan()
    for path in sorted(by_file):
        result = plan_file(path, by_file[path], layout, lambda fix: unsafe or fix.safe)
        if isinstance(result, str):
            plan.notes.append(result)
        elif result is not None:
            plan.files.append(result)
    return plan


def annotate(findings: list[Finding], plan: FixPlan) -> list[Finding]:
    """``findings`` with ``fix`` (safe / unsafe) and the first edit's span on those ``plan``
    fixes, so reports say which ones ``--fix`` would take."""
    spans: dict[int, Edit] = {}
    fixed: set[int] = set()
    for file_plan in plan.files:
        for finding in file_plan.fixed:
            fixed.add(id(finding))
            first = next((e for e in file_plan.edits if e.line == finding.line), None)
            if first is not None:
                spans[id(finding)] = first
    marked = []
    for finding in findings:
        if id(finding) not in fixed:
            marked.append(finding)
            continue
        kind = "safe" if FIXES[finding.rule].safe else "unsafe"
        edit = spans.get(id(finding))
        if edit is None:
            marked.append(replace(finding, fix=kind))
            continue
        marked.append(replace(finding, fix=kind, column=edit.start + 1, end_line=edit.line,
                              end_column=edit.end + 1))  # fmt: skip
    return marked


def write_fixes(plan: FixPlan) -> None:
    from modelzoo_kit.writing import write_atomically

    for file_plan in plan.files:
        write_atomically(Path(file_plan.path), file_plan.after)
