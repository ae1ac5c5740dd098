"""``modelzoo provenance PATH... [-r] [--cache DIR] [--offline] [--strict] [--format text|json]``

PATH is a deliverable folder, a README folder (no deliverable.yaml: the README's citations are
read, in either layout), a README or a deliverable.yaml; with ``-r`` a zoo root, every citation
below it checked with each (repository, commit) fetched once, ``--jobs`` at a time, and a summary
of verdicts per repository and per rule. A citation may give no branch (the commit must exist:
the branches and tags holding it are named) or be a web address (``…/tree/BRANCH/PATH``).

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
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelzoo_kit.findings import Finding
    from modelzoo_kit.provenance import ProvenanceSession, Suggestion
    from modelzoo_kit.zooprovenance import ZooProvenance


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name, help=help_text, description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, metavar="PATH",
                        help="a folder holding deliverable.yaml or a README, a README, or with "
                        "-r a zoo root")
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="PATH is a zoo root: check every citation below it")
    parser.add_argument("--jobs", type=int, default=4, metavar="N",
                        help="with -r: fetch from N repositories at a time (default 4)")
    parser.add_argument("--clear-cache", action="store_true",
                        help="remove everything the kit keeps in --cache first")
    parser.add_argument("--max-cache-mb", type=int, default=4096, metavar="MB",
                        help="after the check, drop the least recently used entries of --cache "
                        "beyond this size (default 4096)")
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
    from modelzoo_kit import provcache
    from modelzoo_kit.errors import UsageError
    from modelzoo_kit.findings import exit_code, filter_findings, report_json, report_text
    from modelzoo_kit.gitremote import FetchLimits
    from modelzoo_kit.provenance import ProvenanceSession

    if args.timeout <= 0 or args.max_fetch_mb <= 0 or args.jobs <= 0 or args.max_cache_mb <= 0:
        raise UsageError("--timeout, --max-fetch-mb, --jobs and --max-cache-mb must be positive")
    if args.clear_cache and args.cache is None:
        raise UsageError("--clear-cache needs --cache DIR")
    from modelzoo_kit.globs import glob_problem

    for pattern in args.ignore:
        problem = glob_problem(pattern)
        if problem is not None:
            raise UsageError(f"--ignore {pattern!r}: {problem}")
    limits = FetchLimits(timeout_s=args.timeout, max_bytes=args.max_fetch_mb * 1024**2)
    with tempfile.TemporaryDirectory(prefix="modelzoo-provenance-") as scratch:
        cache_dir = args.cache if args.cache is not None else Path(scratch)
        if args.clear_cache:
            provcache.clear(cache_dir)
        session = ProvenanceSession(cache_dir, args.offline, limits, args.strict)
        findings, suggestions, zoo = _check_all(args, session)
        if args.cache is not None:
            provcache.prune(args.cache, args.max_cache_mb * 1024**2)
    findings = filter_findings(findings, select=args.select)
    summary = zoo.summary() if zoo is not None else None
    checked = zoo.folders_checked if zoo is not None else len(args.folders)
    if args.format == "json":
        sys.stdout.write(report_json(findings, checked, summary))
    else:
        sys.stdout.write(report_text(findings, checked, colour=sys.stdout.isatty(),
                                     table=args.recursive))
        if zoo is not None:
            sys.stdout.write(zoo.summary_text())
    _print_suggestions(suggestions, args.format)
    return exit_code(findings)


def _check_all(args: argparse.Namespace, session: ProvenanceSession
               ) -> tuple[list[Finding], list[tuple[Path, Suggestion | None]],
                          ZooProvenance | None]:
    """Check every PATH (a zoo root under -r) in one session: one cache, each repository
    asked once."""
    from modelzoo_kit.citations import read_citations
    from modelzoo_kit.errors import DeliverableNotFoundError, UsageError
    from modelzoo_kit.layouts import DELIVERABLE_FILE
    from modelzoo_kit.loading import load_deliverable
    from modelzoo_kit.provenance import check_citations, suggest_commit
    from modelzoo_kit.zooprovenance import Progress, check_zoo

    findings: list[Finding] = []
    suggestions: list[tuple[Path, Suggestion | None]] = []
    zoo = None
    for folder in args.folders:
        if not folder.exists():
            raise DeliverableNotFoundError(f"{folder}: no such file or folder")
        if args.recursive:
            if not folder.is_dir():
                raise UsageError(f"{folder}: -r needs a zoo folder")
            zoo = check_zoo(folder, session, jobs=args.jobs, extra_ignore=args.ignore,
                            progress=Progress.wanted(quiet=args.format == "json"))
            findings += zoo.findings
            continue
        citations = read_citations(folder)
        if citations.problem is not None and citations.source.name == DELIVERABLE_FILE:
            load_deliverable(citations.folder, check_files=False)  # its located input error
        findings += check_citations(citations, session, args.ignore).findings
        if args.suggest and citations.deliverable is not None:
            suggestions.append((citations.folder, suggest_commit(
                citations.folder, citations.deliverable, extra_ignore=args.ignore)))
    return findings, suggestions, zoo


def _print_suggestions(suggestions: list[tuple[Path, Suggestion | None]], fmt: str) -> None:
    from modelzoo_kit.display import shown

    for folder_path, suggestion in suggestions:
        stream = sys.stderr if fmt == "json" else sys.stdout
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
