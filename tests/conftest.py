"""Test scopes: the whole suite, or the kit's own tests on a Python that cannot have torch.

The kit runs on every Python the README claims (3.10 up); the training deliverable needs torch,
whose wheels this project takes from the machine's disk for Python 3.11 only. So a test that
needs torch (it imports the deliverable's modules, trains, or compares against a torch library)
says so with the ``needs_torch`` mark, on the module (``pytestmark``) or on the test, and:

- the whole suite (the default) refuses to start without torch, rather than skip a core path;
- ``MODELZOO_TEST_SCOPE=kit`` leaves every marked test out, says how many, and runs the rest.

A torch test that forgets the mark fails in the kit scope (CI runs it on 3.10), so the mark
cannot drift from what the tests really import.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path

import pytest

# The deliverable's tests live in its folder (they travel with it); their helper module
# ``effnet_support`` is shared with the kit's tests of the bundled deliverable.
DELIVERABLE_TESTS = Path(__file__).resolve().parents[1] / "models" / "efficientnet_b0" / "tests"
if str(DELIVERABLE_TESTS) not in sys.path:
    sys.path.insert(0, str(DELIVERABLE_TESTS))

SCOPE_VARIABLE = "MODELZOO_TEST_SCOPE"
SCOPES = ("all", "kit")
MARK = "needs_torch"


def _scope() -> str:
    scope = os.environ.get(SCOPE_VARIABLE, "all") or "all"
    if scope not in SCOPES:
        raise pytest.UsageError(f"{SCOPE_VARIABLE}={scope!r}: expected one of {', '.join(SCOPES)}")
    return scope


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: the test needs torch (left out when "
                            f"{SCOPE_VARIABLE}=kit)")
    if _scope() == "all" and importlib.util.find_spec("torch") is None:
        raise pytest.UsageError(
            "the whole suite needs torch, which this Python does not have: install "
            "'.[train,dev,parity]' (tools/run_tests.sh does), or run only the kit's own tests "
            f"with {SCOPE_VARIABLE}=kit")
    config.stash[_left_out] = []


_left_out = pytest.StashKey[list]()


def module_needs_torch(path: Path) -> bool:
    """Whether a test module marks itself ``needs_torch`` with a module-level ``pytestmark``.

    Read from the source, not by importing it: such a module imports torch at its top, which is
    exactly what cannot happen in the kit scope."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return MARK in ast.unparse(node.value)
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _scope() != "kit" or collection_path.suffix != ".py":
        return None
    if collection_path.name.startswith("test_") and module_needs_torch(collection_path):
        if _requested(collection_path, config) and collection_path.name not in (
            left_out := config.stash[_left_out]
        ):
            left_out.append(collection_path.name)
        return True
    return None


def _requested(path: Path, config: pytest.Config) -> bool:
    """Whether the command line asked for ``path`` (pytest walks a named file's folder too)."""
    for arg in config.args:
        root = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path.resolve() == root or root in path.resolve().parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _scope() != "kit":
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker(MARK) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        config.stash[_left_out].extend(item.nodeid for item in dropped)


def pytest_report_header(config: pytest.Config) -> str:
    return f"test scope: {_scope()} ({SCOPE_VARIABLE})"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    left_out = config.stash.get(_left_out, [])
    if _scope() == "kit":
        modules = sum(1 for name in left_out if "::" not in name)
        tests = len(left_out) - modules
        terminalreporter.write_line(
            f"kit scope: left out {modules} test module(s) and {tests} test(s) marked "
            f"{MARK} (they run in the whole suite)")
