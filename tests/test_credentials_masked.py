"""A url's credentials are never shown: not in findings, errors, or git's stderr echoed back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from deliverable_fixtures import copy_fixture

from modelzoo_kit import gitremote
from modelzoo_kit.cli import main
from modelzoo_kit.display import mask_credentials
from modelzoo_kit.errors import InputFileError, InputProblem, UsageError
from modelzoo_kit.findings import Finding, Severity, report_json, report_text
from modelzoo_kit.gitrun import GitCommandError

SECRET = "s3cr3t-token"


@pytest.mark.parametrize(
    "text,expected",
    [
        (f"https://user:{SECRET}@host/o/r.git", "https://***@host/o/r.git"),
        (f"https://{SECRET}@github.com/o/r", "https://***@github.com/o/r"),
        (f"see 'http://a:{SECRET}@h:8080/x' here", "see 'http://***@h:8080/x' here"),
        (f"https://u:p%40{SECRET}@h/x", "https://***@h/x"),
        (f"https://u:a@{SECRET}@h/x", "https://***@h/x"),
        (f"ssh://git:{SECRET}@host/r", "ssh://***@host/r"),
        # no secret: kept as written
        ("ssh://git@host:22/o/r", "ssh://git@host:22/o/r"),
        ("git@gitee.com:ascend/zoo.git", "git@gitee.com:ascend/zoo.git"),
        ("https://host/o/r.git", "https://host/o/r.git"),
        ("mail me at a@b.org", "mail me at a@b.org"),
    ],
)
def test_mask_credentials(text: str, expected: str) -> None:
    assert mask_credentials(text) == expected


URL = f"https://user:{SECRET}@example.invalid/zoo.git"


@pytest.mark.parametrize(
    "error",
    [
        GitCommandError(f"git ls-remote failed: fatal: unable to access '{URL}/'", "network",
                        f"fatal: unable to access '{URL}/': Could not resolve host"),
        InputFileError([InputProblem(Path("d.yaml"), 3, 5, "overview.adapted.url",
                                     f"{URL!r} is not a repository")]),
        UsageError(f"bad url {URL}"),
    ],
    ids=["git-stderr", "input-file", "usage"],
)
def test_errors_never_show_credentials(error: Exception) -> None:
    assert SECRET not in str(error)
    assert "***@example.invalid" in str(error)
    assert SECRET not in getattr(error, "stderr", "")


def test_refused_url_is_masked_in_the_error() -> None:
    with pytest.raises(gitremote.UnsafeSourceError) as refused:
        gitremote.check_url(f"gopher://u:{SECRET}@host/x")
    assert SECRET not in str(refused.value)


def test_findings_never_show_credentials() -> None:
    finding = Finding("PV002", Severity.ERROR, "d.yaml", 1, f"{URL} is unreachable",
                      f"check {URL}")
    for report in (report_text([finding], 1), report_json([finding], 1)):
        assert SECRET not in report
        assert "***@example.invalid" in report


@pytest.mark.parametrize("command", [["validate", "--provenance"], ["provenance"]])
def test_provenance_report_masks_the_cited_url(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture(tmp_path)
    path = folder / "deliverable.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["overview"]["adapted"]["url"] = URL
    data["overview"].pop("reference", None)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cache = ["--cache-dir" if command[0] == "validate" else "--cache", str(tmp_path / "c")]
    main([*command, str(folder), "--offline", *cache, "--format", "json"])
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    report = json.loads(out)
    assert any("***@example.invalid" in f["message"] for f in report["findings"]), report
