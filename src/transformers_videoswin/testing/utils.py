"""Helpers for tests and benchmarks: real H.264 videos written with PyAV, whose frames can be identified after decoding.

``write_test_video(path, num_frames, height, width, fps, pattern="index")`` writes an mp4 (H.264, yuv420p, B-frames
on, a keyframe every ``gop_size`` frames) so that decoding, seeking and frame sampling are exercised for real.
Patterns: ``"index"`` (default), ``"moving"`` (smooth motion), ``"gradient"`` (static), ``"noisy"`` (moving content
plus sensor-like noise, for realistic bitrates in benchmarks). With the ``"index"`` pattern every frame carries its own index as a row of black/white bars that survives lossy
compression; ``read_frame_index(frame)`` reads it back, so a test can check *which* frames a decoder returned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

PATTERNS = ("index", "moving", "gradient", "noisy")
INDEX_BITS = 10  # frame indices up to 1023


def _bar_edges(width: int) -> np.ndarray:
    return np.linspace(0, width, INDEX_BITS + 1).round().astype(int)


def make_test_frame(index: int, height: int, width: int, pattern: str = "index", num_frames: int = 1) -> np.ndarray:
    """The RGB uint8 ``[height, width, 3]`` frame number ``index`` of a test video (see module docstring)."""
    if pattern not in PATTERNS:
        raise ValueError(f"Unknown pattern {pattern!r}; expected one of {PATTERNS}.")
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = index / max(num_frames - 1, 1)
    if pattern == "gradient":
        # static colour gradient, used for processor tests where frame content should differ across space only
        frame = np.stack([xx / max(width - 1, 1) * 255, yy / max(height - 1, 1) * 255, np.full_like(xx, 128)], -1)
        return frame.round().astype(np.uint8)
    # smooth moving content: a colour gradient drifting with time and a bright square crossing the frame
    red = (xx / max(width - 1, 1) * 200 + 40 * t) % 256
    green = (yy / max(height - 1, 1) * 200 + 30) % 256
    blue = np.full_like(xx, 60 + 150 * t)
    frame = np.stack([red, green, blue], -1)
    side = max(4, min(height, width) // 4)
    x0 = int((width - side) * t)
    y0 = int((height - side) * (0.5 + 0.4 * np.sin(2 * np.pi * t)) * 0.9)
    frame[y0 : y0 + side, x0 : x0 + side] = (250, 250, 40)
    if pattern == "noisy":
        # camera-like sensor noise, so the encoder spends a realistic bitrate (benchmarks)
        frame = frame + np.random.default_rng(index).normal(0.0, 6.0, frame.shape)
    if pattern == "index":
        if index >= 2**INDEX_BITS:
            raise ValueError(f"The 'index' pattern encodes at most {2**INDEX_BITS} frames, got index {index}.")
        strip = max(8, height // 4)
        edges = _bar_edges(width)
        for bit in range(INDEX_BITS):
            value = 255 if (index >> bit) & 1 else 0
            frame[:strip, edges[bit] : edges[bit + 1]] = value
    return frame.round().clip(0, 255).astype(np.uint8)


def read_frame_index(frame) -> int:
    """Read back the index written by the ``"index"`` pattern from a decoded ``[H, W, 3]`` (or ``[3, H, W]``) frame."""
    array = np.asarray(frame)
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    height, width = array.shape[:2]
    strip = max(8, height // 4)
    edges = _bar_edges(width)
    gray = array[: strip - 2, :, :].astype(np.float32).mean(-1)
    index = 0
    for bit in range(INDEX_BITS):
        lo, hi = edges[bit], edges[bit + 1]
        margin = max(0, (hi - lo) // 4)
        if gray[:, lo + margin : hi - margin].mean() > 127.5:
            index |= 1 << bit
    return index


def write_test_video(
    path: str | os.PathLike,
    num_frames: int,
    height: int,
    width: int,
    fps: int = 25,
    pattern: str = "index",
    codec: str = "libx264",
    gop_size: int = 12,
    crf: int = 12,
    frame_times: Sequence[float] | None = None,
) -> Path:
    """Write an H.264 mp4 (yuv420p) of ``num_frames`` frames with PyAV and return its path.

    ``height`` and ``width`` must be even (4:2:0 chroma). ``num_frames=0`` writes a valid container with a video
    stream but no frames (an "empty video"). ``crf`` 12 keeps the ``"index"`` bars readable at any size >= 32x48.
    ``frame_times`` (increasing, to the millisecond) shows frame ``i`` at ``frame_times[i]`` seconds: a variable
    frame rate; by default frame ``i`` is shown at ``i / fps``.
    """
    import av

    if height % 2 or width % 2:
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {height}x{width}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop_size
        if frame_times is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        if num_frames == 0:
            container.start_encoding()  # write the header so the file exists with a stream and no frames
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(
                make_test_frame(index, height, width, pattern, num_frames), format="rgb24"
            )
            if frame_times is not None:
                frame.pts, frame.time_base = round(frame_times[index] * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def run_ffmpeg(*args: str | os.PathLike) -> bytes:
    """Run the ``ffmpeg`` command line (Debian package ``ffmpeg``, installed by ``make system-deps``); its stdout."""
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        raise RuntimeError("The `ffmpeg` command line is needed here: apt-get install ffmpeg (make system-deps).")
    completed = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *map(str, args)], capture_output=True, check=False
    )
    if completed.returncode:
        raise RuntimeError(f"ffmpeg {' '.join(map(str, args))} failed: {completed.stderr.decode(errors='replace')}")
    return completed.stdout


def ffmpeg_rgb_frames(path: str | os.PathLike) -> np.ndarray:
    """The reference decode: ``ffmpeg -i PATH -f rawvideo -pix_fmt rgb24 -`` (FFmpeg applies the edit list and the
    rotation) as uint8 ``[N, H, W, 3]``; the upright frame size comes from the header of a one-frame PPM decode."""
    header = run_ffmpeg("-i", path, "-frames:v", "1", "-f", "image2pipe", "-c:v", "ppm", "-").split(maxsplit=3)
    width, height = int(header[1]), int(header[2])  # b"P6", width, height, maxval + pixels
    data = run_ffmpeg("-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, height, width, 3)


__all__ = ["PATTERNS", "ffmpeg_rgb_frames", "make_test_frame", "read_frame_index", "run_ffmpeg", "write_test_video"]
