"""A received repository never runs its own programs: every git call goes through gitrun."""

from __future__ import annotations

import ast
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from deliverable_fixtures import FIXTURES

from modelzoo_kit import gitrun
from modelzoo_kit.cli import main

PACKAGE = Path(__file__).resolve().parent.parent / "modelzoo_kit"

#: Modules allowed to start processes, and why.
PROCESS_STARTERS = {
    "gitrun.py": "the one hardened git runner",
    "commands/run.py": "runs the entry point the user named, with bash (never git)",
}


def _process_starts(tree: ast.AST) -> list[str]:
    """Every import or call in a module that could start a program (git or any other)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in
                      ("subprocess", "git", "pty", "multiprocessing")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in ("subprocess", "git", "pty", "multiprocessing"):
                found.append(node.module)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "os" and (
                node.attr in ("system", "popen", "posix_spawn", "posix_spawnp", "fork")
                or node.attr.startswith(("exec", "spawn"))
            ):
                found.append(f"os.{node.attr}")
            if node.value.id == "shutil" and node.attr == "which":
                found.append("shutil.which")
    return found


def test_git_is_started_only_by_the_hardened_runner() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        source = path.read_text(encoding="utf-8")
        starts = _process_starts(ast.parse(source))
        if rel == "commands/run.py":
            starts = [s for s in starts if s not in ("subprocess", "shutil.which")]
            if "git" in {n.value for n in ast.walk(ast.parse(source))
                         if isinstance(n, ast.Constant) and isinstance(n.value, str)}:
                starts.append('the string "git"')
        elif rel == "gitrun.py":
            starts = [s for s in starts if s != "subprocess"]
        if starts:
            offenders[rel] = starts
    assert offenders == {}, (
        "start git only through modelzoo_kit.gitrun.run_git / git_output; "
        f"other process starts: {offenders} (allowed: {PROCESS_STARTERS})"
    )


# --------------------------------------------------------------------------- hostile repository


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def marker_script(folder: Path, marker: Path) -> Path:
    """A program that leaves ``marker`` behind when anything runs it (and passes data on)."""
    script = folder / "evil.sh"
    script.write_text(f"#!/bin/sh\necho ran \"$0 $*\" >> '{marker}'\ncat\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def hostile_config(kind: str, repo: Path, script: Path) -> None:
    """Make ``repo``'s own configuration (not the user's) name ``script`` the ``kind`` way."""
    if kind == "fsmonitor":
        git("config", "core.fsmonitor", str(script), cwd=repo)
    elif kind == "hooks":
        hooks = repo / ".git" / "evil-hooks"
        hooks.mkdir()
        for name in ("pre-commit", "post-checkout", "post-index-change", "reference-transaction",
                     "pre-auto-gc", "post-rewrite", "fsmonitor-watchman"):
            shutil.copy(script, hooks / name)
        git("config", "core.hooksPath", str(hooks), cwd=repo)
    elif kind == "filter":
        git("config", "filter.evil.clean", str(script), cwd=repo)
        git("config", "filter.evil.smudge", str(script), cwd=repo)
        git("config", "filter.evil.required", "true", cwd=repo)
        git("config", "diff.evil.textconv", str(script), cwd=repo)
        (repo / ".git" / "info").mkdir(exist_ok=True)
        (repo / ".git" / "info" / "attributes").write_text("* filter=evil diff=evil\n")
    elif kind == "pager-askpass-credential":
        git("config", "core.pager", str(script), cwd=repo)
        git("config", "core.askPass", str(script), cwd=repo)
        git("config", "credential.helper", f"!{script}", cwd=repo)
    else:
        raise AssertionError(kind)


@pytest.fixture
def received_repository(tmp_path: Path) -> Path:
    """A deliverable committed in a repository of its own, with a rendered README."""
    repo = tmp_path / "zoo"
    folder = repo / "tiny"
    shutil.copytree(FIXTURES / "minimal", folder)
    assert main(["render", str(folder)]) == 0
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "tiny", cwd=repo)
    (folder / "train.py").touch()  # stat-dirty: a status would have to re-read (and filter) it
    return folder


KINDS = ["fsmonitor", "hooks", "filter", "pager-askpass-credential"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "command",
    [
        ["validate"],
        ["render", "--check"],
        ["validate", "--provenance", "--offline"],
        ["provenance", "--offline", "--suggest"],
    ],
    ids=lambda c: " ".join(c),
)
def test_repository_config_never_runs_a_program(
    received_repository: Path, tmp_path: Path, kind: str, command: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = received_repository
    marker = tmp_path / "ran"
    hostile_config(kind, folder.parent, marker_script(tmp_path, marker))
    extra = ["--cache-dir" if command[0] == "validate" else "--cache", str(tmp_path / "cache")]
    main([*command, str(folder), *(extra if "--offline" in command else [])])
    capsys.readouterr()
    assert not marker.exists(), marker.read_text()


@pytest.mark.parametrize("kind,control", [
    ("fsmonitor", ["ls-files"]),
    ("filter", ["status"]),
    ("hooks", ["commit", "-q", "--allow-empty", "-m", "x"]),
])
def test_the_hostile_config_does_run_for_plain_git(
    received_repository: Path, tmp_path: Path, kind: str, control: list[str]
) -> None:
    """The same repositories do run the program for git itself: the test above can fail."""
    marker = tmp_path / "ran"
    hostile_config(kind, received_repository.parent, marker_script(tmp_path, marker))
    git(*control, cwd=received_repository.parent)
    assert marker.exists()


def test_nested_repository_head_is_read_without_gitpython(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    nested = outer / "vendor"
    nested.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=outer)
    git("commit", "-q", "--allow-empty", "-m", "outer", cwd=outer)
    git("init", "-q", "-b", "main", cwd=nested)
    assert gitrun.head_commit(nested) is None  # no commit yet: never the outer repository's
    git("commit", "-q", "--allow-empty", "-m", "nested", cwd=nested)
    assert gitrun.head_commit(nested) == git("rev-parse", "HEAD", cwd=nested)


@pytest.mark.parametrize(
    "variable,value",
    [
        ("GIT_DIR", "/nonexistent"),
        ("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='{script}'"),
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_EXTERNAL_DIFF", "{script}"),
        ("GIT_PAGER", "{script}"),
    ],
)
def test_inherited_environment_cannot_redirect_git(
    received_repository: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    variable: str, value: str,
) -> None:
    marker = tmp_path / "ran"
    script = marker_script(tmp_path, marker)
    monkeypatch.setenv(variable, value.format(script=script))
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.fsmonitor")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", str(script))
    listed = gitrun.git_output(["ls-files"], cwd=received_repository)
    assert listed is not None and "train.py" in listed
    assert not marker.exists()


def test_output_is_bounded(received_repository: Path) -> None:
    with pytest.raises(gitrun.GitCommandError) as failure:
        gitrun.run_git(["ls-files"], cwd=received_repository, max_output_bytes=10)
    assert failure.value.kind == "too-large"
