"""Only a regular file is ever replaced by an output: never a folder, FIFO, device or link."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from deliverable_fixtures import copy_fixture

from modelzoo_kit.cli import main
from modelzoo_kit.writing import UnsafeOutputError, write_atomically

README = Path(__file__).parent / "fixtures" / "readmes" / "good.md"


def make_folder(path: Path) -> None:
    path.mkdir()


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_link_to_dev_null(path: Path) -> None:
    path.symlink_to("/dev/null")


def make_link_to_a_file(path: Path) -> None:
    target = path.parent / "elsewhere.txt"
    target.write_text("keep me\n")
    path.symlink_to(target)


def make_dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere" / "x")


def make_null_device(path: Path) -> None:
    """A character device with /dev/null's numbers, inside tmp_path (never /dev/null itself)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")


KINDS: dict[str, Callable[[Path], None]] = {
    "folder": make_folder,
    "fifo": make_fifo,
    "symlink-to-dev-null": make_link_to_dev_null,
    "symlink-to-a-file": make_link_to_a_file,
    "dangling-symlink": make_dangling_link,
    "device": make_null_device,
}


def snapshot(path: Path) -> tuple:
    info = os.lstat(path)
    target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
    return (stat.S_IFMT(info.st_mode), info.st_ino, target)


@pytest.mark.parametrize("kind", KINDS)
def test_write_atomically_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "out.txt"
    KINDS[kind](path)
    before = snapshot(path)
    with pytest.raises(UnsafeOutputError, match=r"out\.txt: is .*not a regular file"):
        write_atomically(path, "text\n")
    assert snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    if kind == "symlink-to-a-file":
        assert (tmp_path / "elsewhere.txt").read_text() == "keep me\n"


@pytest.mark.parametrize("existing", [None, "old text\n"])
def test_write_atomically_writes_and_replaces_regular_files(
    tmp_path: Path, existing: str | None
) -> None:
    path = tmp_path / "out.txt"
    if existing is not None:
        path.write_text(existing)
        path.chmod(0o640)
    write_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    if existing is not None:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640


def _extract(tmp_path: Path, target: Path) -> list[str]:
    return ["extract", str(README), "-o", str(target), "--force"]


def _schema(tmp_path: Path, target: Path) -> list[str]:
    return ["schema", "--write", "--output", str(target)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", [_extract, _schema], ids=["extract -o", "schema --write"])
def test_commands_never_replace_a_special_output(
    tmp_path: Path, kind: str, command: Callable[[Path, Path], list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "out.yaml"
    KINDS[kind](target)
    before = snapshot(target)
    assert main(command(tmp_path, target)) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err or (kind == "folder" and "is a folder" in err), err
    assert snapshot(target) == before


@pytest.mark.parametrize("kind", KINDS)
def test_render_never_replaces_a_special_readme(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture(tmp_path)
    readme = folder / "README.md"
    KINDS[kind](readme)
    before = snapshot(readme)
    assert main(["render", str(folder), "--lang", "zh"]) == 2
    assert "README.md: is" in capsys.readouterr().err
    assert snapshot(readme) == before


def test_new_never_writes_through_a_dangling_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m").mkdir()
    make_dangling_link(tmp_path / "m" / "deliverable.yaml")
    assert main(["new", "m", "--dir", str(tmp_path)]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert not (tmp_path / "m" / "nowhere").exists()
