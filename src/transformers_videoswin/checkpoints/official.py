"""Official Video Swin checkpoints (mmaction2 `Recognizer3D`: `backbone.*` + `cls_head.fc_cls.*`) <-> ours.

The key mapping is a table of template pairs; it is applied in both directions, which is what lets the converter
prove that every original tensor is used exactly once and comes back bit-exactly.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..model.configuration_videoswin import VideoSwinConfig
from ..model.modeling_videoswin import VideoSwinForVideoClassification, relative_position_index
from .checkpoint_io import ConversionError, load_checkpoint, official_state_dict, rename_keys, resolve
from .labels import label_set_from_name, labels_for_head
from .released import ReleasedCheckpoint, find_released
from .verify import DEFAULT_TOLERANCE, VerificationReport, compare_with_expected, load_and_verify

TARGETS = ("classification", "model", "backbone")

_BLOCK = "backbone.layers.{i}.blocks.{j}"
_OUR_BLOCK = "encoder.layers.{i}.blocks.{j}"

# (official template, our template) for the base model (no `videoswin.` prefix); `{p}` is `weight` or `bias`.
_BASE_RULES: tuple[tuple[str, str], ...] = (
    ("backbone.patch_embed.proj.{p}", "embeddings.patch_embeddings.projection.{p}"),
    ("backbone.patch_embed.norm.{p}", "embeddings.norm.{p}"),
    (f"{_BLOCK}.norm1.{{p}}", f"{_OUR_BLOCK}.layernorm_before.{{p}}"),
    (f"{_BLOCK}.attn.relative_position_bias_table", f"{_OUR_BLOCK}.attention.relative_position_bias_table"),
    (f"{_BLOCK}.attn.qkv.{{p}}", f"{_OUR_BLOCK}.attention.qkv.{{p}}"),
    (f"{_BLOCK}.attn.proj.{{p}}", f"{_OUR_BLOCK}.attention.proj.{{p}}"),
    (f"{_BLOCK}.norm2.{{p}}", f"{_OUR_BLOCK}.layernorm_after.{{p}}"),
    (f"{_BLOCK}.mlp.fc1.{{p}}", f"{_OUR_BLOCK}.mlp.fc1.{{p}}"),
    (f"{_BLOCK}.mlp.fc2.{{p}}", f"{_OUR_BLOCK}.mlp.fc2.{{p}}"),
    ("backbone.layers.{i}.downsample.norm.{p}", "encoder.layers.{i}.downsample.norm.{p}"),
    ("backbone.layers.{i}.downsample.reduction.{p}", "encoder.layers.{i}.downsample.reduction.{p}"),
)
_FINAL_NORM = "backbone.norm.{p}"
_HEAD = "cls_head.fc_cls.{p}"
# Buffers that official checkpoints store but that our model recomputes.
_DROPPED = (re.compile(r"backbone\.layers\.\d+\.blocks\.\d+\.attn\.relative_position_index"),)

_PLACEHOLDERS = {"i": r"(?P<i>\d+)", "j": r"(?P<j>\d+)", "p": r"(?P<p>weight|bias)"}


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.escape(template)
    for name, group in _PLACEHOLDERS.items():
        pattern = pattern.replace(re.escape("{" + name + "}"), group)
    return re.compile(pattern)


def _rules(target: str) -> list[tuple[str, str]]:
    """(official, ours) template pairs for one target model class."""
    if target not in TARGETS:
        raise ValueError(f"Unknown target {target!r}; expected one of {TARGETS}.")
    # VideoSwinBackbone normalises its last stage with the base model's final LayerNorm (`videoswin.layernorm`).
    prefix = "" if target == "model" else "videoswin."
    rules = [(official, prefix + ours) for official, ours in _BASE_RULES]
    rules.append((_FINAL_NORM, prefix + "layernorm.{p}"))
    if target == "classification":
        rules.append((_HEAD, "classifier.{p}"))
    return rules


def _translate(key: str, rules: list[tuple[re.Pattern[str], str]]) -> str | None:
    for pattern, template in rules:
        match = pattern.fullmatch(key)
        if match:
            return template.format(**match.groupdict())
    return None


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(sorted(keys)[:limit])
    return shown + (f" ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def check_official_format(state_dict: Mapping[str, Tensor]) -> None:
    """Raise a ConversionError that names the right tool when `state_dict` is not an official video checkpoint."""
    keys = list(state_dict)
    patch = state_dict.get("backbone.patch_embed.proj.weight")
    if "patch_embed.proj.weight" in state_dict or (patch is not None and patch.dim() == 4):
        raise ConversionError(
            "This is a 2D (image) Swin checkpoint (patch embedding "
            f"{tuple((patch if patch is not None else state_dict['patch_embed.proj.weight']).shape)}, no temporal "
            "axis), such as the ImageNet initialisations swin_*_patch4_window7_224.pth. Video weights cannot be "
            "converted from it: inflate it into a video model with `conversion/inflate_image_swin.py` "
            "(library: `transformers_videoswin.checkpoints.inflate_image_swin`)."
        )
    if any(k.startswith("features.0.0.") for k in keys):
        raise ConversionError(
            "This is a torchvision `swin3d_*` state dict (keys `features.*`): use "
            "`conversion/convert_torchvision_swin3d.py` (library: `convert_torchvision_state_dict`)."
        )
    if any(k.startswith(("videoswin.", "embeddings.", "hidden_states_norms.")) for k in keys):
        raise ConversionError(
            "This state dict is already in the transformers-videoswin format; load it with `from_pretrained`."
        )
    if not any(k.startswith("backbone.") for k in keys):
        raise ConversionError(
            "No `backbone.*` keys: this is not an official Video Swin checkpoint. First keys: " + _describe(keys)
        )


def _check_complete(state_dict: Mapping[str, Tensor]) -> None:
    """Every block and merging layer present in the checkpoint must carry all of its tensors."""
    keys = set(state_dict)
    qkv_bias = any(k.endswith(".attn.qkv.bias") for k in keys)
    blocks = {
        (m.group(1), m.group(2)) for k in keys if (m := re.match(r"backbone\.layers\.(\d+)\.blocks\.(\d+)\.", k))
    }
    expected = {"backbone.patch_embed.proj.weight", "backbone.patch_embed.proj.bias"}
    expected |= {f"backbone.{n}.{p}" for n in ("patch_embed.norm", "norm") for p in ("weight", "bias")}
    for i, j in blocks:
        base = f"backbone.layers.{i}.blocks.{j}"
        expected.add(f"{base}.attn.relative_position_bias_table")
        expected |= {f"{base}.{n}.weight" for n in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")}
        expected |= {f"{base}.{n}.bias" for n in ("norm1", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")}
        if qkv_bias:
            expected.add(f"{base}.attn.qkv.bias")
    num_stages = len({i for i, _ in blocks})
    for i in range(num_stages - 1):
        expected |= {f"backbone.layers.{i}.downsample.{n}" for n in ("reduction.weight", "norm.weight", "norm.bias")}
    if any(k.startswith("cls_head.") for k in keys):
        expected |= {"cls_head.fc_cls.weight", "cls_head.fc_cls.bias"}
    missing = sorted(expected - keys)
    if missing:
        raise ConversionError(f"The checkpoint is missing {len(missing)} tensor(s): {_describe(missing)}")


def convert_official_state_dict(state_dict: dict[str, Tensor], target: str = "classification") -> dict[str, Tensor]:
    """Rename an official state dict (`ckpt['state_dict']`) for `VideoSwinForVideoClassification`
    (`target="classification"`), `VideoSwinModel` (`"model"`) or `VideoSwinBackbone` (`"backbone"`).

    `relative_position_index` buffers are dropped (the model recomputes them); the head is dropped for the
    "model" and "backbone" targets. Tensors are not copied. Raises ConversionError naming unknown or missing keys.
    """
    check_official_format(state_dict)
    _check_complete(state_dict)
    rules = [(_compile(o), t) for o, t in _rules(target)]
    converted: dict[str, Tensor] = {}
    unknown = []
    for key, tensor in state_dict.items():
        if any(p.fullmatch(key) for p in _DROPPED) or (target != "classification" and key.startswith("cls_head.")):
            continue
        new_key = _translate(key, rules)
        if new_key is None:
            unknown.append(key)
        else:
            converted[new_key] = tensor
    if unknown:
        raise ConversionError(
            f"{len(unknown)} key(s) of the checkpoint are not part of an official Video Swin "
            f"(backbone + I3D head) model: {_describe(unknown)}"
        )
    return converted


def to_official_state_dict(state_dict: Mapping[str, Tensor], target: str = "classification") -> dict[str, Tensor]:
    """Inverse of `convert_official_state_dict` (the dropped index buffers are not restored)."""
    rules = [(_compile(t), o) for o, t in _rules(target)]
    weights = {key: tensor for key, tensor in state_dict.items() if not key.endswith("relative_position_index")}
    return rename_keys(weights, lambda key: _translate(key, rules), "have no official equivalent")


def _window_candidates(table_rows: int) -> list[tuple[int, int, int]]:
    """Every window (d, h, w) whose bias table has `table_rows` rows."""
    odd_divisors = [n for n in range(1, table_rows + 1, 2) if table_rows % n == 0]
    return [
        ((a + 1) // 2, (b + 1) // 2, (table_rows // (a * b) + 1) // 2)
        for a, b in itertools.product(odd_divisors, repeat=2)
        if table_rows % (a * b) == 0 and (table_rows // (a * b)) % 2 == 1
    ]


def _parse_meta_config(text: str) -> dict[str, Any]:
    """Architecture hints from the mmcv config text stored in `meta['config']` (window, patch, drop path, frames)."""
    hints: dict[str, Any] = {}
    for name in ("window_size", "patch_size"):
        match = re.search(rf"\b{name}\s*=\s*[\(\[]\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*[\)\]]", text)
        if match:
            hints[name] = tuple(int(v) for v in match.groups())
    match = re.search(r"\bdrop_path_rate\s*=\s*([0-9.eE+-]+)", text)
    if match:
        hints["drop_path_rate"] = float(match.group(1))
    match = re.search(r"\bclip_len\s*=\s*(\d+)", text)
    if match:
        hints["num_frames"] = int(match.group(1))
    return hints


def parse_released_name(name: str) -> dict[str, Any]:
    """Patch and window sizes encoded in a released file name, e.g. `..._patch244_window1677_...`."""
    hints: dict[str, Any] = {}
    match = re.search(r"patch(\d)(\d)(\d)", name)
    if match:
        hints["patch_size"] = tuple(int(v) for v in match.groups())
    match = re.search(r"window(\d+)(\d)(\d)", name)
    if match:
        hints["window_size"] = tuple(int(v) for v in match.groups())
    return hints


def infer_window_size(
    table: Tensor, index: Tensor | None = None, hint: tuple[int, int, int] | None = None
) -> tuple[int, int, int]:
    """The configured window from a bias table, checked against the stored index buffer when there is one.

    Without an index, a table size can fit several windows: `hint` (from `meta['config']` or the file name)
    decides, else a unique candidate with a square spatial window; otherwise the caller must pass the window.
    """
    candidates = _window_candidates(table.shape[0])
    if index is not None:
        candidates = [
            c
            for c in candidates
            if c[0] * c[1] * c[2] == index.shape[0] and torch.equal(relative_position_index(c), index.long())
        ]
        if not candidates:
            raise ConversionError(
                f"The relative_position_index buffer {tuple(index.shape)} matches no window with a bias table of "
                f"{table.shape[0]} rows."
            )
    if hint is not None:
        if tuple(hint) not in candidates:
            raise ConversionError(
                f"Window {tuple(hint)} contradicts the checkpoint's tensors (bias table {tuple(table.shape)}); "
                f"windows consistent with them: {candidates}."
            )
        return tuple(hint)
    if len(candidates) > 1:
        candidates = [c for c in candidates if c[1] == c[2] and c[1] > 1] or candidates
    if len(candidates) != 1:
        raise ConversionError(
            f"The window size cannot be inferred from a bias table of {table.shape[0]} rows alone (candidates "
            f"{candidates}); pass `window_size` (D, H, W) explicitly."
        )
    return candidates[0]


def config_from_official_state_dict(
    state_dict: Mapping[str, Tensor], meta: Mapping[str, Any] | None = None, **overrides: Any
) -> VideoSwinConfig:
    """Build the `VideoSwinConfig` of an official checkpoint from its tensor shapes.

    `meta` is the checkpoint's `meta` dict (its mmcv config text supplies the window when no index buffer is
    stored, the drop path rate and the clip length). `overrides` win over everything inferred; `name_hint` (a
    released file name) supplies patch/window hints.
    """
    check_official_format(state_dict)
    hints: dict[str, Any] = parse_released_name(overrides.pop("name_hint", "") or "")
    if meta and isinstance(meta.get("config"), str):
        hints.update(_parse_meta_config(meta["config"]))

    patch = state_dict["backbone.patch_embed.proj.weight"]
    embed_dim, num_channels = patch.shape[:2]
    blocks: dict[int, int] = {}
    for key in state_dict:
        match = re.match(r"backbone\.layers\.(\d+)\.blocks\.(\d+)\.", key)
        if match:
            stage, block = int(match.group(1)), int(match.group(2))
            blocks[stage] = max(blocks.get(stage, 0), block + 1)
    if sorted(blocks) != list(range(len(blocks))) or not blocks:
        raise ConversionError(f"Stages must be numbered 0..n-1, found {sorted(blocks)}.")
    depths = tuple(blocks[i] for i in range(len(blocks)))
    tables = [
        state_dict[f"backbone.layers.{i}.blocks.0.attn.relative_position_bias_table"] for i in range(len(depths))
    ]
    num_heads = tuple(t.shape[1] for t in tables)
    fc1 = state_dict["backbone.layers.0.blocks.0.mlp.fc1.weight"]

    kwargs: dict[str, Any] = {
        "num_channels": int(num_channels),
        "embed_dim": int(embed_dim),
        "patch_size": tuple(int(s) for s in patch.shape[2:]),
        "depths": depths,
        "num_heads": num_heads,
        "mlp_ratio": fc1.shape[0] / embed_dim,
        "qkv_bias": "backbone.layers.0.blocks.0.attn.qkv.bias" in state_dict,
    }
    if "patch_size" in hints and hints["patch_size"] != kwargs["patch_size"]:
        raise ConversionError(
            f"Patch size {hints['patch_size']} (from the name/meta) contradicts the patch embedding "
            f"{tuple(patch.shape)}."
        )
    if "window_size" not in overrides:
        index = state_dict.get("backbone.layers.0.blocks.0.attn.relative_position_index")
        kwargs["window_size"] = infer_window_size(tables[0], index, hints.get("window_size"))
    for name in ("drop_path_rate", "num_frames"):
        if name in hints:
            kwargs[name] = hints[name]
    head = state_dict.get("cls_head.fc_cls.weight")
    if head is not None and "id2label" not in overrides:
        kwargs["num_labels"] = int(head.shape[0])
    kwargs.update(overrides)
    try:
        return VideoSwinConfig(**kwargs)
    except ValueError as error:
        raise ConversionError(f"The inferred architecture is invalid: {error}") from error


@dataclass
class ConversionResult:
    """A verified model and the figures it was verified by."""

    model: VideoSwinForVideoClassification
    report: VerificationReport
    released: ReleasedCheckpoint | None
    label_set: str  # "kinetics400", "kinetics600", "ssv2" or "none"

    @property
    def sampling(self) -> str:
        """Frame sampling protocol of the official test pipeline for this model's dataset."""
        return "ssv2" if self.label_set == "ssv2" else "kinetics"


def convert_official_checkpoint(
    checkpoint: str | os.PathLike,
    *,
    window_size: tuple[int, int, int] | None = None,
    patch_size: tuple[int, int, int] | None = None,
    num_frames: int | None = None,
    label_set: str | None = None,
    expected_output: str | os.PathLike | None = None,
    trust_checkpoint: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ConversionResult:
    """Load an official checkpoint (path or URL), build the matching model and verify it (nothing is written).

    `label_set` is `kinetics400`, `kinetics600`, `ssv2` or `none`; by default a released file's name selects it.
    Raises ConversionError when any check fails.
    """
    released = find_released(str(checkpoint))
    path = resolve(checkpoint)
    state_dict, meta = official_state_dict(load_checkpoint(path, trust_checkpoint))
    check_official_format(state_dict)

    overrides: dict[str, Any] = {"name_hint": path.name}
    if released is not None:
        overrides["drop_path_rate"] = VideoSwinConfig.from_variant(released.variant).drop_path_rate
    for name, value in (("window_size", window_size), ("patch_size", patch_size), ("num_frames", num_frames)):
        if value is not None:
            overrides[name] = tuple(value) if name != "num_frames" else value
    if label_set is None:
        label_set = label_set_from_name(path.name) or "none"
    head = state_dict.get("cls_head.fc_cls.weight")
    names = labels_for_head(label_set, None if head is None else head.shape[0])
    if names is not None:
        overrides["id2label"] = names
    config = config_from_official_state_dict(state_dict, meta, **overrides)

    converted = convert_official_state_dict(state_dict, "classification")
    dropped = {k for k in state_dict if any(p.fullmatch(k) for p in _DROPPED)}
    model = VideoSwinForVideoClassification(config).eval()
    back = functools.partial(to_official_state_dict, target="classification")
    report = load_and_verify(model, converted, state_dict, back, dropped, tolerance)
    if expected_output is not None:
        report.output_max_abs_diff = compare_with_expected(model, load_checkpoint(expected_output))
    return ConversionResult(model=model, report=report, released=released, label_set=label_set)


__all__ = [
    "TARGETS",
    "ConversionResult",
    "convert_official_checkpoint",
    "check_official_format",
    "config_from_official_state_dict",
    "convert_official_state_dict",
    "infer_window_size",
    "parse_released_name",
    "relative_position_index",
    "to_official_state_dict",
]
