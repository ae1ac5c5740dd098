"""The zoo walk: every folder with a README is classified from its structure, deliverables are
checked as their layout, symlink loops and unreadable folders are reported, and the cache
reuses what did not change and nothing that did."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelzoo_kit.classify import classify, detect_layout, outline
from modelzoo_kit.walk import walk_zoo

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PT_CORPUS = CORPUS / "pytorch-2022"
FIXTURES = Path(__file__).parent / "fixtures" / "readmes"
needs_corpus = pytest.mark.skipif(
    not (PT_CORPUS / "manifest.tsv").is_file(), reason="../shared/corpus is not present"
)


def _rows(manifest: Path) -> list[dict[str, str]]:
    if not manifest.is_file():
        return []
    with open(manifest, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@needs_corpus
@pytest.mark.parametrize("row", _rows(PT_CORPUS / "manifest.tsv"), ids=lambda r: r["file"])
def test_every_pytorch_2022_corpus_readme_is_that_layout(row: dict[str, str]) -> None:
    text = (PT_CORPUS / "files" / row["file"]).read_text(encoding="utf-8")
    found = classify(text, has_training_scripts=True)
    assert (found.kind, found.layout) == ("training", "pytorch-2022")


@needs_corpus
def test_template_corpus_readmes_are_the_template() -> None:
    rows = [r for r in _rows(CORPUS / "manifest.tsv") if r["follows_template"] == "yes"]
    layouts = [
        classify((CORPUS / "files" / r["file"]).read_text("utf-8", "replace"), True).layout
        for r in rows
    ]
    assert "pytorch-2022" not in layouts
    assert layouts.count("template") >= 0.95 * len(rows)


@pytest.mark.parametrize(
    ("text", "scripts", "kind", "layout"),
    [
        ("# m\n# 概述\n# 准备训练环境\n```ln -s x```\n# 开始训练\n", False, "training",
         "pytorch-2022"),
        ('<h2 id="概述.md">概述</h2>\n<h2 id="快速上手.md">快速上手</h2>\n'
         '<h2 id="高级参考.md">高级参考</h2>\n', False, "training", "template"),
        ("# m 推理指导\n# 概述\n# 推理环境准备\n# 快速上手\n", False, "inference", None),
        ("# m 推理指导\n# 概述\n# 推理环境准备\n# 快速上手\n", True, "training-unknown", None),
        ("# Project\n\n```\n# 概述\n# 准备训练环境\n# 开始训练\n```\n", False, "other", None),
        ("# Project\n\n@article{x, publisher = {发布者}}\n", False, "other", None),
        ("**发布者（Publisher）：huawei**\n**版本（Version）：1.1**\n"
         "**框架（Framework）：PyTorch 1.8**\n**精度（Precision）：FP32**\n", False,
         "training", "template"),
    ],
)  # fmt: skip
def test_classification_reads_structure_not_prose(
    text: str, scripts: bool, kind: str, layout: str | None
) -> None:
    found = classify(text, scripts)
    assert (found.kind, found.layout) == (kind, layout)


def test_outline_skips_fenced_headings() -> None:
    titles = [h.title for h in outline("# a\n```\n# b\n```\n## c\n~~~\n# d\n")]
    assert titles == ["a", "c"]


def test_a_forced_layout_wins_for_training_folders() -> None:
    found = classify("# Project\n", has_training_scripts=True, layout="pytorch-2022")
    assert (found.kind, found.layout) == ("training", "pytorch-2022")


def _zoo(tmp_path: Path) -> Path:
    """A small zoo: a pytorch-2022 deliverable, a template one, a training folder of no
    layout, an inference README, an index README, and a symlink loop."""
    zoo = tmp_path / "zoo"
    new = zoo / "PyTorch" / "cv" / "ResNet50_for_PyTorch"
    for name in ("test/train_full_1p.sh", "test/train_full_8p.sh",
                 "test/train_performance_1p.sh", "test/train_performance_8p.sh",
                 "requirements.txt", "public_address_statement.md"):  # fmt: skip
        (new / name).parent.mkdir(parents=True, exist_ok=True)
        (new / name).write_text("#!/bin/bash\n")
    shutil.copyfile(FIXTURES / "pytorch-2022" / "mz246_code_path_parent.md", new / "README.md")
    old = zoo / "TensorFlow" / "Old_for_TensorFlow"
    (old / "test").mkdir(parents=True)
    (old / "test" / "train_full_1p.sh").write_text("#!/bin/bash\n")
    shutil.copyfile(FIXTURES / "good.md", old / "README.md")
    unknown = zoo / "PyTorch" / "cv" / "Upstream"
    (unknown / "test").mkdir(parents=True)
    (unknown / "test" / "train_full_8p.sh").write_text("#!/bin/bash\n")
    (unknown / "README.md").write_text("# Upstream project\n\n## Install\n")
    (zoo / "ACL" / "Infer").mkdir(parents=True)
    (zoo / "ACL" / "Infer" / "README.md").write_text("# X 离线推理\n## 快速指南\n")
    (zoo / "README.md").write_text("# The zoo\n\n| model | link |\n")
    os.symlink("..", zoo / "PyTorch" / "cv" / "loop")
    return zoo


def test_a_training_folder_without_readme_is_reported(tmp_path: Path) -> None:
    zoo = _zoo(tmp_path)
    (zoo / "PyTorch" / "cv" / "Bare" / "test").mkdir(parents=True)
    (zoo / "PyTorch" / "cv" / "Bare" / "test" / "train_full_1p.sh").write_text("#!/bin/bash\n")
    report = walk_zoo(zoo, "zoo")
    assert report.counts()["training-no-readme"] == 1
    assert ("zoo/PyTorch/cv/Bare/README.md", "MZ305") in {(f.path, f.rule) for f in report.findings}


def test_walk_classifies_every_readme_and_checks_deliverables(tmp_path: Path) -> None:
    report = walk_zoo(_zoo(tmp_path), "zoo")
    assert report.counts() == {
        "inference": 1,
        "other": 1,
        "training (pytorch-2022)": 1,
        "training (template)": 1,
        "training-unknown": 1,
    }
    rules = {(f.path, f.rule) for f in report.findings}
    assert rules == {
        ("zoo/PyTorch/cv/ResNet50_for_PyTorch/README.md", "MZ246"),
        ("zoo/PyTorch/cv/Upstream/README.md", "MZ100"),
    }
    assert [p.path for p in report.problems] == ["PyTorch/cv/loop"]
    assert "symlink loop" in report.problems[0].message


def test_unreadable_folder_is_reported_not_fatal(tmp_path: Path, monkeypatch) -> None:
    # Tests run as root, whom permissions do not stop: make one listing fail instead.
    zoo = _zoo(tmp_path)
    real = os.scandir
    blocked = str(zoo / "ACL")

    def scandir(path):  # type: ignore[no-untyped-def]
        if str(path) == blocked:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = walk_zoo(zoo, "zoo")
    assert ("ACL", "cannot be listed: Permission denied") in {
        (p.path, p.message) for p in report.problems
    }
    assert "inference" not in report.counts()


def test_cache_reuses_what_did_not_change_and_nothing_that_did(tmp_path: Path) -> None:
    zoo = _zoo(tmp_path)
    cache = tmp_path / "walk-cache.json"
    first = walk_zoo(zoo, "zoo", cache_file=cache)
    assert first.readmes_read == 5 and json.loads(cache.read_text())["schema"] == 1
    again = walk_zoo(zoo, "zoo", cache_file=cache)
    assert again.readmes_read == 0
    assert sorted(map(repr, again.findings)) == sorted(map(repr, first.findings))
    # The README is fixed: read again, the finding is gone.
    readme = zoo / "PyTorch" / "cv" / "ResNet50_for_PyTorch" / "README.md"
    shutil.copyfile(FIXTURES / "pytorch-2022" / "good.md", readme)
    fixed = walk_zoo(zoo, "zoo", cache_file=cache)
    assert fixed.readmes_read == 1
    assert "MZ246" not in {f.rule for f in fixed.findings}
    # A script the README runs disappears: the folder's listing changed, so it is re-checked.
    (readme.parent / "test" / "train_full_8p.sh").unlink()
    gone = walk_zoo(zoo, "zoo", cache_file=cache)
    assert "MZ302" in {f.rule for f in gone.findings}


def test_a_broken_cache_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "walk-cache.json"
    cache.write_text("{not json")
    report = walk_zoo(_zoo(tmp_path), "zoo", cache_file=cache)
    assert report.readmes_read == 5


def test_validate_recursive_prints_the_counts(tmp_path: Path) -> None:
    zoo = _zoo(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "modelzoo_kit", "validate", "-r", "zoo", "--format", "json"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    summary = json.loads(done.stdout)["summary"]
    assert summary["classified"]["training (pytorch-2022)"] == 1
    assert summary["walk_problems"] == [
        "PyTorch/cv/loop: a symlink loop back to 'PyTorch': walked once, there"
    ]
    text = subprocess.run(
        [sys.executable, "-m", "modelzoo_kit", "validate", "-r", str(zoo)],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    assert "classified 5 folder(s)" in text


@pytest.mark.parametrize(
    ("fixture", "layout"),
    [("pytorch-2022/good.md", "pytorch-2022"), ("good.md", "template"), ("mz002_binary.md", None)],
)
def test_a_single_readme_is_read_as_the_layout_it_follows(fixture: str, layout: str | None) -> None:
    text = (FIXTURES / fixture).read_text("utf-8", "replace")
    assert detect_layout(text) == layout


@pytest.mark.parametrize(
    ("args", "fired", "absent"),
    [
        # Read as the layout it follows: no finding about the template's sections or fields.
        ([], {"MZ246"}, {"MZ101", "MZ201"}),
        # Forced to the template, it is all missing sections and fields.
        (["--layout", "template"], {"MZ101", "MZ201"}, set()),
    ],
)
def test_validate_one_readme_as_its_layout_or_the_forced_one(
    tmp_path: Path, args: list[str], fired: set[str], absent: set[str]
) -> None:
    readme = tmp_path / "README.md"
    shutil.copyfile(FIXTURES / "pytorch-2022" / "mz246_code_path_parent.md", readme)
    done = subprocess.run(
        [sys.executable, "-m", "modelzoo_kit", "validate", str(readme), "--format", "json",
         *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    rules = {f["rule"] for f in json.loads(done.stdout)["findings"]}
    assert fired <= rules and not rules & absent
