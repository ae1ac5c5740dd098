"""Benchmark: walk whole zoo checkouts as ``validate -r`` does, cold and warm.

    .venv/bin/python bench/bench_zoo_walk.py ZOO [ZOO...] [--jobs N] [--cache FILE] [--touch]

For each run it prints how many folders with a README were taken for each kind (training of
each layout, training with no known layout, inference, other), the folders it could not walk,
the findings per rule, and the wall and CPU time. Three runs:

* ``cold``:  no cache (the cache file is removed first);
* ``warm``:  the same walk again, from the cache;
* ``one folder changed`` (with ``--touch``): the first training README found is rewritten with
  one more line, and the walk repeated.

The cache file defaults to a temporary file removed at the end. Goals (both Ascend zoos,
about 4,600 README files): cold under 5 s, one folder changed under 0.5 s, on 2 cores.
The zoo checkouts are data for measuring, not for tests: see bench/README.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from modelzoo_kit.walk import WalkReport, walk_zoo  # noqa: E402


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(zoos: list[Path], cache: Path, jobs: int) -> tuple[list[WalkReport], float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    reports = []
    for index, zoo in enumerate(zoos):
        # One cache file per zoo: a cache describes one walk's root and options.
        reports.append(walk_zoo(zoo, str(zoo), cache_file=cache.with_suffix(f".{index}.json"),
                                jobs=jobs))  # fmt: skip
    return reports, time.perf_counter() - wall, _cpu() - cpu


def show(name: str, zoos: list[Path], reports: list[WalkReport], wall: float, cpu: float) -> None:
    print(f"== {name}: {wall:.2f} s wall, {cpu:.2f} s CPU")
    for zoo, report in zip(zoos, reports, strict=True):
        total = sum(report.counts().values())
        print(f"  {zoo}: {total} folders with a README, {report.readmes_read} read this run")
        for label, count in report.counts().items():
            print(f"    {count:6d}  {label}")
        print(f"    {len(report.problems):6d}  not walked (symlink loops, unreadable)")
    by_rule = Counter(f.rule for report in reports for f in report.findings)
    print("  findings per rule: " + ", ".join(f"{r} {n}" for r, n in sorted(by_rule.items())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("zoos", nargs="+", type=Path)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--cache", type=Path, help="cache file stem (default: a temporary one)")
    parser.add_argument("--touch", action="store_true", help="also time a one-folder change")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelzoo-walk-") as tmp:
        cache = args.cache or Path(tmp) / "walk-cache"
        for index in range(len(args.zoos)):
            cache.with_suffix(f".{index}.json").unlink(missing_ok=True)
        show("cold", args.zoos, *run(args.zoos, cache, args.jobs))
        reports, wall, cpu = run(args.zoos, cache, args.jobs)
        show("warm", args.zoos, reports, wall, cpu)
        if args.touch:
            first = next(
                (Path(args.zoos[0]) / f.folder / f.readme for f in reports[0].folders
                 if f.classification.kind == "training"), None)  # fmt: skip
            if first is not None:
                original = first.read_bytes()
                try:
                    first.write_bytes(original + b"\n<!-- bench -->\n")
                    show(f"one folder changed ({first})", args.zoos,
                         *run(args.zoos, cache, args.jobs))  # fmt: skip
                finally:
                    first.write_bytes(original)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
