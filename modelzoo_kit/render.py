"""Deliverable metadata -> README text (jinja2 templates in ``templates/``).

``zh`` follows the training-deliverable template section by section (headings, anchors, field
labels) and leaves out its instructions; ``en`` is the same document in English. What the folder
already knows is derived, not written: the size from the checkpoint, the directory tree from the
files, the parameter table from the training script's argparse calls, the commands from the
entry points.

The output depends only on the metadata and the folder's files, so rendering is deterministic;
``--check`` in CI compares it byte for byte with the committed README.

Values are data: jinja2 never evaluates text that comes from deliverable.yaml, so ``{{ x }}`` in
a value is printed as written. Markdown is not HTML-escaped (that would corrupt it); the one
HTML block (the image table) is autoescaped by the template.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelzoo_kit import fieldrules
from modelzoo_kit.errors import InputFileError, InputProblem, UsageError
from modelzoo_kit.folder import directory_tree
from modelzoo_kit.inputs import MAX_README_BYTES, read_bytes
from modelzoo_kit.layouts import README_FILES, get_layout
from modelzoo_kit.loading import deliverable_file, load_deliverable
from modelzoo_kit.metadata import (
    LANGUAGES,
    TODO_MARKER,
    Deliverable,
    ScriptDefault,
    Text,
    Todo,
    localize,
)
from modelzoo_kit.resources import templates_dir
from modelzoo_kit.script_params import ScriptParameter, read_parameters
from modelzoo_kit.writing import (
    write_atomically,  # noqa: F401 - re-exported for callers
)

#: Entry points the quick start shows in its own steps, in this order.
TRAINING_ENTRY_POINTS = ("train-1p", "train-8p")
VERIFY_ENTRY_POINT = "evaluate"
#: An entry point whose name ends in one of these words (``evaluate``, ``demo-export``) is
#: described under 推理/验证过程 (inference/validation); the others under 训练过程. Each section
#: keeps deliverable.yaml's order, so a reader meets a run before the evaluation of its output.
INFERENCE_WORDS = ("evaluate", "export", "infer", "predict")


def is_inference_entry(name: str) -> bool:
    return name.rsplit("-", 1)[-1] in INFERENCE_WORDS


@dataclass(frozen=True)
class Rendered:
    """One README: where it goes and its full text."""

    path: Path
    lang: str
    text: str


def languages(choice: str) -> tuple[str, ...]:
    if choice == "all":
        return LANGUAGES
    if choice not in LANGUAGES:
        raise UsageError(f"unknown language {choice!r}; choose one of {', '.join(LANGUAGES)}, all")
    return (choice,)


def render_folder(
    folder: Path, langs: tuple[str, ...] = LANGUAGES, layout: str | None = None
) -> list[Rendered]:
    """Load a deliverable folder and render its READMEs (nothing is written). ``layout``
    renders another layout than the one deliverable.yaml names (moving a deliverable)."""
    folder = Path(folder)
    deliverable = load_deliverable(folder)
    rendered = []
    for lang in langs:
        path = folder / README_FILES[lang]
        text = render_readme(deliverable, folder, lang, layout)
        # Regions are read from a regular file only; a link, FIFO or folder by that name is
        # refused by the command (check_replaceable, stale) with its own message.
        current = _current(path) if path.is_file() and not path.is_symlink() else ""
        rendered.append(Rendered(path, lang, with_kept_regions(text, current)))
    return rendered


def with_kept_regions(text: str, current: str) -> str:
    """The rendered README with the hand-written regions of the one it replaces
    (``<!-- modelzoo:keep -->`` … ``<!-- modelzoo:end -->``) kept byte for byte, each at the end
    of the section it was in. Markers, not a three-way merge: a zoo adopting the kit has no
    earlier rendering to merge from, and a marked region is kept exactly, whatever the rest."""
    from modelzoo_kit.carried import KEEP_BEGIN, kept_regions, place

    if KEEP_BEGIN not in current:
        return text
    return place(text, kept_regions(current))


def _current(path: Path) -> str:
    """The README on disk ("" when there is none), read as every input is."""
    if not path.exists() and not path.is_symlink():
        return ""
    data = read_bytes(path, MAX_README_BYTES, within=path.parent, what="README")
    return data.decode("utf-8", errors="replace")


def render_readme(
    deliverable: Deliverable, folder: Path, lang: str, layout: str | None = None
) -> str:
    """The README text for one language, in ``layout`` (default: the deliverable's)."""
    if lang not in LANGUAGES:
        raise UsageError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    chosen = get_layout(layout or deliverable.layout)
    template = _environment().get_template(chosen.templates[lang])
    text = template.render(**_context(deliverable, Path(folder), lang))
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
    if deliverable.readme_text:
        text = _with_carried_text(text, deliverable, Path(folder), lang, chosen.templates)
    if deliverable.draft:
        text = _with_draft_banner(text, deliverable, Path(folder), lang)
    return text


def _with_carried_text(
    text: str, deliverable: Deliverable, folder: Path, lang: str, templates: dict[str, str]
) -> str:
    """``readme_text`` at the end of the sections it names, bracketed so that ``extract`` knows
    it for copied text (:data:`~modelzoo_kit.carried.CARRIED_BEGIN`). Its keys are the Chinese
    README's headings; the English README has the same headings in the same order, so a key
    names the English heading at the same place."""
    from modelzoo_kit.carried import bracketed, heading_key, place
    from modelzoo_kit.readme import parse_readme

    keys = None
    if lang != "zh":
        zh = _environment().get_template(templates["zh"]).render(
            **_context(deliverable, folder, "zh")
        )
        keys = [heading_key(s.title) for s in parse_readme(zh).sections]
    return place(text, bracketed(deliverable.readme_text), keys)


#: The banner a draft's README opens with, per language.
DRAFT_BANNER = {
    "zh": "> **草稿（Draft）**：本文由 deliverable.yaml 的草稿生成，以下事项尚待作者决定：",
    "en": "> **Draft**: rendered from a draft deliverable.yaml; the author has still to decide:",
}


def _with_draft_banner(text: str, deliverable: Deliverable, folder: Path, lang: str) -> str:
    """A draft's README says so under its title and lists every open decision (the list
    ``validate`` reports as MZ306), so nobody mistakes it for a finished one."""
    from modelzoo_kit.loading import open_decisions

    lines = [DRAFT_BANNER[lang], ">"]
    for loc, message in open_decisions(deliverable, folder):
        where = ".".join(str(part) for part in loc)
        lines.append(f"> -   {md_code(where)}：{md_inline(' '.join(message.split()))}"
                     if lang == "zh" else
                     f"> -   {md_code(where)}: {md_inline(' '.join(message.split()))}")  # fmt: skip
    title, _, rest = text.partition("\n")
    return f"{title}\n\n" + "\n".join(lines) + "\n\n" + rest.lstrip("\n")


def stale(rendered: Rendered) -> str:
    """A unified diff from the file on disk to the rendered text; empty when they agree.

    The README is read as every input is (:func:`~modelzoo_kit.inputs.read_bytes`): a FIFO, a
    folder, an oversized file or a link out of the deliverable folder is refused, never shown.
    Bytes that are not UTF-8 are shown replaced, so ``render`` repairs such a README."""
    current = _current(rendered.path)
    if current == rendered.text:
        return ""
    name = rendered.path.name
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        rendered.text.splitlines(keepends=True),
        fromfile=f"{name} (committed)",
        tofile=f"{name} (rendered)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff)


# --------------------------------------------------------------------------- jinja environment

_ENV: Any = None


def _environment() -> Any:
    global _ENV
    if _ENV is None:
        import jinja2

        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # Markdown; the HTML table turns autoescape on for itself
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _ENV.filters["md_inline"] = md_inline
        _ENV.filters["md_cell"] = md_cell
        _ENV.filters["code"] = md_code
        _ENV.filters["fenced"] = md_fenced
        _ENV.filters["number"] = md_number
    return _ENV


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def md_inline(value: Any) -> str:
    """Plain text made safe inside Markdown emphasis (``**label：value**``): Markdown's special
    characters are backslash-escaped, as the template does (``commit\\_id``)."""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


def md_cell(value: Any) -> str:
    """Plain text made safe inside a Markdown table cell."""
    return md_inline(" ".join(str(value).split()))


def md_code(value: Any) -> str:
    """Inline code that survives backticks in the value."""
    text = str(value)
    fence = "`"
    while fence in text:
        fence += "`"
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def md_number(value: float) -> str:
    """A measured number as short as it can be written and still read back the same
    (``6105``, ``5038.508``): ``%g`` alone rounds to six digits, and extracting the rendered
    table would then give another value than deliverable.yaml's."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


_BACKTICK_RUN = re.compile(r"`+")


def md_fenced(value: Any) -> str:
    """A fenced code block holding ``value`` exactly: the fence is longer than any run of
    backticks in it, so no line of the value can close the block early (a command with
    ```` ``` ```` in it stays code). One trailing newline of the value ends its last line."""
    text = str(value)
    if text.endswith("\n"):
        text = text[:-1]
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


# --------------------------------------------------------------------------- context


def _context(deliverable: Deliverable, folder: Path, lang: str) -> dict[str, Any]:
    def t(text: Text | None) -> str:
        return localize(text, lang).strip("\n")

    basic = deliverable.basic
    advanced = deliverable.advanced
    notes = {path: t(note) for path, note in advanced.files.items()}
    parameters = _parameters(deliverable, folder)
    entry_points = deliverable.entry_points
    adapted = deliverable.overview.adapted
    return {
        "d": deliverable,
        "basic": basic,
        "t": t,
        "lang": lang,
        "size": _size(deliverable, folder),
        "modified": basic.modified_text,
        "domain": basic.application_domain_text,
        "bar": fieldrules.CATEGORY_BARS.get(basic.category),
        "evidence": basic.category_evidence,
        "tree": directory_tree(folder, notes, advanced.tree_exclude),
        "hyperparameters": _hyperparameters(deliverable, folder, parameters),
        "parameter_groups": _grouped(
            [_parameter_row(p, advanced.parameter_help, t) for p in parameters]
        ),
        "training_script": advanced.training_script,
        "training_entries": [(n, entry_points[n]) for n in TRAINING_ENTRY_POINTS],
        "verify_entry": entry_points[VERIFY_ENTRY_POINT],
        # Layouts that show only the training and verifying steps list the others by name, as
        # the template does, so that extract reads each back into its entry point.
        "other_entries": [
            (n, e)
            for n, e in entry_points.items()
            if n not in (*TRAINING_ENTRY_POINTS, VERIFY_ENTRY_POINT)
        ],
        "process_entries": [
            (n, e) for n, e in entry_points.items() if not is_inference_entry(n)
        ],
        "inference_entries": [
            (n, e) for n, e in entry_points.items() if is_inference_entry(n)
        ],
        "repository_name": _repository_name(_clone_url(adapted.url)),
        "clone_url": _clone_url(adapted.url),
        "result_metrics": list(
            dict.fromkeys(m for row in deliverable.results for m in row.metrics)
        ),
        "requirements": _requirements(folder),
    }


def _parameters(deliverable: Deliverable, folder: Path) -> list[ScriptParameter]:
    """The training script's parameters; none in a draft whose script is not decided yet."""
    script = deliverable.advanced.training_script
    if deliverable.draft and (isinstance(script, Todo) or not (folder / script).is_file()):
        return []
    return read_parameters(folder / script, folder)


def _requirements(folder: Path) -> list[str]:
    """The pinned dependencies of requirements.txt, for the layouts that list them."""
    try:
        lines = (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    wanted = (line.split("#", 1)[0].strip() for line in lines)
    return [line for line in wanted if line and not line.startswith("-")]


def _hyperparameters(
    deliverable: Deliverable, folder: Path, parameters: list[ScriptParameter]
) -> list[tuple[str, str]]:
    """The hyperparameter list with ``{flag: --x}`` values replaced by the script's default."""
    defaults = {flag: p.default for p in parameters for flag in p.flags}
    rows: list[tuple[str, str]] = []
    hyperparameters = deliverable.default_config.hyperparameters
    if isinstance(hyperparameters, Todo):
        return [(str(hyperparameters), "")]
    for name, value in hyperparameters.items():
        if isinstance(value, ScriptDefault):
            default = defaults.get(value.flag)
            if default is None and deliverable.draft:
                default = f"{TODO_MARKER}: the script gives no default for {value.flag}"
            if default is None:
                raise InputFileError(
                    [
                        InputProblem(
                            deliverable_file(folder),
                            None,
                            None,
                            f"default_config.hyperparameters.{name}.flag",
                            f"{deliverable.advanced.training_script} gives no default for "
                            f"{value.flag}",
                        )
                    ]
                )
            rows.append((name, default))
        else:
            rows.append((name, str(value)))
    return rows


def _size(deliverable: Deliverable, folder: Path) -> str:
    basic = deliverable.basic
    if basic.checkpoint is not None:
        return fieldrules.format_size((folder / basic.checkpoint).stat().st_size)
    if basic.size is None and deliverable.draft:
        return TODO_MARKER
    if basic.size is None:
        raise InputFileError(
            [
                InputProblem(
                    deliverable_file(folder),
                    None,
                    None,
                    "basic.size",
                    "give the size or the checkpoint to derive it from",
                )
            ]
        )
    return basic.size


def _clone_url(url: str) -> str:
    """The address ``git clone`` takes: a repository's web page (``…/tree/master/x``) is not
    one, its ``….git`` is."""
    split = fieldrules.cloneable(url)
    return split[0] if split is not None else url


def _repository_name(url: str) -> str:
    """``https://host/owner/repo.git`` -> ``repo``: the folder ``git clone`` creates."""
    tail = re.split(r"[/:]", url.rstrip("/"))[-1]
    return tail.removesuffix(".git") or tail


@dataclass(frozen=True)
class ParameterRow:
    name: str
    aliases: tuple[str, ...]
    help: str
    default: str | None
    required: bool
    switch: bool
    choices: tuple[str, ...]
    type: str | None
    group: str | None


def _parameter_row(parameter: ScriptParameter, overrides: dict[str, Text], t: Any) -> ParameterRow:
    override = next((overrides[f] for f in parameter.flags if f in overrides), None)
    return ParameterRow(
        name=parameter.name,
        aliases=tuple(f for f in parameter.flags if f != parameter.name),
        help=t(override) if override is not None else parameter.help,
        default=parameter.default,
        required=parameter.required,
        switch=parameter.is_switch,
        choices=parameter.choices,
        type=parameter.type,
        group=parameter.group,
    )


def _grouped(rows: list[ParameterRow]) -> list[tuple[str | None, list[ParameterRow]]]:
    """Rows by argument group, groups in the order the script declares them."""
    groups: dict[str | None, list[ParameterRow]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    return list(groups.items())
