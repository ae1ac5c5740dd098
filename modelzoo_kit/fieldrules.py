"""The template's rules for single basic-information fields, as pure functions.

Two callers share these rules: the pydantic model of ``deliverable.yaml`` (metadata.py) and the
validator of legacy READMEs, which hands over values exactly as a README writes them. So every
``check_*`` function takes a raw string, returns a :class:`Normalised` value (the canonical spelling
plus notes on anything it changed) when the value meets the template, and raises
:class:`FieldRuleError` with a message and a hint when it does not.

Normalising is only done where it cannot change meaning: ``TensorFlow_1.15.0`` becomes
``TensorFlow 1.15.0``, ``3.5MB`` becomes ``3.5M``. Each such change is reported in ``notes`` so a
validator can count harmless variations without calling them errors.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath


class FieldRuleError(ValueError):
    """A field value breaks a template rule. ``hint`` says what to write instead, and
    ``correction`` is that value where exactly one is right (``1263056KB`` -> ``1233M``,
    ``混合精度`` -> ``Mixed``), for the importer to write in its place."""

    def __init__(self, message: str, hint: str = "", correction: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.correction = correction

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


@dataclass(frozen=True)
class Normalised:
    """A value that meets the rule, in its canonical spelling, and what normalising changed."""

    value: str
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- shared helpers

#: Text the template (or a half-finished README) uses where a real value belongs.
PLACEHOLDERS: tuple[str, ...] = (
    "【深加工】",
    "一句话描述",
    "可以从以下做选择",
    "xxx",
    "xx",
    "tbd",
    "todo",
    "待补充",
    "待定",
)

_EMPHASIS = re.compile(r"^(\*\*|__|\*|_)(?P<inner>.+?)\1$", re.DOTALL)
_BACKSLASH_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|])")


def clean(text: str) -> str:
    """Trim whitespace (NBSP and full-width spaces too), enclosing emphasis and backslash escapes.

    READMEs write values as ``_1.1_`` or ``TensorFlow\\_1.15.0``; the rule applies to the text."""
    value = str(text).replace("\u00a0", " ").replace("\u3000", " ").strip()
    while True:
        match = _EMPHASIS.match(value)
        if not match:
            break
        value = match.group("inner").strip()
    return _BACKSLASH_ESCAPE.sub(r"\1", value)


def _require_value(text: str, field: str) -> str:
    value = clean(text)
    if not value:
        raise FieldRuleError(f"{field} is empty", f"write the {field}")
    lowered = value.lower()
    for placeholder in PLACEHOLDERS:
        if lowered == placeholder or (len(placeholder) > 3 and placeholder in lowered):
            raise FieldRuleError(
                f"{field} {value!r} is template placeholder text, not a value",
                f"replace {value!r} with the real {field}",
            )
    return value


def _closest(value: str, choices: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.75)
    return lowered[found[0]] if found else None


# --------------------------------------------------------------------------- publisher, description


def check_publisher(text: str) -> Normalised:
    """Who publishes the deliverable (the template writes ``huawei``); any real name."""
    return Normalised(_require_value(text, "publisher"))


def check_description(text: str) -> Normalised:
    """One sentence saying what the code is (基于PyTorch框架的…训练代码)."""
    value = _require_value(text, "description")
    if "\n" in value:
        raise FieldRuleError("description spans several lines", "write one sentence")
    return Normalised(value)


# --------------------------------------------------------------------------- application domain

APPLICATION_DOMAINS: tuple[str, ...] = (
    "Classification",
    "Object Detection",
    "Segmentation",
    "Image Synthesis",
    "NLP",
    "Speech Synthesis",
    "Speech Recognition",
    "Text To Speech",
    "Audio Synthesis",
    "Machine Translation",
    "Recommendation",
    "Aesthetics Assessment",
    "OCR",
    "Reinforcement Learning",
)
OTHER_DOMAIN = "Other"

#: Common spellings that mean a listed domain; named in the hint, never accepted silently.
DOMAIN_SYNONYMS: dict[str, str] = {
    "image classification": "Classification",
    "natural language processing": "NLP",
    "optical character recognition": "OCR",
    "text recognition": "OCR",
    "semantic segmentation": "Segmentation",
    "instance segmentation": "Segmentation",
    "image segmentation": "Segmentation",
    "detection": "Object Detection",
    "tts": "Text To Speech",
    "asr": "Speech Recognition",
    "分类": "Classification",
    "图像分类": "Classification",
    "目标检测": "Object Detection",
    "分割": "Segmentation",
    "语义分割": "Segmentation",
    "自然语言处理": "NLP",
    "推荐": "Recommendation",
    "强化学习": "Reinforcement Learning",
    "语音识别": "Speech Recognition",
    "语音合成": "Speech Synthesis",
    "机器翻译": "Machine Translation",
}
_OTHER_WITH_NOTE = re.compile(
    r"^(?:other|others|其他|其它)\s*(?:[(（]\s*(?P<paren>[^)）]*?)\s*[)）]|[:：]\s*(?P<colon>.+))?$",
    re.IGNORECASE,
)


def check_application_domain(text: str, note: str | None = None) -> Normalised:
    """One of the template's domains (case-insensitive), or ``Other`` with a note saying what.

    A README writes the note inline (``Other (Video Enhancement)``); deliverable.yaml has a
    separate ``application_domain_note``. Either way the result is ``Other: <note>``."""
    value = _require_value(text, "application domain")
    for domain in APPLICATION_DOMAINS:
        if value.lower() == domain.lower():
            notes = (
                ()
                if value == domain
                else (f"written {value!r}; the template spells it {domain!r}",)
            )
            return Normalised(domain, notes)
    other = _OTHER_WITH_NOTE.match(value)
    if other:
        inline = (other.group("paren") or other.group("colon") or "").strip()
        given = clean(note or "") or inline
        if not given:
            raise FieldRuleError(
                "application domain 'Other' needs a note saying which domain",
                "write the domain in application_domain_note (README: 'Other (Video Enhancement)')",
            )
        return Normalised(f"{OTHER_DOMAIN}: {given}")
    listed = ", ".join(APPLICATION_DOMAINS)
    synonym = DOMAIN_SYNONYMS.get(value.lower())
    if synonym:
        hint = f"the template's list calls this {synonym!r}"
    else:
        close = _closest(value, APPLICATION_DOMAINS)
        hint = f"did you mean {close!r}? " if close else ""
        hint += f"choose one of {listed}, or 'Other' with a note"
    raise FieldRuleError(
        f"application domain {value!r} is not in the template's list", hint, synonym
    )


# --------------------------------------------------------------------------- version

#: First digit of the version: which hardware generation the deliverable is for.
VERSION_GENERATIONS: dict[int, str] = {0: "C3X", 1: "C7X"}
_VERSION = re.compile(r"^[vV]?(?P<major>\d+)\.(?P<minor>\d+)$")


def check_version(text: str) -> Normalised:
    """Two parts, ``major.minor``: major 0 = C3X, 1 = C7X, 2 and above reserved; the minor part
    is the model's own upgrade count and may pass 9 (``1.15``)."""
    value = _require_value(text, "version")
    match = _VERSION.match(value)
    if not match:
        parts = value.split(".")
        what = "one part" if len(parts) == 1 else f"{len(parts)} parts"
        raise FieldRuleError(
            f"version {value!r} is not two-part (major.minor), it has {what}"
            if all(p.isdigit() for p in parts)
            else f"version {value!r} is not a two-part number (major.minor)",
            "write e.g. 1.1: first digit 0 = C3X, 1 = C7X; second digit the model's own upgrade",
        )
    major, minor = int(match.group("major")), int(match.group("minor"))
    if major not in VERSION_GENERATIONS:
        raise FieldRuleError(
            f"version {value!r}: major version {major} is reserved (0 = C3X, 1 = C7X)",
            "use 0.x for C3X or 1.x for C7X",
        )
    canonical = f"{major}.{match.group('minor')}"
    notes: list[str] = []
    if value != canonical:
        notes.append(f"written {value!r}; the template writes {canonical!r}")
    if minor and match.group("minor").startswith("0"):
        notes.append(f"minor version {match.group('minor')!r} has a leading zero")
    return Normalised(canonical, tuple(notes))


def version_generation(version: str) -> str:
    """``1.1`` -> ``C7X``: what the version's first digit says about the target hardware."""
    return VERSION_GENERATIONS[int(check_version(version).value.split(".")[0])]


# --------------------------------------------------------------------------- modified date

_DATE = re.compile(r"^(?P<y>\d{4})(?P<sep>[./-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})$")
_DATE_ZH = re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日$")


def parse_modified(text: str) -> date:
    """The modified date as a :class:`datetime.date`; see :func:`check_modified`."""
    value = _require_value(text, "modified date")
    match = _DATE.match(value) or _DATE_ZH.match(value)
    if not match:
        raise FieldRuleError(
            f"modified date {value!r} is not a date",
            "write it as the template does: 2020.04.11 (year.month.day)",
        )
    try:
        return date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
    except ValueError as exc:
        raise FieldRuleError(
            f"modified date {value!r} does not exist ({exc})", "check the month and day"
        ) from None


def format_modified(day: date) -> str:
    """The template's spelling of a date: ``2020.04.11``."""
    return f"{day.year:04d}.{day.month:02d}.{day.day:02d}"


def check_modified(text: str) -> Normalised:
    """A real calendar date. The template writes ``2020.04.11``; ``2021.7.19``, ISO
    ``2021-07-19``, ``2021/7/19`` and ``2021年7月19日`` are accepted and normalised."""
    value = clean(text)
    canonical = format_modified(parse_modified(value))
    notes = () if value == canonical else (f"written {value!r}; the template writes {canonical!r}",)
    return Normalised(canonical, notes)


# --------------------------------------------------------------------------- size

_SIZE_PART = re.compile(
    r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]+)?\s*(?P<label>[(（][^)）]*[)）])?$"
)
_UNIT_KIND = {
    "k": "K", "kb": "K", "kib": "K",
    "m": "M", "mb": "M", "mib": "M",
    "g": "G", "gb": "G", "gib": "G",
    "t": "T", "tb": "T",
    "b": "B", "byte": "B", "bytes": "B",
}  # fmt: skip
_UNIT_BYTES = {"B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _format_number(number: float) -> str:
    return f"{number:.2f}".rstrip("0").rstrip(".")


def _check_size_part(part: str) -> tuple[str, list[str]]:
    match = _SIZE_PART.match(part.strip())
    if not match:
        raise FieldRuleError(
            f"size {part.strip()!r} is not an xxK/xxM size",
            "write the checkpoint size: below 1M as xxK (e.g. 888K), from 1M as xxM (e.g. 21M)",
        )
    number_text, unit_text = match.group("number"), match.group("unit") or ""
    unit = _UNIT_KIND.get(unit_text.lower())
    if unit is None:
        raise FieldRuleError(
            f"size {part.strip()!r} has no K or M unit",
            "write below 1M as xxK, from 1M as xxM",
        )
    number = float(number_text)
    nbytes = number * _UNIT_BYTES[unit]
    right = format_size(int(nbytes))
    if unit in ("G", "T"):
        raise FieldRuleError(
            f"size {part.strip()!r} uses a {unit} unit; the template writes sizes in K or M",
            f"write {right}",
            right,
        )
    if unit == "B" or (unit == "M" and nbytes < _UNIT_BYTES["M"]):
        raise FieldRuleError(
            f"size {part.strip()!r} is below 1M and should be written in K",
            f"write {right}",
            right,
        )
    if unit == "K" and number >= 1024:
        raise FieldRuleError(
            f"size {part.strip()!r} should be written in M (rule: under 1M write xxK, "
            "over 1M write xxM)",
            f"write {right}",
            right,
        )
    notes = []
    if unit_text != unit:
        notes.append(f"unit written {unit_text!r}; the template writes {unit!r}")
    label = match.group("label")
    canonical = f"{number_text}{unit}" + (f" {label}" if label else "")
    return canonical, notes


def check_size(text: str) -> Normalised:
    """Below 1M written as ``xxK``, from 1M as ``xxM`` (decimals allowed). ``KB``/``MB``
    spellings are tolerated and normalised; G units and 1024K or more are violations. A README
    that lists one size per format (``39.76MB (pth.tar)/20MB (onnx)``) has each part checked."""
    value = _require_value(text, "size")
    parts = re.split(r"\s*[/,，、]\s*", value)
    canonical_parts, notes = [], []
    for part in parts:
        try:
            canonical, part_notes = _check_size_part(part)
        except FieldRuleError as exc:
            if len(parts) > 1:
                exc.correction = None  # one part's spelling is not the whole value
            raise
        canonical_parts.append(canonical)
        notes.extend(part_notes)
    return Normalised(
        "/".join(canonical_parts) if len(parts) > 1 else canonical_parts[0], tuple(notes)
    )


def size_to_bytes(text: str) -> int:
    """The number of bytes a single, valid size stands for (1K = 1024 bytes)."""
    value = check_size(text).value
    match = _SIZE_PART.match(value)
    if match is None or "/" in value:
        raise FieldRuleError(f"size {value!r} is not one size", "write a single xxK or xxM size")
    unit = _UNIT_KIND[(match.group("unit") or "").lower()]
    return round(float(match.group("number")) * _UNIT_BYTES[unit])


def format_size(nbytes: int) -> str:
    """A byte count the template's way: below 1M as whole ``K`` (at least 1K), from 1M as ``M``
    with one decimal below 10M (``1.4M``) and whole numbers above (``21M``)."""
    if nbytes < 0:
        raise ValueError("a size cannot be negative")
    kib = nbytes / 1024
    if round(kib) < 1024:
        return f"{max(1, round(kib))}K"
    mib = nbytes / 1024**2
    if mib < 9.95:
        return f"{_format_number(round(mib, 1))}M"
    return f"{round(mib)}M"


def size_matches(text: str, nbytes: int) -> bool:
    """Whether a written size describes a file of ``nbytes`` bytes.

    Writers round and use either 1000 or 1024 per K, so the written number must match the file's
    size in that unit to within the precision it is written with, or 2%, whichever is larger."""
    value = check_size(text).value
    match = _SIZE_PART.match(value)
    if match is None or "/" in value:
        return False
    number_text = match.group("number")
    unit = _UNIT_KIND[(match.group("unit") or "").lower()]
    written = float(number_text)
    decimals = len(number_text.split(".")[1]) if "." in number_text else 0
    tolerance = max(0.5 * 10**-decimals, 0.02 * written)
    exponent = {"K": 1, "M": 2}[unit]
    return any(abs(nbytes / base**exponent - written) <= tolerance for base in (1000, 1024))


# --------------------------------------------------------------------------- framework

FRAMEWORKS: tuple[str, ...] = (
    "PyTorch",
    "TensorFlow",
    "MindSpore",
    "PaddlePaddle",
    "Caffe",
    "MXNet",
    "Keras",
    "ONNX",
    "JAX",
)
#: How pip and conda spell a framework's package, as READMEs copy it from requirements.txt:
#: ``tensorflow-gpu``, ``torch``, ``mindspore_ascend``, ``mxnet-cu101``.
_FRAMEWORK_PACKAGE = re.compile(
    r"^(?P<base>tensorflow|torch|pytorch|mindspore|paddlepaddle|paddle|mxnet|jax|keras|onnx)"
    r"(?:[-_](?:gpu|cpu|ascend|npu|rocm|cuda\d*|cu\d+|nightly|intel|macos|dev))?$",
    re.IGNORECASE,
)
_PACKAGE_FRAMEWORK = {"torch": "PyTorch", "paddle": "PaddlePaddle"}


def framework_of_package(name: str) -> str | None:
    """``tensorflow-gpu`` -> ``TensorFlow``: the framework a package name installs, or None."""
    match = _FRAMEWORK_PACKAGE.match(name)
    if match is None:
        return None
    base = match.group("base").lower()
    return _PACKAGE_FRAMEWORK.get(base) or next(f for f in FRAMEWORKS if f.lower() == base)


_FRAMEWORK = re.compile(
    r"^(?P<name>[A-Za-z][A-Za-z0-9_-]*?)(?P<sep>[\s_-]*)[(（]?\s*[vV]?(?P<version>\d+(?:\.\d+){0,3})"
    r"\s*[)）]?$"
)


def check_framework(text: str) -> Normalised:
    """A framework with its version, ``PyTorch 2.1.0``. ``PyTorch_1.6.0``, ``TensorFlow1.15.0``,
    ``pytorch 1.7``, ``PyTorch (1.5.0)`` and the package's spelling (``TensorFlow-gpu_1.14.0``,
    ``torch 1.8.1``) are normalised to that spelling, with a note."""
    value = _require_value(text, "framework")
    match = _FRAMEWORK.match(value)
    if not match:
        bare = value.strip()
        known = bare if bare in FRAMEWORKS else _closest(bare, FRAMEWORKS)
        example = f"{known or 'PyTorch'} 2.1.0"
        if bare.isalpha():
            message = f"framework {value!r} has no version"
        else:
            message = f"framework {value!r} is not a framework name and version"
        raise FieldRuleError(message, f"write the framework with its version, e.g. {example!r}")
    name, version = match.group("name"), match.group("version")
    notes: list[str] = []
    canonical_name = next((f for f in FRAMEWORKS if f.lower() == name.lower()), None)
    package = framework_of_package(name) if canonical_name is None else None
    if package is not None:
        canonical_name = package
        notes.append(f"{name!r} is how the package is spelt; the framework is {package!r}")
    if canonical_name is None:
        close = _closest(name, FRAMEWORKS)
        if close is not None:
            raise FieldRuleError(f"framework name {name!r} is misspelt", f"did you mean {close!r}?")
        canonical_name = name
        notes.append(f"framework {name!r} is not one the kit knows ({', '.join(FRAMEWORKS)})")
    canonical = f"{canonical_name} {version}"
    if value != canonical:
        notes.insert(0, f"written {value!r}; the template writes {canonical!r}")
    return Normalised(canonical, tuple(notes))


def framework_name_and_version(text: str) -> tuple[str, str]:
    """``"PyTorch 2.1.0"`` -> ``("PyTorch", "2.1.0")``."""
    name, _, version = check_framework(text).value.rpartition(" ")
    return name, version


# --------------------------------------------------------------------------- model format

MODEL_FORMATS: tuple[str, ...] = (
    "ckpt", "pth", "pt", "pth.tar", "pb", "h5", "onnx", "om", "air", "mindir",
    "savedmodel", "caffemodel", "pdparams", "bin", "safetensors",
)  # fmt: skip


def check_model_format(text: str) -> Normalised:
    """The checkpoint's file format (``ckpt``, ``pth`` ...); several may be listed
    (``ckpt, pb, om``). A leading dot (``.h5``) is dropped."""
    value = _require_value(text, "model format")
    tokens = re.split(r"\s*[/,，、]\s*", value)
    canonical_tokens, notes = [], []
    for token in tokens:
        stripped = token.lstrip(".")
        if not stripped or not re.match(r"^[A-Za-z][A-Za-z0-9._]*", stripped):
            raise FieldRuleError(
                f"model format {token!r} is not a file format", "write e.g. ckpt or pth"
            )
        if stripped != token:
            notes.append(f"written {token!r}; the template writes {stripped!r}")
        canonical_tokens.append(stripped)
    separator = "/" if "/" in value else ", "
    return Normalised(separator.join(canonical_tokens), tuple(notes))


# --------------------------------------------------------------------------- precision

PRECISIONS: tuple[str, ...] = ("FP32", "FP16", "Mixed")
_PRECISION_HINTS: dict[str, str] = {
    "混合精度": "Mixed",
    "混合": "Mixed",
    "amp": "Mixed",
    "o1": "Mixed",
    "o2": "Mixed",
    "single": "FP32",
    "float32": "FP32",
    "fp 32": "FP32",
    "half": "FP16",
    "float16": "FP16",
    "bf16": "Mixed (bf16 mixed precision)",
}


def check_precision(text: str) -> Normalised:
    """FP32, FP16 or Mixed, case-insensitive; ``Mixed/FP16`` lists several."""
    value = _require_value(text, "precision")
    canonical_parts, notes = [], []
    parts = re.split(r"\s*/\s*", value)
    for part in parts:
        found = next((p for p in PRECISIONS if p.lower() == part.lower()), None)
        if found is None:
            meant = _PRECISION_HINTS.get(part.lower())
            if "%" in part:
                hint = "this is an accuracy figure; precision means FP32, FP16 or Mixed"
            elif meant is not None:
                hint = f"write {meant!r}"
            else:
                hint = "write FP32, FP16 or Mixed"
            single = meant if meant in PRECISIONS and len(parts) == 1 else None
            raise FieldRuleError(
                f"precision {value!r} is not one of FP32/FP16/Mixed", hint, single
            )
        if found != part:
            notes.append(f"written {part!r}; the template writes {found!r}")
        canonical_parts.append(found)
    return Normalised("/".join(canonical_parts), tuple(notes))


# --------------------------------------------------------------------------- processor


def check_processor(text: str) -> Normalised:
    """The processor the code trains on, e.g. ``昇腾910``; several may be listed."""
    return Normalised(_require_value(text, "processor"))


# --------------------------------------------------------------------------- category

CATEGORIES: tuple[str, ...] = ("Benchmark", "Official", "Research", "Tutorial")


@dataclass(frozen=True)
class PerformanceBar:
    """What a category promises: training throughput on ``cards`` cards at least ``min_ratio``
    times the baseline's (for Benchmark the competitor's, scaled linearly to 32 cards)."""

    cards: int
    min_ratio: float
    meaning_zh: str
    meaning_en: str


CATEGORY_BARS: dict[str, PerformanceBar] = {
    "Benchmark": PerformanceBar(
        32, 1.8, "32卡训练性能为基线性能1.8倍（竞品按照线性度测算）",
        "32-card training throughput at least 1.8x the baseline (competitor scaled linearly)",
    ),
    "Official": PerformanceBar(
        1, 1.2, "单卡训练性能为基线性能1.2倍",
        "single-card training throughput at least 1.2x the baseline",
    ),
}  # fmt: skip


def check_category(text: str) -> Normalised:
    """Benchmark, Official, Research or Tutorial, case-insensitive (``Tutorials`` too)."""
    value = _require_value(text, "category")
    singular = value[:-1] if value.lower() == "tutorials" else value
    found = next((c for c in CATEGORIES if c.lower() == singular.lower()), None)
    if found is None:
        close = _closest(value, CATEGORIES)
        hint = f"did you mean {close!r}? " if close else ""
        raise FieldRuleError(
            f"category {value!r} is not one of Benchmark/Official/Research/Tutorial",
            hint + "Benchmark and Official need measured throughput; otherwise write Research",
        )
    notes = () if value == found else (f"written {value!r}; the template writes {found!r}",)
    return Normalised(found, notes)


def check_category_evidence(category: str, ratio: float | None, cards: int | None) -> None:
    """Raise unless the measured throughput ratio meets the bar the category implies.

    Research and Tutorial promise no performance, so they need no evidence."""
    found = check_category(category).value
    bar = CATEGORY_BARS.get(found)
    if bar is None:
        return
    if ratio is None or cards is None:
        raise FieldRuleError(
            f"category {found} claims {bar.meaning_en}, but no measurement is given",
            "add category_evidence (ratio, cards, baseline, command, date) or use Research",
        )
    if cards != bar.cards:
        raise FieldRuleError(
            f"category {found} is measured on {bar.cards} card(s), the evidence used {cards}",
            f"measure throughput on {bar.cards} card(s)",
        )
    if ratio < bar.min_ratio:
        raise FieldRuleError(
            f"category {found} needs throughput >= {bar.min_ratio}x the baseline; "
            f"measured {ratio:g}x",
            "use Research until the measured ratio meets the bar",
        )


# --------------------------------------------------------------------------- code references

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")


def check_commit_id(text: str) -> Normalised:
    """A full 40-hex git commit id (an abbreviated one is ambiguous over time)."""
    value = _require_value(text, "commit_id")
    if not _HEX40.match(value):
        if re.fullmatch(r"[0-9a-fA-F]{4,39}", value):
            hint = "write the full 40-character id (git rev-parse <short-id>)"
            message = f"commit_id {value!r} is abbreviated ({len(value)} characters, not 40)"
        else:
            hint = "write the 40-hex id from git log"
            message = f"commit_id {value!r} is not 40 hex digits"
        raise FieldRuleError(message, hint)
    lowered = value.lower()
    notes = () if lowered == value else ("commit_id written in upper case",)
    return Normalised(lowered, notes)


def check_code_path(text: str) -> Normalised:
    """Where the model's code is inside the repository: relative, never escaping it (``..``).
    ``.`` means the repository root (the template: no need to ``cd`` when it holds one model)."""
    value = clean(text)
    if not value:
        raise FieldRuleError("code_path is empty", "write '.' for the repository root")
    notes: list[str] = []
    if "\\" in value:
        notes.append("code_path written with backslashes; it is a POSIX path")
        value = value.replace("\\", "/")
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise FieldRuleError(
            f"code_path {value!r} is absolute", "write it relative to the repository root"
        )
    parts = [p for p in PurePosixPath(value).parts if p != "."]
    if ".." in parts:
        raise FieldRuleError(
            f"code_path {value!r} leaves the repository ('..')",
            "write a path inside the repository, relative to its root",
        )
    canonical = "/".join(parts) or "."
    if canonical != value and not notes:
        notes.append(f"written {value!r}; normalised to {canonical!r}")
    return Normalised(canonical, tuple(notes))


_URL = re.compile(r"^(?:https?://[^\s/]+(?:/\S*)?|git@[^\s:]+:\S+|ssh://\S+|file://\S+)$")


def check_repository_url(text: str) -> Normalised:
    """A repository address git can clone: ``https://…``, ``git@host:path`` or ``ssh://…``."""
    value = _require_value(text, "url")
    if not _URL.match(value):
        raise FieldRuleError(
            f"url {value!r} is not a repository address",
            "write e.g. https://github.com/owner/repo.git",
        )
    if value.endswith((".", "，", "。", ",")):
        raise FieldRuleError(
            f"url {value!r} ends with punctuation", "remove the trailing punctuation"
        )
    return Normalised(value)


#: A web page of a repository's folder on GitHub, Gitee or GitLab: ``…/owner/repo/tree/BRANCH/
#: PATH`` (``blob`` for a file, ``-/tree`` on GitLab). git cannot clone it.
_WEB_URL = re.compile(
    r"^(?P<repo>https?://[^\s/]+/[^\s/]+/[^\s/]+?)(?:\.git)?/(?:-/)?(?:tree|blob|src)/"
    r"(?P<branch>[^\s/]+)(?:/(?P<path>\S*?))?/?$"
)


def cloneable(url: str) -> tuple[str, str, str] | None:
    """``(clone url, branch, path)`` a repository web page stands for
    (``https://gitee.com/o/r/tree/master/a/b`` -> ``https://gitee.com/o/r.git``, ``master``,
    ``a/b``); None when ``url`` is no such page."""
    match = _WEB_URL.match(url.strip())
    if match is None:
        return None
    return f"{match.group('repo')}.git", match.group("branch"), match.group("path") or ""


_BAD_REF = re.compile(r"(\s|\.\.|[~^:?*\[\\]|@\{|//|^/|/$|\.lock$|^-)")


def check_branch(text: str) -> Normalised:
    """A git branch name (git check-ref-format rules: no spaces, ``..``, ``~^:?*[\\``)."""
    value = _require_value(text, "branch")
    if _BAD_REF.search(value) or value.endswith("."):
        raise FieldRuleError(
            f"branch {value!r} is not a valid git branch name", "write e.g. master or main"
        )
    return Normalised(value)


#: Field name -> rule, for callers that check fields by name (the README validator).
FIELD_RULES: dict[str, Callable[[str], Normalised]] = {
    "publisher": check_publisher,
    "application_domain": check_application_domain,
    "version": check_version,
    "modified": check_modified,
    "size": check_size,
    "framework": check_framework,
    "model_format": check_model_format,
    "precision": check_precision,
    "processor": check_processor,
    "category": check_category,
    "description": check_description,
    "commit_id": check_commit_id,
    "code_path": check_code_path,
    "url": check_repository_url,
    "branch": check_branch,
}
