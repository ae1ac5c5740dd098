"""Hypothesis over everything a user hands the kit: deliverable.yaml text, README text and bytes,
folder trees (links in and out, FIFOs, folders where files belong), names and schema files.

For every command (new, render, render --check, validate, validate -r, extract, schema,
provenance --offline, and run, which here only lists entry points: it loads deliverable.yaml but
never runs one), each example asserts:

- the exit code is a documented one other than internal error (0, 1 or 2), and nothing escapes
  ``main`` (no traceback);
- the example finishes within the deadline;
- nothing is written outside the example's folder, and nothing of a private file beside it (that
  the tree may link to) is printed.

CI runs a few hundred examples per input kind (about a minute on one core). The long run::

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_fuzz_hostile.py -q \
        --hypothesis-show-statistics

(``MODELZOO_FUZZ_EXAMPLES=N`` sets the count directly.)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from modelzoo_kit.cli import EXIT_FINDINGS, EXIT_INPUT_ERROR, EXIT_OK, main

FIXTURE = Path(__file__).parent / "fixtures" / "deliverables" / "minimal"
README_FIXTURE = Path(__file__).parent / "fixtures" / "readmes" / "good.md"
SECRET = "PRIVATE-c91e"
ANSWERS = {EXIT_OK, EXIT_FINDINGS, EXIT_INPUT_ERROR}

_LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = int(os.environ.get("MODELZOO_FUZZ_EXAMPLES", 5000 if _LONG else 200))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),  # a hostile input is answered in well under a second
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


# --------------------------------------------------------------------------- the sandbox


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for current, dirs, files in os.walk(root):  # never follows a link
        for name in dirs + files:
            path = Path(current, name)
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_mtime_ns, info.st_size)
    return found


@contextlib.contextmanager
def sandbox() -> Iterator[Path]:
    """``base/`` holds the example's ``work/`` folder and a private file beside it; on exit,
    checks that nothing outside ``work/`` changed. Runs with ``work/`` as the current folder."""
    base = Path(tempfile.mkdtemp(prefix="mz-fuzz-"))
    private = base / "private"
    private.mkdir()
    (private / "shadow").write_text(f"root:{SECRET}:19000:0:99999:7:::\n" * 5)
    work = base / "work"
    work.mkdir()
    outside = {k: v for k, v in _snapshot(base).items() if not k.startswith("work")}
    cwd = os.getcwd()
    os.chdir(work)
    try:
        yield work
    finally:
        os.chdir(cwd)
        after = {k: v for k, v in _snapshot(base).items() if not k.startswith("work")}
        _remove(base)
    assert after == outside, "something was written outside the example's folder"


def _remove(base: Path) -> None:
    shutil.rmtree(base)


def modelzoo(*args: str | Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    text = out.getvalue() + err.getvalue()
    event(f"{args[0]} -> {code}")
    assert code in ANSWERS, (args, code, text[-2000:])
    assert SECRET not in text, "a private file's contents were printed"
    return code, text


def deliverable(work: Path) -> Path:
    folder = work / "tiny"
    shutil.copytree(FIXTURE, folder)
    return folder


# --------------------------------------------------------------------------- strategies

BOMB = (
    'b0: &b0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    + "".join(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9)}]\n" for i in range(1, 9))
)
YAML_FRAGMENTS = [
    "&a", "*a", "&a [1, 2]", "[*a, *a, *a]", "*b8", "!!int abc", "!!float x", "!!binary ###",
    "!!timestamp 2020-13-45", "!foo", "!!python/object/apply:os.system ['echo hi']", "!!str",
    "!!map", "!!seq", "? [a]", "? {a: b}", "? ", ": b", "[", "]", "{", "}", "- ", "-", "  ",
    "    ", "\t", "'", '"', "|", ">-", "#", "---", "...", "%YAML 1.1", "%TAG ! tag:x,2000:",
    "\x00", "\x1b[31m", "\u202e", "\ufeff", "\r", "\x85", "null", "~", "true", "0x1F", "1e309",
    ".nan", "-.inf", "<<: *a", "<<: [*a]", "[" * 70 + "]" * 70, "{a: " * 30, "x" * 300, "\n",
    ":", ", ", "ignore: ['**a**a**a**a**b', '[z-a]']", "tree_exclude: ['[!]', '\\\\']",
    "training_script: ../private/shadow", "checkpoint: ../private/shadow", "size: 1G",
    "files: {'../x': note}", "version: 1.10", "commit_id: " + "0" * 40, "url: file:///etc",
    "code_path: ../..", "name: ../../x", "modified: 2020.02.30", "entry_points: {}",
]  # fmt: skip
#: Keys whose values are free text: a gentle edit there renders into the README.
PROSE_KEYS = ("zh:", "en:", "title:", "- zh:", "command:", "Batch size:", "dataset:")
SCALARS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "null", "1.10", "0.0", "-1", "9" * 30, "2020.02.30", "../x",
                     "/etc/passwd", "a\nb", "{{ x }}", "{% raw %}", "`", "|", "<b>", "\x1b[31m",
                     "https://user:pw@host/x.git", "git@h:x", "ext::sh -c x", "0" * 40, "Mixed"]),
)  # fmt: skip
yaml_pieces = st.one_of(st.sampled_from(YAML_FRAGMENTS), st.text(max_size=12))


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    """The fixture's deliverable.yaml under a few line edits, or YAML-ish text from scratch."""
    if draw(st.integers(0, 9)) == 0:
        return "".join(draw(st.lists(yaml_pieces, max_size=40)))
    lines = (FIXTURE / "deliverable.yaml").read_text(encoding="utf-8").splitlines()
    gentle = draw(st.booleans())  # only edits that keep the YAML valid
    operations = ["scalar"] if gentle else ["append", "value", "insert", "delete", "indent"]
    prose = [i for i, line in enumerate(lines) if line.lstrip().startswith(PROSE_KEYS)]
    for _ in range(draw(st.integers(0, 5))):
        index = draw(st.sampled_from(prose) if gentle else st.integers(0, len(lines) - 1))
        piece = "".join(draw(st.lists(yaml_pieces, min_size=1, max_size=4)))
        op = draw(st.sampled_from(operations))
        if op == "scalar":  # keeps the YAML valid: the model's rules and the renderer see it
            key, colon, value = lines[index].partition(":")
            if colon and value.strip():  # a leaf, not the head of a mapping
                lines[index] = f"{key}: {json.dumps(draw(SCALARS))}"
        elif op == "append":
            lines[index] += piece
        elif op == "value":
            key, _, _ = lines[index].partition(":")
            lines[index] = f"{key}: {piece}"
        elif op == "insert":
            lines.insert(index, piece)
        elif op == "delete" and len(lines) > 1:
            del lines[index]
        else:
            lines[index] = " " * draw(st.integers(0, 9)) + lines[index].lstrip()
    prefix = BOMB if draw(st.integers(0, 9)) == 0 else ""
    return prefix + "\n".join(lines) + "\n"


MD_FRAGMENTS = [
    "**", "_", "*", "\\", "#", "## ", "## 概述", "## 默认配置", "## 快速上手", "\n", "\n\n",
    "\r\n", "    ", "- ", "  - ", "1. ", "> ", "```", "~~~", "<h2 id=\"概述.md\">", "</h2>",
    "<table>", "[", "](", "](#", "](../private/shadow)", "![", "：", "发布者（Publisher）：",
    "大小（Size）：", "版本（Version）：", "url=", "commit_id=", "code_path=../..",
    "https://github.com/a/b", "参考论文：", "Paper:", "\ufeff", "\ufffd", "\x00", "\x1b]8;;",
    "bash test/train_full_1p.sh", "|", "---", "<!--", "\t", "  " * 200 + "- x", "x" * 500,
]  # fmt: skip
readme_texts = st.lists(
    st.one_of(st.sampled_from(MD_FRAGMENTS), st.text(max_size=10)), max_size=60
).map("".join)
readme_bytes = st.one_of(
    readme_texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
    readme_texts.map(lambda text: text.encode("utf-16")),
    st.just(README_FIXTURE.read_bytes()),
)

NAMES = st.sampled_from(
    ["README.md", "README.en.md", "deliverable.yaml", "train.py", ".gitattributes", "test",
     "d", "a" * 100, "x y", "é", "caf\udce9", "\x1b[2J", ".git", "__pycache__", "logs"]
)  # fmt: skip
KINDS = st.sampled_from(
    ["file", "folder", "link-inside", "link-outside", "link-loop", "dangling", "fifo", "deep"]
)


@st.composite
def trees(draw: st.DrawFn) -> list[tuple[list[str], str, bytes]]:
    """Things to put into a deliverable folder: (path parts, kind, file bytes)."""
    return draw(
        st.lists(
            st.tuples(
                st.lists(NAMES, min_size=1, max_size=3),
                KINDS,
                st.one_of(st.just(b"x\n"), readme_bytes, st.just(b"** text\n")),
            ),
            max_size=6,
        )
    )


def build(folder: Path, items: list[tuple[list[str], str, bytes]]) -> None:
    private = folder.parent.parent / "private" / "shadow"
    for parts, kind, data in items:
        path = folder.joinpath(*parts)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            if kind == "file":
                path.write_bytes(data)
            elif kind == "folder":
                path.mkdir()
            elif kind == "link-inside":
                path.symlink_to(os.path.relpath(folder / "train.py", path.parent))
            elif kind == "link-outside":
                path.symlink_to(private)
            elif kind == "link-loop":
                path.symlink_to(".")
            elif kind == "dangling":
                path.symlink_to("nowhere")
            elif kind == "fifo":
                os.mkfifo(path)
            else:
                deep = path
                for _ in range(120):
                    deep = deep / "d"
                deep.mkdir(parents=True)


FOLDER_COMMANDS = [
    ("validate", "{d}"), ("validate", "-r", "{w}"), ("render", "{d}"), ("render", "--check", "{d}"),
    ("provenance", "--offline", "{d}"), ("run", "{d}"), ("validate", "--format", "json", "{d}"),
    ("validate", "--format", "sarif", "{d}"), ("catalog", "{w}", "-o", "{w}/site"),
    ("export-card", "{d}", "--format", "modelscope"),
]  # fmt: skip
commands = st.sampled_from(FOLDER_COMMANDS)


def _argv(command: tuple[str, ...], folder: Path, work: Path) -> list[str]:
    return [p.replace("{d}", str(folder)).replace("{w}", str(work)) for p in command]


# --------------------------------------------------------------------------- targets


@FUZZ
@given(text=yaml_texts(), command=commands)
def test_any_deliverable_yaml_gets_an_answer(text: str, command: tuple[str, ...]) -> None:
    with sandbox() as work:
        folder = deliverable(work)
        (folder / "deliverable.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        modelzoo(*_argv(command, folder, work))


README_COMMANDS = [
    ("validate", "{d}"), ("validate", "{d}/README.md"), ("validate", "-r", "{w}"),
    ("render", "--check", "{d}"), ("render", "{d}"), ("extract", "{d}/README.md"),
    ("extract", "{d}/README.md", "-o", "{w}/out.yaml", "--force"),
    ("catalog", "{w}", "-o", "{w}/site"),
]  # fmt: skip


@FUZZ
@given(
    data=readme_bytes, english=st.none() | readme_bytes, command=st.sampled_from(README_COMMANDS)
)
def test_any_readme_gets_an_answer(
    data: bytes, english: bytes | None, command: tuple[str, ...]
) -> None:
    with sandbox() as work:
        folder = deliverable(work)
        (folder / "README.md").write_bytes(data)
        if english is not None:
            (folder / "README.en.md").write_bytes(english)
        modelzoo(*_argv(command, folder, work))


@FUZZ
@given(items=trees(), command=st.sampled_from([*FOLDER_COMMANDS, ("extract", "{d}/README.md")]))
def test_any_folder_tree_gets_an_answer(items: list, command: tuple[str, ...]) -> None:
    with sandbox() as work:
        folder = deliverable(work)
        build(folder, items)
        modelzoo(*_argv(command, folder, work))


@FUZZ
@given(
    name=st.one_of(st.sampled_from(["tiny", "a.b-c_d", "..", ".", "-x", "x/y", "taken"]),
                   st.text(max_size=12)),
    parent=st.sampled_from(["", "sub", "taken", "taken/x", "fifo"]),
)  # fmt: skip
def test_new_with_any_name_gets_an_answer(name: str, parent: str) -> None:
    with sandbox() as work:
        (work / "taken").write_text("a file\n")
        os.mkfifo(work / "fifo")
        if "\x00" in name:
            return  # argv cannot carry a NUL
        modelzoo("new", name, "--dir", str(work / parent))


@FUZZ
@given(
    content=st.none() | readme_bytes,
    kind=st.sampled_from(["file", "folder", "fifo", "link-outside"]),
    mode=st.sampled_from([(), ("--check",), ("--write",)]),
)
def test_schema_with_any_output_gets_an_answer(
    content: bytes | None, kind: str, mode: tuple[str, ...]
) -> None:
    with sandbox() as work:
        target = work / "schema.json"
        if content is not None:
            if kind == "file":
                target.write_bytes(content)
            elif kind == "folder":
                target.mkdir()
            elif kind == "fifo":
                os.mkfifo(target)
            else:
                target.symlink_to(work.parent / "private" / "shadow")
        modelzoo("schema", *mode, "--output", str(target))
        if kind == "link-outside" and content is not None and "--write" in mode:
            assert (work.parent / "private" / "shadow").read_text().startswith("root:")
