"""``validate --fix`` / ``--diff`` on real READMEs (../shared/corpus, both layouts) and the
fixtures: each fix changes only its spans, re-validation drops its finding and adds none,
a second run changes nothing, and a README rendered from deliverable.yaml is never edited."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from modelzoo_kit.cli import main
from modelzoo_kit.fixes import FIXES, plan_fixes
from modelzoo_kit.readme import read_readme
from modelzoo_kit.rules import check_readme

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "readmes"
CORPUS = HERE.parents[1] / "shared" / "corpus"
DOCS = HERE.parent / "docs" / "rules.md"


def _corpus_readmes() -> list[Path]:
    found = sorted((CORPUS / "files").glob("*.md")) if (CORPUS / "files").is_dir() else []
    pt = CORPUS / "pytorch-2022" / "files"
    return found + (sorted(pt.glob("*.md")) if pt.is_dir() else [])


def _check(path: Path) -> list:
    from modelzoo_kit.classify import detect_layout
    from modelzoo_kit.layouts import get_layout

    layout = get_layout(detect_layout(path.read_text(encoding="utf-8", errors="replace")))
    return check_readme(read_readme(path), path.parent, str(path), layout)


def _keys(findings: list) -> Counter:
    return Counter((f.rule, f.line) for f in findings)


def _fix_one_rule(source: Path, tmp_path: Path, rule: str) -> tuple[bytes, bytes, list, list]:
    """Copy ``source``, fix its ``rule`` findings; (bytes before, after, findings before,
    after). Edits are checked against the bytes: nothing outside their spans changed."""
    copy = tmp_path / source.name
    shutil.copyfile(source, copy)
    before = _check(copy)
    plan = plan_fixes([f for f in before if f.rule == rule], unsafe=True)
    if not plan.files:
        return b"", b"", before, before
    (file_plan,) = plan.files
    old = copy.read_bytes()
    copy.write_text(file_plan.after, encoding="utf-8", newline="")
    new = copy.read_bytes()
    old_lines, new_lines = old.split(b"\n"), new.split(b"\n")
    assert len(old_lines) == len(new_lines), "a fix never adds or removes a line"
    edited = {e.line for e in file_plan.edits}
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=True), start=1):
        if number not in edited:
            assert a == b, f"{source.name}:{number} changed outside the fix's spans"
    for edit in file_plan.edits:
        line_old = old_lines[edit.line - 1].decode("utf-8")
        line_new = new_lines[edit.line - 1].decode("utf-8")
        start = edit.start + (1 if edit.line == 1 and line_old.startswith("\ufeff") else 0)
        assert line_new[:start] == line_old[:start]
        assert line_new[start + len(edit.text) :] == line_old[edit.end + start - edit.start :]
    return old, new, before, _check(copy)


def _sources(rule: str) -> list[Path]:
    """Corpus READMEs with a fixable ``rule`` finding (at most 6), else none."""
    picked = []
    for path in _corpus_readmes():
        findings = [f for f in _check(path) if f.rule == rule]
        if findings and plan_fixes(findings, unsafe=True).files:
            picked.append(path)
        if len(picked) == 6:
            break
    return picked


@pytest.mark.skipif(not _corpus_readmes(), reason="../shared/corpus is not present")
@pytest.mark.parametrize("rule", sorted(FIXES))
def test_each_fix_on_corpus_readmes_changes_only_its_span(rule: str, tmp_path: Path) -> None:
    sources = _sources(rule)
    if not sources:
        pytest.skip(f"no corpus README has a fixable {rule} finding")
    for source in sources:
        folder = tmp_path / source.parent.parent.name
        folder.mkdir(exist_ok=True)
        old, new, before, after = _fix_one_rule(source, folder, rule)
        assert old != new
        assert not (_keys(after) - _keys(before)), f"{source.name}: the fix added a finding"
        assert sum(1 for f in after if f.rule == rule) < sum(1 for f in before if f.rule == rule)
        assert not plan_fixes([f for f in after if f.rule == rule], unsafe=True).files


def _variant(tmp_path: Path, old: str, new: str, name: str = "README.md") -> Path:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rule", "label", "bad", "good"),
    [
        ("MZ214", "大小（Size）", "3761KB", "3.7M"),
        ("MZ211", "应用领域（Application Domain）", "图像分类", "Classification"),
        ("MZ217", "精度（Precision）", "混合精度", "Mixed"),
        ("MZ215", "框架（Framework）", "Pytroch 1.8.1", "PyTorch 1.8.1"),
    ],
)
def test_field_fixes_write_the_template_value(tmp_path, rule, label, bad, good) -> None:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    field = re.compile(rf"\*\*{re.escape(label)}\s*：[^*\n]*\*\*")
    assert field.search(text)
    (tmp_path / "src").mkdir()
    (tmp_path / "out").mkdir()
    path = tmp_path / "src" / "README.md"
    path.write_text(field.sub(f"**{label}：{bad}**", text), encoding="utf-8")
    _, new, before, after = _fix_one_rule(path, tmp_path / "out", rule)
    assert rule in {f.rule for f in before}
    assert rule not in {f.rule for f in after}
    assert f"**{label}：{good}**" in new.decode("utf-8")


def test_heading_space_and_toc_anchor_fixes_keep_crlf_and_bom(tmp_path: Path) -> None:
    text = "\ufeff# Net\r\n\r\n- [概述](#概述.md)\r\n\r\n#概述\r\n\r\ntext\r\n\r\n## 训练\r\n"
    path = tmp_path / "README.md"
    path.write_bytes(text.encode("utf-8"))
    before = _check(path)
    assert {"MZ103"} <= {f.rule for f in before}
    plan = plan_fixes(before)
    (file_plan,) = plan.files
    path.write_text(file_plan.after, encoding="utf-8", newline="")
    assert path.read_bytes() == (
        "\ufeff# Net\r\n\r\n- [概述](#概述)\r\n\r\n# 概述\r\n\r\ntext\r\n\r\n## 训练\r\n"
    ).encode("utf-8")
    assert not plan_fixes(_check(path)).files


def test_unsafe_fixes_need_the_flag(tmp_path: Path) -> None:
    path = _variant(tmp_path, "**修改时间（Modified）", "修改时间（Modified）")
    findings = _check(path)
    assert "MZ230" in {f.rule for f in findings} and not FIXES["MZ230"].safe
    assert not plan_fixes(findings).files
    assert plan_fixes(findings, unsafe=True).files


def test_cli_diff_writes_nothing_and_fix_is_idempotent(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "README.md"
    path.write_text((FIXTURES / "good.md").read_text(encoding="utf-8") + "\n#新节\n")
    original = path.read_bytes()
    assert main(["validate", "README.md", "--diff"]) == 1
    out = capsys.readouterr().out
    assert "+# 新节" in out and path.read_bytes() == original
    main(["validate", "README.md", "--format", "json"])
    assert '"fix": "safe"' in capsys.readouterr().out
    main(["validate", "README.md", "--fix"])
    assert "fixed 1 finding(s) in 1 file(s) (MZ103 1)" in capsys.readouterr().err
    fixed = path.read_bytes()
    assert fixed != original and b"# \xe6\x96\xb0" in fixed
    main(["validate", "README.md", "--fix"])
    assert "fixed 0 finding(s)" in capsys.readouterr().err
    assert path.read_bytes() == fixed


def test_a_rendered_readme_is_never_edited(tmp_path, monkeypatch, capsys) -> None:
    folder = tmp_path / "dl"
    shutil.copytree(HERE / "fixtures" / "deliverables" / "minimal", folder)
    assert main(["render", str(folder)]) == 0
    readme = folder / "README.md"
    readme.write_text("#概述\n\n" + readme.read_text(encoding="utf-8"), encoding="utf-8")
    original = readme.read_bytes()
    monkeypatch.chdir(tmp_path)
    main(["validate", "dl", "--fix"])
    err = capsys.readouterr().err
    assert "rendered from deliverable.yaml" in err and "modelzoo render" in err
    assert readme.read_bytes() == original


def test_docs_mark_every_fix_safe_or_unsafe() -> None:
    rows = re.findall(r"^\| `(MZ\d{3})` \| (safe|unsafe) \|", DOCS.read_text(), re.M)
    assert dict(rows) == {rule: "safe" if fix.safe else "unsafe" for rule, fix in FIXES.items()}
