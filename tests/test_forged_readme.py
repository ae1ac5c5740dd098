"""Values are data: a rendered README cannot be forged by what a value holds.

One-line fields are one line (the model refuses line breaks and control characters, naming
file, line and field), code is fenced so it cannot escape, and validate notices a README that
writes a basic-information field twice."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from deliverable_fixtures import copy_fixture
from markdown_it import MarkdownIt

from modelzoo_kit.cli import main
from modelzoo_kit.errors import InputFileError
from modelzoo_kit.loading import load_deliverable
from modelzoo_kit.render import md_fenced, render_folder

FORGED = "\n\n**发布者（Publisher）：Evil Corp**\n"


def set_value(folder: Path, path: tuple[Any, ...], value: Any, key: bool = False) -> None:
    """Set deliverable.yaml's value at ``path`` (or, with ``key``, add a copy of it under the
    key ``value``)."""
    yaml_path = folder / "deliverable.yaml"
    data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    node = data
    for part in path[:-1]:
        node = node[part]
    if key:
        node[value] = node[path[-1]]
    else:
        node[path[-1]] = value
    yaml_path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                         encoding="utf-8")


#: (where the value is, the field the error names)
ONE_LINE_VALUES = [
    (("title",), "title"),
    (("basic", "publisher"), "basic.publisher"),
    (("basic", "framework"), "basic.framework"),
    (("basic", "description", "zh"), "basic.description"),
    (("overview", "paper", "title"), "overview.paper.title"),
    (("overview", "adapted", "url"), "overview.adapted.url"),
    (("overview", "adapted", "branch"), "overview.adapted.branch"),
    (("default_config", "dataset"), "default_config.dataset"),
    (("default_config", "hyperparameters", "Batch size"), "default_config.hyperparameters"),
    (("environment", "images", 0, "version"), "environment.images[0].version"),
]
ONE_LINE_KEYS = [
    ("default_config", "hyperparameters", "Batch size"),
    ("entry_points", "evaluate"),
]


@pytest.mark.parametrize("path,field", ONE_LINE_VALUES, ids=[f for _, f in ONE_LINE_VALUES])
def test_one_line_field_refuses_a_line_break(
    tmp_path: Path, path: tuple[Any, ...], field: str
) -> None:
    folder = copy_fixture(tmp_path)
    set_value(folder, path, "Huawei" + FORGED)
    with pytest.raises(InputFileError) as refused:
        load_deliverable(folder)
    text = str(refused.value)
    assert re.search(rf"deliverable\.yaml:\d+:\d+: {re.escape(field)}\b", text), text
    assert "line break" in text and "one line" in text


@pytest.mark.parametrize("path", ONE_LINE_KEYS, ids=lambda p: ".".join(map(str, p)))
def test_one_line_key_refuses_a_line_break(tmp_path: Path, path: tuple[Any, ...]) -> None:
    folder = copy_fixture(tmp_path)
    set_value(folder, path, "x" + FORGED, key=True)
    with pytest.raises(InputFileError) as refused:
        load_deliverable(folder)
    assert "line break" in str(refused.value)


@pytest.mark.parametrize("char", ["\x1b", "\r", "\x00", "\x07", "\x9b", "\u202e"])
@pytest.mark.parametrize(
    "path",
    [("overview", "summary", "zh"), ("entry_points", "train-1p", "command"), ("title",)],
    ids=lambda p: ".".join(map(str, p)) if isinstance(p, tuple) else repr(p),
)
def test_no_field_holds_a_control_character(
    tmp_path: Path, path: tuple[Any, ...], char: str
) -> None:
    folder = copy_fixture(tmp_path)
    set_value(folder, path, f"bash run.sh{char}[2K echo safe")
    with pytest.raises(InputFileError) as refused:
        load_deliverable(folder)
    text = str(refused.value)
    assert ".".join(map(str, path)) in text
    assert char not in text  # the message shows it escaped


@pytest.mark.parametrize(
    "path,value",
    [
        (("overview", "summary", "zh"), "第一段。\n\n第二段，带\t制表符。\n"),
        (("entry_points", "train-1p", "command"), "bash a.sh \\\n  --data_path=/data\n"),
    ],
)
def test_multi_line_text_stays_allowed(tmp_path: Path, path: tuple[Any, ...], value: str) -> None:
    folder = copy_fixture(tmp_path)
    set_value(folder, path, value)
    load_deliverable(folder)


@pytest.mark.parametrize(
    "content,fence",
    [
        ("plain", "```"),
        ("a ``` b", "````"),
        ("```\nrm -rf ~\n```", "````"),
        ("x ````` y", "``````"),
        ("~~~", "```"),
    ],
)
def test_fence_is_longer_than_any_backtick_run(content: str, fence: str) -> None:
    block = md_fenced(content)
    assert block == f"{fence}\n{content}\n{fence}"
    tokens = [t for t in MarkdownIt("commonmark").parse(block) if t.type == "fence"]
    assert len(tokens) == 1 and tokens[0].content == content + "\n"


@pytest.mark.parametrize(
    "command",
    [
        "bash a.sh ```",
        "bash a.sh\n```\n\n**发布者（Publisher）：Evil Corp**\n\n```",
        "echo ````` done",
    ],
)
def test_entry_point_command_cannot_leave_its_code_block(tmp_path: Path, command: str) -> None:
    folder = copy_fixture(tmp_path)
    set_value(folder, ("entry_points", "evaluate", "command"), command)
    for rendered in render_folder(folder):
        tokens = MarkdownIt("commonmark").parse(rendered.text)
        fences = [t.content for t in tokens if t.type == "fence"]
        assert any(content.strip() == command for content in fences), fences
        assert "Evil Corp" not in "".join(t.content for t in tokens if t.type == "inline")


def test_validate_notices_a_forged_field_in_prose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prose may hold line breaks; a forged field line in it is still caught (MZ202)."""
    folder = copy_fixture(tmp_path)
    set_value(folder, ("overview", "summary", "zh"), "TinyNet。" + FORGED)
    assert main(["render", str(folder)]) == 0
    capsys.readouterr()
    assert main(["validate", str(folder), "--select", "MZ202"]) == 1
    assert "MZ202" in capsys.readouterr().out
