"""``modelzoo catalog ZOO -o DIR``: a static catalogue of a zoo (index.html, a page per model,
rules.html, index.json) that works from file:// with no network and no server.

Every deliverable of every layout is listed, from its deliverable.yaml or from what `extract`
reads of its README. Status (findings by severity, provenance verdicts) comes from a report:

    modelzoo validate -r ZOO --provenance --format json > report.json
    modelzoo catalog ZOO --report report.json -o site/

The build never validates or fetches anything itself. With --cache FILE a rebuild reads only
the deliverables whose files changed (by size and modification time) and writes only the pages
whose content changed; a site file already holding its bytes is never rewritten:

    modelzoo catalog ZOO --report report.json -o site/ --cache catalog-cache.json

See docs/catalog.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelzoo_kit.catalog_cache import CatalogCache


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
    parser.add_argument(
        "--cache", type=Path, metavar="FILE",
        help="keep what each build read and wrote in FILE (JSON), so that a rebuild reads and "
        "renders only what changed; a FILE made by another kit version, for another zoo, "
        "folder or --source-url, or that does not parse, is ignored with a warning and replaced",
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
    cache = _open_cache(args)
    started = time.perf_counter()
    catalog = build_catalog(args.zoo, args.report, jobs=args.jobs, cache=cache)
    site = write_site(catalog, args.output, args.zoo, args.source_url, cache=cache)
    if cache is not None:
        cache.save()
    seconds = time.perf_counter() - started
    size = (args.output / INDEX_FILE).stat().st_size
    removed = f", {len(site.removed)} removed" if site.removed else ""
    print(
        f"catalogue of {len(catalog.models)} model(s) in {args.output}: "
        f"{len(site.written)} file(s) written, {len(site.unchanged)} unchanged{removed} "
        f"({INDEX_FILE} {size / 1024:.0f} KiB, {seconds:.2f} s)",
        file=sys.stderr,
    )
    if cache is not None:
        print(
            f"cache {args.cache}: {cache.sources_reused} of {len(catalog.models)} model(s) "
            f"not read again, {cache.files_reused} site file(s) not rendered again",
            file=sys.stderr,
        )
    return 0


def _open_cache(args: argparse.Namespace) -> CatalogCache | None:
    """The --cache file, or None; one that cannot be used is a warning, not an error (the
    build reads everything and replaces it)."""
    from modelzoo_kit.catalog_cache import CatalogCache

    if args.cache is None:
        return None
    cache = CatalogCache.open(args.cache, args.zoo, args.output, args.source_url)
    if cache.warning is not None:
        print(f"warning: cache {cache.warning}; not used, every deliverable is read and the "
              "file is replaced", file=sys.stderr)  # fmt: skip
    return cache
