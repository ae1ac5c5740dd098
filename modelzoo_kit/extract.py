"""A legacy README -> the deliverable.yaml it implies, and what could not be carried over.

Authors bring an old README under metadata without retyping it: every value the README states is
read (with :mod:`modelzoo_kit.readme`), normalised by the same field rules the metadata model
uses (``PyTorch_1.6.0`` -> ``PyTorch 1.6.0``), and placed where deliverable.yaml keeps it. A
value that breaks a rule is never silently "fixed" into something else: where the rule's hint
names the one right spelling (``1263056KB`` -> ``1233M``, ``Image Classification`` ->
``Classification``) that spelling is written and the change is reported as a violation; where it
does not (``version 1``, ``category Demo``) the field is left out and reported. What a README
never states (hyper-parameter tables, transfer-learning steps ...) is listed as missing, so the
author knows exactly what is left to write before ``modelzoo render``.
"""

from __future__ import annotations

import re
import textwrap
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from modelzoo_kit import fieldrules
from modelzoo_kit.classify import detect_layout
from modelzoo_kit.layouts import README_FILES, TEMPLATE, Layout, get_layout
from modelzoo_kit.metadata import is_todo
from modelzoo_kit.readme import FieldValue, ReadmeDocument, ReferenceBlock, Section, plain_text
from modelzoo_kit.results import ResultsTable, read_results_table

#: Kinds of note, from harmless to blocking.
NORMALISED = "normalised"  # spelling changed, meaning kept
VIOLATION = "violation"  # the README broke a rule; a corrected value was written
UNREADABLE = "unreadable"  # the README states it, but not in a usable form: left out
MISSING = "missing"  # the README does not state it: left out


@dataclass(frozen=True)
class ExtractNote:
    field: str
    kind: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.kind:<10} {self.field}: {where}{self.message}"


@dataclass
class Extraction:
    """``data`` is deliverable.yaml as plain data (the metadata model's shape, fields that could
    not be read left out); ``notes`` says what was changed or left out, and why."""

    data: dict[str, Any]
    notes: list[ExtractNote] = field(default_factory=list)
    document: ReadmeDocument | None = None

    @property
    def complete(self) -> bool:
        """Whether ``data`` is a valid deliverable as it stands."""
        return not any(n.kind in (UNREADABLE, MISSING, VIOLATION) for n in self.notes)

    def note(self, path: str, kind: str, message: str, line: int | None = None) -> None:
        self.notes.append(ExtractNote(path, kind, message, line))


_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_GENERIC_FOLDERS = {"", ".", "files", "docs", "tmp"}


def deliverable_name(document: ReadmeDocument, folder_name: str = "") -> str:
    """The deliverable's name: its folder's, else the title's, as ``[A-Za-z0-9_.-]``."""
    for candidate in (folder_name if folder_name not in _GENERIC_FOLDERS else "",
                      document.title.value if document.title else ""):  # fmt: skip
        name = _NAME_CHARS.sub("_", candidate).strip("_.-")
        if name:
            return name
    return "model"


def extract(document: ReadmeDocument, folder_name: str = "") -> Extraction:
    """Read every deliverable.yaml value a README states."""
    result, layout = _extract_heading(document, folder_name)
    _sections(document, result)
    if layout is not None:
        _layout_texts(document, layout, result)
        _layout_facts(document, layout, result)
        basic = result.data.get("basic", {})
        result.notes = [
            n
            for n in result.notes
            if not (n.field.startswith("basic.") and n.field.split(".", 1)[1] in basic)
        ]
    entry_points = _entry_points(document)
    if entry_points:
        result.data["entry_points"] = entry_points
    _missing_from_model(result)
    return result


#: The deliverable.yaml keys a catalogue shows (:func:`extract_shown` reads only these).
SHOWN_KEYS = ("name", "title", "layout", "basic", "overview", "results")


def extract_shown(document: ReadmeDocument, folder_name: str = "") -> dict[str, Any]:
    """The values :func:`extract` reads for :data:`SHOWN_KEYS`, and only those.

    A catalogue lists a zoo's READMEs by name, tags, facts, summary, citations and results; the
    other sections, the entry points and the metadata model's check of what is missing are
    about half of extract's time and never shown, so they are not read."""
    result, layout = _extract_heading(document, folder_name)
    if layout is not None:
        _layout_facts(document, layout, result)
    return result.data


def _extract_heading(
    document: ReadmeDocument, folder_name: str
) -> tuple[Extraction, Layout | None]:
    """Name, title, layout, basic information and overview, and the README's layout when it is
    not the template's (the one whose sections :func:`_layout_texts` and :func:`_layout_facts`
    read)."""
    result = Extraction({"schema_version": 1, "name": deliverable_name(document, folder_name)})
    if document.title is not None and document.title.value:
        result.data["title"] = document.title.value
    else:
        result.note("title", MISSING, "the README has no title line")
    name = detect_layout(document.text)
    layout = get_layout(name) if name is not None and name != TEMPLATE.name else None
    if layout is not None:
        result.data["layout"] = layout.name
    result.data["basic"] = _basic(document, result)
    result.data["overview"] = _overview(document, result)
    return result, layout


# --------------------------------------------------------------------------- basic information


def _basic(document: ReadmeDocument, result: Extraction) -> dict[str, Any]:
    basic: dict[str, Any] = {}
    for name in (
        "publisher", "application_domain", "version", "modified", "size", "framework",
        "model_format", "precision", "processor", "category", "description",
    ):  # fmt: skip
        path = f"basic.{name}"
        entry = document.fields.get(name)
        if entry is None:
            result.note(path, MISSING, "the README has no such field")
            continue
        if not entry.readable:
            result.note(path, UNREADABLE, "the text is mis-decoded", entry.line)
            continue
        _basic_field(name, entry, basic, result)
    return basic


def _basic_field(name: str, entry: FieldValue, basic: dict[str, Any], result: Extraction) -> None:
    path = f"basic.{name}"
    value = entry.value
    if is_todo(value):  # a rendered draft's open decision: still open
        basic[name] = value
        return
    try:
        normalised = fieldrules.FIELD_RULES[name](value)
    except fieldrules.FieldRuleError as exc:
        corrected = _correction(name, value, exc)
        if corrected is None:
            result.note(path, UNREADABLE, f"{exc.message} ({exc.hint}); left out", entry.line)
            return
        if name == "application_domain" and corrected.startswith("Other"):
            basic[name] = fieldrules.OTHER_DOMAIN
            basic["application_domain_note"] = value
            result.note(
                path, VIOLATION, f"{exc.message}; written as Other, note {value!r}", entry.line
            )
            return
        basic[name] = corrected
        result.note(path, VIOLATION, f"{exc.message}; written as {corrected!r}", entry.line)
        return
    canonical = normalised.value
    if name == "application_domain" and canonical.startswith(fieldrules.OTHER_DOMAIN + ":"):
        basic[name] = fieldrules.OTHER_DOMAIN
        basic["application_domain_note"] = canonical.split(":", 1)[1].strip()
        return
    if name in ("size", "precision") and "/" in canonical:
        first = canonical.split("/")[0].strip()
        result.note(
            path,
            NORMALISED,
            f"the README lists several ({canonical}); deliverable.yaml holds one, kept {first!r}",
            entry.line,
        )
        canonical = re.sub(r"\s*[(（][^)）]*[)）]$", "", first)
    if name == "size":
        canonical = re.sub(r"\s*[(（][^)）]*[)）]$", "", canonical)
    basic[name] = canonical
    for change in normalised.notes:
        result.note(path, NORMALISED, change, entry.line)
    if canonical != value and not normalised.notes and name != "modified":
        result.note(path, NORMALISED, f"written {value!r}; kept as {canonical!r}", entry.line)


def _correction(name: str, value: str, error: fieldrules.FieldRuleError) -> str | None:
    """The one value a broken one stands for: the field rule's correction where it names one
    (``1263056KB`` -> ``1233M``); a domain outside the list is ``Other``, with the value as its
    note. None when no single value is right."""
    if error.correction is not None:
        return error.correction
    cleaned = fieldrules.clean(value)
    if name == "application_domain" and cleaned and "【" not in cleaned:
        return fieldrules.OTHER_DOMAIN
    return None


# --------------------------------------------------------------------------- overview


def _overview(document: ReadmeDocument, result: Extraction) -> dict[str, Any]:
    overview: dict[str, Any] = {}
    summary = _summary_text(document)
    if summary:
        overview["summary"] = summary
    else:
        result.note("overview.summary", MISSING, "no 简述 / 概述 text found")
    paper = _paper(document)
    if paper:
        overview["paper"] = paper
    for role, keys, optional in (
        ("reference", ("url", "branch", "commit_id", "code_path"), ("code_path",)),
        ("adapted", ("url", "branch", "commit_id", "code_path"), ()),
        ("inference", ("url", "branch", "commit_id", "code_path"), ()),
    ):
        block = document.reference(role)
        path = f"overview.{role}"
        if block is None:
            if role != "inference":
                result.note(path, MISSING, "the README has no such entry")
            continue
        values = _code_reference(
            block, keys, path, result, lambda n: document.lines[n - 1] if n else "", optional
        )
        if values:
            overview[role] = values
    return overview


_CHECKS = {
    "url": fieldrules.check_repository_url,
    "branch": fieldrules.check_branch,
    "commit_id": fieldrules.check_commit_id,
    "code_path": fieldrules.check_code_path,
}


def _clone_address(
    values: dict[str, str], keys: tuple[str, ...], path: str, result: Extraction
) -> None:
    """A web page of the repository (``…/tree/master/a/b``) -> the address git clones
    (``….git``), the branch and, where the entry has one, the code path: the page's."""
    split = fieldrules.cloneable(values.get("url", ""))
    if split is None:
        return
    url, branch, code_path = split
    result.note(f"{path}.url", NORMALISED, f"web page {values['url']!r}; cloned as {url!r}")
    values["url"] = url
    values.setdefault("branch", branch)
    if "code_path" in keys and code_path:
        values.setdefault("code_path", code_path)


def _code_reference(
    block: ReferenceBlock,
    keys: tuple[str, ...],
    path: str,
    result: Extraction,
    block_line: typing.Callable[[int], str] = lambda line: "",
    optional: tuple[str, ...] = (),
) -> dict[str, str]:
    values: dict[str, str] = {}
    web = block.keys.get("url") or block.url
    split = fieldrules.cloneable(web.value) if web is not None else None
    for key in keys:
        located = block.keys.get(key) or (block.url if key == "url" else None)
        if located is None and split is not None and key in ("branch", "code_path"):
            continue  # the web address gives it
        if located is None:
            if key not in optional:
                result.note(f"{path}.{key}", MISSING, f"'{block.label}' gives no {key}",
                            block.line)
            continue
        if is_todo(located.value):  # a rendered draft's open decision, spaces and all
            raw = block_line(located.line)
            values[key] = raw.split("=", 1)[1].strip() if f"{key}=" in raw else located.value
            continue
        try:
            checked = _CHECKS[key](located.value)
        except fieldrules.FieldRuleError as exc:
            result.note(f"{path}.{key}", UNREADABLE, f"{exc.message}; left out", located.line)
            continue
        if located.note:
            result.note(f"{path}.{key}", VIOLATION, located.note, located.line)
        values[key] = checked.value
    _clone_address(values, keys, path, result)
    if any(key not in values for key in keys if key not in optional):
        # A partial reference cannot be loaded; keep what was read for the author to finish.
        result.note(path, UNREADABLE, f"incomplete ({', '.join(sorted(values)) or 'empty'})")
    return values


#: Matched against the line with its indentation stripped, and with one loop over the bullet's
#: spaces and stars: ``\s*(?:[-*+]\s+)?\**\s*`` backtracked quadratically over a deeply indented
#: line (a 3,000-level nested list took minutes).
_PAPER_LABEL = re.compile(r"^(?:[-+]\s)?[\s*]*(?:参考论文|Reference paper|Paper)\s*\**[:：]?")
_BARE_URL = re.compile(r"https?://[^\s)>\]，。]+")


def _paper(document: ReadmeDocument) -> dict[str, str] | None:
    lines = document.lines
    for index in document.readable_lines:
        if not _PAPER_LABEL.match(lines[index].lstrip()):
            continue
        for offset, candidate in enumerate(lines[index : index + 6]):
            link = next(
                (
                    link
                    for link in document.links_on_line(index + offset + 1)
                    if not link.is_image and link.target.startswith(("http://", "https://"))
                ),
                None,
            )
            if link is not None:
                return {"title": plain_text(link.text), "url": link.target}
            bare = _BARE_URL.search(candidate)
            if bare:
                return {"title": bare.group(0), "url": bare.group(0)}
        return None
    return None


def _section_named(document: ReadmeDocument, *names: str) -> Section | None:
    wanted = {n.lower() for n in names}
    for section in document.sections:
        title = re.sub(r"^\s*\d+(?:\.\d+)*\.?\s*", "", section.title).strip("：: ").lower()
        if title in wanted:
            return section
    return None


def section_text(document: ReadmeDocument, section: Section, stop_at_child: bool = True) -> str:
    """The prose of a section (up to its first sub-section), as markdown, trimmed."""
    end = section.end_line
    if stop_at_child and section.children:
        end = section.children[0].line - 1
    body = document.lines[section.line : end]
    text = "\n".join(line.rstrip() for line in body).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)  # as render writes it: a round trip keeps it


#: Where the network's own description ends: the paper and code entries, or the category
#: tip the template adds ("Research（研究版）：…"), which the category implies.
_OVERVIEW_STOP = re.compile(
    r"^\s*(?:[-*+]\s+)?\**\s*(?:参考论文|参考实现|Reference paper|Reference implementation"
    r"|适配昇腾|通过Git获取|(?:Benchmark|Official|Research|Tutorials?)\s*[（(])"
)


#: The sentence the pytorch-2022 layout renders its basic information as, after the summary.
_LAYOUT_FIELDS_LINE = re.compile(r"[（(]应用领域 .*，应用级别 .*，发布者 ")


def _summary_text(document: ReadmeDocument) -> str:
    section = _section_named(document, "简述", "summary") or _section_named(
        document, "概述", "overview"
    )
    if section is None:
        return ""
    text = section_text(document, section)
    kept = []
    for line in text.split("\n"):
        if _OVERVIEW_STOP.match(line) or _LAYOUT_FIELDS_LINE.search(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()


# --------------------------------------------------------------------------- other sections

#: deliverable.yaml field -> the template sub-sections whose text it holds.
_SECTION_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mixed_precision.principle", ("混合精度训练", "mixed precision training")),
    ("mixed_precision.enable", ("开启混合精度", "enabling mixed precision")),
    ("environment.hardware", ("训练环境准备", "preparing the training environment")),
    ("quick_start.dataset", ("数据集准备", "preparing the dataset", "dataset preparation")),
    ("advanced.training_process", ("训练过程", "training process")),
    ("advanced.inference_process", ("推理/验证过程", "inference/validation process")),
)


def _sections(document: ReadmeDocument, result: Extraction) -> None:
    default_config = _default_config(document, result)
    if default_config:
        result.data["default_config"] = default_config
    features = _features(document)
    if features:
        result.data["features"] = features
    transfer = _transfer_learning(document)
    if transfer:
        result.data["transfer_learning"] = transfer
    for path, titles in _SECTION_FIELDS:
        section = _section_named(document, *titles)
        text = section_text(document, section) if section else ""
        if path.startswith("advanced."):
            text = _before_entry_list(text)
        if path == "environment.hardware":
            text = _without_template_hardware(text)
        if path == "environment.hardware" and section is not None:
            result.data.setdefault("environment", {})  # its notes are all optional
        if not text:
            continue
        group, key = path.split(".")
        result.data.setdefault(group, {})[key] = text


#: The sentence the template opens 训练环境准备 with; the rendered hardware notes are indented
#: under it.
_TEMPLATE_HARDWARE = re.compile(r"^1\.\s+硬件环境准备请参见\[各硬件产品文档\]\(https://ascend\.huawei\.com/")


def _without_template_hardware(text: str) -> str:
    """A rendered README's 训练环境准备 -> the hardware notes deliverable.yaml holds (the
    template's own first step and the later steps it numbers are not the author's)."""
    lines = text.split("\n")
    if not lines or not _TEMPLATE_HARDWARE.match(lines[0]):
        return text
    kept = []
    for line in lines[1:]:
        if line.strip() and not line.startswith(("    ", "\t")):
            break
        kept.append(line)
    return textwrap.dedent("\n".join(kept)).strip("\n")


#: How the pytorch-2022 template opens 准备环境 (its version table follows).
_RENDERED_ENVIRONMENT = re.compile(r"^- 当前模型支持的 PyTorch 版本和已知三方库依赖如下表所示。\n")


def _rendered_environment(text: str, result: Extraction) -> None:
    """A rendered pytorch-2022 准备环境 -> the hardware and software notes it was rendered from
    (the version table is the template's own, from the framework and requirements.txt)."""
    current: str | None = None
    notes: dict[str, list[str]] = {}
    for line in text.split("\n"):
        if not line.startswith((" ", "\t")) and line.strip():
            current = {"- 硬件环境。": "hardware", "- 软件环境。": "software"}.get(line.strip())
            continue
        if current is not None:
            notes.setdefault(current, []).append(line)
    for key, lines in notes.items():
        value = _unindented(lines, "  ").strip("\n")
        if value and key not in result.data.get("environment", {}):
            result.data.setdefault("environment", {})[key] = value


def _unindented(lines: list[str], indent: str) -> str:
    """Lines the template indented by ``indent`` (``| indent(2)``) as they were before: only that
    indent is taken off, so a value whose own first line is indented keeps it (a dedent would
    take that too, and the next extraction would read another value)."""
    if all(line.startswith(indent) for line in lines if line.strip()):
        return "\n".join(line.removeprefix(indent) for line in lines)
    return textwrap.dedent("\n".join(lines))


def _layout_texts(document: ReadmeDocument, layout: Layout, result: Extraction) -> None:
    """What a layout other than the template holds where the template does not: its dataset
    and environment sub-sections (its facts: :func:`_layout_facts`)."""
    from modelzoo_kit.rules import _all_specs, find_layout_sections

    found = find_layout_sections(document.sections, _all_specs(layout))
    for path, name in (("quick_start.dataset", "准备数据集"), ("environment.software", "准备环境")):
        section = found.get(name)
        text = section_text(document, section) if section else ""
        if path == "environment.software" and _RENDERED_ENVIRONMENT.match(text):
            _rendered_environment(text, result)
            continue
        if text and path.split(".")[1] not in result.data.get(path.split(".")[0], {}):
            group, key = path.split(".")
            result.data.setdefault(group, {})[key] = text


def _layout_facts(document: ReadmeDocument, layout: Layout, result: Extraction) -> None:
    """What a layout other than the template shows that the template keeps elsewhere: the
    framework in its version table, its results table."""
    from modelzoo_kit.rules import tables_in

    basic = result.data.setdefault("basic", {})
    for table in tables_in(document, layout, layout.environment_section):
        column = table.column("torch_version", "pytorch_version")
        if column is not None and table.rows and "framework" not in basic:
            cell = table.rows[0].cells[column] if column < len(table.rows[0].cells) else ""
            if is_todo(cell):  # a rendered draft's open decision: still open
                basic["framework"] = cell
                continue
            try:
                basic["framework"] = fieldrules.check_framework(cell).value
            except fieldrules.FieldRuleError:
                result.note("basic.framework", UNREADABLE, f"version table says {cell!r}")
    rows = [
        row
        for table in tables_in(document, layout, layout.results_section)
        for row in _result_rows(read_results_table(table))
    ]
    # A row given twice is one row: a rendered README shows the table its rows render to and,
    # where the original's table is written differently, that table kept beside it.
    unique = [row for i, row in enumerate(rows) if row not in rows[:i]]
    # Each row's metrics in the order of the one table render writes (every metric of every
    # row, as first met), which is the order the next extraction reads them in.
    order = list(dict.fromkeys(name for row in unique for name in row["metrics"]))
    for row in unique:
        row["metrics"] = {name: row["metrics"][name] for name in order if name in row["metrics"]}
    if unique:
        result.data["results"] = unique


def _number(text: str) -> float | None:
    try:
        return float(text.strip().rstrip("%"))
    except ValueError:
        return None


def _result_rows(table: ResultsTable) -> list[dict[str, Any]]:
    """README results rows -> deliverable.yaml ``results`` (rows without a card count, or a
    table that cannot be read, are left to the author)."""
    rows: list[dict[str, Any]] = []
    if table.problems:
        return rows
    for row in table.rows:
        if row.cards is None:
            continue
        item: dict[str, Any] = {"cards": row.cards}
        if row.is_baseline:
            item["baseline"] = re.sub(r"^\s*\d+\s*[pP][-_\s]*", "", row.name) or "baseline"
        item["metrics"] = {
            name: (_number(cell.text) if cell else None) for name, cell in row.metrics.items()
        }
        throughput = _number(row.throughput.text) if row.throughput else None
        if throughput:
            item["throughput"] = throughput
        if row.epochs.strip().isdigit() and int(row.epochs) > 0:
            item["epochs"] = int(row.epochs)
        # A table cell is inline markdown: a run of spaces in it shows as one, and the rendered
        # table writes one (``md_cell``), so one is what the value holds.
        amp, framework = " ".join(row.amp.split()), " ".join(row.framework.split())
        if amp not in ("", "-"):
            item["amp_type"] = amp
        if framework not in ("", "-"):
            item["framework_version"] = framework
        rows.append(item)
    return rows


_BULLET = re.compile(r"^(?P<indent>\s*)[-*+]\s+(?P<text>.+)$")
_DATASET_IN_TITLE = re.compile(
    r"以\s*(?P<zh>[^，。()（）]+?)\s*(?:训练集|验证集|测试集|数据集)为例"
    r"|uses the (?P<en>.+?) (?:training|validation|test) set"
)
_CARDS = re.compile(r"(?P<n>\d+)\s*(?:卡|cards?|p\b)|(?P<one>单卡|1 card)")
_GROUPS = (
    ("network", ("网络结构", "network structure", "network")),
    ("train_preprocessing", ("训练数据集预处理", "training set preprocessing")),
    ("test_preprocessing", ("测试数据集预处理", "test set preprocessing")),
    ("hyperparameters", ("训练超参", "training hyperparameters", "hyperparameters")),
)


def _bullet_groups(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Top-level bullets with the bullets nested under them: [(title, [item, ...])]."""
    groups: list[tuple[str, list[str]]] = []
    top_indent: int | None = None
    for line in lines:
        match = _BULLET.match(line)
        if not match:
            continue
        indent = len(match.group("indent").expandtabs(4))
        text = plain_text(match.group("text"))
        if top_indent is None or indent <= top_indent:
            top_indent = indent
            groups.append((text, []))
        elif groups:
            groups[-1][1].append(text)
    return groups


def _default_config(document: ReadmeDocument, result: Extraction) -> dict[str, Any]:
    """默认配置: network, pre-processing and hyper-parameter bullets, the example dataset."""
    section = _section_named(document, "默认配置", "default configuration")
    if section is None:
        return {}
    body = document.lines[section.line : section.end_line]
    config: dict[str, Any] = {}
    for title, items in _bullet_groups(body):
        lowered = title.lower()
        group = next((g for g, names in _GROUPS if any(n in lowered for n in names)), None)
        if group is None or not items or group in config:
            continue
        dataset = _DATASET_IN_TITLE.search(title)
        if dataset and "dataset" not in config:
            config["dataset"] = (dataset.group("zh") or dataset.group("en")).strip()
        if group != "hyperparameters":
            config[group] = items
            continue
        cards = _CARDS.search(title)
        if cards and cards.group("n"):
            config["hyperparameters_cards"] = int(cards.group("n"))
        values: dict[str, str | int] = {}
        if len(items) == 1 and is_todo(items[0]):  # a rendered draft's open decision
            config["hyperparameters"] = items[0].rstrip(":： ")
            continue
        for item in items:
            pair = re.match(r"^(?P<name>[^:：]+)[:：]\s*(?P<value>.+)$", item)
            if pair and pair.group("name").strip():
                value = pair.group("value").strip()
                values[pair.group("name").strip()] = int(value) if value.isdigit() else value
            else:
                result.note("default_config.hyperparameters", UNREADABLE, f"{item!r} is no "
                            "'name: value' pair; left out")  # fmt: skip
        if values:
            config["hyperparameters"] = values
    return config


_YES = {"是", "支持", "yes", "y", "true", "√", "✓", "✔"}
_NO = {"否", "不支持", "no", "n", "false", "×", "✗", "-", "not supported"}


def _features(document: ReadmeDocument) -> list[dict[str, Any]]:
    """支持特性: the | 特性列表 | 是否支持 | table."""
    section = _section_named(document, "支持特性", "supported features")
    if section is None:
        return []
    features: list[dict[str, Any]] = []
    body = document.lines[section.line : section.end_line]
    for line in body:
        cells = [plain_text(c) for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|") or len(cells) < 2:
            continue
        answer = cells[1].strip().lower()
        if answer in _YES or answer in _NO:
            features.append({"name": cells[0], "supported": answer in _YES})
    by_name = {feature["name"]: feature for feature in features}
    for title, _ in _bullet_groups(body):  # "-   混合精度：通过 --amp 开启" notes a feature
        name, _, note = title.partition("：") if "：" in title else title.partition(":")
        if name.strip() in by_name and note.strip():
            by_name[name.strip()]["note"] = note.strip()
    return features


_COMMAND = re.compile(r"^\s*(?P<command>(?:bash|sh|python3?)\s+(?:\./)?(?P<script>[\w./-]+)\b.*)$")
#: 迁移学习指导 step titles (the template's, in both languages) -> transfer_learning field.
_TRANSFER_STEPS: dict[str, str] = {
    "获取数据与数据目录结构": "dataset",
    "获取数据": "dataset",
    "数据目录结构": "dataset",
    "get the data and lay out its folders": "dataset",
    "数据标注": "labels",
    "label the data": "labels",
    "（可选）数据转换": "conversion",
    "(optional) convert the data": "conversion",
    "数据转换": "conversion",
    "修改配置文件": "config_changes",
    "change the configuration": "config_changes",
    "加载预训练模型": "pretrained",
    "load the pretrained model": "pretrained",
    "模型训练": "training",
    "train the model": "training",
    "模型评估": "evaluation",
    "evaluate the model": "evaluation",
}
_STEP = re.compile(r"^\s*(?:\d{1,2}[.)、]|[-*+])\s+(?P<title>.+)$")


def _step_field(line: str) -> str | None:
    match = _STEP.match(line)
    if not match:
        return None
    title = plain_text(match.group("title")).split("。")[0].rstrip(".：: ").lower()
    return _TRANSFER_STEPS.get(title)


def _transfer_learning(document: ReadmeDocument) -> dict[str, str]:
    """迁移学习指导: the text under each of the template's numbered steps."""
    section = _section_named(document, "迁移学习指导", "transfer learning")
    if section is None:
        return {}
    body = document.lines[section.line : section.end_line]
    steps: dict[str, str] = {}
    current: str | None = None
    collected: list[str] = []

    def close() -> None:
        text = textwrap.dedent("\n".join(collected)).strip("\n")
        if current is not None and text.strip() and current not in steps:
            steps[current] = text

    for line in body:
        step = _step_field(line)
        if step is not None or _STEP.match(line) and not line.startswith((" ", "\t")):
            close()
            current, collected = step, []
            continue
        collected.append(line)
    close()
    return steps


_ENTRY_KINDS = (
    ("train_full_1p", "train-1p"),
    ("train_full_8p", "train-8p"),
    ("train_performance_1p", "performance-1p"),
    ("train_performance_8p", "performance-8p"),
    ("train_eval", "evaluate"),
    ("eval", "evaluate"),
    ("export", "export"),
    ("pth2onnx", "export"),
)
_EVALUATE_FLAG = re.compile(r"\s--(?:evaluate|eval)\b")


def entry_point_name(script: str, command: str) -> str | None:
    """Which ModelZoo entry point a command is: by the launch script's name (the ModelZoo
    test/train_full_1p.sh convention), or ``evaluate`` for a training script run with
    ``--evaluate``."""
    name = script.rsplit("/", 1)[-1]
    for marker, entry in _ENTRY_KINDS:
        if marker in name:
            return entry
    if _EVALUATE_FLAG.search(command):
        return "evaluate"
    return None


_ENTRY_ITEM = re.compile(r"^\s*[-*+]\s+`(?P<name>[a-z0-9][a-z0-9-]*)`\s*[：:]\s*(?P<text>.+)$")


def _before_entry_list(text: str) -> str:
    """Section text up to a list of named entry points (which deliverable.yaml keeps under
    ``entry_points``, so it is not prose to copy)."""
    kept = []
    for line in text.split("\n"):
        if _ENTRY_ITEM.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _named_entry_points(document: ReadmeDocument) -> dict[str, dict[str, str]]:
    """``-   `train-1p`：单卡训练`` followed by a code block holding its command."""
    entries: dict[str, dict[str, str]] = {}
    lines = document.lines
    for index, line in enumerate(lines):
        match = _ENTRY_ITEM.match(line) if "`" in line else None
        if not match or match.group("name") in entries:
            continue
        following = [x.strip() for x in lines[index + 1 : index + 6] if x.strip()]
        if len(following) >= 2 and following[0].startswith(("```", "~~~")):
            command = following[1]
            if command and not command.startswith(("```", "~~~")):
                entries[match.group("name")] = {
                    "command": command,
                    "description": plain_text(match.group("text")),
                }
    return entries


def _entry_points(document: ReadmeDocument) -> dict[str, dict[str, str]]:
    """The commands the README runs, as entry points: those it names (as the kit renders
    them), else the first command of each ModelZoo launch-script kind."""
    entries = _named_entry_points(document)
    for script in document.scripts:
        line = document.lines[script.line - 1].replace("\\_", "_").strip("`* ")
        match = _COMMAND.match(line)
        if not match:
            continue
        command = match.group("command").strip().rstrip("`").strip()
        name = entry_point_name(match.group("script"), command)
        if name is not None and name not in entries:
            entries[name] = {"command": command, "description": f"{name} (from the README)"}
    return entries


# --------------------------------------------------------------------------- what is left


def _missing_from_model(result: Extraction) -> None:
    """List the required fields the README never states, from the metadata model itself."""
    from modelzoo_kit.metadata import Deliverable

    already = {n.field for n in result.notes}
    try:
        Deliverable.model_validate(result.data, context={"defer_cross_checks": True})
    except ValidationError as exc:
        for error in exc.errors():
            path = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
            if error["type"] != "missing" or any(
                path == seen or path.startswith(seen + ".") for seen in already
            ):
                continue
            already.add(path)
            result.note(path, MISSING, "the README does not state it; write it by hand")


def read_extraction(readme: Path, translation: Path | None = None) -> Extraction:
    """Extract from a README file (the folder's name becomes the deliverable's name).

    ``translation`` is the same deliverable's README in English (README.en.md, looked for
    beside a README.md when not given): its prose joins the Chinese as ``{zh, en}`` wherever
    deliverable.yaml holds text in both languages, so neither README goes stale."""
    from modelzoo_kit.readme import read_readme

    document = read_readme(readme)
    typed, document = _typed_and_carried(document)
    result = extract(typed, readme.resolve().parent.name)
    result.document = document
    if document.encoding_problems:
        result.note(
            "README",
            UNREADABLE,
            f"{len(document.encoding_problems)} line(s) are not valid UTF-8 or mis-decoded",
            document.encoding_problems[0],
        )
    if translation is None and readme.name == README_FILES["zh"]:
        beside = readme.with_name(README_FILES["en"])
        translation = beside if beside.is_file() else None
    if translation is not None:
        from modelzoo_kit.errors import InputFileError
        from modelzoo_kit.metadata import Deliverable

        try:
            english = extract(
                _typed_and_carried(read_readme(translation))[0], readme.resolve().parent.name
            )
        except InputFileError as exc:
            reason = "; ".join(p.message for p in exc.problems)
            result.note(translation.name, UNREADABLE, f"{reason}; English text left out")
        else:
            result.data = merge_languages(result.data, english.data, Deliverable)
    return result


def _typed_and_carried(document: ReadmeDocument) -> tuple[ReadmeDocument, ReadmeDocument]:
    """(what typed values are read from, what ``readme_text`` is carried from): a rendered
    README's bracketed carried regions are copied text, never typed values (see
    :data:`~modelzoo_kit.carried.CARRIED_BEGIN`); a README without them is both."""
    from modelzoo_kit.carried import typed_and_carried
    from modelzoo_kit.readme import parse_readme

    split = typed_and_carried(document.text)
    if split is None:
        return document, document
    typed, carried = (parse_readme(text, document.path) for text in split)
    typed.encoding_problems = carried.encoding_problems = document.encoding_problems
    return typed, carried


def _is_text(annotation: Any) -> bool:
    """Whether a model field holds prose that may be written per language (``Text``)."""
    from modelzoo_kit.metadata import Localized

    if annotation is Localized:
        return True
    return any(_is_text(arg) for arg in typing.get_args(annotation))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def merge_languages(zh: Any, en: Any, model: type[BaseModel]) -> Any:
    """Chinese data + English data of the same deliverable -> one, with ``{zh, en}`` where a
    text field differs. Everything that is not prose (versions, urls, processor...) is taken
    from the Chinese README, the template's reference language."""
    if not isinstance(zh, dict) or not isinstance(en, dict):
        return zh
    merged = dict(zh)
    for key, value in zh.items():
        if key not in en:
            continue
        info = model.model_fields.get(key)
        if info is None:
            continue
        merged[key] = _merge_value(value, en[key], info.annotation)
    return merged


def _merge_value(zh: Any, en: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is list and isinstance(zh, list) and isinstance(en, list) and len(zh) == len(en):
        (item,) = typing.get_args(annotation)
        return [_merge_value(a, b, item) for a, b in zip(zh, en, strict=True)]
    if origin is dict and isinstance(zh, dict) and isinstance(en, dict):
        value_type = typing.get_args(annotation)[1]
        return {k: _merge_value(v, en.get(k, v), value_type) for k, v in zh.items()}
    if isinstance(zh, str) and isinstance(en, str):
        return {"zh": zh, "en": en} if zh != en and _is_text(annotation) else zh
    model = _model_in(annotation)
    if model is not None:
        return merge_languages(zh, en, model)
    return zh


# --------------------------------------------------------------------------- drafts


def todo(reason: str) -> str:
    """The value an open decision is written as (see :data:`~modelzoo_kit.metadata.TODO_MARKER`)."""
    from modelzoo_kit.metadata import TODO_MARKER

    return f"{TODO_MARKER}: {' '.join(reason.split())}"


def _reason(reasons: dict[str, str], path: str) -> str:
    while path:
        if path in reasons:
            return reasons[path]
        path = path.rpartition(".")[0]
    return "the README does not state it; write it by hand"


def _fill(data: dict[str, Any], model: type[BaseModel], path: str, reasons: dict[str, str]) -> dict:
    """``data`` in the model's field order with a TODO for every required value it lacks (and
    the sub-sections that hold them filled the same way)."""
    from modelzoo_kit.metadata import holds_fields

    filled: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        here = f"{path}.{name}" if path else name
        sub = _model_in(info.annotation) if holds_fields(info.annotation) else None
        if name in data:
            value = data[name]
            if sub is not None and isinstance(value, dict) and typing.get_origin(
                info.annotation) is not dict:  # fmt: skip
                value = _fill(value, sub, here, reasons)
            filled[name] = value
        elif info.is_required():
            filled[name] = _fill({}, sub, here, reasons) if sub is not None else todo(
                _reason(reasons, here))  # fmt: skip
    filled.update((k, v) for k, v in data.items() if k not in filled)
    return filled


def _set_todo(data: Any, loc: tuple, reason: str) -> bool:
    """Replace the value at ``loc`` (a pydantic error location) with a TODO; False when the
    location cannot be reached."""
    parts = [p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function")))]
    target = data
    for part in parts[:-1]:
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and isinstance(part, int) and part < len(target):
            target = target[part]
        else:
            return False
    if not parts or not isinstance(target, (dict, list)):
        return False
    last = parts[-1]
    if isinstance(target, list) and isinstance(last, int) and last < len(target):
        target[last] = todo(reason)
        return True
    if isinstance(target, dict):
        target[last] = todo(reason)
        return True
    return False


def to_draft(result: Extraction) -> None:
    """Make ``result.data`` a deliverable that loads: each required value the README does not
    give, or gives in a form the model refuses, becomes a TODO saying why, and the file is
    marked ``draft: true`` while any open decision is left (none left: no draft mark)."""
    from modelzoo_kit.metadata import REQUIRED_ENTRY_POINTS, Deliverable

    reasons = {n.field: n.message for n in result.notes if n.kind in (MISSING, UNREADABLE)}
    data = dict(result.data)
    data["draft"] = True
    entries = dict(data.get("entry_points") or {})
    for name in REQUIRED_ENTRY_POINTS:
        entries.setdefault(name, {
            "command": todo(f"the README gives no {name} command"),
            "description": todo(f"say what {name} does"),
        })  # fmt: skip
    # One order whatever order the README shows them in (the required ones first, the others
    # as found), so a second extraction from the rendered README gives the same file.
    def rank(name: str) -> int:
        return REQUIRED_ENTRY_POINTS.index(name) if name in REQUIRED_ENTRY_POINTS else 99

    data["entry_points"] = dict(sorted(entries.items(), key=lambda e: rank(e[0])))
    basic = data.setdefault("basic", {})
    if isinstance(basic, dict) and "size" not in basic and "checkpoint" not in basic:
        basic["size"] = todo(_reason(reasons, "basic.size"))
    data = _fill(data, Deliverable, "", reasons)
    for _ in range(8):
        try:
            Deliverable.model_validate(data, context={"draft": True, "defer_cross_checks": True})
            break
        except ValidationError as exc:
            if not any(
                _set_todo(data, tuple(e["loc"]), f"the README's value is refused: {e['msg']}")
                for e in exc.errors()
            ):
                break
    result.data = _as_rendered(data)


def _as_rendered(value: Any) -> Any:
    """Text with runs of blank lines made one, as render writes it, so that extracting the
    rendered README gives the same value."""
    if isinstance(value, str):
        return re.sub(r"\n{3,}", "\n\n", value)
    if isinstance(value, dict):
        return {k: _as_rendered(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_rendered(v) for v in value]
    return value


@dataclass
class ExtractedFile:
    """deliverable.yaml as ``extract`` writes it: ``text`` (header + YAML), ``decisions`` (what
    the draft leaves open, located in ``text``: the header's list and ``validate``'s MZ307
    findings are this one list) and ``notes`` (what was changed on the way in)."""

    text: str
    decisions: list[Any]
    notes: list[ExtractNote]


def extracted_file(readme: Path, destination: Path | None = None) -> ExtractedFile:
    """Extract ``readme`` into the draft deliverable.yaml that goes to ``destination`` (default:
    beside the README); the folder its files are looked up in is the README's."""
    from dataclasses import replace

    from modelzoo_kit.loading import draft_problems, dump_data

    result = read_extraction(readme)
    to_draft(result)
    destination = destination if destination is not None else readme.with_name("deliverable.yaml")
    _choose_training_script(readme.parent, result)
    _carry_unrendered(readme, result, destination)
    body = dump_data(result.data)
    decisions = draft_problems(destination, body, readme.parent)
    notes = [n for n in result.notes if n.kind in (NORMALISED, VIOLATION)] + [
        n for n in result.notes if n.kind == UNREADABLE
    ]
    header = _header(readme, decisions)
    offset = header.count("\n")
    decisions = [replace(p, line=p.line + offset) if p.line else p for p in decisions]
    return ExtractedFile(_header(readme, decisions) + body, decisions, notes)


_PYTHON_SCRIPT = re.compile(r"(?:^|[\s/`])((?:[\w.-]+/)*[\w.-]+\.py)\b")


#: How render names the script its parameter table comes from (both layouts): a rendered
#: README says which script it is, whatever other scripts it mentions first.
_RENDERED_SCRIPT = re.compile(
    r"^(?:模型训练脚本参数说明如下（)?`([^`\n]+\.py)`(?: 的参数)?（?，?由脚本的参数解析器生成", re.M
)


def _choose_training_script(folder: Path, result: Extraction) -> None:
    """The script whose parameters the README lists: the one a rendered README names for its
    parameter table, else the first Python script the README names (or ``train.py``), that is
    in the folder and defines parameters (argparse, absl / tf.flags, click). None found: left
    at train.py, which the draft's decisions then name."""
    from modelzoo_kit.errors import ModelzooError
    from modelzoo_kit.script_params import read_parameters

    document = result.document
    named = _PYTHON_SCRIPT.findall(document.text) if document is not None else []
    rendered = _RENDERED_SCRIPT.findall(document.text) if document is not None else []
    # A rendered README's own answer is the answer: its directory tree names every script.
    for name in dict.fromkeys(rendered[:1] or ["train.py", *named]):
        script = folder / name
        try:
            if script.is_file() and read_parameters(script, folder):
                if name != "train.py":
                    advanced = result.data.setdefault("advanced", {})
                    if isinstance(advanced, dict):
                        advanced["training_script"] = name
                return
        except (ModelzooError, OSError, ValueError):
            continue


def _carry_unrendered(readme: Path, result: Extraction, destination: Path) -> None:
    """Add to the draft, as ``readme_text``, every block of the README its rendering would not
    show (see :mod:`modelzoo_kit.carried`)."""
    from modelzoo_kit.carried import unrendered_text
    from modelzoo_kit.loading import dump_data, validated_text
    from modelzoo_kit.readme import read_readme
    from modelzoo_kit.render import render_readme

    deliverable, _ = validated_text(destination, dump_data(result.data))
    rendered = render_readme(deliverable, readme.parent, "zh")
    document = result.document if result.document is not None else read_readme(readme)
    carried, left_out = unrendered_text(document, rendered)
    if carried:
        result.data["readme_text"] = carried
    for line in left_out:
        result.note("readme_text", UNREADABLE, "block too large to carry; left out", line)


def _header(readme: Path, decisions: list[Any]) -> str:
    from modelzoo_kit.display import shown

    lines = [f"# Extracted from {shown(readme.name, one_line=True)} by `modelzoo extract`."]
    if decisions:
        lines.append(
            f"# A draft: {len(decisions)} open decision(s), each a TODO or a rule the draft breaks "
            "(`modelzoo validate` lists the same as MZ307):"
        )
        # One comment line each: a newline in a README value must not start a YAML line.
        lines += [
            f"#   line {p.line}: {shown(f'{p.field}: {p.message}', one_line=True)}"
            for p in decisions
        ]
    # What was normalised on the way in goes to stderr, not here: a second extraction from the
    # rendered README changes nothing, and must write the same file.
    return "\n".join(lines) + "\n"
