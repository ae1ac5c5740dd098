"""One deliverable -> the model card other hubs read: a Hugging Face model card (YAML front
matter with ``model-index`` from the results table) or a ModelScope/Modelers-style front
matter.

The Hugging Face card is built by huggingface_hub's own card classes (``ModelCardData``,
``EvalResult``, ``ModelCard``), an optional extra (``pip install 'modelzoo-kit[hub]'``), so
the format is the library's, not a copy of it; nothing is pushed, and nothing needs a network.
ModelScope and Modelers have no such library on PyPI, so their front matter is written here
with the keys their model pages read (``frameworks``, ``tasks``, ``license``, ``tags``,
``datasets``, ``hardwares``).

The card's data comes from :func:`card_facts`: the same plain data the catalogue reads
(deliverable.yaml, or what ``extract`` reads of a README). The body is short: the title, the
summary, and where the deliverable's README is; it is data, never evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelzoo_kit.errors import DeliverableNotFoundError, UsageError

#: Application domain -> the Hugging Face pipeline tag (and ModelScope task) it is.
PIPELINE_TAGS: dict[str, str] = {
    "Classification": "image-classification",
    "Object Detection": "object-detection",
    "Segmentation": "image-segmentation",
    "Image Synthesis": "text-to-image",
    "NLP": "text-classification",
    "Speech Synthesis": "text-to-speech",
    "Speech Recognition": "automatic-speech-recognition",
    "Text To Speech": "text-to-speech",
    "Audio Synthesis": "text-to-audio",
    "Machine Translation": "translation",
    "OCR": "image-to-text",
    "Reinforcement Learning": "reinforcement-learning",
}

#: Framework name (lower case) -> Hugging Face ``library_name``.
LIBRARIES = {"pytorch": "pytorch", "tensorflow": "tf", "mindspore": "mindspore"}

#: A LICENSE file's first words -> the SPDX-style id hubs use.
LICENSES = (
    (re.compile(r"Apache License,?\s+Version 2\.0", re.I), "apache-2.0"),
    (re.compile(r"\bMIT License\b", re.I), "mit"),
    (re.compile(r"BSD 3-Clause|Redistribution and use in source and binary forms", re.I),
     "bsd-3-clause"),
    (re.compile(r"GNU GENERAL PUBLIC LICENSE\s+Version 3", re.I), "gpl-3.0"),
)

FORMATS = ("hf", "modelscope")


@dataclass
class CardFacts:
    """What a hub card says about one deliverable, in the hubs' own vocabulary."""

    name: str
    title: str
    summary: str
    license: str | None
    tags: list[str]
    library: str | None
    framework: str
    pipeline_tag: str | None
    datasets: list[str]
    hardware: list[str]
    results: list[dict[str, Any]] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def card_facts(folder: Path) -> CardFacts:
    """The card facts of a deliverable folder (deliverable.yaml, else its README)."""
    from modelzoo_kit.catalog import data_from_readme, data_from_yaml, shown_text
    from modelzoo_kit.errors import InputFileError, InputProblem
    from modelzoo_kit.layouts import DELIVERABLE_FILE, README_FILES

    if not folder.is_dir():
        raise DeliverableNotFoundError(f"{folder}: no such folder (give a deliverable's folder)")
    data: dict[str, Any] = {}
    problem = ""
    if (folder / DELIVERABLE_FILE).is_file():
        data, problem = data_from_yaml(folder)
    elif (folder / README_FILES["zh"]).is_file():
        data, problem = data_from_readme(folder / README_FILES["zh"], folder.resolve().name)
    else:
        raise DeliverableNotFoundError(f"{folder}: holds no {DELIVERABLE_FILE} or README.md")
    if not data:
        raise InputFileError([InputProblem(folder, None, None, "", problem)])
    basic = data.get("basic") or {}
    framework = shown_text(basic.get("framework"))
    framework_name = framework.split(" ", 1)[0]
    domain = shown_text(basic.get("application_domain"))
    processor = shown_text(basic.get("processor"))
    hardware = ["NPU"] if re.search(r"昇腾|ascend|npu", processor, re.I) else []
    precision, category = shown_text(basic.get("precision")), shown_text(basic.get("category"))
    tags = [t for t in (_slug(framework_name), _slug(domain), _slug(precision), _slug(category),
                        "ascend" if hardware else "", "modelzoo") if t]  # fmt: skip
    dataset = shown_text((data.get("default_config") or {}).get("dataset"))
    return CardFacts(
        name=str(data.get("name") or folder.resolve().name),
        title=shown_text(data.get("title")) or str(data.get("name") or folder.name),
        summary=shown_text((data.get("overview") or {}).get("summary")),
        license=_license(folder),
        tags=list(dict.fromkeys(tags)),
        library=LIBRARIES.get(framework_name.lower()),
        framework=framework_name,
        pipeline_tag=PIPELINE_TAGS.get(domain),
        datasets=[dataset] if dataset else [],
        hardware=hardware,
        results=[r for r in data.get("results") or [] if isinstance(r, dict)],
    )


def _license(folder: Path) -> str | None:
    """The license of the folder's LICENSE file, or of the nearest one above it up to the
    repository's root (a zoo keeps one there), as a hub id; None when there is none or it is
    not one we know."""
    from modelzoo_kit.inputs import read_bytes

    for parent in (folder.resolve(), *folder.resolve().parents):
        if parent != folder.resolve() and (parent.parent == parent):
            return None
        for name in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
            path = parent / name
            if path.is_file():
                try:
                    head = read_bytes(path, 1024 * 1024, what="LICENSE")[:4096]
                except (OSError, ValueError):
                    return None
                text = head.decode("utf-8", "replace")
                return next((spdx for pattern, spdx in LICENSES if pattern.search(text)), None)
        if (parent / ".git").exists():
            return None  # the repository's root: a LICENSE above it is not its licence
    return None


def _body(facts: CardFacts) -> str:
    """The card's Markdown. Hubs render HTML in Markdown, so the deliverable's text has its
    ``<``, ``>`` and ``&`` escaped: a value cannot add markup (a script, an image) to a card."""
    import html

    from modelzoo_kit.render import md_inline

    summary = html.escape(facts.summary.strip(), quote=False) or "A training deliverable."
    title = md_inline(html.escape(facts.title.replace("\n", " "), quote=False))
    return (f"\n# {title}\n\n{summary}\n\nThe training deliverable's README (README.md, "
            "README.en.md) says how to train, evaluate and reproduce it; this card was written "
            "from its metadata by modelzoo-kit.\n")  # fmt: skip


# --------------------------------------------------------------------------- Hugging Face


def hf_card_text(facts: CardFacts) -> str:
    """A Hugging Face model card (README.md with YAML front matter) through huggingface_hub."""
    try:
        from huggingface_hub import EvalResult, ModelCard, ModelCardData
    except ImportError:
        raise UsageError(
            "--format hf needs huggingface_hub: pip install 'modelzoo-kit[hub]'"
        ) from None
    results = _eval_results(facts, EvalResult)
    data = ModelCardData(
        license=facts.license,
        tags=facts.tags,
        library_name=facts.library,
        pipeline_tag=facts.pipeline_tag,
        datasets=facts.datasets or None,
        model_name=facts.name if results else None,
        eval_results=results or None,
    )
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{_body(facts)}")
    return str(card)


def _eval_results(facts: CardFacts, eval_result: Any) -> list[Any]:
    """``model-index`` entries: every measured metric of every NPU row of the results table,
    and its throughput, each named by its configuration (``8p``)."""
    if not facts.pipeline_tag or not facts.datasets:
        return []
    dataset = facts.datasets[0]
    found = []
    for row in facts.results:
        if row.get("baseline") is not None:
            continue  # a competitor's row is not this model's result
        config = f"{row.get('cards')}p"
        values = [(name, value) for name, value in (row.get("metrics") or {}).items()
                  if isinstance(value, (int, float))]  # fmt: skip
        if isinstance(row.get("throughput"), (int, float)):
            values.append(("throughput (samples/s)", row["throughput"]))
        for name, value in values:
            found.append(eval_result(
                task_type=facts.pipeline_tag, dataset_type=_slug(dataset), dataset_name=dataset,
                metric_type=_slug(name) or "metric", metric_value=value,
                metric_name=f"{name} ({config})", metric_config=config,
            ))  # fmt: skip
    return found


# --------------------------------------------------------------------------- ModelScope


def modelscope_card_text(facts: CardFacts) -> str:
    """ModelScope/Modelers-style front matter and the same short body."""
    import yaml

    front: dict[str, Any] = {"frameworks": [facts.framework] if facts.framework else []}
    if facts.license:
        front["license"] = facts.license
    if facts.pipeline_tag:
        front["tasks"] = [facts.pipeline_tag]
    if facts.hardware:
        front["hardwares"] = facts.hardware
    front["tags"] = facts.tags
    if facts.datasets:
        front["datasets"] = {"train": list(facts.datasets), "evaluation": list(facts.datasets)}
    metrics = sorted({n for r in facts.results for n in (r.get("metrics") or {})})
    if metrics:
        front["metrics"] = metrics
    text = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return f"---\n{text}---\n{_body(facts)}"


def card_text(folder: Path, fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    facts = card_facts(folder)
    return hf_card_text(facts) if fmt == "hf" else modelscope_card_text(facts)
