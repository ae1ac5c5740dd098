"""``modelzoo export-card DIR --format hf|modelscope [-o FILE]``: a deliverable's model card in
the format another hub reads.

``hf`` is a Hugging Face model card (YAML front matter: license, tags, library_name,
pipeline_tag, datasets, and model-index from the results table), built with huggingface_hub's
card classes (``pip install 'modelzoo-kit[hub]'``); ``modelscope`` is ModelScope/Modelers-style
front matter (frameworks, tasks, license, tags, datasets, hardwares). Nothing is uploaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name, help=help_text, description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("folder", type=Path, metavar="DIR", help="the deliverable's folder")
    parser.add_argument("--format", choices=("hf", "modelscope"), default="hf")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write the card here (default: print it)")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.cards import card_text
    from modelzoo_kit.writing import write_atomically

    text = card_text(args.folder, args.format)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomically(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
