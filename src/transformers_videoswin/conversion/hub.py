"""Writing Hub-ready model directories: weights, config with `auto_map` and the model code, processor configs."""

from __future__ import annotations

import os
from pathlib import Path

from transformers import PreTrainedModel
from transformers.dynamic_module_utils import custom_object_save

# The official test preprocessing (spec: "Training and testing recipes"): RGB, short side 224, 224 crops,
# ImageNet mean/std. The official 0-255 figures divided by 255 are exactly these.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Loading with `trust_remote_code=True` finds every class through `auto_map`; the code files sit beside the weights.
AUTO_MAP = {
    "AutoConfig": "configuration_videoswin.VideoSwinConfig",
    "AutoModel": "modeling_videoswin.VideoSwinModel",
    "AutoModelForVideoClassification": "modeling_videoswin.VideoSwinForVideoClassification",
    "AutoBackbone": "modeling_videoswin.VideoSwinBackbone",
}


def processor_kwargs(image_size: int = 224) -> dict:
    """Keyword arguments of the image/video processors that reproduce the official single-view test transform."""
    return {
        "size": {"shortest_edge": image_size},
        "crop_size": {"height": image_size, "width": image_size},
        "do_resize": True,
        "do_center_crop": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(IMAGENET_MEAN),
        "image_std": list(IMAGENET_STD),
    }


def save_processors(output_dir: str | os.PathLike, image_size: int = 224) -> None:
    """Write `preprocessor_config.json` and `video_preprocessor_config.json` for the official test transform.

    transformers' VideoMAE processors compute exactly this transform (resize the short side, centre crop, rescale,
    normalise; output `pixel_values` as `[B, T, C, H, W]`) and ship with transformers, so the directory needs no
    processor code of its own to work in `pipeline("video-classification")`.
    """
    from transformers import VideoMAEImageProcessor, VideoMAEVideoProcessor

    kwargs = processor_kwargs(image_size)
    VideoMAEImageProcessor(**kwargs).save_pretrained(output_dir)
    VideoMAEVideoProcessor(**kwargs).save_pretrained(output_dir)


def save_hub_directory(
    model: PreTrainedModel,
    output_dir: str | os.PathLike,
    model_card: str | None = None,
) -> Path:
    """Save `model` (safetensors), its config with `auto_map`, the model code and processor configs.

    The copied `configuration_videoswin.py` / `modeling_videoswin.py` import each other with single-dot relative
    imports, so the directory loads with `trust_remote_code=True` where this package is not installed.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.config.auto_map = dict(AUTO_MAP)
    model.save_pretrained(output_dir)
    # Copies the model's module and its relative imports (what `register_for_auto_class` would trigger, without
    # registering the class for every later `save_pretrained` in this process).
    custom_object_save(model, output_dir)
    save_processors(output_dir, model.config.image_size)
    if model_card is not None:
        (output_dir / "README.md").write_text(model_card, encoding="utf-8")
    return output_dir


def push_to_hub(output_dir: str | os.PathLike, repo_id: str, private: bool = False) -> str:
    """Upload a directory written by `save_hub_directory`; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    return str(api.upload_folder(folder_path=str(output_dir), repo_id=repo_id, commit_message="Upload Video Swin"))
