"""githash must give the ids git itself gives: git is the oracle in every test here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import git
import pytest

from modelzoo_kit import githash


def git_tree_of(folder: Path, autocrlf: str | None = None) -> str:
    """Tree id of ``folder`` according to git: add everything to a fresh index, write-tree."""
    repo = git.Repo.init(folder)
    if autocrlf is not None:
        repo.git.config("core.autocrlf", autocrlf)
    repo.git.add("-A")
    return repo.git.write_tree()


def write(path: Path, data: bytes | str, executable: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if executable:
        path.chmod(0o755)
    return path


def no_dot_git(path: str) -> bool:
    return False


@pytest.mark.parametrize(
    "data",
    [b"", b"hello\n", b"\0\1\2binary", "中文\n".encode(), b"x" * 70000],
)
def test_blob_id_equals_git_hash_object(tmp_path: Path, data: bytes) -> None:
    file = write(tmp_path / "f", data)
    expected = subprocess.run(["git", "hash-object", str(file)], capture_output=True,
                              text=True, check=True).stdout.strip()
    assert githash.blob_id(data) == expected


def test_tree_order_puts_folders_after_same_prefix_files(tmp_path: Path) -> None:
    # "a.txt" < "a/" < "a0" in git's order although "a" < "a.txt" as plain names
    write(tmp_path / "a.txt", "1")
    write(tmp_path / "a" / "x", "2")
    write(tmp_path / "a0", "3")
    write(tmp_path / "A", "4")
    write(tmp_path / "a-b" / "c" / "d", "5")
    ours = githash.hash_folder(tmp_path).tree_id
    assert ours == git_tree_of(tmp_path)


def test_exec_bit_symlink_and_empty_folder(tmp_path: Path) -> None:
    write(tmp_path / "run.sh", "#!/bin/sh\n", executable=True)
    write(tmp_path / "plain.sh", "#!/bin/sh\n")
    write(tmp_path / "sub" / "data.txt", "d\n")
    os.symlink("sub/data.txt", tmp_path / "link")
    os.symlink("../outside", tmp_path / "sub" / "dangling")
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    tree = githash.hash_folder(tmp_path)
    assert tree.entries["run.sh"].mode == githash.MODE_EXECUTABLE
    assert tree.entries["plain.sh"].mode == githash.MODE_FILE
    assert tree.entries["link"].mode == githash.MODE_SYMLINK
    assert tree.empty_dirs == {"empty", "empty/deeper"}
    assert tree.tree_id == git_tree_of(tmp_path)


def test_exec_bit_changes_the_tree_id(tmp_path: Path) -> None:
    script = write(tmp_path / "s.sh", "echo\n")
    before = githash.hash_folder(tmp_path).tree_id
    script.chmod(0o744)
    after = githash.hash_folder(tmp_path).tree_id
    assert before != after
    assert after == git_tree_of(tmp_path)


@pytest.mark.parametrize(
    ("attributes", "autocrlf"),
    [
        ("", None),
        ("* text=auto\n", None),
        ("*.txt text\n", None),
        ("*.txt -text\n", None),
        ("*.txt eol=crlf\n", None),
        ("* text=auto\n*.dat binary\n", None),
        ("", "input"),
        ("", "true"),
        ("docs/*.txt text\n", None),
        ("* text=auto\n*.txt !text\n", "false"),
    ],
)
def test_line_ending_rules_match_git(tmp_path: Path, attributes: str, autocrlf: str | None
                                     ) -> None:
    if attributes:
        write(tmp_path / ".gitattributes", attributes)
    write(tmp_path / "crlf.txt", b"one\r\ntwo\r\n")
    write(tmp_path / "docs" / "crlf.txt", b"one\r\ntwo\r\n")
    write(tmp_path / "mixed.txt", b"one\r\ntwo\n")
    write(tmp_path / "lonecr.txt", b"one\rtwo\r\n")
    write(tmp_path / "nul.dat", b"a\0b\r\n")
    write(tmp_path / "ctrl.txt", b"\x01\x02\x03\x04\r\n")
    write(tmp_path / "lf.txt", b"one\ntwo\n")
    ours = githash.hash_folder(tmp_path, autocrlf=autocrlf).tree_id
    assert ours == git_tree_of(tmp_path, autocrlf)


def test_nested_gitattributes_override_outer_ones(tmp_path: Path) -> None:
    write(tmp_path / ".gitattributes", "*.txt text\n")
    write(tmp_path / "raw" / ".gitattributes", "*.txt -text\n")
    write(tmp_path / "raw" / "a.txt", b"x\r\n")
    write(tmp_path / "b.txt", b"x\r\n")
    tree = githash.hash_folder(tmp_path)
    assert tree.entries["raw/a.txt"].raw_oid is None
    assert tree.entries["b.txt"].raw_oid is not None
    assert tree.tree_id == git_tree_of(tmp_path)


def test_conversion_keeps_the_raw_id_for_callers(tmp_path: Path) -> None:
    write(tmp_path / ".gitattributes", "* text=auto\n")
    write(tmp_path / "a.txt", b"x\r\n")
    entry = githash.hash_folder(tmp_path).entries["a.txt"]
    assert entry.oid == githash.blob_id(b"x\n")
    assert entry.raw_oid == githash.blob_id(b"x\r\n")


def test_lfs_files_hash_as_their_pointer(tmp_path: Path) -> None:
    content = os.urandom(5000)
    write(tmp_path / ".gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n")
    write(tmp_path / "w.bin", content)
    pointer = githash.lfs_pointer(content)
    assert pointer.startswith(githash.LFS_POINTER_HEADER)
    assert f"size {len(content)}\n".encode() in pointer
    entry = githash.hash_folder(tmp_path).entries["w.bin"]
    assert entry.oid == githash.blob_id(pointer)
    # a file that already is a pointer (never smudged) is stored as it is
    write(tmp_path / "w.bin", pointer)
    assert githash.hash_folder(tmp_path).entries["w.bin"].oid == githash.blob_id(pointer)


def test_unknown_filter_driver_is_reported(tmp_path: Path) -> None:
    write(tmp_path / ".gitattributes", "*.c filter=indent\n")
    write(tmp_path / "x.c", "int x;\n")
    tree = githash.hash_folder(tmp_path)
    assert [n.path for n in tree.notes] == ["x.c"]
    assert "indent" in tree.notes[0].message


def test_ident_is_collapsed(tmp_path: Path) -> None:
    write(tmp_path / ".gitattributes", "*.py ident\n")
    write(tmp_path / "v.py", "# $Id: 0123456789abcdef $\n")
    assert githash.hash_folder(tmp_path).tree_id == git_tree_of(tmp_path)


def test_nested_repository_is_a_gitlink(tmp_path: Path) -> None:
    sub = git.Repo.init(tmp_path / "vendor" / "lib")
    write(tmp_path / "vendor" / "lib" / "x.py", "x = 1\n")
    sub.git.add("-A")
    sub.git.commit("-m", "lib", "--no-verify")
    write(tmp_path / "main.py", "import lib\n")
    tree = githash.hash_folder(tmp_path)
    entry = tree.entries["vendor/lib"]
    assert entry.mode == githash.MODE_GITLINK
    assert entry.oid == sub.head.commit.hexsha
    assert tree.tree_id == git_tree_of(tmp_path)


def test_exclude_drops_files_and_whole_folders(tmp_path: Path) -> None:
    write(tmp_path / "keep.py", "k\n")
    write(tmp_path / "README.md", "r\n")
    write(tmp_path / "build" / "out.o", "o\n")
    tree = githash.hash_folder(
        tmp_path, exclude=lambda p: githash.path_matches("README.md", p)
        or githash.path_matches("build/", p))
    assert set(tree.entries) == {"keep.py"}
    assert sorted(tree.excluded) == ["README.md", "build"]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("README.md", "README.md", True),
        ("README.md", "docs/README.md", True),
        ("/README.md", "docs/README.md", False),
        ("docs/*.png", "docs/a.png", True),
        ("docs/*.png", "docs/sub/a.png", False),
        ("docs/**/*.png", "docs/sub/a.png", True),
        ("build/", "build/x/y.o", True),
        ("build/", "build", False),
        ("build/", "build/", True),
        ("*.pyc", "a/b/c.pyc", True),
        ("README*.md", "README.en.md", True),
        ("data", "data/x", True),
    ],
)
def test_path_matches(pattern: str, path: str, matches: bool) -> None:
    assert githash.path_matches(pattern, path) is matches


def test_empty_folder_is_gits_empty_tree(tmp_path: Path) -> None:
    assert githash.hash_folder(tmp_path).tree_id == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
