"""Prove a deliverable's code is exactly the code at the commit it cites.

This automates what the template tells a reader to do by hand — clone the url, check out the
branch, reset to ``commit_id``, ``cd code_path`` — and then compares, by object id: the local
folder is hashed the way git would (:mod:`modelzoo_kit.githash`) and compared with the tree at
``commit_id:code_path``, fetched without blobs (:mod:`modelzoo_kit.gitremote`). An exact match
needs no file content from the remote; a difference fetches only the blobs it has to show.

Rule ids (stable; ``--select PV`` picks them all) and their severities are in
:data:`PROVENANCE_RULES`, documented in docs/provenance.md.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from modelzoo_kit import githash, gitremote, provcache
from modelzoo_kit.citations import CitationSet, WebAddress, parse_web_address, split_ref_path
from modelzoo_kit.findings import Finding, Rule, Severity, register_rules
from modelzoo_kit.gitremote import FetchLimits, GitCommandError, RemoteCache, TreeItem
from modelzoo_kit.layouts import DELIVERABLE_FILE

_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

#: Every provenance rule, in the kit's one registry (:data:`findings.RULES`); docs/provenance.md
#: documents them and a test checks it against this table.
PROVENANCE_RULES: dict[str, Rule] = register_rules(
    *(
        Rule("PV000", _I, "the commit exists and is on the cited branch"),
        Rule("PV001", _E, "the url is refused: it would run a program, or looks like an option"),
        Rule("PV002", _E, "the url is unreachable, not a git repository, or needs credentials"),
        Rule("PV003", _I, "offline (or unreachable): answered from the cache", (_W,)),
        Rule("PV004", _E, "the branch does not exist"),
        Rule("PV005", _E, "the commit does not exist (or the server will not serve it)"),
        Rule("PV006", _E, "the commit exists but is not on the branch (not an ancestor)"),
        Rule("PV007", _E, "code_path is absolute or leaves the repository"),
        Rule("PV008", _E, "code_path does not exist at the commit (hint: where the folder moved)"),
        Rule("PV009", _E, "a reference is incomplete (missing url or commit id)", (_W,)),
        Rule("PV010", _I, "the deliverable is identical to the tree at commit:code_path"),
        Rule("PV011", _E, "a file is in the deliverable but not at the commit"),
        Rule("PV012", _E, "a file is at the commit but not in the deliverable"),
        Rule("PV013", _E, "a file's content differs (short diff)"),
        Rule("PV014", _E, "a file's executable bit differs"),
        Rule("PV015", _E, "a path changed type (file, symlink, submodule)"),
        Rule("PV016", _W, "differs only in line endings, or bytes git would convert", (_I,)),
        Rule("PV017", _W, "a submodule is not checked out / points to another commit", (_E,)),
        Rule("PV018", _W, "a file git may hash differently (custom filter driver, special file)"),
        Rule("PV019", _W, "the server ignores partial-fetch filters (whole history is sent)"),
        Rule("PV020", _E, "training and inference references disagree"),
        Rule("PV021", _I, "no branch cited: the commit exists; the branches and tags holding it"),
        Rule("PV022", _W, "no branch cited, and the commit is on no branch or tag"),
        Rule("PV023", _I, "a web address read as clone url + branch + path"),
        Rule("PV030", _I, "derivation: upstream files carried unchanged / changed / not at all"),
        Rule("PV040", _I, "the deliverable lives in the repository it cites: tree vs cited", (_E,)),
        Rule("PV041", _W, "... and has uncommitted changes"),
        Rule("PV042", _I, "... the commit to cite"),
        Rule("PV043", _I, "... its commit was checked in that repository, the url not contacted"),
        Rule("PV050", _W, "the deliverable cites no adapted source at all"),
        Rule("PV060", _W, "not verified: offline and not cached (an error under strict)", (_E,)),
        Rule("PV061", _W, "the check could not run: no citation could be read (why)", (_E,)),
    )
)

_HEX_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_LIST_LIMIT = 15


@dataclass(frozen=True)
class SourceRef:
    """One cited source, read from the metadata: which field, and where it points."""

    field: str  # e.g. "overview.adapted"
    url: str
    branch: str
    commit_id: str
    code_path: str | None
    #: the web address the url was read from (``…/tree/BRANCH/PATH``), when it was one
    web: WebAddress | None = None

    def same_source(self, other: SourceRef) -> bool:
        return (self.url, self.branch, self.commit_id) == (
            other.url, other.branch, other.commit_id)


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def cited_sources(deliverable: Any) -> dict[str, SourceRef]:
    """``adapted``, ``inference`` and ``reference`` as :class:`SourceRef`, those present."""
    overview = _get(deliverable, "overview")
    found = {}
    for role in ("adapted", "inference", "reference"):
        ref = _get(overview, role)
        if ref is None:
            continue
        url = str(_get(ref, "url") or "")
        web = parse_web_address(url)
        found[role] = SourceRef(
            field=f"overview.{role}",
            url=web.clone_url if web else url,
            branch=str(_get(ref, "branch") or ""),
            commit_id=str(_get(ref, "commit_id") or "").strip().lower(),
            code_path=_get(ref, "code_path"),
            web=web,
        )
    return found


def ignore_patterns(deliverable: Any, extra: Iterable[str] = ()) -> list[str]:
    """``provenance.ignore`` from the metadata, plus any given on the command line."""
    declared = _get(_get(deliverable, "provenance"), "ignore") or []
    return [*declared, *extra]


def make_ignore(patterns: list[str]) -> Callable[[str], bool]:
    return lambda path: any(githash.path_matches(p, path) for p in patterns)


def code_path_problem(code_path: str) -> str | None:
    """Why ``code_path`` cannot be used (absolute, escapes the repository), or None."""
    if code_path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", code_path):
        return f"code_path {code_path!r} is absolute"
    if ".." in PurePosixPath(code_path.replace("\\", "/")).parts:
        return f"code_path {code_path!r} leaves the repository ('..')"
    if any(ord(c) < 32 for c in code_path) or code_path.startswith("-"):
        return f"code_path {code_path!r} contains control characters or looks like an option"
    return None


def normalise_code_path(code_path: str) -> str:
    parts = [p for p in PurePosixPath(code_path.replace("\\", "/")).parts if p != "."]
    return "/".join(parts) or "."


def url_key(url: str) -> str:
    """A form of ``url`` that is equal for the usual spellings of one repository
    (``https://host/o/r.git``, ``git@host:o/r``, ``ssh://git@host/o/r/``)."""
    text = url.strip().rstrip("/")
    text = re.sub(r"\.git$", "", text)
    match = re.match(r"^[a-z+]+://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.*)$", text)
    if match and not text.startswith("file://"):
        return f"{match.group(1).lower()}/{match.group(2)}"
    match = re.match(r"^(?:[^@/:]+@)?([^/:]+):(.+)$", text)
    if match and "://" not in text and not text.startswith("/"):
        return f"{match.group(1).lower()}/{match.group(2)}"
    if text.startswith("file://"):
        text = text[len("file://"):]
    try:
        return str(Path(text).resolve())
    except OSError:
        return text


# --------------------------------------------------------------------------- the checker


class ProvenanceSession:
    """What the checks of many folders share, so a zoo-wide check asks each repository for its
    refs once and fetches each (repository, commit) once: one cache folder, one
    :class:`RemoteCache` per url, each url's ``ls-remote`` answer (or failure), and the
    record of negative answers (:mod:`modelzoo_kit.provcache`). Safe to use from several
    threads; work on one cache repository is serialised by :meth:`locked` (also across
    processes)."""

    def __init__(self, cache_dir: Path, offline: bool = False,
                 limits: FetchLimits | None = None, strict: bool = False):
        self.cache_dir = Path(cache_dir)
        self.offline = offline
        self.limits = limits or FetchLimits()
        self.strict = strict
        self.facts = provcache.FactStore(self.cache_dir)
        self._caches: dict[str, RemoteCache] = {}
        self._heads: dict[str, dict[str, str] | GitCommandError] = {}
        self.reachable: dict[str, bool] = {}
        self._guard = threading.Lock()
        self._toplevels: dict[str, str | None] = {}
        self._autocrlf: dict[str, str | None] = {}

    def cache(self, url: str) -> RemoteCache:
        key = url_key(url)
        with self._guard:
            cache = self._caches.get(key)
            if cache is None:
                cache = RemoteCache(self.cache_dir, url, self.limits, offline=self.offline,
                                    key=key)
                self._caches[key] = cache
            return cache

    @contextlib.contextmanager
    def locked(self, url: str) -> Iterator[None]:
        with provcache.locked(self.cache(url).path):
            yield

    def remote_heads(self, cache: RemoteCache) -> dict[str, str]:
        """The remote's branch heads, asked once per url and session (the failure too);
        call with :meth:`locked` held."""
        known = self._heads.get(cache.url)
        if known is None:
            try:
                known = cache.remote_heads()
            except GitCommandError as exc:
                known = exc
            self._heads[cache.url] = known
        if isinstance(known, GitCommandError):
            raise known
        return known

    @property
    def fetches(self) -> int:
        return sum(cache.fetches for cache in self._caches.values())

    # -- local look-ups, asked once per folder (a zoo has hundreds) ----------------------

    def toplevel(self, folder: Path) -> str | None:
        key = str(Path(folder).absolute())
        if key not in self._toplevels:
            self._toplevels[key] = gitremote.toplevel(Path(folder))
        return self._toplevels[key]

    def autocrlf(self, folder: Path, top: str | None) -> str | None:
        """The user's ``core.autocrlf`` for ``folder``: the same for every folder of one work
        tree, and for every folder outside any."""
        key = top or ""
        if key not in self._autocrlf:
            self._autocrlf[key] = gitremote.user_autocrlf(folder)
        return self._autocrlf[key]

    def scratch_git_dir(self) -> Path:
        """An empty bare git dir (in the cache) that asks git what it would ignore in a folder
        outside any repository, made once."""
        path = self.cache_dir / provcache.SCRATCH_GIT_DIR
        with self._guard:
            if not (path / "HEAD").is_file():
                tmp = path.with_name(f"{path.name}.tmp{threading.get_ident()}")
                gitremote.run_git(["init", "--quiet", "--bare", "--template=", str(tmp)],
                                  timeout_s=30, offline=True)
                try:
                    tmp.replace(path)
                except OSError:  # another process made it first
                    import shutil

                    shutil.rmtree(tmp, ignore_errors=True)
        return path


class _Checker:
    def __init__(
        self,
        deliverable_dir: Path,
        deliverable: Any,
        session: ProvenanceSession,
        extra_ignore: Iterable[str],
        citations: CitationSet | None = None,
    ):
        self.dir = Path(deliverable_dir)
        self.session = session
        self.strict = session.strict
        cache_dir, offline, limits = session.cache_dir, session.offline, session.limits
        self._homes: dict[str, HomeRepository | None] = {}
        self._cited: dict[str, SourceRef] = {}
        self.deliverable = deliverable
        self.cache_dir = cache_dir
        self.offline = offline
        self.limits = limits
        self.patterns = ignore_patterns(deliverable, extra_ignore)
        self.is_ignored = make_ignore(self.patterns)
        self.yaml = str(self.dir / DELIVERABLE_FILE)
        self.findings: list[Finding] = []
        self._local: githash.LocalTree | None = None
        self._gitignored: set[str] = set()
        self._lines: dict[str, int] | None = None
        if citations is not None:
            self.yaml = str(citations.source)
        if citations is not None and citations.from_readme:
            self._lines = citations.field_lines()  # README findings point at its lines
        self.layout = citations.layout if citations is not None else None
        self._shallow: bool | None = None
        #: each reference as checked: a web address's branch and path filled in
        self.resolved: dict[str, SourceRef] = {}
        #: the findings about each cited role (``reference``, ``adapted``), for verdicts
        self.by_role: dict[str, list[Finding]] = {}
        self.role: str | None = None
        self._learnt: dict[str, tuple[str, provcache.CommitFacts, RemoteCache]] = {}

    # -- reporting ---------------------------------------------------------------------

    def add(self, rule: str, message: str, hint: str = "", path: str | None = None,
            field: str | None = None, severity: Severity | None = None) -> None:
        """Record a finding about a file of the deliverable (``path``) or about the metadata
        (``field``, located by line in deliverable.yaml when it can be found). Its severity is
        the rule's (:data:`PROVENANCE_RULES`), or one of the others the rule allows."""
        registered = PROVENANCE_RULES[rule]
        if path is not None:
            found = registered.finding(str(self.dir / path), None, message, hint,
                                       severity=severity)
        else:
            if self._lines is None:
                self._lines = yaml_lines(Path(self.yaml))
            line = self._lines.get(field or "")
            if line is None and field:  # a README block: the line of the citation itself
                line = self._lines.get(".".join(field.split(".")[:2]))
            found = registered.finding(self.yaml, line, message, hint, severity=severity)
        self.findings.append(found)
        if self.role is not None:
            self.by_role.setdefault(self.role, []).append(found)

    # -- the local folder --------------------------------------------------------------

    @property
    def local(self) -> githash.LocalTree:
        if self._local is None:
            self._local, self._gitignored = hash_working_folder(self.dir, self.is_ignored,
                                                                self.session)
            for note in self._local.notes:
                self.add("PV018", note.message, path=note.path)
        return self._local

    # -- one reference -----------------------------------------------------------------

    def verify(self, ref: SourceRef) -> RemoteCache | None:
        """Check url, branch (when one is cited), commit and ancestry; return the cache holding
        the commit. The reference as checked — a web address's branch and path filled in — is
        left in :attr:`resolved`."""
        if ref.web is not None and not ref.commit_id and ref.web.commit:
            ref = replace(ref, commit_id=ref.web.commit)
        self.resolved[ref.field] = ref
        missing = [n for n in ("url", "commit_id") if not getattr(ref, n)]
        if missing == ["commit_id"] and self.home(ref) is not None:
            return None  # the zoo itself, unpinned: self_reference checks the folder
        if missing:
            self._incomplete(ref, missing)
            return None
        if not _HEX_ID.match(ref.commit_id):
            self.add("PV009", f"{ref.field}.commit_id {ref.commit_id!r} is not a full commit id",
                     "write the full 40-hex id: git rev-parse <commit>",
                     field=f"{ref.field}.commit_id")
            return None
        try:
            url = gitremote.check_url(ref.url, base=self.dir)
        except gitremote.UnsafeSourceError as exc:
            self.add("PV001", f"{ref.field}.url refused: {exc}",
                     "cite an https://, ssh:// or file:// repository address",
                     field=f"{ref.field}.url")
            return None
        home = self.home(ref)
        if home is not None and home.has_commit:
            ref = self._resolve_web(ref, set(EnclosingRepository(home, self.limits).branch_names()),
                                    set())
            return self._verify_in_home(ref, home)
        cache = self.session.cache(url)
        key = url_key(url)
        facts = self.session.facts.load(key, ref.commit_id)
        if facts is None and not (cache.exists() and cache.cached_heads()):
            if self.offline:
                self.unverified(ref, "--offline was given and it is not in the cache")
                return None
            if self.session.reachable.get(url) is False:
                self.unverified(ref, "no network is reachable (offline) and it is not in the "
                                "cache")
                return None
        learnt = (facts if self.offline and facts is not None
                  else provcache.CommitFacts(url=key, commit=ref.commit_id))
        self._learnt[ref.field] = (key, learnt, cache)
        return self._verify_remote(ref, cache, url, learnt, facts)

    def remember(self, field: str) -> None:
        """Keep what was learnt online about ``field``'s (repository, commit) for later runs."""
        key, learnt, cache = self._learnt.get(field, ("", None, None))
        if learnt is None or cache is None or cache.offline:
            return
        if learnt.heads is not None or learnt.error is not None:
            self.session.facts.save(key, learnt)

    def _known(self, field: str, name: str, compute: Callable[[], str]) -> str:
        """A fact about a commit that cannot change (its date, what is at a path), from the
        record when an earlier run learnt it, else computed and recorded."""
        _, learnt, _ = self._learnt.get(field, ("", None, None))
        if learnt is not None and name in learnt.extra:
            return learnt.extra[name]
        value = compute()
        if learnt is not None:
            learnt.extra[name] = value
        return value

    def _verify_remote(self, ref: SourceRef, cache: RemoteCache, url: str,
                       learnt: provcache.CommitFacts, facts: provcache.CommitFacts | None
                       ) -> RemoteCache | None:
        existed = cache.exists()
        cache.create()
        heads = self._heads(ref, cache, url, learnt, facts)
        if heads is None:
            return None
        if facts is not None and learnt is not facts and facts.exists and existed:
            learnt.extra = dict(facts.extra)  # a commit's date and paths never change
            learnt.learnt_at = facts.learnt_at
            if (facts.heads, facts.tags) == (learnt.heads, learnt.tags):
                # the same refs as then: which of them contain the commit is the same too
                learnt.exists = facts.exists
                learnt.branches_containing = facts.branches_containing
                learnt.tags_containing = facts.tags_containing
        ref = self._resolve_web(ref, set(heads), set(learnt.tags or {}))
        if cache.supports_filter is False:
            self.add("PV019", f"{ref.field}: {ref.url} does not serve partial fetches, so checking "
                     "downloads every object of the branch's history",
                     "the download stops at --max-fetch-mb; on a local mirror set "
                     "uploadpack.allowFilter=true", field=f"{ref.field}.url")
        if not ref.branch:
            return self._verify_unbranched(ref, cache, learnt)
        branch_head = heads.get(ref.branch)
        if branch_head is None:
            where = "in the cache" if cache.offline else f"at {ref.url}"
            known = ", ".join(sorted(heads)[:_LIST_LIMIT]) or "none"
            self.add("PV004", f"{ref.field}.branch {ref.branch!r} does not exist {where}",
                     f"branches: {known}", field=f"{ref.field}.branch")
        else:
            try:
                if not cache.offline:
                    cache.fetch_branch(ref.branch, branch_head)
            except GitCommandError as exc:
                self._fetch_failed(ref, f"branch {ref.branch!r}", exc)
                return None
        return self._verify_commit(ref, cache, branch_head is not None, learnt)

    def _incomplete(self, ref: SourceRef, missing: list[str]) -> None:
        """PV009: an error where the layout asks for the value, else a warning (the
        pytorch-2022 layout's adapted block gives url and code_path only)."""
        from modelzoo_kit.layouts import get_layout

        convention = get_layout(self.layout).references.get(ref.field.split(".")[-1])
        required = convention.required_keys if convention else ("url", "commit_id")
        needed = [name for name in missing if name in required]
        severity = Severity.ERROR if needed else Severity.WARNING
        unasked = "" if needed else " (its layout does not ask for one), so no code is pinned"
        self.add("PV009", f"{ref.field}: {', '.join(missing)} missing{unasked}",
                 f"cite the source as url and commit_id (and branch) under {ref.field}",
                 field=ref.field, severity=severity)

    def _resolve_web(self, ref: SourceRef, heads: set[str], tags: set[str]) -> SourceRef:
        """Fill branch and path in from a web address, split against the repository's branch
        and tag names (a branch may hold ``/``); a tag names the commit's tag, not a branch."""
        web = ref.web
        if web is None:
            return ref
        branch, path = "", None
        if web.kind != "commit" and web.rest and web.commit is None:
            branch, path = split_ref_path(web.rest, heads | tags)
        tag = branch if branch in tags and branch not in heads else ""
        resolved = replace(ref, branch=ref.branch or ("" if tag else branch),
                           code_path=ref.code_path or path)
        said = [f"clone url {resolved.url}"]
        said.append(f"branch {resolved.branch!r}" if resolved.branch else
                    f"tag {tag!r}" if tag else "no branch")
        said.append(f"path {resolved.code_path!r}" if resolved.code_path else "the whole tree")
        self.add("PV023", f"{ref.field}.url {web.written!r} is a web address, read as "
                 + ", ".join(said), f"write url={resolved.url} with branch= and code_path= "
                 "to say so directly", field=f"{ref.field}.url")
        self.resolved[ref.field] = resolved
        return resolved

    def _verify_unbranched(self, ref: SourceRef, cache: RemoteCache,
                           learnt: provcache.CommitFacts) -> RemoteCache | None:
        """No branch cited: the commit must exist; say which branches and tags hold it."""
        found = self._verify_commit(ref, cache, False, learnt)
        if found is None:
            return None
        branches, tags = self._containing(cache, ref.commit_id, learnt)
        if not branches and not tags:
            self.add("PV022", f"{ref.field}: no branch is cited, and commit {ref.commit_id[:12]} "
                     f"is on no branch or tag of {ref.url} (the server still serves it)",
                     "cite a commit that is on a branch, with branch=",
                     field=f"{ref.field}.commit_id")
            return found
        where = []
        if branches:
            where.append(f"branches {', '.join(branches[:_LIST_LIMIT])}")
        if tags:
            where.append(f"tags {', '.join(tags[:_LIST_LIMIT])}")
        date = self._known(ref.field, "date", lambda: cache.commit_date(ref.commit_id))
        self.add("PV021", f"{ref.field}: commit {ref.commit_id[:12]} "
                 f"({date}) exists in {ref.url}; no branch is cited; "
                 f"it is on {'; '.join(where)}",
                 f"cite branch={(branches or tags)[0]} to say which line of work it is",
                 field=f"{ref.field}.commit_id")
        return found

    def _containing(self, cache: RemoteCache, commit: str, learnt: provcache.CommitFacts
                    ) -> tuple[list[str], list[str]]:
        """The branches and tags that contain ``commit`` (all refs' commits fetched once, no
        trees), or what an earlier run learnt when offline."""
        if learnt.branches_containing is None and not cache.offline:
            try:
                cache.fetch_all_branches()
            except GitCommandError:
                return [], []
            learnt.branches_containing = cache.branches_containing(commit)
            learnt.tags_containing = cache.tags_containing(commit)
        return list(learnt.branches_containing or []), list(learnt.tags_containing or [])

    def _fetch_failed(self, ref: SourceRef, what: str, exc: GitCommandError) -> None:
        """A fetch broke off: a lost network leaves ``ref`` unverified; anything else is PV002."""
        if exc.kind == "network":
            self.unverified(ref, f"the network went away while fetching {what} (offline: {exc})")
        else:
            self.add("PV002", f"{ref.field}: fetching {what} failed: {exc}")

    def unverified(self, ref: SourceRef, reason: str, field: str | None = None,
                   hint: str = "re-run with network access, or with --cache DIR of a previous "
                   "check, to verify it") -> None:
        """A reference that could not be checked (no network, nothing cached): a warning, as
        nothing is known to be wrong; an error under ``strict``, for gates that demand proof."""
        if self.in_shallow_clone():
            hint = ("this clone is shallow, so the cited commit may be in the history it left "
                    "out: run `git fetch --unshallow` and check again; or " + hint)
        if not self.strict:
            hint += " (--strict makes this an error)"
        self.add("PV060", f"{ref.field}: {ref.url} could not be verified: {reason}", hint,
                 field=field or f"{ref.field}.url",
                 severity=Severity.ERROR if self.strict else Severity.WARNING)

    def _verify_in_home(self, ref: SourceRef, home: HomeRepository) -> RemoteCache:
        """Branch and ancestry of a commit of the repository the deliverable lives in, read
        from that repository: its local and remote-tracking branches of the cited name."""
        repo = EnclosingRepository(home, self.limits)
        self.add("PV043",
                 f"{ref.field}: checked in the enclosing repository {home.top} (recognised by "
                 f"{home.matched_by}); {ref.url} itself was not contacted",
                 "the cited commit is here, so no network is needed", field=f"{ref.field}.url")
        commit = ref.commit_id
        if not ref.branch:
            containing = repo.branches_containing(commit)
            self.add("PV021" if containing else "PV022",
                     f"{ref.field}: commit {commit[:12]} ({repo.commit_date(commit)}) is in the "
                     f"enclosing repository; no branch is cited; it is on "
                     f"{', '.join(containing[:_LIST_LIMIT]) or 'no branch'}",
                     "cite the branch with branch=", field=f"{ref.field}.commit_id")
            return repo
        refs = repo.branch_refs(ref.branch)
        if not refs:
            self.unverified(
                ref, f"branch {ref.branch!r} is neither a local nor a remote-tracking branch of "
                f"the enclosing repository {home.top}, so whether the commit is on it is unknown",
                field=f"{ref.field}.branch",
                hint=f"fetch it (git fetch origin {ref.branch}) and check again")
        elif not repo.is_ancestor(commit, ref.branch):
            containing = repo.branches_containing(commit)
            hint = (f"it is on: {', '.join(containing[:_LIST_LIMIT])}" if containing
                    else "it is on no branch; cite a commit on the branch")
            self.add("PV006", f"{ref.field}: commit {commit} is not on branch {ref.branch!r} "
                     f"({', '.join(refs)} of {home.top})", hint, field=f"{ref.field}.commit_id")
        else:
            self.add("PV000",
                     f"{ref.field}: commit {commit[:12]} ({repo.commit_date(commit)}) is on "
                     f"branch {ref.branch!r} ({', '.join(refs)} of the enclosing repository)",
                     field=f"{ref.field}.commit_id")
        return repo

    def _heads(self, ref: SourceRef, cache: RemoteCache, url: str,
               learnt: provcache.CommitFacts, facts: provcache.CommitFacts | None
               ) -> dict[str, str] | None:
        """The remote's branches (and, in ``learnt``, its tags); offline, those an earlier run
        learnt, including that the repository could not be read."""
        if cache.offline:
            self.add("PV003", f"{ref.field}: offline; answered from the cache {cache.path}"
                     + (f" (learnt {facts.learnt_at})" if facts is not None else ""))
            if facts is not None and facts.error is not None:
                self._unreadable(ref, facts.error.get("kind", "failed"),
                                 f"{facts.error.get('message', '')} (learnt {facts.learnt_at})")
                return None
            if facts is not None and facts.heads is not None:
                return dict(facts.heads)
            return cache.cached_heads()
        try:
            heads = self.session.remote_heads(cache)
        except GitCommandError as exc:
            if exc.kind == "network":
                return self._network_lost(ref, cache, url, exc)
            learnt.error = {"kind": exc.kind, "message": self._with_address(cache, str(exc))}
            self._unreadable(ref, exc.kind, learnt.error["message"])
            return None
        self.session.reachable[url] = True
        learnt.heads, learnt.tags = dict(heads), dict(cache.remote_tags)
        learnt.filter_supported = cache.supports_filter
        return heads

    def _network_lost(self, ref: SourceRef, cache: RemoteCache, url: str,
                      exc: GitCommandError) -> dict[str, str] | None:
        self.session.reachable[url] = False
        cached = cache.cached_heads()
        if cached:
            cache.offline = True
            self.add("PV003",
                     f"{ref.field}: {ref.url} is unreachable ({exc}); answered from the "
                     f"cache {cache.path}, which may be out of date",
                     severity=Severity.WARNING)
            return cached
        self.unverified(ref, f"no network is reachable (offline: {exc}) and it is not "
                        "in the cache")
        return None

    @staticmethod
    def _with_address(cache: RemoteCache, message: str) -> str:
        """git's message, with the address git used when ``insteadOf`` rewrote the url."""
        from modelzoo_kit.display import mask_credentials

        used = cache.effective_url()
        if used != cache.url and used not in message:
            return f"{message} (git used the address {mask_credentials(used)})"
        return message

    def _unreadable(self, ref: SourceRef, kind: str, message: str) -> None:
        reasons = {
            "not-a-repository": "is not a git repository (or does not exist)",
            "auth": "needs credentials git could not get without a prompt",
            "refused": "uses a transport git is not allowed to use",
            "timeout": "did not answer in time",
        }
        self.add("PV002", f"{ref.field}: {ref.url} {reasons.get(kind, 'failed')}: {message}",
                 "check the url; for a private repository use an ssh url with your key "
                 "(the kit runs no credential helper)",
                 field=f"{ref.field}.url")

    def _verify_commit(self, ref: SourceRef, cache: RemoteCache, on_branch: bool,
                       learnt: provcache.CommitFacts) -> RemoteCache | None:
        commit = ref.commit_id
        present = bool(learnt.exists and not cache.offline and cache.exists()) or (
            cache.object_type(commit) == "commit")
        if not present and not cache.offline:
            try:
                present = cache.fetch_commit(commit)
            except GitCommandError as exc:
                self._fetch_failed(ref, commit, exc)
                return None
        if not cache.offline:
            learnt.exists = present
        elif not present and learnt.exists:
            self.unverified(ref, f"the cache knows commit {commit[:12]} exists but no longer "
                            "holds it (pruned)")
            return None
        if not present:
            where = "in the cache" if cache.offline else f"in {ref.url}"
            self.add("PV005", f"{ref.field}.commit_id {commit} does not exist {where}",
                     "cite a commit that was pushed: git log -1 --format=%H on the branch",
                     field=f"{ref.field}.commit_id")
            return None
        head = (learnt.heads or {}).get(ref.branch, "")
        if on_branch and self._known(ref.field, f"on:{ref.branch}:{head}", lambda: str(
                cache.is_ancestor(commit, ref.branch))) != "True":
            containing, _ = self._containing(cache, commit, learnt)
            hint = (f"it is on: {', '.join(containing[:_LIST_LIMIT])}" if containing
                    else "it is on no branch; cite a commit on the branch")
            self.add("PV006", f"{ref.field}: commit {commit} is not on branch {ref.branch!r}", hint,
                     field=f"{ref.field}.commit_id")
        elif on_branch:
            date = self._known(ref.field, "date", lambda: cache.commit_date(commit))
            self.add("PV000",
                     f"{ref.field}: commit {commit[:12]} ({date}) is on branch {ref.branch!r} "
                     f"of {ref.url}", field=f"{ref.field}.commit_id")
        return cache

    def resolve_code_path(self, ref: SourceRef, cache: RemoteCache,
                          code_path: str, allow_file: bool = False) -> TreeItem | None:
        """The folder (or, ``allow_file``, the file) at ``commit:code_path``; PV007/PV008
        when there is none."""
        problem = code_path_problem(code_path)
        if problem:
            self.add("PV007", f"{ref.field}: {problem}",
                     "write code_path relative to the repository root, inside it",
                     field=f"{ref.field}.code_path")
            return None
        path = normalise_code_path(code_path)
        try:
            item = self._resolve(ref, cache, path)
        except GitCommandError as exc:
            self.add("PV002", f"{ref.field}: reading the commit's trees failed: "
                     f"{exc}")
            return None
        if item is None or item.kind != "tree" and not (allow_file and item.kind == "blob"):
            what = "does not exist" if item is None else f"is a {item.kind}, not a folder"
            self.add("PV008",
                     f"{ref.field}.code_path {path!r} {what} at commit {ref.commit_id[:12]}",
                     self._moved_hint(ref, cache, path), field=f"{ref.field}.code_path")
            return None
        return item

    def _resolve(self, ref: SourceRef, cache: RemoteCache, path: str) -> TreeItem | None:
        """``cache.resolve``, remembered per (repository, commit): a path's object at a commit
        never changes, so a warm re-check reads it from the record."""
        def look_up() -> str:
            item = cache.resolve(ref.commit_id, path)
            return "" if item is None else f"{item.mode} {item.kind} {item.oid}"

        known = self._known(ref.field, f"path:{path}", look_up)
        if not known:
            return None
        mode, kind, oid = known.split(" ")
        return TreeItem(path, mode, kind, oid)

    def _moved_hint(self, ref: SourceRef, cache: RemoteCache, path: str) -> str:
        try:
            return self._find_moved(ref, cache, path)
        except GitCommandError:
            return "list the commit's folders with: git ls-tree -r -t --name-only <commit>"

    def _find_moved(self, ref: SourceRef, cache: RemoteCache, path: str) -> str:
        root = cache.ensure_trees(ref.commit_id)
        folders = cache.list_subtrees(root)
        same_tree = [p for p, oid in folders.items() if oid == self.local.tree_id]
        if same_tree:
            return f"the deliverable's exact tree is at {same_tree[0]!r}: set code_path to it"
        best = self._folder_holding_most_files(cache, root)
        if best is not None:
            folder, count = best
            return (f"{count} of the deliverable's {len(self.local.entries)} files are, "
                    f"unchanged, at {folder!r}: set code_path to it")
        name = PurePosixPath(path).name
        same_name = sorted(p for p in folders if PurePosixPath(p).name == name)
        if same_name:
            return f"a folder of that name is at: {', '.join(same_name[:_LIST_LIMIT])}"
        return "list the commit's folders with: git ls-tree -r -t --name-only <commit>"

    def _folder_holding_most_files(self, cache: RemoteCache, root: str
                                   ) -> tuple[str, int] | None:
        """The folder of the commit where most local files sit, identical, at the same
        relative path (at least half of them); found from object ids alone."""
        by_oid: dict[str, list[str]] = {}
        for remote_path, item in cache.list_tree(root).items():
            by_oid.setdefault(item.oid, []).append(remote_path)
        counts: dict[str, int] = {}
        for rel, entry in self.local.entries.items():
            for remote_path in by_oid.get(entry.oid, []):
                if remote_path == rel:
                    counts["."] = counts.get(".", 0) + 1
                elif remote_path.endswith("/" + rel):
                    prefix = remote_path[: -len(rel) - 1]
                    counts[prefix] = counts.get(prefix, 0) + 1
        if not counts:
            return None
        folder, count = max(counts.items(), key=lambda kv: (kv[1], -len(kv[0])))
        return (folder, count) if count * 2 >= max(1, len(self.local.entries)) else None

    # -- comparing the folder with the commit ------------------------------------------

    def compare(self, ref: SourceRef, cache: RemoteCache, item: TreeItem) -> None:
        local = self.local
        where = f"{ref.commit_id[:12]}:{item.path}"
        if local.tree_id == item.oid:
            self.add("PV010",
                     f"identical to {where} of {_source_name(ref, cache)} (tree {item.oid})",
                     path=".")
            return
        remote = {p: i for p, i in cache.list_tree(item.oid).items() if not self.is_ignored(p)}
        mine = local.entries
        differences = 0
        modified: list[tuple[str, TreeItem]] = []
        for path in sorted(set(remote) | set(mine)):
            theirs, ours = remote.get(path), mine.get(path)
            if theirs is None and ours is not None:
                differences += 1
                self.add("PV011", f"added: not at {where}",
                         "if the deliverable adds it on purpose, list it in provenance.ignore",
                         path=path)
            elif ours is None and theirs is not None:
                differences += self._removed(path, theirs, where)
            elif ours is not None and theirs is not None:
                differences += self._changed(path, ours, theirs, where, modified)
        self._show_diffs(cache, modified)
        if differences == 0:
            ignored = len(local.excluded)
            self.add("PV010",
                     f"identical to {where} of {_source_name(ref, cache)} apart from {ignored} "
                     "ignored path(s) "
                     f"({', '.join(local.excluded[:_LIST_LIMIT])})", path=".")

    def _removed(self, path: str, theirs: TreeItem, where: str) -> int:
        top = path.split("/")[0]
        if theirs.mode == githash.MODE_GITLINK and path in self.local.empty_dirs:
            self.add("PV017", f"submodule not checked out (the commit has {theirs.oid[:12]})",
                     "git submodule update --init, then check again", path=path)
            return 0
        note = ""
        if path in self._gitignored or top in self._gitignored:
            note = " (it is here, but .gitignore excludes it)"
        self.add("PV012", f"removed: at {where} but not in the deliverable{note}",
                 "restore it, or cite a commit without it", path=path)
        return 1

    def _changed(self, path: str, ours: githash.LocalEntry, theirs: TreeItem, where: str,
                 modified: list[tuple[str, TreeItem]]) -> int:
        kinds = {githash.MODE_SYMLINK: "symlink", githash.MODE_GITLINK: "submodule"}
        our_kind = kinds.get(ours.mode, "file")
        their_kind = kinds.get(theirs.mode, "file")
        count = 0
        if our_kind != their_kind:
            self.add("PV015",
                     f"type changed: a {our_kind} here, a {their_kind} at {where}", path=path)
            return 1
        if ours.mode != theirs.mode:
            count += 1
            self.add("PV014", f"executable bit differs: {ours.mode} here, {theirs.mode} at {where}",
                     f"chmod {'-x' if ours.mode == githash.MODE_EXECUTABLE else '+x'} {path}",
                     path=path)
        if ours.oid == theirs.oid:
            return count
        if our_kind == "submodule":
            self.add("PV017",
                     f"submodule points to {ours.oid[:12]}, the commit has {theirs.oid[:12]}",
                     "check out the submodule commit the cited commit records", path=path,
                     severity=Severity.ERROR)
            return count + 1
        if ours.raw_oid == theirs.oid:
            self.add("PV016",
                     "identical bytes; git would normalise its line endings on add "
                     "(.gitattributes / core.autocrlf), so a fresh commit would differ", path=path,
                     severity=Severity.INFO)
            return count
        if our_kind == "file" and self._line_endings_only(path, theirs.oid):
            self.add("PV016", f"differs from {where} only in line endings (CRLF vs LF)",
                     "convert the line endings (dos2unix), or add a .gitattributes eol rule",
                     path=path)
            return count + 1
        modified.append((path, theirs))
        return count + 1

    def _line_endings_only(self, path: str, oid: str) -> bool:
        data = (self.dir / path).read_bytes()
        lf = data.replace(b"\r\n", b"\n")
        return oid in {githash.blob_id(lf), githash.blob_id(lf.replace(b"\n", b"\r\n"))}

    def _show_diffs(self, cache: RemoteCache, modified: list[tuple[str, TreeItem]]) -> None:
        wanted = [item.oid for _, item in modified[: self.limits.max_diff_blobs]]
        fetched = True
        if wanted:
            try:
                cache.fetch_blobs(wanted)
            except GitCommandError:
                fetched = False
        for index, (path, item) in enumerate(modified):
            theirs = cache.read_blob(item.oid) if fetched and index < len(wanted) else None
            self.add("PV013", "modified" + self._short_diff(path, item, theirs),
                     "restore the cited version, or cite the commit that has this one",
                     path=path)

    def _short_diff(self, path: str, item: TreeItem, theirs: bytes | None) -> str:
        local_path = self.dir / path
        if theirs is None:
            return " (the commit's version was not fetched: too many changes or offline)"
        if item.mode == githash.MODE_SYMLINK:
            import os

            target = os.readlink(local_path)
            return f": link to {target!r} here, to {theirs.decode(errors='replace')!r} there"
        ours = local_path.read_bytes()
        if b"\0" in ours[:8000] or b"\0" in theirs[:8000] or (
            max(len(ours), len(theirs)) > self.limits.max_diff_blob_bytes
        ):
            return f" (binary or large: {len(theirs)} bytes at the commit, {len(ours)} here)"
        diff = list(difflib.unified_diff(
            theirs.decode("utf-8", "replace").splitlines(),
            ours.decode("utf-8", "replace").splitlines(),
            "commit", "deliverable", n=0, lineterm=""))
        added = sum(1 for d in diff if d.startswith("+") and not d.startswith("+++"))
        removed = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
        shown = [line[:120] for line in diff[2:14]]
        more = "\n    ..." if len(diff) > 14 else ""
        return f": +{added} -{removed} lines\n    " + "\n    ".join(shown) + more

    # -- upstream derivation -----------------------------------------------------------

    def derivation(self, ref: SourceRef, cache: RemoteCache) -> None:
        path = normalise_code_path(ref.code_path) if ref.code_path else "."
        item = self.resolve_code_path(ref, cache, path, allow_file=True)
        if item is None:
            return
        if item.kind == "blob":
            self.add("PV030", f"derivation: the cited file {path!r} exists at "
                     f"{ref.url}@{ref.commit_id[:12]}")
            return
        upstream = {p: i for p, i in cache.list_tree(item.oid).items() if i.kind == "blob"}
        by_oid: dict[str, list[str]] = {}
        by_name: dict[str, list[str]] = {}
        for entry in self.local.entries.values():
            by_oid.setdefault(entry.oid, []).append(entry.path)
            by_name.setdefault(PurePosixPath(entry.path).name, []).append(entry.path)
        unchanged, changed, absent = [], [], []
        for up_path, up in sorted(upstream.items()):
            if up.oid in by_oid:
                ours = by_oid[up.oid]
                unchanged.append(up_path if up_path in ours else f"{up_path} (as {ours[0]})")
            elif up_path in self.local.entries:
                changed.append(up_path)
            elif len(by_name.get(PurePosixPath(up_path).name, [])) == 1:
                changed.append(f"{up_path} (as {by_name[PurePosixPath(up_path).name][0]})")
            else:
                absent.append(up_path)
        source = f"{ref.url}@{ref.commit_id[:12]}"
        for label, names in (("unchanged", unchanged), ("changed", changed),
                             ("not at all", absent)):
            if not names:
                continue
            shown = ", ".join(names[:_LIST_LIMIT])
            more = f" and {len(names) - _LIST_LIMIT} more" if len(names) > _LIST_LIMIT else ""
            self.add("PV030",
                     f"derivation: carries {len(names)} of {len(upstream)} files of {source} "
                     f"{label}: {shown}{more}")

    # -- self reference ----------------------------------------------------------------

    def in_shallow_clone(self) -> bool:
        """Whether the deliverable sits in a shallow clone (``git clone --depth N``, as in CI)."""
        if self._shallow is None:
            answer = gitremote.git_output(["rev-parse", "--is-shallow-repository"], cwd=self.dir)
            self._shallow = (answer or "").strip() == "true"
        return self._shallow

    def home(self, ref: SourceRef) -> HomeRepository | None:
        """The repository the deliverable lives in, when ``ref`` cites it (found once)."""
        if ref.field not in self._homes:
            found = None
            if self.session.toplevel(self.dir) is not None:  # outside any clone: no home
                found = find_home_repository(self.dir, ref.url, ref.commit_id, ref.code_path)
            if found is None:  # e.g. inference code elsewhere in the repository adapted cites
                found = next((home for field, home in self._homes.items()
                              if home is not None and home.has_commit
                              and self._cited[field].url == ref.url
                              and self._cited[field].commit_id == ref.commit_id), None)
            self._homes[ref.field] = found
            self._cited[ref.field] = ref
        return self._homes[ref.field]

    def _uncommitted_self_reference(self, ref: SourceRef, home: HomeRepository,
                                    code_path: str) -> None:
        """An adapted citation of the zoo itself that pins no commit (the pytorch-2022 layout
        writes url + code_path): its code_path must name this folder, which must be committed."""
        head = _flatten(home.top, "HEAD", home.rel, self.is_ignored)
        if code_path_problem(code_path) is None and code_path != home.rel and not (
                home.rel.startswith(code_path + "/")):
            self.add("PV040", f"{ref.field}.code_path is {code_path!r}, but the folder lives at "
                     f"{home.rel!r} of the repository it cites", f"set code_path: {home.rel}",
                     field=f"{ref.field}.code_path", severity=Severity.ERROR)
        state = "is not committed" if head is None else f"is at HEAD ({len(head)} files)"
        self.add("PV040", f"{ref.field} is the repository this folder lives in ({home.top}, "
                 f"recognised by {home.matched_by}); no commit is cited; {home.rel} {state}")

    def guarded(self, ref: SourceRef) -> contextlib.AbstractContextManager[None]:
        """Hold the lock of ``ref``'s cache repository while it is checked (nothing to lock
        for a commit of the enclosing repository, or a url that is refused)."""
        home = self.home(ref) if ref.url else None
        if home is not None and home.has_commit:
            return contextlib.nullcontext()
        try:
            url = gitremote.check_url(ref.url, base=self.dir)
        except gitremote.UnsafeSourceError:
            return contextlib.nullcontext()
        return self.session.locked(url)

    def self_reference(self, ref: SourceRef) -> None:
        home = self.home(ref)
        if home is None:
            return
        top, rel = home.top, home.rel
        code_path = normalise_code_path(ref.code_path or ".")
        if not ref.commit_id:
            self._uncommitted_self_reference(ref, home, code_path)
            return
        if code_path != rel:
            self.add("PV040",
                     f"{ref.field}.code_path is {code_path!r}, but the deliverable lives at "
                     f"{rel!r} of the repository it cites", f"set code_path: {rel}",
                     field=f"{ref.field}.code_path", severity=Severity.ERROR)
        cited = _flatten(top, ref.commit_id, code_path, self.is_ignored)
        head = _flatten(top, "HEAD", rel, self.is_ignored)
        working = {p: (e.mode, e.oid) for p, e in self.local.entries.items()}
        if cited is None:
            state = "the cited commit is not in this clone (fetch it to compare)"
        else:
            committed = "matches" if head == cited else "differs from"
            work = "matches" if working == cited else "differs from"
            state = f"HEAD:{rel} {committed} the cited commit; the working tree {work} it"
        self.add("PV040", f"{ref.field} is the repository this deliverable lives in ({top}, "
                 f"recognised by {home.matched_by}): {state}")
        if head is not None and working != head:
            changed = sorted(set(working.items()) ^ set(head.items()))
            names = sorted({p for p, _ in changed})
            self.add("PV041", f"uncommitted changes in {rel}: {', '.join(names[:_LIST_LIMIT])}",
                     "commit them, push, then cite the new commit")
        if cited is not None and working == cited:
            return
        suggestion = suggest_commit(self.dir, self.deliverable, role=ref.field.split(".")[-1],
                                    extra_ignore=self.patterns)
        if suggestion is not None:
            self.add("PV042", suggestion.message, suggestion.hint,
                     field=f"{ref.field}.commit_id")


def _source_name(ref: SourceRef, cache: RemoteCache) -> str:
    if isinstance(cache, EnclosingRepository):
        return f"the enclosing repository {cache.home.top}"
    return ref.url


def yaml_lines(path: Path) -> dict[str, int]:
    """Dotted key path (``overview.adapted.commit_id``) -> 1-based line in a YAML file, so a
    finding about the metadata points at the line to edit. Empty when unreadable."""
    import yaml

    from modelzoo_kit.errors import InputFileError
    from modelzoo_kit.inputs import MAX_YAML_BYTES, read_text
    from modelzoo_kit.loading import compose_yaml

    try:
        root = compose_yaml(read_text(path, MAX_YAML_BYTES, within=path.parent))
    except (InputFileError, yaml.YAMLError):
        return {}
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = f"{prefix}.{key.value}" if prefix else str(key.value)
                lines[name] = key.start_mark.line + 1
                walk(value, name)

    walk(root, "")
    return lines


@dataclass(frozen=True)
class Suggestion:
    """The commit a self-referencing deliverable should cite (None: commit first)."""

    commit: str | None
    pushed: bool
    message: str
    hint: str
    already_cited: bool = False


@dataclass(frozen=True)
class HomeRepository:
    """The work tree a deliverable lives in, when it is the repository the metadata cites."""

    top: Path
    rel: str  # the deliverable's folder inside it ("." for the root)
    #: where "pushed to the cited branch" is looked up: refs/remotes/<r>/ or refs/heads/
    refs: tuple[str, ...]
    #: whether the cited commit is in this repository (then nothing needs the network)
    has_commit: bool = False
    #: how it was recognised, in words for a report
    matched_by: str = ""


def find_home_repository(folder: Path, url: str, commit_id: str = "",
                         code_path: str | None = None) -> HomeRepository | None:
    """The repository ``folder`` lives in (found by walking up, read only), when it is the one
    the citation names: ``url`` is one of its remotes or its own path, or — the project's
    public url being unreachable or unknown here — it holds the cited commit and ``folder``
    sits exactly at ``code_path`` in it."""
    top_text = gitremote.git_output(["rev-parse", "--show-toplevel"], cwd=folder)
    if not top_text:
        return None
    top = Path(top_text.strip())
    rel = Path(folder).resolve().relative_to(top.resolve()).as_posix()
    rel = rel if rel not in ("", ".") else "."
    commit = commit_id.strip().lower()
    has_commit = bool(_HEX_ID.match(commit)) and gitremote.git_output(
        ["cat-file", "-e", f"{commit}^{{commit}}"], cwd=top) is not None
    wanted = url_key(url) if url else None
    if wanted is not None and wanted == url_key(str(top)):
        return HomeRepository(top, rel, ("refs/heads/",), has_commit, "its own path")
    remotes = gitremote.git_output(["config", "--get-regexp", r"^remote\..*\.url$"], cwd=top)
    names = []
    for line in (remotes or "").splitlines():
        key, _, remote_url = line.partition(" ")
        name = key[len("remote."):-len(".url")]
        names.append(name)
        if wanted is not None and remote_url and url_key(remote_url) == wanted:
            return HomeRepository(top, rel, (f"refs/remotes/{name}/",), has_commit,
                                  f"its remote {name!r}")
    if (has_commit and code_path and code_path_problem(code_path) is None
            and normalise_code_path(code_path) == rel):
        refs = tuple(f"refs/remotes/{n}/" for n in names) or ("refs/heads/",)
        return HomeRepository(top, rel, refs, True, "the cited commit and code_path")
    return None


def _on_branch(top: Path, commit: str, prefixes: Iterable[str], branch: str) -> bool:
    """Whether ``commit`` is an ancestor of ``<prefix><branch>`` for one of the prefixes."""
    return any(gitremote.git_output(["merge-base", "--is-ancestor", commit, prefix + branch],
                                    cwd=top) is not None for prefix in prefixes)


class EnclosingRepository(RemoteCache):
    """The repository a deliverable lives in, read in place as if it were the cache of the
    url it cites: every object is already here, so nothing is fetched and nothing needs the
    network. Only read-only commands run in it (``cat-file``, ``ls-tree``, ``for-each-ref``,
    ``merge-base``); its index, refs and working tree are never written."""

    def __init__(self, home: HomeRepository, limits: FetchLimits):
        super().__init__(home.top, str(home.top), limits, offline=True)
        self.path = home.top
        self.home = home
        self._config = ()  # no url of its own: no per-source transport settings

    def exists(self) -> bool:
        return True

    def create(self) -> None:
        """Nothing to create: the repository is the user's, and is never written."""

    def branch_refs(self, branch: str) -> list[str]:
        """The local branch and the remote-tracking branches named ``branch``."""
        out = gitremote.git_output(
            ["for-each-ref", "--format=%(refname)", f"refs/heads/{branch}",
             f"refs/remotes/*/{branch}"], cwd=self.path) or ""
        return [ref for ref in out.split() if ref == f"refs/heads/{branch}"
                or (ref.startswith("refs/remotes/") and ref.endswith("/" + branch)
                    and ref.count("/") == 3 + branch.count("/"))]

    def is_ancestor(self, commit: str, branch: str) -> bool:
        return _on_branch(self.path, commit, self.branch_refs(branch), "")

    def branch_names(self) -> list[str]:
        """Local branch names and remote-tracking names without their remote (``feature/x``)."""
        out = gitremote.git_output(["for-each-ref", "--format=%(refname)", "refs/heads/",
                                    "refs/remotes/"], cwd=self.path) or ""
        names = []
        for ref in out.split():
            if ref.startswith("refs/heads/"):
                names.append(ref[len("refs/heads/"):])
            elif ref.count("/") >= 3:
                names.append(ref.split("/", 3)[3])
        return names

    def branches_containing(self, commit: str) -> list[str]:
        out = gitremote.git_output(["for-each-ref", "--format=%(refname:short)", "--contains",
                                    commit, "refs/heads/", "refs/remotes/"], cwd=self.path) or ""
        return [name for name in out.split() if not name.endswith("/HEAD")]


def _flatten(repo: Path, commit: str, path: str, is_ignored: Callable[[str], bool]
             ) -> dict[str, tuple[str, str]] | None:
    """``commit:path`` of a local repository as path -> (mode, oid), ignored paths left out."""
    spec = f"{commit}:{path}" if path != "." else f"{commit}^{{tree}}"
    out = gitremote.git_output(["ls-tree", "-r", "-z", "--full-tree", spec], cwd=repo)
    if out is None:
        return None
    flat = {}
    for record in out.split("\0"):
        if record:
            meta, _, name = record.partition("\t")
            mode, _, oid = meta.split()
            if not is_ignored(name):
                flat[name] = (mode, oid)
    return flat


def hash_working_folder(folder: Path, is_ignored: Callable[[str], bool],
                        session: ProvenanceSession | None = None
                        ) -> tuple[githash.LocalTree, set[str]]:
    """The folder as git would commit it, and the paths git ignores in it.

    Left out: the deliverable's own ignore patterns (``is_ignored``) and whatever git itself
    would not add (.gitignore, excludes: ``__pycache__`` and the like), with line endings as the
    user's ``core.autocrlf`` would commit them. The check and ``suggest_commit`` must see the
    same folder, or a byte-code cache makes one call a clean tree "uncommitted changes"."""
    if session is None:
        gitignored = gitremote.gitignored_paths(folder) or set()
        autocrlf = gitremote.user_autocrlf(folder)
    else:
        top = session.toplevel(folder)
        scratch = session.scratch_git_dir() if top is None else None
        gitignored = gitremote.gitignored_paths(folder, top, scratch) or set()
        autocrlf = session.autocrlf(folder, top)

    def exclude(path: str) -> bool:
        return is_ignored(path) or path.rstrip("/") in gitignored

    local = githash.hash_folder(folder, exclude=exclude, autocrlf=autocrlf)
    return local, gitignored


def suggest_commit(deliverable_dir: Path, deliverable: Any, role: str = "adapted",
                   extra_ignore: Iterable[str] = ()) -> Suggestion | None:
    """Which commit a deliverable living in the repository it cites should cite.

    The answer is the last commit that changed the folder's non-ignored files, provided the
    working tree equals it; otherwise the user must commit first."""
    ref = cited_sources(deliverable).get(role)
    if ref is None:
        return None
    home = find_home_repository(Path(deliverable_dir), ref.url, ref.commit_id, ref.code_path)
    if home is None:
        return None
    top, rel = home.top, home.rel
    patterns = ignore_patterns(deliverable, extra_ignore)
    is_ignored = make_ignore(patterns)
    local, _ = hash_working_folder(Path(deliverable_dir), is_ignored)
    working = {p: (e.mode, e.oid) for p, e in local.entries.items()}
    head = _flatten(top, "HEAD", rel, is_ignored)
    if head is None:
        return Suggestion(None, False, "nothing committed yet in this repository",
                          f"commit {rel}, push it, then cite the commit")
    if working != head:
        return Suggestion(None, False, f"{rel} has uncommitted changes, so no commit holds it",
                          "commit them and push; then `modelzoo provenance --suggest` names it")
    if ref.commit_id and _flatten(top, ref.commit_id, rel, is_ignored) == working:
        pushed = _on_branch(top, ref.commit_id, home.refs, ref.branch)
        return Suggestion(ref.commit_id, pushed, "the cited commit already holds exactly this "
                          "folder", "nothing to change", already_cited=True)
    excludes = [f":(exclude,glob){rel}/{p.rstrip('/')}" if rel != "." else f":(exclude,glob){p}"
                for p in patterns]
    excludes += [f":(exclude,glob){rel}/**/{p.rstrip('/')}" for p in patterns
                 if "/" not in p.rstrip("/") and rel != "."]
    out = gitremote.git_output(["log", "-1", "--format=%H", "HEAD", "--", rel, *excludes],
                               cwd=top)
    commit = (out or "").strip()
    if not commit or _flatten(top, commit, rel, is_ignored) != head:
        commit = (gitremote.git_output(["rev-parse", "HEAD"], cwd=top) or "").strip()
    pushed = _on_branch(top, commit, home.refs, ref.branch)
    hint = f"set overview.{role}.commit_id: {commit}"
    if not pushed:
        hint += f" (push it to {ref.branch!r} first, so others can fetch it)"
    return Suggestion(commit, pushed, f"cite commit {commit}: the last commit that changed "
                      f"{rel} and equals the working tree", hint)


def check_provenance(
    deliverable_dir: Path,
    deliverable: Any,
    cache_dir: Path | None = None,
    offline: bool = False,
    *,
    extra_ignore: Iterable[str] = (),
    limits: FetchLimits | None = None,
    strict: bool = False,
    session: ProvenanceSession | None = None,
    citations: CitationSet | None = None,
) -> list[Finding]:
    """Every provenance finding for one deliverable (see the module docstring for rule ids).

    ``cache_dir`` keeps what was fetched, so a second check is near-instant and ``offline``
    works; without it a temporary cache is used and removed. A reference that cannot be
    checked for want of a network is a PV060 warning, or an error when ``strict``. A commit
    of the repository the deliverable lives in is checked there, without the network. The
    deliverable folder and the user's repositories are only read, never written.

    ``session`` (which then decides cache, offline, limits and strict) is shared by the checks
    of a whole zoo; ``citations`` are the README's, when the folder has no deliverable.yaml."""
    with ExitStack() as stack:
        if session is None:
            if cache_dir is None:
                cache_dir = Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="modelzoo-provenance-")))
            session = ProvenanceSession(Path(cache_dir), offline, limits, strict)
        return run_checker(Path(deliverable_dir), deliverable, session, extra_ignore,
                           citations).findings


@dataclass(frozen=True)
class CheckedFolder:
    """One folder's provenance findings, and which of them are about each cited role."""

    findings: list[Finding]
    by_role: dict[str, list[Finding]]
    resolved: dict[str, SourceRef]


def run_checker(folder: Path, deliverable: Any, session: ProvenanceSession,
                extra_ignore: Iterable[str] = (), citations: CitationSet | None = None
                ) -> CheckedFolder:
    """Check one folder in ``session``; the findings with their roles (for zoo summaries)."""
    checker = _Checker(Path(folder), deliverable, session, extra_ignore, citations)
    _run_checks(checker)
    return CheckedFolder(checker.findings, checker.by_role, checker.resolved)


def check_citations(citations: CitationSet, session: ProvenanceSession,
                    extra_ignore: Iterable[str] = ()) -> CheckedFolder:
    """The provenance findings of a folder's citations, wherever they were read from; a
    PV061 finding saying why when none could be read (never silence)."""
    if citations.problem is not None:
        checker = _Checker(citations.folder, {}, session, extra_ignore, citations)
        checker.add("PV061", f"provenance not checked: {citations.problem}",
                    "fix the file, or cite the sources as url, commit_id (and branch, "
                    "code_path)" + ("" if session.strict else " (--strict makes this an error)"),
                    severity=Severity.ERROR if session.strict else Severity.WARNING)
        return CheckedFolder(checker.findings, {}, {})
    deliverable = citations.deliverable if citations.deliverable is not None else (
        citations.as_overview())
    return run_checker(citations.folder, deliverable, session, extra_ignore, citations)


def _run_checks(checker: _Checker) -> None:
    sources = cited_sources(checker.deliverable)
    adapted, inference = sources.get("adapted"), sources.get("inference")
    if adapted is None:
        checker.add("PV050", "the deliverable cites no adapted source "
                    "(overview.adapted)", "cite url, branch, commit_id and code_path")
    if adapted is not None and inference is not None:
        for name in ("url", "branch", "commit_id"):
            a, b = getattr(adapted, name), getattr(inference, name)
            if a != b:
                checker.add("PV020", f"training and inference code cite different {name}s: {a!r} "
                            f"(overview.adapted) vs {b!r} (overview.inference)",
                            "the template requires both from the same source",
                            field=f"overview.inference.{name}")
    if adapted is not None:
        checker.role = "adapted"
        with checker.guarded(adapted):
            cache = checker.verify(adapted)
            adapted = checker.resolved.get(adapted.field, adapted)
            if cache is not None:
                item = checker.resolve_code_path(adapted, cache, adapted.code_path or ".")
                if item is not None:
                    checker.compare(adapted, cache, item)
            checker.remember(adapted.field)
        checker.self_reference(adapted)
    if inference is not None and (adapted is None or not inference.same_source(adapted)
                                  or inference.code_path != adapted.code_path):
        checker.role = "inference"
        with checker.guarded(inference):
            cache = checker.verify(inference)
            inference = checker.resolved.get(inference.field, inference)
            if cache is not None:
                checker.resolve_code_path(inference, cache, inference.code_path or ".")
            checker.remember(inference.field)
    reference = sources.get("reference")
    if reference is not None:
        checker.role = "reference"
        with checker.guarded(reference):
            cache = checker.verify(reference)
            reference = checker.resolved.get(reference.field, reference)
            if cache is not None:
                checker.derivation(reference, cache)
            checker.remember(reference.field)
