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
"""PyTorch Video Swin Transformer (Liu et al., 2021, arXiv:2106.13230), exact to the official implementation.

Top to bottom: window geometry, the 3D patch embedding, shifted-window attention with a relative position bias, the
Swin layer, a stage (layers + patch merging), the encoder, the pretrained base class and the heads (video
classification and a multi-scale backbone). Inside the network, activations are channels-last volumes
`[batch, depth, height, width, channels]`, depth being the (patchified) time axis.

This file is the reference and the accelerator path. On the CPU, `cpu_windows.py` runs the same layers chunk by chunk
(same numbers, less memory traffic); it replaces their forward and is never imported from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.backbone_utils import BackboneMixin
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BackboneOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel
from transformers.processing_utils import Unpack
from transformers.pytorch_utils import compile_compatible_method_lru_cache
from transformers.utils import ModelOutput, TransformersKwargs, auto_docstring, can_return_tuple
from transformers.utils.output_capturing import (
    OutputRecorder,
    capture_outputs,
    resolve_hidden_states_indices,
    selected_hidden_states,
)

from .configuration_videoswin import VideoSwinConfig

Size3D = tuple[int, int, int]

# Value the official code writes into the shift mask between tokens of different regions (not -inf).
SHIFT_MASK_VALUE = -100.0


# ---------------------------------------------------------------------------------------------------------------
# Window geometry
# ---------------------------------------------------------------------------------------------------------------


def effective_window_and_shift(input_size: Size3D, window_size: Size3D, shift_size: Size3D) -> tuple[Size3D, Size3D]:
    """Per axis: a feature map no larger than the window (`<=`, as in the official code) becomes the window, unshifted."""
    window = tuple(s if s <= w else w for s, w in zip(input_size, window_size))
    shift = tuple(0 if s <= w else sh for s, w, sh in zip(input_size, window_size, shift_size))
    return window, shift


def padded_size(size: Size3D, window: Size3D) -> Size3D:
    """`size` rounded up to a multiple of `window` on every axis."""
    return tuple(math.ceil(s / w) * w for s, w in zip(size, window))


def relative_position_index(
    window: Size3D, table_window: Size3D | None = None, device: torch.device | None = None
) -> torch.Tensor:
    """`[N, N]` index into a bias table of size `prod(2 * table_window - 1)` for the tokens of one `window` (d-major)."""
    table_window = window if table_window is None else table_window
    coords = torch.stack(torch.meshgrid(*(torch.arange(w, device=device) for w in window), indexing="ij")).flatten(1)
    relative = coords[:, :, None] - coords[:, None, :]  # [3, N, N]
    strides = ((2 * table_window[1] - 1) * (2 * table_window[2] - 1), 2 * table_window[2] - 1, 1)
    return sum((relative[axis] + table_window[axis] - 1) * strides[axis] for axis in range(3))


def window_partition(hidden_states: torch.Tensor, window: Size3D) -> torch.Tensor:
    """`[B, D, H, W, C]` (sizes divisible by the window) -> `[B, num_windows, window_volume, C]`, windows in d, h, w order."""
    batch, depth, height, width, channels = hidden_states.shape
    wd, wh, ww = window
    hidden_states = hidden_states.view(batch, depth // wd, wd, height // wh, wh, width // ww, ww, channels)
    return hidden_states.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(batch, -1, wd * wh * ww, channels)


def window_reverse(windows: torch.Tensor, window: Size3D, padded: Size3D) -> torch.Tensor:
    """`[B, num_windows, window_volume, C]` -> `[B, D, H, W, C]` of the padded volume (the inverse of the partition)."""
    batch, channels = windows.shape[0], windows.shape[-1]
    (wd, wh, ww), (depth, height, width) = window, padded
    windows = windows.view(batch, depth // wd, height // wh, width // ww, wd, wh, ww, channels)
    return windows.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(batch, depth, height, width, channels)


def shift_region_labels(padded: Size3D, window: Size3D, shift: Size3D, device: torch.device) -> torch.Tensor:
    """`[num_windows, N]` region of each window token: a cyclic shift by `-shift` brings up to 3 regions per axis
    (`[0, -window)`, `[-window, -shift)`, `[-shift, end)` of the padded volume) into one window."""
    labels = [
        (torch.arange(p, device=device) >= p - w).long() + (torch.arange(p, device=device) >= p - s).long()
        if s
        else torch.zeros(p, dtype=torch.long, device=device)
        for p, w, s in zip(padded, window, shift)
    ]
    labels = labels[0][:, None, None] * 9 + labels[1][None, :, None] * 3 + labels[2][None, None, :]
    return window_partition(labels[None, ..., None], window)[0, ..., 0]


def region_mask(labels: torch.Tensor) -> torch.Tensor:
    """`[..., N]` region labels -> `[..., N, N]` additive mask: 0 between tokens of a region, -100 across regions."""
    different = labels[..., None, :] != labels[..., :, None]
    return torch.zeros(different.shape, device=labels.device).masked_fill(different, SHIFT_MASK_VALUE)


@compile_compatible_method_lru_cache(maxsize=64)
def shift_window_mask(padded: Size3D, window: Size3D, shift: Size3D, device: torch.device) -> torch.Tensor:
    """`[num_windows, N, N]` additive mask (0 inside a region, -100 across regions), built on `device` once per
    geometry (and inline, on the input's device, in a traced graph)."""
    with torch.inference_mode(False):  # usable by a later training step even when first built for inference
        return region_mask(shift_region_labels(padded, window, shift, device))


# ---------------------------------------------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------------------------------------------


class VideoSwinPatchEmbeddings(nn.Module):
    """Non-overlapping 3D patches: zero-pad to patch multiples, then a strided Conv3d."""

    def __init__(self, config: VideoSwinConfig):
        super().__init__()
        self.patch_size = tuple(config.patch_size)
        self.projection = nn.Conv3d(
            config.num_channels, config.embed_dim, kernel_size=self.patch_size, stride=self.patch_size
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """`[B, C, T, H, W]` -> `[B, embed_dim, ceil(T/pt), ceil(H/ph), ceil(W/pw)]`."""
        time, height, width = pixel_values.shape[2:]
        pt, ph, pw = self.patch_size
        pads = ((-width) % pw, (-height) % ph, (-time) % pt)
        if any(pads):
            pixel_values = F.pad(pixel_values, (0, pads[0], 0, pads[1], 0, pads[2]))
        return self.projection(pixel_values)


class VideoSwinEmbeddings(nn.Module):
    """Patch embedding followed by LayerNorm over channels ("patch norm", on in every released model) and dropout."""

    def __init__(self, config: VideoSwinConfig):
        super().__init__()
        self.patch_embeddings = VideoSwinPatchEmbeddings(config)
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """`[B, T, C, H, W]` pixel values -> `[B, T', H', W', embed_dim]` token volume."""
        embeddings = self.patch_embeddings(pixel_values.transpose(1, 2))
        return self.dropout(self.norm(embeddings.permute(0, 2, 3, 4, 1)))


# ---------------------------------------------------------------------------------------------------------------
# Shifted-window attention
# ---------------------------------------------------------------------------------------------------------------


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain softmax attention on `[batch, heads, N, head_dim]`; returns `[batch, N, heads, head_dim]` and the
    `[windows, module.num_heads, N, N]` weights (the heads of a call may be the windows x heads of a clip)."""
    attn_weights = torch.matmul(query * scaling, key.transpose(2, 3))
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    if dropout > 0.0:  # dropout with p=0 would still keep a mask and a copy of the weights for backward
        attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    # One map per window, and the values multiplied with that very tensor, so that gradients reach the returned maps
    attn_weights = attn_weights.view(-1, module.num_heads, *attn_weights.shape[-2:])
    attn_output = torch.matmul(attn_weights.view(*query.shape[:-1], -1), value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


class VideoSwinDropPath(nn.Module):
    """Stochastic depth per sample (Huang et al., 2016): in training, zero a sample's residual branch with probability
    `drop_prob` and scale the kept ones by `1 / (1 - drop_prob)`."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`[B, ...]` -> `[B, ...]`."""
        if self.drop_prob == 0.0 or not self.training:
            return hidden_states
        keep_prob = 1.0 - self.drop_prob
        shape = (hidden_states.shape[0],) + (1,) * (hidden_states.ndim - 1)
        mask = torch.empty(shape, dtype=hidden_states.dtype, device=hidden_states.device).bernoulli_(keep_prob)
        return hidden_states * mask.div_(keep_prob)

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


class VideoSwinAttention(nn.Module):
    """Multi-head self-attention inside each 3D window, with a learned relative position bias.

    The bias (and, in shifted layers, the shift mask) reaches the attention kernel as one additive mask, so that the
    same code runs through eager attention or `torch.nn.functional.scaled_dot_product_attention`.
    """

    def __init__(self, config: VideoSwinConfig, stage_idx: int):
        super().__init__()
        self.config = config
        dim = config.embed_dim * 2**stage_idx
        self.num_heads = config.num_heads[stage_idx]
        self.head_dim = dim // self.num_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = False
        self.window_size = tuple(config.window_size)
        self.attention_dropout = config.attention_probs_dropout_prob

        table_size = math.prod(2 * w - 1 for w in self.window_size)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(table_size, self.num_heads))
        self.relative_position_index = nn.Buffer(relative_position_index(self.window_size), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=config.qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_dropout = nn.Dropout(config.hidden_dropout_prob)

    def relative_position_bias(self, window: Size3D) -> torch.Tensor:
        """`[heads, N, N]` bias for an effective `window` of N tokens."""
        num_tokens = math.prod(window)
        # CODEPATH: released checkpoints (and the official code) slice the top-left `[:N, :N]` of the configured
        # window's index when a stage's window is smaller; `use_exact_relative_position_index` models recompute it.
        if window != self.window_size and self.config.use_exact_relative_position_index:
            index = relative_position_index(window, self.window_size, device=self.relative_position_index.device)
        else:
            index = self.relative_position_index[:num_tokens, :num_tokens]
        # Gathered along the rows of the transposed table, so that the bias comes out contiguous, as the attention
        # kernels want it (`gather` runs on every thread; `index_select` along the rows would run on one).
        table = self.relative_position_bias_table.t().contiguous()  # [heads, table_size]
        bias = torch.gather(table, 1, index.reshape(1, -1).expand(table.shape[0], -1))
        return bias.view(-1, num_tokens, num_tokens)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Unpack[TransformersKwargs]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`[B, W, N, C]` windows (W per clip) and their additive mask -> `[B, W, N, C]` and, under eager attention,
        the `[B * W, heads, N, N]` weights. The mask is `[1, heads, N, N]`, shared by every window, or `[W, heads, N, N]`,
        one per window of a clip (the shifted layers)."""
        batch, num_windows, num_tokens, channels = hidden_states.shape
        qkv = self.qkv(hidden_states).view(batch, num_windows, num_tokens, 3, self.num_heads, self.head_dim)
        qkv = qkv.permute(3, 0, 1, 4, 2, 5)  # [3, B, W, heads, N, head_dim]
        if attention_mask.shape[0] == 1:  # one mask for all: the windows are the batch of the attention call
            query, key, value = qkv.flatten(1, 2).unbind(0)  # each [B * W, heads, N, head_dim], no copy
            if torch.compiler.is_compiling():  # a traced graph needs no guard on the window count
                attention_mask = attention_mask.expand(query.shape[0], -1, -1, -1)
        else:  # a mask per window: a clip's windows x heads are the heads of the call, the mask broadcasts over clips
            query, key, value = qkv.reshape(3, batch, num_windows * self.num_heads, num_tokens, -1).unbind(0)
            attention_mask = attention_mask.reshape(1, num_windows * self.num_heads, num_tokens, num_tokens)

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, attn_weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        if attention_mask.shape[1] == self.num_heads:  # [B * W, N, heads, head_dim]
            attn_output = attn_output.view(batch, num_windows, num_tokens, self.num_heads, self.head_dim)
        else:  # [B, N, W * heads, head_dim]
            attn_output = attn_output.view(batch, num_tokens, num_windows, self.num_heads, self.head_dim)
            attn_output = attn_output.transpose(1, 2)
        attn_output = self.proj_dropout(self.proj(attn_output.reshape(batch, num_windows, num_tokens, channels)))
        return attn_output, attn_weights


def shifted_window_attention(
    hidden_states: torch.Tensor,
    attention: VideoSwinAttention,
    window: Size3D,
    shift: Size3D,
    **kwargs: Unpack[TransformersKwargs],
) -> torch.Tensor:
    """W-MSA (`shift` all zero) or SW-MSA over a normed `[B, D, H, W, C]` volume, every window in one attention call."""
    size = tuple(hidden_states.shape[1:4])
    padded = padded_size(size, window)
    # 1. pad with zeros up to window multiples (after the norm, as in the official code): [B, D', H', W', C]
    if padded != size:
        pads = (0, 0, 0, padded[2] - size[2], 0, padded[1] - size[1], 0, padded[0] - size[0])
        hidden_states = F.pad(hidden_states, pads)
    # 2. shift: cyclic roll by -shift
    if any(shift):
        hidden_states = torch.roll(hidden_states, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
    # 3. partition: [B, num_windows, N, C]
    windows = window_partition(hidden_states, window)
    # 4. attention, masked by the [1, heads, N, N] bias plus, when shifted, the [num_windows, 1, N, N] shift mask
    mask = attention.relative_position_bias(window).to(hidden_states.dtype).unsqueeze(0)
    if any(shift):
        mask = mask + shift_window_mask(padded, window, shift, hidden_states.device).to(mask.dtype).unsqueeze(1)
    attn_output = attention(windows, mask, **kwargs)[0]
    # 5. reverse: un-partition, roll back by +shift, crop the padding: [B, D, H, W, C]
    attn_output = window_reverse(attn_output, window, padded)
    if any(shift):
        attn_output = torch.roll(attn_output, shifts=shift, dims=(1, 2, 3))
    return attn_output[:, : size[0], : size[1], : size[2]]


class VideoSwinMLP(nn.Module):
    """Two-layer MLP, `dim` -> `mlp_ratio * dim` -> `dim`."""

    def __init__(self, config: VideoSwinConfig, stage_idx: int):
        super().__init__()
        dim = config.embed_dim * 2**stage_idx
        self.fc1 = nn.Linear(dim, int(dim * config.mlp_ratio))
        self.act = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(int(dim * config.mlp_ratio), dim)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.act(self.fc1(hidden_states)))
        return self.dropout(self.fc2(hidden_states))


# ---------------------------------------------------------------------------------------------------------------
# Swin layer and stage
# ---------------------------------------------------------------------------------------------------------------


def drop_path_rates(config: VideoSwinConfig) -> list[float]:
    """Stochastic-depth rate of every layer of the network: linear from 0 to `drop_path_rate` (plain Python, so that
    the model builds on the meta device)."""
    total = sum(config.depths)
    return [config.drop_path_rate * index / max(total - 1, 1) for index in range(total)]


class VideoSwinLayer(GradientCheckpointingLayer):
    """Pre-norm Swin layer: x + DropPath(W-MSA or SW-MSA(LN(x))), then x + DropPath(MLP(LN(x)))."""

    def __init__(self, config: VideoSwinConfig, stage_idx: int, layer_idx: int):
        super().__init__()
        dim = config.embed_dim * 2**stage_idx
        self.drop_path = VideoSwinDropPath(drop_path_rates(config)[sum(config.depths[:stage_idx]) + layer_idx])
        self.layernorm_before = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.attention = VideoSwinAttention(config, stage_idx)
        self.layernorm_after = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.mlp = VideoSwinMLP(config, stage_idx)

    def forward(
        self, hidden_states: torch.Tensor, window: Size3D, shift: Size3D, **kwargs: Unpack[TransformersKwargs]
    ) -> torch.Tensor:
        """`[B, D, H, W, C]` -> `[B, D, H, W, C]`; `shift` is all zero in even layers."""
        shortcut = hidden_states
        hidden_states = self.layernorm_before(hidden_states)
        hidden_states = shifted_window_attention(hidden_states, self.attention, window, shift, **kwargs)
        hidden_states = shortcut + self.drop_path(hidden_states)

        shortcut = hidden_states
        hidden_states = self.mlp(self.layernorm_after(hidden_states))
        hidden_states = shortcut + self.drop_path(hidden_states)
        return hidden_states


class VideoSwinPatchMerging(nn.Module):
    """Spatial 2x2 downsampling: concatenate neighbours (official order), LayerNorm(4C), Linear(4C -> 2C, no bias)."""

    def __init__(self, config: VideoSwinConfig, stage_idx: int):
        super().__init__()
        dim = config.embed_dim * 2**stage_idx
        self.norm = nn.LayerNorm(4 * dim, eps=config.layer_norm_eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`[B, D, H, W, C]` -> `[B, D, ceil(H/2), ceil(W/2), 2C]`: each 2x2 neighbourhood, normed and reduced."""
        height, width = hidden_states.shape[2:4]
        if height % 2 or width % 2:
            hidden_states = F.pad(hidden_states, (0, 0, 0, width % 2, 0, height % 2))
        hidden_states = torch.cat(
            [
                hidden_states[:, :, 0::2, 0::2],
                hidden_states[:, :, 1::2, 0::2],
                hidden_states[:, :, 0::2, 1::2],
                hidden_states[:, :, 1::2, 1::2],
            ],
            dim=-1,
        )
        return self.reduction(self.norm(hidden_states))


class VideoSwinStage(nn.Module):
    """Layers alternating regular and shifted windows, then (except in the last stage) patch merging."""

    def __init__(self, config: VideoSwinConfig, stage_idx: int):
        super().__init__()
        self.window_size = tuple(config.window_size)
        self.shift_size = tuple(w // 2 for w in self.window_size)
        self.blocks = nn.ModuleList(
            [VideoSwinLayer(config, stage_idx, layer_idx) for layer_idx in range(config.depths[stage_idx])]
        )
        has_merging = stage_idx < len(config.depths) - 1
        self.downsample = VideoSwinPatchMerging(config, stage_idx) if has_merging else None

    def forward(
        self,
        hidden_states: torch.Tensor,
        input_dimensions: Size3D,
        downsample: bool = True,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, torch.Tensor, Size3D]:
        """`[B, D * H * W, C]` tokens of a `(D, H, W)` volume -> (`[B, D * H' * W', C']` after merging, the
        `[B, D * H * W, C]` stage output the merging reads, `(D, H', W')`). The stage output is what `hidden_states`
        records, so that gradients reach it."""
        batch, _, channels = hidden_states.shape
        size = tuple(input_dimensions)
        window, shift = effective_window_and_shift(size, self.window_size, self.shift_size)
        volume = hidden_states.view(batch, *size, channels)
        for index, layer in enumerate(self.blocks):
            volume = layer(volume, window, shift if index % 2 else (0, 0, 0), **kwargs)

        stage_output = volume.view(batch, -1, channels)
        if self.downsample is None or not downsample:
            return stage_output, stage_output, size
        merged = self.downsample(stage_output.view(batch, *size, channels))
        return merged.flatten(1, 3), stage_output, tuple(merged.shape[1:4])


class VideoSwinEncoder(nn.Module):
    def __init__(self, config: VideoSwinConfig):
        super().__init__()
        self.layers = nn.ModuleList([VideoSwinStage(config, stage_idx) for stage_idx in range(len(config.depths))])

    def forward(
        self,
        hidden_states: torch.Tensor,
        num_stages: int | None = None,
        keep_stage_outputs: bool = True,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...], tuple[Size3D, ...]]:
        """Runs the first `num_stages` stages (all by default) on `[B, D, H, W, C]` embeddings. Returns the last
        stage's `[B, D' * H' * W', C']` output, every stage's input-side tokens (the embeddings, then each stage's
        output before its patch merging; None unless `keep_stage_outputs`, so that each is freed once the next stage
        has read it) and their `(D, H, W)` sizes."""
        stages = self.layers[:num_stages]
        input_dimensions = tuple(hidden_states.shape[1:4])
        hidden_states = hidden_states.flatten(1, 3)
        stage_outputs, sizes = (hidden_states if keep_stage_outputs else None,), (input_dimensions,)
        for index, stage in enumerate(stages):
            size = input_dimensions
            hidden_states, stage_output, input_dimensions = stage(
                hidden_states, input_dimensions, downsample=index < len(stages) - 1, **kwargs
            )
            stage_outputs += (stage_output if keep_stage_outputs else None,)
            sizes += (size,)
            del stage_output  # not kept: freed now, not during the next stage
        return hidden_states, stage_outputs, sizes


# ---------------------------------------------------------------------------------------------------------------
# Pretrained base
# ---------------------------------------------------------------------------------------------------------------


@auto_docstring
class VideoSwinPreTrainedModel(PreTrainedModel):
    config_class = VideoSwinConfig
    config: VideoSwinConfig
    base_model_prefix = "videoswin"
    main_input_name = "pixel_values"
    input_modalities = ("video",)
    supports_gradient_checkpointing = True
    _no_split_modules = ["VideoSwinLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = True
    _can_compile_fullgraph = True  # tests/model: fullgraph compile for inference, training and recorded outputs
    accepts_loss_kwargs = False  # the loss is a per-batch mean: Trainer divides it by gradient accumulation
    # `hidden_states`: the embeddings (the first stage's input), then each stage's output before its patch merging;
    # `attentions`: one map per layer. Forward hooks record the tensors the forward pass computes with.
    _can_record_outputs = {
        "hidden_states": OutputRecorder(VideoSwinStage, index=1, capture_initial_hidden_state=True),
        "attentions": OutputRecorder(VideoSwinAttention, index=1),
    }
    # Official checkpoints store the index as a buffer; ours is recomputed (non-persistent).
    _keys_to_ignore_on_load_unexpected = [r"relative_position_index"]

    def _selected_hidden_states(self, output_hidden_states: bool | int | list[int], count: int) -> set[int]:
        """The hidden states `output_hidden_states` asks for: all of them, or the given (possibly negative) indices."""
        selected = selected_hidden_states(output_hidden_states)
        return set(range(count)) if selected is None else resolve_hidden_states_indices(self, selected, count)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Truncated-normal linear layers and bias tables as in the official code; buffers are always recomputed."""
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.trunc_normal_(module.weight, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, VideoSwinAttention):
            init.trunc_normal_(module.relative_position_bias_table, std=std)
            init.copy_(module.relative_position_index, relative_position_index(module.window_size))
        else:
            super()._init_weights(module)


def check_pixel_values(pixel_values: torch.Tensor | None, num_channels: int) -> None:
    """Raise a ValueError that says what was expected unless `pixel_values` is a non-empty floating-point
    `[B, T, C, H, W]` tensor."""
    if pixel_values is None:
        raise ValueError("You have to specify `pixel_values` of shape [batch, frames, channels, height, width].")
    shape = tuple(pixel_values.shape)
    if pixel_values.ndim != 5:
        raise ValueError(
            f"`pixel_values` must be a 5D tensor [batch, frames, channels, height, width]; got shape {shape}. "
            "For a single clip, add the batch axis with `pixel_values[None]`."
        )
    if shape[2] != num_channels:
        hint = ""
        if shape[1] == num_channels:
            hint = (
                " It looks like [batch, channels, frames, height, width] (the official mmaction layout): "
                "use `pixel_values.permute(0, 2, 1, 3, 4)`."
            )
        raise ValueError(
            f"`pixel_values` must be [batch, frames, channels, height, width] with channels={num_channels}; "
            f"got shape {shape}.{hint}"
        )
    if not pixel_values.is_floating_point():
        # uint8 frames cast as they are would be 0-255 where the model expects normalised values: a silent wrong answer
        raise ValueError(
            f"`pixel_values` must be a floating-point tensor of normalised frames, got dtype {pixel_values.dtype}. "
            "Raw frames (uint8, 0-255) go through the processor first: "
            "`VideoSwinVideoProcessor()(frames, return_tensors='pt').pixel_values`."
        )
    if not torch.compiler.is_compiling() and 0 in shape:
        empty = [name for name, size in zip(("batch", "frames", "channels", "height", "width"), shape) if size == 0]
        raise ValueError(
            f"`pixel_values` has an empty {' and '.join(empty)} axis (shape {shape}): every clip needs at least one "
            "frame of at least one pixel, and a batch at least one clip."
        )


def to_channels_first(hidden_states: torch.Tensor) -> torch.Tensor:
    """`[B, D, H, W, C]` -> `[B, C, D, H, W]` (the layout of feature maps and of the official backbone output)."""
    return hidden_states.permute(0, 4, 1, 2, 3).contiguous()


# ---------------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------------


@auto_docstring(custom_intro="The output of [`VideoSwinModel`].")
@dataclass
class VideoSwinModelOutput(ModelOutput):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_tokens, hidden_size)`):
        Tokens after the final LayerNorm, flattened in (time, height, width) order.
    pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
        Mean of `last_hidden_state` over all tokens.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*):
        The patch embeddings and the output of each stage (before its patch merging), `(batch_size, num_tokens_i,
        channels_i)`. Returned with `output_hidden_states=True`.
    attentions (`tuple(torch.FloatTensor)`, *optional*):
        One `(batch_size * num_windows, num_heads, window_volume, window_volume)` tensor per layer. Returned with
        `output_attentions=True` under eager attention.
    reshaped_hidden_states (`tuple(torch.FloatTensor)`, *optional*):
        The same as `hidden_states` with the time axis kept: `(batch_size, channels_i, time_i, height_i, width_i)`.
    """

    last_hidden_state: torch.FloatTensor | None = None
    pooler_output: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    reshaped_hidden_states: tuple[torch.FloatTensor, ...] | None = None


@auto_docstring(
    custom_intro="The bare Video Swin encoder: patch embedding, four stages, final LayerNorm and mean pooling."
)
class VideoSwinModel(VideoSwinPreTrainedModel):
    def __init__(self, config: VideoSwinConfig, add_pooling_layer: bool = True, add_final_layernorm: bool = True):
        r"""
        add_pooling_layer (`bool`, *optional*, defaults to `True`):
            Whether to return the mean of the final tokens as `pooler_output`.
        add_final_layernorm (`bool`, *optional*, defaults to `True`):
            Whether to apply the final LayerNorm (the backbone drops it when the last stage is not returned).
        """
        super().__init__(config)
        self.embeddings = VideoSwinEmbeddings(config)
        self.encoder = VideoSwinEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if add_final_layernorm else None
        self.add_pooling_layer = add_pooling_layer
        self.post_init()

    def get_input_embeddings(self) -> VideoSwinPatchEmbeddings:
        return self.embeddings.patch_embeddings

    @capture_outputs(tie_last_hidden_states=False)
    @auto_docstring
    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        num_stages: int | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> VideoSwinModelOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised frames, as [`VideoSwinVideoProcessor`] returns them; any size (padded as the official code
            does).
        num_stages (`int`, *optional*):
            Run only the first `num_stages` stages (the backbone's shortcut); all by default.
        """
        check_pixel_values(pixel_values, self.config.num_channels)
        embeddings = self.embeddings(pixel_values.to(self.embeddings.patch_embeddings.projection.weight.dtype))
        output_hidden_states = kwargs.get("output_hidden_states", self.config.output_hidden_states)
        hidden_states, stage_outputs, sizes = self.encoder(
            embeddings, num_stages, keep_stage_outputs=bool(output_hidden_states), **kwargs
        )
        if self.layernorm is not None and len(stage_outputs) == len(self.encoder.layers) + 1:
            hidden_states = self.layernorm(hidden_states)
        reshaped_hidden_states = None
        if output_hidden_states:
            selected = self._selected_hidden_states(output_hidden_states, len(stage_outputs))
            reshaped_hidden_states = tuple(
                to_channels_first(stage.view(stage.shape[0], *size, stage.shape[-1])) if index in selected else None
                for index, (stage, size) in enumerate(zip(stage_outputs, sizes))
            )
        return VideoSwinModelOutput(
            last_hidden_state=hidden_states,
            pooler_output=hidden_states.mean(dim=1) if self.add_pooling_layer else None,
            reshaped_hidden_states=reshaped_hidden_states,
        )


@auto_docstring(custom_intro="The output of [`VideoSwinForVideoClassification`].")
@dataclass
class VideoSwinVideoClassifierOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `(1,)`, *optional*):
        Classification (or regression) loss, chosen by `config.problem_type`, when `labels` are given.
    logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
        Classification scores before softmax.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*):
        As in [`VideoSwinModelOutput`].
    attentions (`tuple(torch.FloatTensor)`, *optional*):
        As in [`VideoSwinModelOutput`].
    reshaped_hidden_states (`tuple(torch.FloatTensor)`, *optional*):
        As in [`VideoSwinModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    reshaped_hidden_states: tuple[torch.FloatTensor, ...] | None = None


@auto_docstring(custom_intro="Video Swin with the official I3D-style head: mean over all tokens -> dropout -> Linear.")
class VideoSwinForVideoClassification(VideoSwinPreTrainedModel):
    def __init__(self, config: VideoSwinConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.videoswin = VideoSwinModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    @can_return_tuple
    @auto_docstring
    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> VideoSwinVideoClassifierOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised frames, as [`VideoSwinVideoProcessor`] returns them.
        labels (`torch.LongTensor` of shape `(batch_size,)` or `(batch_size, num_labels)`, *optional*):
            Class indices (or targets of multi-label classification and regression); the loss follows
            `config.problem_type`.
        """
        outputs = self.videoswin(pixel_values, return_dict=True, **kwargs)
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = None
        if labels is not None:
            loss = self.loss_function(labels, logits, self.config)
        return VideoSwinVideoClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            reshaped_hidden_states=outputs.reshaped_hidden_states,
        )


@auto_docstring(
    custom_intro="""
    Multi-scale feature maps `[B, C_i, T', H_i, W_i]` for dense video tasks (detection, segmentation, localisation).
    Each returned stage gets a LayerNorm; the last stage's is the model's final LayerNorm, so a classification
    checkpoint loads with the official backbone output intact.
    """
)
class VideoSwinBackbone(BackboneMixin, VideoSwinPreTrainedModel):
    _keys_to_ignore_on_load_unexpected = [r"relative_position_index", r"^classifier\."]

    def __init__(self, config: VideoSwinConfig):
        super().__init__(config)
        self.num_features = [config.embed_dim] + [config.embed_dim * 2**i for i in range(config.num_stages)]
        last_stage = self.stage_names[-1]
        self.videoswin = VideoSwinModel(
            config, add_pooling_layer=False, add_final_layernorm=last_stage in self.out_features
        )
        self.hidden_states_norms = nn.ModuleDict(
            {
                stage: nn.LayerNorm(channels, eps=config.layer_norm_eps)
                for stage, channels in zip(self.out_features, self.channels)
                if stage != last_stage
            }
        )
        self.post_init()

    def _stage_norm(self, stage: str) -> nn.LayerNorm:
        return self.videoswin.layernorm if stage == self.stage_names[-1] else self.hidden_states_norms[stage]

    @can_return_tuple
    @auto_docstring
    def forward(
        self, pixel_values: torch.Tensor | None = None, **kwargs: Unpack[TransformersKwargs]
    ) -> BackboneOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised frames, as [`VideoSwinVideoProcessor`] returns them.
        """
        output_hidden_states = kwargs.pop("output_hidden_states", self.config.output_hidden_states)
        output_attentions = kwargs.get("output_attentions", self.config.output_attentions)
        # Stages past the deepest requested one are not run (their parameters would be unused, e.g. under DDP),
        # unless the hidden states or attention maps of every stage are asked for.
        deepest = max(index % len(self.stage_names) for index in self.out_indices)
        outputs = self.videoswin(
            pixel_values,
            output_hidden_states=True,
            num_stages=None if output_attentions or output_hidden_states else deepest,
            return_dict=True,
            **kwargs,
        )
        feature_maps = tuple(
            self._stage_norm(stage)(hidden_state.movedim(1, -1)).movedim(-1, 1).contiguous()
            for stage, hidden_state in zip(self.stage_names, outputs.reshaped_hidden_states)
            if stage in self.out_features
        )
        hidden_states = None
        if output_hidden_states:
            selected = self._selected_hidden_states(output_hidden_states, len(outputs.reshaped_hidden_states))
            hidden_states = tuple(h if i in selected else None for i, h in enumerate(outputs.reshaped_hidden_states))
        return BackboneOutput(feature_maps=feature_maps, hidden_states=hidden_states, attentions=outputs.attentions)


__all__ = [
    "VideoSwinBackbone",
    "VideoSwinForVideoClassification",
    "VideoSwinModel",
    "VideoSwinPreTrainedModel",
]
