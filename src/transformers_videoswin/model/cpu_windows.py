# Copyright 2026 The transformers-videoswin Authors. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The CPU forward of Video Swin's layers: the same numbers as `modeling_videoswin.py`, with less memory traffic.

On a CPU with few cores, large temporaries cost page faults on every call, and the number of kernels does not
matter. So on the CPU:

- a layer gathers its windows straight from the tokens (one index per chunk does the padding, the shift and the
  partition, see `WindowLayout`) and attends `CHUNK_BYTES`-sized chunks of windows at a time; at inference each
  chunk's output plus its input is written into the residual, and the MLP runs on chunks of tokens, in place;
- the patch embedding and the patch merging run slab by slab (whole clips, or aligned time slices of one clip)
  into one preallocated output at inference.

The seam: `use_cpu_forward` replaces the `forward` of `VideoSwinLayer`, `VideoSwinEmbeddings`, `VideoSwinPatchMerging`
and `VideoSwinEncoder` (done once, when `transformers_videoswin.model` is imported) with a dispatcher that runs the CPU
forward for a CPU input and the model file's own forward otherwise: on accelerators, on the meta device, in an exported
graph (`torch.export`, ONNX), inside `reference_forward()`, and when attention maps are recorded (they come in the
official window order only from the reference). Under `torch.compile` a CPU input runs the CPU forward as an eager
island (`torch.compiler.disable`: the embeddings and the whole encoder, two graph breaks), as inductor's code for
either forward is slower than the eager CPU forward; `fullgraph=True` on the CPU needs `reference_forward()` around the
compiled call. transformers' kernel layers (`use_kernel_forward_from_hub` / `kernelize`) were the first choice, but
they need the `kernels` package, load a replacement from a kernel repository (on the Hub, or a local directory in the
kernel-repository layout, not a Python class), and only run when the user calls `kernelize` (or loads with
`use_kernels=True`) for one device and mode, so the speed-up would stop being automatic on the CPU.

Runtime choices are not part of the configuration: `CHUNK_BYTES` sizes the chunks, `enable_chunk_checkpointing`
makes backward recompute chunk by chunk (the lowest peak memory when training on the CPU).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint as torch_checkpoint
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.pytorch_utils import compile_compatible_method_lru_cache
from transformers.utils.output_capturing import _active_collector

from .modeling_videoswin import (
    Size3D,
    VideoSwinAttention,
    VideoSwinEmbeddings,
    VideoSwinEncoder,
    VideoSwinLayer,
    VideoSwinMLP,
    VideoSwinPatchMerging,
    padded_size,
    region_mask,
    shift_region_labels,
    window_partition,
)

# The widest temporary of a chunk (a window's qkv or attention weights, a token's MLP hidden layer) stays under this
# size. The default allocator maps and unmaps blocks over 32 MiB on every call; small ones stay in cache.
CHUNK_BYTES = 8 * 2**20
_enabled = True


@contextlib.contextmanager
def reference_forward() -> Iterator[None]:
    """Run the model file's own forward on the CPU too, inside the block (tests and benchmarks compare the two)."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def runs_on_cpu_path(hidden_states: torch.Tensor) -> bool:
    """Whether the CPU forward runs for this input (see the module docstring). Under `torch.compile` it does too, as
    an eager island (`use_cpu_forward`); an exported graph (`torch.export`, ONNX) keeps the model file's forward."""
    if not _enabled or hidden_states.device.type != "cpu" or torch.compiler.is_exporting():
        return False
    collected = _active_collector.get()
    return collected is None or "attentions" not in collected


def use_cpu_forward(module_class: type[nn.Module], cpu_forward: Callable) -> None:
    """Make `module_class.forward` run `cpu_forward` where `runs_on_cpu_path` says so, its own forward elsewhere.

    A `GradientCheckpointingLayer` subclass gets its forward wrapped by transformers when the class is created, and
    only the outermost wrapper checkpoints: the dispatch goes inside it, and the class is wrapped again around it."""
    checkpointing = issubclass(module_class, GradientCheckpointingLayer)
    reference = module_class.forward.__wrapped__ if checkpointing else module_class.forward

    # Compiled on the CPU, the chunked forward runs outside the graph: inductor's code for the model file's forward
    # takes 1.6x the eager chunked time (volume-sized masks, rolls, GELU), a traced chunked forward 1.1x.
    eager_cpu_forward = torch.compiler.disable(cpu_forward)

    @functools.wraps(reference)
    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        if not runs_on_cpu_path(hidden_states):
            return reference(self, hidden_states, *args, **kwargs)
        function = eager_cpu_forward if torch.compiler.is_compiling() else cpu_forward
        return function(self, hidden_states, *args, **kwargs)

    forward.reference = reference
    module_class.forward = forward
    if checkpointing:
        GradientCheckpointingLayer.__init_subclass__.__func__(module_class)


def chunk_bounds(first: int, end: int, step: int) -> list[tuple[int, int]]:
    """`[first, end)` cut into pieces of `step`."""
    return [(start, min(end, start + step)) for start in range(first, end, step)]


@dataclass(frozen=True)
class WindowGroup:
    """Windows `[first, end)` of the sorted order (each clip's copy of a window adjacent), sharing one shift mask."""

    first: int
    end: int
    shift_mask: torch.Tensor | None  # [N, N], None where the windows hold one region only


@dataclass(frozen=True)
class WindowLayout:
    """Padding, cyclic shift and window partition of a `[B, D, H, W, C]` volume, done as one gather of its tokens.

    Windows are sorted so that those with an all-zero shift mask (every window of a regular block, the interior
    windows of a shifted one) come first, then one group per distinct mask (at most 7 groups, all on the boundary);
    inside the sorted order a window's `B` batch copies are adjacent, so every group is one contiguous slice.
    """

    gather: torch.Tensor  # [num_windows * B * N] row of each window token in the `[B * rows_per_clip, C]` tokens
    scatter: torch.Tensor  # [B * D * H * W] row of each token in the window order (the inverse, padding dropped)
    groups: tuple[WindowGroup, ...]
    rows_per_clip: int  # D * H * W, plus one zero row standing for the padding when the window does not divide
    padding: torch.Tensor | None  # [num_windows * B * N, 1] True where `gather` picks that zero row; None if none
    window: Size3D

    @property
    def window_volume(self) -> int:
        return math.prod(self.window)


@compile_compatible_method_lru_cache(maxsize=64)
def window_layout(size: Size3D, window: Size3D, shift: Size3D, batch: int, device: torch.device) -> WindowLayout:
    """The `WindowLayout` of a `size` volume (batch `batch`) for `window`, rolled by `-shift` as in the official code;
    built once per argument set."""
    with torch.inference_mode(False):  # index tensors a later training step can save for backward
        padded = padded_size(size, window)
        tokens = math.prod(size)
        rows_per_clip = tokens + (padded != size)
        # Token (d, h, w) of the rolled, padded volume comes from (d + sd, h + sh, w + sw) mod padded.
        source = [torch.arange(p) + s for p, s in zip(padded, shift)]
        source = torch.meshgrid(*(torch.where(i < p, i, i - p) for i, p in zip(source, padded)), indexing="ij")
        inside = (source[0] < size[0]) & (source[1] < size[1]) & (source[2] < size[2])
        rows = torch.where(inside, (source[0] * size[1] + source[1]) * size[2] + source[2], tokens)
        rows = window_partition(rows[None, ..., None], window)[0, ..., 0]  # [num_windows, N]

        # Windows that mix shift regions are the last ones along a shifted axis; the group key says along which
        # axes. Group sizes follow from the grid alone.
        grid = [p // w for p, w in zip(padded, window)]
        position = torch.stack(torch.meshgrid(*(torch.arange(g) for g in grid), indexing="ij")).flatten(1)
        key = sum(((position[a] == grid[a] - 1) & (shift[a] > 0)).long() << a for a in range(3))  # [nW]
        order = torch.argsort(key, stable=True)
        labels = shift_region_labels(padded, window, shift, torch.device("cpu"))[order].to(device)  # [nW, N]
        groups, first = [], 0
        for group_key in range(8):
            if any(group_key >> a & 1 and not shift[a] for a in range(3)):
                continue
            count = math.prod(1 if group_key >> a & 1 else g - (shift[a] > 0) for a, g in enumerate(grid))
            mask = region_mask(labels[first]) if group_key else None
            groups.append(WindowGroup(first * batch, (first + count) * batch, mask))
            first += count

        clips = torch.arange(batch)
        rows = rows[order]
        gather = rows[:, None, :] + (clips * rows_per_clip)[None, :, None]  # [nW, B, N]
        scatter = torch.empty(batch, rows_per_clip, dtype=torch.long)
        scatter[clips[None, :, None], rows[:, None, :]] = torch.arange(gather.numel()).view_as(gather)
        padding = None
        if padded != size:
            padding = (rows == tokens)[:, None, :].expand_as(gather).reshape(-1, 1).to(device)
        return WindowLayout(
            gather=gather.flatten().to(device),
            scatter=scatter[:, :tokens].flatten().to(device),
            groups=tuple(groups),
            rows_per_clip=rows_per_clip,
            padding=padding,
            window=window,
        )


def windows_per_chunk(window_volume: int, channels: int, heads: int, element_size: int, weights: bool) -> int:
    """How many windows fit `CHUNK_BYTES`: their qkv, or their `[heads, N, N]` attention weights where those exist
    (`weights`: eager attention, and training, as SDPA on the CPU falls back to its math kernel for a mask with
    gradients)."""
    window_bytes = window_volume * 3 * channels * element_size
    if weights:
        window_bytes = max(window_bytes, heads * window_volume**2 * element_size)
    return max(1, CHUNK_BYTES // window_bytes)


def attend_windows(
    layer: VideoSwinLayer, windows: torch.Tensor, mask: torch.Tensor, padding: torch.Tensor | None, kwargs: dict
) -> torch.Tensor:
    """Norm and attention over `[rows, C]` gathered window tokens with the `[1, heads, N, N]` `mask` -> `[rows, C]`.
    `padding` (`[rows, 1]`) marks the rows that stand for padding: zeros after the norm, as in the official code."""
    windows = layer.layernorm_before(windows)
    if padding is not None:
        windows = windows.masked_fill(padding, 0)
    output = layer.attention(windows.view(-1, 1, mask.shape[-1], windows.shape[-1]), mask, **kwargs)[0]
    return output.view(windows.shape)


def gather_and_attend(
    layer: VideoSwinLayer,
    tokens: torch.Tensor,
    rows: torch.Tensor,
    mask: torch.Tensor,
    padding: torch.Tensor | None,
    kwargs: dict,
) -> torch.Tensor:
    """`attend_windows` over the windows whose tokens sit at `rows` of the `[rows, C]` `tokens` (the gather inside, so
    that a checkpointed chunk keeps only `tokens` and `rows` for backward)."""
    return attend_windows(layer, tokens.index_select(0, rows), mask, padding, kwargs)


def add_window_attention(
    layer: VideoSwinLayer, hidden_states: torch.Tensor, window: Size3D, shift: Size3D, kwargs: dict
) -> torch.Tensor:
    """`x + DropPath(attention(LN(x)))` over the windows of a `[B, D, H, W, C]` volume, a chunk of windows at a time:
    each chunk's `x + output` is written into the residual at inference, gathered into one output when training."""
    batch, channels = hidden_states.shape[0], hidden_states.shape[-1]
    size = tuple(hidden_states.shape[1:4])
    layout = window_layout(size, window, shift, batch, hidden_states.device)
    tokens = hidden_states.view(batch, -1, channels)
    if layout.padding is not None:  # one zero row per clip stands for the padding
        tokens = F.pad(tokens, (0, 0, 0, 1))
    tokens = tokens.reshape(-1, channels)
    attention: VideoSwinAttention = layer.attention
    training = layer.training or torch.is_grad_enabled()
    weights = training or attention.config._attn_implementation == "eager"
    step = windows_per_chunk(layout.window_volume, channels, attention.num_heads, tokens.element_size(), weights)
    bias = attention.relative_position_bias(window).to(hidden_states.dtype).unsqueeze(0)  # [1, heads, N, N]
    checkpoint = getattr(layer, "checkpoint_chunks", None) if layer.training else None
    # At inference every token sits in one window: its row of the residual is written once, input plus output.
    residual = None if training else torch.empty_like(tokens)
    outputs = []
    for group in layout.groups:
        mask = bias if group.shift_mask is None else bias + group.shift_mask.to(bias.dtype)
        for start, stop in chunk_bounds(group.first, group.end, step):
            first_row, end_row = start * layout.window_volume, stop * layout.window_volume
            rows = layout.gather[first_row:end_row]
            padding = None if layout.padding is None else layout.padding[first_row:end_row]
            if residual is None:
                arguments = (layer, tokens, rows, mask, padding, kwargs)
                outputs.append(
                    checkpoint(gather_and_attend, *arguments) if checkpoint else gather_and_attend(*arguments)
                )
            else:
                windows = tokens.index_select(0, rows)
                output = attend_windows(layer, windows, mask, padding, kwargs)
                # index_copy_, not index_add_: that one runs as a scatter_add_, 2-30x slower with 2 threads
                residual.index_copy_(0, rows, windows.add_(output))
    if residual is None:
        output = torch.cat(outputs).index_select(0, layout.scatter).view(hidden_states.shape)
        return hidden_states + layer.drop_path(output)
    residual = residual.view(batch, layout.rows_per_clip, channels)[:, : math.prod(size)]
    return residual.contiguous().view(hidden_states.shape)  # no copy, unless padding rows have to go


def fuses_linear_gelu(mlp: VideoSwinMLP, tokens: torch.Tensor) -> bool:
    """Whether `mlp`'s first linear layer and its exact GELU run as one oneDNN call at inference on `tokens`: fp32 on
    a CPU build with oneDNN (`torch.ops.mkldnn._linear_pointwise`, what inductor's CPU backend calls for this pair)."""
    return tokens.dtype == torch.float32 and getattr(mlp.act, "act", None) is F.gelu and onednn_linear_available()


@functools.cache
def onednn_linear_available() -> bool:
    """Whether this build runs oneDNN's fused linear and gets `GELU(linear(x))` from it: probed once on a small input,
    so that a platform where the op is missing, fails or differs keeps the plain MLP."""
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return False
    generator = torch.Generator().manual_seed(0)
    x, weight, bias = (torch.randn(shape, generator=generator) for shape in ((5, 8), (16, 8), (16,)))
    try:
        fused = torch.ops.mkldnn._linear_pointwise(x, weight, bias, "gelu", [], "none")
    except RuntimeError:
        return False
    return torch.allclose(fused, F.gelu(F.linear(x, weight, bias)), atol=1e-6, rtol=1e-5)


def feed_forward(layer: VideoSwinLayer, tokens: torch.Tensor) -> torch.Tensor:
    """`MLP(LN(tokens))` for `[rows, C]` tokens; at inference (eval mode, no gradients), GELU as the epilogue of the
    first matmul where `fuses_linear_gelu` (2% of a Swin-T forward: no pass of its own over the `[rows, 4C]` hidden
    layer)."""
    mlp: VideoSwinMLP = layer.mlp
    tokens = layer.layernorm_after(tokens)
    if layer.training or torch.is_grad_enabled() or not fuses_linear_gelu(mlp, tokens):
        return mlp(tokens)
    hidden = torch.ops.mkldnn._linear_pointwise(tokens, mlp.fc1.weight, mlp.fc1.bias, "gelu", [], "none")
    return mlp.fc2(hidden)


def add_feed_forward(layer: VideoSwinLayer, hidden_states: torch.Tensor) -> torch.Tensor:
    """`x + DropPath(MLP(LN(x)))`: in place, a chunk of tokens at a time, at inference; one recomputed chunk at a time
    under chunk checkpointing; whole otherwise."""
    checkpoint = getattr(layer, "checkpoint_chunks", None) if layer.training else None
    training = layer.training or torch.is_grad_enabled()
    if training and checkpoint is None:
        return hidden_states + layer.drop_path(feed_forward(layer, hidden_states))
    flat = hidden_states.view(-1, hidden_states.shape[-1])
    hidden_width = layer.mlp.fc1.out_features
    chunks = chunk_bounds(0, flat.shape[0], max(1, CHUNK_BYTES // (hidden_width * flat.element_size())))
    if training:
        recompute = functools.partial(feed_forward, layer)
        output = torch.cat([checkpoint(recompute, flat[start:stop]) for start, stop in chunks])
        return hidden_states + layer.drop_path(output.view(hidden_states.shape))
    for start, stop in chunks:
        chunk = flat[start:stop]
        chunk += feed_forward(layer, chunk)
    return hidden_states


def layer_forward(
    self: VideoSwinLayer, hidden_states: torch.Tensor, window: Size3D, shift: Size3D, **kwargs
) -> torch.Tensor:
    """The CPU forward of `VideoSwinLayer`: the same two residual branches, chunk by chunk."""
    hidden_states = add_window_attention(self, hidden_states, window, shift, kwargs)
    return add_feed_forward(self, hidden_states)


def map_slabs(function: Callable[[torch.Tensor], torch.Tensor], volume: torch.Tensor, time_step: int) -> torch.Tensor:
    """`function` over a `[B, T, ...]` volume, where it gives `[B, ceil(T / time_step), ...]` and treats clips and
    `time_step`-frame slices independently. At inference, slab by slab (whole clips, or aligned slices of one clip, of
    about `CHUNK_BYTES` of input each) into one preallocated output, so that the function's temporaries (a transposed
    copy, a concatenation, a norm) are a slab's, not the batch's."""
    if torch.is_grad_enabled():
        return function(volume)
    batch, time = volume.shape[:2]
    steps = -(-time // time_step)
    step_bytes = volume[:1, :time_step].numel() * volume.element_size()
    steps_per_slab = max(1, CHUNK_BYTES // step_bytes)
    if steps_per_slab >= batch * steps:
        return function(volume)
    clips_per_slab = max(1, steps_per_slab // steps)
    steps_per_slab = min(steps_per_slab, steps)
    output = None
    for first_clip, end_clip in chunk_bounds(0, batch, clips_per_slab):
        for first, end in chunk_bounds(0, steps, steps_per_slab):
            slab = function(volume[first_clip:end_clip, first * time_step : end * time_step])
            if output is None:
                output = slab.new_empty((batch, steps, *slab.shape[2:]))
            output[first_clip:end_clip, first:end] = slab
    return output


def embeddings_forward(self: VideoSwinEmbeddings, pixel_values: torch.Tensor) -> torch.Tensor:
    """The CPU forward of `VideoSwinEmbeddings`: patches and patch norm slab by slab, then the dropout."""
    reference = functools.partial(type(self).forward.reference, self)
    return map_slabs(reference, pixel_values, self.patch_embeddings.patch_size[0])


def patch_merging_forward(self: VideoSwinPatchMerging, hidden_states: torch.Tensor) -> torch.Tensor:
    """The CPU forward of `VideoSwinPatchMerging`: slab by slab."""
    return map_slabs(functools.partial(type(self).forward.reference, self), hidden_states, 1)


def encoder_forward(self: VideoSwinEncoder, hidden_states: torch.Tensor, *args, **kwargs):
    """The CPU forward of `VideoSwinEncoder`: its own, whose layers and patch mergings take their CPU forward. It is
    dispatched only so that under `torch.compile` the whole encoder is one eager island (one graph break, not one per
    layer)."""
    return type(self).forward.reference(self, hidden_states, *args, **kwargs)


def enable_chunk_checkpointing(model: nn.Module, checkpoint: Callable | None = None) -> None:
    """Make backward recompute each chunk of windows or tokens (CPU training, lowest peak memory) instead of each whole
    layer: for the layers that `model.gradient_checkpointing_enable()` marked, or for every layer if none is."""
    layers = [module for module in model.modules() if isinstance(module, VideoSwinLayer)]
    marked = [layer for layer in layers if layer.gradient_checkpointing] or layers
    for layer in marked:
        default = getattr(layer, "_gradient_checkpointing_func", None)
        layer.checkpoint_chunks = checkpoint or default or functools.partial(torch_checkpoint, use_reentrant=False)
        layer.gradient_checkpointing = False


use_cpu_forward(VideoSwinLayer, layer_forward)
use_cpu_forward(VideoSwinEmbeddings, embeddings_forward)
use_cpu_forward(VideoSwinPatchMerging, patch_merging_forward)
use_cpu_forward(VideoSwinEncoder, encoder_forward)
