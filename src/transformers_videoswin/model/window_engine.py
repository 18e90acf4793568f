"""How a Video Swin block runs its two residual branches: (shifted) window attention, and the MLP.

`WindowEngine` is the whole interface the model sees. A block asks it for `x + DropPath(attention(LN(x)))` over a
`[B, D, H, W, C]` volume (`add_window_attention`) and for `x + DropPath(MLP(LN(x)))` (`add_feed_forward`); the
engine picks one of two strategies that compute the same numbers:

- **fused** (every device that is not the CPU, the meta device included, and any traced graph: `torch.compile`,
  `torch.export`): `shifted_window_attention` norms, pads, shifts, partitions, attends over every window of the batch
  in one call, and reverses. The number of kernels a block launches does not depend on the batch or the clip size.
- **chunked** (the CPU): the windows are gathered straight from the tokens (one index per chunk does the padding,
  the shift and the partition, see `WindowLayout`) and attended a chunk at a time, so that no temporary outgrows
  `chunk_bytes`; at inference the residual is updated in place. On a 2-core CPU, large temporaries cost page faults
  on every call, and the launch count does not matter.

`config.window_strategy` ("auto", "fused" or "chunked") overrides the choice; "auto" is the rule above.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.pytorch_utils import compile_compatible_method_lru_cache

Size3D = tuple[int, int, int]
# `norm(x)`, the MLP branch and drop path: `[..., C]` -> `[..., C]`.
TokenFunction = Callable[[torch.Tensor], torch.Tensor]
# `attention(windows [G, W, N, C], mask)` -> (`[G, W, N, C]`, weights or None); see `VideoSwinWindowAttention`.
AttentionFunction = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
# A volume operation whose output has one time step per `time_step` input steps: `[B, T, ...]` -> `[B, T', ...]`.
VolumeFunction = Callable[[torch.Tensor], torch.Tensor]
# `checkpoint(function, *args)`: recompute `function` in backward (activation checkpointing), or None.
Checkpoint = Callable[..., object] | None

# Value the official code writes into the shift mask between tokens of different regions (not -inf).
SHIFT_MASK_VALUE = -100.0
WINDOW_STRATEGIES = ("auto", "fused", "chunked")
# Chunked strategy: the widest temporary of a chunk (a window's qkv or attention weights, a token's MLP hidden layer)
# stays under this size. The default allocator maps and unmaps blocks over 32 MiB on every call; small ones stay in
# cache.
CHUNK_BYTES = 8 * 2**20


def use_fused(strategy: str, device: torch.device) -> bool:
    """Whether the fused strategy runs: always in a traced graph, else as `strategy` says ("auto": on every device
    but the CPU)."""
    if torch.compiler.is_compiling():
        return True
    return device.type != "cpu" if strategy == "auto" else strategy == "fused"


# ---------------------------------------------------------------------------------------------------------------
# Window geometry
# ---------------------------------------------------------------------------------------------------------------


def window_partition(hidden_states: torch.Tensor, window: Size3D) -> torch.Tensor:
    """`[B, D, H, W, C]` (sizes divisible by the window) -> `[B, num_windows, window_volume, C]`, windows in d, h, w order."""
    batch, depth, height, width, channels = hidden_states.shape
    wd, wh, ww = window
    hidden_states = hidden_states.view(batch, depth // wd, wd, height // wh, wh, width // ww, ww, channels)
    return hidden_states.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(batch, -1, wd * wh * ww, channels)


def window_reverse(windows: torch.Tensor, window: Size3D, padded_size: Size3D) -> torch.Tensor:
    """`[B, num_windows, window_volume, C]` -> `[B, D, H, W, C]` of the padded volume (the inverse of the partition)."""
    batch, channels = windows.shape[0], windows.shape[-1]
    (wd, wh, ww), (depth, height, width) = window, padded_size
    windows = windows.view(batch, depth // wd, height // wh, width // ww, wd, wh, ww, channels)
    return windows.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(batch, depth, height, width, channels)


def padded_size(size: Size3D, window: Size3D) -> Size3D:
    """`size` rounded up to a multiple of `window` on every axis."""
    return tuple(math.ceil(s / w) * w for s, w in zip(size, window))


def shift_region_labels(padded: Size3D, window: Size3D, shift: Size3D) -> torch.Tensor:
    """`[num_windows, N]` region label of each window token: the 3x3x3 regions a cyclic shift brings together."""
    labels = torch.zeros(padded)
    regions = [
        (slice(None),) if s == 0 else (slice(0, -w), slice(-w, -s), slice(-s, None)) for w, s in zip(window, shift)
    ]
    label = 0
    for d in regions[0]:
        for h in regions[1]:
            for w in regions[2]:
                labels[d, h, w] = label
                label += 1
    return window_partition(labels[None, ..., None], window)[0, ..., 0]


def region_mask(labels: torch.Tensor) -> torch.Tensor:
    """`[..., N]` region labels -> `[..., N, N]` additive mask: 0 between tokens of a region, -100 across regions."""
    different = labels[..., None, :] != labels[..., :, None]
    return torch.zeros(different.shape, device=labels.device).masked_fill(different, SHIFT_MASK_VALUE)


def shift_window_mask(padded: Size3D, window: Size3D, shift: Size3D, device: torch.device) -> torch.Tensor:
    """`[num_windows, N, N]` additive mask (0 or -100) keeping attention inside the regions a cyclic shift brought together."""
    return region_mask(shift_region_labels(padded, window, shift).to(device))


@compile_compatible_method_lru_cache(maxsize=64)
def cached_shift_window_mask(padded: Size3D, window: Size3D, shift: Size3D, device: torch.device) -> torch.Tensor:
    """`shift_window_mask`, built once per size, window, shift and device (inline when traced)."""
    with torch.inference_mode(False):  # usable by a later training step even when first built for inference
        return shift_window_mask(padded, window, shift, device)


# ---------------------------------------------------------------------------------------------------------------
# Fused strategy
# ---------------------------------------------------------------------------------------------------------------


def shifted_window_attention(
    hidden_states: torch.Tensor,
    norm: TokenFunction,
    attention: AttentionFunction,
    bias: torch.Tensor,
    window: Size3D,
    shift: Size3D,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """W-MSA (`shift` all zero) or SW-MSA over a `[B, D, H, W, C]` volume, every window in one attention call.

    1. norm:      `[B, D, H, W, C]`, LayerNorm over channels (before padding, as in the official code);
    2. pad:       `[B, D', H', W', C]` with zeros up to window multiples;
    3. shift:     cyclic roll by `-shift`;
    4. partition: `[B, num_windows, N, C]`, N = window volume;
    5. attention: `attention(windows, mask)` with the `[heads, N, N]` relative position `bias`, plus in shifted blocks
       the `[num_windows, 1, N, N]` shift mask (broadcast over the batch);
    6. reverse:   partition reversed, roll by `+shift`, padding cropped: `[B, D, H, W, C]`.

    Returns the attention output and the `[B * num_windows, heads, N, N]` weights (eager attention) or None.
    """
    size = tuple(hidden_states.shape[1:4])
    padded = padded_size(size, window)
    windows = norm(hidden_states)
    if padded != size:
        windows = F.pad(windows, (0, 0, 0, padded[2] - size[2], 0, padded[1] - size[1], 0, padded[0] - size[0]))
    if any(shift):
        windows = torch.roll(windows, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
    windows = window_partition(windows, window)
    mask = bias.unsqueeze(0)  # [1, heads, N, N]
    if any(shift):
        mask = mask + cached_shift_window_mask(padded, window, shift, bias.device).to(bias.dtype).unsqueeze(1)
    attn_output, attn_weights = attention(windows, mask)
    attn_output = window_reverse(attn_output, window, padded)
    if any(shift):
        attn_output = torch.roll(attn_output, shifts=shift, dims=(1, 2, 3))
    if padded != size:
        attn_output = attn_output[:, : size[0], : size[1], : size[2]]
    return attn_output, attn_weights


def broadcast_over_windows(mask: torch.Tensor, num_windows: int) -> torch.Tensor:
    """A `[1, heads, N, N]` mask for a batch of `num_windows` windows: left to broadcast in eager mode (an expanded
    mask would be copied by SDPA), expanded when traced, so that no guard on the window count is needed."""
    return mask.expand(num_windows, -1, -1, -1) if torch.compiler.is_compiling() else mask


# ---------------------------------------------------------------------------------------------------------------
# Chunked strategy
# ---------------------------------------------------------------------------------------------------------------


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
        labels = shift_region_labels(padded, window, shift)[order].to(device)  # [nW, N]
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


def _run(checkpoint: Checkpoint, function: Callable, *args):
    """`function(*args)`, recomputed in backward when `checkpoint` is given."""
    return checkpoint(function, *args) if checkpoint else function(*args)


def _add(residual: torch.Tensor, branch: torch.Tensor, drop_path: TokenFunction | None) -> torch.Tensor:
    """`residual + drop_path(branch)`; `drop_path` None at inference."""
    return residual + (branch if drop_path is None else drop_path(branch))


def chunk_bounds(first: int, end: int, step: int) -> list[tuple[int, int]]:
    """`[first, end)` cut into pieces of `step`."""
    return [(start, min(end, start + step)) for start in range(first, end, step)]


def _attend_windows(
    norm: TokenFunction,
    attention: AttentionFunction,
    tokens: torch.Tensor,
    rows: torch.Tensor,
    mask: torch.Tensor,
    padding: torch.Tensor | None,
) -> torch.Tensor:
    """The windows whose tokens sit at `rows` of the `[rows, C]` `tokens`: gather, norm, attention ->
    `[len(rows), C]`. `padding` (`[len(rows), 1]`) marks the rows that stand for padding: zeros after the norm, as in
    the official code."""
    windows = norm(tokens.index_select(0, rows))
    if padding is not None:
        windows = windows.masked_fill(padding, 0)
    output = attention(windows.view(-1, 1, mask.shape[-1], windows.shape[-1]), mask)[0]
    return output.view(windows.shape)


def chunked_window_attention(
    tokens: torch.Tensor,
    layout: WindowLayout,
    norm: TokenFunction,
    attention: AttentionFunction,
    bias: torch.Tensor,
    windows_per_chunk: int,
    residual: torch.Tensor | None = None,
    checkpoint: Checkpoint = None,
) -> torch.Tensor | None:
    """W-MSA or SW-MSA over `[B * rows_per_clip, C]` tokens, `windows_per_chunk` windows at a time, each group of
    windows with its one `[1, heads, N, N]` mask (the `[heads, N, N]` bias, plus the group's shift mask).

    Returns the `[B * D * H * W, C]` output in token order; or, given a `residual` of the tokens' shape, adds the
    output into it in place, chunk by chunk, and returns None."""
    num_tokens, outputs = layout.window_volume, []
    bias = bias.unsqueeze(0)
    for group in layout.groups:
        mask = bias if group.shift_mask is None else bias + group.shift_mask.to(bias.dtype)
        for start, stop in chunk_bounds(group.first, group.end, windows_per_chunk):
            first_row, end_row = start * num_tokens, stop * num_tokens
            rows = layout.gather[first_row:end_row]
            padding = None if layout.padding is None else layout.padding[first_row:end_row]
            output = _run(checkpoint, _attend_windows, norm, attention, tokens, rows, mask, padding)
            if residual is None:
                outputs.append(output)
            else:
                residual.index_add_(0, rows, output)
    return None if residual is not None else torch.cat(outputs).index_select(0, layout.scatter)


# ---------------------------------------------------------------------------------------------------------------
# The interface a block uses
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class WindowEngine:
    """Runs a block's residual branches with the strategy `strategy` picks for the device (see the module docstring).

    `chunk_bytes` is the chunked strategy's budget for its widest temporary.
    """

    strategy: str = "auto"
    chunk_bytes: int = CHUNK_BYTES

    def add_window_attention(
        self,
        hidden_states: torch.Tensor,
        norm: TokenFunction,
        attention: AttentionFunction,
        bias: torch.Tensor,
        window: Size3D,
        shift: Size3D,
        drop_path: TokenFunction | None,
        checkpoint: Checkpoint = None,
        return_weights: bool = False,
        eager: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`x + drop_path(attention(norm(x)))` over the windows of a `[B, D, H, W, C]` volume `x`, rolled by `-shift`
        (all zero: W-MSA), with the `[heads, N, N]` relative position `bias`; `drop_path` is None at inference.
        `checkpoint` recomputes the branch (a chunk of windows, on the chunked strategy) in backward. With
        `return_weights`, the fused strategy runs, so that the `[B * num_windows, heads, N, N]` weights come in the
        official window order; else None. `eager` says that `attention` materializes its weights (sizes the chunks)."""
        if return_weights or use_fused(self.strategy, hidden_states.device):
            arguments = (hidden_states, norm, attention, bias, window, shift)
            output, weights = _run(checkpoint, shifted_window_attention, *arguments)
            return _add(hidden_states, output, drop_path), weights

        batch, channels = hidden_states.shape[0], hidden_states.shape[-1]
        layout = window_layout(tuple(hidden_states.shape[1:4]), window, shift, batch, hidden_states.device)
        tokens = hidden_states.view(batch, -1, channels)
        if layout.padding is not None:  # one zero row per clip stands for the padding
            tokens = F.pad(tokens, (0, 0, 0, 1))
        tokens = tokens.reshape(-1, channels)
        step = self.windows_per_chunk(layout.window_volume, channels, bias.shape[0], tokens.element_size(), eager)
        if drop_path is not None or torch.is_grad_enabled():
            output = chunked_window_attention(tokens, layout, norm, attention, bias, step, checkpoint=checkpoint)
            return _add(hidden_states, output.view(hidden_states.shape), drop_path), None

        # Inference: each chunk adds its output straight into a copy of the tokens: no volume-sized temporary.
        residual = tokens.clone()
        chunked_window_attention(tokens, layout, norm, attention, bias, step, residual=residual)
        residual = residual.view(batch, layout.rows_per_clip, channels)[:, : math.prod(hidden_states.shape[1:4])]
        return residual.contiguous().view(hidden_states.shape), None  # no copy, unless padding rows have to go

    def add_feed_forward(
        self,
        hidden_states: torch.Tensor,
        feed_forward: TokenFunction,
        hidden_width: int,
        drop_path: TokenFunction | None,
        checkpoint: Checkpoint = None,
    ) -> torch.Tensor:
        """`x + drop_path(feed_forward(x))` for tokens `x` of any shape `[..., C]`, where `feed_forward` widens each
        token to `hidden_width` features on the way. On the chunked strategy, tokens go through in chunks: updated in
        place at inference, and one recomputed chunk at a time under `checkpoint`."""
        training = drop_path is not None or torch.is_grad_enabled()
        if use_fused(self.strategy, hidden_states.device) or (training and checkpoint is None):
            return _add(hidden_states, _run(checkpoint, feed_forward, hidden_states), drop_path)
        flat = hidden_states.view(-1, hidden_states.shape[-1])
        chunks = chunk_bounds(0, flat.shape[0], max(1, self.chunk_bytes // (hidden_width * flat.element_size())))
        if training:  # one recomputed chunk at a time
            output = torch.cat([checkpoint(feed_forward, flat[start:stop]) for start, stop in chunks])
            return _add(hidden_states, output.view(hidden_states.shape), drop_path)
        for start, stop in chunks:  # inference: in place
            chunk = flat[start:stop]
            chunk += feed_forward(chunk)
        return hidden_states

    def map_slabs(self, function: VolumeFunction, volume: torch.Tensor, time_step: int = 1) -> torch.Tensor:
        """`function` over a `[B, T, ...]` volume, where it gives `[B, ceil(T / time_step), ...]` and treats clips
        and `time_step`-frame slices independently (the patch embedding: `time_step` frames per token; patch merging:
        1). One call, unless this is inference on the chunked strategy: then slab by slab (whole clips, or aligned
        slices of one clip, of about `chunk_bytes` of input each) into one preallocated output, so that the
        function's temporaries (a transposed copy, a concatenation, a norm) are a slab's, not the batch's."""
        if use_fused(self.strategy, volume.device) or torch.is_grad_enabled():
            return function(volume)
        batch, time = volume.shape[:2]
        steps = -(-time // time_step)
        step_bytes = volume[:1, :time_step].numel() * volume.element_size()
        steps_per_slab = max(1, self.chunk_bytes // step_bytes)
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

    def windows_per_chunk(self, window_volume: int, channels: int, heads: int, element_size: int, eager: bool) -> int:
        """How many windows of `window_volume` tokens fit `chunk_bytes`: their qkv, or their attention weights where
        those exist (eager attention; and when training, as SDPA on the CPU falls back to its math kernel for a mask
        with gradients)."""
        window_bytes = window_volume * 3 * channels * element_size
        if eager or torch.is_grad_enabled():
            window_bytes = max(window_bytes, heads * window_volume**2 * element_size)
        return max(1, self.chunk_bytes // window_bytes)
