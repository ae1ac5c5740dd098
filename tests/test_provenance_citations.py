"""Citations read from READMEs of either layout, in every shape the zoos write, checked against
real repositories served over file:// (web addresses reach them through the user's insteadOf);
a zoo of README folders checked end to end, offline giving the online verdicts."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from modelzoo_kit import provcache
from modelzoo_kit.citations import parse_web_address, read_citations, split_ref_path
from modelzoo_kit.cli import main
from modelzoo_kit.findings import Finding
from modelzoo_kit.gitrun import meaningful_lines
from modelzoo_kit.provenance import ProvenanceSession, check_citations
from modelzoo_kit.zooprovenance import check_zoo

IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.org"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class World:
    """Two upstreams on a fake github.com (mapped to folders by insteadOf) and their commits:
    ``main``, ``feature`` (on branch feature/x), ``tagged`` (only on tag v1.0), ``other``."""

    root: Path
    config: Path
    commits: dict[str, str] = field(default_factory=dict)

    def web(self, repo: str, rest: str) -> str:
        return f"https://github.com/o/{repo}/{rest}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("hosts")
    up = root / "o" / "up.git"
    up.mkdir(parents=True)
    git(up, "init", "-q", "-b", "main")
    commits = {"main": commit(up, {"configs/solo/a.py": "a = 1\n", "README.md": "up\n"}, "c1")}
    git(up, "checkout", "-q", "-b", "feature/x")
    commits["feature"] = commit(up, {"configs/solo/b.py": "b = 1\n"}, "f1")
    git(up, "checkout", "-q", "-b", "release-tmp", "main")
    commits["tagged"] = commit(up, {"configs/solo/t.py": "t = 1\n"}, "t1")
    git(up, "tag", "-a", "v1.0", "-m", "v1.0")
    git(up, "checkout", "-q", "main")
    git(up, "branch", "-q", "-D", "release-tmp")
    other = root / "o" / "other.git"
    other.mkdir(parents=True)
    git(other, "init", "-q", "-b", "master")
    commits["other"] = commit(other, {"net.py": "net = 1\n"}, "o1")
    config = root / "gitconfig"
    config.write_text(f'[url "file://{root}/o/"]\n\tinsteadOf = https://github.com/o/\n')
    return World(root, config, commits)


@pytest.fixture(autouse=True)
def user_config(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(world.config))


def pytorch_2022_readme(url: str, commit_id: str = "", extra: str = "") -> str:
    keys = f"url={url}\n  " + (f"commit_id={commit_id}\n  " if commit_id else "") + extra
    return (
        "# Net for PyTorch\n\n# 概述\n\n## 简述\n\nA net.\n\n- 参考实现：\n\n  ```\n  "
        f"{keys}\n  ```\n\n- 适配昇腾 AI 处理器的实现：\n\n  ```\n"
        "  url=https://gitee.com/ascend/ModelZoo-PyTorch.git\n"
        "  code_path=PyTorch/contrib/cv/net\n  ```\n\n# 准备训练环境\n\ntext\n\n"
        "# 开始训练\n\ntext\n"
    )


def template_readme(url: str, branch: str, commit_id: str) -> str:
    return (
        "# 训练交付件模板\n\n## 交付件基本信息\n**发布者（Publisher）：_huawei_**\n\n"
        "## 概述\nA net.\n\n* 参考实现：\n\n"
        f"  url={url}\n\n  branch={branch}\n\n  commit_id={commit_id}\n\n## 默认配置\ntext\n\n"
        "## 训练环境准备\ntext\n\n## 快速上手\ntext\n"
    )


def folder(root: Path, name: str, readme: str) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "README.md").write_text(readme, encoding="utf-8")
    return path


def check(path: Path, cache: Path, offline: bool = False) -> list[Finding]:
    session = ProvenanceSession(cache, offline)
    return check_citations(read_citations(path), session).findings


def rules(findings: list[Finding]) -> Counter[str]:
    return Counter(f.rule for f in findings)


def verdicts(findings: list[Finding]) -> set[tuple[str, str, str]]:
    """What a run decided, without how it got there (online or from the cache)."""
    return {(f.path, f.rule, f.severity.value) for f in findings if f.rule != "PV003"}


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(("url", "clone", "kind", "rest"), [
    ("https://github.com/o/r/tree/master/configs/solo", "https://github.com/o/r.git", "tree",
     ("master", "configs", "solo")),
    ("https://github.com/o/r.git/tree/dev", "https://github.com/o/r.git", "tree", ("dev",)),
    ("https://github.com/o/r/blob/main/tools/train.py", "https://github.com/o/r.git", "blob",
     ("main", "tools", "train.py")),
    ("https://gitee.com/ascend/ModelZoo-TensorFlow/tree/master/TensorFlow/built-in/x/",
     "https://gitee.com/ascend/ModelZoo-TensorFlow.git", "tree",
     ("master", "TensorFlow", "built-in", "x")),
    ("https://github.com/o/r/commit/" + "a" * 40, "https://github.com/o/r.git", "commit",
     ("a" * 40,)),
    ("https://github.com/o/r/tree/master/ShuffleNetV2%2B", "https://github.com/o/r.git", "tree",
     ("master", "ShuffleNetV2+")),
])
def test_web_addresses_become_clone_url_and_ref_path(url: str, clone: str, kind: str,
                                                     rest: tuple[str, ...]) -> None:
    web = parse_web_address(url)
    assert web is not None
    assert (web.clone_url, web.kind, web.rest) == (clone, kind, rest)


@pytest.mark.parametrize("url", ["https://github.com/o/r", "https://github.com/o/r.git",
                                 "git@github.com:o/r.git", "https://example.org/o/r/tree/x"])
def test_clone_urls_are_not_web_addresses(url: str) -> None:
    assert parse_web_address(url) is None


@pytest.mark.parametrize(("rest", "names", "expected"), [
    (("feature", "x", "configs"), {"feature/x", "main"}, ("feature/x", "configs")),
    (("main", "configs", "solo"), {"main"}, ("main", "configs/solo")),
    (("unknown", "a"), {"main"}, ("unknown", "a")),
    (("v1.0",), {"v1.0"}, ("v1.0", None)),
])
def test_branch_with_a_slash_is_split_against_the_refs(
        rest: tuple[str, ...], names: set[str], expected: tuple[str, str | None]) -> None:
    assert split_ref_path(rest, names) == expected


def test_git_messages_keep_the_meaningful_lines() -> None:
    stderr = ("fatal: '/x/o/gone.git' does not appear to be a git repository\n"
              "hint: see git help\n\nfatal: Could not read from remote repository.\n\n"
              "Please make sure you have the correct access rights\nand the repository exists.\n")
    said = meaningful_lines(stderr)
    assert "/x/o/gone.git" in said and "Could not read from remote" in said
    assert "hint" not in said


# --------------------------------------------------------------------------- one README


def test_readme_of_the_newer_layout_is_read_with_lines(tmp_path: Path, world: World) -> None:
    path = folder(tmp_path, "net", pytorch_2022_readme("https://github.com/o/up",
                                                       world.commits["main"]))
    found = read_citations(path)
    assert found.problem is None and found.from_readme
    reference = found.citations["reference"]
    assert (reference.url, reference.branch, reference.commit_id) == (
        "https://github.com/o/up", "", world.commits["main"])
    assert found.layout == "pytorch-2022"
    line = 1 + (path / "README.md").read_text().split("\n").index(
        f"  commit_id={world.commits['main']}")
    assert found.field_lines()["overview.reference.commit_id"] == line
    assert found.citations["adapted"].code_path == "PyTorch/contrib/cv/net"


@pytest.mark.parametrize(("case", "expected", "absent"), [
    ("no-branch", {"PV021"}, {"PV004", "PV009"}),
    ("tag-only", {"PV021"}, {"PV005", "PV022"}),
    ("missing-commit", {"PV005"}, {"PV000", "PV021"}),
    ("web-tree-slash-branch", {"PV023", "PV000"}, {"PV004", "PV008"}),
    ("web-blob", {"PV023", "PV000", "PV030"}, {"PV008"}),
    ("web-missing-path", {"PV023", "PV008"}, set()),
    ("web-commit", {"PV023", "PV021"}, {"PV004"}),
    ("wrong-branch", {"PV004"}, set()),
    ("missing-repo", {"PV002"}, {"PV060"}),
])
def test_each_citation_shape_gets_a_verdict(tmp_path: Path, world: World, case: str,
                                            expected: set[str], absent: set[str]) -> None:
    c = world.commits
    readmes = {
        "no-branch": pytorch_2022_readme("https://github.com/o/up", c["main"]),
        "tag-only": pytorch_2022_readme("https://github.com/o/up.git", c["tagged"]),
        "missing-commit": pytorch_2022_readme("https://github.com/o/up", "b" * 40),
        "web-tree-slash-branch": template_readme(
            world.web("up", "tree/feature/x/configs/solo"), "", c["feature"]),
        "web-blob": pytorch_2022_readme(world.web("up.git", "blob/main/configs/solo/a.py"),
                                        c["main"]),
        "web-missing-path": pytorch_2022_readme(world.web("up", "tree/main/nowhere"), c["main"]),
        "web-commit": pytorch_2022_readme(world.web("up", f"commit/{c['main']}")),
        "wrong-branch": template_readme("https://github.com/o/up", "nope", c["main"]),
        "missing-repo": pytorch_2022_readme("https://github.com/o/gone", c["main"]),
    }
    findings = check(folder(tmp_path, case, readmes[case]), tmp_path / "cache")
    found = {f.rule for f in findings if "overview.adapted" not in f.message}
    assert expected <= found, findings
    assert not (absent & found), findings


def test_no_branch_names_branches_and_tags_holding_the_commit(tmp_path: Path,
                                                              world: World) -> None:
    findings = check(folder(tmp_path, "n", pytorch_2022_readme(
        "https://github.com/o/up", world.commits["tagged"])), tmp_path / "cache")
    (note,) = [f for f in findings if f.rule == "PV021"]
    assert "tags v1.0" in note.message and "branches" not in note.message
    assert note.line == 1 + (tmp_path / "n" / "README.md").read_text().split("\n").index(
        f"  commit_id={world.commits['tagged']}")


def test_web_address_with_a_slash_branch_is_read_as_that_branch(tmp_path: Path,
                                                                world: World) -> None:
    findings = check(folder(tmp_path, "w", template_readme(
        world.web("up", "tree/feature/x/configs/solo"), "", world.commits["feature"])),
        tmp_path / "cache")
    (note,) = [f for f in findings if f.rule == "PV023"]
    assert "branch 'feature/x'" in note.message and "path 'configs/solo'" in note.message
    assert any(f.rule == "PV000" and "'feature/x'" in f.message for f in findings)


def test_missing_repository_message_names_the_address_git_used(tmp_path: Path,
                                                              world: World) -> None:
    findings = check(folder(tmp_path, "g", pytorch_2022_readme(
        "https://github.com/o/gone", world.commits["main"])), tmp_path / "cache")
    (error,) = [f for f in findings if f.rule == "PV002"]
    assert str(world.root / "o" / "gone") in error.message


def test_a_check_that_cannot_run_says_why(tmp_path: Path, world: World) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "deliverable.yaml").write_text("overview: [unclosed\n")
    (unread,) = check(broken, tmp_path / "cache")
    assert unread.rule == "PV061" and "does not load" in unread.message
    silent = folder(tmp_path, "silent", "# A guide\n\nNo citation here.\n")
    (nothing,) = check(silent, tmp_path / "cache")
    assert nothing.rule == "PV061" and "cites no source" in nothing.message


# --------------------------------------------------------------------------- the cache


def test_offline_reproduces_negative_verdicts(tmp_path: Path, world: World) -> None:
    c = world.commits
    zoo = tmp_path / "zoo"
    folder(zoo, "missing", pytorch_2022_readme("https://github.com/o/up", "b" * 40))
    folder(zoo, "gone", pytorch_2022_readme("https://github.com/o/gone", c["main"]))
    folder(zoo, "branch", template_readme("https://github.com/o/up", "nope", c["main"]))
    folder(zoo, "off", template_readme("https://github.com/o/up", "feature/x", c["tagged"]))
    folder(zoo, "good", pytorch_2022_readme("https://github.com/o/up", c["tagged"]))
    cache = tmp_path / "cache"
    online = check_zoo(zoo, ProvenanceSession(cache), jobs=2)
    offline = check_zoo(zoo, ProvenanceSession(cache, offline=True), jobs=2)
    assert {"PV002", "PV004", "PV005", "PV006", "PV021"} <= rules(online.findings).keys()
    assert "PV060" not in rules(offline.findings)
    assert verdicts(offline.findings) == verdicts(online.findings)
    assert offline.fetches == 0


def test_cache_is_cleared_and_bounded(tmp_path: Path, world: World) -> None:
    cache = tmp_path / "cache"
    check(folder(tmp_path, "a", pytorch_2022_readme("https://github.com/o/up",
                                                    world.commits["main"])), cache)
    check(folder(tmp_path, "b", pytorch_2022_readme("https://github.com/o/other",
                                                    world.commits["other"])), cache)
    assert len(list(cache.glob("*.git"))) == 2 and list((cache / "facts").glob("*.json"))
    assert provcache.prune(cache, max_bytes=1) >= 3
    assert not list(cache.glob("*.git"))
    check(folder(tmp_path, "c", pytorch_2022_readme("https://github.com/o/up",
                                                    world.commits["main"])), cache)
    assert provcache.clear(cache) >= 2
    assert not list(cache.glob("*.git")) and not list((cache / "facts").glob("*.json"))


# --------------------------------------------------------------------------- a zoo


def make_zoo(root: Path, world: World, copies: int = 3) -> Path:
    c = world.commits
    zoo = root / "zoo"
    for index in range(copies):
        folder(zoo / "PyTorch", f"net{index}", pytorch_2022_readme("https://github.com/o/up",
                                                                   c["main"]))
        folder(zoo / "TensorFlow", f"tf{index}", template_readme(
            world.web("up", "tree/feature/x/configs"), "", c["feature"]))
        folder(zoo / "Other", f"o{index}", pytorch_2022_readme("https://github.com/o/other.git",
                                                               c["other"]))
    folder(zoo, "docs", "# How to contribute\n\nNothing cited.\n")
    return zoo


def test_zoo_each_repository_and_commit_is_fetched_once(tmp_path: Path, world: World) -> None:
    one = check_zoo(make_zoo(tmp_path / "one", world, copies=1),
                    ProvenanceSession(tmp_path / "c1"), jobs=2)
    many = check_zoo(make_zoo(tmp_path / "many", world, copies=4),
                     ProvenanceSession(tmp_path / "c2"), jobs=3)
    assert many.fetches == one.fetches
    assert many.folders_checked == 12 and many.folders_citing_nothing == 1


def test_zoo_of_readme_folders_end_to_end(tmp_path: Path, world: World,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    zoo = make_zoo(tmp_path, world)
    cache = tmp_path / "cache"
    code = main(["provenance", "-r", str(zoo), "--cache", str(cache), "--format", "json",
                 "--jobs", "2"])
    online = json.loads(capsys.readouterr().out)
    assert code == 0  # the adapted citations pin no commit: a PV009 warning in that layout
    summary = online["summary"]["provenance"]
    assert summary["citations"] == 15 and summary["folders_checked"] == 9
    assert "none" not in summary["verdicts"]
    repos = summary["by_repository"]
    assert repos["github.com/o/other"] == {"PV021": 3}
    assert repos["github.com/o/up"] == {"PV000": 3, "PV021": 3}
    assert summary["verdicts"]["PV009"] == 6  # the adapted blocks: no commit to check
    code_offline = main(["provenance", "-r", str(zoo), "--cache", str(cache), "--format", "json",
                         "--offline"])
    offline = json.loads(capsys.readouterr().out)
    assert code_offline == code
    assert offline["summary"]["provenance"]["verdicts"] == summary["verdicts"]


def test_validate_provenance_on_a_readme_reports_pv_findings(
        tmp_path: Path, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder(tmp_path, "net", pytorch_2022_readme("https://github.com/o/up", "b" * 40))
    main(["validate", "--provenance", "--format", "json", str(path / "README.md")])
    found = {f["rule"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert "PV005" in found


def test_adapted_citations_of_the_zoo_are_checked_in_its_clone(tmp_path: Path,
                                                               world: World) -> None:
    zoo = tmp_path / "ModelZoo-PyTorch"
    net = folder(zoo / "PyTorch" / "contrib" / "cv", "net", pytorch_2022_readme(
        "https://github.com/o/up", world.commits["main"]))
    (net / "train.py").write_text("print('train')\n")
    git(zoo, "init", "-q", "-b", "master")
    git(zoo, "remote", "add", "origin", "https://gitee.com/ascend/ModelZoo-PyTorch.git")
    commit(zoo, {}, "zoo")
    report = check_zoo(zoo, ProvenanceSession(tmp_path / "cache"), jobs=1)
    adapted = [v for v in report.verdicts if v.role == "adapted"]
    assert [(v.rule, v.severity) for v in adapted] == [("PV040", "info")]
    assert "PV009" not in rules(report.findings)
    assert any("is at HEAD" in f.message for f in report.findings if f.rule == "PV040")


def test_validate_says_when_a_broken_deliverable_leaves_provenance_unchecked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "deliverable.yaml").write_text("overview: [unclosed\n")
    main(["validate", "--provenance", "--strict-provenance", "--format", "json", str(broken)])
    found = json.loads(capsys.readouterr().out)["findings"]
    assert [f["severity"] for f in found if f["rule"] == "PV061"] == ["error"]


@pytest.mark.parametrize(("ci", "tty", "quiet", "shown"), [
    ("", True, False, True), ("true", True, False, False), ("", False, False, False),
    ("", True, True, False)])
def test_progress_shows_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch, ci: str, tty: bool,
                                           quiet: bool, shown: bool) -> None:
    import io

    from modelzoo_kit.zooprovenance import Progress

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    monkeypatch.setenv("CI", ci)
    stream = Stream()
    bar = Progress(2, Progress.wanted(quiet, stream), stream)
    bar.step()
    bar.close()
    assert ("1/2" in stream.getvalue()) is shown


def test_concurrent_runs_share_one_cache(tmp_path: Path, world: World) -> None:
    import threading

    zoo = make_zoo(tmp_path, world, copies=2)
    cache = tmp_path / "cache"
    results: list[set[tuple[str, str, str]]] = []

    def run() -> None:
        results.append(verdicts(check_zoo(zoo, ProvenanceSession(cache), jobs=2).findings))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    alone = verdicts(check_zoo(zoo, ProvenanceSession(tmp_path / "fresh"), jobs=1).findings)
    assert results == [alone] * 3
    assert len(list(cache.glob("*.git"))) == 2


def test_validate_recursive_with_provenance_adds_the_zoo_summary(
        tmp_path: Path, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    zoo = make_zoo(tmp_path, world, copies=1)
    main(["validate", "-r", "--provenance", "--jobs", "1", "--format", "json", str(zoo)])
    report = json.loads(capsys.readouterr().out)
    (summary,) = report["summary"]["provenance"]
    assert summary["citations"] == 5 and "none" not in summary["verdicts"]
    assert {"PV000", "PV021"} <= {f["rule"] for f in report["findings"]}


def test_provenance_on_a_readme_folder_checks_its_citations(
        tmp_path: Path, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder(tmp_path, "net", pytorch_2022_readme("https://github.com/o/up", "b" * 40))
    assert main(["provenance", str(path)]) == 1
    out = capsys.readouterr().out
    assert "PV005" in out and "README.md" in out
    good = folder(tmp_path, "good", pytorch_2022_readme("https://github.com/o/up",
                                                        world.commits["main"]))
    assert main(["provenance", str(good / "README.md"), "--select", "PV02"]) == 0
    assert "PV021" in capsys.readouterr().out
