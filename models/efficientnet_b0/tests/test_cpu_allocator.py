"""The CPU allocator setting: freed activations are reused instead of mapped afresh each step."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from effnet_support import DELIVERABLE

pytestmark = pytest.mark.needs_torch

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the setting is glibc's (Linux)"
)

# Allocate, touch and free a 64 MB tensor (over glibc's largest mmap threshold) several times,
# as every training step does with its activations, and count the page faults of the steady
# state (after a few warm-up rounds).
PROBE = """
import json, resource, sys
sys.path.insert(0, sys.argv[1])
import torch
from cpu_accel.allocator import retain_freed_memory
applied = retain_freed_memory() if sys.argv[2] == "retain" else None
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
# Warm-up: glibc grows the heap a few times before one freed block fits the next aligned
# request (posix_memalign asks for a little more than the block it freed).
for _ in range(12):
    torch.empty(16 * 2**20).fill_(1.0)
start = faults()
for _ in range(10):
    torch.empty(16 * 2**20).fill_(1.0)
print(json.dumps({"applied": applied, "faults": faults() - start}))
"""


def probe(mode: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(DELIVERABLE), mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@glibc_only
def test_retained_memory_is_reused_without_page_faults() -> None:
    system, retained = probe("system"), probe("retain")
    pages_per_tensor = 64 * 2**20 // 4096
    assert system["faults"] >= 9 * pages_per_tensor  # each step maps its memory again
    assert retained["applied"] is True
    assert retained["faults"] < pages_per_tensor  # the same pages, reused


def test_elsewhere_it_does_nothing(monkeypatch) -> None:
    from cpu_accel import allocator as cpu_allocator

    monkeypatch.setattr(cpu_allocator.sys, "platform", "darwin")
    assert cpu_allocator.retain_freed_memory() is False


def test_training_on_cpu_applies_it_unless_asked_not_to(monkeypatch) -> None:
    from cpu_accel import allocator
    from training import runner

    calls: list[int] = []
    monkeypatch.setattr(allocator, "retain_freed_memory", lambda: calls.append(1) or True)

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(runner, "init_process_group", stop)
    from train import build_parser

    for argv, expected in (
        (["--device", "cpu"], 1),
        (["--device", "cpu", "--cpu-allocator", "system"], 0),
    ):
        calls.clear()
        with pytest.raises(Stop):
            runner.run(build_parser().parse_args(["--data", "x", *argv]))
        assert len(calls) == expected
