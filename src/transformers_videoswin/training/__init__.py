"""Fine-tuning support: recipes and clip transforms, clip datasets with corrupt-video skipping, and the Trainer
subclass with Video Swin parameter groups (used by `examples/run_video_classification.py`)."""

from .trainer import CorruptVideoCheckCallback, SetEpochCallback, VideoClassificationTrainer
from .transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RECIPES,
    Recipe,
    apply_video_transform,
    build_eval_transform,
    build_processors,
    build_train_transform,
    get_recipe,
)
from .video_datasets import (
    ClipLoader,
    CorruptVideoTracker,
    StreamingVideoClipDataset,
    TooManyCorruptVideos,
    VideoClipDataset,
    collate_clips,
    make_index_sampler,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RECIPES",
    "ClipLoader",
    "CorruptVideoCheckCallback",
    "CorruptVideoTracker",
    "Recipe",
    "SetEpochCallback",
    "StreamingVideoClipDataset",
    "TooManyCorruptVideos",
    "VideoClassificationTrainer",
    "VideoClipDataset",
    "apply_video_transform",
    "build_eval_transform",
    "build_processors",
    "build_train_transform",
    "collate_clips",
    "get_recipe",
    "make_index_sampler",
]
