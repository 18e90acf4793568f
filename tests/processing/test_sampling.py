"""Frame sampling: official mmaction ``SampleFrames`` semantics, worked out by hand for fixed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformers_videoswin.processing.sampling import (
    SAMPLING_PROTOCOLS,
    frames_at_rate,
    kinetics_clip_offsets,
    sample_indices,
    sample_kinetics_indices,
    sample_ssv2_indices,
    sample_uniform_indices,
    sliding_window_indices,
)


# --------------------------------------------------------------------------- Kinetics, test mode
def test_kinetics_test_single_clip_is_centered():
    # 300 frames, 32 x 2: valid starts 0..236, avg_interval 237, offset int(118.5) = 118
    indices = sample_kinetics_indices(300, 32, 2, num_clips=1, test_mode=True)
    assert indices.shape == (1, 32) and indices.dtype == np.int64
    np.testing.assert_array_equal(indices[0], 118 + 2 * np.arange(32))


def test_kinetics_test_four_clips_uniform_offsets():
    # avg_interval = (300 - 64 + 1) / 4 = 59.25; offsets int(k * 59.25 + 29.625) = 29, 88, 148, 207
    indices = sample_kinetics_indices(300, 32, 2, num_clips=4, test_mode=True)
    assert indices.shape == (4, 32)
    np.testing.assert_array_equal(indices[:, 0], [29, 88, 148, 207])
    np.testing.assert_array_equal(np.diff(indices, axis=1), np.full((4, 31), 2))


@pytest.mark.parametrize(
    ("num_video_frames", "expected_first_clip"),
    [
        (6, np.arange(0, 64, 2) % 6),  # shorter than a clip: loop over the video
        (63, np.arange(0, 64, 2) % 63),  # num_frames == span - 1: still the zero-offset branch
        (64, np.arange(0, 64, 2)),  # exactly one span: offset int(0.5) = 0
        (1, np.zeros(32, dtype=int)),
    ],
)
def test_kinetics_test_short_videos_loop(num_video_frames, expected_first_clip):
    indices = sample_kinetics_indices(num_video_frames, 32, 2, num_clips=4, test_mode=True)
    assert indices.shape == (4, 32)
    np.testing.assert_array_equal(indices[0], expected_first_clip)
    assert indices.min() >= 0 and indices.max() < num_video_frames


# --------------------------------------------------------------------------- Kinetics, training
def test_kinetics_train_offsets_stay_in_their_slice_and_cover_it():
    rng = np.random.default_rng(0)
    # avg_interval = (300 - 64 + 1) // 4 = 59: clip k starts in [59k, 59k + 59)
    offsets = np.stack([kinetics_clip_offsets(300, 64, 4, test_mode=False, generator=rng) for _ in range(2000)])
    for k in range(4):
        assert offsets[:, k].min() == 59 * k
        assert offsets[:, k].max() == 59 * k + 58


@pytest.mark.parametrize(
    ("num_video_frames", "num_clips", "check"),
    [
        (70, 4, lambda o: np.array_equal(o, [0, 1, 2, 3])),  # avg_interval 1 -> randint(1) == 0
        (66, 4, lambda o: np.all(np.diff(o) >= 0) and o.min() >= 0 and o.max() <= 2),  # sorted randint(3)
        (64, 4, lambda o: np.array_equal(o, [0, 0, 0, 1])),  # ratio 0.25, np.around (half to even)
        (10, 4, lambda o: np.array_equal(o, [0, 0, 0, 0])),  # too short: zeros
    ],
)
def test_kinetics_train_branches(num_video_frames, num_clips, check):
    offsets = kinetics_clip_offsets(
        num_video_frames, 64, num_clips, test_mode=False, generator=np.random.default_rng(1)
    )
    assert check(offsets), offsets


def test_kinetics_train_is_reproducible_with_a_generator():
    a = sample_kinetics_indices(500, 32, 2, test_mode=False, generator=np.random.default_rng(3))
    b = sample_kinetics_indices(500, 32, 2, test_mode=False, generator=np.random.default_rng(3))
    c = sample_kinetics_indices(500, 32, 2, test_mode=False, generator=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# --------------------------------------------------------------------------- SSv2
def test_ssv2_test_takes_segment_middles():
    # seg = 99 / 8 = 12.375; bounds round(seg * i) = 0 12 25 37 50 62 74 87 99 (np.round: 49.5 -> 50)
    indices = sample_ssv2_indices(100, 8, test_mode=True)
    np.testing.assert_array_equal(indices, [[6, 18, 31, 43, 56, 68, 80, 93]])


def test_ssv2_train_draws_inside_each_segment():
    bounds = np.array([0, 12, 25, 37, 50, 62, 74, 87, 99])
    rng = np.random.default_rng(0)
    draws = np.concatenate([sample_ssv2_indices(100, 8, generator=rng) for _ in range(3000)])
    np.testing.assert_array_equal(draws.min(0), bounds[:-1])
    np.testing.assert_array_equal(draws.max(0), bounds[1:])  # both ends inclusive, as the official randint


@pytest.mark.parametrize("num_video_frames", [1, 5, 31])
def test_ssv2_short_videos_repeat_frames(num_video_frames):
    for test_mode in (True, False):
        indices = sample_ssv2_indices(num_video_frames, 32, test_mode=test_mode, generator=np.random.default_rng(0))
        assert indices.shape == (1, 32)
        assert indices.min() >= 0 and indices.max() < num_video_frames
        if test_mode:
            assert np.all(np.diff(indices[0]) >= 0)


# --------------------------------------------------------------------------- uniform and dispatcher
def test_uniform():
    np.testing.assert_array_equal(sample_uniform_indices(10, 4), [[0, 3, 6, 9]])
    np.testing.assert_array_equal(sample_uniform_indices(3, 6), [[0, 0, 1, 1, 2, 2]])
    np.testing.assert_array_equal(sample_uniform_indices(1, 3), [[0, 0, 0]])


def test_dispatcher_matches_functions_and_validates():
    np.testing.assert_array_equal(
        sample_indices("kinetics", 300, 32, frame_interval=2, num_clips=4),
        sample_kinetics_indices(300, 32, 2, 4, test_mode=True),
    )
    np.testing.assert_array_equal(sample_indices("SSv2", 100, 8), sample_ssv2_indices(100, 8, test_mode=True))
    np.testing.assert_array_equal(sample_indices("uniform", 10, 4), sample_uniform_indices(10, 4))
    with pytest.raises(ValueError, match="Unknown sampling protocol"):
        sample_indices("tsn", 10, 4)
    with pytest.raises(ValueError, match="single clip"):
        sample_indices("ssv2", 100, 8, num_clips=2)
    with pytest.raises(ValueError, match="at least one frame"):
        sliding_window_indices(10, 4, 2, step=0.5)
    with pytest.raises(ValueError, match="0 frames"):
        sample_indices("kinetics", 0, 8)
    with pytest.raises(ValueError, match="num_frames"):
        sample_indices("uniform", 10, 0)


@settings(max_examples=150, deadline=None)
@given(
    protocol=st.sampled_from(SAMPLING_PROTOCOLS),
    num_video_frames=st.integers(1, 400),
    num_frames=st.integers(1, 40),
    frame_interval=st.integers(1, 4),
    num_clips=st.integers(1, 5),
    test_mode=st.booleans(),
)
def test_every_protocol_stays_in_range(protocol, num_video_frames, num_frames, frame_interval, num_clips, test_mode):
    if protocol != "kinetics":
        num_clips = 1
    indices = sample_indices(
        protocol,
        num_video_frames,
        num_frames,
        frame_interval=frame_interval,
        num_clips=num_clips,
        test_mode=test_mode,
        generator=np.random.default_rng(0),
    )
    assert indices.shape == (num_clips, num_frames)
    assert indices.dtype == np.int64
    assert indices.min() >= 0 and indices.max() < num_video_frames


# --------------------------------------------------------------------------- sliding windows
def test_sliding_windows_exact_fit():
    windows = sliding_window_indices(16, window=8, stride=4)
    np.testing.assert_array_equal(windows.indices, [np.arange(8), np.arange(4, 12), np.arange(8, 16)])
    np.testing.assert_array_equal(windows.start_frame, [0, 4, 8])
    np.testing.assert_array_equal(windows.end_frame, [8, 12, 16])


def test_sliding_windows_tail_policies():
    # 18 frames, windows of 8 every 4: full windows at 0, 4, 8 cover 0..15; frames 16, 17 are the tail
    pad = sliding_window_indices(18, 8, 4, last_window="pad")
    np.testing.assert_array_equal(pad.start_frame, [0, 4, 8, 12])
    np.testing.assert_array_equal(pad.indices[-1], [12, 13, 14, 15, 16, 17, 17, 17])  # repeats the last frame
    assert pad.end_frame[-1] == 18  # ends with the video
    shift = sliding_window_indices(18, 8, 4, last_window="shift")
    np.testing.assert_array_equal(shift.start_frame, [0, 4, 8, 10])
    np.testing.assert_array_equal(shift.indices[-1], np.arange(10, 18))
    drop = sliding_window_indices(18, 8, 4, last_window="drop")
    np.testing.assert_array_equal(drop.start_frame, [0, 4, 8])


@pytest.mark.parametrize("policy", ["pad", "shift", "drop"])
def test_video_shorter_than_one_window_gets_one_padded_window(policy):
    windows = sliding_window_indices(5, 8, 4, last_window=policy)
    np.testing.assert_array_equal(windows.indices, [[0, 1, 2, 3, 4, 4, 4, 4]])
    assert windows.start_frame.tolist() == [0] and windows.end_frame.tolist() == [5]
    one = sliding_window_indices(1, 4, 4, step=2.0, last_window=policy)
    np.testing.assert_array_equal(one.indices, [[0, 0, 0, 0]])


def test_sliding_windows_at_an_interval_and_a_fractional_step():
    # frame_interval 2: sampled frames 0, 2, ..., 18 (10 of them); windows of 4 every 4 sampled frames
    windows = sliding_window_indices(20, 4, 4, step=2)
    np.testing.assert_array_equal(windows.indices, [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18, 18, 18]])
    np.testing.assert_array_equal(windows.end_frame, [8, 16, 20])
    # 30 fps video sampled at 12 fps: step 2.5, frames floor(k * 2.5)
    windows = sliding_window_indices(20, 4, 4, step=2.5)
    np.testing.assert_array_equal(windows.indices, [[0, 2, 5, 7], [10, 12, 15, 17]])
    np.testing.assert_array_equal(windows.start_frame, [0, 10])
    np.testing.assert_array_equal(windows.end_frame, [10, 20])


def test_sliding_windows_reject_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        sliding_window_indices(10, 4, 0)
    with pytest.raises(ValueError, match="last_window"):
        sliding_window_indices(10, 4, 2, last_window="loop")
    with pytest.raises(ValueError, match="at least one frame"):
        sliding_window_indices(10, 4, 2, step=0.5)
    with pytest.raises(ValueError, match="0 frames"):
        sliding_window_indices(0, 4, 2)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 400),
    window=st.integers(1, 40),
    stride=st.integers(1, 40),
    step=st.sampled_from([1.0, 2.0, 2.5, 1.2, 3.0]),
    policy=st.sampled_from(["pad", "shift", "drop"]),
)
def test_sliding_windows_cover_the_video(n, window, stride, step, policy):
    windows = sliding_window_indices(n, window, stride, step=step, last_window=policy)
    assert windows.indices.shape[1] == window and windows.indices.dtype == np.int64
    assert windows.indices.min() >= 0 and windows.indices.max() < n
    assert (np.diff(windows.indices, axis=1) >= 0).all()
    assert (windows.start_frame < windows.end_frame).all() and windows.end_frame.max() <= n
    sampled = np.unique(np.minimum(np.floor(np.arange(int(np.ceil(n / step))) * step + 1e-6), n - 1))
    covered = np.isin(sampled, windows.indices)
    if policy != "drop" and stride <= window:  # every sampled frame is in some window
        assert covered.all()
    if policy == "drop" and len(sampled) >= window:  # uncovered: only fewer than `stride` frames at the end
        assert (~covered).sum() < stride or stride > window
    if policy == "pad" or policy == "drop":  # regular grid of starts
        np.testing.assert_array_equal(np.diff(windows.start_frame) > 0, True)


@pytest.mark.parametrize(
    ("num_video_frames", "video_fps", "fps"), [(40, 25, 10), (300, 30, 7.5), (37, 24, 24), (50, 25, 60)]
)
def test_fps_sampling_by_time_equals_the_frame_step_at_a_constant_rate(num_video_frames, video_fps, fps):
    frame_times = np.arange(num_video_frames + 1) / video_fps
    by_time = sliding_window_indices(num_video_frames, 8, 4, sampled_frames=frames_at_rate(frame_times, fps))
    by_step = sliding_window_indices(num_video_frames, 8, 4, step=max(1.0, video_fps / fps))
    for field in ("indices", "start_frame", "end_frame"):
        np.testing.assert_array_equal(getattr(by_time, field), getattr(by_step, field))


def test_frames_at_rate_takes_the_frame_on_screen_at_each_instant():
    # frames at 0, 0.1, 0.5, 0.55, 0.6 s; the last one ends at 0.7 s
    frame_times = np.array([0.0, 0.1, 0.5, 0.55, 0.6, 0.7]) + 3.0  # times are taken from the first frame
    assert frames_at_rate(frame_times, 5).tolist() == [0, 1, 4]  # at 0, 0.2 (frame 1), 0.4 (frame 1), 0.6 s
    assert frames_at_rate(frame_times, 100).tolist() == [0, 1, 2, 3, 4]  # faster than the video: each frame once
    with pytest.raises(ValueError, match="timestamps or its frame rate"):
        frames_at_rate(np.full(6, np.nan), 5)
    with pytest.raises(ValueError, match="increasing frames"):
        sliding_window_indices(5, 2, 2, sampled_frames=np.array([0, 2, 2]))
