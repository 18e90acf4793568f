"""The unoptimised Video Swin forward pass, written as the official code does it (LayerNorm, pad, roll, partition,
attention with a `[windows, heads, N, N]` bias + shift mask, reverse, roll back, crop), reusing a model's weights.

The optimised model (cached gathers, grouped masks, chunks, in-place inference path) must match it to 1e-5.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from transformers_videoswin import VideoSwinModel
from transformers_videoswin.model import cpu_windows
from transformers_videoswin.model.modeling_videoswin import (
    VideoSwinLayer,
    effective_window_and_shift,
    shift_window_mask,
    window_partition,
)


def window_reverse(windows: torch.Tensor, window: tuple[int, int, int], batch: int, size) -> torch.Tensor:
    """`[B * num_windows, N, C]` -> `[B, D, H, W, C]` (the inverse of `window_partition`)."""
    (depth, height, width), (wd, wh, ww) = size, window
    x = windows.view(batch, depth // wd, height // wh, width // ww, wd, wh, ww, -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(batch, depth, height, width, -1)


def reference_block(block: VideoSwinLayer, x: torch.Tensor, window_size, shift_size) -> torch.Tensor:
    batch, *size, channels = x.shape
    window, shift = effective_window_and_shift(tuple(size), window_size, shift_size)
    attention = block.attention
    shortcut = x
    x = block.layernorm_before(x)
    pads = [(-s) % w for s, w in zip(size, window)]
    x = F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
    padded = tuple(x.shape[1:4])
    if any(shift):
        x = torch.roll(x, shifts=[-s for s in shift], dims=(1, 2, 3))
    num_tokens = math.prod(window)
    windows = window_partition(x, window).reshape(-1, num_tokens, channels)  # [B * nW, N, C]
    heads, head_dim = attention.num_heads, attention.head_dim
    qkv = attention.qkv(windows).reshape(-1, num_tokens, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0] * head_dim**-0.5, qkv[1], qkv[2]
    scores = q @ k.transpose(-2, -1)  # [B * nW, heads, N, N]
    index = attention.relative_position_index[:num_tokens, :num_tokens].reshape(-1)
    bias = attention.relative_position_bias_table[index].reshape(num_tokens, num_tokens, -1).permute(2, 0, 1)
    scores = scores + bias[None]
    if any(shift):
        mask = shift_window_mask(padded, window, shift, x.device)  # [nW, N, N]
        scores = (scores.view(batch, -1, heads, num_tokens, num_tokens) + mask[None, :, None]).flatten(0, 1)
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(-1, num_tokens, channels)
    x = window_reverse(attention.proj(out), window, batch, padded)
    if any(shift):
        x = torch.roll(x, shifts=list(shift), dims=(1, 2, 3))
    x = shortcut + x[:, : size[0], : size[1], : size[2]]
    return x + block.mlp(block.layernorm_after(x))


def reference_forward(model: VideoSwinModel, pixel_values: torch.Tensor) -> torch.Tensor:
    """`[B, T, C, H, W]` -> `[B, tokens, hidden_size]` last hidden state after the final LayerNorm."""
    with cpu_windows.reference_forward():
        x = model.embeddings(pixel_values)
    for stage in model.encoder.layers:
        for index, block in enumerate(stage.blocks):
            shift = stage.shift_size if index % 2 else (0, 0, 0)
            x = reference_block(block, x, stage.window_size, shift)
        if stage.downsample is not None:
            with cpu_windows.reference_forward():
                x = stage.downsample(x)
    return model.layernorm(x).flatten(1, 3)
