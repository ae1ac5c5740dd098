"""``modelzoo catalog --cache FILE``: a rebuild with the cache gives the cold build's bytes; a
changed README, deliverable.yaml or report is read again and only its pages change; a model
that left the zoo leaves the index and its page goes; a cache that is corrupt, foreign, made
by another kit version or for other options is not used, with a warning, never an error.
Behaviour only: nothing here is timed (bench/bench_catalog.py measures)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from catalog_support import finding, make_zoo, write_report

from modelzoo_kit.cli import main
from modelzoo_kit.jsoncache import load_cache

REPORT = [finding("MZ302", "error", "zoo/vision/tiny/README.md", 12, "script missing")]


def _catalog(zoo: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run ``modelzoo catalog`` (one process, no pool) and return what it printed to stderr."""
    capsys.readouterr()
    assert main(["catalog", str(zoo), "-o", str(out), "--jobs", "1", *extra]) == 0
    return capsys.readouterr().err


def _files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*"))
            if p.is_file()}  # fmt: skip


def _mtimes(site: Path) -> dict[str, int]:
    return {p.relative_to(site).as_posix(): p.stat().st_mtime_ns for p in site.rglob("*.html")}


def _reused(err: str) -> tuple[int, int]:
    """(models not read again, site files not rendered again) from the cache's line."""
    match = re.search(r"(\d+) of \d+ model\(s\) not read again, (\d+) site file", err)
    assert match, err
    return int(match.group(1)), int(match.group(2))


def _touch(path: Path, text: str) -> None:
    """Rewrite ``path`` and move its mtime on, so a size-and-mtime key sees it even on a file
    system whose clock is coarser than the test."""
    before = path.stat().st_mtime_ns
    path.write_text(text, "utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    zoo = make_zoo(tmp_path, corpus=True)
    write_report(tmp_path / "report.json", REPORT)
    return zoo


def _args(zoo: Path, cache: Path) -> list[str]:
    return ["--report", str(zoo.parent / "report.json"), "--cache", str(cache)]


def test_a_cached_rebuild_is_byte_identical_to_a_cold_build(
    zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cold = zoo.parent / "cold"
    _catalog(zoo, cold, capsys, "--report", str(zoo.parent / "report.json"))
    site, cache = zoo.parent / "site", zoo.parent / "cache.json"
    first = _catalog(zoo, site, capsys, *_args(zoo, cache))
    assert _reused(first) == (0, 0) and "warning" not in first
    written = _mtimes(site)
    again = _catalog(zoo, site, capsys, *_args(zoo, cache))
    models = len(json.loads((site / "index.json").read_text("utf-8"))["models"])
    assert _reused(again) == (models, models + 2)  # every page, index.html and index.json
    assert "0 file(s) written" in again
    assert _files(site) == _files(cold)
    assert _mtimes(site) == written  # nothing was rewritten


def test_a_changed_readme_or_yaml_is_read_again_and_only_its_page_changes(
    zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site, cache = zoo.parent / "site", zoo.parent / "cache.json"
    _catalog(zoo, site, capsys, *_args(zoo, cache))
    before, mtimes = _files(site), _mtimes(site)
    readme = zoo / "vision" / "legacy" / "README.md"
    _touch(readme, readme.read_text("utf-8").replace("# ResNet50 for PyTorch", "# ResNet51 now"))
    yaml_file = zoo / "vision" / "tiny" / "deliverable.yaml"
    _touch(yaml_file, yaml_file.read_text("utf-8").replace("title: TinyNet for PyTorch",
                                                           "title: TinyNet, renamed"))  # fmt: skip
    err = _catalog(zoo, site, capsys, *_args(zoo, cache))
    after = _files(site)
    models = len(json.loads(after["index.json"])["models"])
    assert _reused(err)[0] == models - 2
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"models/vision--legacy.html", "models/vision--tiny.html", "index.html",
                       "index.json"}  # fmt: skip
    assert "ResNet51 now" in after["models/vision--legacy.html"].decode()
    assert "TinyNet, renamed" in after["models/vision--tiny.html"].decode()
    assert all(_mtimes(site)[name] == mtimes[name] for name in mtimes if name not in changed)
    cold = zoo.parent / "cold"
    _catalog(zoo, cold, capsys, "--report", str(zoo.parent / "report.json"))
    assert _files(cold) == after


def test_a_changed_report_renders_again_only_the_pages_whose_findings_changed(
    zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site, cache = zoo.parent / "site", zoo.parent / "cache.json"
    _catalog(zoo, site, capsys, *_args(zoo, cache))
    before = _files(site)
    write_report(zoo.parent / "report.json", [*REPORT, finding(
        "MZ230", "warning", "zoo/unknown/README.md", 3, "a new finding")])  # fmt: skip
    err = _catalog(zoo, site, capsys, *_args(zoo, cache))
    after = _files(site)
    models = len(json.loads(after["index.json"])["models"])
    assert _reused(err)[0] == models  # the zoo did not change: nothing is read again
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"models/unknown.html", "index.html", "index.json"}
    assert "a new finding" in after["models/unknown.html"].decode()


def test_a_deleted_model_leaves_the_index_and_its_page_goes(
    zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site, cache = zoo.parent / "site", zoo.parent / "cache.json"
    _catalog(zoo, site, capsys, *_args(zoo, cache))
    mine = site / "models" / "mine.html"
    mine.write_text("a file the catalogue did not write", "utf-8")
    shutil.rmtree(zoo / "vision" / "legacy")
    err = _catalog(zoo, site, capsys, *_args(zoo, cache))
    folders = [m["folder"] for m in json.loads((site / "index.json").read_text("utf-8"))["models"]]
    assert "vision/legacy" not in folders and "vision/tiny" in folders
    assert "vision/legacy" not in (site / "index.html").read_text("utf-8")
    assert not (site / "models" / "vision--legacy.html").exists()
    assert "1 removed" in err
    assert mine.read_text("utf-8") == "a file the catalogue did not write"  # never removed


@pytest.mark.parametrize(
    "content, why",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b"", "not JSON"),
    ],
)
def test_a_corrupt_cache_is_ignored_with_a_clear_warning(
    zoo: Path, capsys: pytest.CaptureFixture[str], content: bytes, why: str
) -> None:
    cold = zoo.parent / "cold"
    _catalog(zoo, cold, capsys, "--report", str(zoo.parent / "report.json"))
    site, cache = zoo.parent / "site", zoo.parent / "cache.json"
    cache.write_bytes(content)
    err = _catalog(zoo, site, capsys, *_args(zoo, cache))
    assert f"warning: cache {cache}: is not a cache file ({why}" in err
    assert "not used, every deliverable is read" in err and "Traceback" not in err
    assert _files(site) == _files(cold)
    assert load_cache(cache, {"kind": "catalog"})[0] is not None  # replaced by a good one


def test_entries_of_another_shape_are_misses_not_errors(
    zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site, cache = zoo.parent / "site", zoo.parent / "cache.json"
    _catalog(zoo, site, capsys, *_args(zoo, cache))
    data = json.loads(cache.read_text("utf-8"))
    for index, rel in enumerate(sorted(data["sources"])):
        entry = data["sources"][rel]
        entry.update([("data", "text"), ("notes", [1]), ("source", "python"),
                      ("data", {"results": 5, "basic": []})][index % 4:index % 4 + 1])  # fmt: skip
    data["pages"] = {"models/../../escape.html": ["x", 1, 2], "index.html": "nonsense"}
    cache.write_text(json.dumps(data), "utf-8")
    err = _catalog(zoo, site, capsys, *_args(zoo, cache))
    assert "warning" not in err and "Traceback" not in err
    cold = zoo.parent / "cold"
    _catalog(zoo, cold, capsys, "--report", str(zoo.parent / "report.json"))
    folders = json.loads((site / "index.json").read_text("utf-8"))["models"]
    # an entry whose key still holds is used as it is; none of them breaks the build
    assert len(folders) == len(json.loads((cold / "index.json").read_text("utf-8"))["models"])


def test_a_cache_of_another_kit_version_or_other_options_is_not_used(
    zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site, cache = zoo.parent / "site", zoo.parent / "cache.json"
    _catalog(zoo, site, capsys, *_args(zoo, cache))
    data = json.loads(cache.read_text("utf-8"))
    cache.write_text(json.dumps({**data, "kit": "0.0.1"}), "utf-8")
    err = _catalog(zoo, site, capsys, *_args(zoo, cache))
    assert "was made by modelzoo-kit 0.0.1" in err and _reused(err) == (0, 0)
    err = _catalog(zoo, site, capsys, *_args(zoo, cache), "--source-url", "https://example.org/")
    assert "was made with source_url None, not 'https://example.org/'" in err
    assert _reused(err) == (0, 0)
    other = zoo.parent / "other-site"
    err = _catalog(zoo, other, capsys, *_args(zoo, cache))
    assert "was made with site" in err and _reused(err) == (0, 0)
    walk_cache = zoo.parent / "walk.json"
    assert main(["validate", "-r", str(zoo), "--walk-cache", str(walk_cache)]) in (0, 1)
    err = _catalog(zoo, site, capsys, *_args(zoo, walk_cache))
    assert "was made as 'walk', not as a 'catalog' cache" in err


def test_a_cache_is_json_data_only(zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site, cache = zoo.parent / "site", zoo.parent / "cache.json"
    _catalog(zoo, site, capsys, *_args(zoo, cache))
    data = json.loads(cache.read_text("ascii"))  # ASCII escapes: any file name fits
    assert {data["kind"], data["schema"]} == {"catalog", 1}
    assert set(data) == {"kind", "schema", "kit", "zoo", "site", "source_url", "sources", "pages"}
