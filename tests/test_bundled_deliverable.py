"""The bundled deliverable as a zoo receives it: its README is true.

Every command the rendered README quotes runs (on CPU, with small settings appended), the script
parameter table is exactly what train.py accepts, the directory tree is the folder's, and the
deliverable passes the kit's own checks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from effnet_support import DELIVERABLE, demo_root, small_image_folder, subprocess_env

from modelzoo_kit.cli import main as modelzoo

README = DELIVERABLE / "README.md"
RUN_OUTPUTS = ("runs", "data", "output", "__pycache__", "*.onnx", "*.pt", "*.pth")

# Appended to every command: the smallest settings that still train, evaluate and export.
TINY_PYTHON = ["--device", "cpu", "--image-size", "32", "--batch-size", "8", "--workers", "0",
               "--epochs", "1", "--limit-train-batches", "2", "--limit-val-batches", "2",
               "--progress", "off"]
TINY_SCRIPT = ["--device=cpu", "--precision=fp32", "--batch_size=8", "--image_size=32",
               "--workers=0", "--epochs=1"]


def fenced_commands(markdown: str) -> list[str]:
    """The shell commands of the README's fenced blocks, in order (directory trees left out)."""
    commands = []
    for block in re.findall(r"^ *```[^\n]*\n(.*?)^ *```", markdown, flags=re.M | re.S):
        for line in block.splitlines():
            line = line.strip()
            if re.match(r"^(bash|python3|torchrun|docker) ", line):
                commands.append(line)
    return commands


def readme_commands() -> list[str]:
    return fenced_commands(README.read_text(encoding="utf-8"))


def test_the_readme_quotes_every_entry_point_and_the_transfer_learning_steps():
    from modelzoo_kit.loading import load_deliverable

    commands = readme_commands()
    for name, entry in load_deliverable(DELIVERABLE).entry_points.items():
        assert entry.command in commands, f"entry point {name} is not quoted in README.md"
    assert any("--pretrained b0.pth" in c for c in commands)
    assert any("--export-onnx flowers.onnx" in c for c in commands)


def tiny(command: str, data: Path, port: int) -> list[str] | None:
    """The README command as argv with small CPU settings, or None when it needs Docker."""
    import shlex

    argv = shlex.split(command.replace("/data/imagenet", str(data))
                       .replace("/data/flowers", str(data)))
    if argv[0] == "docker" or "docker_start.sh" in command:
        return None  # no Docker engine here: test_scripts checks these with a stand-in docker
    if argv[0] == "python3":
        return [sys.executable, *argv[1:], *TINY_PYTHON, "--demo-root", str(demo_root())]
    script = Path(argv[1]).name
    extra = list(TINY_SCRIPT)
    if script != "train_full_1p.sh":  # the 1p run is the one evaluate/export read afterwards
        extra.append(f"--output_dir=output/{script}")
    if "8p" in script:
        extra += ["--nproc_per_node=2", f"--master_port={port}"]
    return [*argv, *extra]


@pytest.mark.slow
@pytest.mark.needs_torch
def test_every_command_in_the_readme_runs_on_cpu_in_order(tmp_path):
    """Quick start, transfer learning (fine-tune from a checkpoint, evaluate, export) and the
    remaining entry points, exactly as quoted, on a user's image folder built here."""
    folder = tmp_path / "efficientnet_b0"
    shutil.copytree(DELIVERABLE, folder, ignore=shutil.ignore_patterns(*RUN_OUTPUTS))
    data = small_image_folder()
    ran = []
    for index, command in enumerate(readme_commands()):
        argv = tiny(command, data, port=29600 + index)
        if argv is None:
            continue
        if "b0.pth" in command:  # the user's pretrained weights: the one-card run's checkpoint
            shutil.copy(folder / "test" / "output" / "0" / "best.pt", folder / "b0.pth")
        result = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=600,
                                env=subprocess_env(PYTHON=sys.executable, PERF_STEPS="2"))
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        ran.append(command)
    assert (folder / "flowers.onnx").is_file()
    assert (folder / "runs" / "demo" / "efficientnet_b0.onnx").is_file()
    scripts = {Path(c.split()[1]).name for c in ran if c.startswith("bash test/")}
    assert scripts == {"train_full_1p.sh", "train_full_8p.sh", "train_performance_1p.sh",
                       "train_performance_8p.sh"}
    assert sum(c.startswith("python3 train.py") for c in ran) >= 7


def parameter_table_flags(markdown: str) -> set[str]:
    section = markdown.split("## 脚本参数", 1)[1].split("\n## ", 1)[0]
    flags = set()
    for row in re.findall(r"^\| `(--?[^|]+?)` \|", section, flags=re.M):
        flags.update(f.strip("` ") for f in re.split(r"、|`, `", row))
    return flags


@pytest.mark.needs_torch
def test_the_parameter_table_is_exactly_what_train_py_accepts():
    import train  # the deliverable's folder is on sys.path (effnet_support)
    accepted = {
        option
        for action in train.build_parser()._actions
        for option in action.option_strings
        if option not in ("-h", "--help")
    }
    for lang_readme in (README, DELIVERABLE / "README.en.md"):
        text = lang_readme.read_text(encoding="utf-8")
        text = text.replace("## Script Parameters", "## 脚本参数")
        assert parameter_table_flags(text) == accepted, lang_readme.name


def test_the_directory_tree_is_the_folders_tracked_files():
    listed = subprocess.run(["git", "ls-files", "."], cwd=DELIVERABLE, capture_output=True,
                            text=True, check=True).stdout.split()
    if not listed:
        pytest.skip("not a git checkout")
    text = README.read_text(encoding="utf-8")
    tree = text.split("```\nefficientnet_b0/\n", 1)[1].split("```", 1)[0]
    names = {re.sub(r"^[│├└─\s]+", "", line).split("  ")[0].strip().rstrip("/")
             for line in tree.splitlines()}
    for path in listed:
        if path == ".gitignore":
            continue
        for part in Path(path).parts:
            assert part in names, f"{path} is missing from the README's tree"
    extra = {n for n in names if n} - {p for path in listed for p in Path(path).parts}
    assert not extra, f"the README's tree names files the folder does not have: {extra}"


def test_the_bundled_deliverable_validates_clean_and_its_readmes_are_rendered(capsys):
    assert modelzoo(["validate", str(DELIVERABLE)]) == 0
    out = capsys.readouterr().out
    assert "0 error(s), 0 warning(s), 0 info" in out
    assert modelzoo(["render", "--check", str(DELIVERABLE)]) == 0


def test_the_bundled_deliverables_code_is_exactly_the_commit_it_cites(capsys):
    """Offline, as in CI: the adapted code is checked in this repository; only the upstream
    reference cannot be verified without a network, and the report says so."""
    if not (DELIVERABLE.parents[1] / ".git").exists():
        pytest.skip("not a git checkout")
    from modelzoo_kit.loading import load_deliverable

    cited = load_deliverable(DELIVERABLE).overview.adapted.commit_id
    has_commit = subprocess.run(["git", "cat-file", "-e", f"{cited}^{{commit}}"],
                                cwd=DELIVERABLE, capture_output=True).returncode == 0
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=DELIVERABLE,
                             capture_output=True, text=True).stdout.strip() == "true"
    if not has_commit and shallow:
        pytest.skip(f"a shallow clone without the cited commit {cited[:12]}")
    code = modelzoo(["provenance", str(DELIVERABLE), "--offline", "--format", "json"])
    import json

    report = json.loads(capsys.readouterr().out)
    rules = {f["rule"] for f in report["findings"]}
    problems = [f for f in report["findings"] if f["severity"] != "info"]
    assert code == 0, problems
    assert "PV010" in rules  # exact match of the tree at commit_id:code_path
    assert all(f["rule"] == "PV060" and "lukemelas" in f["message"] for f in problems)
