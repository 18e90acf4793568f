"""Multi-view inference: the protocol behind the reported accuracies.

The official test averages the softmax probabilities of several views per video (mmaction
``test_cfg=dict(average_clips='prob')``): 4 clips x 3 crops = 12 views for Kinetics, 1 clip x 3 crops for SSv2. Views
are run through the model in chunks of ``max_testing_views`` so memory stays bounded (the official option of the
same name).

Layout: ``VideoSwinVideoProcessor(..., num_clips=C, num_crops=K)`` returns ``pixel_values`` ``[B, V, T, 3, H, W]``
with ``V = K * C`` and view ``v = crop * C + clip`` (official order). The average does not depend on the order.

    processor = AutoVideoProcessor.from_pretrained(model_dir)
    model = AutoModelForVideoClassification.from_pretrained(model_dir).eval()
    probs = classify_multiview(model, processor, ["video.mp4"], num_clips=4, num_crops=3, max_testing_views=4)
"""

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
    model,
    pixel_values: torch.Tensor,
    max_testing_views: int | None = None,
    average: str = "prob",
) -> torch.Tensor:
    """Averaged prediction over views.

    Args:
        model: a video classification model taking ``pixel_values`` ``[N, T, C, H, W]`` and returning ``.logits``.
        pixel_values: ``[B, V, T, C, H, W]`` views per video (``[B, T, C, H, W]`` counts as one view).
        max_testing_views: at most this many clips go through the model at once (``None``: all ``B * V``).
        average: ``"prob"`` averages softmax probabilities (the official test), ``"score"`` averages logits.

    Returns:
        ``[B, num_labels]``: mean softmax probabilities (or mean logits) over the views of each video.
    """
    if getattr(model, "training", False):
        warnings.warn(
            "predict_multiview: the model is in training mode (dropout active); call model.eval() first.",
            stacklevel=3,
        )
    if average not in AVERAGE_MODES:
        raise ValueError(f"`average` must be one of {AVERAGE_MODES}, got {average!r}.")
    if pixel_values.ndim == 5:
        pixel_values = pixel_values.unsqueeze(1)
    if pixel_values.ndim != 6:
        raise ValueError(f"Expected pixel_values [B, V, T, C, H, W], got shape {tuple(pixel_values.shape)}.")
    batch, views = pixel_values.shape[:2]
    flat = pixel_values.reshape(batch * views, *pixel_values.shape[2:])
    chunk = max_testing_views or flat.shape[0]
    if chunk < 1:
        raise ValueError(f"`max_testing_views` must be positive, got {max_testing_views}.")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else flat.device
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else flat.dtype
    scores = []
    for start in range(0, flat.shape[0], chunk):
        logits = model(pixel_values=flat[start : start + chunk].to(device=device, dtype=dtype)).logits.float()
        scores.append(logits.softmax(-1) if average == "prob" else logits)
    scores = torch.cat(scores).reshape(batch, views, -1)
    return scores.mean(dim=1)


def multiview_pixel_values(processor, videos, num_clips: int = 4, num_crops: int = 3, **kwargs) -> torch.Tensor:
    """Decode, sample and crop the views of ``videos`` with a ``VideoSwinVideoProcessor``: ``[B, V, T, C, H, W]``."""
    out = processor(videos, num_clips=num_clips, num_crops=num_crops, return_tensors="pt", **kwargs)
    pixel_values = out["pixel_values"]
    if pixel_values.ndim == 5:
        pixel_values = pixel_values.unsqueeze(1)
    return pixel_values


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
    """One call from video files to averaged probabilities ``[B, num_labels]`` (see module docstring).

    ``processor_kwargs`` go to the processor (e.g. ``sampling="ssv2"``, ``num_frames=32``, ``frame_interval=2``);
    ``num_frames`` defaults to ``model.config.num_frames``.
    """
    processor_kwargs.setdefault("num_frames", getattr(model.config, "num_frames", None))
    if processor_kwargs["num_frames"] is None:
        processor_kwargs.pop("num_frames")
    pixel_values = multiview_pixel_values(processor, videos, num_clips, num_crops, **processor_kwargs)
    return predict_multiview(model, pixel_values, max_testing_views=max_testing_views, average=average)


__all__ = ["AVERAGE_MODES", "classify_multiview", "multiview_pixel_values", "parse_views", "predict_multiview"]
