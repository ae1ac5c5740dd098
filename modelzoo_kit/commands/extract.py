"""``modelzoo extract README.md [-o deliverable.yaml]``: the deliverable.yaml a legacy README
implies.

Every value the README states is written in the metadata model's shape; what had to be
normalised, what broke a rule and what the README never states are listed on stderr (and as a
comment at the top of the file). A README.en.md beside README.md contributes the English of
every text field, so both READMEs render back from the one deliverable.yaml.

Exit 0 when the result is a complete deliverable, 1 when something is left for the author to
write or decide, 2 when the README cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelzoo_kit.display import shown
from modelzoo_kit.errors import UsageError


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("readme", type=Path, metavar="README", help="the legacy README.md")
    parser.add_argument(
        "-o", "--output", type=Path, help="write deliverable.yaml here (default: stdout)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.set_defaults(run=run)


def header(readme: Path, notes: list) -> str:
    lines = [f"# Extracted from {shown(readme.name, one_line=True)} by `modelzoo extract`."]
    if notes:
        lines.append("# Read this list, finish what it names, then run `modelzoo render`:")
        # One comment line per note: a newline in a README value must not start a YAML line.
        lines.extend(f"#   {shown(note, one_line=True)}" for note in notes)
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.errors import DeliverableNotFoundError
    from modelzoo_kit.extract import read_extraction
    from modelzoo_kit.loading import dump_data
    from modelzoo_kit.writing import write_atomically

    if not args.readme.exists():
        raise DeliverableNotFoundError(f"{args.readme}: no such file")
    if args.output is not None and args.output.is_dir():
        raise UsageError(
            f"-o {args.output}: is a folder; name the file, e.g. {args.output / 'deliverable.yaml'}"
        )
    if args.output is not None and args.output.exists() and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to overwrite it")
    result = read_extraction(args.readme)
    text = header(args.readme, result.notes) + dump_data(result.data)
    if args.output is None:
        sys.stdout.write(text)
    else:
        if not args.output.parent.is_dir():
            raise UsageError(f"{args.output.parent}: no such folder")
        write_atomically(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    for note in result.notes:
        print(f"{args.readme}: {shown(note, one_line=True)}", file=sys.stderr)
    return 0 if result.complete else 1
