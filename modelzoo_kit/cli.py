"""The ``modelzoo`` command: parse, call the library, print, exit.

Each subcommand lives in ``modelzoo_kit/commands/<name>.py`` with two functions:
``register(subparsers, name, help_text)``, which adds its parser and calls
``parser.set_defaults(run=run)``, and ``run(args) -> int``. Command modules are imported only when
needed so that ``modelzoo --help`` stays fast and never touches torch or git.

Exit codes: 0 ok, 1 findings (or a stale README), 2 usage or input error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from modelzoo_kit import __version__
from modelzoo_kit.errors import ModelzooError

#: name -> one-line help. The order is the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "new": "scaffold a deliverable folder with a deliverable.yaml",
    "render": "render README.md / README.en.md from deliverable.yaml",
    "schema": "print or write the JSON Schema of deliverable.yaml",
    "validate": "check deliverables and legacy READMEs against the template",
    "extract": "turn a legacy README into a deliverable.yaml",
    "provenance": "prove a deliverable's code is the code at the commit it cites",
    "run": "run one of a deliverable's declared entry points",
}


def build_parser(load: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser; only the command modules named in ``load`` are imported.

    ``--help`` needs no module (it lists COMMANDS); parsing a subcommand loads just that one."""
    parser = argparse.ArgumentParser(
        prog="modelzoo",
        description="Typed metadata, rendering, validation and provenance for model-zoo "
        "training deliverables.",
    )
    parser.add_argument("--version", action="version", version=f"modelzoo-kit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if load is not None and name in load:
            module = importlib.import_module(f"modelzoo_kit.commands.{name}")
            module.register(subparsers, name, help_text)
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=[command] if command in COMMANDS else [])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except ModelzooError as exc:
        print(f"modelzoo {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
