"""The CPU acceleration seam: the plain model never reaches ``cpu_accel``; one call swaps the fast
paths in, for float32 CPU runs only, keeping the state dict and the values."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402  (puts the deliverable's folder on sys.path)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from cpu_accel import accelerate, fast_modules, is_accelerated  # noqa: E402
from model.efficientnet import BatchNormAct2d, build_model  # noqa: E402

FAST = set(fast_modules.FAST_CLASSES.values())


def small_model():
    torch.manual_seed(0)
    return build_model(num_classes=5, image_size=64, drop_rate=0.0, drop_path_rate=0.0)


def test_accelerate_swaps_classes_in_place_and_keeps_every_tensor() -> None:
    plain = small_model()
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    model = accelerate(copy.deepcopy(plain))
    assert not is_accelerated(plain) and is_accelerated(model)
    swapped = [type(m) for m in model.modules() if type(m) in FAST]
    # The network, 49 BatchNorms, 16 depthwise convolutions and 16 squeeze-excitations.
    assert len(swapped) == 1 + 49 + 16 + 16
    assert list(model.state_dict()) == list(before)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert accelerate(model) is model and [type(m) for m in model.modules() if type(m) in FAST] == (
        swapped
    )
    copy.deepcopy(model)  # EMA copies of an accelerated model


def test_the_accelerated_model_computes_the_plain_models_values() -> None:
    plain = small_model().to(memory_format=torch.channels_last)
    for block in plain.residual_blocks():  # zero-initialised last norms would hide branches
        torch.nn.init.ones_(block.last_norm().weight)
    fast = accelerate(copy.deepcopy(plain))
    x = torch.randn(4, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (4,))

    def step(model):
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model.train()(x), y)
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    plain_loss, plain_grads = step(plain)
    fast_loss, fast_grads = step(fast)
    assert torch.allclose(fast_loss, plain_loss, rtol=1e-5)
    floor = 1e-5 * max(g.abs().max().item() for g in plain_grads.values())
    for name, expected in plain_grads.items():
        limit = 1e-4 * expected.abs().max().item() + floor
        assert (fast_grads[name] - expected).abs().max().item() <= limit, name
    for a, b in zip(fast.buffers(), plain.buffers(), strict=True):  # running statistics
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    with torch.inference_mode():
        expected, got = plain.eval()(x), fast.eval()(x)
    assert (got - expected).abs().max() <= 1e-5 * expected.abs().max() + 1e-6


def test_a_plain_norm_never_takes_a_fast_path() -> None:
    norm = BatchNormAct2d(16, eps=1e-5, momentum=0.1).train()
    x = torch.randn(2, 16, 4, 4).contiguous(memory_format=torch.channels_last).requires_grad_()
    assert type(norm(x).grad_fn).__name__ == "SiluBackward0"


def test_nothing_of_cpu_accel_is_imported_by_the_model_the_run_or_the_export() -> None:
    """What an NPU or CUDA run imports: the model, train.py's run and its export."""
    code = (
        "import sys, torch\n"
        "import train\n"
        "from training import runner, training_loop, training_state, checkpointing\n"
        "from model import efficientnet, weights\n"
        "from export import onnx_export\n"
        "from data_pipeline import image_folder, on_device\n"
        "model = efficientnet.build_model(num_classes=3, image_size=32)\n"
        "model(torch.randn(2, 3, 32, 32)).sum().backward()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'cpu_accel')\n"
        "assert not loaded, loaded\n"
        "ops = torch.ops.modelzoo_efficientnet\n"
        "assert not hasattr(ops, 'depthwise_conv2d'), 'a custom op was registered'\n"
        "print('clean')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=effnet_support.DELIVERABLE,
        env=effnet_support.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0 and done.stdout.strip() == "clean", done.stderr[-2000:]


def context_for(*argv: str):
    import train
    from training.distributed import read_env
    from training.run_config import RunConfig
    from training.runner import make_context

    config = RunConfig.from_args(train.build_parser().parse_args(["--device", "cpu", *argv]))
    return make_context(config, read_env(), torch.device("cpu"), 0.0)


@pytest.mark.parametrize(
    ("argv", "accelerated"),
    [
        ((), True),  # float32 CPU training and evaluation
        (("--compile",), True),  # the depthwise op serves compiled training; the rest steps aside
        (("--amp", "--amp-dtype", "bfloat16"), False),  # autocast runs PyTorch's ops
        (
            ("--export-onnx", "x.onnx", "--pretrained", "w.pt"),
            False,
        ),  # an export sees the plain model
    ],
)
def test_the_run_accelerates_float32_cpu_runs_only(argv, accelerated, tmp_path) -> None:
    from training.training_state import build_training_state

    ctx = context_for("--output-dir", str(tmp_path / "run"), *argv)
    state = build_training_state(ctx, small_model(), record={}, classes=())
    assert state.cpu_accelerated is accelerated
    assert is_accelerated(state.model) is accelerated
