"""Benchmark: validate a zoo of 1,000 READMEs on one core.

    .venv/bin/python bench/bench_validate.py [--count 1000] [--repeat 3] [--corpus DIR]

Builds a temporary zoo of COUNT model folders, each holding one README copied in turn from the
corpus (../shared/corpus/files) or, without it, from tests/fixtures/readmes. It then times, on
the same files, best of REPEAT:

* ``markdown-it``: reading each README and merely parsing it with markdown-it-py (commonmark);
* ``validate``:   ``modelzoo validate --recursive --format json`` over the zoo, in process:
  the walk, reading, parsing, every rule, the folder checks and the JSON report.

Goal: validate under 3 s for 1,000 READMEs. The script pins itself to one CPU where the OS
allows it, and prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from markdown_it import MarkdownIt  # noqa: E402

from modelzoo_kit.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "files"
FIXTURES = ROOT / "tests" / "fixtures" / "readmes"


def sources(corpus: Path) -> list[Path]:
    files = sorted(corpus.glob("*.md")) if corpus.is_dir() else []
    if not files:
        files = sorted(p for p in FIXTURES.glob("*.md") if not p.name.startswith("mz002"))
    return files


def build_zoo(root: Path, files: list[Path], count: int) -> list[Path]:
    readmes = []
    for index in range(count):
        folder = root / f"model_{index:04d}"
        folder.mkdir(parents=True)
        target = folder / "README.md"
        shutil.copyfile(files[index % len(files)], target)
        readmes.append(target)
    return readmes


def time_markdown_it(readmes: list[Path]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) to read and parse every README with markdown-it-py."""
    md = MarkdownIt("commonmark")
    cpu, wall = time.process_time(), time.perf_counter()
    for path in readmes:
        md.parse(path.read_bytes().decode("utf-8", errors="replace"))
    return time.process_time() - cpu, time.perf_counter() - wall


def time_validate(zoo: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, findings) for ``modelzoo validate -r --format json``."""
    sink = io.StringIO()
    cpu, wall = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(sink):
        main(["validate", "--recursive", "--format", "json", str(zoo)])
    elapsed = time.process_time() - cpu, time.perf_counter() - wall
    return elapsed[0], elapsed[1], sink.getvalue().count('"rule":')


def main_bench(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    files = sources(args.corpus)
    with tempfile.TemporaryDirectory(prefix="mz-bench-") as temporary:
        zoo = Path(temporary) / "zoo"
        readmes = build_zoo(zoo, files, args.count)
        size = sum(p.stat().st_size for p in readmes)
        parses = [time_markdown_it(readmes) for _ in range(args.repeat)]
        runs = [time_validate(zoo) for _ in range(args.repeat)]
    parse_cpu, parse_wall = min(p[0] for p in parses), min(p[1] for p in parses)
    validate_cpu, validate_wall = min(r[0] for r in runs), min(r[1] for r in runs)
    print(f"{args.count} READMEs ({size / 1024**2:.1f} MB) from {len(files)} distinct files")
    print(f"{'':28}CPU s   wall s  (best of {args.repeat})")
    print(f"markdown-it-py parse only : {parse_cpu:6.2f}  {parse_wall:6.2f}")
    print(
        f"modelzoo validate -r      : {validate_cpu:6.2f}  {validate_wall:6.2f}"
        f"  ({runs[0][2]} findings)"
    )
    print(f"ratio validate / parse    : {validate_cpu / parse_cpu:6.2f}")
    print(f"goal < 3 s CPU            : {'met' if validate_cpu < 3 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_bench())
