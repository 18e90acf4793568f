"""torchvision `swin3d_t/s/b` (`torchvision.models.video.SwinTransformer3d`) <-> ours, in both directions.

torchvision's layout: `patch_embed.*`; `features.{2i}.{j}.*` the blocks of stage i (`mlp.0`/`mlp.3` are fc1/fc2);
`features.{2i+1}.*` the patch merging after stage i; `norm.*`; `head.*`. It is mapped onto the official layout, so
the official mapping (and its checks) does the rest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..model.modeling_videoswin import VideoSwinForVideoClassification
from .checkpoint_io import ConversionError, load_checkpoint, official_state_dict, rename_keys, resolve
from .labels import labels_for_head
from .official import (
    config_from_official_state_dict,
    convert_official_state_dict,
    relative_position_index,
    to_official_state_dict,
)
from .verify import DEFAULT_TOLERANCE, VerificationReport, load_and_verify, max_abs_diff

_MLP = {"0": "fc1", "3": "fc2"}
_MLP_BACK = {v: k for k, v in _MLP.items()}


def _rename(key: str, rules: list[tuple[str, Any]]) -> str | None:
    for pattern, replacement in rules:
        if match := re.fullmatch(pattern, key):
            return replacement(match) if callable(replacement) else match.expand(replacement)
    return None


def _block_to_official(m: re.Match) -> str:
    stage, block, rest = int(m.group(1)), m.group(2), m.group(3)
    if stage % 2:
        raise ConversionError(f"features.{stage} is a patch-merging layer, it has no blocks.")
    rest = re.sub(r"^mlp\.(\d)\.", lambda mm: f"mlp.{_MLP.get(mm.group(1), mm.group(1))}.", rest)
    return f"backbone.layers.{stage // 2}.blocks.{block}.{rest}"


def _merge_to_official(m: re.Match) -> str:
    stage = int(m.group(1))
    if stage % 2 == 0:
        raise ConversionError(f"features.{stage} is a stage of blocks, not a patch-merging layer.")
    return f"backbone.layers.{stage // 2}.downsample.{m.group(2)}.{m.group(3)}"


_TO_OFFICIAL: list[tuple[str, Any]] = [
    (r"patch_embed\.(.+)", r"backbone.patch_embed.\1"),
    (r"features\.(\d+)\.(reduction|norm)\.(weight|bias)", _merge_to_official),
    (r"features\.(\d+)\.(\d+)\.(.+)", _block_to_official),
    (r"norm\.(weight|bias)", r"backbone.norm.\1"),
    (r"head\.(weight|bias)", r"cls_head.fc_cls.\1"),
]


_FROM_OFFICIAL: list[tuple[str, Any]] = [
    (r"backbone\.patch_embed\.(.+)", r"patch_embed.\1"),
    (
        r"backbone\.layers\.(\d+)\.blocks\.(\d+)\.mlp\.(fc1|fc2)\.(.+)",
        lambda m: f"features.{2 * int(m.group(1))}.{m.group(2)}.mlp.{_MLP_BACK[m.group(3)]}.{m.group(4)}",
    ),
    (
        r"backbone\.layers\.(\d+)\.blocks\.(\d+)\.(.+)",
        lambda m: f"features.{2 * int(m.group(1))}.{m.group(2)}.{m.group(3)}",
    ),
    (r"backbone\.layers\.(\d+)\.downsample\.(.+)", lambda m: f"features.{2 * int(m.group(1)) + 1}.{m.group(2)}"),
    (r"backbone\.norm\.(.+)", r"norm.\1"),
    (r"cls_head\.fc_cls\.(.+)", r"head.\1"),
]


def torchvision_to_official(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A torchvision `SwinTransformer3d` state dict in the official checkpoint layout (tensors not copied)."""
    if not any(k.startswith("features.") for k in state_dict):
        raise ConversionError(
            "No `features.*` keys: this is not a torchvision swin3d state dict. Official checkpoints (`backbone.*`) "
            "go through `conversion/convert_official_checkpoint.py`, 2D Swins through `conversion/inflate_image_swin.py`."
        )
    return rename_keys(
        state_dict, lambda key: _rename(key, _TO_OFFICIAL), "have no place in a torchvision swin3d model"
    )


def official_to_torchvision(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Inverse of `torchvision_to_official`."""
    return rename_keys(state_dict, lambda key: _rename(key, _FROM_OFFICIAL), "have no torchvision counterpart")


def convert_torchvision_state_dict(
    state_dict: Mapping[str, Tensor], target: str = "classification"
) -> dict[str, Tensor]:
    """torchvision swin3d state dict -> ours (`target` as in `convert_official_state_dict`)."""
    return convert_official_state_dict(torchvision_to_official(state_dict), target)


def to_torchvision_state_dict(model: VideoSwinForVideoClassification) -> dict[str, Tensor]:
    """Our classification model's weights as a torchvision state dict, index buffers included (strict-loadable)."""
    official = to_official_state_dict(model.state_dict(), "classification")
    index = relative_position_index(model.config.window_size)
    for key in [k for k in official if k.endswith("relative_position_bias_table")]:
        official[key.replace("relative_position_bias_table", "relative_position_index")] = index.clone()
    return official_to_torchvision(official)


def build_torchvision_model(model: VideoSwinForVideoClassification) -> torch.nn.Module:
    """A torchvision `SwinTransformer3d` with our model's architecture and weights (for comparisons, benchmarks)."""
    from torchvision.models.video.swin_transformer import SwinTransformer3d

    config = model.config
    if not config.qkv_bias:
        raise ConversionError("torchvision's SwinTransformer3d always has a qkv bias.")
    tv_model = SwinTransformer3d(
        patch_size=list(config.patch_size),
        embed_dim=config.embed_dim,
        depths=list(config.depths),
        num_heads=list(config.num_heads),
        window_size=list(config.window_size),
        mlp_ratio=config.mlp_ratio,
        stochastic_depth_prob=config.drop_path_rate,
        num_classes=config.num_labels,
    )
    tv_model.load_state_dict(to_torchvision_state_dict(model), strict=True)
    return tv_model.eval()


def compare_with_torchvision(
    model: VideoSwinForVideoClassification, input_shape: tuple[int, int, int], seed: int = 0
) -> float:
    """Max |logits difference| between our model and torchvision's built from the same weights, on a random clip."""
    generator = torch.Generator().manual_seed(seed)
    clip = torch.randn(1, model.config.num_channels, *input_shape, generator=generator)  # [B, C, T, H, W]
    tv_model = build_torchvision_model(model)
    with torch.no_grad():
        expected = tv_model(clip)
        ours = model(pixel_values=clip.permute(0, 2, 1, 3, 4)).logits
    return max_abs_diff(ours, expected, "logits")


@dataclass
class TorchvisionConversionResult:
    model: VideoSwinForVideoClassification
    report: VerificationReport


def convert_torchvision_checkpoint(
    checkpoint: str | os.PathLike,
    *,
    label_set: str | None = None,
    num_frames: int | None = None,
    check_input_shape: tuple[int, int, int] = (4, 96, 96),
    tolerance: float = DEFAULT_TOLERANCE,
    trust_checkpoint: bool = False,
) -> TorchvisionConversionResult:
    """Convert a torchvision swin3d checkpoint and verify it (nothing written).

    Checks: every tensor used once, a bit-exact round trip to torchvision keys, and the logits of torchvision's own
    model on a random clip of `check_input_shape` (T, H, W) agree within `tolerance`. `label_set` defaults to
    kinetics400 for 400-class heads (torchvision's swin3d weights are Kinetics-400).
    """
    state_dict, _ = official_state_dict(load_checkpoint(resolve(checkpoint), trust_checkpoint))
    official = torchvision_to_official(state_dict)
    head = official.get("cls_head.fc_cls.weight")
    if head is None:
        raise ConversionError("The checkpoint has no `head.*`: torchvision swin3d models always have one.")
    if label_set is None:
        label_set = "kinetics400" if head.shape[0] == 400 else "none"
    overrides: dict[str, Any] = {} if num_frames is None else {"num_frames": num_frames}
    names = labels_for_head(label_set, head.shape[0])
    if names is not None:
        overrides["id2label"] = names
    config = config_from_official_state_dict(official, **overrides)
    converted = convert_official_state_dict(official, "classification")
    dropped = {k for k in state_dict if k.endswith("relative_position_index")}
    model = VideoSwinForVideoClassification(config).eval()

    def back_to_torchvision(ours: dict[str, Tensor]) -> dict[str, Tensor]:
        return official_to_torchvision(to_official_state_dict(ours, "classification"))

    report = load_and_verify(
        model, converted, state_dict, back_to_torchvision, dropped, tolerance, "the torchvision checkpoint"
    )
    report.output_max_abs_diff["logits vs torchvision's model"] = compare_with_torchvision(model, check_input_shape)
    return TorchvisionConversionResult(model=model, report=report)
