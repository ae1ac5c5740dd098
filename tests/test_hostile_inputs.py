"""Hostile and broken input (issue 18): every command ends in bounded time and memory, shows
nothing the user did not write, and answers with a documented exit code, never a traceback.

The denial-of-service cases run in a child process under a memory cap and a timeout, so a
regression fails the test instead of hanging or exhausting the machine; the child reports its
peak memory. Set MODELZOO_HOSTILE_REPORT=FILE to collect each case's time and memory there.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from deliverable_fixtures import copy_fixture, edit_yaml

from modelzoo_kit.cli import EXIT_CODES, EXIT_INTERNAL_ERROR, main

ROOT = Path(__file__).resolve().parents[1]
README_FIXTURES = Path(__file__).parent / "fixtures" / "readmes"
#: A hostile input must be answered within this (seconds) and this much memory.
TIME_LIMIT_S = 20
MEMORY_LIMIT = 2 * 1024**3
SECRET = "SECRET-7f3a"

#: Runs ``modelzoo ARGS`` and prints the child's peak memory (KiB) as the last stderr line.
CHILD = """\
import resource, sys
from modelzoo_kit.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(f"@@maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


@dataclass
class Bounded:
    code: int | None  # None: killed at the time limit
    out: str
    err: str
    seconds: float
    max_rss_mb: float


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def bounded_modelzoo(case: str, *args: str | Path, cwd: Path) -> Bounded:
    start = time.monotonic()
    try:
        completed = subprocess.run(
            [sys.executable, "-c", CHILD, *map(str, args)],
            cwd=cwd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIME_LIMIT_S,
            preexec_fn=_cap_memory,
        )
    except subprocess.TimeoutExpired:
        return Bounded(None, "", "", time.monotonic() - start, 0.0)
    seconds = time.monotonic() - start
    err, _, tail = completed.stderr.rpartition("@@maxrss ")
    rss = float(tail.strip()) / 1024 if tail.strip().isdigit() else 0.0
    result = Bounded(completed.returncode, completed.stdout, err or completed.stderr, seconds, rss)
    report = os.environ.get("MODELZOO_HOSTILE_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as stream:
            record = {"case": case, "seconds": round(seconds, 2), "max_rss_mb": round(rss, 1)}
            stream.write(json.dumps(record) + "\n")
    return result


def assert_answered(result: Bounded, codes: set[int], fragment: str) -> None:
    assert result.code is not None, f"still running after {TIME_LIMIT_S} s"
    assert "Traceback" not in result.err, result.err[-2000:]
    assert result.code in codes, (result.code, result.err[-2000:], result.out[-2000:])
    assert fragment in result.out + result.err, (result.err[-2000:], result.out[-2000:])
    assert len(result.out) + len(result.err) < 100_000, "the answer reprints the input"


# --------------------------------------------------------------------------- denial of service


def billion_laughs(folder: Path) -> None:
    anchors = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, 9):
        anchors += f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]\n"
    path = edit_yaml(folder, "title: TinyNet for PyTorch", "title: *a8")
    path.write_text(anchors + path.read_text(encoding="utf-8"), encoding="utf-8")


def sparse_readme(folder: Path) -> None:
    with open(folder / "README.md", "wb") as stream:
        stream.truncate(6 * 1024**3)  # 6 GB of holes: costs no disk


def fifo_readme(folder: Path) -> None:
    os.mkfifo(folder / "README.md")


def nested_list_readme(folder: Path) -> None:
    items = [f"{'  ' * depth}- item{depth}: {depth}" for depth in range(3000)]
    text = "# TinyNet\n\n## 默认配置\n\n" + "\n".join(items) + "\n"
    (folder / "README.md").write_text(text, encoding="utf-8")


DENIAL_OF_SERVICE = [
    # (case, setup, command, expected exit codes, what the answer says)
    ("alias-bomb-validate", billion_laughs, ["validate", "{d}"], {1}, "aliases"),
    ("alias-bomb-render", billion_laughs, ["render", "{d}"], {2}, "aliases"),
    ("sparse-6gb-readme-validate", sparse_readme, ["validate", "{d}"], {1}, "over the 10.0 MB"),
    ("sparse-6gb-readme-render-check", sparse_readme, ["render", "--check", "{d}"], {2},
     "over the 10.0 MB"),
    ("dev-zero-validate", None, ["validate", "/dev/zero"], {1}, "not a regular file"),
    ("fifo-readme-render", fifo_readme, ["render", "{d}"], {2}, "not a regular file"),
    ("fifo-readme-validate", fifo_readme, ["validate", "{d}"], {1}, "not a regular file"),
    ("nested-list-3000-extract", nested_list_readme, ["extract", "{d}/README.md"], {0, 1},
     "TODO"),
]  # fmt: skip


@pytest.mark.parametrize(
    "case, setup, command, codes, fragment",
    DENIAL_OF_SERVICE,
    ids=[row[0] for row in DENIAL_OF_SERVICE],
)
def test_hostile_input_is_answered_in_bounded_time_and_memory(
    tmp_path, case, setup, command, codes, fragment
):
    folder = copy_fixture(tmp_path)
    if setup is not None:
        setup(folder)
    args = [part.replace("{d}", str(folder)) for part in command]
    result = bounded_modelzoo(case, *args, cwd=tmp_path)
    assert_answered(result, codes, fragment)
    assert result.seconds < TIME_LIMIT_S / 2


REDOS = "**a" * 25 + "**b"  # a regex translation backtracks without end on "aaa…a"

#: Hashes a folder as provenance does: with provenance.ignore patterns and its .gitattributes.
HASH_CHILD = """\
import sys
from modelzoo_kit.githash import hash_folder
from modelzoo_kit.provenance import make_ignore
hash_folder(sys.argv[1], exclude=make_ignore(sys.argv[2:]))
print("hashed")
"""


@pytest.mark.parametrize(
    "case, ignore, attributes",
    [
        ("redos-provenance-ignore", [REDOS], ""),
        ("redos-gitattributes", [], f"{REDOS} text\n"),
        ("redos-both", [REDOS, "a/" + REDOS], f"{REDOS} -text\n*.py text\n"),
    ],
    ids=["provenance-ignore", "gitattributes", "both"],
)
def test_a_pathological_glob_matches_in_linear_time(tmp_path, case, ignore, attributes):
    (tmp_path / ".gitattributes").write_text(attributes)
    (tmp_path / ("a" * 200)).mkdir()
    (tmp_path / ("a" * 200) / ("a" * 200)).write_text("x\n")
    start = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", HASH_CHILD, str(tmp_path), *ignore],
        capture_output=True, text=True, timeout=TIME_LIMIT_S * 3, preexec_fn=_cap_memory,
        cwd=tmp_path,
    )  # fmt: skip
    seconds = time.monotonic() - start
    report = os.environ.get("MODELZOO_HOSTILE_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"case": case, "seconds": round(seconds, 2)}) + "\n")
    assert completed.stdout.strip() == "hashed", completed.stderr[-2000:]
    assert seconds < TIME_LIMIT_S / 2


# --------------------------------------------------------------------------- secrets


def private_file(tmp_path: Path) -> Path:
    private = tmp_path / "private" / "shadow"
    private.parent.mkdir()
    private.write_text(
        "".join(f"user{i}:$6${SECRET}{i}$hash:19000:0:99999:7:::\n" for i in range(20))
    )
    return private


def yaml_linked_to_private_file(tmp_path: Path, folder: Path) -> None:
    (folder / "deliverable.yaml").unlink()
    (folder / "deliverable.yaml").symlink_to(private_file(tmp_path))


def readme_linked_to_private_file(tmp_path: Path, folder: Path) -> None:
    assert main(["render", str(folder)]) == 0
    (folder / "README.md").unlink()
    (folder / "README.md").symlink_to(private_file(tmp_path))


LEADS_OUT = "link that leads out of"
#: Writing refuses any link in place of a README before reading it (modelzoo_kit.writing).
IS_A_LINK = "is a symbolic link, not a regular file"

SECRETS = [
    (yaml_linked_to_private_file, ["validate", "{d}"], 1, LEADS_OUT),
    (yaml_linked_to_private_file, ["validate", "{d}/deliverable.yaml"], 1, LEADS_OUT),
    (yaml_linked_to_private_file, ["render", "{d}"], 2, LEADS_OUT),
    (yaml_linked_to_private_file, ["provenance", "--offline", "{d}"], 2, LEADS_OUT),
    (yaml_linked_to_private_file, ["run", "{d}"], 2, LEADS_OUT),
    (readme_linked_to_private_file, ["render", "--check", "{d}"], 2, LEADS_OUT),
    (readme_linked_to_private_file, ["render", "{d}"], 2, IS_A_LINK),
    (readme_linked_to_private_file, ["validate", "{d}"], 1, LEADS_OUT),
    (readme_linked_to_private_file, ["extract", "{d}/README.md"], 2, LEADS_OUT),
]


@pytest.mark.parametrize("setup, command, code, message", SECRETS)
def test_a_link_out_of_the_folder_is_refused_without_showing_its_contents(
    tmp_path, capsys, setup, command, code, message
):
    folder = copy_fixture(tmp_path)
    setup(tmp_path, folder)
    capsys.readouterr()
    assert main([part.replace("{d}", str(folder)) for part in command]) == code
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert message in captured.out + captured.err


def test_an_error_quotes_only_a_short_excerpt_of_a_long_value(tmp_path, capsys):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "precision: Mixed", f"precision: {SECRET}" + "x" * 5000)
    assert main(["render", str(folder)]) == 2
    err = capsys.readouterr().err
    assert SECRET in err and "x" * 100 not in err and "(5011 characters)" in err


def test_a_field_path_shows_only_the_start_of_a_long_key(tmp_path, capsys):
    folder = copy_fixture(tmp_path)
    key = SECRET + "y" * 5000
    edit_yaml(folder, "basic:\n", f"basic:\n  ? {key}\n  : 1\n  ? {key}\n  : 2\n")
    assert main(["render", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"basic.{SECRET}" in err and "y" * 100 not in err and len(err) < 1000


# --------------------------------------------------------------------------- crashes


def yaml_edit(old: str, new: str):
    return lambda tmp_path, folder: edit_yaml(folder, old, new)


def append_yaml(text: str):
    def setup(tmp_path: Path, folder: Path) -> None:
        path = folder / "deliverable.yaml"
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    return setup


def rendered(tmp_path: Path, folder: Path) -> None:
    assert main(["render", str(folder)]) == 0


def readme_not_utf8(tmp_path: Path, folder: Path) -> None:
    (folder / "README.md").write_bytes(b"# caf\xe9 \xff\xfe\n")


def readme_is_a_folder(tmp_path: Path, folder: Path) -> None:
    (folder / "README.md").mkdir()


#: Trees too deep for shutil.rmtree (it recurses): removed by :func:`remove_deep_trees`.
DEEP_TREES: list[Path] = []


def nested_folders(tmp_path: Path, folder: Path) -> None:
    deep = folder
    DEEP_TREES.append(folder / "d")
    for _ in range(1000):  # Path.mkdir(parents=True) recurses once per level
        deep = deep / "d"
        deep.mkdir()
    (deep / "f.txt").write_text("x\n")


@pytest.fixture(autouse=True)
def remove_deep_trees():
    """pytest's own clean-up of old temporary folders would die of RecursionError on them."""
    yield
    while DEEP_TREES:
        top = DEEP_TREES.pop()
        chain = [top]
        while (chain[-1] / "d").is_dir():
            chain.append(chain[-1] / "d")
        for folder in reversed(chain):
            for child in folder.iterdir():
                if not child.is_dir():
                    child.unlink()
            folder.rmdir()


def legacy_readme_and_yaml_folder(tmp_path: Path, folder: Path) -> None:
    (folder / "deliverable.yaml").unlink()
    (folder / "deliverable.yaml").mkdir()
    (folder / "README.md").write_bytes((README_FIXTURES / "good.md").read_bytes())


def name_is_a_file(tmp_path: Path, folder: Path) -> None:
    (tmp_path / "taken").write_text("a file\n")


def file_name_not_utf8(tmp_path: Path, folder: Path) -> None:
    with open(os.fsencode(folder) + b"/caf\xe9.txt", "wb") as stream:
        stream.write(b"x\n")


CRASHES = [
    # (case, setup, command, exit code, what the message says)
    ("yaml-int-tag", yaml_edit("title: TinyNet for PyTorch", "title: !!int abc"), ["render", "{d}"],
     2, "deliverable.yaml:3:8: YAML value error"),
    ("yaml-int-tag-validate", yaml_edit("title: TinyNet for PyTorch", "title: !!int abc"),
     ["validate", "{d}"], 1, "invalid literal"),
    ("yaml-unknown-tag", yaml_edit("title: TinyNet for PyTorch", "title: !foo x"),
     ["render", "{d}"], 2, "!foo"),
    ("yaml-control-character", append_yaml("x: \x1f\n"), ["render", "{d}"], 2,
     "character #x001f is not allowed"),
    ("yaml-lone-surrogate", yaml_edit("title: TinyNet for PyTorch", 'title: "\\ud800\\udc00"'),
     ["render", "{d}"], 2, "half of a UTF-16 pair"),
    ("yaml-complex-key", append_yaml("? [a]\n: b\n"), ["render", "{d}"], 2,
     "a key must be plain text"),
    ("yaml-complex-key-inline", append_yaml("? [a]: b\n"), ["validate", "{d}"], 1,
     "a key must be plain text"),
    ("yaml-500-levels", yaml_edit("title: TinyNet for PyTorch", "title: " + "[" * 500 + "]" * 500),
     ["render", "{d}"], 2, "nested deeper than 64 levels"),
    ("readme-not-utf8-render-repairs", readme_not_utf8, ["render", "{d}"], 0, "wrote"),
    ("readme-not-utf8-check", readme_not_utf8, ["render", "--check", "{d}"], 1, "stale"),
    ("readme-is-a-folder-render", readme_is_a_folder, ["render", "{d}"], 2, "is a folder"),
    ("readme-is-a-folder-check", readme_is_a_folder, ["render", "--check", "{d}"], 2,
     "is a folder"),
    ("readme-is-a-folder-validate", readme_is_a_folder, ["validate", "{d}"], 1, "is a folder"),
    ("file-name-not-utf8-render", file_name_not_utf8, ["render", "{d}"], 0, "wrote"),
    ("extract-output-is-a-folder", rendered, ["extract", "{d}/README.md", "-o", "{d}", "--force"],
     2, "is a folder"),
    ("new-name-is-a-file", name_is_a_file, ["new", "taken", "--dir", "{t}"], 2, "not a folder"),
    ("folders-1000-deep-validate", nested_folders, ["validate", "{d}"], 1, "nested more than"),
    # The zoo walk keeps an explicit stack: a deep tree is walked, and the rest still checked.
    ("folders-1000-deep-validate-recursive", nested_folders, ["validate", "-r", "{t}"], 1,
     "file(s) checked"),
    ("folders-1000-deep-render", nested_folders, ["render", "{d}"], 2, "nested more than"),
    ("folders-1000-deep-provenance", nested_folders, ["provenance", "--offline", "{d}"], 0,
     "checked"),
    ("glob-reversed-range-ignore", yaml_edit("ignore: [", 'ignore: ["[z-a]", '),
     ["validate", "{d}"], 1, "the range z-a is reversed"),
    ("glob-reversed-range-provenance", yaml_edit("ignore: [", 'ignore: ["[z-a]", '),
     ["provenance", "--offline", "{d}"], 2, "the range z-a is reversed"),
    ("glob-reversed-range-option", None, ["provenance", "--offline", "--ignore", "[z-a]", "{d}"],
     2, "the range z-a is reversed"),
    ("glob-too-long", yaml_edit("ignore: [", 'ignore: ["' + "*a" * 200 + '", '),
     ["validate", "{d}"], 1, "at most 256"),
    ("timeout-nan", None, ["provenance", "--offline", "--timeout", "nan", "{d}"], 2,
     "positive, finite"),
    ("timeout-inf", None, ["provenance", "--offline", "--timeout", "inf", "{d}"], 2,
     "positive, finite"),
    ("yaml-file-is-a-folder", legacy_readme_and_yaml_folder, ["validate", "{d}"], 1,
     "is a folder"),
]  # fmt: skip


@pytest.mark.parametrize(
    "case, setup, command, code, fragment", CRASHES, ids=[row[0] for row in CRASHES]
)
def test_broken_input_gets_a_message_and_a_documented_exit_code(
    tmp_path, capsys, case, setup, command, code, fragment
):
    folder = copy_fixture(tmp_path)
    if setup is not None:
        setup(tmp_path, folder)
    capsys.readouterr()
    args = [part.replace("{d}", str(folder)).replace("{t}", str(tmp_path)) for part in command]
    assert main(args) == code
    captured = capsys.readouterr()
    assert fragment in captured.out + captured.err, captured
    assert "Traceback" not in captured.err


def test_hashing_a_folder_1000_deep_is_one_input_error(tmp_path):
    from modelzoo_kit.errors import InputFileError
    from modelzoo_kit.githash import hash_folder

    nested_folders(tmp_path, tmp_path)
    with pytest.raises(InputFileError, match="nested more than 100 deep"):
        hash_folder(tmp_path)


def test_readme_not_utf8_is_repaired_by_render(tmp_path):
    folder = copy_fixture(tmp_path)
    readme_not_utf8(tmp_path, folder)
    assert main(["render", str(folder)]) == 0
    assert main(["render", "--check", str(folder)]) == 0


def test_a_path_that_is_not_utf8_is_printed_escaped(tmp_path):
    zoo = tmp_path / "zoo"
    model = os.fsencode(zoo) + b"/caf\xe9"
    os.makedirs(model)
    with open(model + b"/README.md", "wb") as stream:
        stream.write((README_FIXTURES / "good.md").read_bytes())
    result = bounded_modelzoo("path-not-utf8", "validate", "-r", zoo, cwd=tmp_path)
    assert_answered(result, {0, 1}, "checked")
    assert "caf\\udce9" in result.out


def test_a_path_that_is_not_utf8_survives_the_walk_cache(tmp_path):
    zoo = tmp_path / "zoo"
    model = os.fsencode(zoo) + b"/caf\xe9"
    os.makedirs(model)
    with open(model + b"/README.md", "wb") as stream:
        stream.write((README_FIXTURES / "good.md").read_bytes())
    cache = tmp_path / "walk.json"
    first = bounded_modelzoo("cache-write", "validate", "-r", zoo, "--walk-cache", cache,
                             cwd=tmp_path)
    assert_answered(first, {0, 1}, "checked")
    again = bounded_modelzoo("cache-read", "validate", "-r", zoo, "--walk-cache", cache,
                             cwd=tmp_path)
    assert_answered(again, {first.code}, "checked")
    assert again.out == first.out


# --------------------------------------------------------------------------- the environment


def test_an_unreadable_deliverable_yaml_is_an_input_error(tmp_path, capsys, monkeypatch):
    folder = copy_fixture(tmp_path)
    path = folder / "deliverable.yaml"
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads everything: make the open fail as it would for another user
        real_open = os.open

        def refusing_open(file, *args, **kwargs):
            if Path(file) == path:
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
    assert main(["render", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "deliverable.yaml: permission denied" in err and "chmod u+r" in err


def _fail_every_write(monkeypatch, error: int) -> None:
    import modelzoo_kit.writing as writing

    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, stream):
            self.stream = stream

        def write(self, text):
            raise OSError(error, os.strerror(error))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(writing.os, "fdopen", lambda *a, **k: FullDisk(real_fdopen(*a, **k)))


def _read_only_folder(monkeypatch, folder: Path) -> None:
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return
    import tempfile

    def refusing_mkstemp(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refusing_mkstemp)


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda mp, folder: _fail_every_write(mp, errno.ENOSPC), "No space left on device"),
        (lambda mp, folder: _read_only_folder(mp, folder), "Permission denied"),
    ],
    ids=["full-disk", "read-only-folder"],
)
def test_a_failed_write_keeps_the_old_readme_and_exits_2(
    tmp_path, capsys, monkeypatch, break_it, message
):
    folder = copy_fixture(tmp_path)
    old = "# an old README\n"
    (folder / "README.md").write_text(old, encoding="utf-8")
    before = sorted(p.name for p in folder.iterdir())
    break_it(monkeypatch, folder)
    try:
        assert main(["render", str(folder)]) == 2
    finally:
        folder.chmod(0o755)
    err = capsys.readouterr().err
    assert message in err and "README.md: cannot write" in err and "Traceback" not in err
    assert (folder / "README.md").read_text(encoding="utf-8") == old
    assert sorted(p.name for p in folder.iterdir()) == before  # no temporary file left


# --------------------------------------------------------------------------- exit codes


def _boom(args):
    raise RuntimeError("a bug")


@pytest.mark.parametrize(
    "argv, env, traceback_shown",
    [
        (["schema"], {}, False),
        (["--debug", "schema"], {}, True),
        (["schema"], {"MODELZOO_DEBUG": "1"}, True),
        (["schema"], {"MODELZOO_DEBUG": "0"}, False),
    ],
)
def test_an_internal_error_is_one_line_with_its_own_exit_code(
    capsys, monkeypatch, argv, env, traceback_shown
):
    monkeypatch.setattr("modelzoo_kit.commands.schema.run", _boom)
    monkeypatch.delenv("MODELZOO_DEBUG", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err
    assert ("Traceback" in err) == traceback_shown
    last = err.strip().splitlines()[-1]
    assert last.startswith("modelzoo schema: internal error (RuntimeError)") and "--debug" in last


def test_an_os_error_from_the_environment_is_an_input_error(capsys, monkeypatch):
    def vanished(args):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/gone")

    monkeypatch.setattr("modelzoo_kit.commands.schema.run", vanished)
    assert main(["schema"]) == 2
    assert capsys.readouterr().err.strip() == "modelzoo schema: /gone: No such file or directory"


def test_exit_codes_are_documented_in_help_and_readme(capsys):
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in out
        assert f"| {code} |" in readme
