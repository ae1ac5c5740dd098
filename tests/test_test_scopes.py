"""The two test scopes (tests/conftest.py): the whole suite never skips torch tests silently, and
the kit scope leaves out exactly the tests marked ``needs_torch``, saying how many."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import module_needs_torch

CONFTEST = Path(__file__).with_name("conftest.py")


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
