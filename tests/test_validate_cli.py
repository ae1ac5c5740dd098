"""`modelzoo validate`: reports, exit codes, selection, zoo walks, robustness, hooks."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelzoo_kit.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "readmes"
MINIMAL = Path(__file__).parent / "fixtures" / "deliverables" / "minimal"


def model(tmp_path: Path, fixture: str, name: str = "model") -> Path:
    folder = tmp_path / name
    (folder / "test").mkdir(parents=True)
    (folder / "test" / "train_full_1p.sh").write_text("#!/bin/bash\n")
    shutil.copyfile(FIXTURES / fixture, folder / "README.md")
    return folder


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["validate", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_clean_folder_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(model(tmp_path, "good.md"))]) == 0
    assert "1 file(s) checked: 0 error(s)" in capsys.readouterr().out


def test_json_shape_is_stable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = model(tmp_path, "mz214_size.md")
    code, report = run_json([str(folder / "README.md")], capsys)
    assert code == 1
    assert report["schema"] == 1
    assert report["summary"] == {
        "files": 1,
        "errors": 1,
        "warnings": 0,
        "infos": 0,
        "by_rule": {"MZ214": 1},
    }
    (item,) = report["findings"]
    assert list(item)[:7] == ["rule", "severity", "path", "line", "column", "message", "hint"]
    # Added keys only (schema 1 allows them): the span and fix of a finding --fix can fix.
    assert list(item)[7:] == ["end_line", "end_column", "fix"] and item["fix"] == "safe"
    assert (item["rule"], item["severity"], item["line"]) == ("MZ214", "error", 20)
    assert item["path"].endswith("README.md") and "1233M" in item["hint"]


def test_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json([str(model(tmp_path, "mz245_adaptation_incomplete.md"))], capsys)
    assert code == 0 and report["summary"]["warnings"] == 1


@pytest.mark.parametrize(
    ("options", "rules"),
    [
        ([], {"MZ218", "MZ401"}),
        (["--select", "MZ2"], {"MZ218"}),
        (["--ignore", "mz218"], {"MZ401"}),
        (["--select", "MZ4,MZ218", "--ignore", "MZ401"], {"MZ218"}),
        (["--select", "MZ1"], set()),
    ],
)
def test_select_and_ignore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], rules: set[str]
) -> None:
    code, report = run_json([str(model(tmp_path, "mz218_processor.md")), *options], capsys)
    assert {f["rule"] for f in report["findings"]} == rules
    assert code == (1 if rules else 0)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "/nonexistent/zoo"],
        ["validate", "--select", "MZ-1", "."],
        ["validate", "--format", "xml", "."],
        ["validate"],
    ],
)
def test_bad_usage_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_folder_without_readme_needs_recursive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert "--recursive" in capsys.readouterr().err


def test_text_report_groups_by_file_and_colours_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = model(tmp_path, "mz212_version.md", "a"), model(tmp_path, "mz219_category.md", "b")
    assert main(["validate", str(one), str(two), "--color", "never"]) == 1
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    assert out.index("a/README.md") < out.index("MZ212") < out.index("b/README.md")
    assert out.index("b/README.md") < out.index("MZ219")
    assert main(["validate", str(one), "--color", "always"]) == 1
    assert "\x1b[31m" in capsys.readouterr().out


def test_recursive_zoo_walk_with_summary_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zoo = tmp_path / "zoo"
    model(zoo / "cv", "good.md", "resnet")
    model(zoo / "cv", "mz212_version.md", "vgg")
    model(zoo / "nlp", "mz212_version.md", "bert")
    (zoo / "README.md").write_text("# The zoo\n\nAn index of models.\n", encoding="utf-8")
    (zoo / ".git").mkdir()
    shutil.copyfile(FIXTURES / "mz219_category.md", zoo / ".git" / "README.md")
    copy = zoo / "nlp" / "tiny"
    shutil.copytree(MINIMAL, copy)
    assert main(["validate", "-r", str(zoo)]) == 1
    out = capsys.readouterr().out
    assert "MZ219" not in out  # .git is never entered
    assert "The zoo" not in out and "zoo/README.md" not in out  # index README is no model
    table = out[out.index("rule ") :]
    assert "MZ212" in table and " 2\n" in table
    assert "nlp/tiny/README.md" in out  # rendered README missing: MZ305
    assert out.rstrip().endswith("warning(s), 0 info")
    assert "4 file(s) checked" in out  # 3 READMEs and tiny/deliverable.yaml


def test_readme_of_a_deliverable_is_checked_with_its_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(MINIMAL, folder)
    assert main(["render", str(folder)]) == 0
    capsys.readouterr()
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8").replace("昇腾910**", "昇腾310**", 1)
    readme.write_text(text, encoding="utf-8")
    code, report = run_json([str(readme)], capsys)
    assert code == 1
    assert [f["rule"] for f in report["findings"] if f["rule"] == "MZ303"] == ["MZ303"]


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    ("name", "content", "rule"),
    [
        ("binary", b"\x7fELF\x02\x01\x01\x00" + bytes(1000), "MZ002"),
        ("huge", b"# big\n\n" + b"line of text\n" * 1_700_000, "MZ002"),
        ("latin1", "# Modèle\n\nPublisher: café\n".encode("latin-1"), "MZ001"),
        ("empty", b"", "MZ101"),
        ("headings", "".join(f"## 标题 {i}\n\n" for i in range(10_000)).encode(), "MZ101"),
        ("nested", "".join("  " * i + "- item\n" for i in range(2000)).encode(), "MZ101"),
        ("quotes", b">" * 5000 + b" deep\n", "MZ101"),
        ("brackets", b"[" * 20000 + b"](" * 20000, "MZ101"),
        ("crlf_bom", b"\xef\xbb\xbf" + (FIXTURES / "good.md").read_bytes().replace(b"\n", b"\r\n"),
         None),
    ],
)  # fmt: skip
def test_any_input_gets_findings_not_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    rule: str | None,
) -> None:
    folder = tmp_path / name
    (folder / "test").mkdir(parents=True)
    (folder / "test" / "train_full_1p.sh").write_text("")
    (folder / "README.md").write_bytes(content)
    code, report = run_json([str(folder)], capsys)
    rules = {f["rule"] for f in report["findings"]}
    if rule is None:
        assert (code, rules) == (0, set())
    else:
        assert rule in rules and code == 1
    if rule == "MZ002":
        assert rules == {"MZ002"}


def test_validate_never_imports_torch(tmp_path: Path) -> None:
    folder = model(tmp_path, "good.md")
    script = (
        "import sys; from modelzoo_kit.cli import main; "
        f"code = main(['validate', {str(folder)!r}, '--format', 'json']); "
        "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["errors"] == 0


# --------------------------------------------------------------------------- pre-commit hooks


def run_hook(
    hook_id: str, files: list[Path], cwd: Path, tmp_path: Path
) -> subprocess.CompletedProcess:
    """Run a hook the way pre-commit does: the entry, split, followed by the changed files."""
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "modelzoo"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m modelzoo_kit "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    command = shlex.split(hooks[hook_id]["entry"]) + [str(f.relative_to(cwd)) for f in files]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_pre_commit_hooks_gate_a_zoo(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    tiny = zoo / "tiny"
    shutil.copytree(MINIMAL, tiny)
    legacy = model(zoo, "mz212_version.md", "legacy")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"modelzoo-validate", "modelzoo-render-check"}

    stale = run_hook("modelzoo-render-check", [tiny / "deliverable.yaml"], zoo, tmp_path)
    assert stale.returncode == 1, stale.stderr  # README.md not rendered yet
    assert subprocess.run(
        [sys.executable, "-m", "modelzoo_kit", "render", str(tiny)],
        cwd=ROOT, capture_output=True, timeout=60,
    ).returncode == 0  # fmt: skip
    fresh = run_hook(
        "modelzoo-render-check",
        [tiny / "deliverable.yaml", tiny / "README.md", legacy / "README.md"],
        zoo,
        tmp_path,
    )
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr

    bad = run_hook("modelzoo-validate", [legacy / "README.md"], zoo, tmp_path)
    assert bad.returncode == 1 and "MZ212" in bad.stdout
    tiny_only = run_hook("modelzoo-validate", [tiny / "README.md"], zoo, tmp_path)
    assert "MZ212" not in tiny_only.stdout and "legacy" not in tiny_only.stdout


# --------------------------------------------------------------------------- provenance


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_provenance_findings_join_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--provenance proves the adapted code against a real repository (file:// url)."""
    upstream = tmp_path / "upstream"
    code = upstream / "models" / "tiny"
    shutil.copytree(MINIMAL, code, ignore=shutil.ignore_patterns("deliverable.yaml"))
    git("init", "-q", "-b", "main", cwd=upstream)
    git("add", "-A", cwd=upstream)
    git("commit", "-q", "-m", "tiny", cwd=upstream)
    commit = git("rev-parse", "HEAD", cwd=upstream)

    folder = tmp_path / "tiny"
    shutil.copytree(MINIMAL, folder)
    data = yaml.safe_load((folder / "deliverable.yaml").read_text(encoding="utf-8"))
    del data["overview"]["reference"]
    data["overview"]["adapted"] = {
        "url": upstream.as_uri(),
        "branch": "main",
        "commit_id": commit,
        "code_path": "models/tiny",
    }
    (folder / "deliverable.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    cache = ["--cache-dir", str(tmp_path / "cache")]

    code_, report = run_json([str(folder), "--provenance", "--select", "PV", *cache], capsys)
    rules = {f["rule"] for f in report["findings"]}
    assert "PV010" in rules, report  # identical to the tree at commit:code_path
    assert code_ == 0
    (folder / "train.py").write_text("print('changed')\n", encoding="utf-8")
    code_, report = run_json([str(folder), "--provenance", "--select", "PV", *cache], capsys)
    assert code_ == 1 and "PV013" in {f["rule"] for f in report["findings"]}
    code_, report = run_json([str(folder), "--select", "PV"], capsys)
    assert report["findings"] == []  # provenance runs only when asked
