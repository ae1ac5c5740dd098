"""Benchmark: the provenance of every citation in a simulated zoo, cold, warm and offline,
against checking the same folders one ``modelzoo provenance`` at a time.

    .venv/bin/python bench/bench_zoo_provenance.py [--folders 300] [--upstreams 100]
        [--files 400] [--commits 60] [--jobs 4] [--workdir DIR] [--out FILE.json]

It builds (once; reused from ``--workdir`` when the shapes match) ``--upstreams`` bare
repositories with ``git fast-import`` — each ``--files`` source files of 0.2-8 KB in 40
folders, ``--commits`` commits on ``main``, a ``release/1.x`` branch, a tag ``v1.0`` and a
commit reachable only from the tag ``snap`` — served over ``file://`` with partial-fetch filters
allowed, and reached as ``https://github.com/bench/rNNN`` through a ``url.insteadOf`` in a
private git config (``GIT_CONFIG_GLOBAL``). The zoo is ``--folders`` README folders, no
deliverable.yaml, in both layouts, citing the upstreams in every shape the real zoos use:

* a clone url + commit_id, no branch (the pytorch-2022 layout);
* url + branch + commit_id (the template);
* a web address ``…/tree/release/1.x/pkgN`` (a branch with ``/``) + commit_id;
* a web address ``…/blob/main/pkgN/modN.py`` + commit_id;
* one in six wrong on purpose: a commit that does not exist, a branch that does not, a commit
  only on a tag, a repository that does not exist.

Four runs, each a ``modelzoo`` subprocess (as a user runs it), ``CI=true`` (no progress bar):

* ``cold``: ``provenance -r ZOO --cache EMPTY --jobs N``;
* ``warm``: the same again, from the cache;
* ``offline``: ``--offline`` from that cache: its verdicts must equal the cold run's exactly;
* ``one at a time``: ``provenance FOLDER --cache SHARED`` for each folder in turn (a cache
  shared by the sequence, the best a script around the old command could do).

Goals (2 cores): every citation gets a verdict (none stops at a missing branch or a web
address); warm re-check of 300 citations under 10 s; cold at least 2x faster than one at a time.
Ratios are measured within one run; the figures are in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "https://github.com/bench/"
STAMP = 1_700_000_000


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_upstream(repo: Path, files: int, commits: int, seed: int) -> dict[str, list[str]]:
    """One upstream repository; returns its commits: ``main``, ``release``, ``snap``."""
    rng = random.Random(seed)
    repo.parent.mkdir(parents=True, exist_ok=True)
    _git("init", "-q", "--bare", "--initial-branch=main", str(repo))
    importer = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"],
                                stdin=subprocess.PIPE)
    assert importer.stdin is not None
    out = importer.stdin
    words = ["model", "layer", "train", "batch", "loss", "grad", "step", "tensor", "conv"]

    def text(size: int) -> bytes:
        line = lambda: " ".join(rng.choice(words) for _ in range(8))  # noqa: E731
        body = "\n".join(line() for _ in range(max(1, size // 50)))
        return body.encode()

    def data(payload: bytes) -> None:
        out.write(f"data {len(payload)}\n".encode() + payload + b"\n")

    def commit(ref: str, mark: int, message: str, changes: list[tuple[str, bytes]],
               parent: int | None = None) -> None:
        out.write(f"commit {ref}\nmark :{mark}\ncommitter B <b@e> {STAMP + mark} +0000\n"
                  .encode())
        data(message.encode())
        if parent is not None:
            out.write(f"from :{parent}\n".encode())
        for path, payload in changes:
            out.write(f"M 644 inline {path}\n".encode())
            data(payload)
        out.write(b"\n")

    paths = [f"pkg{index % 40}/mod{index // 40}.py" for index in range(files)]
    first = [(path, text(int(rng.uniform(200, 8000)))) for path in paths]
    commit("refs/heads/main", 1, "import", first + [("configs/solo/cfg.py", b"solo = 1\n")])
    marks = {"main": [1], "release": [], "snap": []}
    for mark in range(2, commits + 1):
        touched = [(rng.choice(paths), text(int(rng.uniform(200, 4000))))
                   for _ in range(rng.randint(1, 3))]
        commit("refs/heads/main", mark, f"change {mark}", touched)
        marks["main"].append(mark)
    base = commits + 1
    for offset in range(3):
        commit("refs/heads/release/1.x", base + offset, f"release {offset}",
               [(rng.choice(paths), text(300))], parent=marks["main"][-10] if offset == 0 else None)
        marks["release"].append(base + offset)
    commit("refs/tags/snap", base + 3, "snapshot", [("SNAPSHOT", b"snap\n")],
           parent=marks["main"][-5])
    marks["snap"].append(base + 3)
    out.write(f"reset refs/tags/v1.0\nfrom :{marks['main'][-20]}\n\n".encode())
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    ids = {
        "main": _git("-C", str(repo), "rev-list", "--reverse", "main").split(),
        "release": _git("-C", str(repo), "rev-list", "--reverse", "main..release/1.x").split(),
        "snap": [_git("-C", str(repo), "rev-parse", "snap")],
    }
    for key, value in (("uploadpack.allowFilter", "true"),
                       ("uploadpack.allowAnySHA1InWant", "true")):
        _git("-C", str(repo), "config", key, value)
    return ids


PYTORCH_2022 = """# Net{i} for PyTorch

# 概述

## 简述

A simulated model.

- 参考实现：

  ```
  url={url}
  commit_id={commit}
  ```

- 适配昇腾 AI 处理器的实现：

  ```
  url=https://gitee.com/ascend/ModelZoo-PyTorch.git
  code_path=PyTorch/contrib/cv/net{i}
  ```

# 准备训练环境

text

# 开始训练

text
"""

TEMPLATE = """# 训练交付件模板

## 交付件基本信息
**发布者（Publisher）：_huawei_**

## 概述
A simulated model.

* 参考实现：

  url={url}

  branch={branch}

  commit_id={commit}

## 默认配置
text

## 训练环境准备
text

## 快速上手
text
"""


def make_zoo(zoo: Path, folders: int, upstreams: int, ids: list[dict[str, list[str]]],
             seed: int = 3) -> None:
    rng = random.Random(seed)
    for index in range(folders):
        number = index % upstreams
        repo, mine = f"{HOST}r{number:03d}", ids[number]
        shape = index % 6
        main = rng.choice(mine["main"])
        if shape in (0, 1):
            text = PYTORCH_2022.format(i=index, url=repo, commit=main)
        elif shape == 2:
            text = TEMPLATE.format(url=repo + ".git", branch="main", commit=main)
        elif shape == 3:
            text = TEMPLATE.format(url=f"{repo}/tree/release/1.x/pkg{index % 40}", branch="",
                                   commit=rng.choice(mine["release"]))
        elif shape == 4:
            text = PYTORCH_2022.format(i=index, url=f"{repo}.git/blob/main/pkg1/mod1.py",
                                       commit=main)
        else:
            wrong = index // 6 % 4
            if wrong == 0:
                text = PYTORCH_2022.format(i=index, url=repo, commit=f"{index:040x}")
            elif wrong == 1:
                text = TEMPLATE.format(url=repo, branch="develop", commit=main)
            elif wrong == 2:
                text = PYTORCH_2022.format(i=index, url=repo, commit=mine["snap"][0])
            else:
                text = PYTORCH_2022.format(i=index, url=f"{HOST}gone{number:03d}", commit=main)
        folder = zoo / f"group{index % 10}" / f"net{index:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "README.md").write_text(text, encoding="utf-8")
        (folder / "train.py").write_text(f"print('train {index}')\n")


def build(workdir: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    """The upstreams and the zoo (reused when built before with the same shapes)."""
    key = f"u{args.upstreams}-f{args.files}-c{args.commits}"
    hosts = workdir / f"hosts-{key}"
    manifest = hosts / "ids.json"
    if not manifest.is_file():
        shutil.rmtree(hosts, ignore_errors=True)
        started = time.perf_counter()
        ids = [make_upstream(hosts / "bench" / f"r{n:03d}.git", args.files, args.commits, seed=n)
               for n in range(args.upstreams)]
        manifest.write_text(json.dumps(ids))
        print(f"built {args.upstreams} upstreams in {time.perf_counter() - started:.1f} s")
    ids = json.loads(manifest.read_text())
    zoo = workdir / f"zoo-{key}-{args.folders}"
    shutil.rmtree(zoo, ignore_errors=True)
    make_zoo(zoo, args.folders, args.upstreams, ids)
    size = sum(p.stat().st_size for p in hosts.rglob("*") if p.is_file())
    print(f"upstreams: {args.upstreams} x {args.files} files, {args.commits} commits "
          f"({size / 1e6:.0f} MB on disk); zoo: {args.folders} README folders")
    return hosts, zoo


def modelzoo(env: dict[str, str], *args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "modelzoo_kit", "provenance", *args,
                           "--format", "json"], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"modelzoo {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def verdicts(report: dict) -> list[tuple[str, str, str]]:
    return sorted((f["path"], f["rule"], f["severity"]) for f in report["findings"]
                  if f["rule"] != "PV003")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folders", type=int, default=300)
    parser.add_argument("--upstreams", type=int, default=100)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--commits", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir())
                        / "modelzoo-bench-zoo-provenance")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    hosts, zoo = build(args.workdir, args)
    config = args.workdir / "gitconfig"
    config.write_text(f'[url "file://{hosts}/bench/"]\n\tinsteadOf = {HOST}\n')
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(config), "CI": "true",
           "PYTHONPATH": str(ROOT)}
    caches = args.workdir / "caches"
    shutil.rmtree(caches, ignore_errors=True)
    zoo_cache, single_cache = caches / "zoo", caches / "single"

    cold_s, cold = modelzoo(env, "-r", str(zoo), "--cache", str(zoo_cache),
                            "--jobs", str(args.jobs))
    print(f"  cold {cold_s:.2f} s", flush=True)
    warm_s, warm = modelzoo(env, "-r", str(zoo), "--cache", str(zoo_cache),
                            "--jobs", str(args.jobs))
    print(f"  warm {warm_s:.2f} s", flush=True)
    offline_s, offline = modelzoo(env, "-r", str(zoo), "--cache", str(zoo_cache), "--offline")
    print(f"  offline {offline_s:.2f} s; now one folder at a time", flush=True)
    folders = sorted(p.parent for p in zoo.rglob("README.md"))
    single_findings: list[dict] = []
    started = time.perf_counter()
    for folder in folders:
        single_findings += modelzoo(env, str(folder), "--cache", str(single_cache))[1]["findings"]
    single_s = time.perf_counter() - started

    summary = cold["summary"]["provenance"]
    figures = {
        "folders": args.folders, "upstreams": args.upstreams, "jobs": args.jobs,
        "cpus": os.cpu_count(), "citations": summary["citations"],
        "verdicts": summary["verdicts"], "fetches_cold": summary["fetches"],
        "fetches_warm": warm["summary"]["provenance"]["fetches"],
        "cold_s": round(cold_s, 2), "warm_s": round(warm_s, 2),
        "offline_s": round(offline_s, 2), "one_at_a_time_s": round(single_s, 2),
        "one_at_a_time_over_cold": round(single_s / cold_s, 2),
        "cold_over_warm": round(cold_s / warm_s, 2),
        "every_citation_has_a_verdict": "none" not in summary["verdicts"],
        "offline_equals_online": verdicts(offline) == verdicts(cold),
        "warm_equals_cold": verdicts(warm) == verdicts(cold),
        "one_at_a_time_equals_zoo": verdicts({"findings": single_findings}) == verdicts(cold),
    }
    for key, value in figures.items():
        print(f"  {key:<28} {value}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    ok = (figures["every_citation_has_a_verdict"] and figures["offline_equals_online"]
          and figures["warm_equals_cold"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
