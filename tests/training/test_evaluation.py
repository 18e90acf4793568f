"""Evaluation helpers of a fine-tuning run: top-k metrics for Trainer and the final multi-view evaluation."""

from __future__ import annotations

import datasets
import numpy as np
import torch
from synthetic_videos import encode_mp4, render_clip
from transformers import EvalPrediction

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification
from transformers_videoswin.processing.multiview import classify_multiview
from transformers_videoswin.training import build_processors, get_recipe
from transformers_videoswin.training.evaluation import build_compute_metrics, evaluate_multiview


def test_compute_metrics_reports_top1_and_top5():
    logits = np.array([[0.9, 0.1, 0.0], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]], dtype=np.float32)
    result = build_compute_metrics()(EvalPrediction(predictions=logits, label_ids=np.array([0, 1, 1])))
    assert result["top1_accuracy"] == result["accuracy"] == 1 / 3
    assert result["top5_accuracy"] == 1.0


def test_multiview_evaluation_is_classify_multiview_per_video_and_counts_bad_videos(tmp_path):
    torch.manual_seed(0)
    config = VideoSwinConfig(
        embed_dim=8, depths=[1, 1], num_heads=[1, 2], window_size=[2, 4, 4], num_frames=4, image_size=32, num_labels=2
    )
    model = VideoSwinForVideoClassification(config).eval()
    recipe = get_recipe("kinetics", num_frames=4, frame_interval=1, image_size=32)
    processor = build_processors(recipe)[1]
    videos = [encode_mp4(render_clip(name, np.random.default_rng(i), 12, size=48)) for i, name in enumerate(
        ["move_left", "move_right"]
    )]  # fmt: skip
    rows = datasets.Dataset.from_dict({"video": [*videos, b"not a video"], "label": [0, 1, 0]})
    result = evaluate_multiview(model, rows, processor, num_clips=2, num_crops=3)
    assert result["skipped"] == 1
    probs = torch.cat(
        [classify_multiview(model, processor, [v], 2, 3, size={"shortest_edge": 32}) for v in videos]
    ).numpy()
    expected = float(np.mean(probs.argmax(-1) == np.array([0, 1])))
    assert result["top1_accuracy"] == expected and result["top5_accuracy"] == 1.0
