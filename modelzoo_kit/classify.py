"""What a README in a zoo is, decided from its structure: its headings and its labelled blocks,
never a word of its prose.

A zoo walk meets four kinds of README:

- ``training``: a training deliverable that follows a known layout (:mod:`modelzoo_kit.layouts`):
  at least :data:`MIN_SECTIONS` of the layout's top sections are headings, or (the template)
  its basic-information block has at least :data:`MIN_FIELDS` labelled fields;
- ``training-unknown``: a folder with training scripts (``test/train_*.sh``) whose README follows
  no known layout;
- ``training-no-readme``: (the walk only) a folder with training scripts and no README;
- ``inference``: a README whose headings are an inference guide (推理, ``inference``);
- ``other``: an index, upstream or tool README.

Only headings are read here (a fence-aware line scan), so classifying a whole zoo costs a
fraction of parsing it; the full parse runs only for the deliverables that are checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelzoo_kit.layouts import LAYOUTS, Layout, SectionSpec
from modelzoo_kit.readme import (
    _FIELD_HINT,
    FIELD_LABELS,
    clean_heading_title,
    normalise_section_title,
    parse_field_line,
)

#: The longest label _FIELD_HINT knows: a label starting within 60 characters ends before this.
_LONGEST_LABEL = max(
    len(label) for zh, ens in FIELD_LABELS.values() for label in (zh, *ens)
)

#: Top sections of a layout a README must have as headings to be taken for that layout.
MIN_SECTIONS = 3
#: Distinct basic-information fields that mark a template README without usable headings.
MIN_FIELDS = 4

KINDS = ("training", "training-unknown", "training-no-readme", "inference", "other")

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]*(.+?)[ \t]*$")
_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.IGNORECASE)
_BOLD_LINE = re.compile(r"^\s*\*\*([^*]{1,30})\*\*\s*$")
# A fence inside a list item is indented as deep as the item: any indent counts.
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_INFERENCE = re.compile(r"推理|inference|\batc\b|离线|\bom\b", re.IGNORECASE)


@dataclass(frozen=True)
class Heading:
    level: int
    title: str


@dataclass(frozen=True)
class Classification:
    """``kind`` is one of :data:`KINDS`; ``layout`` the layout name for ``training``;
    ``evidence`` says in a few words what decided it."""

    kind: str
    layout: str | None
    evidence: str

    @property
    def label(self) -> str:
        if self.kind == "training":
            return f"training ({self.layout or self.evidence})"
        return self.kind


#: Lines that may open a heading or a fence: the scan looks at these alone.
_CANDIDATE = re.compile(
    r"^(?:[ \t]{0,3}(?:#|<[hH][1-6]|\*\*)|[ \t]*(?:`{3}|~{3})).*$", re.MULTILINE
)


def outline(text: str) -> list[Heading]:
    """The headings of a README (markdown ``#``, ``#`` without a space, HTML ``<hN>``, and
    bold-only lines) outside fenced code blocks."""
    headings: list[Heading] = []
    fence = ""
    for candidate in _CANDIDATE.finditer(text):
        line = candidate.group(0)
        stripped = line.lstrip()
        first = stripped[0]
        if fence:
            if first == fence[0] and stripped.startswith(fence):
                fence = ""
            continue
        if first in "`~":
            match = _FENCE.match(line)
            # ```code``` on one line is a code span: a backtick fence's info has no backtick.
            if match and not (first == "`" and "`" in line[match.end() :]):
                fence = match.group(1)
            continue
        if first == "#":
            match = _HEADING.match(line)
            if match and not match.group(2).startswith("#"):
                title, _ = clean_heading_title(match.group(2))
                headings.append(Heading(len(match.group(1)), title))
        elif first == "<":
            for match in _HTML_HEADING.finditer(line):
                title, _ = clean_heading_title(match.group(2))
                headings.append(Heading(int(match.group(1)), title))
        else:
            match = _BOLD_LINE.match(line)
            if match:
                headings.append(Heading(7, match.group(1).strip()))
    return headings


def _key(title: str) -> str:
    name = normalise_section_title(title)
    name = re.sub(r"[【\[][^】\]]*[】\]]\s*$", "", name).strip()
    return name.rstrip("。.").lower()


def layout_score(headings: list[Heading], layout: Layout) -> int:
    """How many of the layout's required top sections the headings have."""
    return _score({_key(h.title) for h in headings}, layout)


def _score(keys: set[str], layout: Layout) -> int:
    return sum(1 for spec in layout.required if _matches(spec, keys))


def _matches(spec: SectionSpec, keys: set[str]) -> bool:
    return any(alias in keys for alias in spec.aliases)


def field_count(text: str) -> int:
    """Distinct basic-information fields written as labelled lines
    (``**发布者（Publisher）：x**``), in the first 30,000 characters.

    Only short lines with a colon can be such a line, and their label starts within 60
    characters: the label search runs over those beginnings alone (over the whole text, an
    alternation of every label, case-insensitive, was a third of a zoo walk)."""
    found: set[str] = set()
    for line in text[:30000].splitlines():
        if len(line) >= 300 or ("：" not in line and ":" not in line):
            continue
        match = _FIELD_HINT.search(line, 0, 60 + _LONGEST_LABEL)
        if match is None or match.start() > 60:
            continue
        parsed = parse_field_line(line)
        if parsed is not None:
            found.add(parsed[0])
    return len(found)


def classify(text: str, has_training_scripts: bool, layout: str | None = None) -> Classification:
    """Classify one README. ``has_training_scripts``: its folder holds ``test/train_*.sh``.
    ``layout`` forces that layout for any README that is not clearly something else."""
    headings = outline(text)
    keys = {_key(h.title) for h in headings if len(h.title) <= 40}
    if layout is not None:
        forced = LAYOUTS[layout]
        if has_training_scripts or _score(keys, forced) >= 1:
            return Classification("training", forced.name, "layout forced by --layout")
    scores = sorted(
        ((_score(keys, candidate), candidate.name) for candidate in LAYOUTS.values()),
        reverse=True,
    )
    best, name = scores[0]
    if best >= MIN_SECTIONS:
        return Classification("training", name, f"{best} of its sections are headings")
    fields = field_count(text)
    template = next(iter(LAYOUTS.values()))
    if fields >= MIN_FIELDS and template.fields_section is not None:
        return Classification("training", template.name, f"{fields} basic-information fields")
    if has_training_scripts:
        return Classification(
            "training-unknown", None, f"test/train_*.sh but best layout has {best} sections"
        )
    if any(_INFERENCE.search(h.title) for h in headings if h.level <= 3):
        return Classification("inference", None, "inference headings")
    return Classification("other", None, "no layout's sections")


def detect_layout(text: str) -> str | None:
    """The layout a README's structure follows, or None when it follows none."""
    found = classify(text, has_training_scripts=False)
    return found.layout if found.kind == "training" else None
