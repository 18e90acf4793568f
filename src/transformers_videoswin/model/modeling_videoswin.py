"""PyTorch Video Swin Transformer (Liu et al., 2021, arXiv:2106.13230), exact to the official implementation.

The story, top to bottom: window geometry helpers, the 3D patch embedding, shifted-window attention with a relative
position bias, the Swin block, a stage (blocks + patch merging), the encoder, the pretrained base class, and the
heads (video classification and a multi-scale backbone for dense tasks).

Inside the network, activations are channels-last volumes `[batch, depth, height, width, channels]` where depth is
the (patchified) time axis.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.backbone_utils import BackboneMixin
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BackboneOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel
from transformers.utils import ModelOutput, auto_docstring, can_return_tuple, logging
from transformers.utils.output_capturing import (
    OutputRecorder,
    capture_outputs,
    resolve_hidden_states_indices,
    selected_hidden_states,
)

from .configuration_videoswin import VideoSwinConfig
from .window_engine import WindowEngine, broadcast_over_windows

Size3D = tuple[int, int, int]

logger = logging.get_logger(__name__)

# ---------------------------------------------------------------------------------------------------------------
# Window geometry
# ---------------------------------------------------------------------------------------------------------------


def effective_window_and_shift(input_size: Size3D, window_size: Size3D, shift_size: Size3D) -> tuple[Size3D, Size3D]:
    """Per axis: a feature map no larger than the window (`<=`, as in the official code) becomes the window, unshifted."""
    window = tuple(s if s <= w else w for s, w in zip(input_size, window_size))
    shift = tuple(0 if s <= w else sh for s, w, sh in zip(input_size, window_size, shift_size))
    return window, shift


def relative_position_index(window: Size3D, table_window: Size3D | None = None) -> torch.Tensor:
    """`[N, N]` index into a bias table of size `prod(2 * table_window - 1)` for the tokens of one `window` (d-major)."""
    table_window = window if table_window is None else table_window
    coords = torch.stack(torch.meshgrid(*(torch.arange(w) for w in window), indexing="ij")).flatten(1)  # [3, N]
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # [N, N, 3]
    relative = relative + torch.tensor([w - 1 for w in table_window])
    strides = torch.tensor([(2 * table_window[1] - 1) * (2 * table_window[2] - 1), 2 * table_window[2] - 1, 1])
    return (relative * strides).sum(-1)


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
        self.window_engine = WindowEngine(config.window_strategy)

    def embed_patches(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """`[B, T, C, H, W]` -> `[B, T', H', W', embed_dim]`: patches, then the patch norm."""
        embeddings = self.patch_embeddings(pixel_values.transpose(1, 2))
        return self.norm(embeddings.permute(0, 2, 3, 4, 1))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """`[B, T, C, H, W]` pixel values -> `[B, T', H', W', embed_dim]` token volume."""
        time_step = self.patch_embeddings.patch_size[0]
        return self.dropout(self.window_engine.map_slabs(self.embed_patches, pixel_values, time_step))


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
    """Plain softmax attention on `[batch, heads, N, head_dim]`; returns `[batch, N, heads, head_dim]` and the weights."""
    attn_weights = torch.matmul(query * scaling, key.transpose(2, 3))
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    if dropout > 0.0:  # dropout with p=0 would still keep a mask and a copy of the weights for backward
        attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
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


class VideoSwinWindowAttention(nn.Module):
    """Multi-head self-attention inside each 3D window, with a learned relative position bias.

    The bias (and, in shifted blocks, the shift mask) reaches the attention kernel as one additive mask, so that the
    same code runs through eager attention or `torch.nn.functional.scaled_dot_product_attention`.
    """

    def __init__(self, config: VideoSwinConfig, dim: int, num_heads: int):
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = False
        self.window_size = tuple(config.window_size)
        self.attention_dropout = config.attention_probs_dropout_prob

        table_size = math.prod(2 * w - 1 for w in self.window_size)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(table_size, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(self.window_size), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=config.qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_dropout = nn.Dropout(config.hidden_dropout_prob)

    @property
    def materializes_weights(self) -> bool:
        """Whether the `[windows, heads, N, N]` weights exist in memory (eager attention)."""
        return self.config._attn_implementation == "eager"

    def relative_position_bias(self, window: Size3D) -> torch.Tensor:
        """`[heads, N, N]` bias for an effective `window` of N tokens.

        Faithful mode (default) slices the top-left `[:N, :N]` of the configured window's index, as the official code
        and every released checkpoint do; the exact mode recomputes the index for the smaller window.
        """
        num_tokens = math.prod(window)
        if window == self.window_size or not self.config.use_exact_relative_position_index:
            index = self.relative_position_index[:num_tokens, :num_tokens]
        else:
            index = relative_position_index(window, self.window_size).to(self.relative_position_index.device)
        # Gathered along the rows of the transposed table, so that the bias comes out contiguous, as the attention
        # kernels want it (the faster of the gathers measured on CPU).
        table = self.relative_position_bias_table.t().contiguous()  # [heads, table_size]
        bias = torch.gather(table, 1, index.reshape(1, -1).expand(table.shape[0], -1))
        return bias.view(-1, num_tokens, num_tokens)

    def forward(
        self, windows: torch.Tensor, mask: torch.Tensor, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`[G, W, N, C]` normed windows (G groups of W) and their additive mask (bias, plus the shift mask), either
        `[1, heads, N, N]` shared by every window or `[W, heads, N, N]` one per window of a group -> attention output
        `[G, W, N, C]` and, under eager attention, the `[G * W, heads, N, N]` weights. With `output_attentions`, the
        weights returned are the very tensor the values are multiplied with (so that gradients reach them)."""
        groups, per_group, num_tokens, channels = windows.shape
        qkv = self.qkv(windows)
        if output_attentions and mask.shape[0] != 1:  # one mask per window of the whole batch, weights as computed
            mask = mask.expand(groups, -1, -1, -1, -1).reshape(-1, *mask.shape[1:])
        if mask.shape[0] == 1 or output_attentions:  # windows are the batch of the attention call
            qkv = qkv.view(groups * per_group, num_tokens, 3, self.num_heads, self.head_dim)
            query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [G * W, heads, N, head_dim], no copy
            mask = broadcast_over_windows(mask, query.shape[0])
        else:  # a mask per window, broadcast over the groups: windows x heads are the heads of the attention call
            qkv = qkv.view(groups, per_group, num_tokens, 3, self.num_heads, self.head_dim).permute(3, 0, 1, 4, 2, 5)
            query, key, value = qkv.reshape(3, groups, per_group * self.num_heads, num_tokens, -1).unbind(0)
            mask = mask.reshape(1, per_group * self.num_heads, num_tokens, num_tokens)  # [1, W * heads, N, N]
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, attn_weights = attention_interface(
            self,
            query,
            key,
            value,
            mask,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
        )
        if mask.shape[1] != self.num_heads:  # [G, N, W * heads, head_dim] -> [G, W, N, heads, head_dim]
            attn_output = attn_output.view(groups, num_tokens, per_group, self.num_heads, -1).transpose(1, 2)
        attn_output = attn_output.reshape(groups, per_group, num_tokens, channels)
        if attn_weights is not None and attn_weights.shape[0] != groups * per_group:
            attn_weights = attn_weights.view(groups * per_group, self.num_heads, num_tokens, num_tokens)
        return self.proj_dropout(self.proj(attn_output)), attn_weights


class VideoSwinMLP(nn.Module):
    """Two-layer MLP, `dim` -> `mlp_ratio * dim` -> `dim`."""

    def __init__(self, config: VideoSwinConfig, dim: int):
        super().__init__()
        self.hidden_dim = hidden_dim = int(dim * config.mlp_ratio)
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.act(self.fc1(hidden_states)))
        return self.dropout(self.fc2(hidden_states))


# ---------------------------------------------------------------------------------------------------------------
# Swin block and stage
# ---------------------------------------------------------------------------------------------------------------


class VideoSwinBlock(GradientCheckpointingLayer):
    """Pre-norm block: x + DropPath(W-MSA or SW-MSA(LN(x))), then x + DropPath(MLP(LN(x))).

    Both residual branches run through a `WindowEngine` (`window_engine.py`): fused windows on accelerators, chunks
    of windows and tokens on the CPU, same numbers. Under gradient checkpointing
    (`model.gradient_checkpointing_enable()`) backward recomputes the whole block; with
    `config.gradient_checkpointing_granularity="chunk"` it recomputes each branch (on the CPU: each chunk) instead.
    """

    chunk_checkpointing = False  # set instead of `gradient_checkpointing` for the "chunk" granularity

    def __init__(self, config: VideoSwinConfig, dim: int, num_heads: int, drop_path: float):
        super().__init__()
        self.drop_path = VideoSwinDropPath(drop_path)
        self.layernorm_before = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.attention = VideoSwinWindowAttention(config, dim, num_heads)
        self.layernorm_after = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.mlp = VideoSwinMLP(config, dim)
        self.window_engine = WindowEngine(config.window_strategy)

    def feed_forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`[..., C]` -> `[..., C]`: LayerNorm, then the MLP."""
        return self.mlp(self.layernorm_after(hidden_states))

    def forward(
        self, hidden_states: torch.Tensor, window: Size3D, shift: Size3D, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`[B, D, H, W, C]` -> `[B, D, H, W, C]`, and with `output_attentions` the `[B * num_windows, heads, N, N]`
        attention weights in the official window order (eager attention only). `shift` is zero in even blocks."""
        checkpoint = self._gradient_checkpointing_func if self.chunk_checkpointing and self.training else None
        drop_path = self.drop_path if self.training else None
        bias = self.attention.relative_position_bias(window).to(hidden_states.dtype)  # [heads, N, N]
        attention = functools.partial(self.attention, output_attentions=output_attentions)
        # x + DropPath(W-MSA(LN(x))), shifted (SW-MSA) in odd blocks
        hidden_states, attn_weights = self.window_engine.add_window_attention(
            hidden_states,
            self.layernorm_before,
            attention,
            bias,
            window,
            shift,
            drop_path,
            checkpoint,
            return_weights=output_attentions,
            eager=self.attention.materializes_weights,
        )
        # x + DropPath(MLP(LN(x)))
        hidden_states = self.window_engine.add_feed_forward(
            hidden_states, self.feed_forward, self.mlp.hidden_dim, drop_path, checkpoint
        )
        return hidden_states, attn_weights


class VideoSwinPatchMerging(nn.Module):
    """Spatial 2x2 downsampling: concatenate neighbours (official order), LayerNorm(4C), Linear(4C -> 2C, no bias)."""

    def __init__(self, config: VideoSwinConfig, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=config.layer_norm_eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.window_engine = WindowEngine(config.window_strategy)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`[B, D, H, W, C]` -> `[B, D, ceil(H/2), ceil(W/2), 2C]`."""
        return self.window_engine.map_slabs(self.merge, hidden_states)

    def merge(self, hidden_states: torch.Tensor) -> torch.Tensor:
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
    """`depth` blocks alternating regular and shifted windows, then (except in the last stage) patch merging."""

    def __init__(
        self, config: VideoSwinConfig, dim: int, depth: int, num_heads: int, drop_path: list[float], downsample: bool
    ):
        super().__init__()
        self.window_size = tuple(config.window_size)
        self.shift_size = tuple(w // 2 for w in self.window_size)
        self.blocks = nn.ModuleList(
            [VideoSwinBlock(config, dim, num_heads, drop_path[index]) for index in range(depth)]
        )
        self.downsample = VideoSwinPatchMerging(config, dim) if downsample else None

    def forward(
        self,
        hidden_states: torch.Tensor,
        input_dimensions: Size3D,
        output_attentions: bool = False,
        downsample: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, Size3D]:
        """`[B, D * H * W, C]` tokens of a `(D, H, W)` volume -> (`[B, D * H' * W', C']` after merging, the
        `[B, D * H * W, C]` stage output the merging reads, `(D, H', W')`). The stage output is what
        `hidden_states` returns, so that gradients reach it."""
        batch, _, channels = hidden_states.shape
        size = tuple(input_dimensions)
        window, shift = effective_window_and_shift(size, self.window_size, self.shift_size)
        volume = hidden_states.view(batch, *size, channels)
        for index, block in enumerate(self.blocks):
            block_shift = shift if index % 2 else (0, 0, 0)
            volume = block(volume, window, block_shift, output_attentions)[0]

        stage_output = volume.view(batch, -1, channels)
        if self.downsample is None or not downsample:
            return stage_output, stage_output, size
        merged = self.downsample(stage_output.view(batch, *size, channels))
        return merged.flatten(1, 3), stage_output, tuple(merged.shape[1:4])


class VideoSwinEncoder(nn.Module):
    def __init__(self, config: VideoSwinConfig):
        super().__init__()
        # Linearly increasing stochastic-depth rates, in plain Python so that the model builds on the meta device.
        total = sum(config.depths)
        rates = [config.drop_path_rate * index / max(total - 1, 1) for index in range(total)]
        self.layers = nn.ModuleList()
        for index, depth in enumerate(config.depths):
            start = sum(config.depths[:index])
            self.layers.append(
                VideoSwinStage(
                    config,
                    dim=config.embed_dim * 2**index,
                    depth=depth,
                    num_heads=config.num_heads[index],
                    drop_path=rates[start : start + depth],
                    downsample=index < config.num_stages - 1,
                )
            )

    def forward(
        self,
        hidden_states: torch.Tensor,
        output_attentions: bool = False,
        num_stages: int | None = None,
        keep_stage_outputs: bool = True,
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
                hidden_states, input_dimensions, output_attentions, index < len(stages) - 1
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
    _no_split_modules = ["VideoSwinBlock"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = True
    _can_compile_fullgraph = True  # tests/model: fullgraph compile for inference, training and recorded outputs
    accepts_loss_kwargs = False  # the loss is a per-batch mean: Trainer divides it by gradient accumulation
    # `hidden_states`: the embeddings (the first stage's input), then each stage's output before its patch merging;
    # `attentions`: one map per block. Forward hooks record the tensors the forward pass computes with.
    _can_record_outputs = {
        "hidden_states": OutputRecorder(VideoSwinStage, index=1, capture_initial_hidden_state=True),
        "attentions": OutputRecorder(VideoSwinBlock, index=1),
    }
    # Official checkpoints store the index as a buffer; ours is recomputed (non-persistent).
    _keys_to_ignore_on_load_unexpected = [r"relative_position_index"]

    def _output_flags(self, output_attentions: bool | None, output_hidden_states: bool | None) -> tuple[bool, bool]:
        """The per-call output flags, falling back to the config's. Attention maps need eager attention: under any
        other implementation they are not computed, and a warning says so (rather than an empty tuple in silence)."""
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        if output_attentions and self.config._attn_implementation != "eager":
            logger.warning_once(
                f"`output_attentions=True` returns no attention maps with attn_implementation="
                f"{self.config._attn_implementation!r}: the fused kernels never form them. Load the model with "
                '`attn_implementation="eager"` (or call `model.set_attn_implementation("eager")`) to get them.'
            )
        return output_attentions, output_hidden_states

    def _selected_hidden_states(self, output_hidden_states: bool | int | list[int], count: int) -> set[int]:
        """The hidden states `output_hidden_states` asks for: all of them, or the given (possibly negative) indices."""
        selected = selected_hidden_states(output_hidden_states)
        return set(range(count)) if selected is None else resolve_hidden_states_indices(self, selected, count)

    def _set_gradient_checkpointing(
        self, enable: bool = True, gradient_checkpointing_func: Callable = checkpoint, every_n_layers: int = 1
    ) -> None:
        """transformers' switch; with `config.gradient_checkpointing_granularity="chunk"` the chosen blocks recompute
        chunk by chunk instead of as a whole (their flag moves to `chunk_checkpointing`)."""
        super()._set_gradient_checkpointing(enable, gradient_checkpointing_func, every_n_layers)
        chunks = self.config.gradient_checkpointing_granularity == "chunk"
        for module in self.modules():
            if isinstance(module, VideoSwinBlock):
                module.chunk_checkpointing = chunks and module.gradient_checkpointing
                module.gradient_checkpointing = not chunks and module.gradient_checkpointing

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Truncated-normal linear layers and bias tables as in the official code; buffers are always recomputed."""
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.trunc_normal_(module.weight, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, VideoSwinWindowAttention):
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
        One `(batch_size * num_windows, num_heads, window_volume, window_volume)` tensor per block. Returned with
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

    def embed(self, pixel_values: torch.Tensor | None) -> torch.Tensor:
        """Validated `[B, T, C, H, W]` pixel values, cast to the model's dtype -> `[B, T', H', W', C]` tokens."""
        check_pixel_values(pixel_values, self.config.num_channels)
        return self.embeddings(pixel_values.to(self.embeddings.patch_embeddings.projection.weight.dtype))

    @capture_outputs(tie_last_hidden_states=False)
    @auto_docstring
    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        num_stages: int | None = None,
        **kwargs,
    ) -> VideoSwinModelOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised frames, as [`VideoSwinVideoProcessor`] returns them; any size (padded as the official code
            does).
        num_stages (`int`, *optional*):
            Run only the first `num_stages` stages (the backbone's shortcut); all by default.
        """
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        hidden_states, stage_outputs, sizes = self.encoder(
            self.embed(pixel_values), output_attentions, num_stages, keep_stage_outputs=bool(output_hidden_states)
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


@dataclass
class VideoSwinVideoClassifierOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `(1,)`, *optional*):
        Classification (or regression) loss, chosen by `config.problem_type`, when `labels` are given.
    logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
        Classification scores before softmax.
    hidden_states, attentions, reshaped_hidden_states:
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
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> VideoSwinVideoClassifierOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised frames, as [`VideoSwinVideoProcessor`] returns them.
        labels (`torch.LongTensor` of shape `(batch_size,)` or `(batch_size, num_labels)`, *optional*):
            Class indices (or targets of multi-label classification and regression); the loss follows
            `config.problem_type`.
        """
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        outputs = self.videoswin(
            pixel_values,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
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
        self,
        pixel_values: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> BackboneOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised frames, as [`VideoSwinVideoProcessor`] returns them.
        """
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        # Stages past the deepest requested one are not run (their parameters would be unused, e.g. under DDP),
        # unless the hidden states or attention maps of every stage are asked for.
        deepest = max(index % len(self.stage_names) for index in self.out_indices)
        outputs = self.videoswin(
            pixel_values,
            output_attentions=output_attentions,
            output_hidden_states=True,
            num_stages=None if output_attentions or output_hidden_states else deepest,
            return_dict=True,
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
