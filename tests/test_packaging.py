"""A non-editable install renders: templates and schemas ship inside the wheel.

Builds the real wheel, installs it into a fresh --target folder, and renders from a working
directory outside the repository with only that folder on the path."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from modelzoo_kit.loading import load_deliverable
from modelzoo_kit.render import render_readme

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "deliverables"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source") / "modelzoo-kit"
    # Build from a copy of the tracked sources, so the build never touches the checkout.
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache")
    for name in ("pyproject.toml", "README.md", "modelzoo_kit", "templates", "schemas"):
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        elif path.is_file():
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, source / name)
    if not (source / "README.md").exists():
        (source / "README.md").write_text("modelzoo-kit\n", encoding="utf-8")
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(out), "-q"]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-build-isolation")  # offline: use the hatchling we already have
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("modelzoo_kit-*.whl")
    return built


def test_wheel_carries_templates_and_schemas(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "modelzoo_kit/templates/README.zh.md.j2" in names
    assert "modelzoo_kit/templates/README.en.md.j2" in names
    assert "modelzoo_kit/templates/partials/image_table.html.j2" in names
    assert "modelzoo_kit/templates/partials/results_table.md.j2" in names
    for lang in ("zh", "en"):  # every layout's templates
        assert f"modelzoo_kit/templates/pytorch-2022/README.{lang}.md.j2" in names
    assert "modelzoo_kit/schemas/deliverable.schema.json" in names
    assert "modelzoo_kit/fieldrules.py" in names


def test_installed_wheel_renders_outside_the_repository(wheel, tmp_path):
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    work = tmp_path / "work"
    folder = work / "minimal"
    shutil.copytree(FIXTURES / "minimal", folder)
    probe = (
        "import sys, modelzoo_kit\n"
        "from modelzoo_kit.cli import main\n"
        "print(modelzoo_kit.__file__)\n"
        "sys.exit(main(['render', 'minimal']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert Path(result.stdout.splitlines()[0]).is_relative_to(site)
    expected = render_readme(load_deliverable(FIXTURES / "minimal"), FIXTURES / "minimal", "zh")
    assert (folder / "README.md").read_text(encoding="utf-8") == expected
    schema = subprocess.run(
        [sys.executable, "-m", "modelzoo_kit", "schema", "--check"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert schema.returncode == 0, schema.stderr
