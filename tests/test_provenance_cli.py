"""``modelzoo provenance``: a real deliverable.yaml, real repositories, exit codes and reports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import git
import pytest

from modelzoo_kit.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "deliverables" / "minimal"
IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.org"]
UPSTREAM_COMMIT_IN_FIXTURE = "3d400a58023086b5c128ecd4b3ea46c129b5988b"
ADAPTED_COMMIT_IN_FIXTURE = "9887f0b4ae27f16a1e9f8b0a94dda87b0bf8430a"


def commit_all(repo: git.Repo, message: str) -> str:
    repo.git.add("-A")
    repo.git.execute(["git", *IDENTITY, "commit", "-q", "--no-verify", "-m", message])
    return repo.head.commit.hexsha


def cite(yaml_file: Path, **replacements: str) -> None:
    """Rewrite the fixture's references (its urls and commit ids) to the test's repositories."""
    text = yaml_file.read_text(encoding="utf-8")
    for old, new in replacements.items():
        text = text.replace(old, new)
    yaml_file.write_text(text, encoding="utf-8")


@pytest.fixture
def zoo(tmp_path: Path) -> tuple[Path, str]:
    """An adapted zoo repository whose models/tiny holds the fixture's code (not its metadata),
    and an upstream repository; returns the deliverable folder citing both."""
    zoo_repo = git.Repo.init(tmp_path / "zoo", initial_branch="main")
    shutil.copytree(FIXTURE, tmp_path / "zoo" / "models" / "tiny",
                    ignore=shutil.ignore_patterns("deliverable.yaml"))
    adapted = commit_all(zoo_repo, "tiny")
    upstream = git.Repo.init(tmp_path / "upstream", initial_branch="master")
    shutil.copy(FIXTURE / "train.py", tmp_path / "upstream" / "train.py")
    (tmp_path / "upstream" / "LICENSE").write_text("license\n")
    reference = commit_all(upstream, "upstream")
    deliverable = tmp_path / "deliverable"
    shutil.copytree(FIXTURE, deliverable)
    cite(deliverable / "deliverable.yaml", **{
        "https://github.com/example/zoo.git": f"file://{tmp_path / 'zoo'}",
        "https://github.com/example/tiny.git": f"file://{tmp_path / 'upstream'}",
        ADAPTED_COMMIT_IN_FIXTURE: adapted,
        UPSTREAM_COMMIT_IN_FIXTURE: reference,
    })
    return deliverable, adapted


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["provenance", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_exact_match_exits_zero_with_a_readable_report(
    zoo: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    deliverable, _ = zoo
    code, out, _ = run_cli(capsys, str(deliverable))
    assert code == 0
    assert "PV010" in out and "identical to" in out
    assert "PV030" in out and "train.py" in out and "LICENSE" in out


def test_json_report_and_select(zoo: tuple[Path, str], capsys: pytest.CaptureFixture[str]
                                ) -> None:
    deliverable, _ = zoo
    (deliverable / "train.py").write_text("print('changed')\n")
    code, out, _ = run_cli(capsys, str(deliverable), "--format", "json", "--select", "PV01")
    assert code == 1
    report = json.loads(out)
    assert {f["rule"] for f in report["findings"]} == {"PV013"}
    [finding] = report["findings"]
    assert finding["path"].endswith("train.py") and finding["severity"] == "error"


def test_metadata_findings_point_at_the_yaml_line(
    zoo: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    deliverable, _ = zoo
    yaml_file = deliverable / "deliverable.yaml"
    cite(yaml_file, **{"branch: main": "branch: release"})
    code, out, _ = run_cli(capsys, str(deliverable), "--format", "json")
    assert code == 1
    [missing] = [f for f in json.loads(out)["findings"] if f["rule"] == "PV004"]
    line = yaml_file.read_text().splitlines()[missing["line"] - 1]
    assert line.strip() == "branch: release"


def test_cache_and_offline(tmp_path: Path, zoo: tuple[Path, str],
                           capsys: pytest.CaptureFixture[str]) -> None:
    deliverable, _ = zoo
    cache = tmp_path / "cache"
    assert run_cli(capsys, str(deliverable), "--cache", str(cache))[0] == 0
    shutil.move(tmp_path / "zoo", tmp_path / "zoo-gone")
    shutil.move(tmp_path / "upstream", tmp_path / "upstream-gone")
    code, out, _ = run_cli(capsys, str(deliverable), "--cache", str(cache), "--offline")
    assert code == 0 and "PV010" in out and "offline" in out


def test_offline_without_cache_warns_and_strict_fails(
    zoo: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, str(zoo[0]), "--offline")
    assert code == 0 and out.count("PV060") == 2 and "could not be verified" in out
    code, out, _ = run_cli(capsys, str(zoo[0]), "--offline", "--strict")
    assert code == 1 and "2 error(s)" in out


def test_validate_passes_strict_through_to_provenance(
    zoo: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    deliverable, _ = zoo
    base = ["validate", str(deliverable), "--provenance", "--offline", "--select", "PV"]
    assert main(base) == 0
    assert "PV060" in capsys.readouterr().out
    assert main([*base, "--strict-provenance"]) == 1
    assert "PV060" in capsys.readouterr().out


def test_ignore_option(zoo: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    deliverable, _ = zoo
    (deliverable / "NOTES.txt").write_text("mine\n")
    assert run_cli(capsys, str(deliverable))[0] == 1
    assert run_cli(capsys, str(deliverable), "--ignore", "NOTES.txt")[0] == 0


def test_broken_metadata_is_an_input_error_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "deliverable.yaml").write_text("schema_version: 1\nname: [unclosed\n")
    code, _, err = run_cli(capsys, str(folder))
    assert code == 2 and "deliverable.yaml" in err and "Traceback" not in err


def test_suggest_names_the_commit_for_a_deliverable_in_its_own_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = git.Repo.init(tmp_path / "zoo", initial_branch="main")
    folder = tmp_path / "zoo" / "models" / "tiny"
    shutil.copytree(FIXTURE, folder)
    first = commit_all(home, "tiny")
    cite(folder / "deliverable.yaml", **{
        "https://github.com/example/zoo.git": f"file://{tmp_path / 'zoo'}",
        ADAPTED_COMMIT_IN_FIXTURE: first,
    })
    (folder / "train.py").write_text("print('v2')\n")
    second = commit_all(home, "v2")
    code, out, _ = run_cli(capsys, str(folder), "--suggest")
    assert code == 1  # train.py differs from the cited commit
    assert f"--suggest: overview.adapted.commit_id: {second}\n" in out
    assert "PV040" in out and "PV042" in out and "PV013" in out


def test_the_installed_command_runs(zoo: tuple[Path, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "modelzoo_kit", "provenance", str(zoo[0])],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "PV010" in result.stdout
