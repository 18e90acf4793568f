"""Multi-view inference as the reported accuracies were measured (mmaction ``average_clips='prob'``): softmax
probabilities averaged over the views of ``VideoSwinVideoProcessor(..., num_clips=C, num_crops=K)`` (4 x 3 for
Kinetics, 1 x 3 for SSv2), ``pixel_values`` ``[B, K * C, T, 3, H, W]``, ``max_testing_views`` at a time."""

from __future__ import annotations

import warnings

import torch

AVERAGE_MODES = ("prob", "score")


def parse_views(spec: str | tuple[int, int]) -> tuple[int, int]:
    """``"4x3"`` -> ``(num_clips=4, num_crops=3)``."""
    if isinstance(spec, (tuple, list)):
        clips, crops = (int(v) for v in spec)
    else:
        parts = str(spec).lower().replace("*", "x").split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"Views must look like CLIPSxCROPS, e.g. '4x3' or '1x1'; got {spec!r}.")
        clips, crops = (int(p) for p in parts)
    if clips < 1 or crops not in (1, 3):
        raise ValueError(f"Need at least one clip and 1 or 3 crops per clip; got {clips}x{crops}.")
    return clips, crops


@torch.no_grad()
def predict_multiview(
    model, pixel_values: torch.Tensor, max_testing_views: int | None = None, average: str = "prob"
) -> torch.Tensor:
    """``[B, num_labels]``: the mean softmax probabilities (``average="prob"``) or logits (``"score"``) of ``model``
    over the views ``pixel_values`` ``[B, V, T, C, H, W]`` (``[B, T, C, H, W]``: one view), ``max_testing_views`` at
    a time (``None``: all)."""
    if model.training:
        warnings.warn("The model is in training mode (dropout active); call model.eval() first.", stacklevel=3)
    if average not in AVERAGE_MODES:
        raise ValueError(f"`average` must be one of {AVERAGE_MODES}, got {average!r}.")
    pixel_values = pixel_values.unsqueeze(1) if pixel_values.ndim == 5 else pixel_values
    if pixel_values.ndim != 6:
        raise ValueError(f"Expected pixel_values [B, V, T, C, H, W], got shape {tuple(pixel_values.shape)}.")
    flat = pixel_values.flatten(0, 1)
    chunk = max_testing_views or flat.shape[0]
    if chunk < 1:
        raise ValueError(f"`max_testing_views` must be positive, got {max_testing_views}.")
    parameter = next(model.parameters())  # views move to the model's device and float dtype one chunk at a time
    dtype = parameter.dtype if parameter.is_floating_point() else flat.dtype
    scores = torch.cat(
        [model(pixel_values=views.to(parameter.device, dtype)).logits.float() for views in flat.split(chunk)]
    )
    scores = scores.softmax(-1) if average == "prob" else scores
    return scores.reshape(*pixel_values.shape[:2], -1).mean(dim=1)


def multiview_pixel_values(processor, videos, num_clips: int = 4, num_crops: int = 3, **kwargs) -> torch.Tensor:
    """Decode, sample and crop the views of ``videos`` with a ``VideoSwinVideoProcessor``: ``[B, V, T, C, H, W]``."""
    pixel_values = processor(videos, num_clips=num_clips, num_crops=num_crops, return_tensors="pt", **kwargs)
    pixel_values = pixel_values["pixel_values"]
    return pixel_values.unsqueeze(1) if pixel_values.ndim == 5 else pixel_values


def classify_multiview(
    model,
    processor,
    videos,
    num_clips: int = 4,
    num_crops: int = 3,
    max_testing_views: int | None = None,
    average: str = "prob",
    **processor_kwargs,
) -> torch.Tensor:
    """Video files to averaged probabilities ``[B, num_labels]``; ``processor_kwargs`` go to the processor
    (``num_frames`` defaults to ``model.config.num_frames``)."""
    if getattr(model.config, "num_frames", None) is not None:
        processor_kwargs.setdefault("num_frames", model.config.num_frames)
    pixel_values = multiview_pixel_values(processor, videos, num_clips, num_crops, **processor_kwargs)
    return predict_multiview(model, pixel_values, max_testing_views=max_testing_views, average=average)


__all__ = ["AVERAGE_MODES", "classify_multiview", "multiview_pixel_values", "parse_views", "predict_multiview"]
