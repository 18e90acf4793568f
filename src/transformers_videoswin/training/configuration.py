"""From command-line settings to a model: recipe defaults for the optimiser, `--config_overrides`, the config (from
a variant, a config directory or the checkpoint being fine-tuned) and the model (fine-tuned, inflated or new)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from transformers import AutoConfig, AutoModelForVideoClassification

from ..model.configuration_videoswin import VARIANTS, VideoSwinConfig
from ..model.modeling_videoswin import VideoSwinForVideoClassification
from .transforms import Recipe

# Optimiser settings that a recipe supplies unless the command line (or JSON/YAML file) sets them.
RECIPE_TRAINING_KEYS = ("learning_rate", "weight_decay", "lr_scheduler_type", "warmup_steps", "label_smoothing_factor")

# Keys of a loaded config that describe the old head or the saved file, not the architecture.
_NOT_ARCHITECTURE = (
    "id2label", "label2id", "num_labels", "architectures", "auto_map", "transformers_version", "model_type",
    "out_features", "out_indices", "_out_features", "_out_indices", "stage_names",
)  # fmt: skip


def explicitly_given(argv: list[str]) -> set[str]:
    """Names of the options set on the command line (or the keys of a single JSON/YAML arguments file)."""
    if len(argv) == 1 and argv[0].endswith((".json", ".yaml", ".yml")):
        path = Path(argv[0])
        if path.suffix == ".json":
            return set(json.loads(path.read_text()))
        import yaml

        return set(yaml.safe_load(path.read_text()))
    return {arg[2:].split("=", 1)[0].replace("-", "_") for arg in argv if arg.startswith("--")}


def apply_recipe_defaults(training_args, recipe: Recipe, explicit: set[str]) -> None:
    """Set the recipe's optimiser settings (AdamW lr, weight decay, cosine schedule, warmup as a fraction of
    training, label smoothing) on `training_args`, except those in `explicit`."""
    values = {
        "learning_rate": recipe.learning_rate,
        "weight_decay": recipe.weight_decay,
        "lr_scheduler_type": "cosine",
        "warmup_steps": recipe.warmup_epochs / recipe.num_train_epochs,
        "label_smoothing_factor": recipe.label_smoothing,
    }
    for key in RECIPE_TRAINING_KEYS:
        if key not in explicit:
            setattr(training_args, key, values[key])


def parse_config_overrides(text: str | None) -> dict:
    """'a=1,b=[1,2],c=gelu' -> {'a': 1, 'b': [1, 2], 'c': 'gelu'} (commas inside brackets do not split)."""
    if not text:
        return {}
    items, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    overrides = {}
    for item in filter(None, (i.strip() for i in items)):
        if "=" not in item:
            raise ValueError(f"--config_overrides items must look like key=value, got {item!r}.")
        key, value = (s.strip() for s in item.split("=", 1))
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


def build_config(
    labels: list[str],
    recipe: Recipe,
    model_name_or_path: str | None = None,
    config_name: str | None = None,
    overrides: dict | None = None,
    **hub_kwargs,
) -> VideoSwinConfig:
    """The architecture of `model_name_or_path` (fine-tuning), of `config_name` (a variant name or a config
    directory / Hub id) or the tiny variant, with `overrides`, the recipe's input shape and the dataset's labels."""
    if model_name_or_path and not config_name:
        values = AutoConfig.from_pretrained(model_name_or_path, **hub_kwargs).to_dict()
    elif config_name in VARIANTS:
        values = dict(VARIANTS[config_name])
    elif config_name:
        values = AutoConfig.from_pretrained(config_name, cache_dir=hub_kwargs.get("cache_dir")).to_dict()
    else:
        values = dict(VARIANTS["tiny"])
    for key in _NOT_ARCHITECTURE:
        values.pop(key, None)
    values.update(overrides or {})
    values.update(num_frames=recipe.num_frames, image_size=recipe.image_size)
    id2label = dict(enumerate(labels))
    return VideoSwinConfig(**values, id2label=id2label, label2id={name: i for i, name in id2label.items()})


def build_model(
    config: VideoSwinConfig,
    model_name_or_path: str | None = None,
    image_model_name_or_path: str | None = None,
    **hub_kwargs,
):
    """Fine-tune `model_name_or_path` (a head of another size is re-initialised), inflate the 2D ImageNet Swin
    `image_model_name_or_path` into `config`'s architecture, or build `config` from scratch."""
    if model_name_or_path:
        return AutoModelForVideoClassification.from_pretrained(
            model_name_or_path, config=config, ignore_mismatched_sizes=True, **hub_kwargs
        )
    if image_model_name_or_path:
        from ..checkpoints.inflate import inflate_image_swin

        fields = set(VideoSwinConfig.__dataclass_fields__)
        skip = {"window_size", "patch_size", "embed_dim", "depths", "num_heads", "model_type", "id2label", "label2id"}
        skip |= {"_out_features", "_out_indices"}
        keep = {k: v for k, v in config.to_dict().items() if k in fields and k not in skip}
        return inflate_image_swin(
            image_model_name_or_path,
            window_size=config.window_size,
            patch_size=config.patch_size,
            target="classification",
            id2label=config.id2label,
            label2id=config.label2id,
            **keep,
        )
    return VideoSwinForVideoClassification(config)


__all__ = [
    "RECIPE_TRAINING_KEYS",
    "apply_recipe_defaults",
    "build_config",
    "build_model",
    "explicitly_given",
    "parse_config_overrides",
]
