"""What a deliverable is: the typed model of ``deliverable.yaml``, in the template's order.

No I/O here. Single fields are checked by the shared rules in :mod:`modelzoo_kit.fieldrules`;
rules that tie several fields together (Other needs a note, a category needs its measured
evidence, inference code must come from the training code's source, the README needs its
entry points) live in :func:`cross_field_problems`, so the loader can report every one of them
with its own field path and line.

Prose that a reader sees in the README is :data:`Text`: one string for both languages, or
``{zh: ..., en: ...}`` when the two READMEs need different words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from modelzoo_kit import fieldrules
from modelzoo_kit.display import first_control
from modelzoo_kit.fieldrules import FieldRuleError
from modelzoo_kit.globs import glob_problem
from modelzoo_kit.layouts import DELIVERABLE_FILE, README_FILES

SCHEMA_VERSION = 1

#: Languages the README is rendered in; ``zh`` follows the template, ``en`` translates it.
LANGUAGES: tuple[str, ...] = ("zh", "en")

#: Entry points the README's quick start quotes; a deliverable must declare them.
REQUIRED_ENTRY_POINTS: tuple[str, ...] = ("train-1p", "train-8p", "evaluate")

#: Files every deliverable adds on purpose beside the code it cites.
DEFAULT_PROVENANCE_IGNORE: tuple[str, ...] = (*README_FILES.values(), DELIVERABLE_FILE)


def _one_line(value: Any) -> Any:
    """A value the README shows on one line (a field, a title, inline code) must be one line:
    a line break in it would start a README line of its own (a forged ``**发布者…**``)."""
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise ValueError(
                "is shown on one line of the README but contains a line break; write it on one "
                "line (in YAML: no '|' block, no '\\n')"
            )
        _no_control(value)
    return value


def _no_control(value: Any) -> Any:
    """Values are text: no control characters (ESC, CR, NUL...), which a terminal or a Markdown
    viewer would act on instead of showing. Tabs and line breaks are text."""
    if isinstance(value, str):
        found = first_control(value.replace("\r\n", "\n"))
        if found is not None:
            raise ValueError(
                f"contains the control character {found}; remove it (values are plain text)"
            )
    return value


def _rule(check: Callable[[str], fieldrules.Normalised]) -> Callable[[Any], str]:
    """Turn a field rule into a pydantic before-validator that stores the canonical value.
    Every field with a rule is one line of the README's basic information or references."""

    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(
                f"expected text, got {type(value).__name__} {value!r}; quote it in YAML"
            )
        _one_line(value)
        try:
            return check(value).value
        except FieldRuleError as exc:
            raise ValueError(str(exc)) from None

    return validate


def _version(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, float):
        raise ValueError(
            f"version {value!r} was read as a number, which drops digits (1.10 becomes 1.1); "
            f'quote it: version: "{value}"'
        )
    return _rule(fieldrules.check_version)(value)


def _modified(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a date such as 2020.04.11, got {value!r}")
    try:
        return fieldrules.parse_modified(value)
    except FieldRuleError as exc:
        raise ValueError(str(exc)) from None


def _relative_path(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a relative path, got {value!r}")
    _one_line(value)
    try:
        return fieldrules.check_code_path(value).value
    except FieldRuleError as exc:
        raise ValueError(str(exc).replace("code_path", "path")) from None


def _application_domain(value: Any) -> str:
    if isinstance(value, str) and clean_lower(value) in ("other", "others", "其他", "其它"):
        return fieldrules.OTHER_DOMAIN
    domain = _rule(fieldrules.check_application_domain)(value)
    if domain.startswith(fieldrules.OTHER_DOMAIN):
        raise ValueError("write 'Other' here and the domain in application_domain_note")
    return domain


def _single_size(value: Any) -> str:
    size = _rule(fieldrules.check_size)(value)
    if "/" in size:
        raise ValueError("write one size (the checkpoint's), not one per format")
    return size


def clean_lower(text: str) -> str:
    return fieldrules.clean(text).lower()


def _non_empty(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("is empty")
    return value


Publisher = Annotated[str, BeforeValidator(_rule(fieldrules.check_publisher))]
Version = Annotated[
    str,
    BeforeValidator(_version),
    Field(examples=["1.1", "1.15"], json_schema_extra={"pattern": "^[vV]?[01]\\.[0-9]+$"}),
]
Modified = Annotated[
    date,
    BeforeValidator(_modified),
    WithJsonSchema({"type": "string", "examples": ["2020.04.11", "2020-04-11"]}),
]
ApplicationDomain = Annotated[
    str,
    BeforeValidator(_application_domain),
    Field(examples=[*fieldrules.APPLICATION_DOMAINS, fieldrules.OTHER_DOMAIN]),
]
Size = Annotated[str, BeforeValidator(_single_size), Field(examples=["21M", "888K"])]
Framework = Annotated[
    str, BeforeValidator(_rule(fieldrules.check_framework)), Field(examples=["PyTorch 2.1.0"])
]
ModelFormat = Annotated[str, BeforeValidator(_rule(fieldrules.check_model_format))]
Precision = Annotated[
    Literal["FP32", "FP16", "Mixed"], BeforeValidator(_rule(fieldrules.check_precision))
]
Processor = Annotated[str, BeforeValidator(_rule(fieldrules.check_processor))]
Category = Annotated[
    Literal["Benchmark", "Official", "Research", "Tutorial"],
    BeforeValidator(_rule(fieldrules.check_category)),
]
CommitId = Annotated[
    str,
    BeforeValidator(_rule(fieldrules.check_commit_id)),
    Field(json_schema_extra={"pattern": "^[0-9a-fA-F]{40}$"}),
]
CodePath = Annotated[str, BeforeValidator(_rule(fieldrules.check_code_path))]
RepositoryUrl = Annotated[str, BeforeValidator(_rule(fieldrules.check_repository_url))]
Branch = Annotated[str, BeforeValidator(_rule(fieldrules.check_branch))]


def _glob(value: str) -> str:
    problem = glob_problem(value)
    if problem is not None:
        raise ValueError(f"{problem}; write a glob such as *.pth or logs/")
    return value


RelativePath = Annotated[str, BeforeValidator(_relative_path)]
#: Text of any length; line breaks allowed, control characters not.
NonEmpty = Annotated[str, BeforeValidator(_non_empty), BeforeValidator(_no_control),
                     Field(min_length=1)]
#: Text shown on one line of the README: a title, a label's value, inline code, a table cell.
OneLine = Annotated[str, BeforeValidator(_non_empty), BeforeValidator(_one_line),
                    Field(min_length=1)]
#: A key or pattern (a path, a flag, a name): one line.
Key = Annotated[str, BeforeValidator(_one_line)]
#: A glob (git's wildmatch, linear time): one line, and a pattern the matcher accepts.
GlobPattern = Annotated[str, BeforeValidator(_one_line), AfterValidator(_glob)]


#: How an open decision is written in deliverable.yaml: a value that starts with ``TODO``
#: (``publisher: "TODO: the README has no such field"``). One marker for every field, whatever
#: its type, so an author finds every decision with one search.
TODO_MARKER = "TODO"
_TODO = re.compile(r"^TODO(?![A-Za-z0-9_])")


class Todo(str):
    """An open decision standing in for a field's value; accepted only in a draft
    (``draft: true``), so a finished deliverable can never carry one."""


def is_todo(value: Any) -> bool:
    return isinstance(value, str) and bool(_TODO.match(value))


def _draft(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("draft"))


def holds_fields(annotation: Any) -> bool:
    """Whether a field holds models (a section, a list or map of entries) rather than a value:
    a TODO there would leave the renderer nothing to read."""
    import typing

    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (dict, list):
        return holds_fields(args[-1]) if args else False
    if origin is not None and args and origin is not Literal:
        if origin is Annotated:
            return holds_fields(args[0])
        return all(holds_fields(a) for a in args)
    return (
        isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
        and annotation.__name__ != "Localized"
    )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="wrap")
    @classmethod
    def _open_decision(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        """Any field may hold a ``TODO`` in a draft; outside a draft a TODO is an error."""
        if isinstance(value, Todo) or is_todo(value):
            field = cls.model_fields.get(info.field_name or "")
            if field is not None and holds_fields(field.annotation):
                raise ValueError(
                    "holds fields of its own; write TODO on the fields inside it, not on it"
                )
            if _draft(info):
                return Todo(value)
            raise ValueError(
                "is an open decision (TODO) left in; decide it, or mark the file `draft: true` "
                "until it is decided"
            )
        return handler(value)


class Localized(_Model):
    """The same prose in both README languages."""

    zh: NonEmpty
    en: NonEmpty


Text = NonEmpty | Localized


def localize(text: Text | None, lang: str) -> str:
    """The words of ``text`` for one README language (a plain string serves both)."""
    if text is None:
        return ""
    if isinstance(text, Localized):
        return str(getattr(text, lang))
    return text


def _text_rule(check: Callable[[str], fieldrules.Normalised]) -> Callable[[Any], Any]:
    """Apply a field rule to a :data:`Text` value in each language it is written in."""

    def validate(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _rule(check)(v) if k in LANGUAGES else v for k, v in value.items()}
        return _rule(check)(value)

    return validate


Description = Annotated[Text, BeforeValidator(_text_rule(fieldrules.check_description))]


# --------------------------------------------------------------------------- basic information


class CategoryEvidence(_Model):
    """A throughput measurement that backs a Benchmark or Official category.

    The ratio is ``throughput / baseline_throughput``, both in samples per second, measured with
    the same global batch on ``cards`` cards."""

    cards: int = Field(ge=1)
    throughput: float = Field(gt=0, description="samples/s of this deliverable")
    baseline_throughput: float = Field(gt=0, description="samples/s of the baseline")
    baseline: OneLine = Field(description="what the baseline is (hardware, code, settings)")
    command: OneLine = Field(description="the command that measured this deliverable")
    measured: Modified

    @property
    def ratio(self) -> float:
        return self.throughput / self.baseline_throughput


class BasicInfo(_Model):
    """交付件基本信息: the labelled fields shown as tags on the model's page."""

    publisher: Publisher
    application_domain: ApplicationDomain
    application_domain_note: OneLine | None = None
    version: Version
    modified: Modified
    size: Size | None = Field(
        default=None, description="xxK below 1M, xxM from 1M; derived from checkpoint if absent"
    )
    checkpoint: RelativePath | None = Field(
        default=None, description="the trained checkpoint, relative to the deliverable folder"
    )
    framework: Framework
    model_format: ModelFormat
    precision: Precision
    processor: Processor
    category: Category
    category_evidence: CategoryEvidence | None = None
    description: Description

    @property
    def modified_text(self) -> str:
        if isinstance(self.modified, str):  # an open decision in a draft
            return self.modified
        return fieldrules.format_modified(self.modified)

    @property
    def application_domain_text(self) -> str:
        """The domain as the README writes it: ``Classification`` or ``Other（note）``."""
        if self.application_domain == fieldrules.OTHER_DOMAIN:
            return f"{fieldrules.OTHER_DOMAIN}（{self.application_domain_note}）"
        return self.application_domain


# --------------------------------------------------------------------------- overview


class Paper(_Model):
    title: OneLine
    url: OneLine


class CodeReference(_Model):
    """Where the reference (upstream open-source) implementation is."""

    url: RepositoryUrl
    branch: Branch
    commit_id: CommitId
    code_path: CodePath | None = None
    """The upstream folder or file the model comes from, where the repository holds more
    than this model (``configs/solo`` of mmdetection); provenance checks it exists there."""


class AdaptedCode(CodeReference):
    """Where the Ascend-adapted code is, down to the folder that holds the model."""

    code_path: CodePath

    def same_source(self, other: CodeReference) -> bool:
        return (self.url, self.branch, self.commit_id) == (other.url, other.branch, other.commit_id)


class Overview(_Model):
    """概述 / 简述: what the network is and where its code comes from."""

    summary: Text
    paper: Paper | None = None
    reference: CodeReference | None = Field(
        default=None, description="the upstream implementation; required for open-source models"
    )
    adapted: AdaptedCode
    inference: AdaptedCode | None = Field(
        default=None,
        description="inference code; must come from the same url, branch and commit as adapted",
    )


# --------------------------------------------------------------------------- default config etc.


class ScriptDefault(_Model):
    """A hyperparameter whose value is the training script's default for ``flag``, read from the
    script when the README is rendered, so the README cannot drift from the code."""

    flag: Annotated[str, Field(pattern=r"^-"), BeforeValidator(_one_line)]


class DefaultConfig(_Model):
    """默认配置: network notes, preprocessing and the default hyperparameters."""

    network: list[Text] = Field(default_factory=list)
    dataset: OneLine = Field(description="the dataset the preprocessing examples use")
    train_preprocessing: list[Text] = Field(default_factory=list)
    test_preprocessing: list[Text] = Field(default_factory=list)
    hyperparameters_cards: int = Field(default=1, ge=1)
    hyperparameters: dict[Key, Key | int | float | ScriptDefault] = Field(
        min_length=1, description="name -> value, or {flag: --x} for the script's default of --x"
    )


class Feature(_Model):
    name: Text
    supported: bool
    note: Text | None = None


class MixedPrecision(_Model):
    """混合精度训练 and 开启混合精度: how it works here and how to switch it on."""

    principle: Text
    enable: Text


class ImageName(_Model):
    architecture: OneLine = Field(examples=["ARM", "x86"])
    name: OneLine
    url: OneLine | None = None


class ContainerImage(_Model):
    names: list[ImageName] = Field(min_length=1)
    version: OneLine
    cann_version: OneLine
    cann_url: OneLine | None = None


class Environment(_Model):
    """训练环境准备: hardware and software needed, and the container images that run it."""

    hardware: Text | None = None
    software: Text | None = None
    images: list[ContainerImage] = Field(default_factory=list)


class Container(_Model):
    build: NonEmpty = Field(description="command that builds the image")
    start: NonEmpty = Field(description="command that starts a container")
    arguments: dict[Key, Text] = Field(default_factory=dict)


class QuickStart(_Model):
    """快速上手: dataset preparation; the training and verification commands are entry points."""

    dataset: Text
    download: Text | None = None
    pretrained: Text | None = None
    container: Container | None = None
    training_note: Text | None = None
    verification_note: Text | None = None


class TransferLearning(_Model):
    """迁移学习指导: training on the user's own data."""

    dataset: Text
    labels: Text
    conversion: Text | None = None
    config_changes: Text
    pretrained: Text
    training: Text
    evaluation: Text


class Advanced(_Model):
    """高级参考. The directory tree and the parameter table are derived from the folder; this
    holds only what the folder cannot say."""

    files: dict[Key, Text] = Field(
        default_factory=dict, description="path -> note shown beside it in the directory tree"
    )
    tree_exclude: list[GlobPattern] = Field(
        default_factory=list, description="glob patterns left out of the directory tree"
    )
    training_script: RelativePath = Field(
        default="train.py", description="script whose argparse parameters the README lists"
    )
    parameters_note: Text | None = None
    parameter_help: dict[Key, Text] = Field(
        default_factory=dict,
        description="flag -> help text shown instead of the script's own (e.g. in Chinese)",
    )
    training_process: Text
    inference_process: Text


_ENTRY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class EntryPoint(_Model):
    """A command the README quotes and ``modelzoo run`` runs, from the deliverable folder."""

    command: NonEmpty
    description: Text


class ResultRow(_Model):
    """One row of the training results table (训练结果展示): a configuration and what it
    measured. ``baseline`` rows are the competitor the NPU rows are compared with."""

    cards: int = Field(ge=1, description="1 for 1p, 8 for 8p")
    baseline: OneLine | None = Field(
        default=None, description="what the competitor is (e.g. 竞品V: V100); None: an NPU row"
    )
    metrics: dict[Key, float | None] = Field(
        default_factory=dict, description="accuracy metric -> value (None: not measured)"
    )
    throughput: float | None = Field(default=None, gt=0, description="samples/s (FPS)")
    epochs: int | None = Field(default=None, ge=1)
    amp_type: OneLine | None = Field(default=None, examples=["O1", "O2"])
    framework_version: OneLine | None = Field(default=None, examples=["1.8"])

    @property
    def name(self) -> str:
        """How the README names the row: ``8p-NPU``, ``1p-竞品V``."""
        return f"{self.cards}p-{'NPU' if self.baseline is None else self.baseline}"


def evidence_from_results(
    rows: list[ResultRow], cards: int | None = None
) -> tuple[float, int] | None:
    """(throughput ratio, cards) of the NPU row against the baseline row on ``cards`` cards
    (default: the most cards both measured): what category_evidence states, derived from the
    results table instead of restated."""
    npu = {r.cards: r.throughput for r in rows if r.baseline is None and r.throughput}
    base = {r.cards: r.throughput for r in rows if r.baseline is not None and r.throughput}
    common = sorted(set(npu) & set(base))
    if cards is None and common:
        cards = common[-1]
    if cards is None or cards not in common:
        return None
    return npu[cards] / base[cards], cards


def _known_layout(value: Any) -> Any:
    from modelzoo_kit.layouts import LAYOUTS

    if isinstance(value, str) and value not in LAYOUTS:
        raise ValueError(f"unknown layout {value!r}; choose one of {', '.join(LAYOUTS)}")
    return value


def _required_entry_points(value: Any) -> Any:
    """Checked with the fields (not after them) so a missing one is reported with the rest."""
    if isinstance(value, dict):
        missing = [name for name in REQUIRED_ENTRY_POINTS if name not in value]
        if missing:
            raise ValueError(
                f"missing entry point(s) {', '.join(map(repr, missing))}; "
                "the README's quick start quotes their commands"
            )
    return value


class Provenance(_Model):
    ignore: list[GlobPattern] = Field(default_factory=lambda: list(DEFAULT_PROVENANCE_IGNORE))


class Deliverable(_Model):
    """A training deliverable, as ``deliverable.yaml`` describes it."""

    schema_version: Literal[1] = 1
    draft: bool = Field(
        default=False,
        description="a draft may hold TODO values (open decisions) and break cross-field "
        "rules; each is a finding (MZ306) until decided. `modelzoo extract` writes drafts",
    )
    layout: Annotated[str, BeforeValidator(_known_layout)] = Field(
        default="template",
        description="the README layout: template (the zoo template) or pytorch-2022",
    )
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    title: OneLine
    basic: BasicInfo
    overview: Overview
    default_config: DefaultConfig
    features: list[Feature] = Field(default_factory=list)
    mixed_precision: MixedPrecision
    environment: Environment
    quick_start: QuickStart
    transfer_learning: TransferLearning
    advanced: Advanced
    entry_points: Annotated[dict[Key, EntryPoint], BeforeValidator(_required_entry_points)]
    results: list[ResultRow] = Field(
        default_factory=list,
        description="训练结果展示: one row per configuration; category_evidence may be derived "
        "from it",
    )
    provenance: Provenance = Field(default_factory=Provenance)
    readme_text: dict[Key, NonEmpty] = Field(
        default_factory=dict,
        description="markdown the typed fields do not hold (notes, extra sub-sections, tables, "
        "FAQ), by the heading of the section it ends ('#': before the first heading); "
        "`modelzoo extract` keeps here what it cannot type, so nothing of a README is lost",
    )

    @model_validator(mode="after")
    def _check_across_fields(self, info: ValidationInfo) -> Deliverable:
        if (info.context and info.context.get("defer_cross_checks")) or self.draft:
            return self
        problems = cross_field_problems(self)
        if problems:
            raise ValueError(
                "; ".join(f"{'.'.join(map(str, loc))}: {message}" for loc, message in problems)
            )
        return self


Loc = tuple[str | int, ...]


class _Decided(Exception):
    """A rule that cannot be judged while a field it reads is still an open decision."""


def todo_fields(model: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """Every open decision (``TODO`` value) in a deliverable, with its field path, in field
    order."""
    found: list[tuple[Loc, str]] = []
    if isinstance(model, Todo):
        return [(loc, str(model))]
    if isinstance(model, BaseModel):
        for name in type(model).model_fields:
            found += todo_fields(getattr(model, name), (*loc, name))
    elif isinstance(model, dict):
        for key, value in model.items():
            found += todo_fields(value, (*loc, key))
    elif isinstance(model, list):
        for index, value in enumerate(model):
            found += todo_fields(value, (*loc, index))
    return found


def cross_field_problems(deliverable: Deliverable) -> list[tuple[Loc, str]]:
    """Every rule that ties fields together, as (field path, message) pairs."""
    problems: list[tuple[Loc, str]] = []
    basic = deliverable.basic

    def report(loc: Loc, message: str) -> None:
        problems.append((loc, message))

    if basic.application_domain == fieldrules.OTHER_DOMAIN and not basic.application_domain_note:
        report(
            ("basic", "application_domain_note"),
            "application domain 'Other' needs a note saying which domain",
        )
    if basic.application_domain != fieldrules.OTHER_DOMAIN and basic.application_domain_note:
        report(
            ("basic", "application_domain_note"),
            f"a note is only for 'Other'; {basic.application_domain!r} is in the template's list",
        )

    evidence = basic.category_evidence if isinstance(basic.category_evidence, BaseModel) else None
    if isinstance(basic.category, Todo):
        evidence = None
    bar = fieldrules.CATEGORY_BARS.get(basic.category)
    derived = (
        evidence_from_results(deliverable.results, bar.cards if bar else None)
        if evidence is None
        else None
    )
    try:
        if isinstance(basic.category, Todo):
            raise _Decided
        fieldrules.check_category_evidence(
            basic.category,
            evidence.ratio if evidence else (derived[0] if derived else None),
            evidence.cards if evidence else (derived[1] if derived else None),
        )
    except FieldRuleError as exc:
        loc: Loc = ("basic", "category_evidence") if evidence else ("basic", "category")
        report(loc, str(exc))
    except _Decided:
        pass

    adapted, inference = deliverable.overview.adapted, deliverable.overview.inference
    if (
        isinstance(adapted, AdaptedCode)
        and isinstance(inference, AdaptedCode)
        and not adapted.same_source(inference)
    ):
        report(
            ("overview", "inference"),
            "training and inference code must come from the same source: url, branch and "
            "commit_id must equal overview.adapted's",
        )

    for name in deliverable.entry_points:
        if not _ENTRY_NAME.match(name):
            report(("entry_points", name), "entry point names are lower-case words joined by '-'")
    return problems


SCHEMA_FILE = "deliverable.schema.json"


def json_schema_text() -> str:
    """The JSON Schema of deliverable.yaml, as the text committed in ``schemas/``."""
    import json

    schema = Deliverable.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/modelzoo-kit/modelzoo-kit/schemas/deliverable.schema.json",
        **schema,
    }
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
