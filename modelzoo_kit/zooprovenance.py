"""Provenance of every citation in a zoo (``provenance -r ZOO``, ``validate -r --provenance``).

The zoo is walked as ``validate -r`` walks it; each folder's citations are read from its
deliverable.yaml or, when it has none, its README (:mod:`modelzoo_kit.citations`). The folders
are grouped by the upstream repository they cite and the groups checked by a bounded pool of
threads sharing one :class:`~modelzoo_kit.provenance.ProvenanceSession`: each repository is
asked for its refs once, each (repository, commit) fetched once (later checks find it in the
cache), and different repositories are fetched in parallel — the work is git's, in
subprocesses, so threads are enough. Citations of the zoo itself are checked against the local
clone when the walk runs inside one (:class:`~modelzoo_kit.provenance.HomeRepository`).

Every citation gets a verdict: the most severe finding about it (notes such as "answered
from the cache" or "read a web address" aside); the summary counts verdicts per repository
and findings per rule.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from modelzoo_kit.citations import CitationSet, read_citations
from modelzoo_kit.findings import Finding
from modelzoo_kit.provenance import CheckedFolder, ProvenanceSession, check_citations, url_key
from modelzoo_kit.walk import WalkProblem, citing_folders

#: Findings that describe how a citation was checked, not what was found.
NOTES = frozenset({"PV003", "PV019", "PV023", "PV030", "PV043"})


@dataclass(frozen=True)
class CitationVerdict:
    folder: str
    role: str
    repository: str
    rule: str
    severity: str


@dataclass
class ZooProvenance:
    """Every provenance finding of a zoo, each citation's verdict, and what was not checked."""

    findings: list[Finding] = field(default_factory=list)
    verdicts: list[CitationVerdict] = field(default_factory=list)
    folders_checked: int = 0
    folders_citing_nothing: int = 0
    problems: list[WalkProblem] = field(default_factory=list)
    fetches: int = 0
    shapes: Counter = field(default_factory=Counter)

    def by_repository(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter] = {}
        for verdict in self.verdicts:
            table.setdefault(verdict.repository, Counter())[verdict.rule] += 1
        return {repo: dict(sorted(counts.items())) for repo, counts in sorted(table.items())}

    def by_verdict(self) -> dict[str, int]:
        return dict(sorted(Counter(v.rule for v in self.verdicts).items()))

    def summary(self) -> dict:
        """The JSON summary (joined to the report's ``summary``)."""
        return {"provenance": {
            "folders_checked": self.folders_checked,
            "folders_citing_nothing": self.folders_citing_nothing,
            "citations": len(self.verdicts),
            "verdicts": self.by_verdict(),
            "shapes": dict(sorted(self.shapes.items())),
            "by_repository": self.by_repository(),
            "fetches": self.fetches,
            "walk_problems": [f"{p.path}: {p.message}" for p in self.problems],
        }}

    def summary_text(self, limit: int = 40) -> str:
        from modelzoo_kit.display import shown

        lines = [f"provenance: {len(self.verdicts)} citation(s) in {self.folders_checked} "
                 f"folder(s) ({self.folders_citing_nothing} README(s) cite nothing); "
                 f"{self.fetches} fetch(es)"]
        if self.shapes:
            lines.append("  shapes: " + ", ".join(f"{k} {v}" for k, v in
                                                  sorted(self.shapes.items())))
        lines.append("  verdicts: " + (", ".join(f"{rule} {count}" for rule, count in
                                                 self.by_verdict().items()) or "none"))
        table = self.by_repository()
        lines.append(f"  {'repository':<60} verdicts")
        for repo, counts in list(table.items())[:limit]:
            said = ", ".join(f"{rule} {count}" for rule, count in counts.items())
            lines.append(f"  {shown(repo, one_line=True)[:60]:<60} {said}")
        if len(table) > limit:
            lines.append(f"  ... and {len(table) - limit} more repositories (--format json "
                         "lists them all)")
        for problem in self.problems:
            lines.append(f"  not walked: {problem.path}: {problem.message}")
        return "\n".join(lines) + "\n"


class Progress:
    """``provenance 12/300`` on a terminal's stderr; nothing in CI or when told to be quiet."""

    def __init__(self, total: int, enabled: bool, stream: TextIO | None = None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self._lock = threading.Lock()

    @staticmethod
    def wanted(quiet: bool = False, stream: TextIO | None = None) -> bool:
        stream = stream or sys.stderr
        ci = os.environ.get("CI", "").lower() not in ("", "0", "false")
        return not quiet and not ci and stream.isatty()

    def step(self) -> None:
        with self._lock:
            self.done += 1
            if self.enabled:
                self.stream.write(f"\rprovenance {self.done}/{self.total} folders")
                self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _shape(citation_url: str, branch: str, commit: str) -> str:
    from modelzoo_kit.citations import parse_web_address

    kind = "web address" if parse_web_address(citation_url) else "clone url"
    pinned = "commit" if commit else "no commit"
    return f"{kind}, {'branch' if branch else 'no branch'}, {pinned}"


def _verdict(findings: list[Finding]) -> Finding | None:
    decisive = [f for f in findings if f.rule not in NOTES] or findings
    if not decisive:
        return None
    return min(decisive, key=lambda f: (f.severity.rank, findings.index(f)))


def _group_key(citations: CitationSet) -> str:
    """The repository a folder's check mostly talks to: its upstream, else its own code's."""
    for role in ("reference", "adapted", "inference"):
        citation = citations.citations.get(role)
        if citation is not None and citation.url:
            from modelzoo_kit.citations import parse_web_address

            web = parse_web_address(citation.url)
            return url_key(web.clone_url if web else citation.url)
    return ""


def check_zoo(root: Path, session: ProvenanceSession, jobs: int = 4, progress: bool = False,
              shown_root: str | None = None, extra_ignore: Iterable[str] = ()) -> ZooProvenance:
    """Check every citation below ``root`` (see the module docstring)."""
    root = Path(root)
    base = Path(shown_root) if shown_root is not None else root
    folders, problems = citing_folders(root)
    report = ZooProvenance(problems=problems)
    sets: list[tuple[str, CitationSet]] = []
    for rel, readme in folders:
        where = base / rel if rel != "." else base
        found = read_citations(where / readme if readme else where)
        if found.problem is not None and found.from_readme and found.deliverable is None \
                and "cites no source" in found.problem:
            report.folders_citing_nothing += 1
            continue
        sets.append((rel, found))
        for citation in found.citations.values():
            report.shapes[_shape(citation.url, citation.branch, citation.commit_id)] += 1
    groups: dict[str, list[tuple[str, CitationSet]]] = {}
    for rel, found in sets:
        groups.setdefault(_group_key(found), []).append((rel, found))
    bar = Progress(len(sets), progress)

    def check_group(members: list[tuple[str, CitationSet]]) -> list[tuple[str, CheckedFolder]]:
        done = []
        for rel, found in members:
            done.append((rel, check_citations(found, session, extra_ignore)))
            bar.step()
        return done

    ordered = sorted(groups.values(), key=len, reverse=True)  # the longest first
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = [item for chunk in pool.map(check_group, ordered) for item in chunk]
    bar.close()
    by_folder = dict(sets)
    for rel, checked in sorted(results, key=lambda item: item[0]):
        report.folders_checked += 1
        report.findings.extend(checked.findings)
        found = by_folder[rel]
        for role, citation in found.citations.items():
            resolved = checked.resolved.get(f"overview.{role}")
            repo = url_key(resolved.url if resolved else citation.url)
            verdict = _verdict(checked.by_role.get(role, []))
            report.verdicts.append(CitationVerdict(
                rel, role, repo, verdict.rule if verdict else "none",
                verdict.severity.value if verdict else "none"))
        if not found.citations and checked.findings:  # could not run: PV061
            report.verdicts.append(CitationVerdict(rel, "-", "-", checked.findings[0].rule,
                                                   checked.findings[0].severity.value))
    report.fetches = session.fetches
    return report
