"""``modelzoo validate PATH...``: check deliverables and legacy READMEs against the template.

PATH is a deliverable folder (deliverable.yaml and/or README.md), a README file, a
deliverable.yaml, or with ``--recursive`` a zoo root in which every model folder is checked.
Exit 0 when no error is found (warnings allowed), 1 when one is, 2 for bad usage or input.
The rule ids are listed in docs/rules.md; ``--format json`` prints the stable shape documented
in :mod:`modelzoo_kit.findings`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from modelzoo_kit.classify import detect_layout
from modelzoo_kit.commands import gate
from modelzoo_kit.errors import DeliverableNotFoundError, UsageError
from modelzoo_kit.findings import Finding, exit_code, filter_findings, report_json, report_text
from modelzoo_kit.layouts import (
    DELIVERABLE_FILE,
    LAYOUTS,
    README_FILES,
    README_LANGUAGES,
    TEMPLATE,
    Layout,
    get_layout,
)
from modelzoo_kit.readme import MAX_README_BYTES

if TYPE_CHECKING:
    from modelzoo_kit.zooprovenance import ZooProvenance


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="PATH is a zoo root: check every model folder below it and print a summary table",
    )
    parser.add_argument(
        "--layout",
        choices=list(LAYOUTS),
        help="read every README as this layout (default: the layout its structure follows, "
        "the one deliverable.yaml names, else the template)",
    )
    parser.add_argument(
        "--walk-cache",
        type=Path,
        metavar="FILE",
        help="with --recursive: keep each folder's result in FILE (JSON), so that a re-run "
        "reads only what changed",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        metavar="N",
        help="with --recursive: check deliverables in N processes (default: the CPU count, "
        "at most 8; 1 checks in this process)",
    )
    parser.add_argument(
        "--format", choices=("text", "json", "sarif"), default="text",
        help="sarif: SARIF 2.1.0 for code scanning (findings shown on their lines)",
    )
    parser.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="IDS",
        help="report only these rule ids or prefixes (comma-separated, e.g. MZ2,MZ101)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="IDS",
        help="drop these rule ids or prefixes (comma-separated)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report (auto: on a terminal, unless NO_COLOR is set)",
    )
    parser.add_argument(
        "--provenance",
        action="store_true",
        help="also prove each deliverable's code is the code at the commit it cites",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="with --provenance: use only the cache (an uncached reference is a PV060 warning)",
    )
    parser.add_argument(
        "--cache",
        "--cache-dir",
        dest="cache_dir",
        type=Path,
        help="with --provenance: keep fetched commits here (as `modelzoo provenance --cache`)",
    )
    parser.add_argument(
        "--strict-provenance",
        action="store_true",
        help="with --provenance: a reference that could not be verified (no network, not "
        "cached: PV060) is an error instead of a warning",
    )
    gate.add_arguments(parser)
    parser.set_defaults(run=run)


def rule_list(values: list[str]) -> list[str]:
    """The rule ids and prefixes of ``--select``/``--ignore`` values (repeated, or comma-
    separated), upper-cased; shared by ``validate`` and ``gate`` so both read them alike."""
    ids = [part.strip().upper() for value in values for part in value.split(",") if part.strip()]
    for rule_id in ids:
        if not rule_id.isalnum():
            raise UsageError(f"{rule_id!r} is not a rule id or prefix (e.g. MZ201, MZ2, PV)")
    return ids


def _shown(path: Path) -> str:
    """Paths in findings: relative to the working directory when below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def _targets(paths: list[Path], recursive: bool) -> list[tuple[str, Path]]:
    """(kind, path) to check, each folder once: ``folder`` or ``readme``."""
    targets: list[tuple[str, Path]] = []
    seen: set[Path] = set()

    def add(kind: str, path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            targets.append((kind, path))

    for path in paths:
        if not path.exists():
            raise DeliverableNotFoundError(f"{path}: no such file or folder")
        if path.is_dir():
            if recursive:
                add("zoo", path)
            elif os.path.lexists(path / DELIVERABLE_FILE) or os.path.lexists(
                path / README_FILES["zh"]
            ):
                add("folder", path)
            else:
                raise UsageError(
                    f"{path}: holds no deliverable.yaml or README.md; "
                    "use --recursive to check every model folder below a zoo root"
                )
        elif path.name == DELIVERABLE_FILE or (
            path.name in README_LANGUAGES and (path.parent / DELIVERABLE_FILE).is_file()
        ):
            add("folder", path.parent)
        else:
            add("readme", path)
    return targets


def _provenance(folder: Path, deliverable: object, args: argparse.Namespace) -> list[Finding]:
    try:
        from modelzoo_kit.provenance import check_provenance
    except ImportError as exc:
        raise UsageError(f"--provenance is not available in this installation ({exc})") from None
    return list(
        check_provenance(
            folder,
            deliverable,
            cache_dir=args.cache_dir,
            offline=args.offline,
            strict=args.strict_provenance,
        )
    )


def _cited_provenance(path: Path, args: argparse.Namespace, zoo: bool = False
                      ) -> tuple[list[Finding], ZooProvenance | None]:
    """Provenance of what a README (or a folder whose deliverable.yaml does not load) cites,
    or under ``zoo`` of every citation below ``path``; a PV061 finding when it cannot run."""
    import tempfile

    from modelzoo_kit.citations import read_citations
    from modelzoo_kit.provenance import ProvenanceSession, check_citations
    from modelzoo_kit.zooprovenance import Progress, check_zoo

    with tempfile.TemporaryDirectory(prefix="modelzoo-provenance-") as scratch:
        session = ProvenanceSession(args.cache_dir or Path(scratch), args.offline,
                                    strict=args.strict_provenance)
        if zoo:
            report = check_zoo(path, session, jobs=args.jobs, shown_root=_shown(path),
                               progress=Progress.wanted(quiet=args.format == "json"))
            return report.findings, report
        return check_citations(read_citations(path), session).findings, None


def _layout_for(path: Path, forced: str | None) -> Layout | None:
    """The layout to read ``path`` (a README) as: forced, else the one its structure follows
    (None: not a README of a known layout, read as the default)."""
    if forced is not None:
        return get_layout(forced)
    try:
        with open(path, "rb") as handle:
            head = handle.read(MAX_README_BYTES)
    except OSError:
        return None  # the check reports the unreadable file
    name = detect_layout(head.decode("utf-8", errors="replace"))
    return get_layout(name) if name else None


def _walk(path: Path, args: argparse.Namespace) -> tuple[list[Finding], int, dict]:
    from modelzoo_kit.walk import walk_zoo

    report = walk_zoo(
        path, _shown(path), layout=args.layout, cache_file=args.walk_cache, jobs=args.jobs,
        only=gate.changed_only(path, args.changed_since),
    )
    checked = sum(1 for f in report.folders if f.classification.kind.startswith("training"))
    summary = {
        "classified": report.counts(),
        "walk_problems": [f"{p.path}: {p.message}" for p in report.problems],
    }
    if args.changed_since is not None:
        summary["changed_folders"] = sorted(f.folder for f in report.folders)
    return report.findings, checked, summary


def _walk_text(summary: dict) -> str:
    counts = summary["classified"]
    lines = [f"classified {sum(counts.values())} folder(s) (every one with a README or "
             "training scripts):"]
    lines += [f"  {count:6d}  {label}" for label, count in counts.items()]
    problems = summary["walk_problems"]
    if problems:
        lines.append(f"{len(problems)} folder(s) not walked:")
        lines += [f"  {problem}" for problem in problems]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.rules import check_deliverable_folder, check_readme_file

    select, ignore = rule_list(args.select), rule_list(args.ignore)
    gate.check_usage(args)
    roots: list[str] = []  # the zoo roots (as shown): baseline paths are relative to them
    findings: list[Finding] = []
    files = 0
    walk: dict = {}
    zoo_reports: list[ZooProvenance] = []
    for kind, path in _targets(args.paths, args.recursive):
        if kind == "zoo":
            roots.append(_shown(path))
            found, checked, summary = _walk(path, args)
            findings.extend(found)
            if args.provenance:
                cited, zoo_report = _cited_provenance(path, args, zoo=True)
                findings.extend(cited)
                if zoo_report is not None:
                    zoo_reports.append(zoo_report)
            files += checked
            for key, value in summary.items():
                merged = walk.setdefault(key, {} if isinstance(value, dict) else [])
                if isinstance(value, dict):
                    for label, count in value.items():
                        merged[label] = merged.get(label, 0) + count
                else:
                    merged.extend(value)
            continue
        if kind == "readme":
            files += 1
            layout = _layout_for(path, args.layout)
            findings.extend(check_readme_file(path, _shown(path), layout=layout or TEMPLATE))
            if args.provenance:
                findings.extend(_cited_provenance(path, args)[0])
            continue
        forced = get_layout(args.layout) if args.layout else None
        if forced is None and not (path / DELIVERABLE_FILE).is_file():
            forced = _layout_for(path / README_FILES["zh"], None)
        result = check_deliverable_folder(path, _shown(path), layout=forced)
        files += result.files_checked
        findings.extend(result.findings)
        if args.provenance and result.deliverable is not None:
            findings.extend(_provenance(path, result.deliverable, args))
        elif args.provenance:
            findings.extend(_cited_provenance(path, args)[0])
    findings = filter_findings(findings, select, ignore)
    if zoo_reports:
        walk["provenance"] = [report.summary()["provenance"] for report in zoo_reports]
    if args.fix or args.diff:
        return gate.run_fixes(args, findings, lambda: run(gate.without_fixing(args)))
    findings, gated = gate.gate(args, findings, roots, walk)
    if gated is None:
        return 0  # --update-baseline wrote the file
    if args.format == "json":
        sys.stdout.write(report_json(findings, files, {**walk, **gated.summary} or None))
    elif args.format == "sarif":
        from modelzoo_kit.sarif import report_sarif

        sys.stdout.write(report_sarif(findings))
    else:
        if walk:
            sys.stdout.write(_walk_text(walk))
        sys.stdout.write(gated.text)
        colour = args.color == "always" or (
            args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        )
        sys.stdout.write(report_text(findings, files, colour=colour, table=args.recursive))
        for report in zoo_reports:
            sys.stdout.write(report.summary_text())
    return exit_code(findings)
