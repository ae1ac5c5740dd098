"""Benchmark: checking one small code_path of a huge repository vs a full clone.

Builds (once, cached) a repository shaped like a model zoo — tens of thousands of files,
hundreds of MB of blobs, thousands of commits — with ``git fast-import``, serves it over a
``file://`` url with ``uploadpack.allowFilter=true`` (protocol v2, so partial fetches are real),
and measures, in one run:

* the checker (``check_provenance``) on an exact match, cold cache: bytes received, wall time;
* the same with one modified file (one blob fetched for the diff);
* a cached re-check and an ``--offline`` re-check;
* the manual procedure the template describes: ``git clone`` + ``git reset --hard <commit>`` +
  compare the folder (``diff -r``), bytes received and wall time.

Bytes received are the bytes git wrote under ``objects/`` (the packs it was sent). Goals:
exact match < 5 % of the clone's bytes and < 20 % of its time; cached re-check < 0.5 s.

Run: ``.venv/bin/python bench/bench_provenance.py [--files 30000 --blob-mb 300 --commits 2000]``
(the generated repository is kept in ``--workdir``, default ``$TMPDIR/modelzoo-bench``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modelzoo_kit.provenance import check_provenance  # noqa: E402

TARGET = "models/target"


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def generate(repo: Path, files: int, blob_mb: int, commits: int, seed: int = 7) -> None:
    """A zoo-like repository: ``files`` files in folders of 100 (most of the bytes in
    incompressible "weights"-like blobs), ``TARGET`` holding 20 small source files, and
    ``commits`` commits that each touch a file or two somewhere."""
    rng = random.Random(seed)
    if repo.exists():
        shutil.rmtree(repo)
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(repo)], check=True)
    importer = subprocess.Popen(
        ["git", "-C", str(repo), "fast-import", "--quiet"], stdin=subprocess.PIPE
    )
    assert importer.stdin is not None
    out = importer.stdin
    average = blob_mb * 1024 * 1024 // files

    def data(payload: bytes) -> None:
        out.write(f"data {len(payload)}\n".encode() + payload + b"\n")

    def source_file(index: int, version: int) -> bytes:
        return (f"# file {index} version {version}\n" + "x = 1\n" * (20 + index % 30)).encode()

    mark = 0
    paths: list[str] = []
    for index in range(files):
        mark += 1
        size = max(16, int(rng.expovariate(1 / average)))
        out.write(f"blob\nmark :{mark}\n".encode())
        data(os.urandom(size) if index % 4 else source_file(index, 0) * (size // 200 + 1))
        paths.append(f"zoo/group{index // 2000:02d}/model{index // 100:04d}/f{index % 100:03d}.bin")
    for index in range(20):
        mark += 1
        out.write(f"blob\nmark :{mark}\n".encode())
        data(source_file(index, 0))
        paths.append(f"{TARGET}/module{index:02d}.py")
    first_commit_mark = mark + 1
    stamp = 1_700_000_000
    out.write(
        f"commit refs/heads/main\nmark :{first_commit_mark}\n"
        f"committer Bench <b@e> {stamp} +0000\n".encode()
    )
    data(b"import the zoo")
    for number, path in enumerate(paths, start=1):
        out.write(f"M 644 :{number} {path}\n".encode())
    out.write(b"\n")
    # fast-import continues a branch from its tip: later commits need no "from"
    for number in range(1, commits):
        out.write(
            f"commit refs/heads/main\ncommitter Bench <b@e> {stamp + number} +0000\n".encode()
        )
        data(f"change {number}".encode())
        for _ in range(rng.randint(1, 2)):
            index = rng.randrange(files)
            out.write(f"M 644 inline {paths[index]}\n".encode())
            data(source_file(index, number) + os.urandom(rng.randint(100, 4000)))
        out.write(b"\n")
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    for key, value in (
        ("uploadpack.allowFilter", "true"),
        ("uploadpack.allowAnySHA1InWant", "true"),
    ):
        subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)


def export(repo: Path, commit: str, dest: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", f"{commit}:{TARGET}"],
        check=True,
        capture_output=True,
    ).stdout
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # Extraction filters exist from 3.10.12 / 3.11.4 (Debian 12's 3.11.2 has none); without
        # them the default keeps modes and symlinks just the same, for git's own archive.
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(dest, filter="tar")
        else:
            tar.extractall(dest)


def metadata(url: str, commit: str) -> SimpleNamespace:
    adapted = SimpleNamespace(url=url, branch="main", commit_id=commit, code_path=TARGET)
    return SimpleNamespace(
        overview=SimpleNamespace(adapted=adapted, inference=None, reference=None),
        provenance=SimpleNamespace(ignore=["deliverable.yaml"]),
    )


def run_checker(
    deliverable: Path, meta: SimpleNamespace, cache: Path, offline: bool = False
) -> tuple[float, int, list[str]]:
    before = folder_bytes(cache) if cache.exists() else 0
    start = time.perf_counter()
    findings = check_provenance(deliverable, meta, cache_dir=cache, offline=offline)
    elapsed = time.perf_counter() - start
    return elapsed, folder_bytes(cache) - before, sorted({f.rule for f in findings})


def run_full_clone(url: str, commit: str, deliverable: Path, workdir: Path) -> tuple[float, int]:
    """What the template tells a reader to do by hand, then a plain folder comparison."""
    clone = workdir / "full-clone"
    if clone.exists():
        shutil.rmtree(clone)
    start = time.perf_counter()
    subprocess.run(["git", "clone", "-q", "--branch", "main", url, str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "reset", "-q", "--hard", commit], check=True)
    subprocess.run(
        ["diff", "-r", str(clone / TARGET), str(deliverable)], check=False, capture_output=True
    )
    elapsed = time.perf_counter() - start
    received = folder_bytes(clone / ".git" / "objects")
    shutil.rmtree(clone)
    return elapsed, received


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=30000)
    parser.add_argument("--blob-mb", type=int, default=300)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument(
        "--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "modelzoo-bench"
    )
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    workdir = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    repo = workdir / f"zoo-{args.files}-{args.blob_mb}-{args.commits}.git"
    if (
        args.regenerate
        or not (repo / "refs" / "heads" / "main").exists()
        and not (repo / "packed-refs").exists()
    ):
        start = time.perf_counter()
        generate(repo, args.files, args.blob_mb, args.commits)
        print(f"generated {repo} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    url = f"file://{repo}"
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "main~100"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    count = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--count", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deliverable = workdir / "deliverable"
    export(repo, commit, deliverable)
    meta = metadata(url, commit)

    cache = workdir / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    exact_s, exact_b, exact_rules = run_checker(deliverable, meta, cache)
    cached_s, cached_b, _ = run_checker(deliverable, meta, cache)
    offline_s, _, offline_rules = run_checker(deliverable, meta, cache, offline=True)

    (deliverable / "module03.py").write_text("# changed locally\n")
    modified_cache = workdir / "cache-modified"
    shutil.rmtree(modified_cache, ignore_errors=True)
    modified_s, modified_b, modified_rules = run_checker(deliverable, meta, modified_cache)
    export(repo, commit, deliverable)

    clone_s, clone_b = run_full_clone(url, commit, deliverable, workdir)

    figures = {
        "repository": {
            "files": args.files + 20,
            "blob_mb": args.blob_mb,
            "commits": int(count),
            "pack_bytes": folder_bytes(repo / "objects"),
        },
        "full_clone": {"seconds": round(clone_s, 3), "bytes": clone_b},
        "checker_exact": {
            "seconds": round(exact_s, 3),
            "bytes": exact_b,
            "rules": exact_rules,
            "bytes_ratio": round(exact_b / clone_b, 5),
            "time_ratio": round(exact_s / clone_s, 4),
        },
        "checker_one_modified_file": {
            "seconds": round(modified_s, 3),
            "bytes": modified_b,
            "rules": modified_rules,
            "bytes_ratio": round(modified_b / clone_b, 5),
        },
        "cached_recheck": {"seconds": round(cached_s, 3), "bytes": cached_b},
        "offline_recheck": {"seconds": round(offline_s, 3), "rules": offline_rules},
        "goals_met": {
            "exact_bytes_under_5_percent": exact_b < 0.05 * clone_b,
            "exact_time_under_20_percent": exact_s < 0.20 * clone_s,
            "cached_recheck_under_half_a_second": cached_s < 0.5,
        },
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"repository: {figures['repository']}")
    print(f"full clone + reset + diff : {clone_s:7.2f} s  {clone_b / 1e6:9.2f} MB")
    print(
        f"checker, exact match      : {exact_s:7.2f} s  {exact_b / 1e6:9.3f} MB  "
        f"ratios: bytes {exact_b / clone_b:.4%}, time {exact_s / clone_s:.2%}  {exact_rules}"
    )
    print(
        f"checker, 1 modified file  : {modified_s:7.2f} s  {modified_b / 1e6:9.3f} MB  "
        f"bytes {modified_b / clone_b:.4%}  {modified_rules}"
    )
    print(f"cached re-check           : {cached_s:7.3f} s  {cached_b / 1e6:9.3f} MB")
    print(f"offline re-check          : {offline_s:7.3f} s  {offline_rules}")
    print(f"goals: {figures['goals_met']}")
    return 0 if all(figures["goals_met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
