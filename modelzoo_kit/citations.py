"""What a deliverable cites, read from wherever it is written: deliverable.yaml, or the README.

A citation names a repository, optionally a branch, a commit and a path in it. Zoo READMEs
write it in several shapes: ``url=… branch=… commit_id=… code_path=…`` (the template),
``url=… commit_id=…`` (the newer ModelZoo-PyTorch layout gives no branch by convention), or a
web address (``https://github.com/o/r/tree/BRANCH/PATH``, ``…/blob/BRANCH/FILE``,
``…/commit/SHA``, on GitHub or Gitee) which is not cloneable as written but names the
repository, the branch and the path exactly. This module turns each shape into one
:class:`~modelzoo_kit.provenance.SourceRef` with a note of what was read how; the README is read
by the same parser ``extract`` uses (:func:`modelzoo_kit.readme.read_readme`). No git here: a
branch name with ``/`` in a web address is split against the repository's refs by the checker
(:func:`split_ref_path`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from modelzoo_kit.layouts import DELIVERABLE_FILE, README_FILES

#: ``https://github.com/OWNER/REPO[.git]/(tree|blob|commit)/REST`` on the code hosts whose
#: web addresses have this shape.
_WEB_ADDRESS = re.compile(
    r"^(?P<base>https?://(?:www\.)?(?P<host>github\.com|gitee\.com)/(?P<owner>[^/\s]+)/"
    r"(?P<repo>[^/\s#?]+?))(?:\.git)?/(?P<kind>tree|blob|commit|src)/(?P<rest>[^\s#?]+?)/?"
    r"(?:[#?].*)?$",
    re.IGNORECASE,
)
_HEX = re.compile(r"^[0-9a-fA-F]{7,64}$")

ROLES = ("adapted", "inference", "reference")


@dataclass(frozen=True)
class WebAddress:
    """A code host's web address, taken apart: the repository to clone, and what follows
    ``/tree/``, ``/blob/`` or ``/commit/`` (branch and path, not yet split: a branch may
    contain ``/``)."""

    written: str
    clone_url: str
    kind: str  # tree | blob | commit
    rest: tuple[str, ...]

    @property
    def commit(self) -> str | None:
        """The commit a ``/commit/SHA`` (or a ``/tree/SHA``) address names."""
        if self.rest and _HEX.match(self.rest[0]) and (self.kind == "commit" or len(
                self.rest[0]) == 40):
            return self.rest[0].lower()
        return None


def parse_web_address(url: str) -> WebAddress | None:
    """The parts of a GitHub or Gitee web address, or None for any other url (a clone url
    stays as written)."""
    match = _WEB_ADDRESS.match(url.strip())
    if match is None:
        return None
    base = match.group("base")
    if base.lower().endswith(".git"):
        base = base[:-4]
    kind = match.group("kind").lower()
    kind = "tree" if kind == "src" else kind
    # a web address escapes what a path may hold: ShuffleNetV2%2B is the folder ShuffleNetV2+
    rest = tuple(unquote(part) for part in match.group("rest").split("/") if part)
    return WebAddress(url, base + ".git", kind, rest)


def split_ref_path(rest: tuple[str, ...], ref_names: Iterable[str]) -> tuple[str, str | None]:
    """Split ``BRANCH/PATH`` segments: the longest leading run that is a branch or tag name of
    the repository (so ``feature/x/configs`` finds branch ``feature/x``), else the first
    segment, as the host itself does for an unknown name."""
    names = set(ref_names)
    for cut in range(len(rest), 0, -1):
        candidate = "/".join(rest[:cut])
        if candidate in names:
            path = "/".join(rest[cut:]) or None
            return candidate, path
    return rest[0], "/".join(rest[1:]) or None


@dataclass(frozen=True)
class Citation:
    """One cited source as written: the role (``reference`` for the upstream, ``adapted``
    for the zoo's own code), the values, and where they are written (file and line)."""

    role: str
    url: str
    branch: str = ""
    commit_id: str = ""
    code_path: str | None = None
    line: int | None = None
    #: the key a value came from -> its line, for findings that point at it
    lines: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def field(self) -> str:
        return f"overview.{self.role}"


@dataclass
class CitationSet:
    """Every citation of one folder, and the file they were read from.

    ``problem`` says why none could be read (the check cannot run); ``from_readme`` tells a
    README's citations (located by line in it) from deliverable.yaml's."""

    folder: Path
    source: Path
    citations: dict[str, Citation] = field(default_factory=dict)
    problem: str | None = None
    from_readme: bool = False
    layout: str | None = None
    deliverable: object = None

    def as_overview(self) -> dict[str, dict[str, dict[str, str | None]]]:
        """The citations in the shape :func:`provenance.cited_sources` reads."""
        return {"overview": {role: {"url": c.url, "branch": c.branch, "commit_id": c.commit_id,
                                    "code_path": c.code_path}
                             for role, c in self.citations.items()}}

    def field_lines(self) -> dict[str, int]:
        """``overview.reference.commit_id`` -> line in the README (as ``yaml_lines`` gives for
        deliverable.yaml)."""
        lines: dict[str, int] = {}
        for citation in self.citations.values():
            if citation.line is not None:
                lines[citation.field] = citation.line
            for key, line in citation.lines.items():
                lines[f"{citation.field}.{key}"] = line
        return lines


def read_citations(path: Path) -> CitationSet:
    """The citations of a deliverable folder, a README or a deliverable.yaml.

    deliverable.yaml wins when there is one; when it fails to load, the set has a ``problem``
    (the check says it could not run) instead of falling back to a README that may be stale.
    Without one, the README (README.md, else README.en.md) is read. Never raises for a
    user's file."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    yaml_file = folder / DELIVERABLE_FILE
    if (path.is_dir() or path.name == DELIVERABLE_FILE) and yaml_file.is_file():
        return _from_deliverable(folder, yaml_file)
    if path.is_dir():
        readme = next((folder / name for name in (README_FILES["zh"], README_FILES["en"])
                       if (folder / name).is_file()), None)
        if readme is None:
            return CitationSet(folder, folder, problem="the folder holds neither "
                               f"{DELIVERABLE_FILE} nor a README")
        path = readme
    return _from_readme(folder, path)


def _from_deliverable(folder: Path, yaml_file: Path) -> CitationSet:
    from modelzoo_kit.errors import ModelzooError
    from modelzoo_kit.loading import load_deliverable

    found = CitationSet(folder, yaml_file)
    try:
        deliverable = load_deliverable(folder, check_files=False)
    except ModelzooError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        found.problem = f"{DELIVERABLE_FILE} does not load, so its citations are unknown: {first}"
        return found
    found.deliverable = deliverable
    overview = getattr(deliverable, "overview", None)
    for role in ROLES:
        ref = getattr(overview, role, None)
        if ref is not None:
            found.citations[role] = Citation(
                role, str(getattr(ref, "url", "") or ""), str(getattr(ref, "branch", "") or ""),
                str(getattr(ref, "commit_id", "") or "").strip().lower(),
                getattr(ref, "code_path", None))
    found.layout = getattr(deliverable, "layout", None)
    return found


def _from_readme(folder: Path, readme: Path) -> CitationSet:
    from modelzoo_kit.classify import detect_layout
    from modelzoo_kit.errors import ModelzooError
    from modelzoo_kit.readme import read_readme

    found = CitationSet(folder, readme, from_readme=True)
    try:
        document = read_readme(readme)
    except ModelzooError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        found.problem = f"the README cannot be read: {first}"
        return found
    found.layout = detect_layout("\n".join(document.lines))
    for block in document.references:
        if block.role in found.citations or block.role not in ROLES:
            continue
        url = block.url
        if url is None:
            continue
        values = {key: located.value.strip() for key, located in block.keys.items()}
        lines = {key: located.line for key, located in block.keys.items()}
        lines.setdefault("url", url.line)
        found.citations[block.role] = Citation(
            block.role, url.value.strip(), values.get("branch", ""),
            values.get("commit_id", "").lower(), values.get("code_path") or None,
            block.line, lines)
    if not found.citations:
        found.problem = ("the README cites no source (no 参考实现 / 适配昇腾 AI 处理器的实现 "
                         "entry with an address)")
    return found
