"""Provenance against real git repositories built in tmp_path (file:// urls, real git fetches)."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import git
import pytest

from modelzoo_kit.findings import Finding, Severity, exit_code
from modelzoo_kit.provenance import check_provenance, suggest_commit, url_key

IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.org", "-c",
            "commit.gpgsign=false"]


# --------------------------------------------------------------------------- helpers


def write(path: Path, data: str | bytes, executable: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(0o755 if executable else 0o644)
    return path


def commit_all(repo: git.Repo, message: str, add: bool = True) -> str:
    if add:
        repo.git.add("-A")
    repo.git.execute(["git", *IDENTITY, "commit", "-q", "--no-verify", "-m", message])
    return repo.head.commit.hexsha


@dataclass
class Source:
    """An upstream repository with history: main (c1 -> c2 -> c3 moves the model), dev."""

    path: Path
    repo: git.Repo
    commits: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"file://{self.path}"


def make_source(root: Path) -> Source:
    repo = git.Repo.init(root / "source", initial_branch="main")
    src = Source(root / "source", repo)
    model = src.path / "models" / "m"
    write(model / "a.py", "def a():\n    return 1\n")
    write(model / "b.py", "B = 2\n")
    write(model / "run.sh", "#!/bin/sh\necho run\n", executable=True)
    write(model / "sub" / "c.txt", "line one\nline two\n")
    os.symlink("a.py", model / "link.py")
    write(model / "README.md", "upstream readme\n")
    write(src.path / "other" / "x.txt", "elsewhere\n")
    src.commits["c1"] = commit_all(repo, "c1")
    write(model / "a.py", "def a():\n    return 2\n")
    src.commits["c2"] = commit_all(repo, "c2")
    repo.git.checkout("-q", "-b", "dev", src.commits["c1"])
    write(model / "b.py", "B = 3\n")
    src.commits["dev"] = commit_all(repo, "dev only")
    repo.git.checkout("-q", "main")
    repo.git.mv("models/m", "models/moved")
    src.commits["c3"] = commit_all(repo, "c3 moves the model")
    return src


def export(repo_path: Path, commit: str, code_path: str, dest: Path) -> Path:
    """The folder ``commit:code_path`` as a plain copy (what a deliverable would ship)."""
    tree = commit if code_path == "." else f"{commit}:{code_path}"
    data = subprocess.run(["git", "-C", str(repo_path), "archive", "--format=tar", tree],
                          check=True, capture_output=True).stdout
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        extract_all(archive, dest)
    return dest


def extract_all(archive: tarfile.TarFile, dest: Path) -> None:
    """Unpack, keeping modes and symlinks. Pythons with extraction filters (3.10.12+, 3.11.4+;
    Debian 12's 3.11.2 has none) are told so with ``filter="tar"``; older ones unpack the same
    way by default, and the archive is git's own output of a repository the test built."""
    if hasattr(tarfile, "tar_filter"):
        archive.extractall(dest, filter="tar")
    else:
        archive.extractall(dest)


def cited(url: str, commit: str, code_path: str = "models/m", branch: str = "main",
          ignore: list[str] | None = None, reference: dict | None = None,
          inference: dict | None = None) -> SimpleNamespace:
    """A deliverable's metadata, as much of it as provenance reads."""
    adapted = SimpleNamespace(url=url, branch=branch, commit_id=commit, code_path=code_path)
    return SimpleNamespace(
        overview=SimpleNamespace(
            adapted=adapted,
            inference=SimpleNamespace(**inference) if inference else None,
            reference=SimpleNamespace(**reference) if reference else None,
        ),
        provenance=SimpleNamespace(ignore=ignore if ignore is not None else
                                   ["README.md", "README.en.md", "deliverable.yaml"]),
    )


def rules(findings: list[Finding]) -> Counter[str]:
    return Counter(f.rule for f in findings)


def by_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def cached_object_types(cache: Path) -> Counter[str]:
    """Objects the cache holds, by type (a partial clone lists only what it really has)."""
    types: Counter[str] = Counter()
    for repo in cache.glob("*.git"):
        out = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects",
                              "--batch-check=%(objecttype)"], capture_output=True, text=True,
                             check=True, env={**os.environ, "GIT_ALLOW_PROTOCOL": "none"})
        types.update(out.stdout.split())
    return types


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return make_source(tmp_path_factory.mktemp("upstream"))


@pytest.fixture
def deliverable_dir(tmp_path: Path, source: Source) -> Path:
    return export(source.path, source.commits["c2"], "models/m", tmp_path / "deliverable")


# --------------------------------------------------------------------------- exact match


def test_exact_match_is_reported_and_needs_no_blob(
    tmp_path: Path, source: Source, deliverable_dir: Path
) -> None:
    cache = tmp_path / "cache"
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]),
                                cache_dir=cache)
    assert rules(findings) == Counter({"PV000": 1, "PV010": 1})
    assert "identical" in by_rule(findings, "PV010")[0].message
    assert exit_code(findings) == 0
    types = cached_object_types(cache)
    assert types["blob"] == 0
    assert types["commit"] >= 2 and types["tree"] >= 3


def test_deliverable_additions_declared_in_metadata_are_ignored(
    tmp_path: Path, source: Source, deliverable_dir: Path
) -> None:
    write(deliverable_dir / "deliverable.yaml", "name: m\n")
    write(deliverable_dir / "README.en.md", "generated\n")
    write(deliverable_dir / "README.md", "ours, not upstream's\n")  # differs from upstream's
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]),
                                cache_dir=tmp_path / "cache")
    assert rules(findings) == Counter({"PV000": 1, "PV010": 1})
    assert "3 ignored path(s)" in by_rule(findings, "PV010")[0].message


def test_command_line_ignore_adds_to_the_metadata(
    tmp_path: Path, source: Source, deliverable_dir: Path
) -> None:
    write(deliverable_dir / "notes" / "todo.txt", "x\n")
    meta = cited(source.url, source.commits["c2"])
    assert rules(check_provenance(deliverable_dir, meta))["PV011"] == 1
    findings = check_provenance(deliverable_dir, meta, extra_ignore=["notes/"])
    assert "PV011" not in rules(findings)


def test_gitignored_build_output_is_not_an_addition(
    tmp_path: Path, source: Source, deliverable_dir: Path
) -> None:
    write(deliverable_dir / "__pycache__" / "a.cpython-311.pyc", b"\0junk")
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]))
    assert rules(findings)["PV011"] == 1  # upstream has no .gitignore: it is an addition
    write(deliverable_dir / ".gitignore", "__pycache__/\n")
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]),
                                extra_ignore=[".gitignore"])
    assert rules(findings) == Counter({"PV000": 1, "PV010": 1})


# --------------------------------------------------------------------------- differences


def test_modified_file_shows_a_short_diff_and_fetches_only_its_blob(
    tmp_path: Path, source: Source, deliverable_dir: Path
) -> None:
    write(deliverable_dir / "sub" / "c.txt", "line one\nline 2 changed\n")
    cache = tmp_path / "cache"
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]),
                                cache_dir=cache)
    [modified] = by_rule(findings, "PV013")
    assert modified.path.endswith("sub/c.txt")
    assert "-line two" in modified.message and "+line 2 changed" in modified.message
    assert modified.severity is Severity.ERROR
    assert cached_object_types(cache)["blob"] == 1


def test_added_and_removed_files(tmp_path: Path, source: Source, deliverable_dir: Path) -> None:
    (deliverable_dir / "b.py").unlink()
    write(deliverable_dir / "extra.py", "print()\n")
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]))
    assert [Path(f.path).name for f in by_rule(findings, "PV011")] == ["extra.py"]
    assert [Path(f.path).name for f in by_rule(findings, "PV012")] == ["b.py"]
    assert exit_code(findings) == 1


def test_exec_bit_change_is_a_mode_finding_not_a_content_one(
    source: Source, deliverable_dir: Path
) -> None:
    (deliverable_dir / "run.sh").chmod(0o644)
    (deliverable_dir / "b.py").chmod(0o755)
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]))
    assert rules(findings)["PV014"] == 2 and "PV013" not in rules(findings)
    hints = {Path(f.path).name: f.hint for f in by_rule(findings, "PV014")}
    assert hints == {"run.sh": "chmod +x run.sh", "b.py": "chmod -x b.py"}


def test_symlink_replaced_by_a_copy_is_a_type_change(
    source: Source, deliverable_dir: Path
) -> None:
    link = deliverable_dir / "link.py"
    link.unlink()
    shutil.copy(deliverable_dir / "a.py", link)
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]))
    [change] = by_rule(findings, "PV015")
    assert "a file here, a symlink" in change.message


def test_symlink_target_change_is_shown(source: Source, deliverable_dir: Path) -> None:
    link = deliverable_dir / "link.py"
    link.unlink()
    os.symlink("b.py", link)
    [modified] = by_rule(check_provenance(deliverable_dir, cited(source.url,
                                                                 source.commits["c2"])), "PV013")
    assert "'b.py' here" in modified.message and "'a.py' there" in modified.message


def test_crlf_only_difference_is_a_line_ending_warning(
    source: Source, deliverable_dir: Path
) -> None:
    target = deliverable_dir / "sub" / "c.txt"
    target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"]))
    [warning] = by_rule(findings, "PV016")
    assert warning.severity is Severity.WARNING and "line endings" in warning.message
    assert "PV013" not in rules(findings)


def test_crlf_checkout_matches_exactly_when_gitattributes_normalise(tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path / "src", initial_branch="main")
    write(tmp_path / "src" / "pkg" / ".gitattributes", "* text=auto\n")
    write(tmp_path / "src" / "pkg" / "a.py", "x = 1\ny = 2\n")
    commit = commit_all(repo, "lf in the repository")
    local = export(tmp_path / "src", commit, "pkg", tmp_path / "windows-checkout")
    (local / "a.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    findings = check_provenance(local, cited(f"file://{tmp_path / 'src'}", commit, "pkg"))
    assert rules(findings) == Counter({"PV000": 1, "PV010": 1})


def test_submodule_entries(tmp_path: Path) -> None:
    lib = git.Repo.init(tmp_path / "lib", initial_branch="main")
    write(tmp_path / "lib" / "l.py", "L = 1\n")
    lib_commit = commit_all(lib, "lib")
    repo = git.Repo.init(tmp_path / "src", initial_branch="main")
    write(tmp_path / "src" / "pkg" / "a.py", "A\n")
    repo.git.add("-A")
    repo.git.update_index("--add", "--cacheinfo", f"160000,{lib_commit},pkg/vendor")
    commit = commit_all(repo, "with a submodule", add=False)
    url = f"file://{tmp_path / 'src'}"

    local = tmp_path / "deliverable"
    write(local / "a.py", "A\n")
    (local / "vendor").mkdir()  # a clone without --recurse-submodules leaves an empty folder
    [warning] = by_rule(check_provenance(local, cited(url, commit, "pkg")), "PV017")
    assert warning.severity is Severity.WARNING and "not checked out" in warning.message

    shutil.rmtree(local / "vendor")
    git.Repo.clone_from(tmp_path / "lib", local / "vendor")
    assert rules(check_provenance(local, cited(url, commit, "pkg")))["PV010"] == 1

    write(local / "vendor" / "l.py", "L = 2\n")
    commit_all(git.Repo(local / "vendor"), "moved on")
    [error] = by_rule(check_provenance(local, cited(url, commit, "pkg")), "PV017")
    assert error.severity is Severity.ERROR


# --------------------------------------------------------------------------- references


def test_missing_branch_lists_the_real_ones(source: Source, deliverable_dir: Path) -> None:
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"],
                                                       branch="release"))
    [missing] = by_rule(findings, "PV004")
    assert "'release'" in missing.message and "dev, main" in missing.hint


def test_missing_commit(source: Source, deliverable_dir: Path) -> None:
    findings = check_provenance(deliverable_dir, cited(source.url, "3d400a58023086b5c128ecd4b3"
                                                                   "ea46c129b5988b"))
    assert rules(findings)["PV005"] == 1
    assert "PV010" not in rules(findings)


def test_commit_off_the_branch_names_the_branch_that_has_it(
    tmp_path: Path, source: Source
) -> None:
    local = export(source.path, source.commits["dev"], "models/m", tmp_path / "d")
    findings = check_provenance(local, cited(source.url, source.commits["dev"]))
    [off] = by_rule(findings, "PV006")
    assert "not on branch 'main'" in off.message and "dev" in off.hint
    assert rules(findings)["PV010"] == 1  # the content itself still matches that commit
    assert rules(check_provenance(local, cited(source.url, source.commits["dev"],
                                               branch="dev")))["PV006"] == 0


def test_moved_code_path_points_to_the_new_place(source: Source, deliverable_dir: Path) -> None:
    # the deliverable is c2's folder, but cites c3, where it moved to models/moved
    (deliverable_dir / "a.py").write_text("def a():\n    return 2\n")
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c3"]))
    [moved] = by_rule(findings, "PV008")
    assert "'models/m' does not exist" in moved.message
    assert "'models/moved'" in moved.hint


def test_code_path_that_is_a_file(source: Source, deliverable_dir: Path) -> None:
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"],
                                                       code_path="models/m/a.py"))
    assert "is a blob, not a folder" in by_rule(findings, "PV008")[0].message


@pytest.mark.parametrize("code_path", ["/etc", "../..", "models/../../x", "C:/x", "-x"])
def test_code_path_outside_the_repository_is_refused(
    source: Source, deliverable_dir: Path, code_path: str
) -> None:
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"],
                                                       code_path=code_path))
    assert rules(findings)["PV007"] == 1
    assert "PV010" not in rules(findings)


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% {sentinel}",
        "--upload-pack=touch {sentinel}",
        "-oProxyCommand=touch {sentinel}",
        "ssh://-oProxyCommand=touch%20{sentinel}/x",
        "fd::3",
        "evil::{sentinel}",
    ],
)
def test_hostile_urls_are_refused_and_nothing_runs(
    tmp_path: Path, deliverable_dir: Path, url: str
) -> None:
    sentinel = tmp_path / "pwned"
    findings = check_provenance(deliverable_dir, cited(url.format(sentinel=sentinel), "a" * 40))
    assert rules(findings)["PV001"] == 1
    assert not sentinel.exists()


def test_unreachable_and_non_repository_urls(tmp_path: Path, deliverable_dir: Path) -> None:
    (tmp_path / "plain").mkdir()
    findings = check_provenance(deliverable_dir, cited(f"file://{tmp_path / 'plain'}", "a" * 40))
    [error] = by_rule(findings, "PV002")
    assert "not a git repository" in error.message


def test_abbreviated_commit_is_incomplete(source: Source, deliverable_dir: Path) -> None:
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"][:10]))
    assert rules(findings) == Counter({"PV009": 1})


def test_training_and_inference_must_agree(source: Source, deliverable_dir: Path) -> None:
    inference = {"url": source.url, "branch": "dev", "commit_id": source.commits["dev"],
                 "code_path": "models/m"}
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"],
                                                       inference=inference))
    assert {f.message.split("different ")[1].split(":")[0] for f in by_rule(findings, "PV020")
            } == {"branchs", "commit_ids"}
    same = dict(inference, branch="main", commit_id=source.commits["c2"])
    assert "PV020" not in rules(check_provenance(
        deliverable_dir, cited(source.url, source.commits["c2"], inference=same)))


def test_inference_code_path_must_exist(source: Source, deliverable_dir: Path) -> None:
    inference = {"url": source.url, "branch": "main", "commit_id": source.commits["c2"],
                 "code_path": "models/infer"}
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"],
                                                       inference=inference))
    [missing] = by_rule(findings, "PV008")
    assert missing.message.startswith("overview.inference.code_path 'models/infer'")
    assert rules(findings)["PV010"] == 1 and "PV020" not in rules(findings)


def test_repository_root_as_code_path(tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path / "single", initial_branch="main")
    write(tmp_path / "single" / "train.py", "train\n")
    commit = commit_all(repo, "one model per repository")
    local = export(tmp_path / "single", commit, ".", tmp_path / "d")
    url = f"file://{tmp_path / 'single'}"
    assert rules(check_provenance(local, cited(url, commit, "."))) == Counter(
        {"PV000": 1, "PV010": 1})
    write(local / "extra.py", "x\n")
    assert rules(check_provenance(local, cited(url, commit, "./")))["PV011"] == 1


def test_upstream_derivation_report(tmp_path: Path, source: Source, deliverable_dir: Path
                                    ) -> None:
    upstream = git.Repo.init(tmp_path / "upstream", initial_branch="master")
    write(tmp_path / "upstream" / "pkg" / "b.py", "B = 2\n")  # carried unchanged
    write(tmp_path / "upstream" / "pkg" / "a.py", "def a():\n    return 0\n")  # changed
    write(tmp_path / "upstream" / "setup.py", "setup()\n")  # not carried
    up_commit = commit_all(upstream, "upstream")
    reference = {"url": f"file://{tmp_path / 'upstream'}", "branch": "master",
                 "commit_id": up_commit}
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"],
                                                       reference=reference))
    report = {f.message.split(": ")[1].split()[-1]: f.message
              for f in by_rule(findings, "PV030")}
    assert "pkg/b.py (as b.py)" in report["unchanged"]
    assert "pkg/a.py (as a.py)" in report["changed"]
    assert "setup.py" in report["all"]
    assert rules(findings)["PV000"] == 2

    missing = dict(reference, commit_id="3d400a58023086b5c128ecd4b3ea46c129b5988b")
    findings = check_provenance(deliverable_dir, cited(source.url, source.commits["c2"],
                                                       reference=missing))
    assert [f.message for f in by_rule(findings, "PV005")] == [
        "overview.reference.commit_id 3d400a58023086b5c128ecd4b3ea46c129b5988b does not exist in "
        f"file://{tmp_path / 'upstream'}"]


def test_large_history_commit_deep_in_the_branch(tmp_path: Path) -> None:
    """600 commits made with fast-import; the cited one is 500 commits behind the head."""
    script = ["reset refs/heads/main"]
    for number in range(600):
        body = f"v{number}\n".encode()
        script += ["commit refs/heads/main", f"mark :{number + 1}",
                   f"committer T <t@e> {1700000000 + number} +0000", "data 1", "c"]
        if number:
            script.append(f"from :{number}")
        script += [f"M 644 inline pkg/f{number % 50}.txt", f"data {len(body)}",
                   body.decode().rstrip("\n")]
    git.Repo.init(tmp_path / "big", initial_branch="main")
    stream = ("\n".join(script) + "\n").encode()
    subprocess.run(["git", "-C", str(tmp_path / "big"), "fast-import", "--quiet"],
                   input=stream, check=True)
    repo = git.Repo(tmp_path / "big")
    target = repo.git.rev_parse("main~500")
    local = export(tmp_path / "big", target, "pkg", tmp_path / "d")
    cache = tmp_path / "cache"
    findings = check_provenance(local, cited(f"file://{tmp_path / 'big'}", target, "pkg"),
                                cache_dir=cache)
    assert rules(findings) == Counter({"PV000": 1, "PV010": 1})
    types = cached_object_types(cache)
    assert types["commit"] == 600 and types["blob"] == 0


# --------------------------------------------------------------------------- cache, offline


def test_cache_makes_offline_checks_possible(
    tmp_path: Path, source: Source, deliverable_dir: Path
) -> None:
    cache = tmp_path / "cache"
    meta = cited(source.url, source.commits["c2"])
    first = check_provenance(deliverable_dir, meta, cache_dir=cache)
    offline = check_provenance(deliverable_dir, meta, cache_dir=cache, offline=True)
    assert rules(offline) == rules(first) + Counter({"PV003": 1})
    assert by_rule(offline, "PV003")[0].severity is Severity.INFO

    nothing = check_provenance(deliverable_dir, meta, cache_dir=tmp_path / "empty",
                               offline=True)
    [unverified] = by_rule(nothing, "PV060")
    assert unverified.severity is Severity.WARNING and "not in the cache" in unverified.message
    assert "PV003" not in rules(nothing) and exit_code(nothing) == 0


def test_unreachable_remote_falls_back_to_the_cache(
    tmp_path: Path, source: Source, deliverable_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metadata cites an https url; the user's insteadOf maps it to a local mirror. Without
    that mapping the host refuses connections, and the cache answers."""
    url = "https://127.0.0.1:9/zoo/source.git"
    config = tmp_path / "gitconfig"
    config.write_text(f'[url "{source.path}"]\n\tinsteadOf = {url}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    cache = tmp_path / "cache"
    meta = cited(url, source.commits["c2"])
    assert rules(check_provenance(deliverable_dir, meta, cache_dir=cache))["PV010"] == 1

    config.write_text("")
    findings = check_provenance(deliverable_dir, meta, cache_dir=cache)
    [warning] = by_rule(findings, "PV003")
    assert warning.severity is Severity.WARNING and "unreachable" in warning.message
    assert rules(findings)["PV010"] == 1

    findings = check_provenance(deliverable_dir, meta, cache_dir=tmp_path / "other")
    [unverified] = by_rule(findings, "PV060")
    assert unverified.severity is Severity.WARNING and "PV003" not in rules(findings)


def closed_port() -> int:
    """A local TCP port nobody listens on (connections to it are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("host", ["dns", "refused"])
def test_no_network_is_a_warning_and_an_error_only_when_strict(
    tmp_path: Path, source: Source, deliverable_dir: Path, host: str
) -> None:
    """No network (a name that cannot resolve, a refused connection): nothing is known to be
    wrong, so the reference is "not verified", a warning; --strict makes it an error."""
    url = ("https://zoo.invalid/o/zoo.git" if host == "dns"
           else f"http://127.0.0.1:{closed_port()}/zoo.git")
    meta = cited(url, source.commits["c2"])
    findings = check_provenance(deliverable_dir, meta, cache_dir=tmp_path / "cache")
    [warning] = by_rule(findings, "PV060")
    assert warning.severity is Severity.WARNING
    assert "could not be verified" in warning.message and "offline" in warning.message
    assert "re-run with network" in warning.hint
    assert exit_code(findings) == 0 and not by_rule(findings, "PV002")

    strict = check_provenance(deliverable_dir, meta, cache_dir=tmp_path / "cache", strict=True)
    assert [f.severity for f in by_rule(strict, "PV060")] == [Severity.ERROR]
    assert exit_code(strict) == 1


@pytest.mark.parametrize("depth", [1, None])
def test_in_a_shallow_clone_the_hint_says_to_unshallow(
    tmp_path: Path, source: Source, depth: int | None
) -> None:
    """CI clones with --depth 1: a cited commit outside that history is only "not verified",
    and the hint names the one command that lets the check run without a network."""
    clone = tmp_path / "clone"
    git.Repo.clone_from(f"file://{source.path}", clone, **({"depth": depth} if depth else {}))
    meta = cited("https://zoo.invalid/o/zoo.git", source.commits["c2"])
    findings = check_provenance(clone, meta, cache_dir=tmp_path / "cache")
    [warning] = by_rule(findings, "PV060")
    assert ("git fetch --unshallow" in warning.hint) is (depth is not None)
    assert "re-run with network" in warning.hint and exit_code(findings) == 0


def test_offline_flag_without_cache_leaves_references_unverified(
    source: Source, deliverable_dir: Path
) -> None:
    meta = cited(source.url, source.commits["c2"])
    findings = check_provenance(deliverable_dir, meta, offline=True)
    [warning] = by_rule(findings, "PV060")
    assert "--offline" in warning.message and exit_code(findings) == 0
    assert "PV010" not in rules(findings)


@pytest.mark.parametrize("kind", ["missing path", "plain folder"])
def test_a_source_that_is_not_a_repository_stays_an_error(
    tmp_path: Path, deliverable_dir: Path, kind: str
) -> None:
    target = tmp_path / "nowhere"
    if kind == "plain folder":
        target.mkdir()
    findings = check_provenance(deliverable_dir, cited(str(target), "a" * 40))
    [error] = by_rule(findings, "PV002")
    assert error.severity is Severity.ERROR and "not a git repository" in error.message
    assert not by_rule(findings, "PV060") and exit_code(findings) == 1
    assert exit_code(check_provenance(deliverable_dir, cited(str(target), "a" * 40),
                                      strict=True)) == 1


# --------------------------------------------------------------------------- self reference


def make_home(tmp_path: Path) -> tuple[git.Repo, Path, str]:
    """A clone of a 'zoo' whose models/m is the deliverable, citing the zoo itself."""
    bare = tmp_path / "zoo.git"
    git.Repo.init(bare, bare=True, initial_branch="main")
    home = git.Repo.init(tmp_path / "home", initial_branch="main")
    home.create_remote("origin", f"file://{bare}")
    folder = tmp_path / "home" / "models" / "m"
    write(folder / "train.py", "print('train')\n")
    write(folder / "deliverable.yaml", "commit_id: none yet\n")
    commit = commit_all(home, "deliverable")
    home.git.push("-q", "origin", "main")
    return home, folder, commit


def test_self_reference_cited_commit_matches(tmp_path: Path) -> None:
    home, folder, commit = make_home(tmp_path)
    url = home.remotes.origin.url
    write(folder / "deliverable.yaml", f"commit_id: {commit}\n")  # ignored: it cites itself
    index_before = (tmp_path / "home" / ".git" / "index").stat().st_mtime_ns
    findings = check_provenance(folder, cited(url, commit))
    [note] = by_rule(findings, "PV040")
    assert "HEAD:models/m matches the cited commit; the working tree matches it" in note.message
    assert rules(findings)["PV010"] == 1 and "PV042" not in rules(findings)
    assert (tmp_path / "home" / ".git" / "index").stat().st_mtime_ns == index_before
    assert home.git.status("--porcelain").strip() == "M models/m/deliverable.yaml"


def test_self_reference_suggests_the_commit_to_cite(tmp_path: Path) -> None:
    home, folder, first = make_home(tmp_path)
    url = home.remotes.origin.url
    write(folder / "train.py", "print('train v2')\n")
    findings = check_provenance(folder, cited(url, first))
    assert rules(findings)["PV041"] == 1
    [suggestion] = by_rule(findings, "PV042")
    assert "commit them" in suggestion.hint

    second = commit_all(home, "v2")
    write(folder / "deliverable.yaml", f"commit_id: {first}\n")
    commit_all(home, "cite (wrongly) the first commit")  # touches only an ignored file
    findings = check_provenance(folder, cited(url, first))
    [suggestion] = by_rule(findings, "PV042")
    assert second in suggestion.hint and "push it" in suggestion.hint
    assert "PV041" not in rules(findings)
    home.git.push("-q", "origin", "main")
    advice = suggest_commit(folder, cited(url, first))
    assert advice is not None and advice.commit == second and advice.pushed
    assert not advice.already_cited
    settled = suggest_commit(folder, cited(url, second))
    assert settled is not None and settled.already_cited and settled.commit == second


def test_suggest_sees_the_folder_as_git_does(tmp_path: Path) -> None:
    """A byte-code cache that .gitignore excludes is no change, to the check or to --suggest."""
    home, folder, first = make_home(tmp_path)
    write(tmp_path / "home" / ".gitignore", "__pycache__/\n")
    write(folder / "train.py", "print('train v2')\n")
    second = commit_all(home, "v2")
    write(folder / "__pycache__" / "train.cpython-311.pyc", "bytes python wrote on import")
    url = home.remotes.origin.url
    assert "PV041" not in rules(check_provenance(folder, cited(url, first)))
    advice = suggest_commit(folder, cited(url, first))
    assert advice is not None and advice.commit == second, advice


def test_self_reference_with_wrong_code_path(tmp_path: Path) -> None:
    home, folder, commit = make_home(tmp_path)
    findings = check_provenance(folder, cited(home.remotes.origin.url, commit,
                                              code_path="models/other"))
    errors = [f for f in by_rule(findings, "PV040") if f.severity is Severity.ERROR]
    assert errors and "set code_path: models/m" == errors[0].hint


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://github.com/o/r.git", "git@github.com:o/r", True),
        ("ssh://git@GitHub.com/o/r/", "https://github.com/o/r", True),
        ("https://github.com/o/r", "https://github.com/o/other", False),
        ("file:///srv/zoo.git", "/srv/zoo.git", True),
    ],
)
def test_url_spellings_of_one_repository(a: str, b: str, same: bool) -> None:
    assert (url_key(a) == url_key(b)) is same


# --------------------------------------------------------------------------- enclosing repository

PUBLIC_URL = "https://modelzoo.invalid/zoo/zoo.git"  # the project's public home, unreachable


def make_clone(tmp_path: Path) -> tuple[git.Repo, Path, str]:
    """What CI checks out: a fresh clone of main, origin a local path; the deliverable cites
    the public url (not a remote here), branch main, a commit of this history and its folder."""
    home, _, commit = make_home(tmp_path)
    clone = git.Repo.clone_from(str(tmp_path / "zoo.git"), tmp_path / "ci", branch="main")
    return clone, tmp_path / "ci" / "models" / "m", commit


def test_public_url_unreachable_but_commit_in_the_enclosing_clone(tmp_path: Path) -> None:
    clone, folder, commit = make_clone(tmp_path)
    index_before = (tmp_path / "ci" / ".git" / "index").stat().st_mtime_ns
    findings = check_provenance(folder, cited(PUBLIC_URL, commit), cache_dir=tmp_path / "c")
    [where] = by_rule(findings, "PV043")
    assert f"checked in the enclosing repository {tmp_path / 'ci'}" in where.message
    assert f"{PUBLIC_URL} itself was not contacted" in where.message
    assert where.severity is Severity.INFO
    [on_branch] = by_rule(findings, "PV000")
    assert "refs/heads/main" in on_branch.message
    assert "refs/remotes/origin/main" in on_branch.message
    assert rules(findings)["PV010"] == 1 and exit_code(findings) == 0
    assert not by_rule(findings, "PV060") and not by_rule(findings, "PV002")
    [state] = by_rule(findings, "PV040")
    assert "the working tree matches it" in state.message
    assert not (tmp_path / "c").exists()  # nothing fetched, no cache made
    assert (tmp_path / "ci" / ".git" / "index").stat().st_mtime_ns == index_before
    assert clone.git.status("--porcelain") == ""
    assert exit_code(check_provenance(folder, cited(PUBLIC_URL, commit), strict=True)) == 0


def test_enclosing_clone_with_a_modified_file_names_it(tmp_path: Path) -> None:
    clone, folder, commit = make_clone(tmp_path)
    write(folder / "train.py", "print('train, changed')\n")
    findings = check_provenance(folder, cited(PUBLIC_URL, commit))
    [modified] = by_rule(findings, "PV013")
    assert modified.severity is Severity.ERROR and modified.path == str(folder / "train.py")
    assert "+print('train, changed')" in modified.message  # the diff, read locally
    [dirty] = by_rule(findings, "PV041")
    assert "train.py" in dirty.message
    assert "the working tree differs from it" in by_rule(findings, "PV040")[0].message
    assert exit_code(findings) == 1


def test_enclosing_clone_suggests_the_commit_to_cite(tmp_path: Path) -> None:
    clone, folder, first = make_clone(tmp_path)
    write(folder / "train.py", "print('v2')\n")
    second = commit_all(clone, "v2")
    findings = check_provenance(folder, cited(PUBLIC_URL, first))
    [suggestion] = by_rule(findings, "PV042")
    assert second in suggestion.hint and "push it" in suggestion.hint
    advice = suggest_commit(folder, cited(PUBLIC_URL, first))
    assert advice is not None and advice.commit == second and not advice.pushed
    clone.git.push("-q", "origin", "main")
    pushed = suggest_commit(folder, cited(PUBLIC_URL, first))
    assert pushed is not None and pushed.commit == second and pushed.pushed


def test_enclosing_repository_needs_the_commit_and_the_same_folder(tmp_path: Path) -> None:
    """Neither a commit this repository lacks nor another code_path makes it the source."""
    _, folder, commit = make_clone(tmp_path)
    for meta in (cited(PUBLIC_URL, "b" * 40), cited(PUBLIC_URL, commit, code_path="models/x")):
        findings = check_provenance(folder, meta)
        assert not by_rule(findings, "PV043") and not by_rule(findings, "PV040")
        [unverified] = by_rule(findings, "PV060")
        assert unverified.severity is Severity.WARNING


def test_enclosing_repository_branch_checks(tmp_path: Path) -> None:
    clone, folder, commit = make_clone(tmp_path)
    missing = check_provenance(folder, cited(PUBLIC_URL, commit, branch="release"))
    [unknown] = by_rule(missing, "PV060")
    assert "'release' is neither a local nor a remote-tracking branch" in unknown.message
    assert exit_code(missing) == 0
    assert exit_code(check_provenance(folder, cited(PUBLIC_URL, commit, branch="release"),
                                      strict=True)) == 1

    clone.git.checkout("-q", "-b", "topic")
    write(folder / "train.py", "print('topic')\n")
    topic = commit_all(clone, "topic only")
    clone.git.checkout("-q", "main")
    off = check_provenance(folder, cited(PUBLIC_URL, topic))
    [error] = by_rule(off, "PV006")
    assert "not on branch 'main'" in error.message and "topic" in error.hint


def test_inference_code_elsewhere_in_the_enclosing_repository(tmp_path: Path) -> None:
    _, folder, commit = make_clone(tmp_path)
    inference = {"url": PUBLIC_URL, "branch": "main", "commit_id": commit,
                 "code_path": "models/infer"}
    findings = check_provenance(folder, cited(PUBLIC_URL, commit, inference=inference))
    [missing] = by_rule(findings, "PV008")
    assert "overview.inference.code_path 'models/infer' does not exist" in missing.message
    assert not by_rule(findings, "PV060") and rules(findings)["PV043"] == 2
