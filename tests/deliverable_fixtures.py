"""Helpers for tests that need a deliverable folder of their own (not a test module)."""

from __future__ import annotations

import shutil
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "deliverables"


def copy_fixture(tmp_path: Path, name: str = "minimal") -> Path:
    """A private copy of ``tests/fixtures/deliverables/<name>`` that a test may change."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def edit_yaml(folder: Path, old: str, new: str) -> Path:
    """Replace the first ``old`` in the folder's deliverable.yaml (which must contain it)."""
    path = folder / "deliverable.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path
