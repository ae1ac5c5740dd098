"""``modelzoo catalog ZOO -o DIR``: a static catalogue of a zoo (index.html, a page per model,
rules.html, index.json) that works from file:// with no network and no server.

Every deliverable of every layout is listed, from its deliverable.yaml or from what `extract`
reads of its README. Status (findings by severity, provenance verdicts) comes from a report:

    modelzoo validate -r ZOO --provenance --format json > report.json
    modelzoo catalog ZOO --report report.json -o site/

The build never validates or fetches anything itself. See docs/catalog.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name, help=help_text, description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("zoo", type=Path, metavar="ZOO", help="the zoo checkout's root folder")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                        help="folder to write the site into (made if absent)")  # fmt: skip
    parser.add_argument(
        "--report", type=Path, metavar="FILE",
        help="a `modelzoo validate -r --format json` report (with --provenance for verdicts)",
    )  # fmt: skip
    parser.add_argument(
        "--source-url", metavar="URL",
        help="where the zoo's files are online (https://.../blob/master/): findings link to "
        "their line there; default: relative links into the checkout",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", type=int, default=min(os.cpu_count() or 1, 8), metavar="N",
        help="read deliverables in N processes (default: the CPU count, at most 8)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.catalog import build_catalog
    from modelzoo_kit.catalog_site import INDEX_FILE, write_site
    from modelzoo_kit.errors import DeliverableNotFoundError, UsageError

    if not args.zoo.is_dir():
        raise DeliverableNotFoundError(f"{args.zoo}: no such folder (give a zoo's root folder)")
    if args.report is not None and not args.report.exists():
        raise DeliverableNotFoundError(f"{args.report}: no such file (--report)")
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"{args.output}: is not a folder (-o names the site's folder)")
    started = time.perf_counter()
    catalog = build_catalog(args.zoo, args.report, jobs=args.jobs)
    written = write_site(catalog, args.output, args.zoo, args.source_url)
    seconds = time.perf_counter() - started
    size = (args.output / INDEX_FILE).stat().st_size
    print(
        f"catalogue of {len(catalog.models)} model(s): {len(written)} file(s) in {args.output} "
        f"({INDEX_FILE} {size / 1024:.0f} KiB, {seconds:.2f} s)",
        file=sys.stderr,
    )
    return 0
