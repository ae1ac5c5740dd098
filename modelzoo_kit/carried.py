"""README text the typed fields do not hold, carried in deliverable.yaml by the section it sits in.

A legacy README says more than the template's fields: notes between commands, parameter lists,
results tables, FAQ, whole sub-sections the template does not name. ``extract`` keeps every
block of it whose lines the rendered draft does not already show, as markdown under
``readme_text``, keyed by the heading of the section it was in (the nearest one the rendered
README has); ``render`` puts it back at the end of that section, in the original order. Nothing
the author wrote is dropped, and a block is carried once, so extract -> render -> extract gives
the same file.

What "a line survives" means is one function, :func:`line_key` (the line with its markup
stripped), shared with ``bench/bench_migration.py``, which measures it.
"""

from __future__ import annotations

import re
import textwrap

from modelzoo_kit.display import escape_controls
from modelzoo_kit.readme import (
    ReadmeDocument,
    normalise_section_title,
    parse_field_line,
    parse_readme,
)

#: How a rendered draft's banner starts (``render.DRAFT_BANNER``), in either language.
DRAFT_MARK = ("> **草稿（Draft）**", "> **Draft**")

#: readme_text key of the text before the first heading the rendered README has.
TOP = "#"

_HTML_TAG = re.compile(r"<[^>]*>")
_LIST_MARK = re.compile(r"^\s*(?:[-+*]|\d{1,3}[.)、])\s+")
_MARKUP = re.compile(r"[\s*_`#>|\\~\[\]()\-:：.。,，;；]+")
_FENCE = re.compile(r"^\s*(`{3,}(?=[^`]*$)|~{3,})")


def line_key(line: str) -> str:
    """A line as text, markup stripped (bullets, numbering, emphasis, tags, table bars,
    punctuation, spaces): two lines that read the same have the same key. Empty for a line
    that is only markup (a fence, a table rule). A basic-information field line
    (``**模型大小（Size）：465M**``) is its field: deliverable.yaml holds its value, normalised,
    and the README shows it once, under the template's label."""
    if "*" in line and ("：" in line or ":" in line):
        field = parse_field_line(line)
        if field is not None:  # a basic-information field: its typed value is what counts
            return f"field:{field[0]}"
    text = _LIST_MARK.sub("", _HTML_TAG.sub("", line))
    return _MARKUP.sub("", text).lower()


def heading_key(title: str) -> str:
    return normalise_section_title(title).lower()


def _blocks(lines: list[str], start: int, end: int) -> list[tuple[int, int]]:
    """(first, last) line indices of the blank-line separated blocks of ``lines[start:end]``;
    a fenced code block is one block, blank lines and all."""
    blocks: list[tuple[int, int]] = []
    index = start
    while index < end:
        if not lines[index].strip():
            index += 1
            continue
        first = index
        fence: str | None = None
        while index < end and (fence is not None or lines[index].strip()):
            match = _FENCE.match(lines[index])
            if match and (fence is None or match.group(1).startswith(fence)):
                fence = match.group(1)[0] * len(match.group(1)) if fence is None else None
            index += 1
        blocks.append((first, index - 1))
    return blocks


#: Most bytes of README text one deliverable.yaml carries: the file must stay under the 1 MB
#: a deliverable.yaml may have (a 3,000-level nested list is megabytes of indentation).
MAX_CARRIED_BYTES = 256_000


def _closed(text: str) -> str:
    """``text`` with a code fence it leaves open closed, so that, carried to the end of a
    section, it does not swallow the README after it; runs of blank lines made one, as render
    writes them."""
    fence: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match and (fence is None or match.group(1).startswith(fence)):
            fence = match.group(1) if fence is None else None
    text = re.sub(r"\n{3,}", "\n\n", text.rstrip("\n"))
    return f"{text}\n{fence}" if fence is not None else text


def unrendered_text(
    document: ReadmeDocument, rendered: str
) -> tuple[dict[str, str], list[int]]:
    """The blocks of ``document`` with a line ``rendered`` does not show, as markdown by the
    heading key of the section they go at the end of, in document order; and the first lines
    of the blocks left out because they would pass :data:`MAX_CARRIED_BYTES`."""
    budget = MAX_CARRIED_BYTES
    left_out: list[int] = []
    shown = {line_key(line) for line in rendered.splitlines()}
    sections = parse_readme(rendered).sections
    # The title is no section to end: what follows it, up to the next heading, is TOP's.
    known = {heading_key(s.title) for s in sections if s.line > 1 or s.level > 1}
    headings = {s.line - 1: heading_key(s.title) for s in document.sections}
    lines = document.lines
    carried: dict[str, list[str]] = {}
    key = TOP
    for first, last in _blocks(lines, 0, len(lines)):
        for index in range(first, last + 1):
            if headings.get(index) in known:
                key = headings[index]
        body = lines[first : last + 1]
        if body[0].startswith(DRAFT_MARK):
            continue  # a rendered draft's banner: render's own, written again from the yaml
        if any(line_key(line) and line_key(line) not in shown for line in body):
            # Control characters (an ESC in a pasted log) written as their escapes: a
            # deliverable.yaml value holds none, and the README shows them as text.
            text = escape_controls(
                _closed(textwrap.dedent("\n".join(line.rstrip() for line in body)))
            )
            budget -= len(text.encode("utf-8"))
            if budget < 0:
                left_out.append(first + 1)
                continue
            carried.setdefault(key, []).append(text)
    # Keys in the rendered README's order, which does not depend on where the blocks came from:
    # extracting the rendered README again gives the same mapping.
    order = [TOP] + [heading_key(s.title) for s in sections]
    keys = sorted(carried, key=lambda k: order.index(k) if k in order else len(order))
    return {k: "\n\n".join(carried[k]) for k in keys}, left_out


#: How ``render`` brackets each section's ``readme_text`` in the README (HTML comments: a reader
#: sees nothing). ``extract`` reads no typed value out of a bracketed region, and carries it
#: again as it is: text a first extraction copied (a second paper label, a feature or results
#: table written differently) can then never become a typed value on the next one.
CARRIED_BEGIN = "<!-- modelzoo:readme_text -->"
CARRIED_END = "<!-- modelzoo:readme_text-end -->"


def bracketed(carried: dict[str, str]) -> dict[str, str]:
    """Each section's carried markdown between :data:`CARRIED_BEGIN` and :data:`CARRIED_END`."""
    return {k: "\n\n".join((CARRIED_BEGIN, v.strip("\n"), CARRIED_END)) for k, v in carried.items()}


def typed_and_carried(text: str) -> tuple[str, str] | None:
    """A rendered README -> (the README without its bracketed carried regions, the README with
    only the bracket lines taken out), each with the original's line numbers (what is taken out
    becomes blank lines); None when the README has no bracketed region."""
    if CARRIED_BEGIN not in text:
        return None
    typed: list[str] = []
    full: list[str] = []
    inside = False
    for line in text.split("\n"):
        mark = line.strip()
        if mark == CARRIED_BEGIN or (inside and mark == CARRIED_END):
            inside = mark == CARRIED_BEGIN
            typed.append("")
            full.append("")
            continue
        typed.append("" if inside else line)
        full.append(line)
    return "\n".join(typed), "\n".join(full)


def place(text: str, carried: dict[str, str], keys: list[str] | None = None) -> str:
    """``text`` with each carried block at the end of its section (before the next heading).

    ``keys`` are the heading keys of ``text``'s sections as the carried keys name them (the
    Chinese README's, when ``text`` is its English translation with the same headings);
    default: ``text``'s own. A key no heading has goes at the end."""
    if not carried:
        return text
    sections = parse_readme(text).sections
    own = [heading_key(s.title) for s in sections]
    names = keys if keys is not None and len(keys) == len(own) else own
    lines = text.rstrip("\n").split("\n")
    title_end = 1 if lines and lines[0].startswith("# ") else 0
    inserts: dict[int, list[str]] = {}
    for key, markdown in carried.items():
        if key == TOP:
            at = sections[0].line - 1 if sections and sections[0].line > 1 else title_end
            if sections and sections[0].line == 1 and len(sections) > 1:
                at = sections[1].line - 1
        elif key in names:
            index = names.index(key)
            at = sections[index + 1].line - 1 if index + 1 < len(sections) else len(lines)
        else:
            at = len(lines)
        inserts.setdefault(at, []).append(markdown.strip("\n"))
    out: list[str] = []
    skip_blank = False
    for index in range(len(lines) + 1):
        for markdown in inserts.get(index, []):
            while out and not out[-1].strip():
                out.pop()
            out += ["", markdown, ""]
            skip_blank = True
        if index < len(lines):
            if skip_blank and not lines[index].strip():
                continue
            skip_blank = False
            out.append(lines[index])
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n"


#: Hand-written text in a rendered README that ``render`` keeps byte for byte.
KEEP_BEGIN = "<!-- modelzoo:keep -->"
KEEP_END = "<!-- modelzoo:end -->"


def kept_regions(text: str) -> dict[str, str]:
    """The ``<!-- modelzoo:keep -->`` … ``<!-- modelzoo:end -->`` regions of a README (markers
    included, bytes as they are), by the heading key of the section each is in. An unclosed
    region runs to the end."""
    regions: dict[str, list[str]] = {}
    headings = {s.line - 1: heading_key(s.title) for s in parse_readme(text).sections}
    lines = text.split("\n")
    key, index = TOP, 0
    while index < len(lines):
        key = headings.get(index, key)
        if lines[index].strip() != KEEP_BEGIN:
            index += 1
            continue
        first = index
        while index < len(lines) and (index == first or lines[index].strip() != KEEP_END):
            index += 1
        regions.setdefault(key, []).append("\n".join(lines[first : index + 1]).rstrip("\n"))
        index += 1
    return {k: "\n\n".join(v) for k, v in regions.items()}
