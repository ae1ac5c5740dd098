"""The files a model zoo expects beside the deliverable's code are there and well formed."""

from __future__ import annotations

from pathlib import Path

import pytest

DELIVERABLE = Path(__file__).resolve().parents[1] / "models" / "efficientnet_b0"
SPDX = "SPDX-License-Identifier: Apache-2.0"


def test_the_licence_is_apache_2_as_the_repository_declares() -> None:
    text = (DELIVERABLE / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    pyproject = (DELIVERABLE.parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = { text = "Apache-2.0" }' in pyproject


def test_modelzoo_level_states_function_performance_and_precision() -> None:
    lines = (DELIVERABLE / "modelzoo_level.txt").read_text(encoding="utf-8").split()
    status = dict(line.split(":", 1) for line in lines)
    assert list(status) == ["FuncStatus", "PerfStatus", "PrecisionStatus"]
    assert set(status.values()) <= {"OK", "POK", "NOK"}


def test_the_public_address_statement_is_there() -> None:
    text = (DELIVERABLE / "public_address_statement.md").read_text(encoding="utf-8")
    assert text.startswith("| 类型 |") and "公网IP地址/公网URL地址/域名/邮箱地址" in text


SOURCES = sorted(
    p.relative_to(DELIVERABLE)
    for pattern in ("*.py", "test/*.sh", "scripts/*.sh", "csrc/*", "Dockerfile")
    for p in DELIVERABLE.glob(pattern)
)


@pytest.mark.parametrize("source", SOURCES, ids=str)
def test_every_source_file_names_its_licence_at_the_top(source: Path) -> None:
    head = (DELIVERABLE / source).read_text(encoding="utf-8").splitlines()[:4]
    assert any(SPDX in line for line in head), f"{source} lacks the '{SPDX}' header"
