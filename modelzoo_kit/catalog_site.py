"""A :class:`~modelzoo_kit.catalog.Catalog` -> a static site: ``index.html``, one page per
model under ``models/``, ``rules.html`` and ``index.json``.

The site is built for ``file://``: no server, no network, no CDN; the style sheet and the
script are inlined into each page, and a Content-Security-Policy names their hashes, so no
other script can run even if a value slipped through. Every value is escaped by jinja2's
autoescape; a url is a link only when :func:`~modelzoo_kit.catalog.safe_url` allows it. The
table is plain HTML, readable without JavaScript; the script only filters, searches and sorts.
The output depends on the zoo (and report) alone: no time stamps, a fixed order.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from modelzoo_kit import __version__
from modelzoo_kit.catalog import (
    FACETS,
    FACTS,
    VERDICTS,
    Catalog,
    catalog_json_text,
    safe_url,
)
from modelzoo_kit.errors import OutputFileError
from modelzoo_kit.findings import RULES, Finding
from modelzoo_kit.resources import templates_dir
from modelzoo_kit.writing import write_atomically

INDEX_FILE = "index.html"
JSON_FILE = "index.json"
RULES_FILE = "rules.html"
MODELS_DIR = "models"

_ENV: Any = None


def _environment() -> Any:
    global _ENV
    if _ENV is None:
        import jinja2

        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir() / "catalog")),
            undefined=jinja2.StrictUndefined,
            autoescape=True,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _ENV.filters["safe_url"] = safe_url
    return _ENV


def _asset(name: str) -> str:
    return (templates_dir() / "catalog" / name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _assets() -> dict[str, str]:
    style, script = _asset("catalog.css"), _asset("catalog.js")
    policy = (
        f"default-src 'none'; style-src {_csp_hash(style)}; script-src {_csp_hash(script)}; "
        "img-src 'none'; form-action 'none'; base-uri 'none'"
    )
    return {"style": style, "script": script, "csp": policy}


def write_site(
    catalog: Catalog, out: Path, zoo: Path, source_url: str | None = None
) -> list[Path]:
    """Write the site into ``out`` (made if absent) and return the files written.

    ``source_url`` (http/https) is where the zoo's files are online, e.g.
    ``https://gitee.com/ascend/ModelZoo-PyTorch/blob/master/``: a finding's file:line links
    there (``#L12``). Without it, files link to the zoo checkout beside the site, relatively."""
    if source_url is not None and (safe_url(source_url) is None
                                   or not source_url.startswith(("http://", "https://"))):
        from modelzoo_kit.errors import UsageError

        raise UsageError(f"--source-url {source_url!r}: give an http:// or https:// address")
    try:
        (out / MODELS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFileError(f"{out}: cannot make the folder: {exc.strerror or exc}") from None
    import modelzoo_kit.provenance  # noqa: F401 - registers the PV rules
    import modelzoo_kit.rules  # noqa: F401 - registers the MZ rules

    env = _environment()
    assets = _assets()
    links = _SourceLinks(out / MODELS_DIR, zoo, source_url)
    common = {"assets": assets, "version": __version__, "zoo": catalog.zoo,
              "has_report": catalog.has_report}  # fmt: skip
    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        write_atomically(path, text)
        written.append(path)

    write(out / INDEX_FILE, env.get_template("index.html.j2").render(
        **common, models=catalog.models, facets=FACETS, facet_counts=catalog.facet_counts(),
        verdicts=VERDICTS, problems=catalog.problems,
    ))  # fmt: skip
    model_page = env.get_template("model.html.j2")
    for model in catalog.models:
        write(out / MODELS_DIR / f"{model.id}.html", model_page.render(
            **common, model=model, facets=FACETS, fact_labels=FACTS,
            findings=[_finding_view(f, model.files.get(f.path, ""), links)
                      for f in model.findings],
            readme=links.file(model.readme, None) if model.readme else None,
            metric_names=model.metric_names,
        ))  # fmt: skip
    rules = [RULES[key] for key in sorted(RULES)]
    write(out / RULES_FILE, env.get_template("rules.html.j2").render(**common, rules=rules))
    write(out / JSON_FILE, catalog_json_text(catalog))
    return written


class _SourceLinks:
    """Where a zoo file links: ``source_url`` + path (+ ``#L<line>``), else relative to the
    page it is shown on."""

    def __init__(self, page_dir: Path, zoo: Path, source_url: str | None) -> None:
        self.base = source_url.rstrip("/") + "/" if source_url else None
        self.relative = Path(os.path.relpath(zoo.resolve(), page_dir.resolve())).as_posix()

    def file(self, rel: str, line: int | None) -> str | None:
        if rel in ("", ".") or rel.startswith("/") or ".." in rel.split("/"):
            return None
        from urllib.parse import quote

        path = quote(rel)
        if self.base is not None:
            return f"{self.base}{path}" + (f"#L{line}" if line else "")
        return f"{self.relative}/{path}"


def _finding_view(finding: Finding, rel: str, links: _SourceLinks) -> dict[str, Any]:
    where = finding.path + (f":{finding.line}" if finding.line is not None else "")
    return {
        "finding": finding,
        "where": where,
        "href": links.file(rel, finding.line),
        "rule_known": finding.rule in RULES,
    }
