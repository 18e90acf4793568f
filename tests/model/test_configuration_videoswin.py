import json

import pytest
from huggingface_hub.errors import StrictDataclassClassValidationError

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification
from transformers_videoswin.model.configuration_videoswin import VARIANTS


def test_defaults_are_swin_t_kinetics400():
    config = VideoSwinConfig()
    assert config.model_type == "videoswin"
    assert config.patch_size == (2, 4, 4)
    assert config.window_size == (8, 7, 7)
    assert (config.embed_dim, config.depths, config.num_heads) == (96, (2, 2, 6, 2), (3, 6, 12, 24))
    assert (config.num_frames, config.image_size, config.drop_path_rate) == (32, 224, 0.1)
    assert config.hidden_size == 768
    assert config.num_stages == config.num_hidden_layers == 4
    assert config.num_attention_heads == (3, 6, 12, 24)
    assert config.out_features == ["stage4"]


def test_official_swin_t_parameter_count():
    """The official Swin-T K400 checkpoint has 28,158,070 parameters (400 classes)."""
    model = VideoSwinForVideoClassification(VideoSwinConfig(num_labels=400))
    assert sum(p.numel() for p in model.parameters()) == 28_158_070


@pytest.mark.parametrize(
    "name, width, depths, window, drop_path",
    [
        ("tiny", 96, (2, 2, 6, 2), (8, 7, 7), 0.1),
        ("small", 96, (2, 2, 18, 2), (8, 7, 7), 0.1),
        ("base", 128, (2, 2, 18, 2), (8, 7, 7), 0.3),
        ("base-in22k", 128, (2, 2, 18, 2), (8, 7, 7), 0.2),
        ("base-ssv2", 128, (2, 2, 18, 2), (16, 7, 7), 0.4),
        ("large", 192, (2, 2, 18, 2), (8, 7, 7), 0.2),
    ],
)
def test_variants(name, width, depths, window, drop_path):
    config = VideoSwinConfig.from_variant(name)
    assert (config.embed_dim, config.depths, config.window_size, config.drop_path_rate) == (
        width,
        depths,
        window,
        drop_path,
    )
    assert config.hidden_size == width * 8


def test_variant_overrides_and_unknown_variant():
    assert VideoSwinConfig.from_variant("base", num_labels=7).num_labels == 7
    with pytest.raises(ValueError, match="Unknown Video Swin variant"):
        VideoSwinConfig.from_variant("huge")
    assert set(VARIANTS) >= {"tiny", "small", "base", "large", "base-ssv2"}


def test_derived_values_follow_overrides(tmp_path):
    VideoSwinConfig.from_variant("base").save_pretrained(tmp_path)
    # A stale derived key in an old JSON must not win over the real fields.
    path = tmp_path / "config.json"
    data = json.loads(path.read_text())
    data.update(hidden_size=12345, num_layers=99)
    path.write_text(json.dumps(data))
    config = VideoSwinConfig.from_pretrained(tmp_path, embed_dim=64, depths=[2, 2, 2], num_heads=[2, 4, 8])
    assert config.hidden_size == 64 * 4
    assert config.num_layers == 3
    assert config.stage_names == ["stem", "stage1", "stage2", "stage3"]


def test_round_trip_keeps_backbone_outputs(tmp_path):
    config = VideoSwinConfig(out_features=["stage1", "stage3"])
    config.save_pretrained(tmp_path)
    loaded = VideoSwinConfig.from_pretrained(tmp_path)
    assert loaded.out_features == ["stage1", "stage3"]
    assert loaded.out_indices == [1, 3]
    assert loaded.window_size == (8, 7, 7)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"num_heads": (5, 6, 12, 24)}, "num_heads"),
        ({"num_heads": (3, 6, 12)}, "num_heads"),
        ({"window_size": (8, 7)}, "window_size"),
        ({"window_size": (8, 0, 7)}, "window_size"),
        ({"patch_size": (2, 4, 4, 4)}, "patch_size"),
        ({"embed_dim": 0}, "embed_dim"),
        ({"num_frames": -1}, "num_frames"),
        ({"image_size": 0}, "image_size"),
        ({"depths": (2, 0, 6, 2)}, "depths"),
        ({"drop_path_rate": 1.5}, "drop_path_rate"),
        ({"mlp_ratio": 0}, "mlp_ratio"),
    ],
)
def test_invalid_configs_name_the_field(kwargs, field):
    """transformers' `validate_architecture` hook (run by `@strict`) names the field."""
    with pytest.raises(StrictDataclassClassValidationError, match=field):
        VideoSwinConfig(**kwargs)


# ------------------------------------------------------------------------------------------------------------------
# Unknown arguments (typos) are rejected with the closest valid name
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typo, suggestion",
    [("embedding_dim", "embed_dim"), ("depth", "depths"), ("window", "window_size"), ("num_label", "num_labels")],
)
def test_unknown_argument_is_rejected_with_the_closest_name(typo, suggestion):
    with pytest.raises(ValueError, match=rf"`{typo}` \(did you mean `{suggestion}`\?\)"):
        VideoSwinConfig(**{typo: 16})


def test_unknown_argument_without_a_close_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown argument\(s\) `zzz`\. Valid arguments: num_channels, image_size"):
        VideoSwinConfig(zzz=1)


def test_unknown_key_in_a_config_file_warns_with_the_closest_name(tmp_path):
    """transformers writes any attribute set on a config into its file, so a file's unknown keys are kept (the
    round trip must hold) but each is named with the closest valid key: a typo in a hand-edited file is not silent."""
    from transformers.testing_utils import CaptureLogger

    from transformers_videoswin.model import configuration_videoswin

    config = VideoSwinConfig(embed_dim=48)
    config.my_note = "kept"
    config.save_pretrained(tmp_path)
    path = tmp_path / "config.json"
    data = json.loads(path.read_text())
    data["embeding_dim"] = data.pop("embed_dim")
    path.write_text(json.dumps(data))
    with CaptureLogger(configuration_videoswin.logger) as captured:
        loaded = VideoSwinConfig.from_pretrained(tmp_path)
    assert "`embeding_dim` (did you mean `embed_dim`?)" in captured.out and "`my_note`" in captured.out
    assert loaded.my_note == "kept" and loaded.embed_dim == 96


def test_everything_a_saved_config_holds_is_accepted(tmp_path):
    from transformers import AutoConfig

    config = VideoSwinConfig(
        embed_dim=48,
        num_labels=3,
        output_attentions=True,
        attn_implementation="eager",
        out_features=["stage1"],
        problem_type="multi_label_classification",
        dtype="bfloat16",
    )
    config.register_for_auto_class()  # writes auto_map, as the converter and the training script do
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path).to_dict()
    assert loaded.pop("_name_or_path") == str(tmp_path)
    expected = config.to_dict()
    expected.pop("_name_or_path")
    assert loaded == expected
    # Keys of transformers 4 configs and derived keys of older files of ours are still read.
    assert VideoSwinConfig(torchscript=False, tie_word_embeddings=False, hidden_size=768, num_layers=4).embed_dim == 96
