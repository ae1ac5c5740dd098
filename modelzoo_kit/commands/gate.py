"""The pull-request gate options of ``modelzoo validate``: ``--baseline``, ``--update-baseline``,
``--changed-since``, ``--fix``, ``--diff`` and ``--unsafe-fixes``.

:mod:`modelzoo_kit.commands.validate` collects the findings; this module decides which of them
a gate reports (:mod:`modelzoo_kit.baseline`, :mod:`modelzoo_kit.changed`) and fixes
(:mod:`modelzoo_kit.fixes`), so the validate command itself keeps one job.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from modelzoo_kit import baseline, fixes
from modelzoo_kit.display import shown
from modelzoo_kit.errors import UsageError
from modelzoo_kit.findings import Finding, Severity


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("gating a legacy zoo")
    group.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="report only findings FILE does not list, and the entries of FILE now fixed",
    )
    group.add_argument(
        "--update-baseline",
        action="store_true",
        help="with --baseline: write FILE listing every current finding (creates or shrinks it)",
    )
    group.add_argument(
        "--changed-since",
        metavar="REV",
        help="with --recursive: check only the model folders changed in REV...HEAD "
        "(renames on both sides)",
    )
    group.add_argument(
        "--fix", action="store_true", help="apply the safe fixes to the READMEs, then report"
    )
    group.add_argument(
        "--diff", action="store_true", help="print the fixes as a unified diff; write nothing"
    )
    group.add_argument(
        "--show-fixes",
        action="store_true",
        help="with --recursive: mark the findings --fix can fix (a single folder, a README "
        "and --changed-since always do; over a whole zoo it costs a second read of each README)",
    )
    group.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix / --diff: also the fixes docs/rules.md marks unsafe",
    )


def check_usage(args: argparse.Namespace) -> None:
    if args.update_baseline and args.baseline is None:
        raise UsageError("--update-baseline needs --baseline FILE")
    if args.changed_since is not None and not args.recursive:
        raise UsageError("--changed-since needs --recursive (it selects a zoo's model folders)")
    if args.fix and args.diff:
        raise UsageError("--fix writes and --diff only shows: give one of them")
    if args.update_baseline and (args.changed_since is not None or args.select or args.ignore):
        raise UsageError(
            "--update-baseline records every finding: without --changed-since, --select or "
            "--ignore (a part of the findings would drop the rest from the baseline)"
        )
    if args.baseline is not None and not args.update_baseline and not args.baseline.is_file():
        raise UsageError(
            f"{args.baseline}: no such baseline; write it first with --update-baseline"
        )


def changed_only(root: Path, rev: str | None) -> Callable[[list[str]], set[str]] | None:
    """For the zoo walk: of its training folders, the ones ``rev...HEAD`` touched (None:
    all). Git runs once, before any folder is checked."""
    from modelzoo_kit.changed import changed_files, touched_folders

    if rev is None:
        return None
    files = changed_files(root, rev)
    return lambda training: touched_folders(training, files)


def run_fixes(
    args: argparse.Namespace, findings: list[Finding], rerun: Callable[[], int]
) -> int:
    """``--diff``: print what the fixes change (exit 1 when they change something).
    ``--fix``: write them, say what was fixed, then report what is left (``rerun``)."""
    plan = fixes.plan_fixes(findings, args.layout, unsafe=args.unsafe_fixes)
    for note in plan.notes:
        sys.stderr.write(shown(note, one_line=True) + "\n")
    if args.diff:
        for file_plan in plan.files:
            sys.stdout.write("".join(shown(line) + "\n" for line in file_plan.diff().splitlines()))
        count = sum(len(p.fixed) for p in plan.files)
        sys.stderr.write(f"{count} finding(s) fixable in {len(plan.files)} file(s); "
                         "nothing written (--fix writes)\n")  # fmt: skip
        return 1 if plan.files else 0
    fixes.write_fixes(plan)
    rules = ", ".join(f"{rule} {count}" for rule, count in plan.by_rule().items())
    count = sum(len(p.fixed) for p in plan.files)
    sys.stderr.write(f"fixed {count} finding(s) in {len(plan.files)} file(s)"
                     f"{f' ({rules})' if rules else ''}\n")  # fmt: skip
    return rerun()


def without_fixing(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "fix": False, "diff": False})


@dataclass
class GateResult:
    """What the gate adds to a report: JSON summary keys and text lines before the findings."""

    summary: dict
    text: str


def _checked(args: argparse.Namespace, walk: dict) -> Callable[[baseline.BaselineEntry], bool]:
    """Which baseline entries this run looked at: their rule selected, and with
    --changed-since their file directly in a folder it checked."""
    from modelzoo_kit.commands.validate import rule_list
    from modelzoo_kit.findings import filter_findings

    select, ignore = rule_list(args.select), rule_list(args.ignore)
    folders = set(walk.get("changed_folders", ()))

    def checked(entry: baseline.BaselineEntry) -> bool:
        probe = Finding(entry.rule, Severity.INFO, entry.path, None, "")
        if not filter_findings([probe], select, ignore):
            return False
        return args.changed_since is None or str(PurePosixPath(entry.path).parent) in folders

    return checked


def gate(
    args: argparse.Namespace, findings: list[Finding], roots: list[str], walk: dict
) -> tuple[list[Finding], GateResult | None]:
    """Mark fixable findings, then hide the baseline's. None for the result when
    ``--update-baseline`` wrote the file instead (nothing to report)."""
    if args.show_fixes or not args.recursive or args.changed_since is not None:
        plan = fixes.plan_fixes(findings, args.layout, unsafe=True)
        findings = fixes.annotate(findings, plan)
    touched = ""
    if args.changed_since is not None:
        count = len(walk.get("changed_folders", ()))
        touched = (f"--changed-since {shown(args.changed_since, one_line=True)}: {count} "
                   "model folder(s) touched\n")  # fmt: skip
    if args.baseline is None:
        return findings, GateResult({}, touched)
    if args.update_baseline:
        entries = baseline.entries_of(findings, roots)
        baseline.write_baseline(args.baseline, entries)
        sys.stderr.write(f"wrote {shown(str(args.baseline), one_line=True)}: {len(entries)} "
                         f"entr{'y' if len(entries) == 1 else 'ies'} for {len(findings)} "
                         "finding(s)\n")  # fmt: skip
        return findings, None
    entries = baseline.load_baseline(args.baseline)
    result = baseline.compare(findings, entries, roots, _checked(args, walk))
    text = touched + result.text(args.baseline)
    return result.new, GateResult(result.summary(args.baseline), text)
