"""Execution strategies for (shifted) 3D window attention.

Two strategies compute the same numbers:

- **fused** (every device that is not the CPU, the meta device included, and any traced graph: `torch.compile`,
  `torch.export`): `shifted_window_attention` pads, shifts, partitions, attends over every window of the batch in
  one call, and reverses. The number of kernels a block launches does not depend on the batch or the clip size.
- **chunked** (the CPU): windows are gathered and attended in chunks whose temporaries stay in cache, with the
  residual updated in place at inference (`modeling_videoswin.VideoSwinBlock`): on a 2-core CPU large temporaries
  cost page faults on every call, and the launch count does not matter.

`use_fused` picks the strategy; `config.window_strategy` ("auto", "fused" or "chunked") overrides it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

Size3D = tuple[int, int, int]

# Value the official code writes into the shift mask between tokens of different regions (not -inf).
SHIFT_MASK_VALUE = -100.0
WINDOW_STRATEGIES = ("auto", "fused", "chunked")


def use_fused(strategy: str, device: torch.device) -> bool:
    """Whether the fused strategy runs: forced by `strategy`, else on every device but the CPU and when traced."""
    if strategy == "auto":
        return device.type != "cpu" or torch.compiler.is_compiling()
    return strategy == "fused"


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


def shift_region_labels(padded_size: Size3D, window: Size3D, shift: Size3D) -> torch.Tensor:
    """`[num_windows, N]` region label of each window token: the 3x3x3 regions a cyclic shift brings together."""
    labels = torch.zeros(padded_size)
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


def shift_window_mask(padded_size: Size3D, window: Size3D, shift: Size3D, device: torch.device) -> torch.Tensor:
    """`[num_windows, N, N]` additive mask (0 or -100) keeping attention inside the regions a cyclic shift brought together."""
    return region_mask(shift_region_labels(padded_size, window, shift).to(device))


@functools.lru_cache(maxsize=64)
def _cached_shift_window_mask(padded_size: Size3D, window: Size3D, shift: Size3D, device: torch.device):
    with torch.inference_mode(False):  # usable by a later training step even when first built for inference
        return shift_window_mask(padded_size, window, shift, device)


def cached_shift_window_mask(padded_size: Size3D, window: Size3D, shift: Size3D, device: torch.device):
    """`shift_window_mask`, built once per size, window, shift and device (computed inline when traced)."""
    if torch.compiler.is_compiling():
        return shift_window_mask(padded_size, window, shift, device)
    return _cached_shift_window_mask(padded_size, window, shift, device)


def shifted_window_attention(
    hidden_states: torch.Tensor,
    norm: Callable[[torch.Tensor], torch.Tensor],
    attention: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]],
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
    padded = tuple(math.ceil(s / w) * w for s, w in zip(size, window))
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
