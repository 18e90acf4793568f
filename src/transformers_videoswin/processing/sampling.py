"""Frame sampling protocols of the official Video Swin code (mmaction2 0.x ``SampleFrames``), as plain index maths.

Every function returns frame indices as an ``int64`` array of shape ``[num_clips, num_frames]`` (``num_clips`` is 1
for the SSv2 and uniform protocols), always inside ``[0, num_video_frames)``. Videos shorter than a clip never fail:
the Kinetics protocol loops over the video (``out_of_bound_opt='loop'``, the official default) and the other two
repeat frames.

Protocols
---------
``"kinetics"``
    ``SampleFrames(clip_len=num_frames, frame_interval=..., num_clips=...)``: clips of ``num_frames`` frames taken
    every ``frame_interval`` frames. Test mode places the ``num_clips`` clip starts at the centres of equal slices of
    the valid start range (the official "uniform offsets"); training draws one random start per slice. Released
    Kinetics models: 32 frames, interval 2, 1 clip (validation) or 4 clips (reported test numbers).
``"ssv2"``
    ``SampleFrames(..., frame_uniform=True)``, the Something-Something v2 protocol (from SlowFast): ``num_frames``
    equal segments over the whole video, a random frame of each segment in training and its middle at test.
``"uniform"``
    ``num_frames`` indices evenly spaced from the first to the last frame, rounded to the nearest frame
    (``np.linspace(0, n - 1, num_frames)``); deterministic, no official counterpart.

Sliding windows (:func:`sliding_window_indices`) cover a whole video with clips for dataset-scale feature extraction
and per-window classification (``transformers_videoswin.inference``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SAMPLING_PROTOCOLS = ("kinetics", "ssv2", "uniform")


def _check_counts(num_video_frames: int, num_frames: int, num_clips: int = 1, frame_interval: int = 1) -> None:
    if int(num_video_frames) <= 0:
        raise ValueError(f"Cannot sample frames from a video with {num_video_frames} frames.")
    for name, value in (("num_frames", num_frames), ("num_clips", num_clips), ("frame_interval", frame_interval)):
        if int(value) != value or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else np.random.default_rng()


def kinetics_clip_offsets(
    num_video_frames: int,
    clip_span: int,
    num_clips: int = 1,
    test_mode: bool = False,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    """First frame of each clip, ``SampleFrames._get_test_clips`` / ``_get_train_clips`` (``clip_span`` is
    ``num_frames * frame_interval``)."""
    n = int(num_video_frames)
    if test_mode:
        avg_interval = (n - clip_span + 1) / float(num_clips)
        if n > clip_span - 1:
            base_offsets = np.arange(num_clips) * avg_interval
            return (base_offsets + avg_interval / 2.0).astype(np.int64)
        return np.zeros((num_clips,), dtype=np.int64)

    rng = _rng(generator)
    avg_interval = (n - clip_span + 1) // num_clips
    if avg_interval > 0:
        base_offsets = np.arange(num_clips) * avg_interval
        return (base_offsets + rng.integers(avg_interval, size=num_clips)).astype(np.int64)
    if n > max(num_clips, clip_span):
        return np.sort(rng.integers(n - clip_span + 1, size=num_clips)).astype(np.int64)
    if avg_interval == 0:
        ratio = (n - clip_span + 1.0) / num_clips
        return np.around(np.arange(num_clips) * ratio).astype(np.int64)
    return np.zeros((num_clips,), dtype=np.int64)


def sample_kinetics_indices(
    num_video_frames: int,
    num_frames: int,
    frame_interval: int,
    num_clips: int = 1,
    test_mode: bool = False,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    """Official Kinetics sampling (``SampleFrames``, loop out-of-bound option), ``[num_clips, num_frames]``."""
    _check_counts(num_video_frames, num_frames, num_clips, frame_interval)
    offsets = kinetics_clip_offsets(num_video_frames, num_frames * frame_interval, num_clips, test_mode, generator)
    indices = offsets[:, None] + np.arange(num_frames)[None, :] * frame_interval
    return np.mod(indices, int(num_video_frames)).astype(np.int64)


def sample_ssv2_indices(
    num_video_frames: int,
    num_frames: int,
    test_mode: bool = False,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    """Official SSv2 sampling (``SampleFrames.get_seq_frames``), ``[1, num_frames]``.

    Segment ``i`` spans ``[round(s * i), round(s * (i + 1))]`` with ``s = (n - 1) / num_frames`` (both ends
    inclusive, as in the official code); training draws a frame uniformly in it, test takes ``(start + end) // 2``.
    """
    _check_counts(num_video_frames, num_frames)
    seg_size = float(int(num_video_frames) - 1) / num_frames
    bounds = np.round(seg_size * np.arange(num_frames + 1)).astype(np.int64)  # np.round == official int(np.round())
    starts, ends = bounds[:-1], bounds[1:]
    if test_mode:
        indices = (starts + ends) // 2
    else:
        indices = _rng(generator).integers(starts, ends + 1)
    return indices.astype(np.int64)[None, :]


def sample_uniform_indices(num_video_frames: int, num_frames: int) -> np.ndarray:
    """``num_frames`` evenly spaced indices over the whole video, first and last frame included, ``[1, num_frames]``."""
    _check_counts(num_video_frames, num_frames)
    indices = np.round(np.linspace(0, int(num_video_frames) - 1, num_frames)).astype(np.int64)
    return indices[None, :]


def sample_indices(
    protocol: str,
    num_video_frames: int,
    num_frames: int,
    frame_interval: int = 2,
    num_clips: int = 1,
    test_mode: bool = True,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    """Dispatch to one of the protocols by name (``"kinetics"``, ``"ssv2"``, ``"uniform"``).

    ``frame_interval`` is only used by ``"kinetics"``; ``"ssv2"`` and ``"uniform"`` sample a single clip spanning the
    whole video and reject ``num_clips > 1``. Returns ``[num_clips, num_frames]`` int64 indices.
    """
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


LAST_WINDOW_POLICIES = ("pad", "shift", "drop")


@dataclass
class SlidingWindows:
    """Windows over one video. ``indices`` ``[num_windows, window]`` are source-frame indices; ``start_frame`` and
    ``end_frame`` ``[num_windows]`` bound the stretch of the video each window covers (end exclusive, at most the
    number of frames), so ``start_frame / fps`` and ``end_frame / fps`` are its timestamps in seconds."""

    indices: np.ndarray
    start_frame: np.ndarray
    end_frame: np.ndarray

    @property
    def num_windows(self) -> int:
        return int(self.indices.shape[0])


def sliding_window_indices(
    num_video_frames: int,
    window: int,
    stride: int,
    step: float = 1.0,
    last_window: str = "pad",
) -> SlidingWindows:
    """Cover a whole video with windows of ``window`` frames, one every ``stride`` frames.

    The video is first sampled every ``step >= 1`` source frames (``frame_interval``, or ``video_fps / target_fps``,
    which may be fractional: frame ``floor(k * step)``), giving ``L = ceil(num_video_frames / step)`` sampled frames;
    ``window`` and ``stride`` count sampled frames. Window ``i`` takes sampled frames ``i * stride ...
    i * stride + window - 1``. Full windows are taken while they fit; what remains at the end is decided by
    ``last_window``:

    - ``"pad"`` (default): one more window at the next regular start, its missing frames repeating the last frame;
      its end timestamp is the end of the video. Starts stay on the regular ``stride`` grid.
    - ``"shift"``: one more full window ending on the last sampled frame (it overlaps its neighbour more).
    - ``"drop"``: no window for the tail; the last ``< stride`` sampled frames are not covered.

    A video shorter than one window (``L < window``) always gets exactly one window, padded the same way, whatever the
    policy. With ``stride > window`` the frames between windows are skipped by design.
    """
    if int(num_video_frames) <= 0:
        raise ValueError(f"Cannot place windows on a video with {num_video_frames} frames.")
    for name, value in (("window", window), ("stride", stride)):
        if int(value) != value or value <= 0:
            raise ValueError(f"`{name}` must be a positive number of frames, got {value!r}.")
    if last_window not in LAST_WINDOW_POLICIES:
        raise ValueError(f"`last_window` must be one of {LAST_WINDOW_POLICIES}, got {last_window!r}.")
    if not step >= 1:
        raise ValueError(f"The sampling step must be at least one frame (no faster than the video), got {step!r}.")
    n = int(num_video_frames)
    num_sampled = max(1, math.ceil(n / step - 1e-9))
    starts = list(range(0, max(num_sampled - window, -1) + 1, stride))  # full windows
    if not starts:
        starts = [0]  # shorter than one window: one padded window
    else:
        next_start = starts[-1] + stride
        if next_start < num_sampled and starts[-1] + window < num_sampled:  # sampled frames left uncovered
            if last_window == "pad":
                starts.append(next_start)
            elif last_window == "shift":
                starts.append(num_sampled - window)
    starts_array = np.asarray(starts, dtype=np.int64)
    positions = starts_array[:, None] + np.arange(window)[None, :]  # sampled-frame positions
    positions = np.minimum(positions, num_sampled - 1)  # padding repeats the last sampled frame
    indices = np.minimum(np.floor(positions * float(step) + 1e-6).astype(np.int64), n - 1)
    start_frame = np.floor(starts_array * float(step) + 1e-6).astype(np.int64)
    end_frame = np.minimum(np.floor((starts_array + window) * float(step) + 1e-6).astype(np.int64), n)
    return SlidingWindows(indices=indices, start_frame=start_frame, end_frame=end_frame)


__all__ = [
    "LAST_WINDOW_POLICIES",
    "SAMPLING_PROTOCOLS",
    "SlidingWindows",
    "kinetics_clip_offsets",
    "sample_indices",
    "sample_kinetics_indices",
    "sample_ssv2_indices",
    "sample_uniform_indices",
    "sliding_window_indices",
]
