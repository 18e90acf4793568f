"""The CPU forward (`model/cpu_windows.py`) against the model file's own forward: the gathers against pad/roll/partition,
the dispatch rule, the chunk budget, and the residual updates (in place at inference, never touching the input)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig
from transformers_videoswin.model import cpu_windows
from transformers_videoswin.model.cpu_windows import (
    chunk_bounds,
    enable_chunk_checkpointing,
    map_slabs,
    reference_forward,
    runs_on_cpu_path,
    window_layout,
    windows_per_chunk,
)
from transformers_videoswin.model.modeling_videoswin import (
    SHIFT_MASK_VALUE,
    VideoSwinLayer,
    padded_size,
    shift_window_mask,
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


def make_layer(window: tuple[int, int, int], drop_path_rate: float = 0.0) -> VideoSwinLayer:
    """A first-stage layer (8 channels, 2 heads) whose configured window is `window`, with a non-trivial norm bias (so
    that "padding is zero after the norm" is exercised)."""
    torch.manual_seed(0)
    config = VideoSwinConfig(
        **tiny_config_kwargs(embed_dim=8, num_heads=(2, 2, 2, 4), window_size=window, drop_path_rate=drop_path_rate)
    )
    layer = VideoSwinLayer(config, stage_idx=0, layer_idx=0)
    with torch.no_grad():
        layer.layernorm_before.bias.normal_()
        layer.attention.relative_position_bias_table.normal_()
    return layer.eval()


@pytest.mark.parametrize("size, window, shift", GEOMETRIES)
@pytest.mark.parametrize("chunk_bytes", [1, 4096, 2**30])
def test_cpu_layer_equals_reference(monkeypatch, size, window, shift, chunk_bytes):
    """Any chunk budget (one window per chunk, a few, all at once) gives the reference numbers, at inference (in
    place) and on the autograd path."""
    monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", chunk_bytes)
    layer = make_layer(window)
    hidden_states = torch.randn(2, *size, 8)
    with torch.no_grad():
        with reference_forward():
            expected = layer(hidden_states, window, shift)
        before = hidden_states.clone()
        inference = layer(hidden_states, window, shift)
    assert torch.equal(hidden_states, before)  # the in-place update works on a copy
    torch.testing.assert_close(inference, expected, atol=TOLERANCE, rtol=TOLERANCE)
    autograd = layer.train()(hidden_states.requires_grad_(), window, shift)
    torch.testing.assert_close(autograd.detach(), expected, atol=TOLERANCE, rtol=TOLERANCE)
    autograd.sum().backward()
    assert hidden_states.grad is not None


@pytest.mark.parametrize("size, window, shift", GEOMETRIES[1:3])
def test_chunk_checkpointing_gives_the_same_gradients(monkeypatch, size, window, shift):
    monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", 4096)
    hidden_states = torch.randn(2, *size, 8)
    grads = []
    for chunked in (False, True):
        layer = make_layer(window).train()
        if chunked:
            enable_chunk_checkpointing(layer)
            assert layer.checkpoint_chunks is not None and not layer.gradient_checkpointing
        layer(hidden_states, window, shift).square().sum().backward()
        grads.append(layer.attention.qkv.weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("size, window, shift", GEOMETRIES)
def test_layout_gathers_pad_roll_partition(size, window, shift):
    """The gather of a `WindowLayout` picks, window by window, the tokens that padding, a roll by `-shift` and the
    partition put there; padding rows point at the extra zero row; each group's mask is the model's shift mask of
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


def test_feed_forward_in_place_at_inference_and_chunked_under_checkpointing(monkeypatch):
    layer = make_layer((2, 4, 4))
    hidden_states = torch.randn(2, 3, 5, 5, 8)
    with torch.no_grad():
        expected = hidden_states + layer.mlp(layer.layernorm_after(hidden_states))
    monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", 32 * 4 * 7)  # 7 tokens of the 32-wide MLP layer per chunk
    with torch.no_grad():
        copy = hidden_states.clone()
        output = cpu_windows.add_feed_forward(layer, copy)
    assert output.data_ptr() == copy.data_ptr()  # updated in place: no volume-sized temporary
    torch.testing.assert_close(output, expected, atol=TOLERANCE, rtol=TOLERANCE)
    calls = []

    def counting_checkpoint(function, *args):
        calls.append(args[0].shape[0])
        return checkpoint(function, *args, use_reentrant=False)

    enable_chunk_checkpointing(layer.train(), counting_checkpoint)
    output = cpu_windows.add_feed_forward(layer, hidden_states)
    torch.testing.assert_close(output, expected, atol=TOLERANCE, rtol=TOLERANCE)
    assert calls == [7] * (150 // 7) + [150 % 7]


def test_chunk_budget_sizes_the_chunks(monkeypatch):
    monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", 2**23)
    assert windows_per_chunk(392, 96, 3, 4, weights=False) == 2**23 // (392 * 3 * 96 * 4) == 18  # Swin-T stage 1
    assert windows_per_chunk(392, 96, 3, 4, weights=True) == 2**23 // (3 * 392**2 * 4) == 4
    monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", 1)
    assert windows_per_chunk(392, 96, 3, 4, weights=True) == 1
    assert chunk_bounds(3, 10, 4) == [(3, 7), (7, 10)]


def test_dispatch_rule():
    """The CPU forward runs for CPU inputs only, outside `reference_forward()` and outside exported graphs; under
    `torch.compile` it runs too (as an eager island)."""

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + runs_on_cpu_path(x)

    cpu, meta = torch.zeros(1), torch.zeros(1, device="meta")
    assert runs_on_cpu_path(cpu) and not runs_on_cpu_path(meta)
    with reference_forward():
        assert not runs_on_cpu_path(cpu)
    assert runs_on_cpu_path(cpu)
    try:
        assert torch.compile(Probe(), fullgraph=True)(cpu).item() == 1
        with reference_forward():
            assert torch.compile(Probe(), fullgraph=True)(cpu).item() == 0
    finally:
        torch._dynamo.reset()
    assert torch.export.export(Probe(), (cpu,), strict=False).module()(cpu).item() == 0
    assert VideoSwinLayer.forward.reference.__module__.endswith("modeling_videoswin")


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
def test_map_slabs_equals_one_call_and_bounds_the_slabs(monkeypatch, chunk_bytes, slab_shapes):
    """At inference a volume function runs on slabs of about `CHUNK_BYTES` of input (whole clips, or aligned time
    slices of one clip) written into one output: the same numbers as one call."""
    monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", chunk_bytes)
    function = RecordingSlabs()
    volume = torch.randn(3, 7, 3, 4, 4)  # 7 frames: the last time step of each clip is padded
    with torch.no_grad():
        expected = function(volume)
        function.shapes.clear()
        output = map_slabs(function, volume, time_step=2)
    assert function.shapes == slab_shapes
    assert output.shape == expected.shape == (3, 4, 2, 2, 5)
    torch.testing.assert_close(output, expected, atol=TOLERANCE, rtol=TOLERANCE)


def test_map_slabs_is_one_call_with_gradients(monkeypatch):
    monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", 1)
    function = RecordingSlabs()
    output = map_slabs(function, torch.randn(3, 7, 3, 4, 4), time_step=2)
    assert function.shapes == [(3, 7, 3, 4, 4)]
    assert output.requires_grad


@pytest.mark.parametrize("hidden_act, fused", [("gelu", True), ("relu", False)])
def test_feed_forward_fuses_gelu_into_the_first_matmul_at_inference(hidden_act, fused):
    """fp32 exact GELU runs as the first linear layer's oneDNN epilogue, with the numbers of `MLP(LN(x))`; any other
    activation runs the MLP as it is."""
    torch.manual_seed(0)
    config = VideoSwinConfig(**tiny_config_kwargs(embed_dim=8, num_heads=(2, 2, 2, 4), hidden_act=hidden_act))
    layer = VideoSwinLayer(config, stage_idx=0, layer_idx=0).eval()
    tokens = torch.randn(37, 8)
    assert cpu_windows.fuses_linear_gelu(layer.mlp, tokens) is fused
    assert not cpu_windows.fuses_linear_gelu(layer.mlp, tokens.bfloat16())
    with torch.no_grad():
        output = cpu_windows.feed_forward(layer, tokens)
        expected = layer.mlp(layer.layernorm_after(tokens))
    torch.testing.assert_close(output, expected, atol=TOLERANCE, rtol=TOLERANCE)


def test_the_fused_linear_is_probed_once_and_left_out_where_it_fails(monkeypatch):
    """A build whose oneDNN op raises (or is missing) runs the plain MLP instead of failing at inference."""
    assert cpu_windows.onednn_linear_available() == torch.backends.mkldnn.is_available()  # this machine: x86 oneDNN

    def broken(*args):
        raise RuntimeError("no oneDNN kernel for this CPU")

    class Ops:
        _linear_pointwise = staticmethod(broken)

    cpu_windows.onednn_linear_available.cache_clear()
    monkeypatch.setattr(torch.ops, "mkldnn", Ops())
    try:
        assert not cpu_windows.onednn_linear_available()
    finally:
        cpu_windows.onednn_linear_available.cache_clear()
