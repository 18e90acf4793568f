"""The final output directory of a fine-tuning run, written atomically.

Everything (safetensors weights, config with ``auto_map``, the model code, processors, model card, run metadata) is
first written into a temporary directory next to the output directory, then each file is moved into place with
``os.replace``: a reader never sees a half-written file, and an interrupted save leaves the previous files intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

from transformers.dynamic_module_utils import custom_object_save

AUTO_MAP = {
    "AutoConfig": "configuration_videoswin.VideoSwinConfig",
    "AutoModel": "modeling_videoswin.VideoSwinModel",
    "AutoModelForVideoClassification": "modeling_videoswin.VideoSwinForVideoClassification",
    "AutoBackbone": "modeling_videoswin.VideoSwinBackbone",
}


def build_processors(recipe):
    """Image and video processors that reproduce the recipe's single-view evaluation transform."""
    from ..processing.image_processing_videoswin import VideoSwinImageProcessor
    from ..processing.video_processing_videoswin import VideoSwinVideoProcessor
    from .transforms import IMAGENET_MEAN, IMAGENET_STD, _short_side

    common = {
        "size": {"shortest_edge": _short_side(recipe)},
        "crop_size": {"height": recipe.image_size, "width": recipe.image_size},
        "image_mean": list(IMAGENET_MEAN),
        "image_std": list(IMAGENET_STD),
    }
    image_processor = VideoSwinImageProcessor(**common)
    video_processor = VideoSwinVideoProcessor(
        **common,
        num_frames=recipe.num_frames,
        sampling=recipe.sampling,
        frame_interval=recipe.frame_interval,
    )
    return image_processor, video_processor


def _format_metric(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def render_model_card(
    model, recipe, results: dict, labels: list[str], command: str, dataset: str | None, parameter_groups: str | None
) -> str:
    config = model.config
    metric_rows = "\n".join(
        f"| {key} | {_format_metric(value)} |"
        for key, value in sorted(results.items())
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    )
    top1 = results.get("eval_top1_accuracy")
    model_index = ""
    if isinstance(top1, float):
        model_index = f"""model-index:
- name: {Path(str(getattr(config, "_name_or_path", "") or "videoswin")).name or "videoswin"}
  results:
  - task:
      type: video-classification
    dataset:
      name: {dataset or "custom"}
      type: {dataset or "custom"}
    metrics:
    - type: accuracy
      value: {top1:.4f}
"""
    n_params = sum(p.numel() for p in model.parameters())
    return f"""---
library_name: transformers
pipeline_tag: video-classification
tags:
- video-classification
- videoswin
{model_index}---

# Video Swin Transformer fine-tuned on {dataset or "a custom dataset"}

Trained with `examples/run_video_classification.py` of transformers-videoswin ({n_params:,} parameters,
{len(labels)} classes).

## Results

| metric | value |
|---|---|
{metric_rows}

## Use

```python
import transformers_videoswin  # registers the classes (or pass trust_remote_code=True)
from transformers import pipeline

classifier = pipeline("video-classification", model="path/to/this/directory")
classifier("video.mp4")
```

## Training

- Recipe: `{recipe.name}` ({recipe.num_frames} frames, sampling `{recipe.sampling}`, interval {recipe.frame_interval},
  {recipe.image_size}x{recipe.image_size} crops, flip {recipe.flip_prob}, RandAugment {recipe.rand_augment_num_ops} ops,
  random erasing {recipe.random_erasing_prob})
- Architecture: embed_dim {config.embed_dim}, depths {list(config.depths)}, heads {list(config.num_heads)},
  window {list(config.window_size)}, patch {list(config.patch_size)}
- Command: `{command}`

```
{parameter_groups or ""}
```

Labels: {", ".join(labels[:50])}{" ..." if len(labels) > 50 else ""}
"""


def save_final_outputs(
    model,
    output_dir: str | os.PathLike,
    recipe,
    results: dict,
    labels: list[str],
    command: str,
    model_args=None,
    data_args=None,
    training_args=None,
    parameter_groups: str | None = None,
) -> Path:
    """Write model, code, processors, model card and run arguments into `output_dir` atomically (see module)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".final-", dir=output_dir))
    try:
        model = getattr(model, "_orig_mod", model)
        model.config.auto_map = dict(AUTO_MAP)
        model.config.architectures = [type(model).__name__]
        model.save_pretrained(staging, safe_serialization=True)
        custom_object_save(model, staging)  # the code files the auto_map points to, with relative imports
        try:
            image_processor, video_processor = build_processors(recipe)
            image_processor.save_pretrained(staging)
            video_processor.save_pretrained(staging)
        except ImportError:  # pragma: no cover - processors are part of the package
            pass
        dataset = getattr(data_args, "dataset_name", None) or getattr(data_args, "train_file", None)
        if dataset and os.path.exists(dataset):  # a local path: name it, do not publish the machine's layout
            dataset = Path(dataset).name
        if dataset == "videofolder" and getattr(data_args, "data_dir", None):
            dataset = Path(data_args.data_dir).name
        (staging / "README.md").write_text(
            render_model_card(model, recipe, results, labels, command, dataset, parameter_groups), encoding="utf-8"
        )
        run = {
            "command": command,
            "recipe": dataclasses.asdict(recipe),
            "model_args": dataclasses.asdict(model_args) if model_args is not None else None,
            "data_args": dataclasses.asdict(data_args) if data_args is not None else None,
        }
        (staging / "run_arguments.json").write_text(json.dumps(run, indent=2, default=str))
        if training_args is not None:
            (staging / "training_args.json").write_text(training_args.to_json_string())
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                target = output_dir / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output_dir


__all__ = ["AUTO_MAP", "build_processors", "render_model_card", "save_final_outputs"]
