"""Multi-view inference: averaged softmax over views, chunked forward passes, against a direct computation."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification, VideoSwinVideoProcessor
from transformers_videoswin.processing.multiview import (
    classify_multiview,
    multiview_pixel_values,
    parse_views,
    predict_multiview,
)
from transformers_videoswin.testing.utils import write_test_video


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = VideoSwinConfig(**tiny_config_kwargs(num_labels=5))
    return VideoSwinForVideoClassification(config).eval()


class CountingModel(torch.nn.Module):
    """Wraps a model and records the batch size of every forward call."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config
        self.batch_sizes = []

    def forward(self, pixel_values):
        self.batch_sizes.append(pixel_values.shape[0])
        return self.model(pixel_values=pixel_values)


def direct(model, pixel_values):
    """Mean over views of softmax(logits), one view at a time."""
    with torch.no_grad():
        out = []
        for views in pixel_values:
            probs = [model(pixel_values=view[None]).logits.softmax(-1)[0] for view in views]
            out.append(torch.stack(probs).mean(0))
    return torch.stack(out)


def test_average_matches_direct_computation_and_chunks(model):
    torch.manual_seed(1)
    pixel_values = torch.randn(2, 6, 4, 3, 32, 32)  # 2 videos x 6 views
    expected = direct(model, pixel_values)
    counting = CountingModel(model).eval()
    for chunk in (None, 5, 1):
        counting.batch_sizes.clear()
        probs = predict_multiview(counting, pixel_values, max_testing_views=chunk)
        assert probs.shape == (2, 5)
        torch.testing.assert_close(probs, expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(probs.sum(-1), torch.ones(2))
        size = chunk or 12
        assert counting.batch_sizes == [min(size, 12 - i) for i in range(0, 12, size)]
        assert len(counting.batch_sizes) == math.ceil(12 / size)
    # views differ, so averaging is not the same as taking one of them
    single = direct(model, pixel_values[:, :1])
    assert not torch.allclose(single, expected, atol=1e-4)


def test_score_average_and_single_view_input(model):
    torch.manual_seed(2)
    pixel_values = torch.randn(1, 3, 4, 3, 32, 32)
    with torch.no_grad():
        logits = model(pixel_values=pixel_values[0]).logits
    torch.testing.assert_close(predict_multiview(model, pixel_values, average="score"), logits.mean(0, keepdim=True))
    five_d = predict_multiview(model, pixel_values[:, 0])  # [B, T, C, H, W] is one view
    torch.testing.assert_close(five_d, logits[:1].softmax(-1))
    with pytest.raises(ValueError, match="average"):
        predict_multiview(model, pixel_values, average="max")
    model.train()
    try:
        with pytest.warns(UserWarning, match="eval"):
            predict_multiview(model, pixel_values[:, :1])
    finally:
        model.eval()


def test_classify_multiview_on_a_real_video(model, tmp_path):
    video = write_test_video(tmp_path / "clip.mp4", 40, 48, 80)
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    probs = classify_multiview(model, processor, [str(video)], num_clips=2, num_crops=3, max_testing_views=4)
    pixel_values = multiview_pixel_values(processor, [str(video)], 2, 3, num_frames=model.config.num_frames)
    assert pixel_values.shape == (1, 6, 8, 3, 32, 32)
    torch.testing.assert_close(probs, direct(model, pixel_values), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("spec", "expected"), [("4x3", (4, 3)), ("1X1", (1, 1)), ("1*3", (1, 3)), ((2, 1), (2, 1))])
def test_parse_views(spec, expected):
    assert parse_views(spec) == expected


@pytest.mark.parametrize("spec", ["4", "4x2", "0x3", "axb"])
def test_parse_views_rejects(spec):
    with pytest.raises(ValueError):
        parse_views(spec)
