"""README (+ deliverable.yaml + folder) -> findings.

Every check has a stable rule id in :data:`RULES` (documented in docs/rules.md): ``MZ0xx`` the
file itself, ``MZ1xx`` sections, ``MZ2xx`` basic information and code references, ``MZ3xx`` the
folder and deliverable.yaml, ``MZ4xx`` template text left in. Field values are judged by
:mod:`modelzoo_kit.fieldrules`, the same functions the metadata model uses, so a README and a
deliverable.yaml can never disagree about what a valid version or size is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from modelzoo_kit import fieldrules
from modelzoo_kit.errors import InputFileError, ModelzooError
from modelzoo_kit.findings import Finding, Rule, Severity, register_rules
from modelzoo_kit.folder import files_below
from modelzoo_kit.layouts import (
    DELIVERABLE_FILE,
    README_FILES,
    README_LANGUAGES,
    TEMPLATE,
    Layout,
    SectionSpec,
    get_layout,
)
from modelzoo_kit.readme import (
    TEMPLATE_LABELS,
    Fence,
    Link,
    ReadmeDocument,
    ReferenceBlock,
    Section,
    Table,
    clean_heading_title,
    normalise_section_title,
    parse_readme,
    plain_text,
    read_readme,
)
from modelzoo_kit.results import ResultsTable, read_results_table

if TYPE_CHECKING:
    from modelzoo_kit.metadata import Deliverable


_E, _W = Severity.ERROR, Severity.WARNING

#: Every rule the validator applies, in the kit's one registry (:data:`findings.RULES`).
RULES: dict[str, Rule] = register_rules(
    *(
        Rule("MZ001", _E, "README is not valid UTF-8 (bytes that cannot be read)"),
        Rule("MZ002", _E, "README cannot be read at all (binary or unreadable file)"),
        Rule("MZ100", _W, "a training folder's README follows no known layout"),
        Rule("MZ101", _E, "a section the template requires is missing"),
        Rule("MZ102", _W, "template sections are not in the template's order"),
        Rule("MZ103", _W, "heading written without a space after '#' (renders as text)"),
        Rule("MZ104", _W, "<h2 id> anchor names a different section than its title"),
        Rule("MZ105", _W, "table-of-contents link points to no heading or anchor"),
        Rule("MZ106", _W, "heading ends with a colon"),
        Rule("MZ107", _W, "broken markdown link (']( ' without its '[')"),
        Rule("MZ108", _W, "section title written as bold text instead of a heading"),
        Rule("MZ109", _E, "a sub-section the layout requires is missing"),
        Rule("MZ201", _E, "basic-information field missing"),
        Rule("MZ202", _E, "basic-information field written more than once (a forged line?)"),
        Rule("MZ210", _E, "publisher invalid"),
        Rule("MZ211", _E, "application domain not in the template's list"),
        Rule("MZ212", _E, "version not two-part major.minor"),
        Rule("MZ213", _E, "modified date invalid"),
        Rule("MZ214", _E, "size breaks the xxK / xxM rule"),
        Rule("MZ215", _E, "framework without a version, or misspelt"),
        Rule("MZ216", _E, "model format invalid"),
        Rule("MZ217", _E, "precision not FP32 / FP16 / Mixed"),
        Rule("MZ218", _E, "processor invalid"),
        Rule("MZ219", _E, "category not Benchmark / Official / Research / Tutorial"),
        Rule("MZ220", _E, "description invalid"),
        Rule("MZ230", _W, "field label written with broken markup or as a heading"),
        Rule("MZ240", _W, "no reference implementation (参考实现) entry"),
        Rule("MZ241", _E, "reference implementation entry is empty"),
        Rule("MZ242", _E, "reference implementation gives no branch / commit_id"),
        Rule("MZ243", _E, "invalid url, branch, commit_id or code_path in a code reference"),
        Rule("MZ244", _E, "adaptation (适配昇腾 AI 处理器的实现) entry missing or empty"),
        Rule("MZ245", _W, "adaptation entry lacks url, branch, commit_id or code_path"),
        Rule("MZ246", _E, "adaptation code_path is not the model's own folder"),
        Rule("MZ250", _E, "the results section (训练结果展示) has no table"),
        Rule("MZ251", _E, "the results table lacks a NAME or throughput column"),
        Rule("MZ252", _E, "a results-table throughput is not a number"),
        Rule("MZ253", _W, "no NPU row of the results table gives an accuracy"),
        Rule("MZ254", _E, "the results table has no row for a card count the scripts train"),
        Rule("MZ255", _E, "the environment section has no supported-framework-version table"),
        Rule("MZ301", _E, "image named by the README is not in the folder"),
        Rule("MZ302", _E, "script named by the README is not in the folder"),
        Rule("MZ303", _E, "README disagrees with deliverable.yaml"),
        Rule("MZ304", _E, "deliverable.yaml is invalid"),
        Rule("MZ305", _E, "deliverable folder has no README.md"),
        Rule("MZ306", _E, "file linked by the README is not in the folder"),
        Rule("MZ307", _E, "deliverable.yaml is a draft with a decision still open"),
        Rule("MZ401", _E, "template placeholder or instruction left in"),
        Rule("MZ402", _E, "template example text copied verbatim"),
    )
)

#: The basic-information field -> the rule id for an invalid value.
FIELD_RULE_IDS: dict[str, str] = {
    "publisher": "MZ210",
    "application_domain": "MZ211",
    "version": "MZ212",
    "modified": "MZ213",
    "size": "MZ214",
    "framework": "MZ215",
    "model_format": "MZ216",
    "precision": "MZ217",
    "processor": "MZ218",
    "category": "MZ219",
    "description": "MZ220",
}


def finding(rule_id: str, path: str, line: int | None, message: str, hint: str = "") -> Finding:
    return RULES[rule_id].finding(path, line, message, hint)


# --------------------------------------------------------------------------- the README


def check_readme(
    document: ReadmeDocument,
    folder: Path | None = None,
    path: str | None = None,
    layout: Layout = TEMPLATE,
) -> list[Finding]:
    """Every finding about one README read as ``layout``. ``folder`` (the deliverable's folder)
    enables the checks that the files the README names exist; ``path`` is how findings name
    the file."""
    shown = path if path is not None else document.path
    findings: list[Finding] = []
    for check in _DOCUMENT_CHECKS:
        findings.extend(check(document, shown))
    for layout_check in _LAYOUT_CHECKS:
        findings.extend(layout_check(document, shown, layout))
    if folder is not None:
        findings.extend(check_files_named(document, folder, shown))
        for folder_check in _FOLDER_CHECKS:
            findings.extend(folder_check(document, folder, shown, layout))
    return findings


def check_encoding(document: ReadmeDocument, path: str) -> Iterator[Finding]:
    bad = document.encoding_problems
    if bad:
        more = f" (and {len(bad) - 1} more line(s))" if len(bad) > 1 else ""
        yield finding(
            "MZ001",
            path,
            bad[0],
            f"text that is not valid UTF-8 or was mis-decoded (U+FFFD){more}",
            "re-save the README as UTF-8 from a copy whose characters are intact",
        )


def _section_key(title: str) -> str:
    name = normalise_section_title(title)
    name = re.sub(r"[【\[][^】\]]*[】\]]\s*$", "", name).strip()
    return name.rstrip("。.").lower()


def find_layout_sections(
    sections: Iterable[Section], specs: Iterable[SectionSpec]
) -> dict[str, Section]:
    """Layout section name -> the first of ``sections`` whose title counts as it."""
    found: dict[str, Section] = {}
    specs = tuple(specs)
    for section in sections:
        key = _section_key(section.title)
        for spec in specs:
            if spec.name not in found and spec.matches(key):
                found[spec.name] = section
    return found


def find_required_sections(
    document: ReadmeDocument, layout: Layout = TEMPLATE
) -> dict[str, Section]:
    """Top section name of ``layout`` -> the first heading that counts as it."""
    return find_layout_sections(document.sections, layout.sections)


def _add_hint(layout: Layout, name: str, level: int) -> str:
    if layout.html_anchors and level == 0:
        return f"add the template's section '{name}' (as <h2 id=\"{name}.md\">)"
    return f"add the section '{name}' (as {'#' * (layout.top_level + level)} {name})"


def check_sections(document: ReadmeDocument, path: str, layout: Layout) -> Iterator[Finding]:
    found = find_required_sections(document, layout)
    toc_targets = {
        unquote(link.target[1:]) for link in document.links if link.target.startswith("#")
    }
    for spec in layout.sections:
        if spec.name in found:
            section = found[spec.name]
            yield from _check_subsections(document, path, layout, spec, section)
            continue
        if not spec.required:
            continue
        hidden = _heading_in_code_block(document, tuple(spec.aliases))
        if hidden is not None:
            line, fence = hidden
            extent = f"runs to line {fence.end_line}" if fence.closed else "is never closed"
            yield finding(
                "MZ101",
                path,
                line,
                f"missing section `{spec.name}`: its heading (line {line}) is inside the code "
                f"block that opens at line {fence.line} and {extent}, so it shows as code",
                "close the code block before the heading, with ``` indented as the opening "
                "one (indented 4 spaces more, it is read as code)",
            )
            continue
        listed = any(spec.matches(_section_key(t.removesuffix(".md"))) for t in toc_targets)
        where = " (the table of contents lists it, the body does not have it)" if listed else ""
        yield finding(
            "MZ101",
            path,
            None,
            f"missing section `{spec.name}`{where}",
            _add_hint(layout, spec.name, 0),
        )
    # An optional section (公网地址说明) may stand anywhere; the required ones keep their order.
    order = [spec.name for spec in layout.required]
    present = sorted(
        ((name, section) for name, section in found.items() if name in order),
        key=lambda item: item[1].line,
    )
    expected = sorted(present, key=lambda item: order.index(item[0]))
    if [name for name, _ in present] != [name for name, _ in expected]:
        seen: list[str] = []
        for name, section in present:
            if seen and order.index(name) < max(order.index(s) for s in seen):
                yield finding(
                    "MZ102",
                    path,
                    section.line,
                    f"section `{name}` comes after a section {layout.called} puts after it",
                    "order: " + " > ".join(order),
                )
                break
            seen.append(name)
    for section in document.sections:
        if section.kind == "unspaced":
            raw = document.lines[section.line - 1].strip()
            yield finding(
                "MZ103",
                path,
                section.line,
                f"heading {raw[:40]!r} has no space after '#', so it renders as plain text",
                "write a space between the #s and the title",
            )
        elif section.kind == "html" and section.anchor and section.anchor.endswith(".md"):
            named = _section_key(section.anchor[:-3])
            if (
                layout.html_anchors
                and named != _section_key(section.title)
                and any(spec.matches(named) for spec in layout.sections)
            ):
                yield finding(
                    "MZ104",
                    path,
                    section.line,
                    f"heading id {section.anchor!r} names another section than its title "
                    f"{section.title!r}",
                    "make the id the title followed by .md",
                )


def _check_subsections(
    document: ReadmeDocument, path: str, layout: Layout, spec: SectionSpec, section: Section
) -> Iterator[Finding]:
    if not spec.subsections:
        return
    below = [s for s in document.sections if section.line < s.line <= section.end_line]
    found = find_layout_sections(below, spec.subsections)
    elsewhere = find_layout_sections(document.sections, spec.subsections)
    for sub in spec.subsections:
        if sub.required and sub.name not in found:
            misplaced = elsewhere.get(sub.name)
            where = (
                f" (line {misplaced.line} has it, but at a heading level that puts it outside)"
                if misplaced is not None
                else ""
            )
            yield finding(
                "MZ109",
                path,
                section.line,
                f"section `{spec.name}` has no sub-section `{sub.name}`{where}",
                _add_hint(layout, sub.name, 1) + f" under '{spec.name}'",
            )


_HEADING_IN_CODE = re.compile(
    r"^\s*(?:#{1,6}\s*(?P<markdown>.+?)|<h[1-6][^>]*>(?P<html>.*?)</h[1-6]\s*>)\s*$", re.I
)


def _heading_in_code_block(
    document: ReadmeDocument, aliases: tuple[str, ...]
) -> tuple[int, Fence] | None:
    """A section's heading swallowed by a code fence (never closed, or closed by a line the
    author indented too far): its 1-based line and the fence."""
    for fence in document.fences:
        for line in range(fence.line + 1, fence.end_line + 1):
            match = _HEADING_IN_CODE.match(document.lines[line - 1])
            if match is None:
                continue
            title, _ = clean_heading_title(match.group("markdown") or match.group("html") or "")
            if _section_key(title) in aliases:
                return line, fence
    return None


def heading_slug(title: str) -> str:
    """The anchor GitHub and Gitee give a markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return slug.replace(" ", "-")


def check_heading_form(document: ReadmeDocument, path: str) -> Iterator[Finding]:
    """Headings a reader sees as headings but written the wrong way."""
    for section in document.sections:
        if section.kind == "bold":
            yield finding(
                "MZ108",
                path,
                section.line,
                f"section {section.title!r} is bold text, not a heading",
                f"write it as a heading: ## {section.title}",
            )
        elif section.title.rstrip().endswith(("：", ":")):
            yield finding(
                "MZ106",
                path,
                section.line,
                f"heading {section.title!r} ends with a colon",
                "drop the colon: the template's headings have none",
            )


def check_broken_links(document: ReadmeDocument, path: str) -> Iterator[Finding]:
    """``模型来源：Github](https://…)``: the ``[`` is missing, so the link shows as raw text."""
    for stray in document.stray_link_text:
        yield finding(
            "MZ107",
            path,
            stray.line,
            f"broken link: {stray.value.strip()[:60]!r} has '](' without a matching '['",
            "write links as [text](url)",
        )


def check_toc_links(document: ReadmeDocument, path: str) -> Iterator[Finding]:
    targets = set(document.anchors)
    for section in document.sections:
        targets.add(section.title)
        targets.add(heading_slug(section.title))
    anchor_form: list[tuple[Link, Section]] = []
    for link in document.links:
        if not link.target.startswith("#") or link.is_image or len(link.target) < 2:
            continue
        anchor = unquote(link.target[1:])
        if anchor in targets or anchor.lower() in targets:
            continue
        heading = heading_named_by_file_anchor(document, anchor)
        if heading is not None:
            anchor_form.append((link, heading))
            continue
        hidden = _heading_in_code_block(document, (_section_key(anchor.removesuffix(".md")),))
        if hidden is not None:
            line, fence = hidden
            yield finding(
                "MZ105",
                path,
                link.line,
                f"link [{link.text}](#{anchor}) points to a heading (line {line}) inside the "
                f"code block that opens at line {fence.line}, which markdown shows as code",
                "close the code block before the heading",
            )
            continue
        yield finding(
            "MZ105",
            path,
            link.line,
            f"link [{link.text}](#{anchor}) points to no heading or anchor",
            "add the section it names, or fix or remove the link",
        )
    if anchor_form:
        yield _anchor_form_finding(anchor_form, path)


def _anchor_form_finding(pairs: list[tuple[Link, Section]], path: str) -> Finding:
    """One finding for every ``[概述](#概述.md)`` link whose section is a markdown heading: the
    sections are there, and one change (the anchor form) fixes all the links."""
    link, heading = pairs[0]
    slug = heading_slug(heading.title)
    anchor = unquote(link.target[1:])
    first = f"[{link.text}]({link.target}) -> {heading.title!r}, line {heading.line}, #{slug}"
    if len(pairs) == 1:
        message = (
            f"link [{link.text}]({link.target}) uses the template's <h2 id=\"{anchor}\"> anchor, "
            f"but {heading.title!r} (line {heading.line}) is a markdown heading, whose anchor is "
            f"#{slug}: the section is there, the link does not reach it"
        )
    else:
        message = (
            f"{len(pairs)} links use the template's <h2 id=\"X.md\"> anchors, but their sections "
            f"are markdown headings, whose anchors have no .md: the sections are there, the "
            f"links do not reach them (first: {first})"
        )
    return finding(
        "MZ105",
        path,
        link.line,
        message,
        f"link to #{slug}, or write the heading{'s' if len(pairs) > 1 else ''} as the template "
        f"does: <h2 id=\"{anchor}\">{heading.title}</h2>",
    )


def heading_named_by_file_anchor(document: ReadmeDocument, anchor: str) -> Section | None:
    """The heading a ``#概述.md`` link means: the template writes its sections as
    ``<h2 id="概述.md">``, and many READMEs keep that table of contents over ``## 概述``."""
    if not anchor.endswith(".md") or len(anchor) <= 3:
        return None
    wanted = anchor[:-3]
    exact = next((s for s in document.sections if s.title == wanted), None)
    key = _section_key(wanted)
    return exact or next((s for s in document.sections if _section_key(s.title) == key), None)


# --------------------------------------------------------------------------- basic information


def check_fields(document: ReadmeDocument, path: str, layout: Layout) -> Iterator[Finding]:
    if layout.fields_section is None:
        return  # the layout has no basic-information block; its facts live elsewhere
    anchor_line = document.basic_section.line if document.basic_section else None
    for name, lines in document.repeated_fields.items():
        label = TEMPLATE_LABELS[name]
        read = document.fields[name].line if name in document.fields else lines[0]
        for line in (at for at in lines if at != read):
            yield finding(
                "MZ202",
                path,
                line,
                f"field `{name}` ({label}) is written again here (the one validated is at line "
                f"{read}); a reader cannot tell which one is meant",
                "keep the one line in the basic information; when the README is rendered, "
                "look for a value in deliverable.yaml with a line break in it",
            )
    for name, rule_id in FIELD_RULE_IDS.items():
        entry = document.fields.get(name)
        label = TEMPLATE_LABELS[name]
        if entry is None:
            yield finding(
                "MZ201",
                path,
                anchor_line,
                f"missing field `{name}` ({label})",
                f"add a line '**{label}：<value>**' to the basic information",
            )
            continue
        if not entry.readable:
            continue  # MZ001 reports the unreadable text once
        try:
            fieldrules.FIELD_RULES[name](entry.value)
        except fieldrules.FieldRuleError as exc:
            yield finding(rule_id, path, entry.line, exc.message, exc.hint)
        markup = [q for q in entry.quirks if "markup" in q or "heading" in q]
        if markup:
            yield finding(
                "MZ230",
                path,
                entry.line,
                f"field `{name}` label {', '.join(markup)}: {entry.raw.strip()[:60]!r}",
                f"write it as the template does: **{label}：value**",
            )


def _check_reference_values(block: ReferenceBlock, path: str) -> Iterator[Finding]:
    checks: dict[str, Callable[[str], fieldrules.Normalised]] = {
        "url": fieldrules.check_repository_url,
        "branch": fieldrules.check_branch,
        "commit_id": fieldrules.check_commit_id,
        "code_path": fieldrules.check_code_path,
    }
    for key, located in block.keys.items():
        try:
            checks[key](located.value)
        except fieldrules.FieldRuleError as exc:
            yield finding("MZ243", path, located.line, f"{block.label}: {exc.message}", exc.hint)
    if "url" not in block.keys and block.url is not None:
        if block.url.note:
            yield finding(
                "MZ243",
                path,
                block.url.line,
                f"{block.label}: {block.url.note}",
                "end the address without punctuation",
            )


def layout_reference(
    document: ReadmeDocument, layout: Layout, role: str
) -> ReferenceBlock | None:
    """The README's reference block of ``role``, when its label is one the layout uses."""
    block = document.reference(role)
    labels = layout.references[role].labels
    if block is None or not labels:
        return block
    return block if re.sub(r"\s+", "", block.label).lower() in labels else None


def check_references(document: ReadmeDocument, path: str, layout: Layout) -> Iterator[Finding]:
    reference = layout_reference(document, layout, "reference")
    wanted = layout.references["reference"].required_keys
    if reference is None:
        yield finding(
            "MZ240",
            path,
            None,
            "no reference implementation (参考实现) entry",
            f"for code from an open-source project give its {_and_list(list(wanted))}; "
            "for self-developed code this can be ignored",
        )
    elif reference.is_empty:
        yield finding(
            "MZ241",
            path,
            reference.line,
            f"reference implementation entry '{reference.label}' is empty",
            f"give {_key_list(wanted)} of the open-source code",
        )
    else:
        missing = [k for k in wanted if k != "url" and k not in reference.keys]
        if missing:
            yield finding(
                "MZ242",
                path,
                reference.line,
                f"reference implementation gives only a URL, no {'/'.join(missing)}",
                f"write {_key_list(wanted, '…')} in a code block",
            )
        yield from _check_reference_values(reference, path)

    adapted = layout_reference(document, layout, "adapted")
    wanted = layout.references["adapted"].required_keys
    if adapted is None or adapted.is_empty:
        yield finding(
            "MZ244",
            path,
            adapted.line if adapted else None,
            "adaptation entry (适配昇腾 AI 处理器的实现) is " + ("empty" if adapted else "missing"),
            f"give {_key_list(wanted)} of the adapted code",
        )
    else:
        missing = [
            k
            for k in wanted
            if k not in adapted.keys and not (k == "url" and adapted.url is not None)
        ]
        if missing:
            yield finding(
                "MZ245",
                path,
                adapted.line,
                f"adaptation entry gives no {', '.join(missing)}",
                f"write {_key_list(wanted, '…')} in a code block",
            )
        yield from _check_reference_values(adapted, path)


def _key_list(keys: tuple[str, ...], value: str = "") -> str:
    """``url=…, branch=… and commit_id=<40 hex>`` for the keys a layout requires."""
    return _and_list([f"{k}={'<40 hex>' if k == 'commit_id' and value else value}" for k in keys])


def _and_list(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


# --------------------------------------------------------------------------- template leftovers

_PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"【深加工】"), "【深加工】"),
    (re.compile(r"描述要点"), "描述要点 (a template instruction)"),
    (re.compile(r"(?<![A-Za-z0-9])xx[1-9](?![A-Za-z0-9])"), "xx1-style dataset placeholder"),
    (re.compile(r"(?<![A-Za-z0-9_/.])(?:XXX|xxx)(?![A-Za-z0-9_])"), "XXX placeholder"),
    (
        re.compile(r"[{｛]\s*(?:docker_image|base_image)\s*[}｝]"),
        "{docker_image}-style placeholder",
    ),
    (re.compile(r"[（(]\s*需优化\s*[)）]"), "（需优化） note"),
    (re.compile(r"一句话描述|可以从以下做选择"), "basic-information instruction"),
)

#: Sentences only the template's own instructions and examples contain.
TEMPLATE_EXAMPLES: tuple[str, ...] = (
    "EfficientNets是一系列图像分类网络",
    "基于TensorFlow框架的EDVR视频超分网络训练代码",
    "对于开源网络，请给出网络简介",
    "对于自研网络，需要对网络进行较详细的介绍",
    "有分类的提示信息",
    "版本号规则，2位",
    "如训练后得到的ckpt文件大小",
    "提供Docker镜像构建命令或脚本",
    "提供训练环境+配置，让训练跑起来",
    "支持的网络和特性，那些是我们的特性需要定义出来需要讨论",
    "是否默认前端环境已经ok",
    "名称中携带相关基本信息并提供基本属性",
)

#: Cheap test a line must pass before the placeholder and example patterns run on it.
_LEFTOVER_HINT = re.compile(
    "|".join(
        ["深加工", "描述要点", "xx", "XX", "docker", "base", "需优化", "一句话描述", "可以从以下"]
        + [re.escape(example[:4]) for example in TEMPLATE_EXAMPLES]
    )
)

_GENERIC_TITLES = ("训练交付件模板", "训练交付件", "交付件模板")

#: ``xxx`` the text itself defines, which makes it a variable the reader fills in, not a
#: template gap: ``其中：xxx是数据集的路径``, ``xxx=/home/dataset``,
#: ``--data_path=XXX(数据集的绝对路径)``.
_VARIABLE_DEFINITION = re.compile(
    r"(?<![A-Za-z0-9_/.])(?P<name>XXX|xxx)(?![A-Za-z0-9_])\s*"
    r"(?:是|为|表示|指|代表|即|=\s*[^\s|]|[（(][^)）]*[\u4e00-\u9fff][^)）]*[)）]"
    r"|(?:is|means|stands for)\s)"
)


def _defined_variables(lines: list[str], candidates: list[int]) -> set[str]:
    """The ``xxx`` spellings the README defines somewhere (then every use is the variable)."""
    found: set[str] = set()
    for index in candidates:
        line = lines[index]
        if ("xxx" in line or "XXX" in line) and len(line) <= 5000:
            found.update(m.group("name") for m in _VARIABLE_DEFINITION.finditer(plain_text(line)))
    return found


def check_template_leftovers(document: ReadmeDocument, path: str) -> Iterator[Finding]:
    title = document.title
    if title is not None and title.value.strip() in _GENERIC_TITLES:
        yield finding(
            "MZ401",
            path,
            title.line,
            f"document title {title.value!r} is the template's, not the model's name",
            "title the README with the model's name",
        )
    lines = document.lines
    candidates = document.lines_matching(_LEFTOVER_HINT)
    variables = _defined_variables(lines, candidates)
    for index in candidates:
        line = lines[index]
        if len(line) > 5000:
            continue
        text = plain_text(line)
        for pattern, what in _PLACEHOLDERS:
            match = pattern.search(text)
            if match and match.group(0) not in variables:
                yield finding(
                    "MZ401",
                    path,
                    index + 1,
                    f"template placeholder left in: {what} ({match.group(0)!r})",
                    "replace it with this model's own text",
                )
                break
        for example in TEMPLATE_EXAMPLES:
            if example[:4] in text and example in text:
                yield finding(
                    "MZ402",
                    path,
                    index + 1,
                    f"template text copied verbatim: {example!r}",
                    "write this model's own text in its place",
                )
                break


def tables_in(document: ReadmeDocument, layout: Layout, name: str | None) -> list[Table]:
    """The tables inside the layout's section (or sub-section) called ``name``."""
    if name is None:
        return []
    section = find_layout_sections(document.sections, _all_specs(layout)).get(name)
    if section is None:
        return []
    return [t for t in document.tables if section.line < t.line <= section.end_line]


def _all_specs(layout: Layout) -> tuple[SectionSpec, ...]:
    return tuple(s for top in layout.sections for s in (top, *top.subsections))


def check_tables(document: ReadmeDocument, path: str, layout: Layout) -> Iterator[Finding]:
    """The layout's results table (训练结果展示) and framework-version table (准备环境)."""
    sections = find_layout_sections(document.sections, _all_specs(layout))
    if layout.results_section is not None and layout.results_section in sections:
        tables = tables_in(document, layout, layout.results_section)
        section = sections[layout.results_section]
        if not tables:
            yield finding(
                "MZ250",
                path,
                section.line,
                f"section `{layout.results_section}` has no results table",
                "give a table: NAME | <accuracy> | FPS | Epochs | AMP_Type | Torch_Version, "
                "one row per configuration (1p-NPU, 8p-NPU, and a competitor row if measured)",
            )
        else:
            yield from _check_results_tables([read_results_table(t) for t in tables], path)
    if layout.environment_section is not None and layout.environment_section in sections:
        tables = tables_in(document, layout, layout.environment_section)
        if not any(lists_framework_versions(t) for t in tables):
            yield finding(
                "MZ255",
                path,
                sections[layout.environment_section].line,
                f"section `{layout.environment_section}` has no table of the supported "
                "framework versions",
                "give the version table: | Torch_Version | 三方库依赖版本 | with a row per "
                "supported PyTorch version",
            )


_TORCH = re.compile(r"torch", re.IGNORECASE)


def lists_framework_versions(table: Table) -> bool:
    """A ``| Torch_Version | 三方库依赖版本 |`` table, or the older ``| 配套 | 版本 |`` form
    with a PyTorch row."""
    return any(_TORCH.search(h) for h in table.header) or any(
        row.cells and _TORCH.search(row.cells[0]) for row in table.rows
    )


def _check_results_tables(tables: list[ResultsTable], path: str) -> Iterator[Finding]:
    """Each table's columns and figures; the accuracy over all of them (a README may give
    pre-training and fine-tuning tables, only one with an accuracy)."""
    readable = []
    for results in tables:
        if results.problems:
            for problem in results.problems:
                yield finding("MZ251", path, results.line, problem, _RESULTS_HINT)
        else:
            readable.append(results)
            yield from _check_results_rows(results, path)
    npu = [r for results in readable for r in results.rows if not r.is_baseline]
    metrics = [name for results in readable for name in results.metric_names]
    if (
        npu
        and metrics
        and not any(
            value is not None and value.has_figure for r in npu for value in r.metrics.values()
        )
    ):
        yield finding(
            "MZ253",
            path,
            readable[0].line,
            "no NPU row of the results table gives an accuracy: every "
            f"{'/'.join(dict.fromkeys(metrics))} cell is empty or -",
            "give the accuracy the full training run (train_full_*.sh) reached",
        )


def _check_results_rows(results: ResultsTable, path: str) -> Iterator[Finding]:
    for row in results.rows:
        value = row.throughput
        if value is not None and not value.is_number:
            yield finding(
                "MZ252",
                path,
                row.line,
                f"results row {row.name!r}: throughput {value.text!r} is not a number",
                "write the measured figure as a plain number (or - when not measured)",
            )


_RESULTS_HINT = "write the table as | NAME | <accuracy> | FPS | Epochs | AMP_Type | Torch_Version |"


#: Checks that read every README alike, whatever its layout.
_DOCUMENT_CHECKS: tuple[Callable[[ReadmeDocument, str], Iterable[Finding]], ...] = (
    check_encoding,
    check_toc_links,
    check_heading_form,
    check_broken_links,
    check_template_leftovers,
)

#: Checks that read the layout: its sections, fields, reference blocks and tables.
_LAYOUT_CHECKS: tuple[Callable[[ReadmeDocument, str, Layout], Iterable[Finding]], ...] = (
    check_sections,
    check_fields,
    check_references,
    check_tables,
)


# --------------------------------------------------------------------------- the folder

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)


def _local_target(target: str) -> str | None:
    """The folder-relative path a link names, or None for a remote or templated one. A
    backslash is a path separator, as it is to the browsers that show the README
    (``.\\img\\acc.png`` is ``img/acc.png``)."""
    target = unquote(target.split("#", 1)[0].split("?", 1)[0]).strip().replace("\\", "/")
    if not target or _REMOTE.match(target) or target.startswith(("/", "{", "<", "$")):
        return None
    return target


#: ``source xxx/ascend-toolkit/set_env.sh``: a path the reader is told to fill in.
_PLACEHOLDER_DIR = re.compile(r"^(?:x{2,}|X{2,}|your[\w-]*|path[_-]?to)/")


def check_files_named(document: ReadmeDocument, folder: Path, path: str) -> Iterator[Finding]:
    """Images and scripts the README names must be in the deliverable's folder."""
    seen: set[str] = set()
    root = folder.resolve()
    for link in document.links:
        if not link.is_image:
            continue
        target = _local_target(link.target)
        if target is None or target in seen:
            continue
        seen.add(target)
        if not _inside_exists(root, target):
            yield finding(
                "MZ301",
                path,
                link.line,
                f"image {target!r} is not in the folder",
                "add the image next to the README or fix the path",
            )
    files: dict[str, list[str]] | None = None
    for script in document.scripts:
        target = script.value
        if target in seen or target.startswith(("/", "$", "{")) or _PLACEHOLDER_DIR.match(target):
            continue
        seen.add(target)
        if _inside_exists(root, target):
            continue
        if files is None:
            files = _by_name(_relative_files(root))
        # READMEs often `cd test` first and then `bash train_full_1p.sh`: accept the script
        # anywhere below the folder.
        if any(
            f == target or f.endswith("/" + target)
            for f in files.get(target.rpartition("/")[2], ())
        ):
            continue
        if _run_elsewhere(document, script.line, target, root):
            continue
        yield finding(
            "MZ302",
            path,
            script.line,
            f"script {target!r} is not in the folder",
            "add the script or fix the command",
        )


_CD = re.compile(r"(?:^|[\s;&|(])cd\s+([^\s;&|)]+)")


def _run_elsewhere(document: ReadmeDocument, line: int, script: str, root: Path) -> bool:
    """Whether the command runs ``script`` after a ``cd`` into a folder the deliverable does
    not have (``git clone …mmcv; cd mmcv; python3 setup.py build_ext``): the script belongs to
    that other checkout. Looks at the line, and up the code block it sits in."""
    lines = document.lines
    text = lines[line - 1]
    before = text[: text.find(script)] if script in text else text
    chunks = [before]
    index = line - 2
    while index >= 0 and index > line - 30 and not lines[index].lstrip().startswith(("```", "~~~")):
        chunks.append(lines[index])
        index -= 1
    for chunk in chunks:
        targets = _CD.findall(chunk)
        if targets:
            where = targets[-1].strip("'\"`")
            if where in (".", "..", "-", "~") or where.startswith(("$", "/", "{", "<")):
                return False
            return not (root / where).is_dir()
    return False


def check_linked_files(
    document: ReadmeDocument, folder: Path, path: str, layout: Layout
) -> Iterator[Finding]:
    """Local files the README links to (``[LICENSE](LICENSE)``) must exist. A table of contents
    written as file links (``[概述](概述.md)``) names files no one wrote: one finding for the
    whole table, saying the links mean the sections."""
    seen: set[str] = set()
    titles = {_section_key(s.title) for s in document.sections}
    as_files: list[Link] = []
    for link in document.links:
        if link.is_image:
            continue
        target = _local_target(link.target.replace("\\", "/"))
        if target is None or target in seen:
            continue
        seen.add(target)
        try:
            exists = (folder / target).exists()
        except (OSError, ValueError):
            exists = False
        if exists:
            continue
        if target.endswith(".md") and _section_key(target[:-3]) in titles:
            as_files.append(link)
            continue
        yield finding(
            "MZ306",
            path,
            link.line,
            f"link [{link.text}]({link.target}) names a file that is not in the folder",
            "add the file or fix the link",
        )
    if as_files:
        names = ", ".join(link.target for link in as_files[:3])
        more = f" and {len(as_files) - 3} more" if len(as_files) > 3 else ""
        first = as_files[0]
        yield finding(
            "MZ306",
            path,
            first.line,
            f"the table of contents links {len(as_files)} section(s) as files that do not "
            f"exist ({names}{more})",
            f"link each section by its anchor: [{first.text}](#{heading_slug(first.text)})",
        )


def check_code_path_folder(
    document: ReadmeDocument, folder: Path, path: str, layout: Layout
) -> Iterator[Finding]:
    """The adapted ``code_path=`` must lead to this model's own folder, not its parent."""
    name = folder.resolve().name
    for role, convention in layout.references.items():
        block = layout_reference(document, layout, role)
        if not convention.code_path_is_model_folder or block is None:
            continue
        located = block.keys.get("code_path")
        if located is None or not located.value.strip():
            continue
        parts = [p for p in located.value.strip().strip("/").split("/") if p not in ("", ".")]
        if parts and parts[-1] == name:
            continue
        parent = (
            " (the folder above the model's)"
            if parts and parts[-1] == folder.resolve().parent.name
            else ""
        )
        yield finding(
            "MZ246",
            path,
            located.line,
            f"code_path {located.value!r} is not the model's own folder {name!r}{parent}",
            f"write code_path={'/'.join([*parts, name]) if parent else '…/' + name}",
        )


#: ``test/train_full_8p.sh`` -> 8: the card counts a deliverable's scripts train on.
_TRAIN_SCRIPT = re.compile(r"^train_\w*?_(\d{1,2})p\.sh$")


def script_card_counts(folder: Path) -> set[int]:
    """Card counts (1, 8) of the training scripts in ``folder/test``."""
    try:
        names = [entry.name for entry in os.scandir(folder / "test")]
    except OSError:
        return set()
    counts = {int(m.group(1)) for n in names if (m := _TRAIN_SCRIPT.match(n))}
    return counts & {1, 8}


def check_results_rows(
    document: ReadmeDocument, folder: Path, path: str, layout: Layout
) -> Iterator[Finding]:
    """The results table has a row for each card count the training scripts run (1p, 8p)."""
    tables = [read_results_table(t) for t in tables_in(document, layout, layout.results_section)]
    readable = [t for t in tables if not t.problems and t.rows]
    if not readable:
        return
    shown = set().union(*(t.cards() for t in readable))
    if not shown and not any(r.cards for t in readable for r in t.rows):
        return  # rows not named by card count: nothing to compare
    for cards in sorted(script_card_counts(folder) - shown):
        yield finding(
            "MZ254",
            path,
            readable[0].line,
            f"the results table has no {cards}p NPU row, though test/ holds "
            f"train_*_{cards}p.sh scripts",
            f"add the row {cards}p-NPU with what train_full_{cards}p.sh / "
            f"train_performance_{cards}p.sh measured",
        )


#: Checks that compare the README with its folder.
_FOLDER_CHECKS: tuple[Callable[[ReadmeDocument, Path, str, Layout], Iterable[Finding]], ...] = (
    check_linked_files,
    check_code_path_folder,
    check_results_rows,
)


def _relative_files(root: Path, limit: int = 20000) -> set[str]:
    """The files below ``root`` (hidden folders left out), at most ``limit`` of them."""
    found: set[str] = set()
    for path in files_below(root, skip_hidden=True):
        if path.name != "...":
            found.add(str(path))
            if len(found) > limit:
                break
    return found


def _by_name(files: set[str]) -> dict[str, list[str]]:
    """The folder's files by their last path part: "is this script anywhere below the folder"
    looks at the few files of that name, not at every file once per script."""
    named: dict[str, list[str]] = {}
    for path in files:
        named.setdefault(path.rpartition("/")[2], []).append(path)
    return named


def _inside_exists(root: Path, relative: str) -> bool:
    try:
        candidate = (root / relative).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return candidate.is_relative_to(root) and candidate.exists()


# --------------------------------------------------------------------------- deliverable.yaml

#: README file -> the language it is rendered in.


def _comparable(name: str, value: str) -> str:
    """A field value in its canonical spelling where the rule accepts it, else as written."""
    rule = fieldrules.FIELD_RULES.get(name)
    try:
        return rule(value).value if rule else fieldrules.clean(value)
    except fieldrules.FieldRuleError:
        return fieldrules.clean(value)


def check_sync(document: ReadmeDocument, expected: ReadmeDocument, path: str) -> Iterator[Finding]:
    """Compare a README with the README deliverable.yaml renders to: every basic-information
    field and every code reference must say the same thing (``render --check`` compares the
    whole text; this names the fields that differ)."""
    for name, want in expected.fields.items():
        got = document.fields.get(name)
        if got is None or not got.readable:
            continue  # MZ201 / MZ001 already report it
        if _comparable(name, got.value) != _comparable(name, want.value):
            yield finding(
                "MZ303",
                path,
                got.line,
                f"field `{name}` says {got.value!r}, deliverable.yaml says {want.value!r}",
                "run `modelzoo render` to regenerate the README from deliverable.yaml",
            )
    for block in expected.references:
        mine = document.reference(block.role)
        for key, want_value in block.keys.items():
            got_value = mine.keys.get(key) if mine else None
            if got_value is None and mine is not None and key == "url" and mine.url:
                got_value = mine.url
            if got_value is None or got_value.value != want_value.value:
                shown = got_value.value if got_value else "nothing"
                yield finding(
                    "MZ303",
                    path,
                    got_value.line if got_value else (mine.line if mine else None),
                    f"{block.label} {key} is {shown!r}, deliverable.yaml says {want_value.value!r}",
                    "run `modelzoo render` to regenerate the README from deliverable.yaml",
                )


def _unreadable(path: Path, shown: str, exc: InputFileError) -> Finding:
    reason = "; ".join(p.message for p in exc.problems)
    return finding("MZ002", shown, None, f"cannot be read: {reason}", "check the file")


def check_readme_file(
    path: Path, shown: str | None = None, folder: Path | None = None, layout: Layout = TEMPLATE
) -> list[Finding]:
    """Findings for one README file; ``folder`` (default: the README's folder) is where the
    images and scripts it names must be. A file that cannot be read at all gives one MZ002."""
    shown = shown if shown is not None else str(path)
    try:
        document = read_readme(path)
    except InputFileError as exc:
        return [_unreadable(path, shown, exc)]
    return check_readme(document, folder if folder is not None else path.parent, shown, layout)


@dataclass
class FolderResult:
    findings: list[Finding]
    files_checked: int
    deliverable: Deliverable | None


def check_deliverable_folder(
    folder: Path, shown: str | None = None, layout: Layout | None = None
) -> FolderResult:
    """Findings for a deliverable folder: deliverable.yaml (MZ304 for each problem), README.md
    and README.en.md (every README rule, plus MZ303 against what deliverable.yaml renders to).
    A folder without deliverable.yaml is a legacy deliverable: only its README is checked."""
    base = shown if shown is not None else str(folder)
    findings: list[Finding] = []
    files = 0
    deliverable = None
    yaml_path = folder / DELIVERABLE_FILE
    if _present(yaml_path):  # a folder or FIFO by that name is refused by the loader
        files += 1
        deliverable = _load(folder, _join(base, DELIVERABLE_FILE), findings)
    if not _present(folder / README_FILES["zh"]):
        findings.append(
            finding(
                "MZ305",
                _join(base, README_FILES["zh"]),
                None,
                "the deliverable has no README.md",
                "run `modelzoo render` (with deliverable.yaml) or write one from the template",
            )
        )
    for name, lang in README_LANGUAGES.items():
        readme = folder / name
        if not _present(readme):
            continue
        files += 1
        shown_readme = _join(base, name)
        try:
            document = read_readme(readme)
        except InputFileError as exc:
            findings.append(_unreadable(readme, shown_readme, exc))
            continue
        findings.extend(
            check_readme(document, folder, shown_readme, _layout_of(deliverable, layout))
        )
        if deliverable is not None:
            expected = _rendered(deliverable, folder, lang)
            if expected is not None:
                findings.extend(check_sync(document, expected, shown_readme))
    return FolderResult(findings, files, deliverable)


def _present(path: Path) -> bool:
    """Something is there (a file, or a folder, FIFO or broken link the reader refuses)."""
    return path.exists() or path.is_symlink()


def _layout_of(deliverable: Deliverable | None, forced: Layout | None) -> Layout:
    """The layout a deliverable's README is checked as: forced, else the one deliverable.yaml
    names, else the default."""
    if forced is not None:
        return forced
    name = getattr(deliverable, "layout", None)
    return get_layout(name) if isinstance(name, str) else TEMPLATE


def _join(base: str, name: str) -> str:
    return name if base in ("", ".") else f"{base.rstrip('/')}/{name}"


def _load(folder: Path, shown: str, findings: list[Finding]) -> Deliverable | None:
    from modelzoo_kit.loading import load_deliverable

    try:
        deliverable = load_deliverable(folder)
        if deliverable.draft:
            findings.extend(_open_decisions(folder, shown))
        return deliverable
    except InputFileError as exc:
        for problem in exc.problems:
            where = f"{problem.field}: " if problem.field else ""
            findings.append(
                RULES["MZ304"].finding(
                    shown,
                    problem.line,
                    f"{where}{problem.message}",
                    "fix deliverable.yaml (see the schema: `modelzoo schema`)",
                    problem.column,
                )
            )
    except ModelzooError as exc:
        findings.append(finding("MZ304", shown, None, str(exc), "fix deliverable.yaml"))
    return None


def _open_decisions(folder: Path, shown: str) -> list[Finding]:
    """MZ307: each decision a draft leaves open, at its line (the list ``extract`` wrote as the
    file's header)."""
    from modelzoo_kit.loading import draft_problems

    return [
        RULES["MZ307"].finding(
            shown,
            problem.line,
            f"{problem.field}: {problem.message}",
            "decide it in deliverable.yaml; remove `draft: true` once none is left",
            problem.column,
        )
        for problem in draft_problems(folder)
    ]


def _rendered(deliverable: Deliverable, folder: Path, lang: str) -> ReadmeDocument | None:
    """What the README should say, parsed; None when deliverable.yaml cannot be rendered (the
    reason is then already an MZ304 finding or a render error the user sees from render)."""
    from modelzoo_kit.render import render_readme

    try:
        text = render_readme(deliverable, folder, lang)
    except (ModelzooError, OSError):
        return None
    return parse_readme(text, f"{folder}/{lang}")
