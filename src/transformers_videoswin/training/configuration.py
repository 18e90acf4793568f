"""From settings to a model: the config (from a variant, a config directory or the checkpoint being fine-tuned, with
overrides) and the model (fine-tuned, inflated or new)."""

from __future__ import annotations

import dataclasses

from huggingface_hub.dataclasses import type_validator
from transformers import AutoModelForVideoClassification
from transformers.activations import ACT2FN

from ..model.configuration_videoswin import VARIANTS, VideoSwinConfig
from ..model.modeling_videoswin import VideoSwinForVideoClassification
from .transforms import Recipe

# Keys of a loaded config that describe the old head or the saved file, not the architecture.
_NOT_ARCHITECTURE = (
    "id2label", "label2id", "num_labels", "architectures", "auto_map", "transformers_version", "model_type",
    "out_features", "out_indices", "_out_features", "_out_indices", "stage_names",
)  # fmt: skip


def build_config(
    labels: list[str],
    recipe: Recipe,
    model_name_or_path: str | None = None,
    config_name: str | None = None,
    overrides: dict | None = None,
    **hub_kwargs,
) -> VideoSwinConfig:
    """The architecture of `model_name_or_path` (fine-tuning), of `config_name` (a variant name or a config
    directory / Hub id) or the tiny variant, with `overrides`, the recipe's input shape and the dataset's labels.

    A value of the wrong type, or an activation transformers does not have, is a ValueError naming the field and
    where it came from."""
    if config_name in VARIANTS or not (config_name or model_name_or_path):
        source = f"the {config_name or 'tiny'} variant"
        values = dict(VARIANTS[config_name or "tiny"])
    else:  # the file's values, not yet a config: its checks would fail on a value of the wrong type
        source = config_name or model_name_or_path
        kwargs = {"cache_dir": hub_kwargs.get("cache_dir")} if config_name else hub_kwargs
        values, _ = VideoSwinConfig.get_config_dict(source, **kwargs)
    for key in _NOT_ARCHITECTURE:
        values.pop(key, None)
    _check_values(values, f"from {source}")
    _check_values(overrides or {}, "from the overrides")
    values.update(overrides or {})
    values.update(num_frames=recipe.num_frames, image_size=recipe.image_size)
    id2label = dict(enumerate(labels))
    return VideoSwinConfig(**values, id2label=id2label, label2id={name: i for i, name in id2label.items()})


def _check_values(values: dict, origin: str) -> None:
    """The values of `VideoSwinConfig`'s own fields have the field's type, and `hidden_act` is an activation of
    transformers, checked per source before the sources are merged, so that the error says where a value came from
    (the config's own `@strict` checks run on the merged values)."""
    types = {field.name: field.type for field in dataclasses.fields(VideoSwinConfig)}
    for name in VideoSwinConfig.__annotations__:
        if name.startswith("_") or name not in values:
            continue
        try:
            type_validator(name, values[name], types[name])
        except TypeError:
            expected = types[name].__name__ if isinstance(types[name], type) else types[name]
            raise ValueError(
                f"The configuration's `{name}` is {values[name]!r} ({origin}); expected {expected}."
            ) from None
    if "hidden_act" in values and values["hidden_act"] not in ACT2FN:
        raise ValueError(
            f"The configuration's `hidden_act` is {values['hidden_act']!r} ({origin}); expected one of "
            f"{sorted(ACT2FN)}."
        )


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


__all__ = ["build_config", "build_model"]
