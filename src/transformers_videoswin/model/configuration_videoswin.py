# Copyright 2026 The transformers-videoswin Authors. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Video Swin Transformer configuration."""

import dataclasses
import difflib

from huggingface_hub.dataclasses import strict
from transformers import GenerationConfig
from transformers.activations import ACT2FN
from transformers.backbone_utils import BackboneConfigMixin
from transformers.configuration_utils import PreTrainedConfig
from transformers.utils import auto_docstring, logging

logger = logging.get_logger(__name__)

# Architectures of the released models (spec: "Variants"). Everything not listed keeps the Swin-T defaults.
VARIANTS: dict[str, dict] = {
    "tiny": {},
    "small": {"depths": (2, 2, 18, 2)},
    "base": {"embed_dim": 128, "depths": (2, 2, 18, 2), "num_heads": (4, 8, 16, 32), "drop_path_rate": 0.3},
    "base-in22k": {"embed_dim": 128, "depths": (2, 2, 18, 2), "num_heads": (4, 8, 16, 32), "drop_path_rate": 0.2},
    "base-ssv2": {
        "embed_dim": 128,
        "depths": (2, 2, 18, 2),
        "num_heads": (4, 8, 16, 32),
        "window_size": (16, 7, 7),
        "drop_path_rate": 0.4,
    },
    "large": {"embed_dim": 192, "depths": (2, 2, 18, 2), "num_heads": (6, 12, 24, 48), "drop_path_rate": 0.2},
}

# Keys that older or hand-written config files may carry but that are derived here (see the properties below), and
# runtime choices that version 0.1 saved as architecture (the CPU strategy now lives in `cpu_windows.py`).
_DERIVED_KEYS = ("hidden_size", "num_layers", "num_stages", "stage_names")
_DROPPED_KEYS = ("window_strategy", "gradient_checkpointing_granularity")

# Arguments besides the dataclass fields that `PreTrainedConfig` consumes, or that `save_pretrained` writes.
_BASE_ARGUMENTS = (
    "model_type",
    "auto_map",
    "custom_pipelines",
    "num_labels",
    "name_or_path",
    "_name_or_path",
    "_commit_hash",
    "torch_dtype",
    "output_attentions",
    "attn_implementation",
    "experts_implementation",
    "_attn_implementation_internal",
    "_experts_implementation_internal",
    "per_layer_config",
    "out_features",
    "out_indices",
)
# Attributes every transformers 4 configuration had; config files written by it may still carry them.
_LEGACY_ARGUMENTS = (
    "torchscript",
    "use_bfloat16",
    "tf_legacy_loss",
    "pruned_heads",
    "tie_word_embeddings",
    "is_decoder",
    "cross_attention_hidden_size",
    "add_cross_attention",
    "tie_encoder_decoder",
    "finetuning_task",
    "tokenizer_class",
    "prefix",
    "bos_token_id",
    "pad_token_id",
    "eos_token_id",
    "sep_token_id",
    "decoder_start_token_id",
    "task_specific_params",
    "output_scores",
    "return_dict_in_generate",
    "remove_invalid_values",
    "use_cache",
)


@auto_docstring(
    custom_intro="""
    Configuration of a Video Swin Transformer (Liu et al., 2021). Defaults are Swin-T as released for Kinetics-400:
    patch 2x4x4, window 8x7x7, C=96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), 32 frames of 224x224.

    Unknown arguments are rejected with the closest valid name (a typo would otherwise be kept as an unused attribute
    and the default architecture built). A config file may hold keys this class does not know, since transformers
    writes every attribute set on a config into the file: they are kept, with a warning naming the closest valid key.
    """
)
@strict
class VideoSwinConfig(BackboneConfigMixin, PreTrainedConfig):
    r"""
    Args:
        num_channels (`int`, *optional*, defaults to 3):
            The number of input channels (3 for RGB).
        image_size (`int`, *optional*, defaults to 224):
            The spatial size of the clips the model was trained on (the processors read it).
        num_frames (`int`, *optional*, defaults to 32):
            The number of frames per clip the model was trained on: the processors' and the video-classification
            pipeline's default clip length. The model itself takes clips of any length.
        patch_size (`tuple[int, int, int]`, *optional*, defaults to `(2, 4, 4)`):
            The `(time, height, width)` size of the 3D patches of the patch embedding.
        embed_dim (`int`, *optional*, defaults to 96):
            The channel width C of the first stage; stage i has width `C * 2**i`.
        depths (`tuple[int, ...]`, *optional*, defaults to `(2, 2, 6, 2)`):
            The number of Swin blocks in each stage.
        num_heads (`tuple[int, ...]`, *optional*, defaults to `(3, 6, 12, 24)`):
            The number of attention heads in each stage; each must divide that stage's width.
        window_size (`tuple[int, int, int]`, *optional*, defaults to `(8, 7, 7)`):
            The `(time, height, width)` size of the 3D attention windows.
        mlp_ratio (`float`, *optional*, defaults to 4.0):
            The width of the MLP hidden layer relative to the stage width.
        qkv_bias (`bool`, *optional*, defaults to `True`):
            Whether the fused query/key/value projection has a bias.
        hidden_act (`str`, *optional*, defaults to `"gelu"`):
            The MLP activation (exact GELU in all released models).
        hidden_dropout_prob (`float`, *optional*, defaults to 0.0):
            The dropout after the patch embedding, the attention output projection and the MLP.
        attention_probs_dropout_prob (`float`, *optional*, defaults to 0.0):
            The dropout on the attention probabilities.
        drop_path_rate (`float`, *optional*, defaults to 0.1):
            The stochastic depth rate of the last block; it increases linearly from 0 over all blocks.
        classifier_dropout_prob (`float`, *optional*, defaults to 0.5):
            The dropout before the classification head (0.5 in the official I3DHead).
        layer_norm_eps (`float`, *optional*, defaults to 1e-05):
            The epsilon of every LayerNorm.
        initializer_range (`float`, *optional*, defaults to 0.02):
            The standard deviation of the truncated normal initialising linear layers and relative position bias
            tables.
        use_exact_relative_position_index (`bool`, *optional*, defaults to `False`):
            When a stage's effective window is smaller than `window_size`, the official code (and so every released
            checkpoint) slices the top-left `[:N, :N]` block of the full window's index. Set to `True` to recompute
            the geometrically correct index instead (for training new models at small resolutions). Leave `False`
            to reproduce released checkpoints.
        out_features (`list[str]`, *optional*):
            The stages returned by [`VideoSwinBackbone`], among `"stem"`, `"stage1"` ... `"stage4"` (the last stage
            by default).
        out_indices (`list[int]`, *optional*):
            The same stages by index into `stage_names` (0 is the stem); negative indices count from the end.

    Example:

    ```python
    >>> from transformers_videoswin import VideoSwinConfig, VideoSwinModel

    >>> configuration = VideoSwinConfig.from_variant("tiny")
    >>> model = VideoSwinModel(configuration)
    >>> configuration = model.config
    ```
    """

    model_type = "videoswin"
    attribute_map = {"num_attention_heads": "num_heads", "num_hidden_layers": "num_layers"}

    num_channels: int = 3
    image_size: int = 224
    # Read by the processors and the pipeline, not by the model (which takes any length). In a transformers checkout,
    # `utils/check_config_attributes.py` allows such a field per class: `SPECIAL_CASES_TO_ALLOW["VideoSwinConfig"]`.
    num_frames: int = 32
    patch_size: list[int] | tuple[int, ...] = (2, 4, 4)
    embed_dim: int = 96
    depths: list[int] | tuple[int, ...] = (2, 2, 6, 2)
    num_heads: list[int] | tuple[int, ...] = (3, 6, 12, 24)
    window_size: list[int] | tuple[int, ...] = (8, 7, 7)
    mlp_ratio: float | int = 4.0
    qkv_bias: bool = True
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.1
    classifier_dropout_prob: float | int = 0.5
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    use_exact_relative_position_index: bool = False
    _out_features: list[str] | None = None
    _out_indices: list[int] | None = None

    def __post_init__(self, **kwargs):
        self._reject_unknown_arguments(kwargs)
        for key in _DERIVED_KEYS + _DROPPED_KEYS:
            kwargs.pop(key, None)
        self.patch_size = tuple(self.patch_size)
        self.window_size = tuple(self.window_size)
        self.depths = tuple(self.depths)
        self.num_heads = tuple(self.num_heads)
        self.set_output_features_output_indices(
            out_indices=kwargs.pop("out_indices", None), out_features=kwargs.pop("out_features", None)
        )
        super().__post_init__(**kwargs)

    @classmethod
    def accepted_arguments(cls) -> set[str]:
        """Every keyword the configuration accepts: its fields, `PreTrainedConfig`'s own arguments, the generation
        parameters (which it drops), keys derived here, and transformers 4's common attributes."""
        fields = {field.name for field in dataclasses.fields(cls)}
        generation = set(GenerationConfig._get_default_generation_params())
        return fields | generation | {*_BASE_ARGUMENTS, *_LEGACY_ARGUMENTS, *_DERIVED_KEYS, *_DROPPED_KEYS}

    @classmethod
    def _describe_unknown(cls, unknown: list[str]) -> tuple[str, list[str]]:
        """Each unknown key with the closest valid argument, and the list of valid (public) arguments."""
        base_fields = {field.name for field in dataclasses.fields(PreTrainedConfig)}
        own = [f.name for f in dataclasses.fields(cls) if f.name not in base_fields and not f.name.startswith("_")]
        public = own + ["out_features", "out_indices", "num_labels", "id2label", "label2id", "problem_type"]
        public += ["output_hidden_states", "output_attentions", "return_dict", "dtype", "attn_implementation"]
        described = []
        for key in unknown:
            close = difflib.get_close_matches(key, public, n=1, cutoff=0.6)
            described.append(f"`{key}`" + (f" (did you mean `{close[0]}`?)" if close else ""))
        return ", ".join(described), public

    def _reject_unknown_arguments(self, kwargs: dict) -> None:
        """Raise a ValueError naming each unknown argument and the closest valid one (typos would be kept silently)."""
        accepted = self.accepted_arguments()
        unknown = [key for key in kwargs if key not in accepted]
        if unknown:
            described, public = self._describe_unknown(unknown)
            raise ValueError(
                f"{type(self).__name__} got unknown argument(s) {described}. Valid arguments: {', '.join(public)}."
            )

    @classmethod
    def from_dict(cls, config_dict: dict, **kwargs):
        """As `PreTrainedConfig.from_dict`; keys of the file that this class does not know are set as attributes (as
        transformers saves them) with a warning naming the closest valid key, instead of being rejected."""
        accepted = cls.accepted_arguments()
        unknown = {key: value for key, value in config_dict.items() if key not in accepted}
        if unknown:
            described, _ = cls._describe_unknown(list(unknown))
            logger.warning(
                f"The configuration file holds key(s) that {cls.__name__} does not use: {described}. They are kept "
                "as attributes and have no effect on the model."
            )
            config_dict = {key: value for key, value in config_dict.items() if key in accepted}
        result = super().from_dict(config_dict, **kwargs)
        config = result[0] if isinstance(result, tuple) else result
        for key, value in unknown.items():
            setattr(config, key, value)
        return result

    def validate_architecture(self) -> None:
        """Part of `@strict`-powered validation: a ValueError naming the field for any combination the model cannot be
        built from."""
        super().validate_architecture()
        for name in ("patch_size", "window_size"):
            value = getattr(self, name)
            if len(value) != 3 or any(not isinstance(v, int) or v <= 0 for v in value):
                raise ValueError(f"`{name}` must be three positive integers (time, height, width), got {value}.")
        for name in ("num_channels", "image_size", "num_frames", "embed_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if len(self.depths) == 0 or any(d <= 0 for d in self.depths):
            raise ValueError(f"`depths` must be a non-empty sequence of positive integers, got {self.depths}.")
        if len(self.num_heads) != len(self.depths):
            raise ValueError(
                f"`num_heads` must give one value per stage: {len(self.depths)} stages (`depths`={self.depths}) "
                f"but `num_heads`={self.num_heads}."
            )
        for stage, heads in enumerate(self.num_heads):
            width = self.embed_dim * 2**stage
            if heads <= 0 or width % heads != 0:
                raise ValueError(
                    f"`num_heads[{stage}]`={heads} must be positive and divide the width of stage {stage + 1} "
                    f"({width} = embed_dim * 2**{stage})."
                )
        if self.hidden_act not in ACT2FN:
            raise ValueError(
                f"`hidden_act` must be one of transformers' activations {sorted(ACT2FN)}, got {self.hidden_act!r}."
            )
        if self.mlp_ratio <= 0:
            raise ValueError(f"`mlp_ratio` must be positive, got {self.mlp_ratio}.")
        for name in (
            "hidden_dropout_prob",
            "attention_probs_dropout_prob",
            "drop_path_rate",
            "classifier_dropout_prob",
        ):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"`{name}` must be in [0, 1), got {value}.")

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def num_layers(self) -> int:
        return len(self.depths)

    @property
    def hidden_size(self) -> int:
        """Channel width after the last stage (and of the pooled output)."""
        return self.embed_dim * 2 ** (len(self.depths) - 1)

    @property
    def stage_names(self) -> list[str]:
        return ["stem"] + [f"stage{idx}" for idx in range(1, len(self.depths) + 1)]

    @classmethod
    def from_variant(cls, name: str, **kwargs) -> "VideoSwinConfig":
        """A released architecture by name (`tiny`, `small`, `base`, `base-in22k`, `base-ssv2`, `large`)."""
        if name not in VARIANTS:
            raise ValueError(f"Unknown Video Swin variant {name!r}; expected one of {sorted(VARIANTS)}.")
        return cls(**{**VARIANTS[name], **kwargs})


__all__ = ["VideoSwinConfig", "VARIANTS"]
