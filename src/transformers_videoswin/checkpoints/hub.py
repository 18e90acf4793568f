"""Writing Hub-ready model directories: weights, config with `auto_map`, the code, and processor configs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel

from ..processing.image_processing_videoswin import VideoSwinImageProcessor
from ..processing.video_processing_videoswin import VideoSwinVideoProcessor

# `trust_remote_code=True` finds every class through `auto_map`; the code files are saved beside the weights.
AUTO_MAP = {
    "AutoConfig": "configuration_videoswin.VideoSwinConfig",
    "AutoModel": "modeling_videoswin.VideoSwinModel",
    "AutoModelForVideoClassification": "modeling_videoswin.VideoSwinForVideoClassification",
    "AutoBackbone": "modeling_videoswin.VideoSwinBackbone",
}


@contextmanager
def _saved_as_remote_code(obj: Any, auto_class: str) -> Iterator[None]:
    """Make `save_pretrained` copy `obj`'s code and write its `auto_map` entry, without leaving the class
    registered afterwards (`register_for_auto_class` would affect every later save in the process)."""
    cls = type(obj)
    previous = cls.__dict__.get("_auto_class")
    cls._auto_class = auto_class
    try:
        yield
    finally:
        if previous is None:
            del cls._auto_class
        else:
            cls._auto_class = previous


def official_processors(
    image_size: int, num_frames: int, sampling: str
) -> tuple[VideoSwinImageProcessor, VideoSwinVideoProcessor]:
    """Processors for the official single-view test transform: `num_frames` frames sampled with `sampling`
    ("kinetics": stride 2, centre clip; "ssv2": uniform segments, middle frames), short side `image_size`, centre
    crop, ImageNet mean/std."""
    size = {"size": {"shortest_edge": image_size}, "crop_size": {"height": image_size, "width": image_size}}
    video_processor = VideoSwinVideoProcessor(num_frames=num_frames, sampling=sampling, frame_interval=2, **size)
    return VideoSwinImageProcessor(**size), video_processor


def save_processors(
    output_dir: str | os.PathLike, image_processor: VideoSwinImageProcessor, video_processor: VideoSwinVideoProcessor
) -> None:
    """Save both processor configs with their `auto_map` and code files."""
    with _saved_as_remote_code(video_processor, "AutoVideoProcessor"):
        video_processor.save_pretrained(output_dir)
    with _saved_as_remote_code(image_processor, "AutoImageProcessor"):
        image_processor.save_pretrained(output_dir)


def save_hub_directory(
    model: PreTrainedModel,
    output_dir: str | os.PathLike,
    *,
    sampling: str = "kinetics",
    processors: tuple[VideoSwinImageProcessor, VideoSwinVideoProcessor] | None = None,
    model_card: str | None = None,
) -> Path:
    """Save `model` (safetensors), its config with `auto_map`, the model and processor code, processor configs
    (`processors`, by default the official test transform for the model's input size and `sampling`) and optionally
    a README.md. The copied code files import each other with single-dot relative imports, so the directory loads
    with `trust_remote_code=True` where this package is not installed."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "_orig_mod", model)  # a torch.compile'd model saves its original module
    model.config.auto_map = dict(AUTO_MAP)
    model.config.architectures = [type(model).__name__]
    with _saved_as_remote_code(model, "AutoModelForVideoClassification"):
        model.save_pretrained(output_dir)
    if processors is None:
        processors = official_processors(model.config.image_size, model.config.num_frames, sampling)
    save_processors(output_dir, *processors)
    if model_card is not None:
        (output_dir / "README.md").write_text(model_card, encoding="utf-8")
    return output_dir


def push_to_hub(output_dir: str | os.PathLike, repo_id: str, private: bool = False) -> str:
    """Upload a directory written by `save_hub_directory`; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    return str(api.upload_folder(folder_path=str(output_dir), repo_id=repo_id, commit_message="Upload Video Swin"))
