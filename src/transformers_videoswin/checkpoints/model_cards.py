"""Model cards, rendered from templates with `huggingface_hub.ModelCardData` metadata: the released checkpoints
(`templates/model_card.md`) and fine-tuned models (`templates/fine_tuned_card.md`)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from string import Template

from huggingface_hub import EvalResult, ModelCardData

from ..model.configuration_videoswin import VideoSwinConfig
from .official import parse_released_name
from .released import RELEASED_CHECKPOINTS, ReleasedCheckpoint

DEFAULT_NAMESPACE = "videoswin"
LICENSE = "apache-2.0"  # the license of the official repository and its released weights
_DATASET_IDS = {"kinetics400": "kinetics-400", "kinetics600": "kinetics-600", "ssv2": "something-something-v2"}
_NUM_CLASSES = {"kinetics400": 400, "kinetics600": 600, "ssv2": 174}
_SAMPLING = {
    "kinetics400": "32 frames at a stride of 2 (4 clips spread uniformly over the video at test time)",
    "kinetics600": "32 frames at a stride of 2 (4 clips spread uniformly over the video at test time)",
    "ssv2": "32 uniform segments over the whole video, the middle frame of each",
}


def _template(name: str = "model_card.md") -> Template:
    return Template(files("transformers_videoswin.checkpoints").joinpath("templates", name).read_text("utf-8"))


def _views(checkpoint: ReleasedCheckpoint) -> str:
    return f"{checkpoint.clips} clip{'s' if checkpoint.clips > 1 else ''} x {checkpoint.crops} crops"


def card_metadata(checkpoint: ReleasedCheckpoint) -> ModelCardData:
    """YAML metadata: license, datasets, pipeline tag and, when accuracy was reported, the model-index."""
    dataset_id = _DATASET_IDS[checkpoint.label_set]
    protocol = f"{_views(checkpoint)}, short side 224, softmax averaged over views"
    results = []
    for metric_type, name, value in (
        ("accuracy", "Top-1 accuracy", checkpoint.top1),
        ("top-5-accuracy", "Top-5 accuracy", checkpoint.top5),
    ):
        if value is not None:
            results.append(
                EvalResult(
                    task_type="video-classification",
                    task_name="Video Classification",
                    dataset_type=dataset_id,
                    dataset_name=checkpoint.dataset,
                    dataset_split="validation",
                    metric_type=metric_type,
                    metric_name=name,
                    metric_value=value,
                    metric_config=protocol,
                    source_name="Video Swin Transformer (Liu et al., 2021)",
                    source_url="https://github.com/SwinTransformer/Video-Swin-Transformer",
                )
            )
    return ModelCardData(
        license=LICENSE,
        library_name="transformers",
        pipeline_tag="video-classification",
        datasets=[dataset_id],
        tags=["video-classification", "video-swin", "vision"],
        model_name=checkpoint.name,
        eval_results=results or None,
    )


def render_card(checkpoint: ReleasedCheckpoint, repo_id: str | None = None) -> str:
    """The model card of one released checkpoint; `repo_id` is where it will live (used in the usage snippets)."""
    config = VideoSwinConfig.from_variant(checkpoint.variant)
    sizes = parse_released_name(checkpoint.filename)
    if checkpoint.top1 is None:
        results = "No accuracy was reported for this checkpoint."
    else:
        results = (
            f"{checkpoint.dataset} validation, {_views(checkpoint)} "
            f"({checkpoint.clips * checkpoint.crops} views): **top-1 {checkpoint.top1}%, top-5 {checkpoint.top5}%** "
            f"(official figures). {checkpoint.gflops} GFLOPs per view."
        )
    return _template().substitute(
        metadata=card_metadata(checkpoint).to_yaml(),
        title=checkpoint.name,
        description=checkpoint.description,
        filename=checkpoint.filename,
        url=checkpoint.url,
        name=checkpoint.name,
        repo_id=repo_id or f"{DEFAULT_NAMESPACE}/{checkpoint.name}",
        architecture=f"C={config.embed_dim}, depths {config.depths}, heads {config.num_heads}",
        patch="x".join(map(str, sizes["patch_size"])),
        window="x".join(map(str, sizes["window_size"])),
        params_m=checkpoint.params_m,
        pretrain=checkpoint.pretrain,
        num_classes=_NUM_CLASSES[checkpoint.label_set],
        dataset=checkpoint.dataset,
        num_frames=config.num_frames,
        results=results,
        sampling=_SAMPLING[checkpoint.label_set],
        views=_views(checkpoint),
    )


def write_model_cards(output_dir: str | os.PathLike, namespace: str = DEFAULT_NAMESPACE) -> list[Path]:
    """Render one `<checkpoint name>.md` per released checkpoint into `output_dir`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for checkpoint in RELEASED_CHECKPOINTS:
        path = output_dir / f"{checkpoint.name}.md"
        path.write_text(render_card(checkpoint, f"{namespace}/{checkpoint.name}"), encoding="utf-8")
        written.append(path)
    return written


def render_fine_tuned_card(
    model,
    recipe,
    results: dict,
    labels: list[str],
    command: str,
    dataset: str | None = None,
    parameter_groups: str | None = None,
) -> str:
    """The model card of a model fine-tuned by `examples/run_video_classification.py`: its results (and a
    model-index entry for the top-1 accuracy), recipe, architecture and command."""
    config = model.config
    top1 = results.get("eval_top1_accuracy")
    eval_results = None
    if isinstance(top1, float):
        eval_results = [
            EvalResult(
                task_type="video-classification",
                dataset_type=dataset or "custom",
                dataset_name=dataset or "custom",
                metric_type="accuracy",
                metric_value=round(top1, 4),
            )
        ]
    metadata = ModelCardData(
        library_name="transformers",
        pipeline_tag="video-classification",
        tags=["video-classification", "videoswin"],
        model_name=Path(str(getattr(config, "_name_or_path", "") or "videoswin")).name or "videoswin",
        eval_results=eval_results,
    )
    metric_rows = "\n".join(
        f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |"
        for key, value in sorted(results.items())
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    )
    return _template("fine_tuned_card.md").substitute(
        metadata=metadata.to_yaml(),
        dataset=dataset or "a custom dataset",
        num_parameters=f"{sum(p.numel() for p in model.parameters()):,}",
        num_labels=len(labels),
        metric_rows=metric_rows,
        recipe_name=recipe.name,
        recipe_details=f"{recipe.num_frames} frames, sampling `{recipe.sampling}`, interval {recipe.frame_interval}, "
        f"{recipe.image_size}x{recipe.image_size} crops, flip {recipe.flip_prob}, RandAugment "
        f"{recipe.rand_augment_num_ops} ops, random erasing {recipe.random_erasing_prob}",
        architecture=f"embed_dim {config.embed_dim}, depths {list(config.depths)}, heads {list(config.num_heads)}, "
        f"window {list(config.window_size)}, patch {list(config.patch_size)}",
        command=command,
        parameter_groups=parameter_groups or "",
        labels=", ".join(labels[:50]) + (" ..." if len(labels) > 50 else ""),
    )
