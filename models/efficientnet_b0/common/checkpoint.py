# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""Checkpoints that survive crashes and are never trusted blindly: atomic, sealed, safe to load.

Writing: a save goes through ``atomic_file.atomic_path`` (a temporary file in the target's folder,
fsynced, renamed over the target, the folder fsynced). A process killed at any moment -- even with
SIGKILL in the middle of ``torch.save`` -- leaves the previous checkpoint intact and loadable; at
worst a stale ``.tmp`` file remains, which the next save in that folder removes.

Sealing: ``torch.save`` writes a zip archive, and nothing in PyTorch checks its contents on load
(a checkpoint with thousands of flipped bytes loads silently and trains on corrupt weights). So
every file written here carries the sha256 of the archive as ``torch.save`` wrote it, stored as
the zip archive comment (``efficientnet-checkpoint-sha256:<hex>``). A zip comment is part of the
format: ``torch.load``, ``zipfile`` and any other zip reader still read the file as before.
``load`` recomputes the digest and refuses a file that does not match, naming it.

What ``load`` accepts without a seal: checkpoints of format 1 (written before seals) and weights
files of other programs (lukemelas, torchvision and timm state dicts). Their contents are
*unverified*: ``LoadedCheckpoint.verified`` says so, and the caller tells the user. A train.py
checkpoint of format 2 or later without its seal has lost it to damage and is refused.

Refusing: ``unsound_weights`` says why weights must not be saved (non-finite or exploded), so
that a diverging run stops with its last good checkpoint in place instead of replacing it.

Loading uses ``torch.load(weights_only=True)``: a checkpoint can hold tensors and plain values but
never run code. That is why everything in a checkpoint (config, RNG states, counters) is kept to
tensors, numbers, strings, lists, tuples and dicts.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from common.atomic_file import atomic_path, remove_stale_temporaries
from common.errors import CheckpointError, DamagedCheckpointError

FORMAT_VERSION = 2  # 2: sealed with a sha256 (see the module docstring)
SEALED_SINCE_FORMAT = 2
LAST = "last.pt"
BEST = "best.pt"
KIND = "efficientnet-training-checkpoint"

SEAL_TAG = b"efficientnet-checkpoint-sha256:"
_SEAL_LENGTH = len(SEAL_TAG) + 64  # the tag and a hex sha256
_END_OF_ARCHIVE = b"PK\x05\x06"  # the zip end-of-central-directory record...
_END_OF_ARCHIVE_SIZE = 22  # ...whose last two bytes are the comment's length
_HASH_CHUNK = 1 << 20

# What a train.py checkpoint holds: key -> the type its value must have.
TRAINING_CHECKPOINT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format_version": int,
    "config": dict,
    "classes": list,
    "model": dict,
    "optimizer": dict,
    "scaler": dict,
    "ema": (dict, type(None)),
    "progress": dict,
    "rng": list,
}
# The keys under which training scripts (ours, timm's, many others) keep a model's state dict.
STATE_DICT_KEYS = ("model", "state_dict", "model_state_dict")


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint's contents, and whether a seal proved them to be the bytes once written."""

    contents: dict
    verified: bool


def _sha256_of(handle, length: int):
    digest = hashlib.sha256()
    handle.seek(0)
    remaining = length
    while remaining > 0:
        chunk = handle.read(min(_HASH_CHUNK, remaining))
        if not chunk:
            break
        digest.update(chunk)
        remaining -= len(chunk)
    return digest


def seal(path: Path) -> None:
    """Store the sha256 of the zip archive ``torch.save`` just wrote to ``path`` as its comment."""
    with open(path, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(size - _END_OF_ARCHIVE_SIZE)
        end = handle.read(_END_OF_ARCHIVE_SIZE)
        if not (end.startswith(_END_OF_ARCHIVE) and end.endswith(b"\0\0")):
            raise CheckpointError(f"cannot seal {path}: torch.save did not write a zip archive")
        digest = _sha256_of(handle, size).hexdigest()
        handle.seek(size - 2)
        handle.write(struct.pack("<H", _SEAL_LENGTH) + SEAL_TAG + digest.encode("ascii"))


def verify_seal(path: Path) -> bool:
    """True when ``path`` carries a seal that matches it; False when it has none.

    Raises ``DamagedCheckpointError`` naming the file when the seal is there but the contents
    differ.
    """
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        tail_size = _END_OF_ARCHIVE_SIZE + _SEAL_LENGTH
        if size < tail_size:
            return False
        handle.seek(size - tail_size)
        tail = handle.read(tail_size)
        comment = tail[_END_OF_ARCHIVE_SIZE:]
        if not (
            tail.startswith(_END_OF_ARCHIVE)
            and tail[_END_OF_ARCHIVE_SIZE - 2 : _END_OF_ARCHIVE_SIZE]
            == struct.pack("<H", _SEAL_LENGTH)
            and comment.startswith(SEAL_TAG)
        ):
            return False
        expected = comment[len(SEAL_TAG) :].decode("ascii", errors="replace")
        archive_end = size - _SEAL_LENGTH  # the file as torch.save wrote it ends here...
        digest = _sha256_of(handle, archive_end - 2)
        digest.update(b"\0\0")  # ...with a comment length of zero
    actual = digest.hexdigest()
    if actual != expected:
        raise DamagedCheckpointError(
            f"{path} is damaged: its contents do not match the sha256 sealed into it when it was "
            f"written (sealed {expected[:16]}..., now {actual[:16]}...); use another copy or an "
            "earlier checkpoint"
        )
    return True


def atomic_save(obj, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` and seal ``obj`` to ``path``: always the old file or the new, never half."""
    path = Path(path)
    try:
        remove_stale_temporaries(path.parent, path.name)  # a folder not made yet has none
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as handle:
                torch.save(obj, handle)
            seal(temporary)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from None
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def load(path: str | os.PathLike[str]) -> LoadedCheckpoint:
    """The one reader of checkpoint and weights files: seal checked, ``weights_only``, on the CPU.

    Every way a file can be wrong -- missing, unreadable, truncated, bit-flipped, a pickle that
    would run code, a text file, a dict marked as a train.py checkpoint but lacking its parts --
    ends in one ``CheckpointError`` naming the file, never in another exception type.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        verified = verify_seal(path)
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # torch raises many types for a corrupt, truncated or hostile file
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({_first_line(exc)})"
        ) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a checkpoint dictionary")
    if is_training_checkpoint(obj):
        check_training_checkpoint(obj, path, verified)
    return LoadedCheckpoint(obj, verified)


def check_training_checkpoint(obj: dict, path: Path, verified: bool) -> None:
    """Refuse a dict marked as a train.py checkpoint whose parts are missing or mistyped."""
    damaged = "it is damaged or was not written by train.py"
    missing = [key for key in TRAINING_CHECKPOINT_FIELDS if key not in obj]
    if missing:
        raise CheckpointError(
            f"{path} is marked as a train.py checkpoint but lacks "
            f"{', '.join(repr(k) for k in missing)}: {damaged}"
        )
    for key, expected in TRAINING_CHECKPOINT_FIELDS.items():
        if not isinstance(obj[key], expected):
            raise CheckpointError(
                f"{path}: {key!r} of a train.py checkpoint is a {type(obj[key]).__name__}: "
                + damaged
            )
    if not verified and obj["format_version"] >= SEALED_SINCE_FORMAT:
        raise DamagedCheckpointError(
            f"{path} is a train.py checkpoint of format {obj['format_version']} but has lost the "
            "sha256 seal every such checkpoint is written with: it is damaged; use another copy "
            "or an earlier checkpoint"
        )
    check_state_dict(obj["model"], path)


def check_state_dict(state: object, path: Path) -> dict[str, torch.Tensor]:
    """``state`` itself if it maps names to tensors, as a model's weights do; else refuse it."""
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{path} holds no weights (an empty or non-dictionary state dict)")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{path} is not a state dict: entry {str(key)[:60]!r} holds a "
                f"{type(value).__name__}, not a tensor"
            )
    return dict(state)


def state_dict_of(obj: dict, path: Path) -> dict[str, torch.Tensor]:
    """The model weights in a loaded file: a training checkpoint's, a wrapped or a bare state dict.

    A ``{"model": ...}``, ``{"state_dict": ...}`` or ``{"model_state_dict": ...}`` wrapper (ours,
    timm's, many training scripts') is unwrapped; a bare state dict is taken as it is.
    """
    for key in STATE_DICT_KEYS:
        if isinstance(obj.get(key), Mapping):
            return check_state_dict(obj[key], path)
    return check_state_dict(obj, path)


# Weights that may not be saved over a good checkpoint (see ``unsound_weights``).
EXPLODED_GROWTH = 1e4
EXPLODED_LIMIT = 1e8


def largest_magnitude(state: Mapping[str, torch.Tensor]) -> tuple[float, str]:
    """The largest |value| among the floating-point tensors of ``state``, and its key."""
    largest, where = 0.0, ""
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            magnitude = value.detach().abs().max().item()
            if math.isnan(magnitude):
                return magnitude, key  # reported as it is: no later value is "larger"
            if magnitude > largest:
                largest, where = magnitude, key
    return largest, where


def unsound_weights(
    state: Mapping[str, torch.Tensor], reference: float, extra_tensors=()
) -> str | None:
    """Why the model weights ``state`` must not be saved, or None when they may be.

    Refused: any non-finite value in ``state`` or in ``extra_tensors`` (optimizer momentum, EMA
    weights), and *exploded* weights: a floating-point parameter or buffer whose magnitude is
    above ``EXPLODED_LIMIT``, or above ``EXPLODED_GROWTH`` times ``reference`` -- the largest
    magnitude of the weights the run started from or last saved -- with a reference of at least
    1 (a fresh network's BatchNorm scales and variances are 1). A healthy run changes its
    largest weight by a small factor between two saves; a diverging one multiplies it by the
    learning rate times its gradient, and BatchNorm keeps the loss finite meanwhile.
    """
    largest, where = largest_magnitude(state)
    if not math.isfinite(largest):
        return f"{where} holds a non-finite value ({largest})"
    for tensor in extra_tensors:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return "the optimizer or EMA state holds a non-finite value"
    bound = min(EXPLODED_LIMIT, EXPLODED_GROWTH * max(reference, 1.0))
    if largest > bound:
        return (
            f"{where} holds a value of magnitude {largest:.3g}, above the bound of {bound:.3g} "
            f"({EXPLODED_GROWTH:g} x the largest weight when the run started or last saved, "
            f"{reference:.3g}, at most {EXPLODED_LIMIT:g})"
        )
    return None


def is_training_checkpoint(obj: dict) -> bool:
    return obj.get("kind") == KIND


def capture_rng_state(device: torch.device, device_rng) -> dict:
    """Python and torch CPU RNG states plus the accelerator's (``device_rng(device)``)."""
    version, internal, gauss = random.getstate()
    state = {
        "python": [version, list(internal), gauss],
        "torch": torch.get_rng_state(),
    }
    accelerator = device_rng(device)
    if accelerator is not None:
        state["device"] = accelerator
    return state


def restore_rng_state(state: dict, device: torch.device, set_device_rng) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "device" in state:
        set_device_rng(device, state["device"])


def check_architecture(obj: dict, path: Path, arch: str) -> None:
    """Refuse a training checkpoint of another network, naming both."""
    saved = obj.get("config", {}).get("arch")
    if saved is not None and saved != arch:
        raise CheckpointError(
            f"checkpoint {path} is for architecture {saved!r}, but this run builds {arch!r}; "
            f"pass --arch {saved} or another checkpoint"
        )


def check_state_dict_fits(
    model: torch.nn.Module, state: dict, path: Path, skip_prefixes: tuple[str, ...] = ()
) -> None:
    """Refuse weights whose names or shapes do not match ``model``, with the first differences."""
    expected = {
        k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith(skip_prefixes)
    }
    given = {
        k: tuple(v.shape)
        for k, v in state.items()
        if isinstance(v, torch.Tensor) and not k.startswith(skip_prefixes)
    }
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    mismatched = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if mismatched:
            k = mismatched[0]
            parts.append(
                f"{len(mismatched)} of another shape (e.g. {k}: {given[k]} vs {expected[k]})"
            )
        raise CheckpointError(
            f"weights in {path} do not fit this model: {'; '.join(parts)}; "
            "is it a checkpoint of another architecture or class count?"
        )
