"""The window engine on its own: the chunked strategy's gathers against the fused pad/roll/partition story, the strategy
rule, the chunk budget, and the residual updates (in place at inference, never touching the input)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from transformers_videoswin.model.window_engine import (
    SHIFT_MASK_VALUE,
    WindowEngine,
    chunk_bounds,
    padded_size,
    shift_window_mask,
    use_fused,
    window_layout,
    window_partition,
)

TOLERANCE = 1e-5  # fp32, the reference tolerance of the model tests

# (size, window, shift): divisible and padded sizes, shifts on one, two and three axes.
GEOMETRIES = [
    ((4, 8, 8), (2, 4, 4), (0, 0, 0)),
    ((4, 8, 8), (2, 4, 4), (1, 2, 2)),
    ((3, 7, 9), (2, 4, 4), (1, 2, 2)),
    ((5, 6, 10), (4, 3, 3), (0, 1, 1)),
    ((2, 5, 5), (2, 3, 3), (1, 0, 1)),
]


class ToyAttention(nn.Module):
    """Softmax attention inside windows with an additive mask, one head per `head_dim` channels: the contract of
    `VideoSwinWindowAttention` (`[G, W, N, C]` windows, a `[1 or W, heads, N, N]` mask) in a few lines."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(channels, 3 * channels)

    def forward(self, windows: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        groups, per_group, tokens, channels = windows.shape
        qkv = self.qkv(windows).view(groups, per_group, tokens, 3, self.heads, -1).permute(3, 0, 1, 4, 2, 5)
        query, key, value = qkv.unbind(0)  # [G, W, heads, N, head_dim]
        scores = query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1]) + mask  # mask broadcasts over G
        output = scores.softmax(-1) @ value
        return output.transpose(2, 3).reshape(groups, per_group, tokens, channels), None


def branch(channels: int = 8, heads: int = 2, window: tuple[int, int, int] = (2, 4, 4)):
    torch.manual_seed(0)
    norm = nn.LayerNorm(channels)
    with torch.no_grad():  # a non-trivial norm, so that "padding is zero after the norm" is exercised
        norm.bias.normal_()
    bias = torch.randn(heads, math.prod(window), math.prod(window))
    return norm, ToyAttention(channels, heads), bias


@pytest.mark.parametrize("size, window, shift", GEOMETRIES)
@pytest.mark.parametrize("chunk_bytes", [1, 4096, 2**30])
def test_chunked_equals_fused(size, window, shift, chunk_bytes):
    """Any chunk budget (one window per chunk, a few, all at once) gives the fused numbers, at inference (in place)
    and on the autograd path."""
    norm, attention, bias = branch(window=window)
    hidden_states = torch.randn(2, *size, 8)
    fused = WindowEngine("fused")
    chunked = WindowEngine("chunked", chunk_bytes=chunk_bytes)
    with torch.no_grad():
        expected, _ = fused.add_window_attention(hidden_states, norm, attention, bias, window, shift, None)
        before = hidden_states.clone()
        inference, _ = chunked.add_window_attention(hidden_states, norm, attention, bias, window, shift, None)
    assert torch.equal(hidden_states, before)  # the in-place update works on a copy
    torch.testing.assert_close(inference, expected, atol=TOLERANCE, rtol=TOLERANCE)
    autograd, _ = chunked.add_window_attention(hidden_states, norm, attention, bias, window, shift, nn.Identity())
    torch.testing.assert_close(autograd.detach(), expected, atol=TOLERANCE, rtol=TOLERANCE)


@pytest.mark.parametrize("size, window, shift", GEOMETRIES[1:3])
def test_chunked_checkpointing_gives_the_same_gradients(size, window, shift):
    norm, attention, bias = branch(window=window)
    hidden_states = torch.randn(2, *size, 8)
    grads = []
    for use_checkpoint in (None, lambda f, *a: checkpoint(f, *a, use_reentrant=False)):
        attention.zero_grad()
        engine = WindowEngine("chunked", chunk_bytes=4096)
        output, _ = engine.add_window_attention(
            hidden_states, norm, attention, bias, window, shift, nn.Identity(), use_checkpoint
        )
        output.square().sum().backward()
        grads.append(attention.qkv.weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("size, window, shift", GEOMETRIES)
def test_layout_gathers_pad_roll_partition(size, window, shift):
    """The gather of a `WindowLayout` picks, window by window, the tokens that padding, a roll by `-shift` and the
    partition put there; padding rows point at the extra zero row; each group's mask is the official shift mask of
    all its windows."""
    batch, channels = 2, 1
    tokens = torch.arange(1, batch * math.prod(size) + 1, dtype=torch.float32).view(batch, *size, channels)
    padded = padded_size(size, window)
    expected = nn.functional.pad(
        tokens, (0, 0, 0, padded[2] - size[2], 0, padded[1] - size[1], 0, padded[0] - size[0])
    )
    expected = window_partition(torch.roll(expected, [-s for s in shift], (1, 2, 3)), window)  # [B, nW, N, 1]

    layout = window_layout(size, window, shift, batch, torch.device("cpu"))
    rows = tokens.view(batch, -1, channels)
    if layout.padding is not None:
        rows = nn.functional.pad(rows, (0, 0, 0, 1))
    gathered = rows.reshape(-1)[layout.gather].view(-1, batch, math.prod(window))  # sorted windows, [nW, B, N]
    official = shift_window_mask(padded, window, shift, torch.device("cpu"))  # [nW, N, N]
    seen = []
    for group in layout.groups:
        for index in range(group.first // batch, group.end // batch):
            matches = [w for w in range(expected.shape[1]) if torch.equal(expected[:, w, :, 0], gathered[index])]
            assert len(matches) == 1
            seen.append(matches[0])
            mask = torch.zeros_like(official[0]) if group.shift_mask is None else group.shift_mask
            assert torch.equal(mask, official[matches[0]])
    assert sorted(seen) == list(range(expected.shape[1]))  # every window once
    assert set(official.unique().tolist()) <= {0.0, SHIFT_MASK_VALUE}
    assert len(layout.groups) <= 8


def test_feed_forward_in_place_at_inference_and_chunked_under_checkpointing():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8))
    hidden_states = torch.randn(2, 3, 5, 5, 8)
    expected = hidden_states + mlp(hidden_states)
    engine = WindowEngine("chunked", chunk_bytes=32 * 4 * 7)  # 7 tokens per chunk
    with torch.no_grad():
        copy = hidden_states.clone()
        output = engine.add_feed_forward(copy, mlp, 32, None)
    assert output.data_ptr() == copy.data_ptr()  # updated in place: no volume-sized temporary
    torch.testing.assert_close(output, expected.detach(), atol=TOLERANCE, rtol=TOLERANCE)
    calls = []

    def counting_checkpoint(function, *args):
        calls.append(args[0].shape[0])
        return checkpoint(function, *args, use_reentrant=False)

    output = engine.add_feed_forward(hidden_states, mlp, 32, nn.Identity(), counting_checkpoint)
    torch.testing.assert_close(output, expected, atol=TOLERANCE, rtol=TOLERANCE)
    assert calls == [7] * (150 // 7) + [150 % 7]


def test_chunk_budget_sizes_the_chunks():
    engine = WindowEngine("chunked", chunk_bytes=2**23)
    with torch.no_grad():
        qkv_bound = engine.windows_per_chunk(392, 96, 3, 4, eager=False)
        weights_bound = engine.windows_per_chunk(392, 96, 3, 4, eager=True)
    assert qkv_bound == 2**23 // (392 * 3 * 96 * 4) == 18  # Swin-T stage 1, fp32
    assert weights_bound == 2**23 // (3 * 392**2 * 4) == 4
    with torch.enable_grad():  # training: the weights exist (SDPA's math fallback on CPU)
        assert engine.windows_per_chunk(392, 96, 3, 4, eager=False) == weights_bound
    assert WindowEngine(chunk_bytes=1).windows_per_chunk(392, 96, 3, 4, eager=True) == 1
    assert chunk_bounds(3, 10, 4) == [(3, 7), (7, 10)]


def test_strategy_rule():
    cpu, meta = torch.device("cpu"), torch.device("meta")
    assert not use_fused("auto", cpu) and use_fused("auto", meta)
    assert use_fused("fused", cpu) and not use_fused("chunked", meta)
    assert torch.compile(lambda x: x + use_fused("chunked", x.device), fullgraph=True)(torch.zeros(1)).item() == 1
    torch._dynamo.reset()


class RecordingSlabs(nn.Module):
    """A patch-embedding-like volume function (`[B, T, C, H, W]` -> `[B, ceil(T / 2), H / 2, W / 2, E]`, the time
    axis padded to pairs) that records the slab shapes it is called on."""

    def __init__(self, channels: int = 3, width: int = 5):
        super().__init__()
        torch.manual_seed(0)
        self.projection = nn.Conv3d(channels, width, kernel_size=(2, 2, 2), stride=(2, 2, 2))
        self.norm = nn.LayerNorm(width)
        self.shapes = []

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(volume.shape))
        volume = volume.transpose(1, 2)
        volume = nn.functional.pad(volume, (0, 0, 0, 0, 0, volume.shape[2] % 2))
        return self.norm(self.projection(volume).permute(0, 2, 3, 4, 1))


@pytest.mark.parametrize(
    "chunk_bytes, slab_shapes",
    [
        (2**30, [(3, 7, 3, 4, 4)]),  # everything fits: one call
        (8 * 2 * 48 * 4, [(2, 7, 3, 4, 4), (1, 7, 3, 4, 4)]),  # 8 steps of 2 frames per slab: two clips at a time
        (2 * 48 * 4, ([(1, 2, 3, 4, 4)] * 3 + [(1, 1, 3, 4, 4)]) * 3),  # one step: 2-frame slices, the last padded
        (1, ([(1, 2, 3, 4, 4)] * 3 + [(1, 1, 3, 4, 4)]) * 3),  # under one step: still one step at a time
    ],
    ids=["whole", "clips", "slices", "tiny"],
)
def test_map_slabs_equals_one_call_and_bounds_the_slabs(chunk_bytes, slab_shapes):
    """At inference on the chunked strategy a volume function runs on slabs of about `chunk_bytes` of input (whole
    clips, or aligned time slices of one clip) written into one output: the same numbers as one call."""
    function = RecordingSlabs()
    volume = torch.randn(3, 7, 3, 4, 4)  # 7 frames: the last time step of each clip is padded
    with torch.no_grad():
        expected = function(volume)
        function.shapes.clear()
        output = WindowEngine("chunked", chunk_bytes=chunk_bytes).map_slabs(function, volume, time_step=2)
    assert function.shapes == slab_shapes
    assert output.shape == expected.shape == (3, 4, 2, 2, 5)
    torch.testing.assert_close(output, expected, atol=TOLERANCE, rtol=TOLERANCE)


@pytest.mark.parametrize("strategy, grad", [("fused", False), ("chunked", True)], ids=["fused", "autograd"])
def test_map_slabs_is_one_call_when_fused_or_with_gradients(strategy, grad):
    function = RecordingSlabs()
    volume = torch.randn(3, 7, 3, 4, 4)
    with torch.set_grad_enabled(grad):
        output = WindowEngine(strategy, chunk_bytes=1).map_slabs(function, volume, time_step=2)
    assert function.shapes == [(3, 7, 3, 4, 4)]
    assert output.requires_grad == grad
