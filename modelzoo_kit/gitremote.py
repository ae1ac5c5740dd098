"""Fetch just enough of a remote repository, safely, into a cache we own.

The url comes from a metadata file somebody else wrote, so it is untrusted:

* transports that run commands (``ext::``, ``fd::``, any ``<helper>::`` remote helper) and
  option-like urls (``-…``, ``--upload-pack=…``, an ssh host starting with ``-``) are refused
  before git sees them; git is also run with ``protocol.ext.allow=never`` and
  ``protocol.fd.allow=never``, which also covers a url rewritten by ``insteadOf``;
* the url only ever reaches git through ``remote.origin.url`` of our cache repository, never as a
  command-line argument;
* every command goes through :func:`modelzoo_kit.gitrun.run_git`: no hooks (and the cache is
  created without templates), no fsmonitor, pager, askpass or credential helper, no prompt, a
  wall-clock limit, an output limit, and for fetches a size limit (the incoming objects are
  watched, and the fetch is killed when they pass it);
* everything else is the user's own git configuration (not the system's), so
  ``url.<base>.insteadOf`` mirrors and ssh keys work as with git; credentials come from an
  ssh agent or the url itself (masked wherever it is printed), never from a helper.

What is fetched (the repository is never cloned whole):

* the branch's *commits* only (``--filter=tree:0``): enough to prove a commit is on a branch;
* the trees of the one cited commit (``--filter=blob:none``): enough to compare object ids;
* single blobs, on demand, when a diff has to be shown.

A second check of the same commit reuses the cache and only asks the remote for its branch head
(``ls-remote``); ``offline`` mode never touches the network at all.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from modelzoo_kit.errors import ModelzooError
from modelzoo_kit.gitrun import (  # also re-exported: callers import them from here
    GitCommandError,
    git_output,
    run_git,
)
from modelzoo_kit.gitrun import folder_size as _folder_size

#: Transport names git runs as plain network/file protocols; ``x::`` with any other x runs a
#: remote-helper program, ``ext::`` even an arbitrary shell command.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_ALLOWED_SCHEMES = {"https", "http", "ssh", "git", "file", "git+ssh", "ssh+git"}
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?([^/:]+):(.+)$")
_LOCAL_UPLOAD_PACK = (
    "git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack"
)


class UnsafeSourceError(ModelzooError, ValueError):
    """The url (or path) would make git run a program, or is not a repository address."""


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on what one check may cost."""

    timeout_s: float = 300.0
    max_bytes: int = 2 * 1024**3
    max_diff_blobs: int = 40
    max_diff_blob_bytes: int = 1024**2


def check_url(url: str, base: Path | None = None) -> str:
    """Return the url git should use, or raise :class:`UnsafeSourceError`.

    A local path (absolute, or relative to ``base``) becomes an absolute path."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeSourceError("the url is empty")
    if url != url.strip() or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise UnsafeSourceError(f"url {url!r} contains spaces at its ends or control characters")
    if url.startswith("-"):
        raise UnsafeSourceError(f"url {url!r} looks like a command-line option")
    scheme = _SCHEME.match(url)
    if scheme:
        name = scheme.group(1).lower()
        if name not in _ALLOWED_SCHEMES:
            raise UnsafeSourceError(f"url {url!r} uses transport {name!r}, which git may run "
                                    "as a program; use https://, ssh:// or file://")
        host = url[scheme.end():]
        if host.startswith("-") or "@-" in host.split("/", 1)[0]:
            raise UnsafeSourceError(f"url {url!r} has a host that looks like an option")
        return url
    if "::" in url:
        helper = url.split("::", 1)[0]
        raise UnsafeSourceError(
            f"url {url!r} uses the remote helper {helper!r}::, which runs a program; refused"
        )
    scp = _SCP_LIKE.match(url)
    if scp and "/" not in url.split(":", 1)[0]:
        if scp.group(1).startswith("-"):
            raise UnsafeSourceError(f"url {url!r} has a host that looks like an option")
        return url
    path = Path(url)
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return str(path.resolve())


def is_local(url: str) -> bool:
    return url.startswith("file://") or url.startswith("/")


def _advertises_filter(packets: str) -> bool | None:
    """Whether a GIT_TRACE_PACKET log of ls-remote shows the ``filter`` capability
    (protocol v2: ``fetch=... filter``; v0: on the first ref line). None: no advertisement."""
    seen = False
    for line in packets.splitlines():
        if "< fetch=" in line or "< fetch" == line.rstrip()[-7:]:
            seen = True
            if " filter" in line.split("< fetch", 1)[1]:
                return True
        elif "\\0" in line and "ls-remote<" in line:
            seen = True
            return " filter" in line.split("\\0", 1)[1]
    return False if seen else None


@dataclass(frozen=True)
class TreeItem:
    path: str
    mode: str
    kind: str  # blob | tree | commit
    oid: str


class RemoteCache:
    """A bare, partial repository in the cache that mirrors what we fetched of one url."""

    def __init__(self, cache_dir: Path, url: str, limits: FetchLimits, offline: bool = False,
                 key: str | None = None):
        """``key`` names the repository (equal for the spellings of one url; default: the url
        itself), so its cache is shared by every citation of it."""
        self.url = url
        self.limits = limits
        self.offline = offline
        key = hashlib.sha256((key or url).encode()).hexdigest()[:20]
        self.path = Path(cache_dir) / f"{key}.git"
        self.bytes_fetched = 0
        self.fetches = 0
        self._config: tuple[str, ...] | None = None
        #: whether the remote serves partial fetches (None until ``remote_heads`` asked it)
        self.supports_filter: bool | None = None
        #: tag name -> the commit it points to, as the remote advertised (``remote_heads``)
        self.remote_tags: dict[str, str] = {}
        self._fetched_all = False

    # -- setup -------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.path / "HEAD").is_file()

    def create(self) -> None:
        if self.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        run_git(["init", "--bare", "--quiet", "--template=", str(tmp)], timeout_s=30)
        run_git(["config", "remote.origin.url", self.url], cwd=tmp)
        run_git(["config", "remote.origin.tagOpt", "--no-tags"], cwd=tmp)
        try:
            os.replace(tmp, self.path)
        except OSError:  # another process created it first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)

    def effective_url(self, repo: Path | None = None) -> str:
        """The url after the user's ``url.<base>.insteadOf`` rewriting."""
        out = git_output(["ls-remote", "--get-url", "origin"], cwd=repo or self.path)
        return (out or self.url).strip()

    @property
    def config(self) -> tuple[str, ...]:
        """Per-command settings for this source. Untrusted urls run with
        ``GIT_PROTOCOL_FROM_USER=0``, under which git (>= 2.38.1) refuses ``file://``; a local
        source is what the user asked for, so it is allowed, unless the user's own config
        says otherwise about ``protocol.file.allow`` or ``protocol.allow``."""
        if self._config is None:
            config: list[str] = []
            if is_local(self.effective_url()):
                own = [git_output(["config", "--get", key], cwd=self.path)
                       for key in ("protocol.file.allow", "protocol.allow")]
                if not any(own):
                    config += ["-c", "protocol.file.allow=always"]
                # A local source serves partial fetches and fetch-by-id only when its
                # upload-pack allows them; here we start that upload-pack ourselves (a remote
                # server decides for itself). Per command, so a url later rewritten to ssh
                # never sends this command line to a server.
                if not git_output(["config", "--get", "remote.origin.uploadpack"],
                                  cwd=self.path):
                    config += ["-c", "remote.origin.uploadpack=" + _LOCAL_UPLOAD_PACK]
            self._config = tuple(config)
        return self._config

    def _git(self, args: list[str], *, network: bool = False, **kw) -> bytes:
        result = run_git(args, cwd=self.path, timeout_s=self.limits.timeout_s,
                         offline=self.offline or not network, config=self.config, **kw)
        return result.stdout

    def _fetch(self, args: list[str], stdin: bytes | None = None, negotiate: bool = True) -> None:
        """Run one bounded fetch. ``negotiate=False`` tells the remote we have nothing, so it
        sends an object we asked for even if it is reachable from commits we hold (a partial
        clone holds commits without their trees)."""
        if self.offline:
            raise GitCommandError("offline: nothing may be fetched", "network")
        before = _folder_size(self.path / "objects")
        prefix = [] if negotiate else ["-c", "fetch.negotiationAlgorithm=noop"]
        run_git(
            [*prefix, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
             "--recurse-submodules=no", *args],
            cwd=self.path, timeout_s=self.limits.timeout_s, stdin=stdin,
            watch=self.path / "objects", max_bytes=self.limits.max_bytes, config=self.config,
        )
        self.fetches += 1
        self.bytes_fetched += max(0, _folder_size(self.path / "objects") - before)

    # -- refs and commits ---------------------------------------------------------------

    def remote_heads(self) -> dict[str, str]:
        """Branch name -> head commit, asked of the remote (raises GitCommandError).

        Also learns from the capability advertisement whether the remote serves partial
        fetches (``filter``): one that does not would send every blob of the history."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="modelzoo-trace-") as tmp:
            trace = Path(tmp) / "packets"
            out = run_git(["ls-remote", "--heads", "--tags", "origin"], cwd=self.path,
                          timeout_s=self.limits.timeout_s, offline=self.offline,
                          config=self.config, extra_env={"GIT_TRACE_PACKET": str(trace)}
                          ).stdout.decode()
            packets = trace.read_text(errors="replace") if trace.exists() else ""
        self.supports_filter = _advertises_filter(packets)
        heads: dict[str, str] = {}
        tags: dict[str, str] = {}
        for line in out.splitlines():
            oid, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                heads[ref[len("refs/heads/"):]] = oid
            elif ref.startswith("refs/tags/"):
                name = ref[len("refs/tags/"):]
                if name.endswith("^{}"):  # an annotated tag, peeled: the commit it tags
                    tags[name[:-3]] = oid
                else:
                    tags.setdefault(name, oid)
        self.remote_tags = tags
        return heads

    def cached_heads(self) -> dict[str, str]:
        out = git_output(["for-each-ref", "--format=%(objectname) %(refname)",
                          "refs/remotes/origin/"], cwd=self.path) or ""
        heads = {}
        for line in out.splitlines():
            oid, _, ref = line.partition(" ")
            heads[ref[len("refs/remotes/origin/"):]] = oid
        return heads

    def fetch_branch(self, branch: str, head: str | None = None) -> None:
        """Fetch the branch's commits (no trees, no blobs) unless the cache already has head."""
        if head is not None and self.cached_heads().get(branch) == head:
            return
        self._fetch(["--filter=tree:0", "origin",
                     f"+refs/heads/{branch}:refs/remotes/origin/{branch}"])

    def fetch_all_branches(self) -> None:
        """Every branch's and tag's commits (no trees, no blobs), once per cache object: enough
        to say which branches and tags contain a commit."""
        if self._fetched_all:
            return
        self._fetch(["--filter=tree:0", "origin", "+refs/heads/*:refs/remotes/origin/*",
                     "+refs/tags/*:refs/tags/*"])
        self._fetched_all = True

    def fetch_commit(self, commit: str) -> bool:
        """Fetch one commit by id (and its history, without trees); False when the remote
        does not have it or will not serve it."""
        try:
            self._fetch(["--filter=tree:0", "origin", commit])
        except GitCommandError as exc:
            if exc.kind in ("network", "timeout", "too-large", "auth"):
                raise
            return False
        return self.has_object(commit)

    def has_object(self, oid: str) -> bool:
        """Whether the cache holds the object itself (never fetches it)."""
        result = run_git(["cat-file", "-e", oid], cwd=self.path, offline=True, check=False)
        return result.returncode == 0

    def object_type(self, spec: str) -> str | None:
        out = git_output(["cat-file", "-t", spec], cwd=self.path)
        return out.strip() if out else None

    def is_ancestor(self, commit: str, branch: str) -> bool:
        result = run_git(["merge-base", "--is-ancestor", commit, f"refs/remotes/origin/{branch}"],
                         cwd=self.path, offline=True, check=False,
                         timeout_s=self.limits.timeout_s)
        return result.returncode == 0

    def branches_containing(self, commit: str) -> list[str]:
        out = git_output(["for-each-ref", "--format=%(refname)", "--contains", commit,
                          "refs/remotes/origin/"], cwd=self.path) or ""
        return [line[len("refs/remotes/origin/"):] for line in out.split()]

    def tags_containing(self, commit: str) -> list[str]:
        out = git_output(["for-each-ref", "--format=%(refname)", "--contains", commit,
                          "refs/tags/"], cwd=self.path) or ""
        return [line[len("refs/tags/"):] for line in out.split()]

    def commit_date(self, commit: str) -> str:
        """The committer date (UTC, ISO) read from the commit object alone."""
        body = git_output(["cat-file", "commit", commit], cwd=self.path) or ""
        for line in body.splitlines():
            if line.startswith("committer "):
                stamp = int(line.rsplit(" ", 2)[1])
                return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            if not line:
                break
        return "date unknown"

    # -- trees and blobs ----------------------------------------------------------------

    def ensure_trees(self, commit: str) -> str:
        """Make every tree of ``commit`` local (no blobs) and return its root tree id."""
        body = self._git(["cat-file", "commit", commit]).decode("utf-8", errors="replace")
        root = body.split("\n", 1)[0].split()[1]
        if not self.has_object(root):
            self._fetch(["--filter=blob:none", "origin", root], negotiate=False)
        return root

    def resolve(self, commit: str, path: str) -> TreeItem | None:
        """The object at ``commit:path`` (``.`` = the root), or None when there is none."""
        if path in ("", "."):
            return TreeItem(".", "40000", "tree", self.ensure_trees(commit))
        self.ensure_trees(commit)
        return next((item for item in self._ls_tree(commit, "--", path) if item.path == path),
                    None)

    def _ls_tree(self, *options: str) -> Iterator[TreeItem]:
        """The records of ``git ls-tree -z OPTIONS``, parsed."""
        out = self._git(["ls-tree", "-z", "--full-tree", *options]).decode(
            "utf-8", "surrogateescape")
        for record in out.split("\0"):
            if record:
                meta, _, path = record.partition("\t")
                mode, kind, oid = meta.split()
                yield TreeItem(path, mode, kind, oid)

    def list_tree(self, tree: str) -> dict[str, TreeItem]:
        """Every blob, link and gitlink below ``tree`` (recursive), by path relative to it."""
        return {item.path: item for item in self._ls_tree("-r", tree)}

    def list_subtrees(self, tree: str) -> dict[str, str]:
        """Every folder below ``tree`` -> its tree id (to find a moved code_path)."""
        return {item.path: item.oid for item in self._ls_tree("-r", "-t", tree)
                if item.kind == "tree"}

    def fetch_blobs(self, oids: list[str]) -> None:
        """Fetch the given blobs (one request), skipping those already cached."""
        missing = [oid for oid in oids if not self.has_object(oid)]
        if missing:
            self._fetch(["--filter=blob:none", "--stdin", "origin"],
                        stdin=("\n".join(missing) + "\n").encode(), negotiate=False)

    def read_blob(self, oid: str) -> bytes | None:
        result = run_git(["cat-file", "blob", oid], cwd=self.path, offline=True, check=False)
        return result.stdout if result.returncode == 0 else None


def toplevel(folder: Path) -> str | None:
    """The top folder of the work tree ``folder`` is in, or None outside any."""
    out = git_output(["rev-parse", "--show-toplevel"], cwd=folder)
    return out.strip() if out is not None else None


def gitignored_paths(folder: Path, top: str | None | bool = True,
                     scratch: Path | None = None) -> set[str] | None:
    """Paths under ``folder`` (relative, POSIX) that git would not add: ignored by .gitignore,
    global excludes, or ``info/exclude`` of the repository it lives in; None when git cannot
    tell. Uses the enclosing repository when there is one, else a throwaway empty git dir, so
    the user's folder is never written to. Tracked files are never reported as ignored.

    ``top``: the enclosing work tree when the caller knows it (None: there is none; True: look
    it up); ``scratch``: an empty bare git dir to reuse outside a repository (a zoo's worth of
    folders need not each create one)."""
    import tempfile

    folder = Path(folder).resolve()
    args = ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory", "."]
    if top is True:
        top = toplevel(folder)
    if top:
        out = git_output(args, cwd=folder)
    elif scratch is not None:
        out = git_output([f"--git-dir={scratch}", f"--work-tree={folder}", *args], cwd=folder)
    else:
        with tempfile.TemporaryDirectory(prefix="modelzoo-ignore-") as tmp:
            run_git(["init", "--quiet", "--bare", "--template=", tmp], timeout_s=30, offline=True)
            out = git_output([f"--git-dir={tmp}", f"--work-tree={folder}", *args], cwd=folder)
    if out is None:
        return None
    return {p.rstrip("/") for p in out.split("\0") if p}


def user_autocrlf(folder: Path) -> str | None:
    """The user's ``core.autocrlf`` as git would read it for ``folder`` (from the user's and
    the repository's config: the runner never reads the system config, where Git for Windows
    puts ``autocrlf=true``; a user who relies on it sets it with ``git config --global``)."""
    out = git_output(["config", "--get", "core.autocrlf"], cwd=folder)
    return out.strip().lower() if out else None
