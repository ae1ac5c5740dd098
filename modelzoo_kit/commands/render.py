"""``modelzoo render DIR... [--lang zh|en|all] [--check]``: README.md / README.en.md from
deliverable.yaml. ``--check`` writes nothing and exits 1 with a unified diff when a README is
stale, which makes it a CI gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="deliverable folder")
    parser.add_argument(
        "--lang",
        choices=("zh", "en", "all"),
        default="all",
        help="zh writes README.md, en writes README.en.md (default: all)",
    )
    parser.add_argument(
        "--layout",
        choices=("template", "pytorch-2022"),
        help="render this layout instead of the one deliverable.yaml names (to move a "
        "deliverable to another layout, render with this, then set `layout:` in the yaml)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff when a README differs from its rendering",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.display import shown
    from modelzoo_kit.render import languages, render_folder, stale
    from modelzoo_kit.writing import check_replaceable, write_atomically

    langs = languages(args.lang)
    outdated = checked = 0
    for folder in args.folders:
        for rendered in render_folder(folder, langs, args.layout):
            checked += 1
            if args.check:
                diff = stale(rendered)
                if diff:
                    outdated += 1
                    sys.stdout.write(shown(diff))  # README lines are data: controls escaped
                    print(
                        f"{rendered.path}: stale; run `modelzoo render {folder}`", file=sys.stderr
                    )
                continue
            check_replaceable(rendered.path)  # before reading it: a FIFO would block
            if stale(rendered):
                write_atomically(rendered.path, rendered.text)
                print(f"wrote {rendered.path}")
            else:
                print(f"{rendered.path} is up to date")
    if args.check and not outdated:
        print(f"{checked} README(s) up to date")
    return 1 if outdated else 0
