"""From settings to a config: variants with overrides, saved configs."""

from __future__ import annotations

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
