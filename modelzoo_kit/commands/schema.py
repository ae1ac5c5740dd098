"""``modelzoo schema [--write | --check]``: the JSON Schema of deliverable.yaml, exported from the
pydantic model so editors can check the file as it is typed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=__doc__)
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--write", action="store_true", help="write it to schemas/deliverable.schema.json"
    )
    action.add_argument(
        "--check", action="store_true", help="exit 1 when the written schema is stale"
    )
    parser.add_argument(
        "--output", type=Path, help="schema file for --write/--check (default: the kit's own)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.metadata import SCHEMA_FILE, json_schema_text
    from modelzoo_kit.resources import schemas_dir
    from modelzoo_kit.writing import write_atomically

    text = json_schema_text()
    if not (args.write or args.check):
        sys.stdout.write(text)
        return 0
    target = args.output or schemas_dir() / SCHEMA_FILE
    current = None
    if target.exists():
        from modelzoo_kit.inputs import MAX_SOURCE_BYTES, read_bytes

        current = read_bytes(target, MAX_SOURCE_BYTES, what="schema").decode("utf-8", "replace")
    if args.check:
        if current != text:
            print(f"{target}: stale; run `modelzoo schema --write`", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    if current == text:
        print(f"{target} is up to date")
    else:
        write_atomically(target, text)
        print(f"wrote {target}")
    return 0
