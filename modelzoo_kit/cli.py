"""The ``modelzoo`` command: parse, call the library, print, exit.

Each subcommand lives in ``modelzoo_kit/commands/<name>.py`` with two functions:
``register(subparsers, name, help_text)``, which adds its parser and calls
``parser.set_defaults(run=run)``, and ``run(args) -> int``. Command modules are imported only when
needed so that ``modelzoo --help`` stays fast and never touches torch or git.

Exit codes (:data:`EXIT_CODES`): 0 ok, 1 findings (or a stale README), 2 usage or input error
(a user's mistake or the environment: a bad file, an unreadable one, a full disk), 3 internal
error (a bug in the kit: one line says so; ``--debug`` or ``MODELZOO_DEBUG=1`` adds the
traceback). ``modelzoo run`` exits with the entry point's own status.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
import traceback
from collections.abc import Sequence

from modelzoo_kit import __version__
from modelzoo_kit.display import shown
from modelzoo_kit.errors import ModelzooError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 3

#: Every exit status the kit itself gives (``run`` passes on its entry point's own).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "no problem found",
    EXIT_FINDINGS: "findings (errors), or a stale README under --check",
    EXIT_INPUT_ERROR: "usage or input error: a bad command line or file, an unreadable file, a "
    "full disk",
    EXIT_INTERNAL_ERROR: "internal error: a bug in modelzoo-kit (rerun with --debug and report "
    "it)",
}

#: Set to 1 for the traceback of an internal error (as ``--debug``).
DEBUG_ENV = "MODELZOO_DEBUG"

#: name -> one-line help. The order is the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "new": "scaffold a deliverable folder with a deliverable.yaml",
    "render": "render README.md / README.en.md from deliverable.yaml",
    "schema": "print or write the JSON Schema of deliverable.yaml",
    "validate": "check deliverables and legacy READMEs against the template",
    "extract": "turn a legacy README into a deliverable.yaml",
    "provenance": "prove a deliverable's code is the code at the commit it cites",
    "run": "run one of a deliverable's declared entry points",
    "catalog": "build a static catalogue site (and index.json) of a zoo",
    "export-card": "write a deliverable's Hugging Face or ModelScope model card",
}


def build_parser(load: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser; only the command modules named in ``load`` are imported.

    ``--help`` needs no module (it lists COMMANDS); parsing a subcommand loads just that one."""
    parser = argparse.ArgumentParser(
        prog="modelzoo",
        description="Typed metadata, rendering, validation and provenance for model-zoo "
        "training deliverables.",
        epilog="exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()),
    )
    parser.add_argument("--version", action="version", version=f"modelzoo-kit {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an internal error (or set {DEBUG_ENV}=1)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if load is not None and name in load:
            module = importlib.import_module(f"modelzoo_kit.commands.{name.replace('-', '_')}")
            module.register(subparsers, name, help_text)
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # a path that is not UTF-8 prints as \udcff
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=[command] if command in COMMANDS else [])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_INPUT_ERROR
    try:
        return int(args.run(args))
    except ModelzooError as exc:
        report_error(args.command, str(exc))
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        report_error(args.command, "interrupted")
        return 130
    except OSError as exc:  # the environment, not the kit: a vanished path, a closed pipe
        report_error(args.command, os_error_text(exc))
        return EXIT_INPUT_ERROR
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            traceback.print_exc()
        report_error(
            args.command,
            f"internal error ({type(exc).__name__}), a bug in modelzoo-kit {__version__}; "
            f"rerun with --debug (or {DEBUG_ENV}=1) for the traceback and report it",
        )
        return EXIT_INTERNAL_ERROR


def os_error_text(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def report_error(command: str, message: str) -> None:
    """The one place the CLI prints an error message: credentials masked and control characters
    escaped (an OSError's file name, a bug's message), whatever raised it."""
    print(f"modelzoo {command}: {shown(message)}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
