"""Official checkpoints -> ours: key mapping, architecture inference, parity with the official outputs, errors."""

from __future__ import annotations

import re

import pytest
import torch
from conversion_helpers import TOLERANCE

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinBackbone, VideoSwinConfig, VideoSwinForVideoClassification, VideoSwinModel
from transformers_videoswin.checkpoints import (
    ConversionError,
    config_from_official_state_dict,
    convert_official_checkpoint,
    convert_official_state_dict,
    infer_window_size,
    to_official_state_dict,
)
from transformers_videoswin.checkpoints.official import parse_released_name, relative_position_index

pytest_plugins = ["conversion_fixtures"]


@pytest.fixture
def state_dict(official_checkpoint) -> dict[str, torch.Tensor]:
    return official_checkpoint["state_dict"]


@pytest.fixture
def config(state_dict, official_checkpoint) -> VideoSwinConfig:
    return config_from_official_state_dict(state_dict, official_checkpoint["meta"])


def test_config_inferred_from_shapes_matches_fixture_json(config, official_tiny_dir):
    import json

    fixture = json.loads((official_tiny_dir / "fixture.json").read_text())
    assert config.embed_dim == fixture["embed_dim"]
    assert list(config.depths) == fixture["depths"]
    assert list(config.num_heads) == fixture["num_heads"]
    assert list(config.window_size) == fixture["window_size"]
    assert list(config.patch_size) == fixture["patch_size"]
    assert config.mlp_ratio == fixture["mlp_ratio"]
    assert config.qkv_bias is fixture["qkv_bias"]
    assert config.num_labels == fixture["num_classes"]


@pytest.mark.parametrize(
    ("target", "model_class"),
    [("classification", VideoSwinForVideoClassification), ("model", VideoSwinModel), ("backbone", VideoSwinBackbone)],
)
def test_every_target_loads_strictly_and_round_trips_bit_exactly(state_dict, config, target, model_class):
    converted = convert_official_state_dict(state_dict, target)
    model = model_class(config)
    missing, unexpected = model.load_state_dict(converted, strict=True)
    assert not missing and not unexpected
    back = to_official_state_dict(model.state_dict(), target)
    kept = {k for k in state_dict if not k.endswith("relative_position_index")}
    if target != "classification":
        kept = {k for k in kept if not k.startswith("cls_head.")}
    assert set(back) == kept
    assert all(torch.equal(back[k], state_dict[k]) for k in kept)


def test_logits_and_backbone_features_match_the_official_code(state_dict, config, golden):
    model = VideoSwinForVideoClassification(config).eval()
    model.load_state_dict(convert_official_state_dict(state_dict), strict=True)
    backbone = VideoSwinBackbone(config).eval()
    backbone.load_state_dict(convert_official_state_dict(state_dict, "backbone"), strict=True)
    pixel_values = golden["pixel_values_BCTHW"].permute(0, 2, 1, 3, 4)
    with torch.no_grad():
        logits = model(pixel_values=pixel_values).logits
        features = backbone(pixel_values=pixel_values).feature_maps[-1]
    assert (logits - golden["logits"]).abs().max().item() < TOLERANCE
    assert features.shape == golden["backbone_features_BCTHW"].shape
    assert (features - golden["backbone_features_BCTHW"]).abs().max().item() < TOLERANCE


def test_convert_official_checkpoint_reports_the_figures(official_tiny_dir):
    result = convert_official_checkpoint(
        official_tiny_dir / "official_checkpoint.pth", expected_output=official_tiny_dir / "golden.pt"
    )
    report = result.report
    assert report.ok and report.round_trip_exact and report.round_trip_max_abs_diff == 0.0
    assert (report.source_tensors, report.converted_tensors, report.dropped_tensors) == (129, 121, 8)
    assert set(report.output_max_abs_diff) == {"logits vs expected", "backbone features vs expected"}
    assert max(report.output_max_abs_diff.values()) < TOLERANCE
    assert result.label_set == "none" and result.released is None


def test_mismatching_expected_output_refuses(official_tiny_dir, golden, tmp_path):
    wrong = dict(golden, logits=golden["logits"] + 1e-3)
    torch.save(wrong, tmp_path / "wrong.pt")
    result = convert_official_checkpoint(
        official_tiny_dir / "official_checkpoint.pth", expected_output=tmp_path / "wrong.pt"
    )
    assert not result.report.ok
    with pytest.raises(ConversionError, match="Verification failed"):
        result.report.require_ok()


def test_relative_position_index_matches_stored_buffers(state_dict):
    stored = state_dict["backbone.layers.0.blocks.0.attn.relative_position_index"]
    assert torch.equal(relative_position_index((2, 7, 7)), stored)


def test_window_inference(state_dict):
    table = state_dict["backbone.layers.0.blocks.0.attn.relative_position_bias_table"]  # 507 = 3 * 13 * 13 rows
    index = state_dict["backbone.layers.0.blocks.0.attn.relative_position_index"]
    # (7, 2, 7) has the same table size and token count: only the index contents tell them apart.
    assert infer_window_size(table, index) == (2, 7, 7)
    assert infer_window_size(table) == (2, 7, 7)  # unique candidate with a square spatial window
    assert infer_window_size(torch.zeros(2535, 3)) == (8, 7, 7)  # Swin-T K400
    assert infer_window_size(torch.zeros(31 * 13 * 13, 4), hint=(16, 7, 7)) == (16, 7, 7)  # SSv2
    with pytest.raises(ConversionError, match="contradicts"):
        infer_window_size(table, hint=(8, 7, 7))
    with pytest.raises(ConversionError, match="cannot be inferred"):
        infer_window_size(torch.zeros(3 * 5 * 7, 1))  # (2, 3, 4), (2, 4, 3), (3, 2, 4), ... none square


def test_window_from_meta_config_when_no_index_is_stored(state_dict, official_checkpoint):
    without_index = {k: v for k, v in state_dict.items() if not k.endswith("relative_position_index")}
    meta = official_checkpoint["meta"]
    assert config_from_official_state_dict(without_index, meta).window_size == (2, 7, 7)
    contradicting = {"config": meta["config"].replace("window_size=(2, 7, 7)", "window_size=(7, 2, 7)")}
    assert config_from_official_state_dict(without_index, contradicting).window_size == (7, 2, 7)
    with pytest.raises(ConversionError, match="contradicts"):
        config_from_official_state_dict(without_index, {"config": "window_size=(8, 7, 7)"})


def test_released_names_encode_patch_and_window():
    assert parse_released_name("swin_base_patch244_window1677_sthv2.pth") == {
        "patch_size": (2, 4, 4),
        "window_size": (16, 7, 7),
    }
    assert parse_released_name("swin_tiny_patch244_window877_kinetics400_1k.pth")["window_size"] == (8, 7, 7)


def test_random_model_round_trips_through_the_official_layout():
    """ours -> official -> ours is the identity for an architecture other than the fixture's (more stages' shapes)."""
    model = VideoSwinForVideoClassification(VideoSwinConfig(**tiny_config_kwargs()))
    official = to_official_state_dict(model.state_dict())
    assert all(re.match(r"(backbone|cls_head)\.", k) for k in official)
    back = convert_official_state_dict(official)
    assert set(back) == set(model.state_dict())
    assert all(torch.equal(back[k], v) for k, v in model.state_dict().items())


# ------------------------------------------------------------------------------------------------- error paths


def test_unknown_keys_are_named(state_dict):
    extra = dict(state_dict, **{"backbone.layers.0.blocks.0.attn.extra_scale": torch.ones(1)})
    with pytest.raises(ConversionError, match=r"not part of .*backbone\.layers\.0\.blocks\.0\.attn\.extra_scale"):
        convert_official_state_dict(extra)


def test_missing_keys_are_named(state_dict):
    partial = {k: v for k, v in state_dict.items() if k != "backbone.layers.1.blocks.0.mlp.fc2.weight"}
    with pytest.raises(ConversionError, match=r"missing 1 tensor.*backbone\.layers\.1\.blocks\.0\.mlp\.fc2\.weight"):
        convert_official_state_dict(partial)


def test_wrong_shapes_are_named(official_tiny_dir):
    # A window of 3x7x7 needs 5*13*13-row bias tables; the checkpoint has 3*13*13.
    with pytest.raises(ConversionError, match=r"shape mismatch.*relative_position_bias_table: \(507, 1\)"):
        convert_official_checkpoint(official_tiny_dir / "official_checkpoint.pth", window_size=(3, 7, 7))


def test_2d_imagenet_checkpoint_points_to_the_inflation_tool(official_tiny_dir):
    with pytest.raises(ConversionError, match="inflate_image_swin.py"):
        convert_official_checkpoint(official_tiny_dir / "official_2d_imagenet_checkpoint.pth")
    state_2d = torch.load(official_tiny_dir / "official_2d_imagenet_checkpoint.pth", weights_only=True)["model"]
    with pytest.raises(ConversionError, match="2D"):
        convert_official_state_dict({"backbone." + k: v for k, v in state_2d.items()})


def test_other_formats_point_to_the_right_tool(state_dict):
    with pytest.raises(ConversionError, match="convert_torchvision_swin3d.py"):
        convert_official_state_dict({"features.0.0.norm1.weight": torch.ones(1)})
    with pytest.raises(ConversionError, match="already in the transformers-videoswin format"):
        convert_official_state_dict(convert_official_state_dict(state_dict))


def test_label_set_must_match_the_head(official_tiny_dir):
    with pytest.raises(ConversionError, match="5 classes but the label set 'kinetics400' has 400"):
        convert_official_checkpoint(official_tiny_dir / "official_checkpoint.pth", label_set="kinetics400")
    with pytest.raises(ConversionError, match="Unknown label set"):
        convert_official_checkpoint(official_tiny_dir / "official_checkpoint.pth", label_set="kinetics700")
