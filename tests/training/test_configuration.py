"""From settings to a config: variants with overrides, saved configs."""

from __future__ import annotations

import json

import pytest

from transformers_videoswin import VideoSwinConfig
from transformers_videoswin.training import get_recipe
from transformers_videoswin.training.configuration import build_config


def test_config_from_a_variant_with_overrides_the_recipe_shape_and_the_labels():
    recipe = get_recipe("kinetics", num_frames=8, image_size=32)
    config = build_config(
        ["a", "b"], recipe, config_name="tiny", overrides={"embed_dim": 8, "depths": [1, 1], "num_heads": [1, 2]}
    )
    assert (config.embed_dim, list(config.depths), config.num_frames, config.image_size) == (8, [1, 1], 8, 32)
    assert config.id2label == {0: "a", 1: "b"} and config.label2id == {"a": 0, "b": 1}


def test_a_saved_config_gives_its_architecture_but_not_its_head(tmp_path):
    VideoSwinConfig(embed_dim=8, depths=[1, 1], num_heads=[1, 2], num_labels=5).save_pretrained(tmp_path)
    config = build_config(["x", "y"], get_recipe("kinetics"), model_name_or_path=str(tmp_path))
    assert config.embed_dim == 8 and config.num_labels == 2 and config.num_frames == 32


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"hidden_act": "bogus"}, r"`hidden_act` is 'bogus' \(from the overrides\); expected one of .*'gelu'"),
        ({"depths": "1,1"}, r"`depths` is '1,1' \(from the overrides\); expected list\[int\] \| tuple\[int, \.\.\.\]"),
        ({"num_heads": [1, "2"]}, r"`num_heads` is \[1, '2'\]"),
        ({"qkv_bias": "no"}, r"`qkv_bias` is 'no' \(from the overrides\); expected bool"),
    ],
)
def test_a_value_of_the_wrong_kind_names_its_field(values, message):
    """Instead of a TypeError from the config's checks or a KeyError from the model's activation lookup."""
    with pytest.raises(ValueError, match=message):
        build_config(["a", "b"], get_recipe("kinetics"), config_name="tiny", overrides=values)


def test_a_saved_config_with_a_value_of_the_wrong_kind_names_the_field_and_the_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "videoswin", "depths": "2,2,6,2"}))
    with pytest.raises(ValueError, match=rf"`depths` is '2,2,6,2' \(from {tmp_path}\)"):
        build_config(["a", "b"], get_recipe("kinetics"), config_name=str(tmp_path))
    with pytest.raises(ValueError, match=rf"`depths` is '2,2,6,2' \(from {tmp_path}\)"):
        build_config(["a", "b"], get_recipe("kinetics"), model_name_or_path=str(tmp_path))
