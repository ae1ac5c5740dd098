"""``modelzoo catalog``: every deliverable of every layout is listed with its tags, facts,
results, citations and the status a validate report gives; index.json matches its schema;
untrusted values are escaped and unsafe urls are never links; the output is deterministic."""

from __future__ import annotations

import html.parser
import json
import os
from pathlib import Path

import pytest
from catalog_support import CORPUS, FIXTURE_ZOO, finding, make_zoo, write_report

from modelzoo_kit.catalog import (
    SCHEMA_FILE,
    build_catalog,
    catalog_json,
    catalog_schema_text,
    safe_url,
    verdict,
)
from modelzoo_kit.cli import main
from modelzoo_kit.findings import Finding, Severity

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parents[1]


def _build(tmp_path: Path, report: list[dict] | None = None, corpus: bool = False) -> Path:
    zoo = make_zoo(tmp_path, corpus=corpus)
    out = tmp_path / "site"
    args = ["catalog", str(zoo), "-o", str(out)]
    if report is not None:
        args += ["--report", str(write_report(tmp_path / "report.json", report))]
    assert main(args) == 0
    return out


def _index(out: Path) -> dict:
    return json.loads((out / "index.json").read_text("utf-8"))


def test_every_deliverable_of_every_layout_is_listed(tmp_path: Path) -> None:
    models = {m["folder"]: m for m in _index(_build(tmp_path))["models"]}
    assert set(models) == {"detection/yolo_pt", "hostile", "unknown", "vision/legacy",
                           "vision/tiny"}  # fmt: skip
    assert models["vision/tiny"]["source"] == "deliverable.yaml"
    assert models["vision/legacy"]["source"] == "README"
    assert models["vision/legacy"]["tags"]["framework_version"] == "PyTorch 1.8.1"
    assert models["detection/yolo_pt"]["tags"] == {
        "domain": "Object Detection", "framework": "PyTorch", "framework_version": "PyTorch 1.8.1",
        "precision": "FP32", "processor": "昇腾910", "category": "Research",
        "layout": "pytorch-2022",
    }  # fmt: skip
    assert models["unknown"]["tags"]["layout"] == "unknown"
    assert models["unknown"]["notes"] == ["its README follows no known layout"]
    assert [r["throughput"] for r in models["detection/yolo_pt"]["results"]] == [517, 4485.8]


def test_index_json_has_each_model_on_a_line_of_its_own(tmp_path: Path) -> None:
    text = (_build(tmp_path) / "index.json").read_text("utf-8")
    index = json.loads(text)
    model_lines = [line.rstrip(",") for line in text.splitlines() if line.startswith("{\"")]
    assert [json.loads(line) for line in model_lines] == index["models"]
    assert len(index["models"]) == 5 and text.endswith("\n}\n")


def test_index_json_matches_its_committed_schema(tmp_path: Path) -> None:
    committed = ROOT / "schemas" / SCHEMA_FILE
    assert committed.read_text("utf-8") == catalog_schema_text(), (
        "stale: python -c 'from modelzoo_kit.catalog import catalog_schema_text as t; "
        "open(\"schemas/catalog.schema.json\", \"w\").write(t())'"
    )
    schema = json.loads(committed.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    report = [finding("MZ302", "error", "zoo/vision/tiny/README.md", 3, "x")]
    index = _index(_build(tmp_path, report, corpus=True))
    jsonschema.validate(index, schema)
    index["models"][0]["provenance"] = "probably fine"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(index, schema)


def test_findings_and_verdicts_come_from_the_report(tmp_path: Path) -> None:
    report = [
        finding("MZ302", "error", "zoo/vision/tiny/README.md", 12, "script missing"),
        finding("MZ230", "warning", "zoo/vision/tiny/README.md", 4, "stray markup"),
        finding("PV005", "error", "zoo/vision/tiny/deliverable.yaml", 30,
                "overview.adapted: the commit does not exist"),
        finding("PV060", "warning", "zoo/vision/tiny/deliverable.yaml", 25,
                "overview.reference: https://x could not be verified"),
        finding("PV000", "info", "zoo/hostile/deliverable.yaml", 25,
                "overview.adapted: commit 9887 is on branch main"),
        finding("MZ100", "error", "zoo/unknown/README.md", None, "no layout"),
        finding("MZ101", "error", "elsewhere/README.md", 1, "not in this zoo"),
    ]  # fmt: skip
    models = {m["folder"]: m for m in _index(_build(tmp_path, report))["models"]}
    tiny = models["vision/tiny"]
    assert tiny["counts"] == {"error": 2, "warning": 2, "info": 0}
    assert tiny["provenance"] == "fails"
    assert {c["role"]: c["verdict"] for c in tiny["citations"]} == {
        "reference": "not verified", "adapted": "fails"}
    assert models["hostile"]["provenance"] == "verified"
    assert models["vision/legacy"]["provenance"] == "not checked"
    assert models["unknown"]["counts"]["error"] == 1
    assert sum(sum(m["counts"].values()) for m in models.values()) == 6


def test_report_paths_are_matched_whatever_folder_validate_ran_in(tmp_path: Path) -> None:
    report = [finding("MZ302", "error", "../some/where/zoo/vision/legacy/README.md", 8, "x")]
    models = {m["folder"]: m for m in _index(_build(tmp_path, report))["models"]}
    assert models["vision/legacy"]["counts"]["error"] == 1


def test_without_a_report_status_is_unknown(tmp_path: Path) -> None:
    out = _build(tmp_path)
    index = _index(out)
    assert index["report"] is False
    assert {m["provenance"] for m in index["models"]} == {"unknown"}
    assert "No validate report was given" in (out / "index.html").read_text("utf-8")


def test_the_output_is_byte_identical_on_a_rebuild(tmp_path: Path) -> None:
    report = [finding("MZ302", "error", "zoo/vision/tiny/README.md", 12, "script missing")]
    first = _build(tmp_path / "a", report, corpus=True)
    second = _build(tmp_path / "b", report, corpus=True)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


class _Collector(html.parser.HTMLParser):
    """Every element, its attributes and every text run of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _parsed(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text("utf-8"))
    return collector


def test_hostile_values_are_text_and_unsafe_urls_never_links(tmp_path: Path) -> None:
    report = [finding("MZ302", "error", "zoo/hostile/README.md", 2,
                      "<script>alert('message')</script><img src=x onerror=alert(1)>")]
    out = _build(tmp_path, report)
    for page in (out / "index.html", out / "models" / "hostile.html"):
        parsed = _parsed(page)
        assert len(parsed.scripts) == 1 and "alert" not in parsed.scripts[0]
        assert not [t for t, _ in parsed.tags if t == "img"]
        for _, attrs in parsed.tags:
            assert not any(name.startswith("on") for name in attrs)
            href = attrs.get("href") or ""
            assert not href.lower().startswith(("javascript:", "data:")), href
    text = (out / "models" / "hostile.html").read_text("utf-8")
    assert "&lt;script&gt;window.__pwned = 1" in text
    assert "javascript:window.__pwned" in text  # shown, as text


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://gitee.com/ascend/ModelZoo", True), ("http://x.org/a?b#c", True),
        ("../zoo/README.md", True), ("README.md#L3", True),
        ("javascript:alert(1)", False), ("JavaScript:alert(1)", False),
        (" javascript:alert(1)", False), ("java\tscript:alert(1)", False),
        ("data:text/html,<script>", False), ("file:///etc/passwd", False),
        ("vbscript:x", False), ("//evil.example/x", True), ("", False),
    ],
)  # fmt: skip
def test_only_http_https_and_relative_urls_are_links(url: str, allowed: bool) -> None:
    assert (safe_url(url) is not None) is allowed


def test_verdict_is_the_worst_provenance_finding() -> None:
    def f(rule: str, severity: Severity) -> Finding:
        return Finding(rule, severity, "d.yaml", 1, "m")

    assert verdict([]) == "not checked"
    assert verdict([f("PV000", Severity.INFO)]) == "verified"
    assert verdict([f("PV000", Severity.INFO), f("PV060", Severity.WARNING)]) == "not verified"
    assert verdict([f("PV060", Severity.WARNING), f("PV013", Severity.ERROR)]) == "fails"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('{"findings": []}', "is not a `modelzoo validate --format json` report"),
        ('{"schema": 1, "findings": [{"rule": "MZ1"}]}', "findings[0] is not a finding"),
    ],
)
def test_a_bad_report_is_an_input_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    report = tmp_path / "report.json"
    report.write_text(content, "utf-8")
    zoo = make_zoo(tmp_path, corpus=False)
    assert main(["catalog", str(zoo), "--report", str(report), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(report) in err and message in err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo = make_zoo(tmp_path, corpus=False)
    assert main(["catalog", str(tmp_path / "none"), "-o", str(tmp_path / "o")]) == 2
    (tmp_path / "file").write_text("x", "utf-8")
    assert main(["catalog", str(zoo), "-o", str(tmp_path / "file")]) == 2
    assert main(["catalog", str(zoo), "-o", str(tmp_path / "o"),
                 "--source-url", "javascript:alert(1)"]) == 2  # fmt: skip
    assert "http:// or https://" in capsys.readouterr().err


def test_source_url_links_findings_to_their_line(tmp_path: Path) -> None:
    zoo = make_zoo(tmp_path, corpus=False)
    report = write_report(tmp_path / "r.json",
                          [finding("MZ302", "error", "zoo/vision/tiny/README.md", 12, "x")])
    out = tmp_path / "site"
    assert main(["catalog", str(zoo), "-o", str(out), "--report", str(report),
                 "--source-url", "https://gitee.com/ascend/Zoo/blob/master/"]) == 0  # fmt: skip
    page = (out / "models" / "vision--tiny.html").read_text("utf-8")
    assert 'href="https://gitee.com/ascend/Zoo/blob/master/vision/tiny/README.md#L12"' in page
    assert 'href="../rules.html#MZ302"' in page


def test_a_deliverable_yaml_that_does_not_load_is_listed_with_a_note(tmp_path: Path) -> None:
    zoo = make_zoo(tmp_path, corpus=False)
    target = zoo / "vision" / "tiny" / "deliverable.yaml"
    target.write_text(target.read_text("utf-8").replace("precision: Mixed", "precision: FP8"))
    catalog = build_catalog(zoo)
    tiny = next(m for m in catalog.models if m.folder == "vision/tiny")
    assert tiny.source == "README"  # its README still says what it is
    assert tiny.notes and "basic.precision" in tiny.notes[0]


@pytest.mark.skipif(not (CORPUS / "pytorch-2022").is_dir(), reason="../shared/corpus is absent")
def test_corpus_readmes_are_listed_with_their_layout(tmp_path: Path) -> None:
    index = catalog_json(build_catalog(make_zoo(tmp_path)))
    layouts = {m["folder"]: m["tags"]["layout"] for m in index["models"]}
    assert layouts["corpus/pytorch-2022_p001"] == "pytorch-2022"
    assert layouts["corpus/corpus_002"] == "template"
    assert index["counts"]["models"] == 10


@pytest.mark.parametrize(
    "folder",
    [ROOT / "models" / "efficientnet_b0", FIXTURE_ZOO / "hostile",
     FIXTURE_ZOO / "detection" / "yolo_pt"],
    ids=["bundled", "hostile", "results"],
)  # fmt: skip
def test_the_libyaml_fast_path_reads_what_the_kits_loader_reads(folder: Path) -> None:
    from modelzoo_kit.catalog import _fast_yaml
    from modelzoo_kit.loading import load_deliverable

    expected = load_deliverable(folder, check_files=False).model_dump(mode="json")
    assert _fast_yaml(folder / "deliverable.yaml") == expected


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("name: tiny_net", "name: &n tiny_net\nalias_user: *n"),  # an alias: the bounded loader
        ("hyperparameters_cards: 1", "hyperparameters_cards: 0x1"),  # another base
        ("Batch size: 32", "Batch size: !!str 32"),  # a tag
    ],
)
def test_aliases_tags_and_other_bases_go_through_the_kits_loader(
    tmp_path: Path, old: str, new: str
) -> None:
    from modelzoo_kit.catalog import _fast_yaml, data_from_yaml

    zoo = make_zoo(tmp_path, corpus=False)
    folder = zoo / "vision" / "tiny"
    path = folder / "deliverable.yaml"
    text = path.read_text("utf-8")
    if old not in text:
        text = text.replace("  dataset: ImageNet\n", f"  dataset: ImageNet\n  {old}\n")
    path.write_text(text.replace(old, new, 1), "utf-8")
    assert _fast_yaml(path) is None
    data, problem = data_from_yaml(folder)
    assert bool(data) != bool(problem)  # read by the kit's loader, or refused with its reason


def test_a_non_utf8_folder_name_links_to_its_own_bytes(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    folder = os.fsdecode(os.fsencode(str(zoo)) + b"/caf\xe9")
    os.makedirs(folder)
    for name, text in (("README.md", "# caf\n"), ("deliverable.yaml", "x\n")):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as stream:
            stream.write(text)
    out = tmp_path / "site"
    assert main(["catalog", str(zoo), "-o", str(out)]) == 0
    pages = [p.read_text("utf-8", "surrogateescape") for p in (out / "models").iterdir()]
    assert any("caf%E9/README.md" in page for page in pages)
