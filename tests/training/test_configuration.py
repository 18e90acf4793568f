"""From command-line settings to a config: recipe defaults, --config_overrides, variants and saved configs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from transformers_videoswin import VideoSwinConfig
from transformers_videoswin.training import get_recipe
from transformers_videoswin.training.configuration import (
    apply_recipe_defaults,
    build_config,
    explicitly_given,
    parse_config_overrides,
)


def test_config_overrides_parser():
    parsed = parse_config_overrides("embed_dim=32,depths=[1,1,2,1],num_heads=(1, 2,4,8),hidden_act=gelu")
    assert parsed == {"embed_dim": 32, "depths": [1, 1, 2, 1], "num_heads": (1, 2, 4, 8), "hidden_act": "gelu"}
    assert parse_config_overrides(None) == {}
    with pytest.raises(ValueError, match="key=value"):
        parse_config_overrides("embed_dim")


def test_explicit_options_from_the_command_line_and_from_a_file(tmp_path):
    assert explicitly_given(["--learning_rate", "1e-3", "--weight-decay=0.1", "x"]) == {
        "learning_rate",
        "weight_decay",
    }
    (tmp_path / "args.json").write_text(json.dumps({"learning_rate": 1e-3, "output_dir": "out"}))
    assert explicitly_given([str(tmp_path / "args.json")]) == {"learning_rate", "output_dir"}


def test_recipe_defaults_fill_only_what_the_command_line_left_open():
    args = SimpleNamespace(learning_rate=5e-5, weight_decay=0.0, lr_scheduler_type="linear", warmup_steps=0)
    args.label_smoothing_factor = 0.0
    apply_recipe_defaults(args, get_recipe("ssv2"), explicit={"learning_rate"})
    assert args.learning_rate == 5e-5  # given explicitly: kept
    assert (args.weight_decay, args.lr_scheduler_type, args.label_smoothing_factor) == (0.05, "cosine", 0.1)
    assert args.warmup_steps == pytest.approx(2.5 / 60)  # a fraction of training


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
