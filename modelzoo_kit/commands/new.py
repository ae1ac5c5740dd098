"""``modelzoo new NAME [--dir PARENT] [--layout L]``: scaffold a deliverable folder with a
deliverable.yaml.

Everything the kit can fill in honestly is filled in (today's date, the template's defaults, the
ModelZoo launch-script conventions); everything only the author can know is ``null`` with a
``# decide:`` comment, so ``modelzoo render`` lists exactly what is left to decide. An existing
folder with a deliverable.yaml is never overwritten. ``--layout`` names the README layout
the deliverable renders to; the metadata is the same for every layout."""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path
from typing import Any

from modelzoo_kit.metadata import DEFAULT_PROVENANCE_IGNORE


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=__doc__)
    parser.add_argument("name", help="deliverable name, e.g. efficientnet_b0 (the folder's name)")
    parser.add_argument(
        "--dir", type=Path, default=Path("."), help="folder to create it in (default: here)"
    )
    parser.add_argument(
        "--layout",
        choices=("template", "pytorch-2022"),
        default="template",
        help="the README layout (default: template)",
    )
    parser.set_defaults(run=run)


#: Field path -> what the author must decide there. Shown as a comment beside the ``null``.
DECISIONS: dict[str, str] = {
    "basic.publisher": "who publishes it, e.g. Huawei",
    "basic.application_domain": "one of the template's domains, e.g. Classification, or Other",
    "basic.version": 'two digits in quotes: "0.x" for C3X, "1.x" for C7X',
    "basic.size": "checkpoint size (888K / 21M), or name basic.checkpoint to derive it",
    "basic.framework": "framework and version, e.g. PyTorch 2.1.0",
    "basic.model_format": "checkpoint format, e.g. pth or ckpt",
    "basic.precision": "FP32, FP16 or Mixed",
    "basic.description": "one sentence: 基于PyTorch框架的…网络训练代码",
    "overview.summary": "what the network is (not a copy of the paper)",
    "overview.adapted.url": "repository that holds this deliverable",
    "overview.adapted.commit_id": "40-hex commit of that repository that contains this folder",
    "default_config.dataset": "dataset the preprocessing describes, e.g. ImageNet",
    "default_config.hyperparameters": "the default hyperparameters, name: value",
    "mixed_precision.principle": "how mixed precision works in this code",
    "mixed_precision.enable": "how to switch it on, e.g. the flag",
    "quick_start.dataset": "how to get and lay out the dataset",
    "transfer_learning.dataset": "dataset layout for the user's own data",
    "transfer_learning.labels": "label format",
    "transfer_learning.config_changes": "what to change for a new dataset",
    "transfer_learning.pretrained": "how to load a pretrained checkpoint",
    "transfer_learning.training": "how to train on it",
    "transfer_learning.evaluation": "how to evaluate it",
    "advanced.training_process": "what happens during training, where logs and checkpoints go",
    "advanced.inference_process": "how validation/inference runs",
}


def scaffold(name: str, today: date, layout: str = "template") -> dict[str, Any]:
    """The deliverable.yaml data for a new deliverable (``None`` marks a decision)."""
    data = _scaffold(name, today)
    if layout != "template":
        # The layout's results table has a row per card count the scripts train on; the
        # figures are filled in once measured.
        data = {"schema_version": 1, "layout": layout, **data, "results": [
            {"cards": 1, "metrics": {"Acc@1": None}, "throughput": None},
            {"cards": 8, "metrics": {"Acc@1": None}, "throughput": None},
        ]}  # fmt: skip
    return data


def _scaffold(name: str, today: date) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "name": name,
        "title": name,
        "basic": {
            "publisher": None,
            "application_domain": None,
            "version": None,
            "modified": f"{today.year:04d}.{today.month:02d}.{today.day:02d}",
            "size": None,
            "framework": None,
            "model_format": None,
            "precision": None,
            "processor": "昇腾910",
            "category": "Research",
            "description": None,
        },
        "overview": {
            "summary": None,
            "adapted": {
                "url": None,
                "branch": "master",
                "commit_id": None,
                "code_path": name,
            },
        },
        "default_config": {"dataset": None, "hyperparameters": None},
        "features": [
            {"name": {"zh": "分布式训练", "en": "Distributed training"}, "supported": False},
            {"name": {"zh": "混合精度", "en": "Mixed precision"}, "supported": False},
        ],
        "mixed_precision": {"principle": None, "enable": None},
        "environment": {"images": []},
        "quick_start": {"dataset": None},
        "transfer_learning": {
            "dataset": None,
            "labels": None,
            "config_changes": None,
            "pretrained": None,
            "training": None,
            "evaluation": None,
        },
        "advanced": {
            "training_script": "train.py",
            "files": {},
            "training_process": None,
            "inference_process": None,
        },
        "entry_points": {
            "train-1p": {
                "command": "bash test/train_full_1p.sh --data_path=/data/dataset",
                "description": {"zh": "单卡训练", "en": "train on one card"},
            },
            "train-8p": {
                "command": "bash test/train_full_8p.sh --data_path=/data/dataset",
                "description": {"zh": "八卡训练", "en": "train on eight cards"},
            },
            "evaluate": {
                "command": "bash test/train_eval_1p.sh --data_path=/data/dataset",
                "description": {"zh": "验证精度", "en": "validate accuracy"},
            },
        },
        "provenance": {"ignore": list(DEFAULT_PROVENANCE_IGNORE)},
    }


HEADER = """\
# deliverable.yaml: what this training deliverable is. README.md and README.en.md are rendered
# from it with `modelzoo render .`; edit this file, never the READMEs.
# Fields set to null are decisions only you can make (see the `# decide:` comments);
# `modelzoo render .` lists the ones still open. Schema: `modelzoo schema`.
"""


def annotate(text: str) -> str:
    """Add a ``# decide:`` comment to each ``null`` line named in :data:`DECISIONS`."""
    stack: list[tuple[int, str]] = []
    lines = []
    for line in text.splitlines():
        match = re.match(r"^(\s*)([A-Za-z0-9_-]+):(.*)$", line)
        if match:
            indent = len(match.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(2)))
            path = ".".join(key for _, key in stack)
            if match.group(3).strip() == "null" and path in DECISIONS:
                line = f"{line}  # decide: {DECISIONS[path]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.errors import UsageError
    from modelzoo_kit.loading import DELIVERABLE_FILE, dump_data
    from modelzoo_kit.writing import write_atomically

    name = args.name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UsageError(
            f"deliverable name {name!r}: use letters, digits, '_', '.', '-' (e.g. efficientnet_b0)"
        )
    folder = args.dir / name
    target = folder / DELIVERABLE_FILE
    if target.exists():
        raise UsageError(f"{target} already exists; `modelzoo new` never overwrites a deliverable")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder; choose another name or --dir")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(
            f"{folder}: a parent of it is a file, not a folder; use another --dir"
        ) from None
    except OSError as exc:
        raise UsageError(f"{folder}: cannot create it: {exc.strerror or exc}") from None
    data = scaffold(name, date.today(), args.layout)
    write_atomically(target, HEADER + annotate(dump_data(data)))
    print(f"created {target}")
    print(f"next: fill in the `# decide:` fields, add {folder / 'train.py'}, then")
    print(f"      modelzoo render {folder}")
    return 0
