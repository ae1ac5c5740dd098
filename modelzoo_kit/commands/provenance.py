"""``modelzoo provenance DIR... [--cache DIR] [--offline] [--strict] [--format text|json]``

Prove a deliverable's code is exactly the code at the commit its deliverable.yaml cites: the
url and branch exist, the commit is on the branch, ``code_path`` exists there, and the folder's
git tree equals ``commit_id:code_path`` (otherwise: what was added, removed, modified, re-moded).
The upstream reference is checked too, with a report of which upstream files the deliverable
carries. Nothing in the deliverable or the user's repositories is written.

``--suggest`` (for a deliverable that lives in the repository it cites) prints the commit to cite.
A reference that cannot be checked because no network is reachable (and nothing is cached) is
a warning (PV060), so an offline check still passes; ``--strict`` makes it an error. A deliverable
citing a commit of the repository it lives in is checked there, without the network.
Exit codes: 0 no error, 1 findings with errors, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name, help=help_text, description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, metavar="DIR",
                        help="deliverable folder (holding deliverable.yaml)")
    parser.add_argument("--cache", type=Path, metavar="DIR",
                        help="keep fetched commits and trees here: a re-check is near-instant "
                        "and --offline works (default: a temporary cache, removed afterwards)")
    parser.add_argument("--offline", action="store_true",
                        help="never use the network; answer from --cache (an uncached "
                        "reference is a PV060 warning: not verified)")
    parser.add_argument("--strict", action="store_true",
                        help="a reference that could not be verified (no network, not cached: "
                        "PV060) is an error, for gates that demand proof")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--ignore", action="append", default=[], metavar="GLOB",
                        help="also ignore these paths (adds to provenance.ignore; repeatable)")
    parser.add_argument("--select", action="append", default=[], metavar="RULE",
                        help="report only rules starting with this prefix (repeatable)")
    parser.add_argument("--suggest", action="store_true",
                        help="print the commit to cite when the deliverable lives in the "
                        "repository it cites")
    parser.add_argument("--timeout", type=_positive_seconds, default=300.0, metavar="SECONDS",
                        help="limit for each git command (default 300)")
    parser.add_argument("--max-fetch-mb", type=int, default=2048, metavar="MB",
                        help="stop a fetch that receives more than this (default 2048)")
    parser.set_defaults(run=run)


def _positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds above zero (``nan`` and ``inf`` are not)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive, finite number of seconds")
    return value


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.display import shown
    from modelzoo_kit.errors import UsageError
    from modelzoo_kit.findings import exit_code, filter_findings, report_json, report_text
    from modelzoo_kit.gitremote import FetchLimits
    from modelzoo_kit.loading import load_deliverable
    from modelzoo_kit.provenance import check_provenance, suggest_commit

    if args.timeout <= 0 or args.max_fetch_mb <= 0:
        raise UsageError("--timeout and --max-fetch-mb must be positive")
    from modelzoo_kit.globs import glob_problem

    for pattern in args.ignore:
        problem = glob_problem(pattern)
        if problem is not None:
            raise UsageError(f"--ignore {pattern!r}: {problem}")
    limits = FetchLimits(timeout_s=args.timeout, max_bytes=args.max_fetch_mb * 1024**2)
    findings = []
    suggestions = []
    for folder in args.folders:
        deliverable = load_deliverable(folder, check_files=False)
        folder_path = folder if folder.is_dir() else folder.parent
        findings += check_provenance(folder_path, deliverable, cache_dir=args.cache,
                                     offline=args.offline, extra_ignore=args.ignore,
                                     limits=limits, strict=args.strict)
        if args.suggest:
            suggestions.append((folder_path, suggest_commit(folder_path, deliverable,
                                                            extra_ignore=args.ignore)))
    findings = filter_findings(findings, select=args.select)
    if args.format == "json":
        sys.stdout.write(report_json(findings, len(args.folders)))
    else:
        sys.stdout.write(report_text(findings, len(args.folders), colour=sys.stdout.isatty()))
    for folder_path, suggestion in suggestions:
        stream = sys.stderr if args.format == "json" else sys.stdout
        if suggestion is None:
            print(f"{folder_path}: --suggest: the deliverable does not live in the repository "
                  "it cites; cite the upstream commit you copied the code from", file=stream)
        elif suggestion.commit is None:
            print(f"{folder_path}: --suggest: {shown(suggestion.message, one_line=True)}; "
                  f"{shown(suggestion.hint, one_line=True)}",
                  file=stream)
        elif suggestion.already_cited:
            print(f"{folder_path}: --suggest: {shown(suggestion.message, one_line=True)} "
                  f"({suggestion.commit}); "
                  "nothing to change", file=stream)
        else:
            print(f"{folder_path}: --suggest: overview.adapted.commit_id: {suggestion.commit}"
                  + ("" if suggestion.pushed else "  (not pushed yet)"), file=stream)
    return exit_code(findings)
