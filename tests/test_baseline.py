"""``validate --baseline`` / ``--update-baseline`` and ``-r --changed-since`` on zoos built in
tmp_path: a baseline hides exactly the findings it lists, survives lines moving, and never
hides a finding of another rule or file; a git range selects the folders it touched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from modelzoo_kit.baseline import compare, dumps, entries_of, load_baseline, normalise_text
from modelzoo_kit.cli import main
from modelzoo_kit.findings import Finding, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "readmes"


def _model(zoo: Path, rel: str, fixture: str) -> Path:
    folder = zoo / rel
    (folder / "test").mkdir(parents=True)
    (folder / "test" / "train_full_1p.sh").write_text("#!/bin/bash\n")
    shutil.copyfile(FIXTURES / fixture, folder / "README.md")
    return folder / "README.md"


def _zoo(tmp_path: Path, name: str = "zoo") -> Path:
    zoo = tmp_path / name
    _model(zoo, "cv/SizeNet", "mz214_size.md")
    _model(zoo, "cv/DomainNet", "mz211_domain.md")
    _model(zoo, "nlp/HeadingNet", "mz103_unspaced_heading.md")
    return zoo


def _validate(capsys, *args: str) -> tuple[int, dict]:
    code = main(["validate", *args, "--format", "json", "--jobs", "1"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def _rules(report: dict) -> list[tuple[str, str]]:
    return sorted((f["path"], f["rule"]) for f in report["findings"])


@pytest.fixture
def gated(tmp_path: Path, monkeypatch, capsys) -> tuple[Path, Path, dict]:
    """A zoo, its baseline written from today's findings, and the report without one."""
    monkeypatch.chdir(tmp_path)
    zoo = _zoo(tmp_path)
    _, full = _validate(capsys, "-r", "zoo")
    assert full["findings"], "the fixture zoo must have findings"
    assert main(["validate", "-r", "zoo", "--baseline", "bl.json", "--update-baseline"]) == 0
    capsys.readouterr()
    return zoo, tmp_path / "bl.json", full


def test_a_baseline_hides_exactly_its_findings(gated, capsys) -> None:
    _, baseline, full = gated
    code, report = _validate(capsys, "-r", "zoo", "--baseline", str(baseline))
    assert code == 0 and report["findings"] == []
    assert report["summary"]["baseline"]["known"] == len(full["findings"])
    assert report["summary"]["baseline"]["fixed"] == []
    entries = load_baseline(baseline)
    assert sum(e.count for e in entries) == len(full["findings"])
    assert {e.path for e in entries} <= {"cv/SizeNet/README.md", "cv/DomainNet/README.md",
                                         "nlp/HeadingNet/README.md"}  # fmt: skip


def test_moving_lines_keeps_the_findings_known(gated, capsys) -> None:
    zoo, baseline, _ = gated
    readme = zoo / "cv" / "SizeNet" / "README.md"
    readme.write_text("> a note added on top\n\n\n" + readme.read_text())
    code, report = _validate(capsys, "-r", "zoo", "--baseline", str(baseline))
    assert (code, report["findings"], report["summary"]["baseline"]["fixed"]) == (0, [], [])


def test_a_new_finding_is_reported_and_marked_new(gated, capsys) -> None:
    zoo, baseline, _ = gated
    readme = zoo / "cv" / "SizeNet" / "README.md"
    readme.write_text(readme.read_text() + "\n#新的一节\n")
    code, report = _validate(capsys, "-r", "zoo", "--baseline", str(baseline))
    assert code == 0  # MZ103 is a warning
    assert [(f["rule"], f["path"], f["baseline"]) for f in report["findings"]] == [
        ("MZ103", "zoo/cv/SizeNet/README.md", "new")
    ]


def test_a_fixed_finding_is_listed_and_update_shrinks_the_baseline(gated, capsys) -> None:
    zoo, baseline, _ = gated
    readme = zoo / "cv" / "SizeNet" / "README.md"
    readme.write_text(readme.read_text().replace("1263056KB", "1233M"))
    _, report = _validate(capsys, "-r", "zoo", "--baseline", str(baseline))
    fixed = report["summary"]["baseline"]["fixed"]
    assert [(e["path"], e["rule"]) for e in fixed] == [("cv/SizeNet/README.md", "MZ214")]
    before = len(load_baseline(baseline))
    main(["validate", "-r", "zoo", "--baseline", str(baseline), "--update-baseline"])
    assert len(load_baseline(baseline)) == before - 1


def test_a_renamed_folder_brings_its_findings_back_as_new(gated, capsys) -> None:
    zoo, baseline, _ = gated
    os.rename(zoo / "cv" / "DomainNet", zoo / "cv" / "DomainNet2")
    code, report = _validate(capsys, "-r", "zoo", "--baseline", str(baseline))
    assert code == 1
    assert {f["path"] for f in report["findings"]} == {"zoo/cv/DomainNet2/README.md"}
    assert {e["path"] for e in report["summary"]["baseline"]["fixed"]} == {
        "cv/DomainNet/README.md"
    }


def test_an_entry_never_hides_another_rule_or_file() -> None:
    known = Finding("MZ214", Severity.ERROR, "zoo/a/README.md", None, "size bad")
    entries = entries_of([known], ["zoo"])
    other_rule = Finding("MZ215", Severity.ERROR, "zoo/a/README.md", None, "size bad")
    other_file = Finding("MZ214", Severity.ERROR, "zoo/b/README.md", None, "size bad")
    twice = [known, known]
    assert compare([other_rule, other_file], entries, ["zoo"]).known == 0
    result = compare(twice, entries, ["zoo"])
    assert (result.known, len(result.new)) == (1, 1)  # a count of 1 hides one, not two


def test_the_file_is_sorted_deterministic_and_masks_credentials(tmp_path: Path) -> None:
    findings = [
        Finding("MZ2", Severity.ERROR, "z/README.md", None, "see https://me:pw@host/x line 3"),
        Finding("MZ1", Severity.ERROR, "a/README.md", None, "b"),
        Finding("MZ1", Severity.ERROR, "a/README.md", None, "a"),
    ]
    text = dumps(entries_of(findings, []))
    assert text == dumps(entries_of(list(reversed(findings)), []))
    rows = json.loads(text)["entries"]
    assert [(r["path"], r["text"]) for r in rows] == [
        ("a/README.md", "a"), ("a/README.md", "b"), ("z/README.md", rows[2]["text"])
    ]  # fmt: skip
    assert "pw" not in text and "line N" in text
    assert normalise_text("  a \t b  ") == "a b"
    assert len(normalise_text("x" * 500)) < 130


def test_a_missing_or_broken_baseline_is_an_input_error(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    _zoo(tmp_path)
    assert main(["validate", "-r", "zoo", "--baseline", "none.json"]) == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["validate", "-r", "zoo", "--baseline", "bad.json"]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_text_report_says_what_the_baseline_hid(gated, capsys) -> None:
    _, baseline, full = gated
    main(["validate", "-r", "zoo", "--baseline", str(baseline)])
    out = capsys.readouterr().out
    assert f"{len(full['findings'])} known finding(s) hidden, 0 new" in out


# --------------------------------------------------------------------------- --changed-since


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout


@pytest.fixture
def history(tmp_path: Path, monkeypatch) -> Path:
    """A repository whose zoo sits in a sub-folder, one commit tagged ``base``."""
    monkeypatch.chdir(tmp_path)
    repo = _zoo(tmp_path, "repo")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "tag", "base")
    return repo


def _folders(report: dict) -> set[str]:
    return {f["path"].split("/")[2] for f in report["findings"]}


def test_changed_since_checks_only_the_touched_folders(history: Path, capsys) -> None:
    (history / "cv" / "SizeNet" / "test" / "train_full_1p.sh").write_text("#!/bin/bash\n# x\n")
    _git(history, "commit", "-q", "-am", "touch SizeNet")
    _, report = _validate(capsys, "-r", "repo", "--changed-since", "base")
    assert _folders(report) == {"SizeNet"}
    assert report["summary"]["classified"] == {"training (template)": 1}
    _, nothing = _validate(capsys, "-r", "repo", "--changed-since", "HEAD")
    assert nothing["findings"] == []


def test_changed_since_counts_both_sides_of_a_rename(history: Path, capsys) -> None:
    # DomainNet's README moves to HeadingNet2 (a rename git detects), leaving DomainNet behind
    (history / "nlp" / "HeadingNet2" / "test").mkdir(parents=True)
    (history / "nlp" / "HeadingNet2" / "test" / "train_full_1p.sh").write_text("#!/bin/sh\n")
    _git(history, "mv", "cv/DomainNet/README.md", "nlp/HeadingNet2/README.md")
    _git(history, "add", ".")
    _git(history, "commit", "-q", "-m", "move a README")
    assert "R100" in _git(history, "diff", "--name-status", "-M", "base", "HEAD")
    _, report = _validate(capsys, "-r", "repo", "--changed-since", "base")
    assert _folders(report) == {"HeadingNet2", "DomainNet"}


def test_changed_since_works_from_a_zoo_below_the_top(history: Path, capsys) -> None:
    (history / "cv" / "SizeNet" / "README.md").write_text(
        (history / "cv" / "SizeNet" / "README.md").read_text() + "\n"
    )
    (history / "nlp" / "HeadingNet" / "README.md").write_text(
        (history / "nlp" / "HeadingNet" / "README.md").read_text() + "\n"
    )
    _git(history, "commit", "-q", "-am", "both")
    _, report = _validate(capsys, "-r", "repo/cv", "--changed-since", "base")
    assert {f["path"] for f in report["findings"]} == {"repo/cv/SizeNet/README.md"}


@pytest.mark.parametrize(
    ("rev", "message"),
    [("nosuch", "is not a commit"), ("--output=x", "is not a revision")],
)
def test_changed_since_refuses_an_unknown_rev(history: Path, capsys, rev, message) -> None:
    assert main(["validate", "-r", "repo", f"--changed-since={rev}"]) == 2
    assert message in capsys.readouterr().err


def test_changed_since_outside_a_work_tree_is_an_input_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _zoo(tmp_path)
    assert main(["validate", "-r", "zoo", "--changed-since", "HEAD"]) == 2
    assert "not inside a git work tree" in capsys.readouterr().err


def test_changed_since_needs_recursive(history: Path, capsys) -> None:
    assert main(["validate", "repo/cv/SizeNet", "--changed-since", "base"]) == 2
    assert "needs --recursive" in capsys.readouterr().err


def test_a_partial_run_reports_no_entry_of_what_it_did_not_check(gated, capsys) -> None:
    _, baseline, _ = gated
    _, report = _validate(capsys, "-r", "zoo", "--baseline", str(baseline), "--select", "MZ214")
    assert report["findings"] == [] and report["summary"]["baseline"]["fixed"] == []
    assert main(["validate", "-r", "zoo", "--baseline", str(baseline), "--update-baseline",
                 "--select", "MZ214"]) == 2  # fmt: skip
    assert "records every finding" in capsys.readouterr().err


def test_a_gate_run_reports_the_touched_folders_new_findings_only(history, capsys) -> None:
    assert main(["validate", "-r", "repo", "--baseline", "bl.json", "--update-baseline"]) == 0
    size = history / "cv" / "SizeNet" / "README.md"
    size.write_text(size.read_text().replace("1263056KB", "1233M") + "\n#新节\n")
    _git(history, "commit", "-q", "-am", "fix a size, add a heading")
    capsys.readouterr()
    _, report = _validate(capsys, "-r", "repo", "--baseline", "bl.json", "--changed-since",
                          "base")  # fmt: skip
    assert report["summary"]["changed_folders"] == ["cv/SizeNet"]
    assert [f["rule"] for f in report["findings"]] == ["MZ103"]
    assert [e["rule"] for e in report["summary"]["baseline"]["fixed"]] == ["MZ214"]


def test_a_changed_since_walk_never_writes_the_walk_cache(history: Path, capsys) -> None:
    _validate(capsys, "-r", "repo", "--changed-since", "base", "--walk-cache", "walk.json")
    assert not Path("walk.json").exists()
    _validate(capsys, "-r", "repo", "--walk-cache", "walk.json")
    assert Path("walk.json").is_file()
