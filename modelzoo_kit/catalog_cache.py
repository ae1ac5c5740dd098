"""``modelzoo catalog ZOO -o DIR --cache FILE``: what a build read and wrote, kept so that a
rebuild reads and renders only what changed.

- **A model's data** (:class:`~modelzoo_kit.catalog.SourceData`: what its deliverable.yaml or
  README says, for the keys the catalogue shows) is kept under the walk's view of its folder
  and the size and modification time of its deliverable.yaml and README
  (:func:`~modelzoo_kit.catalog.sources_key`), as ``validate -r --walk-cache`` keeps a README's
  result: a file that changed is read again, and only it.
- **A page** is kept under a digest of everything it shows (the model, its findings from the
  report, where its links go, the kit's templates) and the size and modification time of the
  file as written: a page whose digest and file are both unchanged is neither rendered nor
  written. A model that left the zoo loses its page, where that file is still the one a build
  with this cache wrote (a file someone changed or put there is never removed).

The file is JSON (:mod:`modelzoo_kit.jsoncache`, as the walk cache): data only, written
atomically, tagged with the kit version, the zoo and the site's folder (resolved) and
``--source-url``. One that is unreadable, not JSON or tagged otherwise is not used: the build
reads everything, :attr:`CatalogCache.warning` says why, and the file is replaced. Entries
that do not have the shape this module writes are misses, never errors.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from modelzoo_kit import __version__
from modelzoo_kit.catalog import SourceData
from modelzoo_kit.jsoncache import file_stamp, load_cache, save_cache

CACHE_KIND = "catalog"
CACHE_SCHEMA = 1
_SOURCES = ("deliverable.yaml", "README", "folder")
#: A model page's name in the site (catalog_site.MODELS_DIR): the only files ever removed.
_PAGE_NAME = re.compile(r"^models/[A-Za-z0-9_][A-Za-z0-9_.-]*\.html$")


class CatalogCache:
    """The cache of one build: read from ``path`` (where it fits), filled as the build goes,
    written back by :meth:`save` with only what this build used."""

    def __init__(self, path: Path, tag: dict[str, Any], old: dict[str, Any] | None,
                 warning: str | None) -> None:  # fmt: skip
        self.path = path
        self.tag = tag
        self.warning = warning
        """Why the file at ``path`` was not used (None: it was, or there was none yet)."""
        self._old_sources = _mapping((old or {}).get("sources"))
        self._old_pages = _mapping((old or {}).get("pages"))
        self._sources: dict[str, Any] = {}
        self._pages: dict[str, Any] = {}
        self.sources_reused = 0
        self.files_reused = 0

    @classmethod
    def open(cls, path: Path, zoo: Path, site: Path, source_url: str | None) -> CatalogCache:
        """The cache at ``path`` for building ``zoo``'s catalogue into ``site``."""
        tag = {"kind": CACHE_KIND, "schema": CACHE_SCHEMA, "kit": __version__,
               "zoo": os.path.realpath(zoo), "site": os.path.realpath(site),
               "source_url": source_url}  # fmt: skip
        old, warning = load_cache(path, tag)
        return cls(path, tag, old, warning)

    # ------------------------------------------------------------------ a model's data

    def sources(self, rel: str, key: list[Any]) -> SourceData | None:
        """The data kept for the folder ``rel`` under ``key``, or None (then it is read)."""
        entry = self._old_sources.get(rel)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        source, data, notes = entry.get("source"), entry.get("data"), _strings(entry.get("notes"))
        if source not in _SOURCES or not isinstance(data, dict) or notes is None:
            return None
        self._sources[rel] = entry
        self.sources_reused += 1
        return SourceData(source, data, notes)

    def keep_sources(self, rel: str, key: list[Any], sources: SourceData) -> None:
        self._sources[rel] = {"key": key, "source": sources.source, "data": sources.data,
                              "notes": sources.notes}  # fmt: skip

    # ------------------------------------------------------------------ pages

    def file_is_current(self, name: str, digest: str, path: Path) -> bool:
        """Whether the site file ``name`` (``models/x.html``, ``index.html``) at ``path`` is
        the one written for ``digest`` and unchanged since; if so it is kept as it is."""
        stamp = file_stamp(path, follow=False)
        entry = self._old_pages.get(name)
        if stamp is None or entry != [digest, *stamp]:
            return False
        self._pages[name] = entry
        self.files_reused += 1
        return True

    def keep_file(self, name: str, digest: str, path: Path) -> None:
        """Remember the site file ``name`` as written for ``digest`` (its file as it is now)."""
        stamp = file_stamp(path, follow=False)
        if stamp is not None:
            self._pages[name] = [digest, *stamp]

    def pages_left_behind(self, site: Path) -> list[Path]:
        """The model pages in ``site`` a build with this cache wrote that this build did not,
        still as they were written: the pages of models no longer in the zoo."""
        left = []
        for name, entry in self._old_pages.items():
            if name in self._pages or not _PAGE_NAME.match(name) or not isinstance(entry, list):
                continue
            path = site / name
            if entry[1:] == file_stamp(path, follow=False):
                left.append(path)
        return sorted(left)

    # ------------------------------------------------------------------ the file

    def save(self) -> None:
        """Write what this build used (and nothing more) to the cache file, unless it holds
        exactly that already."""
        data = {**self.tag, "sources": self._sources, "pages": self._pages}
        if self.warning is None and self._sources == self._old_sources \
                and self._pages == self._old_pages:  # fmt: skip
            return
        save_cache(self.path, data)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str] | None:
    """``value`` when it is a list of strings (a copy), else None."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None
