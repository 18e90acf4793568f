"""Evaluation of a fine-tuning run: top-k metrics for `Trainer`, and the final multi-view evaluation (through `VideoSwinVideoProcessor` and :mod:`..processing.multiview`, as
`classify_multiview` does at inference)."""

from __future__ import annotations

import logging

import numpy as np
import torch

from ..data.loading import resolve_video_source
from ..processing.decoding import VideoDecodeError
from ..processing.multiview import classify_multiview
from .metrics import TopKAccuracy, top_k_accuracy

logger = logging.getLogger(__name__)


def build_compute_metrics():
    """`compute_metrics` for `Trainer`: top-1 (also as `accuracy`) and top-5 accuracy, gathered across processes."""
    metric = TopKAccuracy(keep_in_memory=True)

    def compute_metrics(eval_pred) -> dict:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        result = metric.compute(
            predictions=np.asarray(logits, dtype=np.float32), references=eval_pred.label_ids, top_k=(1, 5)
        )
        result["accuracy"] = result["top1_accuracy"]
        return result

    return compute_metrics


@torch.no_grad()
def evaluate_multiview(
    model,
    dataset,
    video_processor,
    num_clips: int,
    num_crops: int,
    video_column: str = "video",
    label_column: str = "label",
    data_root: str | None = None,
    decode_backend: str = "auto",
    max_testing_views: int | None = None,
) -> dict:
    """Top-1/top-5 accuracy of the softmax averaged over `num_clips` x `num_crops` views per video (the official
    test protocol: short side = crop size, three crops along the longer side). Undecodable videos are skipped and
    counted (`skipped`)."""
    model.eval()
    short_side = video_processor.crop_size["height"]
    all_probs, all_labels, skipped = [], [], 0
    for row in dataset:
        source, name = resolve_video_source(row[video_column], data_root)
        try:
            probs = classify_multiview(
                model,
                video_processor,
                [source],
                num_clips=num_clips,
                num_crops=num_crops,
                max_testing_views=max_testing_views,
                size={"shortest_edge": short_side},
                decode_backend=decode_backend,
            )
        except VideoDecodeError as error:
            logger.warning("Multi-view evaluation skips %s: %s", name, error)
            skipped += 1
            continue
        all_probs.append(probs.cpu())
        all_labels.append(int(row[label_column]))
    if not all_probs:
        return {"skipped": skipped}
    result = top_k_accuracy(torch.cat(all_probs).numpy(), np.asarray(all_labels), (1, 5))
    result["skipped"] = skipped
    return result


__all__ = ["build_compute_metrics", "evaluate_multiview"]
