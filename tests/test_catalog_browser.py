"""The catalogue in a real browser: headless Chromium from the distribution's packages
(``apt-get install chromium``), driven by Playwright from PyPI with that executable (no browser
download). Pages are opened from ``file://``; any console error, page error, failed request
or dialog fails the test. Where Chromium or Playwright is missing, these tests skip and say
which (``.ci/run`` installs both)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from catalog_support import finding, make_zoo, write_report

from modelzoo_kit.cli import main

CHROMIUM = os.environ.get("MODELZOO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[browser]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    return sync_playwright


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("catalog-browser")
    zoo = make_zoo(tmp)
    report = write_report(tmp / "report.json", [
        finding("MZ302", "error", "zoo/vision/tiny/README.md", 12, "script missing"),
        finding("MZ230", "warning", "zoo/vision/tiny/README.md", 4, "stray markup"),
        finding("MZ302", "error", "zoo/hostile/README.md", 2,
                "<script>window.__pwned=1;alert('message')</script><img src=x onerror=alert(1)>"),
    ])  # fmt: skip
    out = tmp / "site"
    assert main(["catalog", str(zoo), "-o", str(out), "--report", str(report)]) == 0
    return out


class Guard:
    """Everything a page did that a clean page never does."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def watch(self, page: Any) -> Any:
        def console(message: Any) -> None:
            if message.type == "error":
                self.problems.append(f"console: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))

        def dialog(d: Any) -> None:
            self.problems.append(f"dialog: {d.message}")
            d.dismiss()

        page.on("dialog", dialog)
        return page


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with _sync_playwright()() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium with a fresh profile of its own for the module."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=ARGS
    )
    try:
        yield context
    finally:
        context.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[tuple[Any, Guard]]:
    guard = Guard()
    page = guard.watch(browser.new_page())
    yield page, guard
    page.close()
    assert guard.problems == []


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _shown_names(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#models tbody tr:not([hidden]) td:first-child a", "links => links.map(a => a.textContent)"
    )


def _models(site: Path) -> list[dict[str, Any]]:
    return json.loads((site / "index.json").read_text("utf-8"))["models"]


def _chosen(models: list[dict[str, Any]], tags: dict[str, str]) -> list[dict[str, Any]]:
    """The models whose tags hold every one of ``tags``: what those filters show."""
    return [m for m in models if all(m["tags"][k] == v for k, v in tags.items())]


def _expected(site: Path, **tags: str) -> list[str]:
    return sorted(m["name"] for m in _chosen(_models(site), tags))


def _option_counts(page: Any, facet: str) -> dict[str, int]:
    """What each option of a filter says it would show: {value: count}, "*" for all."""
    texts = page.eval_on_selector_all(
        f"#f-{facet} option", "options => options.map(o => [o.value, o.textContent])"
    )
    return {value: int(text.rsplit("(", 1)[1].rstrip(")")) for value, text in texts}


def _expected_counts(site: Path, facet: str, **tags: str) -> dict[str, int]:
    models = _models(site)
    chosen = _chosen(models, tags)
    counts = {value: 0 for value in {m["tags"][facet] for m in models}}
    for m in chosen:
        counts[m["tags"][facet]] += 1
    return {"*": len(chosen), **counts}


def test_filters_combine_search_and_sort(site: Path, page: tuple[Any, Guard]) -> None:
    tab, _ = page
    tab.goto((site / "index.html").as_uri())
    everything = _shown_names(tab)
    assert len(everything) == json.loads((site / "index.json").read_text("utf-8"))["counts"][
        "models"]
    # the grid layout keeps the table's semantics: rows and column headers for assistive tools
    assert tab.get_by_role("row").count() == len(everything) + 1
    assert tab.get_by_role("columnheader", name="Model").count() == 1
    assert tab.get_by_role("combobox", name="Precision").count() == 1
    tab.select_option("#f-framework_version", "PyTorch 1.8.1")
    one = sorted(_shown_names(tab))
    assert one == _expected(site, framework_version="PyTorch 1.8.1") and len(one) >= 2
    # the other filters' counts follow: each says what choosing it would now show
    precision_counts = _option_counts(tab, "precision")
    assert precision_counts == _expected_counts(
        site, "precision", framework_version="PyTorch 1.8.1")
    assert precision_counts["*"] == len(one) and 0 in precision_counts.values()
    # a filter's own counts ignore its own choice, so another value can still be chosen
    assert _option_counts(tab, "framework_version") == _expected_counts(site, "framework_version")
    tab.select_option("#f-precision", "FP32")
    both = sorted(_shown_names(tab))
    assert both == _expected(site, framework_version="PyTorch 1.8.1", precision="FP32")
    assert "yolo_pt" in both and len(both) < len(one)
    assert tab.text_content("#shown") == f"{len(both)} of {len(everything)} models shown"
    assert _option_counts(tab, "framework_version") == _expected_counts(
        site, "framework_version", precision="FP32")
    tab.click("button[type=reset]")
    # a locator's wait runs in Playwright's own world: a polled wait_for_function would evaluate
    # a string in the page, which the catalogue's Content-Security-Policy refuses (no eval)
    expect(tab.locator("#models tbody tr:not([hidden])")).to_have_count(len(everything))
    assert _option_counts(tab, "precision") == _expected_counts(site, "precision")
    tab.fill("#search", "TINY")
    assert _shown_names(tab) == ["tiny_net"]
    assert _option_counts(tab, "layout")["*"] == 1
    tab.fill("#search", "")
    tab.click("th:first-child button")
    assert tab.get_attribute("th:first-child", "aria-sort") == "ascending"
    names = _shown_names(tab)
    assert names == sorted(names, key=str.lower)
    tab.keyboard.press("Enter")  # the focused sort button works from the keyboard
    assert tab.get_attribute("th:first-child", "aria-sort") == "descending"


def test_a_model_page_and_a_findings_link(site: Path, page: tuple[Any, Guard]) -> None:
    tab, _ = page
    tab.goto((site / "index.html").as_uri())
    tab.click("text=yolo_pt")
    assert tab.url.endswith("/models/detection--yolo_pt.html")
    assert "4485.8" in tab.text_content("main")
    tab.goto((site / "models" / "vision--tiny.html").as_uri())
    rows = tab.locator("#findings + table tbody tr")
    assert rows.count() == 2
    assert any("vision/tiny/README.md:12" in row for row in rows.all_text_contents())
    tab.click("#findings + table >> text=MZ302")
    assert tab.url.endswith("/rules.html#MZ302")
    assert tab.evaluate("document.querySelector(':target').id") == "MZ302"


def test_hostile_values_stay_text(site: Path, page: tuple[Any, Guard]) -> None:
    tab, guard = page
    for path in (site / "index.html", site / "models" / "hostile.html"):
        tab.goto(path.as_uri())
        assert tab.evaluate("window.__pwned") is None
        assert tab.locator("img").count() == 0
    body = tab.text_content("main")
    assert "<script>window.__pwned = 1; alert('title')</script>" in tab.text_content("h1")
    assert "javascript:window.__pwned" in body  # shown as text, not a link
    assert tab.locator("a[href^='javascript' i]").count() == 0
    assert guard.problems == []


def test_the_table_reads_without_javascript(site: Path, playwright: Any) -> None:
    guard = Guard()
    # launch() gives the browser a fresh temporary profile of its own
    plain = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    try:
        tab = guard.watch(plain.new_context(java_script_enabled=False).new_page())
        tab.goto((site / "index.html").as_uri())
        assert tab.is_hidden("#filters")
        assert len(_shown_names(tab)) >= 5
        tab.click("text=tiny_net")
        assert tab.text_content("h1") == "TinyNet for PyTorch"
    finally:
        plain.close()
    assert guard.problems == []
