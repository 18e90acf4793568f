"""Inflating 2D Swins into video models: the official `.pth` route, the transformers-directory route, errors."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from conversion_helpers import TOLERANCE
from safetensors.torch import load_file
from transformers import SwinConfig, SwinForImageClassification, SwinModel

from transformers_videoswin import VideoSwinForVideoClassification, VideoSwinModel
from transformers_videoswin.checkpoints import ConversionError, inflate_and_verify, inflate_image_swin
from transformers_videoswin.checkpoints.inflate import inflate_state_dict

pytest_plugins = ["conversion_fixtures"]


def test_official_pth_matches_golden_inflated(official_tiny_dir):
    model, report = inflate_and_verify(
        official_tiny_dir / "official_2d_imagenet_checkpoint.pth",
        window_size=(2, 7, 7),
        num_labels=5,
        expected_output=official_tiny_dir / "golden_inflated.pt",
    )
    assert isinstance(model, VideoSwinForVideoClassification) and model.config.num_labels == 5
    assert report.ok and report.output_max_abs_diff["backbone features vs expected"] < TOLERANCE
    # 130 2D tensors: 119 used, 11 dropped (8 relative_position_index, 1 attn_mask, the 2-tensor ImageNet head).
    assert (report.source_tensors, report.converted_tensors, report.dropped_tensors) == (130, 119, 11)


def test_model_target(official_tiny_dir):
    model = inflate_image_swin(
        official_tiny_dir / "official_2d_imagenet_checkpoint.pth", window_size=(2, 7, 7), target="model"
    )
    assert isinstance(model, VideoSwinModel)


def _random_hf_swin(window: int, tmp_path) -> SwinForImageClassification:
    torch.manual_seed(0)
    config = SwinConfig(
        image_size=64, embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=window, num_labels=7
    )
    model = SwinForImageClassification(config).eval()
    with torch.no_grad():  # make norms and bias tables non-trivial so that mistakes show
        for name, parameter in model.named_parameters():
            if "norm" in name or "bias_table" in name:
                parameter.add_(torch.randn_like(parameter) * 0.5)
    model.save_pretrained(tmp_path / "hf_swin")
    return model


def _official_2d_from_saved_hf(directory) -> dict[str, torch.Tensor]:
    """The official ImageNet layout built from the *saved* file, whose keys use the Hub's historical names
    (`attention.self.query`, `intermediate.dense`, ...): independent of the library's in-memory mapping."""
    saved = load_file(directory / "model.safetensors")
    rules = [
        (r"swin\.embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
        (r"swin\.embeddings\.norm\.", "patch_embed.norm."),
        (r"swin\.encoder\.layers\.", "layers."),
        (r"\.layernorm_before\.", ".norm1."),
        (r"\.layernorm_after\.", ".norm2."),
        (r"\.attention\.self\.relative_position_bias_table", ".attn.relative_position_bias_table"),
        (r"\.attention\.output\.dense\.", ".attn.proj."),
        (r"\.intermediate\.dense\.", ".mlp.fc1."),
        (r"\.output\.dense\.", ".mlp.fc2."),
        (r"^swin\.layernorm\.", "norm."),
        (r"^classifier\.", "head."),
    ]
    official = {}
    for key, tensor in saved.items():
        if ".attention.self.query." in key or ".attention.self.key." in key or ".attention.self.value." in key:
            continue
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        official[key] = tensor
    for key in [k for k in saved if ".attention.self.query." in k]:
        fused = torch.cat([saved[key], saved[key.replace("query", "key")], saved[key.replace("query", "value")]])
        prefix, kind = key.split(".attention.self.query.")
        official[prefix.replace("swin.encoder.layers.", "layers.") + ".attn.qkv." + kind] = fused
    return official


def test_transformers_directory_inflates_like_the_equivalent_official_pth(tmp_path):
    _random_hf_swin(window=2, tmp_path=tmp_path)
    torch.save({"model": _official_2d_from_saved_hf(tmp_path / "hf_swin")}, tmp_path / "equivalent.pth")
    kwargs = dict(window_size=(2, 4, 4), num_labels=3)  # 2D window 2 -> spatial 4: the bicubic table resize
    from_dir = inflate_image_swin(tmp_path / "hf_swin", **kwargs).state_dict()
    from_pth = inflate_image_swin(tmp_path / "equivalent.pth", **kwargs).state_dict()
    backbone_keys = [k for k in from_dir if not k.startswith("classifier.")]
    assert set(from_dir) == set(from_pth)
    assert all(torch.equal(from_dir[k], from_pth[k]) for k in backbone_keys)


def test_static_video_reproduces_the_2d_model(tmp_path):
    """Inflation preserves the 2D function on a static video: the temporal patch kernel averages identical frames
    and every temporal copy of a key gets the same (tiled) bias, so each time slice equals the 2D features."""
    hf_model = _random_hf_swin(window=2, tmp_path=tmp_path)
    video_model = inflate_image_swin(tmp_path / "hf_swin", window_size=(2, 2, 2), target="model").eval()
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = hf_model.swin(image).last_hidden_state  # [1, 2*2, C]
        video = image[:, None].repeat(1, 8, 1, 1, 1)  # 8 frames -> 4 temporal tokens: shifted in time too
        features = video_model(video).last_hidden_state.reshape(1, 4, 4, -1)
    assert max((features[:, t] - expected).abs().max().item() for t in range(4)) < TOLERANCE


def _official_table_inflation(pretrained: torch.Tensor, window_size: tuple[int, int, int]) -> torch.Tensor:
    """Transcription of the bias-table part of the official `SwinTransformer3D.inflate_weights`."""
    L1, nH1 = pretrained.size()
    L2 = (2 * window_size[1] - 1) * (2 * window_size[2] - 1)
    wd = window_size[0]
    if L1 != L2:
        S1 = int(L1**0.5)
        resized = F.interpolate(
            pretrained.permute(1, 0).view(1, nH1, S1, S1),
            size=(2 * window_size[1] - 1, 2 * window_size[2] - 1),
            mode="bicubic",
        )
        pretrained = resized.view(nH1, L2).permute(1, 0)
    return pretrained.repeat(2 * wd - 1, 1)


@pytest.mark.parametrize("window_size", [(8, 7, 7), (2, 12, 12), (4, 5, 5)])
def test_bias_tables_follow_the_official_code(official_tiny_dir, window_size):
    state_2d = torch.load(official_tiny_dir / "official_2d_imagenet_checkpoint.pth", weights_only=True)["model"]
    inflated = inflate_state_dict(state_2d, window_size, temporal_patch=2)
    key = "layers.2.blocks.1.attn.relative_position_bias_table"
    assert torch.equal(inflated["backbone." + key], _official_table_inflation(state_2d[key], window_size))
    patch = inflated["backbone.patch_embed.proj.weight"]
    assert patch.shape == (24, 3, 2, 4, 4)
    assert torch.equal(patch, state_2d["patch_embed.proj.weight"].unsqueeze(2).repeat(1, 1, 2, 1, 1) / 2)


# ------------------------------------------------------------------------------------------------- error paths


def test_video_checkpoint_is_refused(official_tiny_dir):
    with pytest.raises(ConversionError, match="needs no inflation.*convert_official_checkpoint.py"):
        inflate_image_swin(official_tiny_dir / "official_checkpoint.pth")


def test_spatial_patch_must_match(official_tiny_dir):
    with pytest.raises(ConversionError, match="spatial patch"):
        inflate_image_swin(official_tiny_dir / "official_2d_imagenet_checkpoint.pth", patch_size=(2, 2, 2))


def test_unknown_and_missing_2d_keys(official_tiny_dir):
    state_2d = torch.load(official_tiny_dir / "official_2d_imagenet_checkpoint.pth", weights_only=True)["model"]
    with pytest.raises(ConversionError, match="absolute_pos_embed"):
        inflate_image_swin(dict(state_2d, absolute_pos_embed=torch.zeros(1, 256, 24)), window_size=(2, 7, 7))
    partial = {k: v for k, v in state_2d.items() if k != "layers.0.downsample.norm.weight"}
    with pytest.raises(ConversionError, match="layers.0.downsample.norm.weight"):
        inflate_image_swin(partial, window_size=(2, 7, 7))


def test_transformers_swin_with_absolute_embeddings_is_refused(tmp_path):
    config = SwinConfig(image_size=32, embed_dim=8, depths=[1, 1], num_heads=[1, 1], use_absolute_embeddings=True)
    SwinModel(config).save_pretrained(tmp_path / "ape")
    with pytest.raises(ConversionError, match="position_embeddings"):
        inflate_image_swin(tmp_path / "ape")
