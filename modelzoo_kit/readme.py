"""README text -> section tree, basic-information fields and reference blocks. No rules.

Hand-written deliverable READMEs vary a lot: labels in bold or not, full- or half-width colons
and parentheses, escaped underscores, a Chinese label, an English one or both, values on the next
line, template sections written as ``<h2 id="概述.md">`` HTML, ``url=`` blocks with or without
spaces and fences, CRLF line endings and BOMs. This module reads all of them into plain data that
:mod:`modelzoo_kit.rules` judges and :mod:`modelzoo_kit.extract` turns into metadata.

markdown-it-py finds the block structure (headings, fences, HTML blocks, paragraphs). Its inline
pass runs only on the blocks that may hold a link (``](``, ``<img``), which is where every link
and image the rules check comes from; over the whole document it would double the parse time.
The few lines that need inline cleaning (headings, field labels) are cleaned by
:func:`plain_text`, which follows the conventions a careful human reader uses (emphasis and
escapes removed, underscores inside values kept).
"""

from __future__ import annotations

import codecs
import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from modelzoo_kit import inputs
from modelzoo_kit.errors import InputFileError, InputProblem
from modelzoo_kit.layouts import TEMPLATE

# --------------------------------------------------------------------------- data


@dataclass
class Section:
    """A heading and the lines it owns (``line``..``end_line``, 1-based, inclusive).

    ``kind`` says how the heading was written: ``markdown`` (``## x``), ``html``
    (``<h2 id="x.md">x</h2>``), ``unspaced`` (``##x``, which markdown renders as text) or
    ``bold`` (a paragraph that is only a bold template section name)."""

    level: int
    title: str
    line: int
    end_line: int
    kind: str = "markdown"
    anchor: str | None = None
    children: list[Section] = field(default_factory=list)

    def walk(self) -> Iterator[Section]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class FieldValue:
    """One basic-information field as the README writes it.

    ``value`` follows the reading conventions (emphasis and backslash escapes removed, whitespace
    trimmed); ``raw`` is the source line. ``quirks`` lists how the writing departs from the
    template's form (stray markup, a label written as a heading, a value on the next line...)."""

    name: str
    label: str
    value: str
    raw: str
    line: int
    quirks: tuple[str, ...] = ()
    readable: bool = True


@dataclass(frozen=True)
class LocatedValue:
    """A value and its 1-based source line; ``note`` says what reading it had to change."""

    value: str
    line: int
    note: str = ""


@dataclass
class ReferenceBlock:
    """A 参考实现 (``role="reference"``) or 适配昇腾 AI 处理器的实现 (``role="adapted"``) entry.

    ``keys`` holds ``url``/``branch``/``commit_id``/``code_path`` written as ``key=value``;
    ``urls`` every other address in the entry (bare, or a markdown link target)."""

    role: str
    label: str
    line: int
    end_line: int
    keys: dict[str, LocatedValue] = field(default_factory=dict)
    urls: list[LocatedValue] = field(default_factory=list)

    @property
    def url(self) -> LocatedValue | None:
        if "url" in self.keys:
            return self.keys["url"]
        code_hosts = [u for u in self.urls if _CODE_HOST.search(u.value)]
        candidates = code_hosts or self.urls
        return candidates[0] if candidates else None

    @property
    def is_empty(self) -> bool:
        return not self.keys and not self.urls


@dataclass(frozen=True)
class Link:
    text: str
    target: str
    line: int
    is_image: bool


@dataclass(frozen=True)
class TableRow:
    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A markdown pipe table: header cells and body rows, as plain text (1-based lines)."""

    line: int
    header: tuple[str, ...]
    rows: tuple[TableRow, ...]

    def column(self, *names: str) -> int | None:
        """Index of the first header cell whose lower-cased text is one of ``names``."""
        wanted = {n.lower() for n in names}
        return next((i for i, h in enumerate(self.header) if h.lower() in wanted), None)


@dataclass(frozen=True)
class Fence:
    """A fenced code block: its opening and last line (1-based), and whether a closing fence
    ends it (one that is never closed runs to the end of its list item, quote or file)."""

    line: int
    end_line: int
    closed: bool


@dataclass
class ReadmeDocument:
    """Everything the rules and the importer need to know about one README."""

    path: str
    text: str
    lines: list[str]
    sections: list[Section]
    """Every heading, in document order (a flat view of :attr:`tree`)."""
    tree: list[Section]
    fields: dict[str, FieldValue]
    references: list[ReferenceBlock]
    links: list[Link]
    anchors: set[str]
    scripts: list[LocatedValue]
    prose_lines: list[int]
    """0-based indexes of lines outside code blocks and HTML blocks."""
    readable_lines: list[int]
    """``prose_lines`` plus indented code blocks, which in these READMEs are nearly always
    mis-indented list items a reader still reads as text."""
    encoding_problems: list[int] = field(default_factory=list)
    """1-based lines with bytes that are not UTF-8 or with U+FFFD replacement characters."""
    title: LocatedValue | None = None
    basic_section: Section | None = None
    tables: list[Table] = field(default_factory=list)
    repeated_fields: dict[str, list[int]] = field(default_factory=dict)
    """Field name -> 1-based lines of every occurrence, for a field the README writes more
    than once (a second, forged ``**发布者（Publisher）：…**`` line)."""
    stray_link_text: list[LocatedValue] = field(default_factory=list)
    """Text that markdown shows as it is although it looks like a link: a ``](`` without its
    ``[`` (``模型来源：Github](https://…)``)."""
    fences: list[Fence] = field(default_factory=list)

    def reference(self, role: str) -> ReferenceBlock | None:
        return next((r for r in self.references if r.role == role), None)

    def links_on_line(self, line: int) -> list[Link]:
        """The links a reader sees on a 1-based line. Lines of an indented code block count
        too: in these READMEs it is nearly always a mis-indented list item."""
        return links_on_line(self.lines, self.links, self.readable_lines, self.prose_lines, line)

    def lines_matching(self, pattern: re.Pattern[str], within: int = 0) -> list[int]:
        """0-based indexes of the readable lines where ``pattern`` matches (in the first
        ``within`` characters of the line when given)."""
        return lines_matching(self.lines, self.readable_lines, pattern, within)


# --------------------------------------------------------------------------- labels

#: Field name (as in deliverable.yaml's ``basic``) -> (Chinese label, English labels).
FIELD_LABELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "publisher": ("发布者", ("publisher",)),
    "application_domain": ("应用领域", ("application domain",)),
    "version": ("版本", ("version",)),
    "modified": ("修改时间", ("modified",)),
    "size": ("大小", ("size",)),
    "framework": ("框架", ("framework",)),
    "model_format": ("模型格式", ("model format",)),
    "precision": ("精度", ("precision",)),
    "processor": ("处理器", ("processor",)),
    "category": ("应用级别", ("categories", "category")),
    "description": ("描述", ("description",)),
}

#: How the template writes each label, for messages and hints.
TEMPLATE_LABELS: dict[str, str] = {
    name: f"{zh}（{'Categories' if name == 'category' else en[0].title()}）"
    for name, (zh, en) in FIELD_LABELS.items()
}

_ZH_TO_FIELD = {zh: name for name, (zh, _) in FIELD_LABELS.items()}
_EN_TO_FIELD = {en: name for name, (_, ens) in FIELD_LABELS.items() for en in ens}

#: Labels that introduce the reference implementation, and the adaptation to Ascend.
REFERENCE_LABELS: dict[str, str] = {
    "参考实现": "reference",
    "模型来源": "reference",
    "开源代码路径": "reference",
    "参考论文及源代码地址": "reference",
    "module source": "reference",
    "reference implementation": "reference",
    "适配昇腾ai处理器的实现": "adapted",
    "ascend adaptation": "adapted",
    "implementation adapted to the ascend ai processor": "adapted",
    "推理实现": "inference",
    "推理代码": "inference",
    "inference implementation": "inference",
    "inference code": "inference",
}

_CODE_HOST = re.compile(r"://(?:www\.)?(?:github\.com|gitee\.com|gitlab\.|bitbucket\.org)")

# --------------------------------------------------------------------------- inline cleaning

_ESCAPABLE = "\\`*_{}[]()#+-.!<>|~\"'"
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~\"'])")
_PROTECT_BASE = 0xE000  # private-use code points stand in for escaped characters
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_LINK = re.compile(r"(!?)\[([^\[\]]*)\]\(\s*<?([^()\s<>]*(?:\([^()\s]*\)[^()\s<>]*)*)>?[^()]*\)")
_DOUBLE_MARK = re.compile(r"\*{2,}|_{2,}")
_SPACES = "\u00a0\u3000\ufeff \t"


def _protect(match: re.Match[str]) -> str:
    return chr(_PROTECT_BASE + _ESCAPABLE.index(match.group(1)))


def _unprotect(text: str) -> str:
    if not any(_PROTECT_BASE <= ord(c) < _PROTECT_BASE + len(_ESCAPABLE) for c in text):
        return text
    return "".join(
        _ESCAPABLE[ord(c) - _PROTECT_BASE]
        if _PROTECT_BASE <= ord(c) < _PROTECT_BASE + len(_ESCAPABLE)
        else c
        for c in text
    )


def _is_word(char: str) -> bool:
    return char.isalnum()


def _drop_single_marks(text: str, mark: str) -> str:
    """Drop ``_``/``*`` used as emphasis; keep one that sits inside a word (``TensorFlow_1.15``)."""
    if mark not in text:
        return text
    out = []
    for i, char in enumerate(text):
        if char == mark:
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if before and after and _is_word(before) and _is_word(after):
                out.append(char)
            continue
        out.append(char)
    return "".join(out)


def plain_text(text: str, keep_links: bool = False) -> str:
    """Inline markdown -> the text a reader sees: emphasis, HTML tags and backslash escapes
    removed, links reduced to their text, underscores inside words kept, whitespace trimmed."""
    escaped = "\\" in text
    value = _ESCAPE.sub(_protect, text) if escaped else text
    if "<" in value:
        value = _HTML_TAG.sub("", value)
    if not keep_links and "](" in value:
        value = _LINK.sub(lambda m: m.group(2), value)
    if "*" in value or "_" in value:
        value = _DOUBLE_MARK.sub("", value)
        value = _drop_single_marks(value, "_")
        value = _drop_single_marks(value, "*")
    return (_unprotect(value) if escaped else value).strip(_SPACES)


# --------------------------------------------------------------------------- decoding


#: READMEs above this size are refused with one clear error instead of being parsed for tens
#: of seconds (and before they are read: :mod:`modelzoo_kit.inputs`).
MAX_README_BYTES = inputs.MAX_README_BYTES


def decode_readme(data: bytes, path: str = "<input>") -> tuple[str, list[int]]:
    """Bytes -> text with ``\\n`` line ends, and the 1-based lines that are not valid UTF-8.

    A UTF-8 or UTF-16 BOM is honoured and dropped. Binary files (NUL bytes, or mostly control
    characters) raise :class:`InputFileError`: they are not READMEs and no finding would help."""
    if len(data) > MAX_README_BYTES:
        size = f"{len(data) / 1024**2:.1f} MB"
        limit = f"{MAX_README_BYTES // 1024**2} MB"
        raise InputFileError(
            [
                InputProblem(
                    Path(path), None, None, "", f"is {size}, over the {limit} a README may be"
                )
            ]
        )
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    if encoding == "utf-8" and _looks_binary(data):
        raise InputFileError(
            [InputProblem(Path(path), None, None, "", "is a binary file, not a markdown README")]
        )
    try:
        text = data.decode(encoding)
        bad_lines: list[int] = []
    except UnicodeDecodeError:
        text = data.decode(encoding, errors="replace")
        bad_lines = []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\ufffd" in text:
        bad_lines = [i + 1 for i, line in enumerate(text.split("\n")) if "\ufffd" in line]
    return text, bad_lines


_NOT_CONTROL = bytes(range(32, 256)) + b"\t\n\f\r\x1b"


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    if not sample:
        return False
    control = len(sample.translate(None, _NOT_CONTROL))
    return control / len(sample) > 0.1


def read_readme(path: str | Path) -> ReadmeDocument:
    """Read and parse a README file; unreadable files raise :class:`InputFileError`."""
    source = Path(path)
    data = inputs.read_bytes(source, MAX_README_BYTES, within=source.parent, what="README")
    text, bad_lines = decode_readme(data, str(source))
    document = parse_readme(text, str(source))
    document.encoding_problems = bad_lines
    return document


# --------------------------------------------------------------------------- parsing


def _block_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": 50})
    md.disable(["inline", "reference"])  # link definitions mean nothing to the rules
    md.enable("table")
    return md


_MD = _block_parser()

_HTML_HEADING = re.compile(
    r"<h(?P<level>[1-6])\b(?P<attrs>[^>]*)>(?P<title>.*?)</h(?P=level)\s*>",
    re.IGNORECASE | re.DOTALL,
)
_ID_ATTR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_ANCHOR_TAG = re.compile(r"""<a\s[^>]*?\b(?:name|id)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_UNSPACED_HEADING = re.compile(r"^ {0,3}(#{1,6})([^#\s!].{0,80})$")
_BOLD_LINE = re.compile(r"^\s*(\*\*|__)(?P<title>[^*_]{1,30}?)\1\s*$")
_TRAILING_HASHES = re.compile(r"\s+#+\s*$")
_ATTR_ANCHOR = re.compile(r"\s*\{#([^}]+)\}\s*$")
_LIST_MARKER = re.compile(r"^\s*(?:>\s*)*(?:[-*+]|\d{1,3}[.)、])\s+")
_HEADING_MARKER = re.compile(r"^\s{0,3}#{1,6}\s*")
_LABEL_SPLIT = re.compile(r"^(?P<label>[^:：]{1,60}?)\s*[:：]\s*(?P<value>.*)$")
_LABEL_PARTS = re.compile(r"^(?P<a>[^（(）)]+?)\s*(?:[（(]\s*(?P<b>[^（(）)]*?)\s*[)）])?$")
_KEY_VALUE = re.compile(
    r"^[\s>*_`-]*(?P<key>url|branch|commit[ _]?id|code[ _]?path)\s*[=:：]\s*(?P<value>\S*)",
    re.IGNORECASE,
)
_URL_IN_TEXT = re.compile(r"https?://[^\s)\]>\"'`，。；、）]+")
_IMG_TAG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_SCRIPT = re.compile(
    r"(?:^|[\s;&|(`])(?:bash|sh|source|python3?|\.)\s+(?:-\S+\s+)*(?:\./)?"
    r"(?P<path>[\w][\w.\-/]*\.(?:sh|py))\b"
)

#: The template's top-level section titles (lower-cased), for recognising bold pseudo-headings.
TOP_SECTION_NAMES = frozenset(alias for spec in TEMPLATE.sections for alias in spec.aliases)


def clean_heading_title(text: str) -> tuple[str, str | None]:
    """Heading source -> (plain title, explicit anchor or None)."""
    anchor_match = _ANCHOR_TAG.search(text)
    anchor = anchor_match.group(1) if anchor_match else None
    attr = _ATTR_ANCHOR.search(text)
    if attr:
        anchor = anchor or attr.group(1)
        text = text[: attr.start()]
    text = _TRAILING_HASHES.sub("", text)
    return plain_text(text), anchor


def parse_readme(text: str, path: str = "<input>") -> ReadmeDocument:
    """Parse README text (already decoded) into a :class:`ReadmeDocument`."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    tokens = _MD.parse(text)

    code_lines = bytearray(len(lines) + 1)  # 1 = fence, 2 = HTML, 3 = indented code
    sections: list[Section] = []
    paragraph_starts: list[tuple[int, int]] = []
    heading_lines: set[int] = set()
    tables: list[Table] = []
    fences: list[Fence] = []
    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        if token.type == "table_open":
            tables.append(_read_table(tokens, i))
        elif token.type == "fence":
            code_lines[start:end] = b"\x01" * (end - start)
            fences.append(Fence(start + 1, end, _fence_is_closed(lines, token.markup, start, end)))
        elif token.type == "code_block":
            code_lines[start:end] = b"\x03" * (end - start)
            _mark_indented_fences(lines, code_lines, start, end)
        elif token.type == "html_block":
            for index in range(start, min(end, len(lines))):
                if lines[index].lstrip().startswith("<"):
                    code_lines[index] = 2
            sections.extend(_html_headings(token.content, start))
        elif token.type == "heading_open":
            title, anchor = clean_heading_title(tokens[i + 1].content)
            sections.append(Section(int(token.tag[1]), title, start + 1, 0, "markdown", anchor))
            heading_lines.add(start)
        elif token.type == "paragraph_open":
            paragraph_starts.append((start, end))

    has_headings = bool(sections)
    for start, end in paragraph_starts:
        for index in range(start, min(end, len(lines))):
            line = lines[index]
            match = _UNSPACED_HEADING.match(line)
            if match and len(plain_text(match.group(2))) <= 24:
                title, anchor = clean_heading_title(match.group(2))
                sections.append(
                    Section(len(match.group(1)), title, index + 1, 0, "unspaced", anchor)
                )
                heading_lines.add(index)
        if not has_headings and start < len(lines):
            # Only a README without any heading marks its sections with bold paragraphs.
            bold = _BOLD_LINE.match(lines[start])
            title = plain_text(bold.group("title")) if bold else ""
            if title and title.rstrip("：:").lower() in TOP_SECTION_NAMES:
                sections.append(Section(2, title, start + 1, 0, "bold"))

    sections.sort(key=lambda s: s.line)
    tree = _build_tree(sections, len(lines))
    prose = [i for i in range(len(lines)) if not code_lines[i]]
    readable = [i for i in range(len(lines)) if code_lines[i] in (0, 3)]
    anchors = {s.anchor for s in sections if s.anchor}
    for match in _ANCHOR_TAG.finditer(text):
        anchors.add(match.group(1))

    basic = next((s for s in sections if _is_basic_title(s.title)), None)
    labelled = [i for i in readable if "：" in lines[i] or ":" in lines[i] or "\ufffd" in lines[i]]
    field_lines = lines_matching(lines, labelled, _FIELD_HINT, 200)
    fields, occurrences = _read_fields(
        lines, readable, field_lines, heading_lines, basic, sections
    )
    links, stray_link_text = _read_links(tokens)
    reference_lines = lines_matching(lines, readable, _REFERENCE_HINT, 200)
    references = _read_references(
        lines,
        reference_lines,
        readable,
        sections,
        lambda line: links_on_line(lines, links, readable, prose, line),
    )
    scripts = _read_scripts(lines)
    document_title = _document_title(lines, sections)
    return ReadmeDocument(
        path=path,
        text=text,
        lines=lines,
        sections=sections,
        tree=tree,
        fields=fields,
        references=references,
        links=links,
        anchors=anchors,
        scripts=scripts,
        prose_lines=prose,
        readable_lines=readable,
        title=document_title,
        basic_section=basic,
        tables=tables,
        repeated_fields={name: at for name, at in occurrences.items() if len(at) > 1},
        stray_link_text=stray_link_text,
        fences=fences,
    )


def _read_table(tokens: list, start: int) -> Table:
    """The table that opens at ``tokens[start]``: cells cleaned with :func:`plain_text`."""
    header: list[str] = []
    rows: list[TableRow] = []
    cells: list[str] = []
    row_line = 0
    for token in tokens[start + 1 :]:
        if token.type == "table_close":
            break
        if token.type == "tr_open":
            cells = []
            row_line = (token.map[0] + 1) if token.map else 0
        elif token.type == "inline":
            cells.append(plain_text(token.content))
        elif token.type == "tr_close":
            if not header and not rows:
                header = cells
            else:
                rows.append(TableRow(row_line, tuple(cells)))
    first = tokens[start].map
    return Table((first[0] + 1) if first else 0, tuple(header), tuple(rows))


def _mark_indented_fences(lines: list[str], code_lines: bytearray, start: int, end: int) -> None:
    """Inside an indented code block (read as mis-indented prose), the lines between a fence
    line and its closing one are code the author meant as a fenced block (a list item's
    ```` ``` ```` indented a tab too far): they are code, not text to check."""
    marker = ""
    for index in range(start, min(end, len(lines))):
        stripped = lines[index].strip()
        if not marker:
            if stripped.startswith(("```", "~~~")):
                marker = stripped[:3]
                code_lines[index] = 1
        else:
            code_lines[index] = 1
            if stripped.startswith(marker) and not stripped.strip(marker[0]):
                marker = ""


def _fence_is_closed(lines: list[str], markup: str, start: int, end: int) -> bool:
    last = lines[end - 1].strip() if start < end - 1 and end <= len(lines) else ""
    return len(last) >= len(markup) and set(last) == {markup[0]}


def _html_headings(content: str, start: int) -> Iterator[Section]:
    for match in _HTML_HEADING.finditer(content):
        ids = _ID_ATTR.search(match.group("attrs"))
        title, inner_anchor = clean_heading_title(match.group("title"))
        line = start + content.count("\n", 0, match.start()) + 1
        anchor = ids.group(1) if ids else inner_anchor
        yield Section(int(match.group("level")), title, line, 0, "html", anchor)


def _build_tree(sections: list[Section], line_count: int) -> list[Section]:
    roots: list[Section] = []
    stack: list[Section] = []

    def rank(section: Section) -> float:
        # The template writes its top sections as <h2 id> and their parts as markdown ##:
        # an HTML heading ranks above a markdown heading of the same level.
        return section.level - 0.5 if section.kind == "html" else section.level

    for section in sections:
        while stack and rank(stack[-1]) >= rank(section):
            stack.pop().end_line = section.line - 1
        (stack[-1].children if stack else roots).append(section)
        stack.append(section)
    for open_section in stack:
        open_section.end_line = line_count
    return roots


def normalise_section_title(title: str) -> str:
    """``1 交付件基本信息：`` -> ``交付件基本信息``: numbering, trailing colons, spaces dropped."""
    value = re.sub(r"^\s*(?:\d+(?:\.\d+)*[.、)]?|[一二三四五六七八九十]+[、.])\s*", "", title)
    return value.strip(_SPACES + "：:")


def _is_basic_title(title: str) -> bool:
    name = normalise_section_title(title).lower()
    return name in ("基本信息", "交付件基本信息", "basic information", "basic info")


def _document_title(lines: list[str], sections: list[Section]) -> LocatedValue | None:
    first_h1 = next((s for s in sections if s.level == 1 and s.kind == "markdown"), None)
    if first_h1 is not None and first_h1.line <= 3:
        return LocatedValue(first_h1.title, first_h1.line)
    for index, line in enumerate(lines[:5]):
        if line.strip() and not _LIST_MARKER.match(line) and not line.lstrip().startswith("<"):
            return LocatedValue(plain_text(_HEADING_MARKER.sub("", line)), index + 1)
    return None


# --------------------------------------------------------------------------- fields


def match_label(label: str) -> tuple[str, bool] | None:
    """A label as written (``发布者（Publisher）``, ``Publisher``, ``发布者 (Publisher)``) ->
    (field name, whether both languages are given); None when it is not a field label."""
    compact = " ".join(label.replace("\u00a0", " ").split()).strip()
    parts = _LABEL_PARTS.match(compact)
    if not parts:
        return None
    first = parts.group("a").strip().lower()
    second = (parts.group("b") or "").strip().lower()
    names = [
        _ZH_TO_FIELD.get(first.replace(" ", "")) or _EN_TO_FIELD.get(first),
        (_ZH_TO_FIELD.get(second.replace(" ", "")) or _EN_TO_FIELD.get(second)) if second else None,
    ]
    if names[0] is None and names[1] is not None and _qualifies(first, names[1]):
        names[0] = names[1]
    if names[0] is None:
        return None
    if second and names[1] is not None and names[1] != names[0]:
        return None
    return names[0], names[1] is not None


def _qualifies(chinese: str, name: str) -> bool:
    """``模型大小`` (model size) for ``大小``: a Chinese label that ends with the field's own
    label and says whose it is. Only with the English label beside it, which names the field:
    alone, ``模型精度`` is the model's accuracy, not its precision."""
    label = FIELD_LABELS[name][0]
    qualifier = chinese.replace(" ", "").removesuffix(label)
    return qualifier != chinese.replace(" ", "") and 0 < len(qualifier) <= 4 and qualifier.isalpha()


def _strip_line_markers(line: str) -> tuple[str, bool]:
    """Drop list, quote and heading markers; say whether the line was a heading."""
    stripped = _LIST_MARKER.sub("", line)
    heading = _HEADING_MARKER.match(stripped)
    if heading and "#" in heading.group(0):
        return stripped[heading.end() :], True
    return stripped, False


def _quirks_of(raw: str, heading: bool) -> list[str]:
    quirks = []
    if heading:
        quirks.append("written as a heading")
    body = _ESCAPE.sub("", raw)
    if "**" in body and not _bold_is_well_formed(body):
        quirks.append("unbalanced ** markup")
    singles = sum(
        1
        for i, c in enumerate(body)
        if c == "_"
        and (i == 0 or body[i - 1] != "_")
        and (i + 1 >= len(body) or body[i + 1] != "_")
        and not (0 < i < len(body) - 1 and _is_word(body[i - 1]) and _is_word(body[i + 1]))
    )
    if singles % 2:
        quirks.append("unbalanced _ markup")
    return quirks


def _bold_is_well_formed(body: str) -> bool:
    """``**`` pairs must wrap the whole line, the label, or the value (with or without the
    colon); ``**修改时间：2021.11.2**2`` closes inside the value and is not."""
    marks = [m.start() for m in re.finditer(r"\*\*", body)]
    if len(marks) % 2:
        return False
    whole = plain_text(body)
    split = _LABEL_SPLIT.match(whole)
    label, value = (split.group("label").strip(), split.group("value")) if split else (whole, "")
    allowed = {whole, label, value, ""}
    for colon in ("：", ":"):
        allowed |= {label + colon, colon + value, colon, label + " " + colon}
    allowed = {a.replace(" ", "") for a in allowed}
    for start, end in zip(marks[::2], marks[1::2], strict=True):
        inner = plain_text(body[start + 2 : end]).replace(" ", "")
        if inner not in allowed:
            return False
    return True


def parse_field_line(line: str) -> tuple[str, str, str, bool, list[str]] | None:
    """One source line -> (field, label, value, bilingual, quirks), or None when it is no label.

    Lines from a mis-decoded (mojibake) file keep their English label and ASCII value; a value
    with replacement characters in it is returned with the quirk ``unreadable``."""
    body, heading = _strip_line_markers(line)
    if not body:
        return None
    cleaned = plain_text(body)
    split = _LABEL_SPLIT.match(cleaned)
    if split:
        found = match_label(split.group("label"))
        if found:
            name, bilingual = found
            return (
                name,
                split.group("label").strip(),
                split.group("value"),
                bilingual,
                _quirks_of(body, heading),
            )
    if "\ufffd" in cleaned:
        return _mojibake_field(cleaned)
    return None


_MOJIBAKE_LABEL = re.compile(
    r"^[^A-Za-z0-9]{0,20}(?P<label>Publisher|Application Domain|Version|Modified|Size|Framework|"
    r"Model Format|Precision|Processor|Categories|Category|Description)"
    r"(?P<gap>[^A-Za-z0-9]*)(?P<value>.*)$",
    re.IGNORECASE,
)


def _mojibake_field(cleaned: str) -> tuple[str, str, str, bool, list[str]] | None:
    match = _MOJIBAKE_LABEL.match(cleaned)
    if not match or "\ufffd" not in match.group("gap") + cleaned[: match.start("label")]:
        return None
    name = _EN_TO_FIELD[match.group("label").lower()]
    value = match.group("value").strip(_SPACES)
    quirks = ["label mis-decoded"] if value and "\ufffd" not in value else ["unreadable"]
    return name, match.group("label"), value, False, quirks


_FIELD_HINT = re.compile(
    "|".join(
        [re.escape(zh) for zh, _ in FIELD_LABELS.values()]
        + [re.escape(en) for _, ens in FIELD_LABELS.values() for en in ens]
    ),
    re.IGNORECASE,
)


def lines_matching(
    lines: list[str], candidates: list[int], pattern: re.Pattern[str], within: int = 0
) -> list[int]:
    """The ``candidates`` (0-based) whose line matches ``pattern`` within its first ``within``
    characters (all of it when 0): the cheap test before the per-line parsing."""
    search = pattern.search
    if within:
        return [i for i in candidates if search(lines[i], 0, within)]
    return [i for i in candidates if search(lines[i])]


def _read_fields(
    lines: list[str],
    prose: list[int],
    candidates: list[int],
    heading_lines: set[int],
    basic: Section | None,
    sections: list[Section],
) -> tuple[dict[str, FieldValue], dict[str, list[int]]]:
    """First occurrence of each field label, preferring the basic-information section (or,
    without one, the text before the first other section), where the template puts it. Outside
    it only a bilingual label counts: a lone ``精度：`` there is an accuracy figure.

    Also returns, per field, the 1-based line of every occurrence that counts as the field."""
    if basic is not None:
        region = (basic.line - 1, basic.end_line - 1)
    else:
        later = [s.line for s in sections if not _is_basic_title(s.title) and s.line > 3]
        region = (0, (later[0] - 2) if later else len(lines))
    found: dict[str, FieldValue] = {}
    fallback: dict[str, FieldValue] = {}
    occurrences: dict[str, list[int]] = {}
    for index in candidates:
        position = bisect_left(prose, index)
        line = lines[index]
        if len(line) > 2000:
            continue
        parsed = parse_field_line(line)
        if parsed is None:
            continue
        name, label, value, bilingual, quirks = parsed
        in_region = region[0] <= index <= region[1]
        if in_region or bilingual:
            occurrences.setdefault(name, []).append(index + 1)
        if name in found or (not in_region and (not bilingual or name in fallback)):
            continue
        readable = "unreadable" not in quirks
        if readable and not value:
            value, quirk = _value_on_next_line(lines, prose, position, heading_lines)
            if quirk:
                quirks.append(quirk)
        if "\ufffd" in value:
            readable = False
        entry = FieldValue(name, label, value, line, index + 1, tuple(quirks), readable)
        (found if in_region else fallback)[name] = entry
    return {**fallback, **found}, occurrences


def _value_on_next_line(
    lines: list[str], prose: list[int], position: int, heading_lines: set[int]
) -> tuple[str, str | None]:
    """``**版本（Version）：**`` followed by ``1.1`` on its own line: take that line as the value,
    unless it is another label, a heading, or a long sentence (then the value is empty)."""
    for index in prose[position + 1 : position + 4]:
        candidate = lines[index]
        if not candidate.strip():
            continue
        if index in heading_lines or _UNSPACED_HEADING.match(candidate):
            return "", None
        body, heading = _strip_line_markers(candidate)
        if (
            heading
            or parse_field_line(candidate) is not None
            or _LABEL_SPLIT.match(plain_text(body))
        ):
            return "", None
        value = plain_text(body)
        if len(value) > 80:
            return "", None
        return value, "value on the line after the label"
    return "", None


# --------------------------------------------------------------------------- reference blocks

#: The label ends in a character that is not a space, and one run of spaces at a time may
#: follow it: with a space-ending label and three adjacent optional space runs, a table row of
#: 80 padding spaces took 60 ms to refuse. The bracketed qualifier is bounded (80 characters).
_REFERENCE_LABEL = re.compile(
    r"^\s*(?:\[)?(?P<label>[^:：(（\[\]]{1,59}?[^:：(（\[\]\s])(?:\s*\])?\s*"
    r"(?:[（(][^)）]{0,80}[)）]\s*)?(?:[:：]|\(|$)"
)


#: The other ways zoo authors name the reference implementation: whose code it is (参考,
#: 原作者, 官方, 论文, GitHub…), what (源码, 开源代码, 实现, 项目…) and where (地址, 链接…),
#: as in 源码地址, 开源代码, 参考项目, 原作者开源代码链接为, 论文中实验代码的开源链接,
#: 官方代码仓, original code.
_REFERENCE_LABEL_FORM = re.compile(
    r"^(?P<whose>(?:(?:参考|原作者|作者|原始|原|官方|上游|开源|论文|github|gitee|gpu)[的中]?)*)"
    r"(?:实验)?(?P<what>开源代码|源代码|源码|开源实现|代码实现|代码仓|代码|实现|项目|仓库)的?"
    r"(?P<where>来源|参考|地址|链接|网址|路径|仓|开源链接)?为?$"
    r"|^开源(?:地址|网址|链接)为?$"
    r"|^(?:the )?(?:official|original|upstream|open[- ]?source|source) "
    r"(?:implementation|code|repository|repo)(?: (?:url|link|address))?$"
)
_SOURCE_ITSELF = ("开源代码", "源代码", "源码", "开源实现")


def reference_role(label: str) -> tuple[str, bool] | None:
    """A label -> (role, whether it is one of :data:`REFERENCE_LABELS`); None for other text.

    Besides those labels, a label of the reference implementation's form counts for it: the
    source code itself (源码地址), or code, a project or an implementation said to be someone
    else's (参考项目, 官方实现) or said to be the source (代码来源)."""
    compact = re.sub(r"\s+", "", label).lower()
    spaced = " ".join(label.lower().split())
    role = REFERENCE_LABELS.get(compact) or REFERENCE_LABELS.get(spaced)
    if role is not None:
        return role, True
    form = _REFERENCE_LABEL_FORM.match(compact) or _REFERENCE_LABEL_FORM.match(spaced)
    if form is None:
        return None
    what, whose, where = form.group("what"), form.group("whose"), form.group("where")
    if what and what not in _SOURCE_ITSELF and not whose and where not in ("来源", "参考"):
        return None  # 代码地址, 项目: whose code is it?
    return "reference", False


def match_reference_label(line: str) -> tuple[str, str, str] | None:
    """``- 参考实现：https://…`` -> (role, label, rest of the line); None for other lines."""
    body, _ = _strip_line_markers(line)
    cleaned = plain_text(body, keep_links=True)
    match = _REFERENCE_LABEL.match(cleaned)
    if not match:
        return None
    label = match.group("label").strip()
    found = reference_role(label)
    if found is None:
        return None
    return found[0], label, cleaned[match.end() :]


_REFERENCE_HINT = re.compile(
    r"参考实现|模型来源|开源代码路径|源代码地址|适配昇腾|推理|源码|代码|实现|项目|仓库|开源"
    r"|module source|reference implementation|adapt|inference|implementation|code|repo",
    re.IGNORECASE,
)


def _read_references(
    lines: list[str],
    candidates: list[int],
    prose: list[int],
    sections: list[Section],
    links_on: Callable[[int], list[Link]],
) -> list[ReferenceBlock]:
    prose_set = set(prose)
    section_starts = {s.line - 1 for s in sections}
    blocks: dict[str, ReferenceBlock] = {}
    exact_roles: set[str] = set()
    for index in candidates:
        line = lines[index]
        if len(line) > 2000:
            continue
        found = match_reference_label(line)
        if found is None:
            continue
        role, label, _ = found
        known = reference_role(label)
        exact = known is not None and known[1]
        if role in blocks and (role in exact_roles or not exact):
            continue  # the first entry of a role counts; one of the template's labels first
        blocks[role] = _read_reference_block(
            lines, index, role, label, prose_set, section_starts, links_on
        )
        if exact:
            exact_roles.add(role)
    return sorted(blocks.values(), key=lambda block: block.line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _read_reference_block(
    lines: list[str],
    start: int,
    role: str,
    label: str,
    prose: set[int],
    section_starts: set[int],
    links_on: Callable[[int], list[Link]],
) -> ReferenceBlock:
    block = ReferenceBlock(role, label, start + 1, start + 1)
    label_indent = _indent(lines[start])
    label_is_item = bool(_LIST_MARKER.match(lines[start]))
    _collect_reference_values(block, lines[start], start, links_on, first=True)
    index = start + 1
    limit = min(len(lines), start + 25)
    in_paragraph = True
    while index < limit:
        line = lines[index]
        if index in section_starts:
            break
        if not line.strip():
            in_paragraph = False
            index += 1
            continue
        if index in prose:
            if match_reference_label(line) is not None or "通过Git获取" in line:
                break
            if _UNSPACED_HEADING.match(line):
                break
            is_item = bool(_LIST_MARKER.match(line))
            if label_is_item and is_item and _indent(line) <= label_indent:
                break
            if (
                not in_paragraph
                and _indent(line) <= label_indent
                and not (_KEY_VALUE.match(line) or _URL_IN_TEXT.search(line))
            ):
                break
        block.end_line = index + 1
        _collect_reference_values(block, line, index, links_on, first=False)
        index += 1
    return block


def _collect_reference_values(
    block: ReferenceBlock,
    line: str,
    index: int,
    links_on: Callable[[int], list[Link]],
    first: bool,
) -> None:
    if len(line) > 2000:
        return
    text = _ESCAPE.sub(lambda m: m.group(1), line)
    key_value = _KEY_VALUE.match(text) if not first else None
    if key_value:
        key = key_value.group("key").lower().replace(" ", "_")
        key = {"commitid": "commit_id", "codepath": "code_path"}.get(key, key)
        value = key_value.group("value").strip("`*_ ")
        block.keys.setdefault(key, LocatedValue(value, index + 1))
        return
    targets = [
        link.target
        for link in links_on(index + 1)
        if not link.is_image and link.target.startswith(("http://", "https://"))
    ]
    urls = targets or _URL_IN_TEXT.findall(text)
    for url in urls:
        url = url.rstrip("*_`")
        bare = url.rstrip(".。,，;；")
        note = f"trailing punctuation after the address: {url!r}" if bare != url else ""
        block.urls.append(LocatedValue(bare, index + 1, note))


# --------------------------------------------------------------------------- links and scripts


class _LinksAsWritten(MarkdownIt):
    """markdown-it's inline parser, with link destinations kept as written (no
    percent-encoding), so findings quote what the author wrote."""

    def normalizeLink(self, url: str) -> str:  # noqa: N802 (markdown-it's name)
        return url

    def normalizeLinkText(self, link: str) -> str:  # noqa: N802
        return link


_INLINE = _LinksAsWritten("commonmark", {"html": True, "maxNesting": 50})


def _might_link(text: str) -> bool:
    return "](" in text or "<img" in text or "<IMG" in text


def inline_links(text: str, first_line: int) -> tuple[list[Link], list[LocatedValue]]:
    """Links and images in inline markdown that starts on ``first_line``, as markdown-it
    reads them, and the text that only looks like a link (a ``](`` left in plain text)."""
    links: list[Link] = []
    stray: list[LocatedValue] = []
    if not _might_link(text):
        return links, stray
    children = _INLINE.parseInline(text)[0].children or []
    line = first_line
    link_start: tuple[str, int] | None = None
    link_text: list[str] = []
    bracket_seen = False
    for child in children:
        kind = child.type
        if kind in ("softbreak", "hardbreak"):
            line += 1
            if link_start is not None:
                link_text.append(" ")
        elif kind == "link_open":
            link_start, link_text = (str(child.attrs.get("href", "")), line), []
        elif kind == "link_close" and link_start is not None:
            target, at = link_start
            links.append(Link("".join(link_text).strip(), target, at, False))
            link_start = None
        elif kind == "image":
            links.append(Link(child.content, str(child.attrs.get("src", "")), line, True))
        elif kind == "html_inline":
            links.extend(Link("", m.group(1), line, True) for m in _IMG_TAG.finditer(child.content))
        elif kind in ("text", "code_inline"):
            if link_start is not None:
                link_text.append(child.content)
            elif kind == "text":
                # A '[' before the '](' (on this line or an earlier one) makes it a link
                # markdown does not accept (a space in its address), not one missing its '['.
                position = child.content.find("](")
                if position >= 0 and not bracket_seen and "[" not in child.content[:position]:
                    stray.append(LocatedValue(child.content, line))
                bracket_seen = bracket_seen or "[" in child.content
        line += child.content.count("\n") if kind in ("text", "html_inline") else 0
    return links, stray


def _read_links(tokens: list[Token]) -> tuple[list[Link], list[LocatedValue]]:
    """Every link and image of the document, from markdown-it's tokens: inline markdown
    (paragraphs, headings, list items) and ``<img src>`` in HTML blocks."""
    links: list[Link] = []
    stray: list[LocatedValue] = []
    for token in tokens:
        if token.map is None:
            continue
        if token.type == "inline" and len(token.content) <= 20000:
            found, loose = inline_links(token.content, token.map[0] + 1)
            links.extend(found)
            stray.extend(loose)
        elif token.type == "html_block" and "<img" in token.content.lower():
            for match in _IMG_TAG.finditer(token.content):
                line = token.map[0] + 1 + token.content.count("\n", 0, match.start())
                links.append(Link("", match.group(1), line, True))
    return links, stray


def links_on_line(
    lines: list[str], links: list[Link], readable: list[int], prose: list[int], line: int
) -> list[Link]:
    """See :meth:`ReadmeDocument.links_on_line`."""
    index = line - 1
    position = bisect_left(prose, index)
    if position < len(prose) and prose[position] == index:
        return [link for link in links if link.line == line]
    position = bisect_left(readable, index)
    if position < len(readable) and readable[position] == index:
        return inline_links(lines[index].strip(), line)[0]
    return []


def _read_scripts(lines: list[str]) -> list[LocatedValue]:
    """Scripts the README tells a user to run (``bash test/train_full_1p.sh``), anywhere."""
    scripts: list[LocatedValue] = []
    for index, line in enumerate(lines):
        if (".sh" in line or ".py" in line) and len(line) <= 5000:
            for match in _SCRIPT.finditer(_ESCAPE.sub(lambda m: m.group(1), line)):
                scripts.append(LocatedValue(match.group("path"), index + 1))
    return scripts
