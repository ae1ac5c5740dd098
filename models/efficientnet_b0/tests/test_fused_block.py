"""The fused inference kernel of a block's first half: expansion, depthwise conv, squeeze-excite.

It must give what the layers give one by one (to float rounding) for every shape the kernel has
a separate path for: channel counts that are not a multiple of 16, rows narrower than a
depthwise window, stride 2, 5x5 and 7x7 windows, asymmetric pads, a batch smaller than the
thread count (bands of rows), large images (a ring of rows) and the first stage's blocks
without an expansion; and the model must use it exactly where it applies.
"""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.needs_torch

import effnet_support  # noqa: E402  (puts the deliverable's folder on sys.path)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from cpu_accel import fast_modules  # noqa: E402  (imports the deliverable's CPU modules)

fused_block = sys.modules["cpu_accel.fused_block"]
cpu_kernels = sys.modules["cpu_accel.kernels"]


@pytest.fixture(scope="module")
def kernels():
    return effnet_support.compiled_cpu_kernels()


def close(got: torch.Tensor, expected: torch.Tensor, rtol: float = 2e-6) -> bool:
    return bool((got - expected).abs().max() <= rtol * expected.abs().max() + 1e-7)


def layers(
    cin: int, channels: int, squeezed: int, kernel: int, expand: bool, cout: int = 0, seed: int = 0
):
    """Random weights of one block (BatchNorms already folded: plain biases); cout 0: no
    projection."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    return {
        "we": rand(channels, cin, 1, 1, scale=cin**-0.5) if expand else None,
        "be": rand(channels, scale=0.2) if expand else None,
        "wd": rand(channels, 1, kernel, kernel, scale=1 / kernel),
        "bd": rand(channels, scale=0.2),
        "wr": rand(squeezed, channels, 1, 1, scale=channels**-0.5),
        "br": rand(squeezed, scale=0.2),
        "wg": rand(channels, squeezed, 1, 1, scale=squeezed**-0.5),
        "bg": rand(channels, scale=0.2),
        "wp": rand(cout, channels, 1, 1, scale=channels**-0.5) if cout else None,
        "bp": rand(cout, scale=0.2) if cout else None,
    }


def reference(x, p, kernel, stride, pads, residual=False):
    """The layers one by one, as the unfused model computes them."""
    h = x if p["we"] is None else F.silu(F.conv2d(x, p["we"], p["be"]))
    h = F.pad(h, pads)
    h = F.silu(F.conv2d(h, p["wd"], p["bd"], stride=stride, groups=h.shape[1]))
    pooled = h.mean((2, 3))
    hidden = F.silu(F.linear(pooled, p["wr"].flatten(1), p["br"]))
    gate = torch.sigmoid(F.linear(hidden, p["wg"].flatten(1), p["bg"]))
    h = h * gate[:, :, None, None]
    if p["wp"] is None:
        return h
    h = F.conv2d(h, p["wp"], p["bp"])
    return h + x if residual else h


def fused(kernels, x, p, kernel, stride, pads, residual=False):
    left, right, top, bottom = pads
    out_h = (x.shape[2] + top + bottom - kernel) // stride + 1
    out_w = (x.shape[3] + left + right - kernel) // stride + 1
    empty = torch.empty(0)

    def packed(weight):  # (C_out, C_in/groups, kh, kw) -> (C_in*kh*kw, C_out)
        return empty if weight is None else weight.reshape(weight.shape[0], -1).t().contiguous()

    return kernels.mbconv_forward(
        x.contiguous(memory_format=torch.channels_last),
        packed(p["we"]), empty if p["be"] is None else p["be"],
        packed(p["wd"]), p["bd"],
        p["wr"], p["br"], p["wg"], p["bg"],
        packed(p["wp"]), empty if p["bp"] is None else p["bp"],
        residual, kernel, stride, top, left, out_h, out_w,
    )  # fmt: skip


@pytest.mark.parametrize(
    "batch, cin, channels, size, kernel, stride, pads",
    [
        (2, 16, 96, 24, 3, 2, (1, 1, 1, 1)),  # B0's first expanding block, small
        (3, 6, 20, 13, 3, 1, (1, 1, 1, 1)),  # channels not a multiple of 16, odd width
        (2, 24, 144, 17, 5, 2, (2, 2, 2, 2)),  # 5x5 stride 2
        (2, 8, 48, 10, 5, 2, (1, 2, 1, 2)),  # TF-"same" asymmetric pads
        (1, 16, 32, 9, 3, 1, (1, 1, 1, 1)),  # one image: bands of rows, gate after all bands
        (2, 12, 40, 11, 7, 1, (3, 3, 3, 3)),  # a window size without its own code path
        (2, 8, 32, 3, 5, 1, (2, 2, 2, 2)),  # rows narrower than the window: borders only
        (2, 16, 96, 112, 3, 2, (1, 1, 1, 1)),  # a row ring (the band would not fit in cache)
    ],
)
def test_the_kernel_gives_the_layers_values(
    kernels, batch, cin, channels, size, kernel, stride, pads
) -> None:
    torch.manual_seed(1)
    p = layers(cin, channels, max(1, cin // 4), kernel, expand=True)
    x = torch.randn(batch, cin, size, size)
    expected = reference(x, p, kernel, stride, pads)
    got = fused(kernels, x, p, kernel, stride, pads)
    assert got.shape == expected.shape
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert close(got, expected), (got - expected).abs().max()


@pytest.mark.parametrize(
    "batch, cin, channels, cout, size, stride, residual",
    [
        (2, 24, 144, 24, 12, 1, True),  # 16 + 8 output lanes, with the residual
        (2, 16, 96, 40, 12, 2, False),  # 32 + 8 output lanes, stride 2
        (3, 8, 48, 20, 9, 1, False),  # 16 lanes and 4 single output channels
        (1, 16, 64, 16, 10, 1, True),  # one image: projected after all its bands
    ],
)
def test_the_projection_in_the_kernel_gives_the_layers_values(
    kernels, batch, cin, channels, cout, size, stride, residual
) -> None:
    torch.manual_seed(3)
    p = layers(cin, channels, max(1, cin // 4), 3, expand=True, cout=cout)
    x = torch.randn(batch, cin, size, size)
    expected = reference(x, p, 3, stride, (1, 1, 1, 1), residual)
    got = fused(kernels, x, p, 3, stride, (1, 1, 1, 1), residual)
    assert got.shape == expected.shape
    assert close(got, expected), (got - expected).abs().max()


def test_a_residual_without_a_matching_projection_is_refused(kernels) -> None:
    p = layers(16, 48, 4, 3, expand=True, cout=24)
    with pytest.raises(RuntimeError, match="residual needs a projection"):
        fused(kernels, torch.randn(1, 16, 8, 8), p, 3, 1, (1, 1, 1, 1), residual=True)


def test_the_kernel_projects_where_its_gated_weight_is_the_smaller_write() -> None:
    assert fused_block.projection_in_kernel(pixels=14 * 14, out_channels=112)
    assert not fused_block.projection_in_kernel(pixels=7 * 7, out_channels=192)


@pytest.mark.parametrize("batch", [1, 4])
def test_without_an_expansion_the_depthwise_reads_the_input(kernels, batch) -> None:
    torch.manual_seed(2)
    p = layers(32, 32, 8, 3, expand=False)
    x = torch.randn(batch, 32, 20, 20)
    expected = reference(x, p, 3, 1, (1, 1, 1, 1))
    got = fused(kernels, x, p, 3, 1, (1, 1, 1, 1))
    assert close(got, expected), (got - expected).abs().max()


def test_the_result_does_not_depend_on_the_thread_count(kernels) -> None:
    p = layers(16, 48, 4, 3, expand=True)
    x = torch.randn(4, 16, 28, 28)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fused(kernels, x, p, 3, 2, (1, 1, 1, 1))
        torch.set_num_threads(2)
        two = fused(kernels, x, p, 3, 2, (1, 1, 1, 1))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)  # whole images per task either way: the same sums


def test_mismatched_weights_are_refused_with_the_reason(kernels) -> None:
    p = layers(16, 48, 4, 3, expand=True)
    p["bd"] = torch.zeros(47)
    with pytest.raises(RuntimeError, match="bias does not match"):
        fused(kernels, torch.randn(1, 16, 8, 8), p, 3, 1, (1, 1, 1, 1))


# ----------------------------------------------------------------------------- in the model


def trained_like_model(padding: str = "symmetric"):
    model = effnet_support.model_with_trained_statistics(padding)
    return model.to(memory_format=torch.channels_last)


def plain_logits(model, x, monkeypatch):
    """The layers one by one: neither folded nor fused."""
    with monkeypatch.context() as patch:
        patch.setattr(fast_modules, "folding_applies", lambda module, x: False)
        with torch.inference_mode():
            return model(x)


def count_fused_calls(monkeypatch) -> list:
    calls: list = []
    real = fast_modules.mbconv_forward
    monkeypatch.setattr(
        fast_modules, "mbconv_forward", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    return calls


@pytest.mark.parametrize("padding", ["symmetric", "same"])
@pytest.mark.parametrize("batch", [1, 3])
def test_every_block_runs_fused_in_channels_last_eval(kernels, padding, batch, monkeypatch):
    model = trained_like_model(padding)
    x = torch.randn(batch, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    expected = plain_logits(model, x, monkeypatch)
    calls = count_fused_calls(monkeypatch)
    with torch.inference_mode():
        got = model(x)
    assert len(calls) == 16  # B0's 16 blocks
    assert close(got, expected, rtol=1e-5), (got - expected).abs().max()


def test_nchw_inputs_and_missing_kernels_keep_the_folded_path(kernels, monkeypatch) -> None:
    model = trained_like_model().to(memory_format=torch.contiguous_format)
    x = torch.randn(2, 3, 64, 64)
    expected = plain_logits(model, x, monkeypatch)
    calls = count_fused_calls(monkeypatch)
    with torch.inference_mode():
        nchw = model(x)  # NCHW activations: the kernel would first copy each to channels-last
    model = model.to(memory_format=torch.channels_last)
    monkeypatch.setattr(cpu_kernels, "load", lambda min_vector_bits=0: None)
    with torch.inference_mode():
        without_kernels = model(x.contiguous(memory_format=torch.channels_last))
    assert calls == []
    assert close(nchw, expected, rtol=1e-5)
    assert close(without_kernels, expected, rtol=1e-5)


def test_the_packed_weights_follow_changes_to_the_model(kernels, monkeypatch) -> None:
    model = trained_like_model()
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        first = model(x)
    with torch.no_grad():
        model.blocks[1][0].bn1.running_var.mul_(3.0)  # the expansion's folded weight
        model.blocks[2][1].conv_dw.weight.mul_(0.5)  # a depthwise weight
        model.blocks[3][0].se.conv_reduce.weight.mul_(2.0)  # the squeeze-excitation
    with torch.inference_mode():
        second = model(x)
    assert not close(second, first, rtol=1e-3)
    assert close(second, plain_logits(model, x, monkeypatch), rtol=1e-5)
