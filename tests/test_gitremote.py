"""Fetching safely: refused urls, no hooks, the user's config, time and size bounds."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import git
import pytest

from modelzoo_kit import gitremote
from modelzoo_kit.gitremote import FetchLimits, GitCommandError, RemoteCache, UnsafeSourceError

IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.org"]


def make_repo(path: Path, files: dict[str, bytes]) -> str:
    repo = git.Repo.init(path, initial_branch="main")
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    repo.git.add("-A")
    repo.git.execute(["git", *IDENTITY, "commit", "-q", "--no-verify", "-m", "one"])
    return repo.head.commit.hexsha


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A global git config of the test's own, as the user's ~/.gitconfig."""
    config = tmp_path / "user.gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    return config


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/o/r.git",
        "http://mirror.local/zoo",
        "ssh://git@host:22/o/r",
        "git@gitee.com:ascend/ModelZoo-PyTorch.git",
        "file:///srv/zoo.git",
        "/srv/zoo.git",
    ],
)
def test_ordinary_urls_are_accepted(url: str) -> None:
    assert gitremote.check_url(url) == url


def test_relative_path_is_resolved_against_the_base(tmp_path: Path) -> None:
    assert gitremote.check_url("../zoo", base=tmp_path / "d") == str(tmp_path / "zoo")


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "fd::3,4",
        "foo::bar",
        "-oProxyCommand=touch /tmp/pwned",
        "--upload-pack=touch /tmp/pwned",
        "ssh://-oProxyCommand=touch/x",
        "ssh://user@-oProxyCommand=x/y",
        "user@-oProxyCommand=x:repo",
        "gopher://host/x",
        "https://host/x\nexec",
        " https://host/x",
        "",
    ],
)
def test_dangerous_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeSourceError):
        gitremote.check_url(url)


def test_insteadof_rewriting_to_ext_is_blocked_by_git(tmp_path: Path, user_config: Path) -> None:
    sentinel = tmp_path / "pwned"
    user_config.write_text(
        f'[url "ext::sh -c touch% {sentinel}% "]\n\tinsteadOf = https://evil.example/\n')
    cache = RemoteCache(tmp_path / "cache", "https://evil.example/repo.git", FetchLimits())
    cache.create()
    with pytest.raises(GitCommandError) as failure:
        cache.remote_heads()
    assert "not allowed" in failure.value.stderr
    assert not sentinel.exists()


def test_insteadof_mirror_applies(tmp_path: Path, user_config: Path) -> None:
    head = make_repo(tmp_path / "mirror", {"a.txt": b"a\n"})
    user_config.write_text(f'[url "{tmp_path / "mirror"}"]\n\tinsteadOf = https://zoo.example/m\n')
    cache = RemoteCache(tmp_path / "cache", "https://zoo.example/m", FetchLimits())
    cache.create()
    assert cache.remote_heads() == {"main": head}


def test_users_own_protocol_restriction_is_kept(tmp_path: Path, user_config: Path) -> None:
    make_repo(tmp_path / "src", {"a.txt": b"a\n"})
    user_config.write_text("[protocol \"file\"]\n\tallow = never\n")
    cache = RemoteCache(tmp_path / "cache", f"file://{tmp_path / 'src'}", FetchLimits())
    cache.create()
    with pytest.raises(GitCommandError):
        cache.remote_heads()


def hook_config(tmp_path: Path, sentinel: Path) -> str:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("reference-transaction", "post-checkout", "post-merge"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\ntouch {sentinel}\n")
        hook.chmod(0o755)
    template = tmp_path / "template"
    (template / "hooks").mkdir(parents=True)
    (template / "hooks" / "reference-transaction").write_text(f"#!/bin/sh\ntouch {sentinel}\n")
    (template / "hooks" / "reference-transaction").chmod(0o755)
    return f"[core]\n\thooksPath = {hooks}\n[init]\n\ttemplateDir = {template}\n"


def test_hooks_never_run(tmp_path: Path, user_config: Path) -> None:
    head = make_repo(tmp_path / "src", {"a.txt": b"a\n"})
    sentinel = tmp_path / "hook-ran"
    user_config.write_text(hook_config(tmp_path, sentinel))
    cache = RemoteCache(tmp_path / "cache", str(tmp_path / "src"), FetchLimits())
    cache.create()
    cache.fetch_branch("main", head)
    cache.ensure_trees(head)
    assert cache.has_object(head)
    assert not sentinel.exists()
    # the same configuration does run hooks for a plain git fetch: the test can fail
    plain = tmp_path / "plain"
    subprocess.run(["git", "init", "-q", str(plain)], check=True)
    subprocess.run(["git", "-C", str(plain), "fetch", "-q", str(tmp_path / "src"),
                    "main:refs/heads/x"], check=True)
    assert sentinel.exists()


def test_commands_are_stopped_at_the_time_limit(tmp_path: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(GitCommandError) as failure:
        gitremote.run_git(["-c", "alias.slow=!sleep 20", "slow"], cwd=tmp_path, timeout_s=0.5)
    assert failure.value.kind == "timeout"
    assert time.perf_counter() - start < 5


def test_fetches_are_stopped_at_the_size_limit(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "src", {"big.bin": os.urandom(3_000_000), "a.txt": b"a\n"})
    cache = RemoteCache(tmp_path / "cache", str(tmp_path / "src"),
                        FetchLimits(max_bytes=200_000))
    cache.create()
    cache.fetch_branch("main", head)  # commits only: small
    blob = git.Repo(tmp_path / "src").git.rev_parse(f"{head}:big.bin")
    with pytest.raises(GitCommandError) as failure:
        cache.fetch_blobs([blob])
    assert failure.value.kind == "too-large"


def test_offline_never_touches_the_remote(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "src", {"a.txt": b"a\n"})
    cache = RemoteCache(tmp_path / "cache", str(tmp_path / "src"), FetchLimits(), offline=True)
    cache.create()
    with pytest.raises(GitCommandError) as failure:
        cache.remote_heads()
    assert failure.value.kind == "network"
    with pytest.raises(GitCommandError):
        cache.fetch_branch("main", head)
    assert not cache.has_object(head)


def test_local_path_and_file_url_behave_the_same(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "src", {"pkg/a.txt": b"a\n"})
    results = []
    for url in (str(tmp_path / "src"), f"file://{tmp_path / 'src'}"):
        cache = RemoteCache(tmp_path / "cache", url, FetchLimits())
        cache.create()
        heads = cache.remote_heads()
        cache.fetch_branch("main", heads["main"])
        item = cache.resolve(head, "pkg")
        assert item is not None
        results.append((heads, item.oid, sorted(cache.list_tree(item.oid))))
    assert results[0] == results[1]


def test_blobless_fetch_holds_trees_but_no_blobs(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "src", {"pkg/a.txt": b"a\n", "pkg/b/c.txt": b"c\n"})
    cache = RemoteCache(tmp_path / "cache", str(tmp_path / "src"), FetchLimits())
    cache.create()
    cache.fetch_branch("main", head)
    root = cache.ensure_trees(head)
    listing = cache.list_tree(root)
    assert sorted(listing) == ["pkg/a.txt", "pkg/b/c.txt"]
    assert not any(cache.has_object(item.oid) for item in listing.values())
    cache.fetch_blobs([listing["pkg/a.txt"].oid])
    assert cache.read_blob(listing["pkg/a.txt"].oid) == b"a\n"
    assert not cache.has_object(listing["pkg/b/c.txt"].oid)


def test_gitignored_paths_outside_a_repository_write_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (folder / "keep.py").write_text("k\n")
    (folder / ".gitignore").write_text("__pycache__/\n*.log\n")
    (folder / "run.log").write_text("l\n")
    before = sorted(p.name for p in folder.rglob("*"))
    assert gitremote.gitignored_paths(folder) == {"__pycache__", "run.log"}
    assert sorted(p.name for p in folder.rglob("*")) == before


def test_filter_support_is_read_from_the_remote(tmp_path: Path) -> None:
    make_repo(tmp_path / "src", {"a.txt": b"a\n"})
    cache = RemoteCache(tmp_path / "cache", str(tmp_path / "src"), FetchLimits())
    cache.create()
    cache.remote_heads()
    assert cache.supports_filter is True
    subprocess.run(["git", "-C", str(cache.path), "config", "remote.origin.uploadpack",
                    "git-upload-pack"], check=True)  # a server without uploadpack.allowFilter
    again = RemoteCache(tmp_path / "cache", str(tmp_path / "src"), FetchLimits())
    again.remote_heads()
    assert again.supports_filter is False
