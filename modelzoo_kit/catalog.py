"""A zoo -> a catalogue: one entry per deliverable, with its tags, facts, results, citations
and status, for the static site (:mod:`modelzoo_kit.catalog_site`) and ``index.json``.

Every deliverable of every layout is listed: a folder with a ``deliverable.yaml`` is read from
it; a README of a known layout (or of none) from what :mod:`modelzoo_kit.extract` reads of it;
a training folder without a README by its name alone. Nothing is validated here: findings and
provenance verdicts come from a ``validate -r --provenance --format json`` report given by the
caller, so the build reads files and never runs a check or touches the network.

Values are untrusted text (they come from READMEs and deliverables). They stay plain strings
here; the site escapes them where they are shown and :func:`safe_url` decides which urls may
become links.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelzoo_kit.errors import InputFileError, InputProblem
from modelzoo_kit.findings import Finding, Severity
from modelzoo_kit.layouts import DELIVERABLE_FILE

if TYPE_CHECKING:
    from modelzoo_kit.catalog_cache import CatalogCache

CATALOG_SCHEMA = 1

#: Facet key -> the label its filter has; the order is the order of the filters.
FACETS: dict[str, str] = {
    "domain": "Domain",
    "framework": "Framework",
    "framework_version": "Framework and version",
    "precision": "Precision",
    "processor": "Processor",
    "category": "Category",
    "layout": "Layout",
}

#: Provenance verdicts, worst first; ``unknown``: no report was given.
VERDICTS = ("fails", "not verified", "verified", "not checked", "unknown")

#: Basic-information fields shown as facts on a model's page (key -> label).
FACTS: dict[str, str] = {
    "publisher": "Publisher",
    "version": "Version",
    "modified": "Modified",
    "size": "Size",
    "model_format": "Model format",
    "description": "Description",
}

_ROLE = re.compile(r"\boverview\.(adapted|inference|reference)\b")
_SAFE_URL = re.compile(r"^(?:https?://[^\s]+|[^:\s]*(?:[/?#][^\s]*)?)$", re.IGNORECASE)


def safe_url(url: str | None) -> str | None:
    """``url`` when it may be a link (http, https, or relative with no scheme), else None.

    A ``javascript:``, ``data:`` or ``file:`` url (in any case, with any leading blank or
    control character) is never a link: the page shows it as text."""
    if not url or not isinstance(url, str):
        return None
    if url != url.strip() or any(ord(c) < 0x20 or c == "\x7f" for c in url):
        return None
    if _SAFE_URL.match(url) is None:
        return None
    head = url.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if ":" in head and not url.lower().startswith(("http://", "https://")):
        return None
    return url


@dataclass(frozen=True)
class Citation:
    """A code reference the deliverable cites, and what provenance said about it."""

    role: str
    url: str
    branch: str
    commit_id: str
    code_path: str
    verdict: str
    findings: tuple[Finding, ...] = ()


@dataclass
class Model:
    """One deliverable of the zoo as the catalogue shows it."""

    id: str
    folder: str
    readme: str
    name: str
    title: str
    source: str
    """``deliverable.yaml``, ``README`` or ``folder`` (a training folder without a README)."""
    layout: str
    tags: dict[str, str]
    facts: dict[str, str]
    summary: str
    paper: tuple[str, str] | None
    results: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    """A finding's path as the report gives it -> that file relative to the zoo."""
    provenance: str = "unknown"

    @property
    def counts(self) -> dict[str, int]:
        counts = {severity.value: 0 for severity in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        return counts

    @property
    def metric_names(self) -> list[str]:
        names: list[str] = []
        for row in self.results:
            names += [n for n in row.get("metrics", {}) if n not in names]
        return names


@dataclass
class Catalog:
    zoo: str
    models: list[Model]
    has_report: bool
    problems: list[str] = field(default_factory=list)

    def facet_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {key: {} for key in FACETS}
        for model in self.models:
            for key in FACETS:
                value = model.tags.get(key, "")
                counts[key][value] = counts[key].get(value, 0) + 1
        return {key: dict(sorted(values.items())) for key, values in counts.items()}


# --------------------------------------------------------------------------- reading a zoo


def build_catalog(
    zoo: Path, report: Path | None = None, jobs: int = 1, cache: CatalogCache | None = None
) -> Catalog:
    """Every deliverable below ``zoo``, with the findings of ``report`` (a ``validate -r
    --format json`` output) where one is given; ``jobs`` > 1 reads the deliverables in that
    many processes; with a ``cache``, a deliverable whose files did not change since it was
    made is not read again. Raises :class:`InputFileError` for a report that is not such a
    file."""
    from modelzoo_kit.walk import classify_folders

    findings = read_report(report) if report is not None else None
    folders, problems = classify_folders(zoo)
    found = [
        FoundFolder(f.folder, f.readme, f.classification.kind, f.classification.layout,
                    os.path.basename(os.path.realpath(zoo / f.folder)))
        for f in folders
        if f.classification.kind.startswith("training")
    ]  # fmt: skip
    sources = _read_every_source(zoo, found, jobs, cache)
    models = [_model(folder, read) for folder, read in zip(found, sources, strict=True)]
    used: set[str] = set()
    for model in models:
        model.id = _unique_id(model.folder, used)
    catalog = Catalog(zoo.resolve().name, models, report is not None,
                      [f"{p.path}: {p.message}" for p in problems])  # fmt: skip
    if findings is not None:
        attach_report(catalog, findings, zoo)
    return catalog


@dataclass(frozen=True)
class FoundFolder:
    """A training folder the walk found, and what the walk took it for."""

    rel: str
    """Relative to the zoo (``.`` for its root)."""
    readme: str
    kind: str
    layout: str | None
    resolved_name: str
    """The folder's own name with symbolic links resolved: a README's deliverable is named
    after it, so it is part of what the folder's data depends on."""


@dataclass
class SourceData:
    """What a deliverable's own files say, for the keys a catalogue shows: the slow part of
    reading a model (libyaml and pydantic, or markdown-it and extract), and the part a
    :class:`~modelzoo_kit.catalog_cache.CatalogCache` keeps between builds."""

    source: str
    """``deliverable.yaml``, ``README`` or ``folder`` (nothing could be read)."""
    data: dict[str, Any]
    """Only :data:`~modelzoo_kit.extract.SHOWN_KEYS`: a model is built from those alone."""
    notes: list[str]
    """Why a file could not be read, for the model's page."""


def read_sources(folder: Path, readme: str, resolved_name: str) -> SourceData:
    """A deliverable's data from its deliverable.yaml, else from its README (named
    ``readme``), else nothing; each file that does not load is a note."""
    from modelzoo_kit.extract import SHOWN_KEYS

    data: dict[str, Any] = {}
    notes: list[str] = []
    source = "folder"
    if (folder / DELIVERABLE_FILE).is_file():
        data, problem = data_from_yaml(folder)
        source = DELIVERABLE_FILE
        if problem:
            notes.append(problem)
    if not data and readme and (folder / readme).is_file():
        data, problem = shown_data_from_readme(folder / readme, resolved_name)
        source = "README"
        if problem:
            notes.append(problem)
    return SourceData(source, {key: data[key] for key in SHOWN_KEYS if key in data}, notes)


def sources_key(zoo: Path, found: FoundFolder) -> list[Any]:
    """Everything :func:`read_sources` depends on for ``found``, as JSON data: the walk's view
    of the folder and the size and modification time (ns) of each file it may read (None: no
    such file). Taken before the files are read, so a file changed while it was read is read
    again next time."""
    from modelzoo_kit.jsoncache import file_stamp

    folder = zoo if found.rel == "." else zoo / found.rel
    return [found.readme, found.kind, found.layout, found.resolved_name,
            file_stamp(folder / DELIVERABLE_FILE),
            file_stamp(folder / found.readme) if found.readme else None]  # fmt: skip


def _read_every_source(
    zoo: Path, found: list[FoundFolder], jobs: int, cache: CatalogCache | None
) -> list[SourceData]:
    """Each folder's :class:`SourceData`: from the cache where its key still holds, else read
    (in ``jobs`` processes when there are many to read)."""
    keys = [sources_key(zoo, folder) for folder in found] if cache is not None else []
    results: list[SourceData | None] = [
        cache.sources(folder.rel, key) for folder, key in zip(found, keys, strict=True)
    ] if cache is not None else [None] * len(found)  # fmt: skip
    missing = [index for index, result in enumerate(results) if result is None]
    read = _read_in_processes([(zoo, found[index]) for index in missing], jobs)
    for index, sources in zip(missing, read, strict=True):
        results[index] = sources
        if cache is not None:
            cache.keep_sources(found[index].rel, keys[index], sources)
    return [result for result in results if result is not None]


def _read_in_processes(tasks: list[tuple[Path, FoundFolder]], jobs: int) -> list[SourceData]:
    if jobs <= 1 or len(tasks) < 64:
        return [_read_task(task) for task in tasks]
    from concurrent.futures import ProcessPoolExecutor

    _import_readers()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_read_task, tasks, chunksize=16))


def _import_readers() -> None:
    """Import the readers before the pool forks, so each worker has them instead of importing
    them again (a third of a second each)."""
    import modelzoo_kit.extract  # noqa: F401
    import modelzoo_kit.loading  # noqa: F401
    import modelzoo_kit.readme  # noqa: F401


def _read_task(task: tuple[Path, FoundFolder]) -> SourceData:
    zoo, found = task
    return read_sources(zoo if found.rel == "." else zoo / found.rel, found.readme,
                        found.resolved_name)  # fmt: skip


def _unique_id(folder: str, used: set[str]) -> str:
    """A file name for the model's page: the folder, ``/`` as ``--``, unique ignoring case."""
    base = "root" if folder == "." else re.sub(r"[^A-Za-z0-9_.-]+", "_", folder.replace("/", "--"))
    base = base.strip(".") or "model"
    candidate, number = base, 2
    while candidate.lower() in used:
        candidate, number = f"{base}-{number}", number + 1
    used.add(candidate.lower())
    return candidate


def _model(found: FoundFolder, sources: SourceData) -> Model:
    """The model the catalogue shows, from the walk's view of its folder and its data."""
    rel, readme, kind = found.rel, found.readme, found.kind
    data, source = sources.data, sources.source
    notes = list(sources.notes)
    if kind == "training-no-readme":
        notes.append("a training folder (test/train_*.sh) without a README")
    elif kind == "training-unknown":
        notes.append("its README follows no known layout")
    name = str(data.get("name") or (found.resolved_name if rel == "." else Path(rel).name))
    layout_name = str(data.get("layout") or found.layout
                      or ("template" if source == DELIVERABLE_FILE else "unknown"))  # fmt: skip
    if kind == "training-no-readme":
        layout_name = "no README"
    overview = _dict(data.get("overview"))
    paper = _dict(overview.get("paper"))
    return Model(
        id="",
        folder=rel,
        readme=readme if rel == "." or not readme else f"{rel}/{readme}",
        name=name,
        title=shown_text(data.get("title")) or name,
        source=source,
        layout=layout_name,
        tags=_tags(_dict(data.get("basic")), layout_name),
        facts=_facts(_dict(data.get("basic"))),
        summary=shown_text(overview.get("summary")),
        paper=_paper(paper),
        results=[_result_row(row) for row in _list(data.get("results")) if isinstance(row, dict)],
        notes=notes,
        citations=[
            Citation(role, shown_text(ref.get("url")), shown_text(ref.get("branch")),
                     shown_text(ref.get("commit_id")), shown_text(ref.get("code_path")), "unknown")
            for role in ("reference", "adapted", "inference")
            if (ref := _dict(overview.get(role)))
        ],  # fmt: skip
    )


def _paper(paper: dict[str, Any]) -> tuple[str, str] | None:
    url = shown_text(paper.get("url"))
    return (shown_text(paper.get("title")) or url, url) if url else None


def _result_row(row: dict[str, Any]) -> dict[str, Any]:
    """A results row with every key the page shows (an extracted row may lack some)."""
    metrics = _dict(row.get("metrics"))
    return {
        "cards": row.get("cards"),
        "baseline": row.get("baseline"),
        "metrics": {str(k): v for k, v in metrics.items()},
        "throughput": row.get("throughput"),
        "epochs": row.get("epochs"),
        "amp_type": row.get("amp_type"),
        "framework_version": row.get("framework_version"),
    }


def data_from_yaml(folder: Path) -> tuple[dict[str, Any], str]:
    """deliverable.yaml as plain data, or ({}, what is wrong with it).

    A file with no alias, nesting as deep as a real one, is parsed by libyaml (a tenth of the
    kit's own loader's time, which matters for a zoo of a thousand); anything else, or any
    problem, goes through :func:`~modelzoo_kit.loading.load_deliverable`, which bounds aliases
    and says where a problem is."""
    from modelzoo_kit.loading import load_deliverable

    fast = _fast_yaml(folder / DELIVERABLE_FILE)
    if fast is not None:
        return fast, ""
    try:
        deliverable = load_deliverable(folder, check_files=False)
    except InputFileError as exc:
        first = exc.problems[0]
        return {}, f"{DELIVERABLE_FILE} does not load ({first.field or 'file'}: {first.message})"
    return deliverable.model_dump(mode="json"), ""


_YAML_NULL = {"", "~", "null", "Null", "NULL"}
_YAML_BOOL = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_YAML_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")


def _plain_scalar(text: str) -> Any:
    """A plain YAML 1.1 scalar as the kit's loader reads it: null, bool, decimal int, else the
    text itself (floats and dates stay text, as loading.py leaves them)."""
    if text in _YAML_NULL:
        return None
    if text in _YAML_BOOL:
        return _YAML_BOOL[text]
    if _YAML_INT.match(text):
        return int(text.replace("_", ""))
    return text


def _fast_yaml(path: Path) -> dict[str, Any] | None:
    """The data of a plain deliverable.yaml, built from libyaml's events, or None (then the
    kit's loader reads it): no libyaml, an alias, a tag, deep nesting, a number the kit's
    loader reads otherwise (hex, octal, sexagesimal), or a value the model refuses."""
    import yaml

    from modelzoo_kit.inputs import MAX_YAML_BYTES, read_text
    from modelzoo_kit.loading import MAX_YAML_DEPTH
    from modelzoo_kit.metadata import Deliverable, cross_field_problems

    parser = getattr(yaml, "CSafeLoader", None)  # libyaml's parser (only its events are used)
    if parser is None:
        return None
    try:
        text = read_text(path, MAX_YAML_BYTES, within=path.parent, what=DELIVERABLE_FILE)
        data = _from_events(yaml.parse(text, Loader=parser), yaml, MAX_YAML_DEPTH)
        if not isinstance(data, dict):
            return None
        deliverable = Deliverable.model_validate(data, context={"defer_cross_checks": True})
        if cross_field_problems(deliverable):
            return None
        dumped = deliverable.model_dump(mode="json")
        json.dumps(dumped, ensure_ascii=False).encode("utf-8")  # no lone surrogate
    except Exception:  # noqa: BLE001 - the kit's loader reads it again and says what is wrong
        return None
    return dumped


class _NotPlain(Exception):
    """A YAML feature the fast path leaves to the kit's loader."""


def _from_events(events: Iterable[Any], yaml: Any, max_depth: int) -> Any:
    stack: list[Any] = []
    keys: list[Any] = []
    root: Any = None

    def add(value: Any) -> None:
        nonlocal root
        if not stack:
            root = value
        elif isinstance(stack[-1], list):
            stack[-1].append(value)
        elif keys[-1] is _NO_KEY:
            if isinstance(value, (dict, list)) or value in stack[-1]:
                raise _NotPlain("a complex or repeated key")
            keys[-1] = value
        else:
            stack[-1][keys[-1]] = value
            keys[-1] = _NO_KEY

    for event in events:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if event.tag not in (None, "!") or event.anchor:
                raise _NotPlain("a tag or an anchor")
            plain = event.implicit[0] and not event.style
            value = _plain_scalar(event.value) if plain else event.value
            if plain and isinstance(value, str) and value[:1] in "0123456789.+-":
                if re.match(r"^[-+]?(?:0[xob]|[0-9][0-9_]*:)", value):
                    raise _NotPlain("a number in another base")
            add(value)
        elif kind in (yaml.MappingStartEvent, yaml.SequenceStartEvent):
            if event.tag not in (None, "!") or event.anchor or len(stack) >= max_depth:
                raise _NotPlain("a tag, an anchor or deep nesting")
            container: Any = {} if kind is yaml.MappingStartEvent else []
            add(container)
            stack.append(container)
            keys.append(_NO_KEY)
        elif kind in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
            stack.pop()
            keys.pop()
        elif kind is yaml.AliasEvent:
            raise _NotPlain("an alias")
    return root


_NO_KEY = object()


def data_from_readme(readme: Path, folder_name: str) -> tuple[dict[str, Any], str]:
    """Everything ``extract`` reads of a README (an exported card's dataset too), or ({}, why
    it cannot be read)."""
    from modelzoo_kit.extract import extract

    document, problem = _readme_document(readme)
    return (extract(document, folder_name).data, "") if document is not None else ({}, problem)


def shown_data_from_readme(readme: Path, folder_name: str) -> tuple[dict[str, Any], str]:
    """What ``extract`` reads of a README for the keys a catalogue shows
    (:data:`~modelzoo_kit.extract.SHOWN_KEYS`), or ({}, why it cannot be read)."""
    from modelzoo_kit.extract import extract_shown

    document, problem = _readme_document(readme)
    return (extract_shown(document, folder_name), "") if document is not None else ({}, problem)


def _readme_document(readme: Path) -> tuple[Any, str]:
    from modelzoo_kit.readme import read_readme

    try:
        return read_readme(readme), ""
    except InputFileError as exc:
        return None, f"{readme.name} cannot be read ({exc.problems[0].message})"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def shown_text(value: Any) -> str:
    """A shown value: a ``{zh, en}`` text as its English words (the catalogue is in English),
    a plain value as it is."""
    if isinstance(value, dict):
        value = value.get("en") or value.get("zh") or ""
    return "" if value is None else str(value)


def _tags(basic: dict[str, Any], layout: str) -> dict[str, str]:
    domain = shown_text(basic.get("application_domain"))
    if domain == "Other" and basic.get("application_domain_note"):
        domain = f"Other ({shown_text(basic['application_domain_note'])})"
    framework = shown_text(basic.get("framework"))
    return {
        "domain": domain,
        "framework": framework.split(" ", 1)[0] if framework else "",
        "framework_version": framework,
        "precision": shown_text(basic.get("precision")),
        "processor": shown_text(basic.get("processor")),
        "category": shown_text(basic.get("category")),
        "layout": layout,
    }


def _facts(basic: dict[str, Any]) -> dict[str, str]:
    facts = {key: shown_text(basic.get(key)) for key in FACTS}
    if facts["modified"]:
        facts["modified"] = facts["modified"].replace("-", ".")
    return {key: value for key, value in facts.items() if value}


# --------------------------------------------------------------------------- the report


def read_report(path: Path) -> list[Finding]:
    """The findings of a ``validate --format json`` report; an :class:`InputFileError`
    naming the file and what is wrong for anything else."""
    from modelzoo_kit.inputs import MAX_SOURCE_BYTES, read_bytes

    def problem(message: str, line: int | None = None) -> InputFileError:
        return InputFileError([InputProblem(path, line, None, "report", message)])

    raw = read_bytes(path, 20 * MAX_SOURCE_BYTES, what="report")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise problem("is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise problem(f"is not JSON ({exc.msg})", exc.lineno) from None
    if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(
        data.get("findings"), list
    ):
        raise problem('is not a `modelzoo validate --format json` report ("schema": 1, findings)')
    findings = []
    for index, item in enumerate(data["findings"]):
        try:
            findings.append(Finding(
                str(item["rule"]), Severity(item["severity"]), str(item["path"]),
                _int(item.get("line")), str(item.get("message", "")), str(item.get("hint", "")),
                _int(item.get("column")),
            ))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise problem(f"findings[{index}] is not a finding (rule, severity, path)") from None
    return findings


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value


def attach_report(catalog: Catalog, findings: Iterable[Finding], zoo: Path) -> None:
    """Give each model the findings below its folder, and its provenance verdicts.

    Report paths are as ``validate`` printed them: relative to where it ran, with the zoo as
    it was named then. The prefix is found from the paths themselves (the one that puts most
    findings inside a model's folder), so a report made elsewhere still fits."""
    findings = list(findings)
    folders = sorted((m.folder for m in catalog.models if m.folder != "."), key=len, reverse=True)
    by_folder = {m.folder: m for m in catalog.models}
    prefix = _report_prefix([f.path for f in findings], folders, zoo)
    for finding in findings:
        rel = _relative(finding.path, prefix, zoo)
        if rel is None:
            continue
        owner = _owning_folder(rel, by_folder)
        model = by_folder.get(owner if owner is not None else ".")
        if model is not None:
            model.findings.append(finding)
            model.files[finding.path] = rel
    for model in catalog.models:
        model.findings.sort(key=Finding.sort_key)
        _judge_provenance(model)


def _owning_folder(rel: str, folders: Container[str]) -> str | None:
    """The deepest of ``folders`` (never ``.``) that is ``rel`` or holds it: its ancestors are
    looked up, not every folder compared (a report of thousands of findings on a zoo of
    thousands of models)."""
    candidate = rel
    while True:
        if candidate != "." and candidate in folders:
            return candidate
        cut = candidate.rfind("/")
        if cut < 0:
            return None
        candidate = candidate[:cut]


def _report_prefix(paths: list[str], folders: list[str], zoo: Path) -> str:
    """The prefix of the report's paths that puts most of them inside a model's folder: for
    each path, the longest of ``folders`` (earliest on a tie) that is a run of its parts."""
    rank = {folder: index for index, folder in enumerate(folders)}
    most_parts = max((folder.count("/") + 1 for folder in folders), default=0)
    votes: dict[str, int] = {}
    for path in paths:
        path = _clean(path)
        inside = "/" + path
        best = _first_ranked(inside, rank, most_parts)
        if best is not None:
            prefix = path[: inside.find("/" + best + "/")]
            votes[prefix] = votes.get(prefix, 0) + 1
    if not votes:
        return _clean(str(zoo))
    return max(sorted(votes), key=lambda p: votes[p])


def _first_ranked(inside: str, rank: dict[str, int], most_parts: int) -> str | None:
    """The folder of least rank that ``inside`` holds between two slashes, or None; runs of
    more than ``most_parts`` parts (no folder has as many) are not looked up."""
    slashes = [at for at, char in enumerate(inside) if char == "/"]
    best: str | None = None
    for start, begin in enumerate(slashes):
        for end in slashes[start + 1 : start + 1 + most_parts]:
            folder = inside[begin + 1 : end]
            if folder in rank and (best is None or rank[folder] < rank[best]):
                best = folder
    return best


def _clean(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _relative(path: str, prefix: str, zoo: Path) -> str | None:
    path = _clean(path)
    if os.path.isabs(path):
        try:
            return Path(path).resolve().relative_to(zoo.resolve()).as_posix()
        except (ValueError, OSError):
            return None
    if prefix in ("", "."):
        return path
    if path == prefix:
        return "."
    if path.startswith(prefix.rstrip("/") + "/"):
        return path[len(prefix.rstrip("/")) + 1 :]
    return None


def verdict(findings: Iterable[Finding]) -> str:
    """What provenance findings say: ``fails`` (an error), ``not verified`` (PV060: no
    network, nothing cached), ``verified`` (only information and warnings), ``not checked``."""
    found = list(findings)
    if not found:
        return "not checked"
    if any(f.severity is Severity.ERROR for f in found):
        return "fails"
    if any(f.rule == "PV060" for f in found):
        return "not verified"
    return "verified"


def _judge_provenance(model: Model) -> None:
    provenance = [f for f in model.findings if f.rule.startswith("PV")]
    model.provenance = verdict(provenance)
    roles = [c.role for c in model.citations]
    per_role: dict[str, list[Finding]] = {role: [] for role in roles}
    for finding in provenance:
        match = _ROLE.search(finding.message)
        role = match.group(1) if match else "adapted"  # file differences: the adapted code
        if role in per_role:
            per_role[role].append(finding)
    model.citations = [
        Citation(c.role, c.url, c.branch, c.commit_id, c.code_path,
                 verdict(per_role[c.role]), tuple(per_role[c.role]))
        for c in model.citations
    ]  # fmt: skip


# --------------------------------------------------------------------------- index.json


def catalog_json(catalog: Catalog) -> dict[str, Any]:
    """The catalogue for machines (``index.json``, schemas/catalog.schema.json)."""
    return {
        "schema": CATALOG_SCHEMA,
        "zoo": catalog.zoo,
        "report": catalog.has_report,
        "counts": {
            "models": len(catalog.models),
            "facets": catalog.facet_counts(),
            "provenance": {v: sum(m.provenance == v for m in catalog.models) for v in VERDICTS},
        },
        "problems": catalog.problems,
        "models": [model_json(model) for model in catalog.models],
    }


def model_json(model: Model) -> dict[str, Any]:
    """One model as index.json lists it (what its page shows, but where its files are)."""
    return {
        "id": model.id,
        "page": f"models/{model.id}.html",
        "folder": model.folder,
        "readme": model.readme,
        "name": model.name,
        "title": model.title,
        "source": model.source,
        "tags": model.tags,
        "facts": model.facts,
        "summary": model.summary,
        "paper": {"title": model.paper[0], "url": model.paper[1]} if model.paper else None,
        "results": model.results,
        "notes": model.notes,
        "citations": [
            {"role": c.role, "url": c.url, "branch": c.branch, "commit_id": c.commit_id,
             "code_path": c.code_path, "verdict": c.verdict,
             "rules": sorted({f.rule for f in c.findings})}
            for c in model.citations
        ],  # fmt: skip
        "counts": model.counts,
        "provenance": model.provenance,
        "findings": [f.to_json() for f in model.findings],
    }


def catalog_json_text(catalog: Catalog) -> str:
    """index.json's text: one top-level key per line and each model on a line of its own.

    Why not ``indent``: an indented dump goes through json's Python encoder, which took 0.4 s
    of a 1,000-model build; each line here is the C encoder's. A diff of two builds still shows
    which models changed, a line each."""
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = []
    for key, value in catalog_json(catalog).items():
        if key == "models" and value:
            value_text = "[\n" + ",\n".join(dump(model) for model in value) + "\n]"
        else:
            value_text = dump(value)
        lines.append(f"{dump(key)}: {value_text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


# --------------------------------------------------------------------------- its JSON Schema

SCHEMA_FILE = "catalog.schema.json"


def _fixed(keys: Iterable[str], values: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these keys, each value of one schema."""
    keys = list(keys)
    return {"type": "object", "required": keys, "propertyNames": {"enum": keys},
            "additionalProperties": values}  # fmt: skip


def _object(properties: dict[str, Any], required: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if required:
        schema["required"] = list(properties)
    schema["properties"] = properties
    return schema


def catalog_schema() -> dict[str, Any]:
    """The JSON Schema of ``index.json``: written from the shapes above, committed as
    ``schemas/catalog.schema.json`` (a test fails when the two differ)."""
    string, count = {"type": "string"}, {"type": "integer", "minimum": 0}
    verdict = {"$ref": "#/$defs/Verdict"}
    model = _object({
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"},
        "page": {"type": "string", "pattern": "^models/[A-Za-z0-9_][A-Za-z0-9_.-]*\\.html$"},
        "folder": {**string, "description": "relative to the zoo's root; . is the root"},
        "readme": {**string, "description": "relative to the zoo's root; empty: none"},
        "name": string, "title": string,
        "source": {"enum": [DELIVERABLE_FILE, "README", "folder"]},
        "tags": _fixed(FACETS, string),
        "facts": _object({key: string for key in FACTS}, required=False),
        "summary": string,
        "paper": {"oneOf": [{"type": "null"}, _object({"title": string, "url": string})]},
        "results": {"type": "array", "items": {"$ref": "#/$defs/ResultRow"}},
        "notes": {"type": "array", "items": string},
        "citations": {"type": "array", "items": {"$ref": "#/$defs/Citation"}},
        "counts": _fixed([s.value for s in Severity], count),
        "provenance": verdict,
        "findings": {"type": "array", "items": {"$ref": "#/$defs/Finding"}},
    })  # fmt: skip
    optional = {"type": ["string", "null"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/modelzoo-kit/modelzoo-kit/schemas/catalog.schema.json",
        "title": "index.json of a modelzoo catalogue (modelzoo catalog ZOO -o DIR)",
        **_object({
            "schema": {"const": CATALOG_SCHEMA},
            "zoo": {**string, "description": "the zoo folder's name"},
            "report": {"type": "boolean", "description": "a validate report gave the status"},
            "counts": _object({
                "models": count,
                "facets": _fixed(FACETS, {"type": "object", "additionalProperties": count}),
                "provenance": _fixed(VERDICTS, count),
            }),
            "problems": {"type": "array", "items": string},
            "models": {"type": "array", "items": {"$ref": "#/$defs/Model"}},
        }),
        "$defs": {
            "Verdict": {"enum": list(VERDICTS)},
            "Model": model,
            "ResultRow": _object({
                "cards": {"type": ["integer", "null"]}, "baseline": optional,
                "metrics": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
                "throughput": {"type": ["number", "null"]}, "epochs": {"type": ["integer", "null"]},
                "amp_type": optional, "framework_version": optional,
            }),
            "Citation": _object({
                "role": {"enum": ["reference", "adapted", "inference"]},
                "url": string, "branch": string, "commit_id": string, "code_path": string,
                "verdict": verdict, "rules": {"type": "array", "items": string},
            }),
            "Finding": _object({
                "rule": string, "severity": {"enum": [s.value for s in Severity]}, "path": string,
                "line": {"type": ["integer", "null"]}, "column": {"type": ["integer", "null"]},
                "message": string, "hint": string,
            }),
        },
    }  # fmt: skip


def catalog_schema_text() -> str:
    return json.dumps(catalog_schema(), ensure_ascii=False, indent=2) + "\n"
