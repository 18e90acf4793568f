"""Decode selected frames of a video: torchcodec when it works, PyAV otherwise, the same frames either way.

Frames are addressed by their index in presentation order (0 = first displayed frame). Both backends build the same
frame index from the container without decoding anything (torchcodec's ``seek_mode="exact"`` scan, a packet scan in
PyAV), then decode only what the requested indices need: torchcodec seeks natively; the PyAV reader seeks to the
keyframe before each requested frame that lies in a later group of pictures and decodes forward from there, so a
clip of 32 frames from a long video never decodes the whole file. Both convert YUV to RGB with FFmpeg's swscale, so
for the same file they return bit-identical frames (checked in ``tests/processing/test_video_io.py``).

``source`` may be a path (``str`` / ``os.PathLike``), an ``http(s)://`` URL, raw ``bytes``, or a binary file-like
object. Unreadable, truncated-beyond-use or frameless videos raise :class:`VideoDecodeError`, whose message names the
file.
"""

from __future__ import annotations

import io
import os
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

BACKENDS = ("auto", "torchcodec", "pyav")


class VideoDecodeError(ValueError):
    """A video could not be opened or decoded (corrupt, not a video, no video stream, or no frames)."""


@dataclass
class VideoInfo:
    """What a reader knows about the video stream before decoding."""

    num_frames: int
    fps: float | None
    height: int
    width: int
    duration: float | None
    backend: str


def describe_source(source) -> str:
    """A human-readable name of a video source, for error messages."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes of video data>"
    name = getattr(source, "name", None)
    if isinstance(name, (str, bytes)):
        return os.fsdecode(name)
    return f"<{type(source).__name__} object>"


@lru_cache(maxsize=1)
def _torchcodec_decoder_class():
    # Inside try/except so that transformers' remote-code import check does not make torchcodec a hard requirement.
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception:  # ImportError, or RuntimeError/OSError when the FFmpeg libraries are missing
        return None
    return VideoDecoder


def torchcodec_available() -> bool:
    """Whether torchcodec imports and finds FFmpeg's shared libraries."""
    return _torchcodec_decoder_class() is not None


def _fetch_url(url: str) -> bytes:
    from huggingface_hub.utils import httpx

    response = httpx.get(url, follow_redirects=True)
    response.raise_for_status()
    return response.content


def _normalize_source(source):
    """Paths become ``str`` (checked to exist), URLs are downloaded, buffers become ``bytes``."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str):
        if source.startswith(("http://", "https://")):
            return _fetch_url(source)
        if not os.path.isfile(source):
            raise VideoDecodeError(f"Cannot read video {source}: no such file.")
        return source
    if isinstance(source, (bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, bytes) or hasattr(source, "read"):
        return source
    raise TypeError(f"Unsupported video source of type {type(source).__name__}; pass a path, bytes or a file object.")


def _check_indices(indices, num_frames: int, name: str) -> np.ndarray:
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size and (indices.min() < 0 or indices.max() >= num_frames):
        raise IndexError(
            f"Frame indices must be in [0, {num_frames}) for video {name}, got min {indices.min()} max {indices.max()}."
        )
    return indices


class VideoReader:
    """Common interface of the backends; use :func:`open_video` to get one."""

    backend: str = ""

    def __init__(self, source, name: str):
        self.name = name
        self.info: VideoInfo

    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 ``[N, H, W, 3]`` RGB."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TorchcodecReader(VideoReader):
    backend = "torchcodec"

    def __init__(self, source, name: str, num_threads: int = 1):
        super().__init__(source, name)
        VideoDecoder = _torchcodec_decoder_class()
        if VideoDecoder is None:
            raise ImportError("torchcodec is not installed or cannot load FFmpeg's shared libraries.")
        try:
            self._decoder = VideoDecoder(
                source, seek_mode="exact", dimension_order="NHWC", num_ffmpeg_threads=num_threads
            )
            meta = self._decoder.metadata
            num_frames = int(meta.num_frames or 0)
        except Exception as error:  # torchcodec raises RuntimeError / ValueError with FFmpeg's message
            raise VideoDecodeError(f"Cannot read video {name} with torchcodec: {error}") from error
        if num_frames <= 0:
            raise VideoDecodeError(f"Video {name} contains no frames.")
        self.info = VideoInfo(
            num_frames=num_frames,
            fps=float(meta.average_fps) if meta.average_fps else None,
            height=int(meta.height),
            width=int(meta.width),
            duration=float(meta.duration_seconds) if meta.duration_seconds else None,
            backend=self.backend,
        )

    def get_frames(self, indices) -> torch.Tensor:
        indices = _check_indices(indices, self.num_frames, self.name)
        if indices.size == 0:
            return torch.empty((0, self.info.height, self.info.width, 3), dtype=torch.uint8)
        unique, inverse = np.unique(indices, return_inverse=True)
        try:
            frames = self._decoder.get_frames_at(indices=unique.tolist()).data
        except Exception as error:
            raise VideoDecodeError(f"Cannot decode frames {unique.tolist()} of video {self.name}: {error}") from error
        return frames[torch.from_numpy(inverse.reshape(-1))].contiguous()


class PyAVReader(VideoReader):
    """PyAV reader that seeks to keyframes instead of decoding from the start.

    ``frames_decoded`` counts the frames PyAV decoded so far (tests use it to check that seeking happens).
    """

    backend = "pyav"

    def __init__(self, source, name: str, num_threads: int = 1):
        super().__init__(source, name)
        import av

        if isinstance(source, bytes):
            source = io.BytesIO(source)
        self.frames_decoded = 0
        try:
            self._container = av.open(source)
        except Exception as error:  # av.error.InvalidDataError and friends
            raise VideoDecodeError(f"Cannot read video {name} with PyAV: {error}") from error
        try:
            if not self._container.streams.video:
                raise VideoDecodeError(f"Video {name} has no video stream.")
            self._stream = self._container.streams.video[0]
            if num_threads != 1:  # 0 lets FFmpeg pick
                self._stream.thread_type = "AUTO"
                self._stream.codec_context.thread_count = num_threads
            # Index the stream from packets (no decoding): presentation timestamps and keyframes.
            pts, keyframe_pts = [], []
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None:
                    continue
                pts.append(stamp)
                if packet.is_keyframe:
                    keyframe_pts.append(stamp)
        except VideoDecodeError:
            self.close()
            raise
        except Exception as error:
            self.close()
            raise VideoDecodeError(f"Cannot read video {name} with PyAV: {error}") from error
        if not pts:
            self.close()
            raise VideoDecodeError(f"Video {name} contains no frames.")
        self._pts = np.array(sorted(pts), dtype=np.int64)
        self._pts_to_index = {int(p): i for i, p in enumerate(self._pts)}
        keyframe_indices = sorted(self._pts_to_index[int(p)] for p in keyframe_pts) or [0]
        if keyframe_indices[0] != 0:
            keyframe_indices.insert(0, 0)  # decoding from the very start is always possible
        self._keyframes = keyframe_indices
        stream = self._stream
        fps = float(stream.average_rate) if stream.average_rate else None
        time_base = float(stream.time_base) if stream.time_base else None
        duration = float(stream.duration * time_base) if stream.duration and time_base else None
        self.info = VideoInfo(
            num_frames=len(self._pts),
            fps=fps,
            height=int(stream.codec_context.height),
            width=int(stream.codec_context.width),
            duration=duration,
            backend=self.backend,
        )
        self._iterator = None
        self._position = -1  # index of the last decoded frame

    def _keyframe_before(self, index: int) -> int:
        return self._keyframes[bisect_right(self._keyframes, index) - 1]

    def _seek(self, index: int) -> None:
        keyframe = self._keyframe_before(index)
        self._container.seek(int(self._pts[keyframe]), stream=self._stream, backward=True, any_frame=False)
        self._iterator = self._container.decode(self._stream)
        self._position = keyframe - 1

    def _decode_until(self, target: int, wanted: set[int], out: dict[int, np.ndarray]) -> None:
        for frame in self._iterator:
            self.frames_decoded += 1
            stamp = frame.pts if frame.pts is not None else frame.dts
            index = self._pts_to_index.get(int(stamp)) if stamp is not None else None
            if index is None:
                continue
            self._position = index
            if index in wanted and index not in out:
                out[index] = frame.to_ndarray(format="rgb24")
            if index >= target:
                return
        self._iterator = None  # exhausted

    def get_frames(self, indices) -> torch.Tensor:
        indices = _check_indices(indices, self.num_frames, self.name)
        if indices.size == 0:
            return torch.empty((0, self.info.height, self.info.width, 3), dtype=torch.uint8)
        unique = np.unique(indices)
        wanted = {int(i) for i in unique}
        out: dict[int, np.ndarray] = {}
        try:
            for target in (int(i) for i in unique):
                if target in out:
                    continue
                # Seek when the decoder is not running, is past the target, or a keyframe lies between it and the
                # target (decoding forward from that keyframe is cheaper than decoding the frames in between).
                if (
                    self._iterator is None
                    or target <= self._position
                    or self._keyframe_before(target) > self._position
                ):
                    self._seek(target)
                self._decode_until(target, wanted, out)
                if target not in out:  # inexact seek (unusual timestamps): decode from the start as a last resort
                    self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
                    self._iterator = self._container.decode(self._stream)
                    self._position = -1
                    self._decode_until(target, wanted, out)
        except VideoDecodeError:
            raise
        except Exception as error:
            raise VideoDecodeError(f"Cannot decode frames of video {self.name} with PyAV: {error}") from error
        missing = sorted(wanted - out.keys())
        if missing:
            raise VideoDecodeError(f"Video {self.name} ended before frames {missing[:8]} could be decoded.")
        frames = np.stack([out[int(i)] for i in indices])
        return torch.from_numpy(frames)

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None


def open_video(source, backend: str = "auto", num_threads: int = 1) -> VideoReader:
    """Open a video for random access to its frames.

    ``backend="auto"`` uses torchcodec when it is installed and loads, and falls back to PyAV when torchcodec is
    missing or cannot open this particular source. Raises :class:`VideoDecodeError` (naming the file) when no backend
    can read it or it has no frames.
    """
    if backend not in BACKENDS:
        raise ValueError(f"Unknown video backend {backend!r}; expected one of {BACKENDS}.")
    name = describe_source(source)
    source = _normalize_source(source)
    if backend == "torchcodec" and not torchcodec_available():
        raise ImportError("backend='torchcodec' needs torchcodec and FFmpeg's shared libraries (apt install ffmpeg).")
    if backend in ("torchcodec", "auto") and torchcodec_available():
        try:
            return TorchcodecReader(source, name, num_threads=num_threads)
        except VideoDecodeError as error:
            if backend == "torchcodec":
                raise
            torchcodec_error = error
        if hasattr(source, "seek"):
            source.seek(0)
    else:
        torchcodec_error = None
    try:
        return PyAVReader(source, name, num_threads=num_threads)
    except VideoDecodeError as error:
        if torchcodec_error is not None and "no frames" not in str(error):
            raise VideoDecodeError(f"{error} (torchcodec also failed: {torchcodec_error})") from error
        raise


def count_frames(source, backend: str = "auto") -> int:
    """Number of frames of the video stream (from the container index, without decoding)."""
    with open_video(source, backend=backend) as reader:
        return reader.num_frames


def decode_frames(source, indices, backend: str = "auto") -> torch.Tensor:
    """Frames ``indices`` of ``source`` as uint8 ``[N, H, W, 3]`` RGB; only those frames (and the frames between each
    one and its preceding keyframe) are decoded."""
    with open_video(source, backend=backend) as reader:
        return reader.get_frames(indices)


def read_video_clips(source, indices_fn, backend: str = "auto") -> tuple[torch.Tensor, np.ndarray, VideoInfo]:
    """Open ``source`` once, call ``indices_fn(info)`` for the indices to decode (any shape), return
    ``(frames [indices.size, H, W, 3], indices, info)``."""
    with open_video(source, backend=backend) as reader:
        indices = np.asarray(indices_fn(reader.info), dtype=np.int64)
        return reader.get_frames(indices.reshape(-1)), indices, reader.info


__all__ = [
    "BACKENDS",
    "PyAVReader",
    "TorchcodecReader",
    "VideoDecodeError",
    "VideoInfo",
    "VideoReader",
    "count_frames",
    "decode_frames",
    "describe_source",
    "open_video",
    "read_video_clips",
    "torchcodec_available",
]
