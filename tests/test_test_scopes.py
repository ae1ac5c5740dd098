"""The two test scopes (tests/conftest.py): the whole suite never skips torch tests silently, and
the kit scope leaves out exactly the tests marked ``needs_torch``, saying how many; the
deliverable's own tests (models/efficientnet_b0/tests) run in the whole suite and not in the kit
scope."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


def _load_conftest():
    """This folder's conftest by its path: ``import conftest`` may find the deliverable's."""
    spec = importlib.util.spec_from_file_location("kit_conftest", CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


module_needs_torch = _load_conftest().module_needs_torch


@pytest.mark.parametrize(
    "source, needs",
    [
        ("import pytest\npytestmark = pytest.mark.needs_torch\n", True),
        ("import pytest\npytestmark = [pytest.mark.slow, pytest.mark.needs_torch]\n", True),
        ("import pytest\npytestmark = pytest.mark.slow\n", False),
        ("import pytest\n\n@pytest.mark.needs_torch\ndef test_x():\n    pass\n", False),
        ("def test_x():\n    pytestmark = 'needs_torch'\n", False),
    ],
)
def test_a_module_needs_torch_only_by_its_module_level_mark(tmp_path, source, needs):
    module = tmp_path / "test_m.py"
    module.write_text(source)
    assert module_needs_torch(module) is needs


def run_pytest(folder: Path, scope: str) -> subprocess.CompletedProcess:
    (folder / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"))
    (folder / "test_kit.py").write_text(
        "import pytest\n\n"
        "def test_kit():\n    pass\n\n"
        "@pytest.mark.needs_torch\ndef test_one_torch_test():\n    import no_such_torch\n"
    )
    (folder / "test_torch_module.py").write_text(
        "import pytest\npytestmark = pytest.mark.needs_torch\n\n"
        "def test_in_a_torch_module():\n    import no_such_torch\n"
    )
    env = {"PATH": "/usr/bin:/bin", "MODELZOO_TEST_SCOPE": scope}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           str(folder)], capture_output=True, text=True, env=env, cwd=folder)


def test_the_kit_scope_leaves_out_the_marked_modules_and_tests_and_says_so(tmp_path):
    result = run_pytest(tmp_path, "kit")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 deselected" in result.stdout
    assert "left out 1 test module(s) and 1 test(s) marked needs_torch" in result.stdout


def test_the_whole_suite_runs_the_marked_tests_or_refuses_to_start_without_torch(tmp_path):
    """Both branches run in CI: the whole suite has torch, the kit scope on 3.10 has none."""
    result = run_pytest(tmp_path, "all")
    if importlib.util.find_spec("torch") is not None:
        # The marked tests run (and here fail to import the stand-in module): none is skipped.
        assert "2 failed, 1 passed" in result.stdout, result.stdout
    else:
        assert result.returncode == 4
        assert "the whole suite needs torch, which this Python does not have" in result.stderr


def test_an_unknown_scope_is_a_usage_error(tmp_path):
    result = run_pytest(tmp_path, "most")
    assert result.returncode == 4
    assert "MODELZOO_TEST_SCOPE='most': expected one of all, kit" in result.stderr


def test_the_deliverables_own_tests_are_in_the_suite_and_left_out_of_the_kit_scope():
    root = CONFTEST.parents[1]
    assert '"models/efficientnet_b0/tests"' in (root / "pyproject.toml").read_text()
    env = {"PATH": "/usr/bin:/bin", "MODELZOO_TEST_SCOPE": "kit"}
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only",
         "models/efficientnet_b0/tests"], capture_output=True, text=True, env=env, cwd=root)
    assert collected.returncode == 0, collected.stdout
    assert "test_scripts.py" in collected.stdout  # no torch needed: it runs in the kit scope
    assert "test_checkpoint.py" not in collected.stdout  # marked needs_torch: left out
