"""Clip times on a variable-frame-rate video: windows, `fps` sampling and views report the frames' own presentation
times (read here with PyAV, independently of the decoders), not frame index / average frame rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification, VideoSwinVideoProcessor
from transformers_videoswin.data.sources import file_entries
from transformers_videoswin.inference import ClipPlan, run_inference
from transformers_videoswin.processing.decoding import torchcodec_available
from transformers_videoswin.testing.utils import write_test_video

# 20 frames at 25 fps, 10 at 5 fps, 20 at 50 fps: the average rate (15.6 fps) puts frame 30 0.9 s early
VFR_TIMES = np.round(
    np.concatenate([np.arange(20) * 0.04, 0.8 + np.arange(1, 11) * 0.2, 2.8 + np.arange(1, 21) * 0.02]), 3
)
BACKENDS = [
    "pyav",
    pytest.param("torchcodec", marks=pytest.mark.skipif(not torchcodec_available(), reason="no torchcodec")),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("vfr")
    torch.manual_seed(0)
    model = VideoSwinForVideoClassification(VideoSwinConfig(**tiny_config_kwargs())).eval()
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    video = write_test_video(root / "vfr.mp4", len(VFR_TIMES), 64, 96, frame_times=VFR_TIMES)
    return {"model": model, "processor": processor, "video": str(video)}


def presentation_times(path: str) -> np.ndarray:
    """Every frame's presentation time in seconds, as PyAV decodes them."""
    import av

    with av.open(path) as container:
        return np.array([float(frame.pts * frame.time_base) for frame in container.decode(video=0)])


def _run(setup, plan: ClipPlan) -> dict[str, torch.Tensor]:
    summary, sink = run_inference(
        setup["model"].videoswin, setup["processor"], plan, file_entries([setup["video"]]), batch_size=4
    )
    assert (summary.ok, summary.failed) == (1, 0)
    return sink.results[0].tensors


@pytest.mark.parametrize("backend", BACKENDS)
def test_window_times_are_presentation_times_on_a_variable_frame_rate(setup, backend):
    pts = presentation_times(setup["video"])
    np.testing.assert_allclose(pts, VFR_TIMES, atol=1e-6)
    tensors = _run(setup, ClipPlan(window=4, stride=4, decode_backend=backend))
    first, last = tensors["frame_indices"][:, 0].numpy(), tensors["frame_indices"][:, -1].numpy()
    np.testing.assert_allclose(tensors["start_time"].numpy(), pts[first], atol=1e-6)
    np.testing.assert_allclose(tensors["end_time"].numpy()[:-1], pts[last[:-1] + 1], atol=1e-6)
    assert tensors["end_time"][-1].item() > pts[-1]  # the last window ends when the last frame does


@pytest.mark.parametrize("backend", BACKENDS)
def test_fps_sampling_selects_frames_by_timestamp(setup, backend):
    pts = presentation_times(setup["video"])
    tensors = _run(setup, ClipPlan(window=4, stride=4, fps=10, decode_backend=backend))
    instants = np.arange(int(np.ceil(pts[-1] * 10)) + 1) / 10  # every 0.1 s to the end
    on_screen = np.unique(np.searchsorted(pts, instants + 1e-6, side="right") - 1)
    # 25 fps stretch: 2.5 frames apart; 5 fps stretch (1.0 s .. 2.8 s): each frame once; 50 fps: every fifth frame
    assert on_screen.tolist() == [0, 2, 5, 7, 10, 12, 15, 17, 19, *range(20, 30), 34, 39, 44, 49]
    sampled = tensors["frame_indices"].reshape(-1).numpy()[: len(on_screen)]
    np.testing.assert_array_equal(sampled, on_screen)
    np.testing.assert_allclose(tensors["start_time"].numpy(), pts[tensors["frame_indices"][:, 0].numpy()], atol=1e-6)


def test_view_times_are_presentation_times(setup):
    pts = presentation_times(setup["video"])
    tensors = _run(setup, ClipPlan(num_frames=4, num_clips=3, frame_interval=2))  # clips at 3 offsets
    indices = tensors["frame_indices"].numpy()
    assert indices.min(axis=1).tolist() == [7, 21, 35]
    np.testing.assert_allclose(tensors["start_time"].numpy(), pts[indices.min(axis=1)], atol=1e-6)
    np.testing.assert_allclose(tensors["end_time"].numpy(), pts[indices.max(axis=1) + 1], atol=1e-6)
