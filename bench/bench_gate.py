"""Benchmark: gate a whole zoo as a pull-request check would, and pay its debt down with --fix.

    .venv/bin/python bench/bench_gate.py ORIGINAL COPY [--unsafe-fixes] [--jobs N]

COPY is a copy of the zoo ORIGINAL that this script modifies (``--fix`` writes READMEs);
ORIGINAL is only read. It runs the commands a maintainer would, each timed once:

1. ``validate -r COPY --baseline B --update-baseline`` (write the baseline),
2. ``validate -r COPY --baseline B`` (a gate run over the whole zoo: nothing new),
3. ``validate -r COPY`` (the same without a baseline, for the ratio),
4. ``validate -r COPY --fix`` (``--unsafe-fixes`` adds the unsafe ones), then ``validate -r``
   again for the findings left,

and prints the findings before and after, the fixes applied per rule, and, comparing every
README of COPY byte for byte with ORIGINAL, the share of changed READMEs whose every change
lies inside a span a fix planned (the plan is taken before ``--fix`` runs). The zoo checkouts
are data for measuring, never for tests: see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from modelzoo_kit.fixes import Edit, plan_fixes  # noqa: E402
from modelzoo_kit.walk import walk_zoo  # noqa: E402


def _timed(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "modelzoo_kit", *args], cwd=cwd,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return time.perf_counter() - start, done


def _only_in_spans(old: bytes, new: bytes, edits: list[Edit]) -> bool:
    """Whether every difference between two versions of a file lies in the edits' spans."""
    old_lines, new_lines = old.split(b"\n"), new.split(b"\n")
    if len(old_lines) != len(new_lines):
        return False
    by_line: dict[int, list[Edit]] = {}
    for edit in edits:
        by_line.setdefault(edit.line, []).append(edit)
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=True), start=1):
        if a == b:
            continue
        spans = sorted(by_line.get(number, []), key=lambda e: e.start)
        if not spans:
            return False
        text_a, text_b = a.decode("utf-8"), b.decode("utf-8")
        bom = 1 if number == 1 and text_a.startswith("\ufeff") else 0
        rebuilt, at = [], bom
        for edit in spans:  # the old line with the spans replaced must be the new line
            rebuilt.append(text_a[at : edit.start + bom] + edit.text)
            at = edit.end + bom
        if text_a[:bom] + "".join(rebuilt) + text_a[at:] != text_b:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("original", type=Path)
    parser.add_argument("copy", type=Path)
    parser.add_argument("--unsafe-fixes", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    cwd, zoo = args.copy.parent.resolve(), args.copy.name
    jobs = ["--jobs", str(args.jobs), "--format", "json"]
    with tempfile.TemporaryDirectory() as scratch:
        baseline = str(Path(scratch) / "baseline.json")
        t_write, _ = _timed(["validate", "-r", zoo, "--baseline", baseline,
                             "--update-baseline", *jobs], cwd)  # fmt: skip
        t_gate, gated = _timed(["validate", "-r", zoo, "--baseline", baseline, *jobs], cwd)
        entries = len(json.loads(Path(baseline).read_text())["entries"])
    t_plain, plain = _timed(["validate", "-r", zoo, *jobs], cwd)
    before = json.loads(plain.stdout)
    gate_summary = json.loads(gated.stdout)["summary"]["baseline"]
    print(f"baseline: {entries} entries; written in {t_write:.2f} s")
    print(f"gate run (validate -r {zoo} --baseline): {t_gate:.2f} s, {gate_summary['known']} "
          f"known, {gate_summary['new']} new; without --baseline {t_plain:.2f} s "
          f"(ratio {t_gate / t_plain:.2f})")  # fmt: skip
    report = walk_zoo(args.copy, zoo, jobs=args.jobs)
    plan = plan_fixes(report.findings, unsafe=args.unsafe_fixes)
    planned = {Path(p.path).relative_to(zoo).as_posix(): p.edits for p in plan.files}
    fix_args = ["validate", "-r", zoo, "--fix", *jobs] + (
        ["--unsafe-fixes"] if args.unsafe_fixes else []
    )
    t_fix, fixed = _timed(fix_args, cwd)
    after = json.loads(fixed.stdout)
    print(f"--fix: {t_fix:.2f} s; {fixed.stderr.strip()}")
    for name, report_ in (("before", before), ("after", after)):
        s = report_["summary"]
        print(f"findings {name} --fix: {len(report_['findings'])} ({s['errors']} errors, "
              f"{s['warnings']} warnings)")  # fmt: skip
    delta = Counter(before["summary"]["by_rule"])
    delta.subtract(after["summary"]["by_rule"])
    print("fewer findings per rule:", {r: n for r, n in sorted(delta.items()) if n})
    changed = clean = 0
    readmes = 0
    for path in sorted(args.copy.rglob("*.md")):
        rel = path.relative_to(args.copy).as_posix()
        readmes += 1
        old = (args.original / rel).read_bytes()
        new = path.read_bytes()
        if old == new:
            continue
        changed += 1
        clean += _only_in_spans(old, new, planned.get(rel, []))
    share = f"{clean / changed:.1%}" if changed else "n/a"
    print(f"READMEs changed: {changed} of {readmes} .md files; only in fixed spans: {clean} "
          f"({share}); fixes planned in {len(planned)} file(s)")  # fmt: skip


if __name__ == "__main__":
    main()
