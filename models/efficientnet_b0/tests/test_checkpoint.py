"""Checkpoint files: atomic saves that survive SIGKILL, sha256 seals, safe loading, RNG round
trips."""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import pytest
import torch
import torchvision
from effnet_support import DELIVERABLE

# isort: split

from common import checkpoint as ckpt
from common.errors import CheckpointError, DamagedCheckpointError

pytestmark = pytest.mark.needs_torch


def test_atomic_save_round_trips_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "run" / "last.pt"
    ckpt.atomic_save({"w": torch.arange(5)}, path)
    assert torch.equal(ckpt.load(path).contents["w"], torch.arange(5))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_saved_files_get_the_permissions_of_a_new_file_or_keep_their_own(tmp_path):
    """mkstemp makes its file 0600; a finished checkpoint must be as readable as any output."""
    old_umask = os.umask(0o027)
    try:
        path = tmp_path / "last.pt"
        ckpt.atomic_save({"v": 1}, path)
        assert path.stat().st_mode & 0o777 == 0o640
        os.chmod(path, 0o604)  # a file being replaced keeps the permissions it was given
        ckpt.atomic_save({"v": 2}, path)
        assert path.stat().st_mode & 0o777 == 0o604
        assert ckpt.load(path).contents["v"] == 2
    finally:
        os.umask(old_umask)


class Payload:
    """Not a tensor or plain value: weights_only loading must refuse to unpickle it."""


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        (b"not a checkpoint at all", "not a readable PyTorch checkpoint"),
        ("truncated", "not a readable PyTorch checkpoint"),
        ("code", "not a readable PyTorch checkpoint"),
        ("list", "not a checkpoint dictionary"),
        (b"a text file\nof two lines\n", "not a readable PyTorch checkpoint"),
        ({"kind": ckpt.KIND}, "is marked as a train.py checkpoint but lacks 'format_version'"),
        (
            {**{k: {} for k in ckpt.TRAINING_CHECKPOINT_FIELDS}, "kind": ckpt.KIND},
            "'format_version' of a train.py checkpoint is a dict",
        ),
        ({"model": {"conv_stem.weight": "not a tensor"}}, None),
    ],
    ids=[
        "missing",
        "bytes",
        "truncated",
        "code",
        "list",
        "text",
        "kind-only",
        "wrong-types",
        "string-weights",
    ],
)
def test_bad_checkpoint_files_are_refused_with_the_path_named(tmp_path, content, message):
    path = tmp_path / "model.pt"
    if content == "truncated":
        torch.save({"w": torch.zeros(1000)}, path)
        path.write_bytes(path.read_bytes()[:300])
    elif content == "code":
        with open(path, "wb") as handle:
            torch.save({"payload": Payload()}, handle, pickle_module=pickle)
    elif content == "list":
        torch.save([torch.zeros(1)], path)
    elif isinstance(content, dict):
        torch.save(content, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as caught:
        ckpt.state_dict_of(ckpt.load(path).contents, path)
    assert str(path) in str(caught.value)


def test_unwritable_folder_is_a_checkpoint_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CheckpointError, match="cannot write checkpoint"):
        ckpt.atomic_save({"w": 1}, blocker / "last.pt")


KILLED_SAVE = textwrap.dedent(
    """
    import sys, time, torch
    sys.path.insert(0, {deliverable!r})
    from common import checkpoint as ckpt
    path = {path!r}
    ckpt.atomic_save({{"version": 1, "w": torch.ones(1000)}}, path)
    real_save = torch.save
    def slow_save(obj, handle, *args, **kwargs):
        handle.write(b"PK\\x03\\x04 half of a zip")  # start writing, then hang mid-file
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)
    torch.save = slow_save
    ckpt.atomic_save({{"version": 2, "w": torch.zeros(1000)}}, path)
    """
)


def test_sigkill_in_the_middle_of_a_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "last.pt"
    script = KILLED_SAVE.format(deliverable=str(DELIVERABLE), path=str(path))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "writing"
        assert any(p.name.startswith(".last.pt.") for p in tmp_path.iterdir())
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    survived = ckpt.load(path).contents
    assert survived["version"] == 1 and torch.equal(survived["w"], torch.ones(1000))
    ckpt.atomic_save({"version": 3}, path)  # the next save clears the killed save's leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_rng_state_round_trip_reproduces_python_and_torch_streams():
    state = ckpt.capture_rng_state(torch.device("cpu"), lambda device: None)
    expected = (random.random(), torch.rand(3))
    random.seed(0)
    torch.manual_seed(0)
    ckpt.restore_rng_state(state, torch.device("cpu"), lambda device, s: None)
    assert random.random() == expected[0] and torch.equal(torch.rand(3), expected[1])


def test_state_dict_of_another_shape_is_refused_with_an_example_key(tmp_path):
    model = torch.nn.Linear(4, 2)
    other = torch.nn.Linear(4, 3).state_dict()
    expected = r"2 of another shape \(e.g. bias: \(3,\) vs \(2,\)\)"
    with pytest.raises(CheckpointError, match=expected):
        ckpt.check_state_dict_fits(model, other, tmp_path / "x.pt")


def test_a_stale_temporary_from_a_killed_process_is_removed_by_the_next_save(tmp_path):
    stale = tmp_path / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 10, time.time() - 10))
    ckpt.atomic_save({"v": 1}, tmp_path / "last.pt")
    assert not stale.exists()


def _sealed_checkpoint(path):
    """A train.py-shaped checkpoint of about 400 kB, written the way train.py writes them."""
    torch.manual_seed(0)
    state = {
        "kind": ckpt.KIND,
        "format_version": ckpt.FORMAT_VERSION,
        "config": {"arch": "x"},
        "classes": ["a"],
        "model": {"w": torch.randn(100_000)},
        "optimizer": {},
        "scaler": {},
        "ema": None,
        "progress": {},
        "rng": [],
    }
    ckpt.atomic_save(state, path)
    return state


def test_a_saved_checkpoint_is_sealed_and_still_an_ordinary_torch_file(tmp_path):
    path = tmp_path / "last.pt"
    state = _sealed_checkpoint(path)
    loaded = ckpt.load(path)
    assert loaded.verified and torch.equal(loaded.contents["model"]["w"], state["model"]["w"])
    assert zipfile.ZipFile(path).comment.startswith(ckpt.SEAL_TAG)
    plain = torch.load(path, weights_only=True)  # other programs read it as before
    assert torch.equal(plain["model"]["w"], state["model"]["w"])


def _flip(data: bytes, start: int, count: int) -> bytes:
    damaged = bytearray(data)
    for i in range(start, start + count):
        damaged[i] ^= 0xFF
    return bytes(damaged)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: _flip(b, len(b) // 3, 5000), "is damaged: its contents do not match"),
        (lambda b: _flip(b, len(b) // 2, 1), "is damaged: its contents do not match"),
        (lambda b: _flip(b, len(b) - 10, 1), "is damaged: its contents do not match"),
        (lambda b: b[: -ckpt._SEAL_LENGTH - 2] + b"\0\0", "has lost the sha256 seal"),
        (lambda b: b[: len(b) // 2], "not a readable PyTorch checkpoint"),
    ],
    ids=[
        "5000-bytes-of-weights",
        "one-byte-of-weights",
        "the-seal-itself",
        "seal-removed",
        "truncated",
    ],
)
def test_a_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage, message):
    """torch.load reads many of these silently; the seal is what catches them."""
    path = tmp_path / "last.pt"
    _sealed_checkpoint(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as caught:
        ckpt.load(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, DamagedCheckpointError) == (
        "damaged" in message or "seal" in message
    )


def _lukemelas_state():
    return {"_conv_stem.weight": torch.zeros(32, 3, 3, 3), "_bn0.weight": torch.ones(32)}


@pytest.mark.parametrize(
    "make",
    [
        lambda: {
            "kind": ckpt.KIND,
            "format_version": 1,
            "config": {},
            "classes": [],
            "model": {"w": torch.zeros(3)},
            "optimizer": {},
            "scaler": {},
            "ema": None,
            "progress": {},
            "rng": [],
        },
        lambda: torchvision.models.efficientnet_b0(weights=None).state_dict(),
        _lukemelas_state,
        lambda: {"state_dict": {"conv_stem.weight": torch.zeros(32, 3, 3, 3)}, "epoch": 3},
    ],
    ids=["train.py-format-1", "torchvision", "lukemelas", "timm"],
)
def test_unsealed_older_checkpoints_and_foreign_weights_still_load_as_unverified(tmp_path, make):
    path = tmp_path / "weights.pth"
    torch.save(make(), path)
    loaded = ckpt.load(path)
    assert not loaded.verified
    assert ckpt.state_dict_of(loaded.contents, path)
