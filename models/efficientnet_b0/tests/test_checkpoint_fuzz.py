"""Fuzzing the one checkpoint reader: broken or hostile bytes end in ``CheckpointError``, never in
a traceback, never in code run, never in a hang.

What is generated: truncations and byte flips of a real sealed train.py checkpoint and of an
unsealed foreign state dict; random pickles of plain values; and hostile pickles that would call
``os.system``, ``exec``, ``eval``, ``subprocess`` or ``open`` if anything unpickled them without
``weights_only`` -- bare, and as ``data.pkl`` inside a torch zip archive. Each example must load
or raise ``CheckpointError`` naming the file, leave no marker file behind, and finish within the
deadline; a few go through ``train.py --resume`` and must exit 2 with one error line.

The default run is a few hundred examples (well under a minute here). For a longer run set
``EFFNET_FUZZ_EXAMPLES``, e.g. ``EFFNET_FUZZ_EXAMPLES=20000 pytest tests/test_checkpoint_fuzz.py``.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import pytest
import torch
from effnet_support import TINY, small_image_folder, train_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# isort: split

from common import checkpoint as ckpt
from common.errors import CheckpointError

pytestmark = [
    pytest.mark.needs_torch,
    pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
]
EXAMPLES = int(os.environ.get("EFFNET_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=5000,  # milliseconds per example: a shared 2-core machine, not a benchmark
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MARKER = Path(tempfile.gettempdir()) / f"effnet-fuzz-code-ran-{os.getpid()}"

# (module, name, arguments): what a hostile pickle would call, each leaving MARKER if it ran.
HOSTILE_CALLS = [
    ("os", "system", (f"touch {MARKER}",)),
    ("posix", "system", (f"touch {MARKER}",)),
    ("builtins", "exec", (f"open({str(MARKER)!r}, 'w').close()",)),
    ("builtins", "eval", (f"open({str(MARKER)!r}, 'w').close()",)),
    ("subprocess", "check_call", (["touch", str(MARKER)],)),
    ("builtins", "open", (str(MARKER), "w")),
    ("torch._utils", "_rebuild_tensor_v2", ("not", "tensor", "arguments")),
    ("collections", "OrderedDict", (1, 2, 3)),
]


def _sealed_checkpoint() -> bytes:
    torch.manual_seed(0)
    state = {
        "kind": ckpt.KIND,
        "format_version": ckpt.FORMAT_VERSION,
        "config": {"arch": "x"},
        "classes": ["a", "b"],
        "model": {"w": torch.randn(64, 8), "b": torch.zeros(8)},
        "optimizer": {"state": {}, "param_groups": []},
        "scaler": {},
        "ema": None,
        "progress": {"epoch": 1},
        "rng": [],
    }
    folder = Path(tempfile.mkdtemp(prefix="effnet-fuzz-"))
    return ckpt.atomic_save(state, folder / "last.pt").read_bytes()


def _foreign_state_dict() -> bytes:
    buffer = io.BytesIO()
    torch.save({"_conv_stem.weight": torch.ones(4, 3, 3, 3), "_bn0.bias": torch.zeros(4)}, buffer)
    return buffer.getvalue()


SEALED, FOREIGN = _sealed_checkpoint(), _foreign_state_dict()


def _call_pickle(module: str, name: str, args: tuple) -> bytes:
    """A protocol-2 pickle that calls ``module.name(*args)`` when unpickled: GLOBAL, REDUCE."""
    body = b"".join(pickle.dumps(a, protocol=2)[2:-1] for a in args)  # each argument, pushed
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"(" + body + b"tR."


def _in_torch_archive(payload: bytes) -> bytes:
    """``payload`` as the ``data.pkl`` of an otherwise genuine torch.save zip archive."""
    source = zipfile.ZipFile(io.BytesIO(FOREIGN))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for info in source.infolist():
            data = payload if info.filename.endswith("/data.pkl") else source.read(info)
            archive.writestr(info.filename, data)
    return out.getvalue()


def _flipped(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    damaged = bytearray(data)
    for position, mask in flips:
        damaged[position % len(damaged)] ^= mask
    return bytes(damaged)


plain_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)
flips = st.lists(st.tuples(st.integers(0, 2**31), st.integers(1, 255)), min_size=1, max_size=64)

damaged_files = st.one_of(
    st.tuples(st.sampled_from([SEALED, FOREIGN]), st.integers(0, len(SEALED))).map(
        lambda t: t[0][: t[1]]
    ),
    st.tuples(st.sampled_from([SEALED, FOREIGN]), flips).map(lambda t: _flipped(*t)),
    plain_values.map(lambda v: pickle.dumps(v, protocol=2)),
    plain_values.map(lambda v: _in_torch_archive(pickle.dumps(v, protocol=2))),
    st.sampled_from(HOSTILE_CALLS).map(lambda c: _call_pickle(*c)),
    st.sampled_from(HOSTILE_CALLS).map(lambda c: _in_torch_archive(_call_pickle(*c))),
    st.binary(max_size=512),
    st.binary(max_size=512).map(lambda b: b"\x80\x02" + b),
)


def _load_or_refuse(path: Path) -> None:
    """What every caller of the reader does: load, then take the weights out."""
    try:
        loaded = ckpt.load(path)
        ckpt.state_dict_of(loaded.contents, path)
    except CheckpointError as error:
        assert str(path) in str(error)


@pytest.fixture(autouse=True)
def _no_marker():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), "a checkpoint ran code while being loaded"


def test_the_hostile_pickles_would_run_code_if_unpickled_without_weights_only(tmp_path):
    """The fuzz's hostile inputs are real: plain pickle.loads of one leaves the marker."""
    pickle.loads(_call_pickle("builtins", "exec", (f"open({str(MARKER)!r}, 'w').close()",)))
    assert MARKER.exists()
    MARKER.unlink()


@FUZZ
@given(content=damaged_files)
def test_damaged_or_hostile_bytes_load_or_raise_checkpoint_error_naming_the_file(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.pt"
        path.write_bytes(content)
        _load_or_refuse(path)
    assert not MARKER.exists()


def test_a_sealed_checkpoint_with_any_single_flipped_byte_of_its_tail_is_refused(tmp_path):
    """Exhaustive over the end of the file (zip directory and seal), where flips are subtlest."""
    path = tmp_path / "last.pt"
    for offset in range(1, 200):
        path.write_bytes(_flipped(SEALED, [(len(SEALED) - offset, 0x01)]))
        with pytest.raises(CheckpointError):
            ckpt.load(path)


@settings(
    max_examples=max(6, EXAMPLES // 25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=damaged_files)
def test_train_py_refuses_damaged_or_hostile_checkpoints_with_exit_2(capsys, content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.pt"
        path.write_bytes(content)
        status = train_main(
            *TINY,
            "--epochs",
            "1",
            "--limit-train-batches",
            "1",
            "--data",
            small_image_folder(),
            "--resume",
            path,
            "--output-dir",
            Path(folder) / "out",
        )
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == 1


def test_every_torch_load_in_the_deliverable_is_weights_only():
    """The reader's safety rests on weights_only; no other module may load without it."""
    from effnet_support import DELIVERABLE

    offenders = []
    tests = DELIVERABLE / "tests"  # they load hostile files on purpose, and name the calls
    for source in sorted(DELIVERABLE.rglob("*.py")):
        if tests in source.parents:
            continue
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if "torch.load(" in line and "weights_only=True" not in line:
                offenders.append(f"{source.name}:{number}")
            if "pickle.load" in line:
                offenders.append(f"{source.name}:{number}")
    assert not offenders
