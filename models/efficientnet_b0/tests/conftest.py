"""pytest settings of the deliverable's own tests, which travel with its folder.

Run them from the deliverable's folder (``python -m pytest tests``) or as part of the
repository's suite (its ``testpaths`` name this folder). A module that needs torch says so with
``pytestmark = pytest.mark.needs_torch``; the repository's kit scope (``MODELZOO_TEST_SCOPE=kit``,
a Python without torch) leaves those modules out, read from their source as the repository's
``tests/conftest.py`` does, and runs the rest (the zoo scripts' tests).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

MARK = "needs_torch"

# Every hand-written CPU kernel on any CPU, also those a narrower build leaves out for speed
# (cpu_accel.kernels.SWITCH): their paths are then checked wherever the tests run. Set here, at
# collection, so the training runs the tests start in subprocesses inherit it; a "0" set by the
# caller (no kernels at all) is kept.
os.environ.setdefault("EFFICIENTNET_CPU_KERNELS", "1")


def module_needs_torch(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return MARK in ast.unparse(node.value)
    return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: the test needs torch")
    config.addinivalue_line("markers", "slow: trains or spawns processes")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if os.environ.get("MODELZOO_TEST_SCOPE") != "kit" or collection_path.suffix != ".py":
        return None
    if collection_path.name.startswith("test_") and module_needs_torch(collection_path):
        return True
    return None
