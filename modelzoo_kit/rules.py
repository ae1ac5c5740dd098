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
from modelzoo_kit.readme import (
    TEMPLATE_LABELS,
    Fence,
    Link,
    ReadmeDocument,
    ReferenceBlock,
    Section,
    clean_heading_title,
    normalise_section_title,
    parse_readme,
    plain_text,
    read_readme,
)

if TYPE_CHECKING:
    from modelzoo_kit.metadata import Deliverable


_E, _W = Severity.ERROR, Severity.WARNING

#: Every rule the validator applies, in the kit's one registry (:data:`findings.RULES`).
RULES: dict[str, Rule] = register_rules(
    *(
        Rule("MZ001", _E, "README is not valid UTF-8 (bytes that cannot be read)"),
        Rule("MZ002", _E, "README cannot be read at all (binary or unreadable file)"),
        Rule("MZ101", _E, "a section the template requires is missing"),
        Rule("MZ102", _W, "template sections are not in the template's order"),
        Rule("MZ103", _W, "heading written without a space after '#' (renders as text)"),
        Rule("MZ104", _W, "<h2 id> anchor names a different section than its title"),
        Rule("MZ105", _W, "table-of-contents link points to no heading or anchor"),
        Rule("MZ106", _W, "heading ends with a colon"),
        Rule("MZ107", _W, "broken markdown link (']( ' without its '[')"),
        Rule("MZ108", _W, "section title written as bold text instead of a heading"),
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
        Rule("MZ301", _E, "image named by the README is not in the folder"),
        Rule("MZ302", _E, "script named by the README is not in the folder"),
        Rule("MZ303", _E, "README disagrees with deliverable.yaml"),
        Rule("MZ304", _E, "deliverable.yaml is invalid"),
        Rule("MZ305", _E, "deliverable folder has no README.md"),
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

#: Template top-level sections in order: canonical name, and the titles that count as it.
REQUIRED_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("交付件基本信息", ("交付件基本信息", "基本信息", "basic information", "basic info")),
    ("概述", ("概述", "overview")),
    (
        "训练环境准备",
        ("训练环境准备", "training environment", "training environment preparation",
         "training environment setup", "preparing the training environment"),
    ),
    ("快速上手", ("快速上手", "quick start", "getting started")),
    ("迁移学习指导", ("迁移学习指导", "transfer learning", "transfer learning guide")),
    ("高级参考", ("高级参考", "advanced reference", "advanced references")),
)  # fmt: skip


def finding(rule_id: str, path: str, line: int | None, message: str, hint: str = "") -> Finding:
    return RULES[rule_id].finding(path, line, message, hint)


# --------------------------------------------------------------------------- the README


def check_readme(
    document: ReadmeDocument, folder: Path | None = None, path: str | None = None
) -> list[Finding]:
    """Every finding about one README. ``folder`` (the deliverable's folder) enables the checks
    that images and scripts named by the README exist; ``path`` is how findings name the file."""
    shown = path if path is not None else document.path
    findings: list[Finding] = []
    for check in _DOCUMENT_CHECKS:
        findings.extend(check(document, shown))
    if folder is not None:
        findings.extend(check_files_named(document, folder, shown))
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
    return name.lower()


def find_required_sections(document: ReadmeDocument) -> dict[str, Section]:
    """Canonical template section name -> the first heading that counts as it."""
    found: dict[str, Section] = {}
    for section in document.sections:
        key = _section_key(section.title)
        for canonical, aliases in REQUIRED_SECTIONS:
            if canonical not in found and key in aliases:
                found[canonical] = section
    return found


def check_sections(document: ReadmeDocument, path: str) -> Iterator[Finding]:
    found = find_required_sections(document)
    toc_targets = {
        unquote(link.target[1:]) for link in document.links if link.target.startswith("#")
    }
    for canonical, aliases in REQUIRED_SECTIONS:
        if canonical in found:
            continue
        hidden = _heading_in_code_block(document, aliases)
        if hidden is not None:
            line, fence = hidden
            extent = f"runs to line {fence.end_line}" if fence.closed else "is never closed"
            yield finding(
                "MZ101",
                path,
                line,
                f"missing section `{canonical}`: its heading (line {line}) is inside the code "
                f"block that opens at line {fence.line} and {extent}, so it shows as code",
                "close the code block before the heading, with ``` indented as the opening "
                "one (indented 4 spaces more, it is read as code)",
            )
            continue
        listed = any(_section_key(t.removesuffix(".md")) in aliases for t in toc_targets)
        where = " (the table of contents lists it, the body does not have it)" if listed else ""
        yield finding(
            "MZ101",
            path,
            None,
            f"missing section `{canonical}`{where}",
            f"add the template's section '{canonical}' (as <h2 id=\"{canonical}.md\">)",
        )
    order = [name for name, _ in REQUIRED_SECTIONS]
    present = sorted(found.items(), key=lambda item: item[1].line)
    expected = sorted(present, key=lambda item: order.index(item[0]))
    if [name for name, _ in present] != [name for name, _ in expected]:
        seen: list[str] = []
        for name, section in present:
            if seen and order.index(name) < max(order.index(s) for s in seen):
                yield finding(
                    "MZ102",
                    path,
                    section.line,
                    f"section `{name}` comes after a section the template puts after it",
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
            if named != _section_key(section.title) and any(
                named in aliases for _, aliases in REQUIRED_SECTIONS
            ):
                yield finding(
                    "MZ104",
                    path,
                    section.line,
                    f"heading id {section.anchor!r} names another section than its title "
                    f"{section.title!r}",
                    "make the id the title followed by .md",
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
        heading = _heading_named_by_file_anchor(document, anchor)
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


def _heading_named_by_file_anchor(document: ReadmeDocument, anchor: str) -> Section | None:
    """The heading a ``#概述.md`` link means: the template writes its sections as
    ``<h2 id="概述.md">``, and many READMEs keep that table of contents over ``## 概述``."""
    if not anchor.endswith(".md") or len(anchor) <= 3:
        return None
    wanted = anchor[:-3]
    exact = next((s for s in document.sections if s.title == wanted), None)
    key = _section_key(wanted)
    return exact or next((s for s in document.sections if _section_key(s.title) == key), None)


# --------------------------------------------------------------------------- basic information


def check_fields(document: ReadmeDocument, path: str) -> Iterator[Finding]:
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


def check_references(document: ReadmeDocument, path: str) -> Iterator[Finding]:
    reference = document.reference("reference")
    if reference is None:
        yield finding(
            "MZ240",
            path,
            None,
            "no reference implementation (参考实现) entry",
            "for code from an open-source project give its url, branch and commit_id; "
            "for self-developed code this can be ignored",
        )
    elif reference.is_empty:
        yield finding(
            "MZ241",
            path,
            reference.line,
            f"reference implementation entry '{reference.label}' is empty",
            "give url=, branch= and commit_id= of the open-source code",
        )
    else:
        missing = [k for k in ("branch", "commit_id") if k not in reference.keys]
        if missing:
            yield finding(
                "MZ242",
                path,
                reference.line,
                f"reference implementation gives only a URL, no {'/'.join(missing)}",
                "write url=…, branch=… and commit_id=<40 hex> in a code block",
            )
        yield from _check_reference_values(reference, path)

    adapted = document.reference("adapted")
    if adapted is None or adapted.is_empty:
        yield finding(
            "MZ244",
            path,
            adapted.line if adapted else None,
            "adaptation entry (适配昇腾 AI 处理器的实现) is " + ("empty" if adapted else "missing"),
            "give url=, branch=, commit_id= and code_path= of the adapted code",
        )
    else:
        missing = [
            k
            for k in ("url", "branch", "commit_id", "code_path")
            if k not in adapted.keys and not (k == "url" and adapted.url is not None)
        ]
        if missing:
            yield finding(
                "MZ245",
                path,
                adapted.line,
                f"adaptation entry gives no {', '.join(missing)}",
                "write url=…, branch=…, commit_id=<40 hex> and code_path=… in a code block",
            )
        yield from _check_reference_values(adapted, path)


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


_DOCUMENT_CHECKS: tuple[Callable[[ReadmeDocument, str], Iterable[Finding]], ...] = (
    check_encoding,
    check_sections,
    check_toc_links,
    check_heading_form,
    check_broken_links,
    check_fields,
    check_references,
    check_template_leftovers,
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
    files: set[str] | None = None
    for script in document.scripts:
        target = script.value
        if target in seen or target.startswith(("/", "$", "{")):
            continue
        seen.add(target)
        if _inside_exists(root, target):
            continue
        if files is None:
            files = _relative_files(root)
        # READMEs often `cd test` first and then `bash train_full_1p.sh`: accept the script
        # anywhere below the folder.
        if any(f == target or f.endswith("/" + target) for f in files):
            continue
        yield finding(
            "MZ302",
            path,
            script.line,
            f"script {target!r} is not in the folder",
            "add the script or fix the command",
        )


def _relative_files(root: Path, limit: int = 20000) -> set[str]:
    found: set[str] = set()
    for current, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        base = Path(current).relative_to(root).as_posix()
        for name in names:
            found.add(name if base == "." else f"{base}/{name}")
        if len(found) > limit:
            break
    return found


def _inside_exists(root: Path, relative: str) -> bool:
    try:
        candidate = (root / relative).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return candidate.is_relative_to(root) and candidate.exists()


# --------------------------------------------------------------------------- deliverable.yaml

#: README file -> the language it is rendered in.
README_LANGUAGES: dict[str, str] = {"README.md": "zh", "README.en.md": "en"}
DELIVERABLE_FILE = "deliverable.yaml"


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
    path: Path, shown: str | None = None, folder: Path | None = None
) -> list[Finding]:
    """Findings for one README file; ``folder`` (default: the README's folder) is where the
    images and scripts it names must be. A file that cannot be read at all gives one MZ002."""
    shown = shown if shown is not None else str(path)
    try:
        document = read_readme(path)
    except InputFileError as exc:
        return [_unreadable(path, shown, exc)]
    return check_readme(document, folder if folder is not None else path.parent, shown)


@dataclass
class FolderResult:
    findings: list[Finding]
    files_checked: int
    deliverable: Deliverable | None


def check_deliverable_folder(folder: Path, shown: str | None = None) -> FolderResult:
    """Findings for a deliverable folder: deliverable.yaml (MZ304 for each problem), README.md
    and README.en.md (every README rule, plus MZ303 against what deliverable.yaml renders to).
    A folder without deliverable.yaml is a legacy deliverable: only its README is checked."""
    base = shown if shown is not None else str(folder)
    findings: list[Finding] = []
    files = 0
    deliverable = None
    yaml_path = folder / DELIVERABLE_FILE
    if yaml_path.is_file():
        files += 1
        deliverable = _load(folder, _join(base, DELIVERABLE_FILE), findings)
    if not (folder / "README.md").is_file():
        findings.append(
            finding(
                "MZ305",
                _join(base, "README.md"),
                None,
                "the deliverable has no README.md",
                "run `modelzoo render` (with deliverable.yaml) or write one from the template",
            )
        )
    for name, lang in README_LANGUAGES.items():
        readme = folder / name
        if not readme.is_file():
            continue
        files += 1
        shown_readme = _join(base, name)
        try:
            document = read_readme(readme)
        except InputFileError as exc:
            findings.append(_unreadable(readme, shown_readme, exc))
            continue
        findings.extend(check_readme(document, folder, shown_readme))
        if deliverable is not None:
            expected = _rendered(deliverable, folder, lang)
            if expected is not None:
                findings.extend(check_sync(document, expected, shown_readme))
    return FolderResult(findings, files, deliverable)


def _join(base: str, name: str) -> str:
    return name if base in ("", ".") else f"{base.rstrip('/')}/{name}"


def _load(folder: Path, shown: str, findings: list[Finding]) -> Deliverable | None:
    from modelzoo_kit.loading import load_deliverable

    try:
        return load_deliverable(folder)
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


def _rendered(deliverable: Deliverable, folder: Path, lang: str) -> ReadmeDocument | None:
    """What the README should say, parsed; None when deliverable.yaml cannot be rendered (the
    reason is then already an MZ304 finding or a render error the user sees from render)."""
    from modelzoo_kit.render import render_readme

    try:
        text = render_readme(deliverable, folder, lang)
    except (ModelzooError, OSError):
        return None
    return parse_readme(text, f"{folder}/{lang}")
