"""Fine-tuning support: recipes and clip transforms, dataset adapters with corrupt-video skipping, the Trainer
subclass with Video Swin parameter groups, and the atomic output directory (used by
`examples/run_video_classification.py`)."""

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
    IndexSampler,
    StreamingVideoClipDataset,
    TooManyCorruptVideos,
    VideoClipDataset,
    collate_clips,
    label_names_from_features,
    load_annotation_lists,
    load_video_dataset,
    make_index_sampler,
    prepare_video_column,
    read_annotation_list,
    read_label_names,
    resolve_video_source,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RECIPES",
    "ClipLoader",
    "CorruptVideoCheckCallback",
    "CorruptVideoTracker",
    "IndexSampler",
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
    "label_names_from_features",
    "load_annotation_lists",
    "load_video_dataset",
    "make_index_sampler",
    "prepare_video_column",
    "read_annotation_list",
    "read_label_names",
    "resolve_video_source",
]
