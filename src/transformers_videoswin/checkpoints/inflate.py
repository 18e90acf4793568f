"""Initialise a video model from a 2D (ImageNet) Swin, exactly as the official `inflate_weights` does.

Sources: an official ImageNet `.pth` (`{'model': state_dict}`, keys `patch_embed.*`, `layers.*`, `norm.*`, `head.*`)
or a transformers `SwinModel` / `SwinForImageClassification` directory. Both are first brought to the official 2D
key layout, inflated into an official 3D backbone state dict, then renamed with the official-checkpoint mapping.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..model.modeling_videoswin import VideoSwinForVideoClassification, VideoSwinModel
from .checkpoint_io import ConversionError, load_checkpoint, resolve
from .official import config_from_official_state_dict, convert_official_state_dict
from .verify import DEFAULT_TOLERANCE, VerificationReport, compare_with_expected, load_exactly

# Keys of a 2D checkpoint that inflation does not use: recomputed buffers and the ImageNet classifier.
_DROPPED_2D = re.compile(r"(.*\.relative_position_index|.*\.attn_mask|head\.(weight|bias))")

# transformers SwinModel (in-memory names) -> official 2D Swin. q/k/v are fused into `attn.qkv` separately.
_HF_TO_OFFICIAL_2D = (
    (r"embeddings\.patch_embeddings\.projection\.(weight|bias)", r"patch_embed.proj.\1"),
    (r"embeddings\.norm\.(weight|bias)", r"patch_embed.norm.\1"),
    (r"encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_before\.(weight|bias)", r"layers.\1.blocks.\2.norm1.\3"),
    (
        r"encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.relative_position_bias\.relative_position_bias_table",
        r"layers.\1.blocks.\2.attn.relative_position_bias_table",
    ),
    (r"encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.o_proj\.(weight|bias)", r"layers.\1.blocks.\2.attn.proj.\3"),
    (r"encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_after\.(weight|bias)", r"layers.\1.blocks.\2.norm2.\3"),
    (r"encoder\.layers\.(\d+)\.blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)", r"layers.\1.blocks.\2.mlp.\3.\4"),
    (r"encoder\.layers\.(\d+)\.downsample\.(norm|reduction)\.(weight|bias)", r"layers.\1.downsample.\2.\3"),
    (r"layernorm\.(weight|bias)", r"norm.\1"),
)
_HF_QKV = re.compile(r"encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.([qkv])_proj\.(weight|bias)")


def hf_swin_to_official(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A transformers `SwinModel` state dict (as loaded in memory) in the official 2D Swin key layout."""
    official: dict[str, Tensor] = {}
    qkv: dict[tuple[str, str, str], dict[str, Tensor]] = {}
    unknown = []
    for key, tensor in state_dict.items():
        if key.endswith("relative_position_index"):
            continue
        if match := _HF_QKV.fullmatch(key):
            layer, block, part, kind = match.groups()
            qkv.setdefault((layer, block, kind), {})[part] = tensor
            continue
        for pattern, replacement in _HF_TO_OFFICIAL_2D:
            if re.fullmatch(pattern, key):
                official[re.sub(pattern, replacement, key)] = tensor
                break
        else:
            unknown.append(key)
    if unknown:
        raise ConversionError(
            f"The transformers Swin model has weights with no counterpart in the official Swin used for inflation "
            f"(absolute position embeddings or a masked-image-modelling head are not supported): {sorted(unknown)[:8]}"
        )
    for (layer, block, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise ConversionError(f"Block {layer}.{block} lacks some of q/k/v_proj.{kind}: has {sorted(parts)}.")
        official[f"layers.{layer}.blocks.{block}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return official


def load_image_swin_state_dict(source: str | os.PathLike, trust_checkpoint: bool = False) -> dict[str, Tensor]:
    """The official-layout 2D state dict of an ImageNet `.pth` (path or URL) or a transformers Swin directory."""
    if Path(source).is_dir():
        from transformers import AutoConfig, SwinForImageClassification, SwinModel

        if not (Path(source) / "config.json").is_file():
            raise ConversionError(
                f"{source} is a directory without config.json: give the 2D checkpoint file (.pth) inside it, or a "
                "directory saved by transformers' SwinModel / SwinForImageClassification.save_pretrained."
            )
        try:
            config = AutoConfig.from_pretrained(source)
            if config.model_type != "swin":
                raise ConversionError(f"{source} holds a {config.model_type!r} model; only Swin (v1) can be inflated.")
            if "SwinForImageClassification" in (config.architectures or []):
                model = SwinForImageClassification.from_pretrained(source).swin
            else:
                model = SwinModel.from_pretrained(source)
        except (OSError, ValueError) as error:
            if isinstance(error, ConversionError):
                raise
            raise ConversionError(
                f"{source} is not a loadable transformers Swin directory ({str(error).splitlines()[0]}). Give a "
                "directory written by save_pretrained, or the 2D checkpoint file (.pth)."
            ) from None
        return hf_swin_to_official(model.state_dict())
    checkpoint = load_checkpoint(resolve(source), trust_checkpoint)
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        return checkpoint["model"]
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        raise ConversionError(
            f"{source} is a video checkpoint (`state_dict` with `backbone.*` keys): it needs no inflation; convert it "
            "with `conversion/convert_official_checkpoint.py`."
        )
    if isinstance(checkpoint, dict) and "patch_embed.proj.weight" in checkpoint:
        return checkpoint
    raise ConversionError(
        f"{source} is not a 2D Swin checkpoint (expected {{'model': state_dict}} with patch_embed.*)."
    )


def resize_bias_table(table: Tensor, window_hw: tuple[int, int]) -> Tensor:
    """Bicubic-resize a 2D bias table [(2M-1)^2, heads] to a (2Wh-1) x (2Ww-1) window (align_corners=False)."""
    rows, heads = table.shape
    side = math.isqrt(rows)
    if side * side != rows:
        raise ConversionError(f"A 2D bias table must have a square number of rows, got {tuple(table.shape)}.")
    size = (2 * window_hw[0] - 1, 2 * window_hw[1] - 1)
    if (side, side) == size:
        return table
    image = table.permute(1, 0).reshape(1, heads, side, side)
    resized = F.interpolate(image, size=size, mode="bicubic", align_corners=False)
    return resized.reshape(heads, -1).permute(1, 0)


def inflate_state_dict(
    state_dict: Mapping[str, Tensor], window_size: tuple[int, int, int], temporal_patch: int
) -> dict[str, Tensor]:
    """Official 2D Swin state dict -> official 3D backbone state dict (`backbone.*`), as `inflate_weights` does.

    Drops index/mask buffers and the 2D classifier; the patch kernel is repeated over time and divided by the
    temporal patch size; every bias table is resized to the spatial window if needed, then tiled 2*Wd-1 times.
    """
    if "patch_embed.proj.weight" not in state_dict:
        raise ConversionError(
            "Not an official 2D Swin state dict (no patch_embed.proj.weight). Video checkpoints (`backbone.*` keys) "
            "need no inflation: use `conversion/convert_official_checkpoint.py`."
        )
    inflated: dict[str, Tensor] = {}
    for key, tensor in state_dict.items():
        if _DROPPED_2D.fullmatch(key):
            continue
        if key == "patch_embed.proj.weight":
            if tensor.dim() != 4:
                raise ConversionError(f"patch_embed.proj.weight has shape {tuple(tensor.shape)}: not a 2D Swin.")
            tensor = tensor.unsqueeze(2).repeat(1, 1, temporal_patch, 1, 1) / temporal_patch
        elif key.endswith("relative_position_bias_table"):
            tensor = resize_bias_table(tensor, window_size[1:]).repeat(2 * window_size[0] - 1, 1)
        inflated["backbone." + key] = tensor
    return inflated


def inflate_image_swin(
    image_checkpoint: str | os.PathLike | Mapping[str, Tensor], **kwargs: Any
) -> VideoSwinForVideoClassification | VideoSwinModel:
    """A video Swin initialised from a 2D Swin (official ImageNet `.pth`, transformers Swin directory or state dict):
    the model of :func:`inflate_and_verify` (same arguments: `window_size`, `patch_size`, `target`,
    `trust_checkpoint`, and `VideoSwinConfig` fields such as `num_labels`, `drop_path_rate`, `num_frames`)."""
    return inflate_and_verify(image_checkpoint, **kwargs)[0]


def inflate_and_verify(
    image_checkpoint: str | os.PathLike | Mapping[str, Tensor],
    *,
    window_size: tuple[int, int, int] = (8, 7, 7),
    patch_size: tuple[int, int, int] = (2, 4, 4),
    target: str = "classification",
    trust_checkpoint: bool = False,
    expected_output: str | os.PathLike | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    **config_kwargs: Any,
) -> tuple[VideoSwinForVideoClassification | VideoSwinModel, VerificationReport]:
    """A video Swin initialised from a 2D Swin, and the figures: tensors used and dropped, and (with
    `expected_output`, a golden file such as the fixtures' `golden_inflated.pt`) the max |diff| of the backbone
    features. `target` is "classification" (a freshly initialised head; pass `num_labels` or `id2label`) or "model";
    `config_kwargs` go to `VideoSwinConfig`. Raises ConversionError for unknown, missing or mis-shaped tensors."""
    if target not in ("classification", "model"):
        raise ValueError(f"target must be 'classification' or 'model', got {target!r}.")
    state_dict = (
        image_checkpoint
        if isinstance(image_checkpoint, Mapping)
        else load_image_swin_state_dict(image_checkpoint, trust_checkpoint)
    )
    window_size, patch_size = tuple(window_size), tuple(patch_size)
    patch = state_dict.get("patch_embed.proj.weight")
    if patch is not None and tuple(patch.shape[2:]) != patch_size[1:]:
        raise ConversionError(
            f"The 2D patch embedding is {tuple(patch.shape[2:])} but patch_size {patch_size} asks for "
            f"{patch_size[1:]} spatially; the spatial patch of an inflated model must match the 2D model."
        )
    inflated = inflate_state_dict(state_dict, window_size, patch_size[0])
    config = config_from_official_state_dict(inflated, window_size=window_size, patch_size=patch_size, **config_kwargs)
    converted = convert_official_state_dict(inflated, "model")
    model = VideoSwinModel(config) if target == "model" else VideoSwinForVideoClassification(config)
    load_exactly(getattr(model, "videoswin", model), converted, "the inflated 2D checkpoint")
    model.eval()
    report = VerificationReport(
        source_tensors=len(state_dict),
        dropped_tensors=len(state_dict) - len(converted),
        converted_tensors=len(converted),
        tolerance=tolerance,
    )
    if expected_output is not None:
        report.output_max_abs_diff = compare_with_expected(model, load_checkpoint(expected_output))
    return model, report
