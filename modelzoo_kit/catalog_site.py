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
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelzoo_kit import __version__
from modelzoo_kit.catalog import (
    FACETS,
    FACTS,
    VERDICTS,
    Catalog,
    Model,
    catalog_json_text,
    model_json,
    safe_url,
)
from modelzoo_kit.errors import OutputFileError
from modelzoo_kit.findings import RULES, Finding
from modelzoo_kit.resources import templates_dir
from modelzoo_kit.writing import write_if_changed

if TYPE_CHECKING:
    from modelzoo_kit.catalog_cache import CatalogCache

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
    catalog: Catalog,
    out: Path,
    zoo: Path,
    source_url: str | None = None,
    cache: CatalogCache | None = None,
) -> SiteWrite:
    """Write the site into ``out`` (made if absent); what was written and what was left as
    it was (a file already holding its bytes is never rewritten).

    ``source_url`` (http/https) is where the zoo's files are online, e.g.
    ``https://gitee.com/ascend/ModelZoo-PyTorch/blob/master/``: a finding's file:line links
    there (``#L12``). Without it, files link to the zoo checkout beside the site, relatively.
    With a ``cache``, a model page whose content is the one the cache saw written, in a file
    unchanged since, is not rendered again, and the pages of models that left the zoo are
    removed (:mod:`modelzoo_kit.catalog_cache`)."""
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
    result = SiteWrite()
    site_digest = _site_digest(common) if cache is not None else ""
    model_page = env.get_template("model.html.j2")

    def render_page(model: Model) -> str:
        return str(model_page.render(
            **common, model=model, facets=FACETS, fact_labels=FACTS,
            findings=[_finding_view(f, model.files.get(f.path, ""), links)
                      for f in model.findings],
            readme=links.file(model.readme, None) if model.readme else None,
            metric_names=model.metric_names,
        ))  # fmt: skip

    page_digests = []
    for model in catalog.models:
        # Without a cache nothing compares digests: a cold build does not compute them.
        digest = _page_digest(site_digest, model, links) if cache is not None else ""
        page_digests.append(digest)
        _put_unless_current(result, cache, out, f"{MODELS_DIR}/{model.id}.html", digest,
                            partial(render_page, model))  # fmt: skip
    # The index shows every model and the zoo's problems: current when every page is.
    index_digest = _digest([site_digest, page_digests, catalog.problems])
    _put_unless_current(result, cache, out, INDEX_FILE, index_digest, lambda: env.get_template(
        "index.html.j2").render(
        **common, models=catalog.models, facets=FACETS, facet_counts=catalog.facet_counts(),
        verdicts=VERDICTS, problems=catalog.problems,
    ))  # fmt: skip
    rules = [RULES[key] for key in sorted(RULES)]
    result.put(out / RULES_FILE, env.get_template("rules.html.j2").render(**common, rules=rules))
    _put_unless_current(result, cache, out, JSON_FILE, index_digest,
                        lambda: catalog_json_text(catalog))  # fmt: skip
    if cache is not None:
        result.remove(cache.pages_left_behind(out))
    return result


def _put_unless_current(
    result: SiteWrite,
    cache: CatalogCache | None,
    out: Path,
    name: str,
    digest: str,
    render: Callable[[], str],
) -> None:
    """Render and put the site file ``name`` unless the cache says it is current for
    ``digest`` (then it is neither rendered nor written)."""
    path = out / name
    if cache is not None and cache.file_is_current(name, digest, path):
        result.unchanged.append(path)
        return
    result.put(path, render())
    if cache is not None:
        cache.keep_file(name, digest, path)


@dataclass
class SiteWrite:
    """The files of a site: written this build, left as they were (they held their bytes
    already), and removed (pages of models no longer in the zoo)."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    def put(self, path: Path, text: str) -> None:
        (self.written if write_if_changed(path, text) else self.unchanged).append(path)

    def remove(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise OutputFileError(f"{path}: cannot remove the page of a model no longer "
                                      f"in the zoo: {exc.strerror or exc}") from None  # fmt: skip
            self.removed.append(path)


def _site_digest(common: dict[str, Any]) -> str:
    """What every page shows beside its model: the kit, its templates (their source, so an
    edited template is a change even within one kit version), the zoo's name, whether a
    report was given."""
    digest = hashlib.sha256()
    folder = templates_dir() / "catalog"
    for name in sorted(os.listdir(folder)):
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    digest.update(_digest([common["version"], common["zoo"], common["has_report"]]).encode())
    return digest.hexdigest()


def _page_digest(site_digest: str, model: Model, links: _SourceLinks) -> str:
    """A digest of everything a model's page shows: the model as index.json has it (its
    findings included), where its findings' files are, where links go, and the site's."""
    return _digest([site_digest, model_json(model), model.files, links.base, links.relative])


def _digest(shown: Any) -> str:
    text = json.dumps(shown, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


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

        path = quote(rel, errors="surrogateescape")  # a non-UTF-8 name: its own bytes, %-encoded
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
