"""Checkpoints that survive crashes: atomic writes, exact-resume contents, safe loading.

A save goes through ``atomic_file.atomic_path`` (a temporary file in the target's folder, fsynced,
renamed over the target, the folder fsynced). A process killed at any moment -- even with SIGKILL
in the middle of ``torch.save`` -- leaves the previous checkpoint intact and loadable; at worst a
stale ``.tmp`` file remains, which the next save in that folder removes.

Loading uses ``torch.load(weights_only=True)``: a checkpoint can hold tensors and plain values but
never run code. That is why everything in a checkpoint (config, RNG states, counters) is kept to
tensors, numbers, strings, lists, tuples and dicts.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path

import torch
from atomic_file import atomic_path, remove_stale_temporaries
from errors import CheckpointError

FORMAT_VERSION = 1
LAST = "last.pt"
BEST = "best.pt"
KIND = "efficientnet-training-checkpoint"


def atomic_save(obj, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``path`` so that the file is always the old or the new one, never half."""
    path = Path(path)
    try:
        remove_stale_temporaries(path.parent, "*.pt")  # a folder not made yet has none
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            torch.save(obj, handle)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from None
    return path


def load(path: str | os.PathLike[str]) -> dict:
    """Read a checkpoint onto the CPU with ``weights_only=True``; clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({first_line[:200]})"
        ) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a checkpoint dictionary")
    return obj


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
