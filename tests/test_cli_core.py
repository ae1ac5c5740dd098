"""The core commands as a user runs them: new, render (and its CI gate), a fast --help."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelzoo_kit.cli import main
from modelzoo_kit.commands.new import DECISIONS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "deliverables"
HEAVY = ("torch", "jinja2", "git", "pydantic", "yaml", "markdown_it")


def modelzoo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelzoo_kit", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_imports_nothing_heavy():
    """``modelzoo --help`` must start fast: measured as what it imports, not as a timing."""
    probe = (
        "import sys, json\n"
        "from modelzoo_kit.cli import main\n"
        "code = main(['--help'])\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}
    assert "render" in result.stdout and "schema" in result.stdout


def test_import_time_of_the_cli_is_small():
    """-X importtime lists every module imported; the CLI's own import tree stays small."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import modelzoo_kit.cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()[1:]}
    assert "modelzoo_kit.cli" in imported
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def test_render_help_does_not_import_the_renderer():
    probe = (
        "import sys\nfrom modelzoo_kit.cli import main\n"
        "try:\n    main(['render', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('jinja2' in sys.modules, 'modelzoo_kit.render' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_new_scaffolds_and_never_overwrites(tmp_path):
    result = modelzoo("new", "demo_net", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    target = tmp_path / "demo_net" / "deliverable.yaml"
    first = target.read_text(encoding="utf-8")
    again = modelzoo("new", "demo_net", "--dir", str(tmp_path))
    assert again.returncode == 2
    assert "never overwrites" in again.stderr and "Traceback" not in again.stderr
    assert target.read_text(encoding="utf-8") == first


def test_new_rejects_a_bad_name(tmp_path):
    result = modelzoo("new", "../evil", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "deliverable name" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_scaffold_fails_only_where_the_user_must_decide(tmp_path):
    assert main(["new", "demo_net", "--dir", str(tmp_path)]) == 0
    folder = tmp_path / "demo_net"
    result = modelzoo("render", str(folder))
    assert result.returncode == 2
    reported = set(re.findall(r"deliverable\.yaml:\d+:\d+: ([\w.]+): not filled in", result.stderr))
    assert reported == set(DECISIONS) - {"basic.size"}  # size may come from a checkpoint
    text = (folder / "deliverable.yaml").read_text(encoding="utf-8")
    assert text.count(": null  # decide: ") == len(DECISIONS)

    answers = {
        "publisher": "Huawei", "application_domain": "Classification", "version": '"1.0"',
        "size": "21M", "framework": "PyTorch 2.1.0", "model_format": "pth", "precision": "FP32",
        "url": "https://github.com/example/zoo.git", "commit_id": "a" * 40, "dataset": "ImageNet",
        "hyperparameters": "{Batch size: 256}",
    }  # fmt: skip
    lines = []
    for line in text.splitlines():
        match = re.match(r"^(\s*)([\w-]+): null  # decide: .*$", line)
        if match:
            value = answers.get(match.group(2), "'written by the author'")
            line = f"{match.group(1)}{match.group(2)}: {value}"
        lines.append(line)
    (folder / "deliverable.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(FIXTURES / "minimal" / "train.py", folder / "train.py")
    assert main(["render", str(folder)]) == 0
    assert (folder / "README.md").is_file() and (folder / "README.en.md").is_file()


def test_render_writes_both_languages_and_check_passes(tmp_path, capsys):
    folder = tmp_path / "minimal"
    shutil.copytree(FIXTURES / "minimal", folder)
    assert main(["render", str(folder)]) == 0
    assert "wrote" in capsys.readouterr().out
    zh = (folder / "README.md").read_text(encoding="utf-8")
    assert zh.startswith("# TinyNet for PyTorch\n")
    assert (folder / "README.en.md").read_text(encoding="utf-8").count("**Publisher: Huawei**") == 1
    assert main(["render", "--check", str(folder)]) == 0
    assert main(["render", str(folder)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (folder / "README.md").read_text(encoding="utf-8") == zh
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temporaries
    umask = os.umask(0)
    os.umask(umask)
    assert (folder / "README.md").stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file


def test_render_check_fails_with_a_diff_when_stale(tmp_path):
    folder = tmp_path / "minimal"
    shutil.copytree(FIXTURES / "minimal", folder)
    assert modelzoo("render", str(folder)).returncode == 0
    readme = folder / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("888K", "1M"), encoding="utf-8")
    before = readme.read_text(encoding="utf-8")
    result = modelzoo("render", "--check", str(folder))
    assert result.returncode == 1
    assert "--- README.md (committed)" in result.stdout
    assert "-**大小（Size）：1M**" in result.stdout and "+**大小（Size）：888K**" in result.stdout
    assert "stale" in result.stderr
    assert readme.read_text(encoding="utf-8") == before  # --check writes nothing


def test_render_one_language(tmp_path):
    folder = tmp_path / "minimal"
    shutil.copytree(FIXTURES / "minimal", folder)
    assert main(["render", "--lang", "en", str(folder)]) == 0
    assert (folder / "README.en.md").is_file() and not (folder / "README.md").exists()
    assert main(["render", "--check", "--lang", "en", str(folder)]) == 0
    assert main(["render", "--check", str(folder)]) == 1  # README.md missing counts as stale


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "does/not/exist"], "no such file"),
        (["render", str(FIXTURES / "broken")], "overview.reference.commit_id"),
        (["render", "--lang", "fr", "x"], "invalid choice"),
    ],
)
def test_user_mistakes_exit_2_without_a_traceback(args, message):
    result = modelzoo(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
