"""Frame sampling of the official Video Swin code (mmaction2 0.x `SampleFrames`): int64 indices
`[num_clips, num_frames]` in `[0, num_video_frames)`; short videos loop (Kinetics) or repeat frames, never fail.

- `"kinetics"`: clips of `num_frames` frames every `frame_interval`; test mode centres the clip starts in equal
  slices of the valid start range, training draws one random start per slice.
- `"ssv2"` (`frame_uniform=True`): `num_frames` equal segments; a random frame of each in training, its middle at test.
- `"uniform"`: `np.linspace(0, n - 1, num_frames)` rounded (no official counterpart).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SAMPLING_PROTOCOLS = ("kinetics", "ssv2", "uniform")
LAST_WINDOW_POLICIES = ("pad", "shift", "drop")


def _check_counts(num_video_frames: int, **counts: int) -> None:
    if int(num_video_frames) <= 0:
        raise ValueError(f"Cannot sample frames from a video with {num_video_frames} frames.")
    for name, value in counts.items():
        if int(value) != value or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")


def kinetics_clip_offsets(
    num_video_frames: int,
    clip_span: int,
    num_clips: int = 1,
    test_mode: bool = False,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    """First frame of each clip (`SampleFrames._get_test_clips` / `_get_train_clips`; `clip_span` is
    `num_frames * frame_interval`); a video shorter than a span gets the official's zero offsets."""
    n = int(num_video_frames)
    valid_starts = max(n - clip_span + 1, 0)
    if test_mode:
        avg_interval = valid_starts / num_clips
        return (np.arange(num_clips) * avg_interval + avg_interval / 2.0).astype(np.int64)
    rng = generator or np.random.default_rng()
    avg_interval = valid_starts // num_clips
    if avg_interval > 0:
        return (np.arange(num_clips) * avg_interval + rng.integers(avg_interval, size=num_clips)).astype(np.int64)
    if n > max(num_clips, clip_span):
        return np.sort(rng.integers(valid_starts, size=num_clips)).astype(np.int64)
    return np.around(np.arange(num_clips) * (valid_starts / num_clips)).astype(np.int64)


def sample_kinetics_indices(
    num_video_frames: int,
    num_frames: int,
    frame_interval: int,
    num_clips: int = 1,
    test_mode: bool = False,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    """Official Kinetics sampling (`SampleFrames`, out-of-bound frames loop), `[num_clips, num_frames]`."""
    _check_counts(num_video_frames, num_frames=num_frames, num_clips=num_clips, frame_interval=frame_interval)
    offsets = kinetics_clip_offsets(num_video_frames, num_frames * frame_interval, num_clips, test_mode, generator)
    return np.mod(offsets[:, None] + np.arange(num_frames) * frame_interval, int(num_video_frames)).astype(np.int64)


def sample_ssv2_indices(
    num_video_frames: int, num_frames: int, test_mode: bool = False, generator: np.random.Generator | None = None
) -> np.ndarray:
    """Official SSv2 sampling (`SampleFrames.get_seq_frames`), `[1, num_frames]`: segment `i` spans
    `[round(s * i), round(s * (i + 1))]`, `s = (n - 1) / num_frames`; training draws a frame in it, test takes
    `(start + end) // 2`."""
    _check_counts(num_video_frames, num_frames=num_frames)
    bounds = np.round((int(num_video_frames) - 1) / num_frames * np.arange(num_frames + 1)).astype(np.int64)
    if test_mode:
        return ((bounds[:-1] + bounds[1:]) // 2)[None, :]
    return (generator or np.random.default_rng()).integers(bounds[:-1], bounds[1:] + 1).astype(np.int64)[None, :]


def sample_uniform_indices(num_video_frames: int, num_frames: int) -> np.ndarray:
    """`num_frames` evenly spaced indices, first and last frame included, `[1, num_frames]`."""
    _check_counts(num_video_frames, num_frames=num_frames)
    return np.round(np.linspace(0, int(num_video_frames) - 1, num_frames)).astype(np.int64)[None, :]


def sample_indices(
    protocol: str,
    num_video_frames: int,
    num_frames: int,
    frame_interval: int = 2,
    num_clips: int = 1,
    test_mode: bool = True,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    """`[num_clips, num_frames]` indices of `protocol`; `"ssv2"` and `"uniform"` take one clip, no `frame_interval`."""
    protocol = str(protocol).lower()
    if protocol == "kinetics":
        return sample_kinetics_indices(num_video_frames, num_frames, frame_interval, num_clips, test_mode, generator)
    if protocol not in SAMPLING_PROTOCOLS:
        raise ValueError(f"Unknown sampling protocol {protocol!r}; expected one of {SAMPLING_PROTOCOLS}.")
    if num_clips != 1:
        raise ValueError(
            f"The {protocol!r} protocol covers the whole video with a single clip; got num_clips={num_clips}. "
            "Use the 'kinetics' protocol for several clips per video."
        )
    if protocol == "ssv2":
        return sample_ssv2_indices(num_video_frames, num_frames, test_mode, generator)
    return sample_uniform_indices(num_video_frames, num_frames)


@dataclass
class SlidingWindows:
    """`indices` `[num_windows, window]` source frames; `start_frame` / `end_frame` `[num_windows]` bound the stretch
    each window covers (end exclusive)."""

    indices: np.ndarray
    start_frame: np.ndarray
    end_frame: np.ndarray


def frames_at_rate(frame_times: np.ndarray, fps: float) -> np.ndarray:
    """The source frames on screen at each instant `k / fps` before the video ends (`frame_times` `[num_frames + 1]`,
    seconds: when each frame is shown, then when the last one ends), each frame once: a rate above the video's takes
    every frame."""
    frame_times = np.asarray(frame_times, dtype=np.float64)
    if not np.isfinite(frame_times).all():
        raise ValueError("Sampling at a frame rate needs the video's frame timestamps or its frame rate.")
    if not fps > 0:
        raise ValueError(f"The sampling rate must be positive, got {fps!r}.")
    instants = np.arange(max(1, math.ceil(float(frame_times[-1] - frame_times[0]) * fps - 1e-6))) / float(fps)
    shown = np.searchsorted(frame_times[:-1] - frame_times[0], instants + 1e-6, side="right") - 1
    return np.unique(np.clip(shown, 0, frame_times.size - 2))


def sliding_window_indices(
    num_video_frames: int,
    window: int,
    stride: int,
    step: float = 1.0,
    last_window: str = "pad",
    sampled_frames: np.ndarray | None = None,
) -> SlidingWindows:
    """Windows of `window` frames every `stride` frames of the video sampled every `step >= 1` source frames (frame
    `floor(k * step)`), or of `sampled_frames` (increasing source frames, e.g. :func:`frames_at_rate`'s). Full windows
    while they fit, then `last_window` `"pad"` adds a window at the next regular start that repeats the last frame,
    `"shift"` a full window ending on the last frame, `"drop"` nothing. A short video gets one padded window."""
    _check_counts(num_video_frames, window=window, stride=stride)
    if last_window not in LAST_WINDOW_POLICIES:
        raise ValueError(f"`last_window` must be one of {LAST_WINDOW_POLICIES}, got {last_window!r}.")
    if not step >= 1:
        raise ValueError(f"The sampling step must be at least one frame (no faster than the video), got {step!r}.")
    n = int(num_video_frames)
    if sampled_frames is None:
        steps = np.arange(max(1, math.ceil(n / step - 1e-9))) * float(step)
        sampled_frames = np.minimum(np.floor(steps + 1e-6).astype(np.int64), n - 1)
    sampled = np.append(np.asarray(sampled_frames, dtype=np.int64), n)  # then the end of the video
    num_sampled = sampled.size - 1
    if num_sampled < 1 or sampled[0] < 0 or (np.diff(sampled) <= 0).any():
        raise ValueError(f"`sampled_frames` must be increasing frames in [0, {n}), got {sampled[:-1].tolist()}.")
    starts = list(range(0, num_sampled - window + 1, stride)) or [0]
    if starts[-1] + max(stride, window) < num_sampled:  # a tail that no full window or regular start reaches
        starts += {"pad": [starts[-1] + stride], "shift": [num_sampled - window], "drop": []}[last_window]
    starts = np.asarray(starts, dtype=np.int64)
    positions = np.minimum(starts[:, None] + np.arange(window), num_sampled - 1)  # pad: the last frame
    return SlidingWindows(sampled[positions], sampled[starts], sampled[np.minimum(starts + window, num_sampled)])
