"""``modelzoo run DIR TASK [-- ARGS...]``: run one of a deliverable's declared entry points.

The commands live in ``deliverable.yaml`` (``entry_points``); the README's quick start quotes the
same text, so what a reader copies and what the kit runs are one source. The command runs with
bash from the deliverable folder; arguments after ``--`` are appended, shell-quoted. The exit
status is the command's own, so ``modelzoo run`` composes in scripts like the command itself.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
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
    parser.add_argument("folder", type=Path, metavar="DIR", help="deliverable folder")
    parser.add_argument(
        "task", nargs="?", metavar="TASK", help="entry point name; omit to list them"
    )
    parser.add_argument(
        "extra", nargs="*", metavar="ARGS", help="after `--`: appended to the command"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the command and the folder, run nothing"
    )
    parser.set_defaults(run=run)


def command_line(command: str, extra: list[str]) -> str:
    """The entry point's command with the user's extra arguments appended, shell-quoted."""
    return command if not extra else f"{command} {shlex.join(extra)}"


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.loading import load_deliverable

    folder: Path = args.folder
    deliverable = load_deliverable(folder)
    entry_points = deliverable.entry_points
    if args.task is None:
        width = max(map(len, entry_points), default=0)
        for name, entry in entry_points.items():
            print(f"{shown(name, one_line=True):<{width}}  {shown(entry.command)}")
        return 0
    if args.task not in entry_points:
        known = ", ".join(entry_points) or "none"
        raise UsageError(
            f"{folder}: no entry point {args.task!r} in deliverable.yaml (declared: {known})"
        )
    line = command_line(entry_points[args.task].command, list(args.extra))
    # What the terminal shows must be what bash runs: a CR or an ESC sequence in the command
    # would hide part of it, so control characters are printed as their escapes.
    print(f"$ cd {shown(folder, one_line=True)} && {shown(line)}", file=sys.stderr, flush=True)
    if args.dry_run:
        return 0
    bash = shutil.which("bash")
    if bash is None:
        raise UsageError("bash is not on PATH; entry points are bash command lines")
    completed = subprocess.run([bash, "-c", line], cwd=folder, check=False)
    if completed.returncode != 0:
        print(
            f"modelzoo run: {shown(args.task, one_line=True)} failed with exit status "
            f"{completed.returncode}",
            file=sys.stderr,
        )
    return completed.returncode
