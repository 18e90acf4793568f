"""The one place a container is opened: :func:`decode_video` (a source and frame indices in, frames resized while
decoding out) serves the video processor, the inference stream and training's clip loader.

It runs torchcodec's ``VideoDecoder`` (``seek_mode="exact"``; ``datasets.Video()`` values are such decoders) and
returns transformers' ``VideoMetadata``. Kept here where the libraries miss the truth, which is
``ffmpeg -i VIDEO -f rawvideo -pix_fmt rgb24 -``:

- PyAV where torchcodec cannot open or decode a file, converting through FFmpeg's filter graph (rotation, 10-bit),
  hiding what an edit list hides and seeking to keyframes;
- MPEG-TS and AVI go to PyAV (torchcodec 0.17 seeks in MPEG-TS by byte estimates and misplaces AVI's B-frames); in
  raw ``.h264`` and AVI with B-frames (no presentation stamps) PyAV numbers frames as shown and rereads from the top;
- frame times are the presentation times (``VideoMetadata.timestamps`` is index / fps);
- the resize runs on chunks of ``CHUNK_FRAMES`` / ``CHUNK_BYTES``, bit-exact with transformers' (torchcodec's is not);
- errors name the file; ``HF_HUB_OFFLINE`` is read at call time; downloads have a size cap and a total deadline.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext, suppress
from functools import lru_cache
from typing import IO

import numpy as np
import torch
from torchvision.transforms.v2 import functional as tvF
from transformers.image_utils import PILImageResampling, pil_torch_interpolation_mapping
from transformers.video_utils import VideoMetadata

BACKENDS = ("auto", "torchcodec", "pyav")
CHUNK_FRAMES = 8  # frames decoded before the resize runs: at most 8, and at most CHUNK_BYTES of RGB
CHUNK_BYTES = 64 * 2**20
# FFmpeg's autorotation: the filters that turn a frame upright, by the display matrix's counter-clockwise rotation
_ROTATION_FILTERS = {0: {}, 90: {"transpose": "cclock"}, 180: {"hflip": "", "vflip": ""}, 270: {"transpose": "clock"}}


class VideoDecodeError(ValueError):
    """A video could not be opened or decoded (corrupt, not a video, no video stream, or no frames)."""


def chunk_frames(width: int, height: int) -> int:
    """Frames of ``width`` x ``height`` decoded in one chunk (see ``CHUNK_FRAMES`` and ``CHUNK_BYTES``)."""
    return max(1, min(CHUNK_FRAMES, CHUNK_BYTES // max(1, 3 * width * height)))


@lru_cache(maxsize=1)
def _torchcodec_decoder_class():
    try:  # fails without FFmpeg's shared libraries (PyAV's wheels bundle their own)
        from torchcodec.decoders import VideoDecoder
    except Exception:
        return None
    return VideoDecoder


def torchcodec_available() -> bool:
    """Whether torchcodec imports and finds FFmpeg's shared libraries."""
    return _torchcodec_decoder_class() is not None


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name) or str(default)
    with suppress(ValueError):
        if float(value) > 0:
            return float(value)
    raise ValueError(f"{name} must be a number above 0, got {value!r}.")


def download_video(url: str, max_bytes: int | None = None, timeout: float | None = None) -> IO[bytes]:
    """``url`` streamed into an anonymous temporary file, at offset 0. ``max_bytes`` (default 2 GiB) caps its size,
    ``timeout`` (default 600 s) the whole download; either raises ``VideoDecodeError``."""
    from huggingface_hub.utils import httpx

    max_bytes = int(max_bytes or _env_number("VIDEOSWIN_MAX_DOWNLOAD_BYTES", 2 * 2**30))
    timeout = float(timeout or _env_number("VIDEOSWIN_DOWNLOAD_TIMEOUT", 600.0))
    deadline, file = time.monotonic() + timeout, tempfile.TemporaryFile()
    too_large = (  # "{}": the announced size, when there is one
        f"Cannot download video {url}: it is {{}}over the limit of {max_bytes} bytes "
        "(VIDEOSWIN_MAX_DOWNLOAD_BYTES raises it)."
    )
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=min(timeout, 30.0)) as response:
            response.raise_for_status()
            announced = response.headers.get("content-length", "")
            if announced.isdigit() and int(announced) > max_bytes:
                raise VideoDecodeError(too_large.format(f"{announced} bytes, "))
            for chunk in response.iter_bytes():  # each network read: the deadline holds while bytes trickle in
                if file.tell() + len(chunk) > max_bytes:
                    raise VideoDecodeError(too_large.format(""))
                file.write(chunk)
                if time.monotonic() > deadline:
                    raise VideoDecodeError(
                        f"Cannot download video {url}: not complete after {timeout:g} s ({file.tell()} bytes "
                        "received; VIDEOSWIN_DOWNLOAD_TIMEOUT raises the limit)."
                    )
    except Exception as error:
        file.close()
        if isinstance(error, VideoDecodeError):
            raise
        raise VideoDecodeError(f"Cannot download video {url}: {error}. Check the URL, or pass a file.") from error
    file.seek(0)
    return file


def _normalize(source) -> tuple[str | bytes | IO[bytes], str]:
    """The source as the decoders take it (a path checked to exist, a URL downloaded, ``bytes`` or a file object),
    and its name for errors."""
    from huggingface_hub import is_offline_mode  # reads HF_HUB_OFFLINE at import: the environment is read again

    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), f"<{len(source)} bytes of video data>"
    if hasattr(source, "get_frames_at"):  # a torchcodec decoder (`datasets.Video()`): PyAV may use the video it keeps
        encoded = getattr(source, "_hf_encoded", {})
        path = encoded.get("path")
        local = path if isinstance(path, str) and os.path.isfile(path) else None  # a remote `hf://` path is not read
        return encoded.get("bytes") or local, path or "<torchcodec decoder>"
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return source, os.fsdecode(name) if isinstance(name, (str, bytes)) else f"<{type(source).__name__} object>"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"Unsupported video source of type {type(source).__name__}; pass a path, bytes or a file.")
    name = os.fspath(source)
    if name.startswith(("http://", "https://")):
        if is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
            raise VideoDecodeError(
                f"Cannot read video {name}: HF_HUB_OFFLINE is set, so URLs are not downloaded. Download the video "
                "yourself and pass the local path, or unset HF_HUB_OFFLINE."
            )
        return download_video(name), name
    if not os.path.isfile(name):
        raise VideoDecodeError(f"Cannot read video {name}: no such file.")
    return name, name


def _torchcodec_misreads(source) -> str | None:
    """What a normalized source is when torchcodec returns wrong frames for it: an MPEG transport stream (three
    188-byte packets, sync byte 0x47; seeks by byte estimates) or an AVI file (stamps in decode order, so B-frames
    come back out of place); None otherwise."""
    if isinstance(source, str):
        with open(source, "rb") as file:
            head = file.read(3 * 188)
    elif hasattr(source, "read"):
        position, head = source.tell(), source.read(3 * 188)
        source.seek(position)
    else:
        head = source[: 3 * 188]
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "an MPEG transport stream"
    return "an AVI file" if head[:4] == b"RIFF" and head[8:12] == b"AVI " else None


def _constant_rate_times(num_frames: int, fps: float | None) -> np.ndarray:
    """``VideoReader.frame_times`` of ``num_frames`` frames at a constant ``fps`` (NaN when the rate is unknown)."""
    return np.arange(num_frames + 1) / fps if fps else np.full(num_frames + 1, np.nan)


def _index_packets(container, stream) -> tuple[np.ndarray | None, list[int], np.ndarray]:
    """The shown frames of a PyAV stream, from its packets without decoding: their sorted ``pts`` (None where they
    are not presentation times, raw ``.h264`` or AVI with B-frames: frames are numbered as shown), the frames a seek
    to each keyframe lands on, and ``VideoReader.frame_times``."""
    fps = float(stream.average_rate) if stream.average_rate else None
    shown, keyframe_pts = [], []
    for packet in container.demux(stream):
        stamp = packet.pts if packet.pts is not None else packet.dts
        keyframe_pts += [stamp] if packet.is_keyframe and packet.size else []
        if packet.size and not packet.is_discard:  # an edit list hides discarded ones (a trim's pre-roll)
            shown.append((stamp, packet.duration or 0))
    stamps = [stamp for stamp, _ in shown]
    # no stamps (raw .h264), or AVI with B-frames (it keeps no presentation times): frames are numbered as shown
    if not shown or None in stamps or (stream.codec_context.has_b_frames and container.format.name == "avi"):
        return None, [0], _constant_rate_times(len(shown), fps)
    pts, durations = np.array(sorted(shown), dtype=np.int64).T
    keyframes = sorted({0, *np.searchsorted(pts, keyframe_pts).tolist()})
    seconds = (pts - pts[0]) * float(stream.time_base)
    last = durations[-1] * float(stream.time_base) or (np.median(np.diff(seconds)) if pts.size > 1 else 0)
    return pts, keyframes, np.append(seconds, seconds[-1] + (last or (1 / fps if fps else 0)))


class VideoReader(AbstractContextManager):
    """Random access to the frames of one video (made by :func:`open_video`): torchcodec's decoder, or PyAV's that
    seeks to keyframes (``frames_decoded`` counts its frames). ``metadata`` is transformers' ``VideoMetadata``."""

    def __init__(self, source, name: str):
        self._source, self.name, self.frames_decoded, self.fallback = source, name, 0, False
        self._decoder = self._container = self._times = self._graph_key = None

    @property
    def backend(self) -> str:
        return "pyav" if self._decoder is None else "torchcodec"

    @property
    def num_frames(self) -> int:
        return self.metadata.total_num_frames

    @property
    def frame_times(self) -> np.ndarray:
        """float64 ``[num_frames + 1]``: when each frame is shown, in seconds from the first, then when the last one
        ends (from the presentation timestamps, which torchcodec's reader reads with PyAV)."""
        if self._times is None:
            fps, position = self.metadata.fps, self._source.tell() if hasattr(self._source, "tell") else None
            self._times = _constant_rate_times(self.num_frames, fps)
            with suppress(Exception):  # no source, or PyAV cannot read it: a constant rate
                self._reopen()
                times = _index_packets(self._container, self._stream)[2]
                self._times = times if len(times) == len(self._times) else self._times
            self.close()
            if position is not None:
                self._source.seek(position)
        return self._times

    def _open_torchcodec(self, decoder=None) -> None:
        if self._source is not None and (kind := _torchcodec_misreads(self._source)):
            raise VideoDecodeError(
                f"Video {self.name} is {kind}: torchcodec returns the wrong frames of it. Use backend='pyav' (or "
                "'auto', which does)."
            )
        try:
            decoder = decoder or _torchcodec_decoder_class()(self._source, seek_mode="exact", dimension_order="NHWC")
            meta = decoder.metadata
        except Exception as error:  # torchcodec raises RuntimeError / ValueError with FFmpeg's message
            raise VideoDecodeError(f"Cannot read video {self.name} with torchcodec: {error}") from error
        if not meta.num_frames:
            raise VideoDecodeError(f"Video {self.name} contains no frames.")
        self._decoder, self._first_pts = decoder, meta.begin_stream_seconds_from_content
        self.metadata = VideoMetadata(
            total_num_frames=meta.num_frames,
            fps=meta.average_fps,
            height=meta.height,
            width=meta.width,
            duration=meta.duration_seconds,
            video_backend="torchcodec",
        )

    def _open_pyav(self, torchcodec_error: VideoDecodeError | None = None, num_frames: int | None = None) -> None:
        """Index the video with PyAV; ``num_frames``: the count it must find to take over from torchcodec (indices
        mean frames of one index only). Its errors also carry ``torchcodec_error``, why PyAV took over."""
        try:
            self._reopen()
            if self._stream is None:
                raise VideoDecodeError(f"Video {self.name} has no video stream.")
            self._pts, self._keyframes, self._times = _index_packets(self._container, self._stream)
            count = len(self._times) - 1
            if not count:
                raise VideoDecodeError(f"Video {self.name} contains no frames.")
            if num_frames not in (None, count):
                raise VideoDecodeError(f"PyAV counts {count} frames of video {self.name}, torchcodec {num_frames}.")
            self._pts_to_index = None if self._pts is None else {p: i for i, p in enumerate(self._pts.tolist())}
            stream, self._position = self._stream, -1
            self.metadata = VideoMetadata(
                total_num_frames=count,
                fps=float(stream.average_rate) if stream.average_rate else None,
                duration=float(stream.duration * stream.time_base) if stream.duration else None,
                video_backend="pyav",
            )
            # the display matrix is known once a frame is decoded: frames rotated by 90 degrees swap H and W
            self.metadata.height, self.metadata.width = self.get_frames([0]).shape[1:3]
        except Exception as error:
            self.close()
            message = f"Cannot read video {self.name} with PyAV: {error}"
            message = str(error) if isinstance(error, VideoDecodeError) else message
            if torchcodec_error is not None and "no frames" not in message:
                message += f" (torchcodec also failed: {torchcodec_error})"
            raise VideoDecodeError(message) from error

    def _reopen(self) -> None:
        """Open the source with PyAV (again), from its start."""
        import av

        self.close()
        if hasattr(self._source, "seek"):
            self._source.seek(0)
        self._container = av.open(io.BytesIO(self._source) if isinstance(self._source, bytes) else self._source)
        self._stream = self._container.streams.video[0] if self._container.streams.video else None

    def get_frames(self, indices, transform: Callable | None = None) -> torch.Tensor:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 ``[N, H, W, 3]``; ``transform`` runs on each
        chunk of decoded frames as soon as it is decoded."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_frames):
            raise IndexError(
                f"Frame indices must be in [0, {self.num_frames}) for video {self.name}, got min {indices.min()} "
                f"max {indices.max()}."
            )
        unique, transform = np.unique(indices), transform or (lambda frames: frames)
        if not unique.size:
            return transform(torch.empty((0, self.metadata.height, self.metadata.width, 3), dtype=torch.uint8))
        try:
            chunks = self._decode(unique, transform)
        except VideoDecodeError as error:
            if not self.fallback:
                raise
            self._decoder, self.fallback = None, False
            self._open_pyav(error, num_frames=self.num_frames)
            chunks = self._decode(unique, transform)
        frames = torch.cat(chunks) if len(chunks) > 1 else chunks[0]
        return frames[torch.from_numpy(np.searchsorted(unique, indices))].contiguous()

    def _decode(self, unique: np.ndarray, transform: Callable) -> list[torch.Tensor]:
        if self._decoder is None:  # PyAV, a frame at a time
            return [transform(self._pyav_frame(index)) for index in unique.tolist()]
        step = chunk_frames(self.metadata.width, self.metadata.height)
        return [transform(self._torchcodec_frames(unique[i : i + step].tolist())) for i in range(0, unique.size, step)]

    def _torchcodec_frames(self, indices: list[int]) -> torch.Tensor:
        """uint8 ``[n, H, W, 3]``; an inexact seek shows as timestamps out of order or a late frame 0."""
        try:
            batch = self._decoder.get_frames_at(indices=indices)
        except Exception as error:
            raise VideoDecodeError(f"Cannot decode frames {indices} of video {self.name}: {error}") from error
        pts = batch.pts_seconds.double()
        late = indices[0] == 0 and self._first_pts is not None and abs(float(pts[0]) - self._first_pts) > 1e-6
        if late or bool((pts.diff() <= 0).any()):
            raise VideoDecodeError(
                f"torchcodec returned frames with timestamps {[round(float(p), 4) for p in pts]} s for frames "
                f"{indices} of video {self.name}: it sought inexactly. Use backend='pyav' (or 'auto')."
            )
        frames = batch.data  # NHWC, or NCHW from a decoder made elsewhere (datasets' default)
        return (
            frames if frames.shape[1:3] == (self.metadata.height, self.metadata.width) else frames.permute(0, 2, 3, 1)
        )

    def _pyav_frame(self, target: int) -> torch.Tensor:
        """uint8 ``[1, H, W, 3]``, decoded from the keyframe before it unless decoding passes it anyway."""
        keyframe = self._keyframes[bisect_right(self._keyframes, target) - 1]
        try:
            for start in (keyframe, None):  # None: from the top, when a seek landed past the frame (MPEG-TS)
                if start is None or not keyframe <= self._position < target:
                    self._frames = self._decode_from(start)
                frame = next((frame for index, frame in self._frames if index >= target), None)
                if self._position == target:
                    return self._to_rgb(frame)
        except VideoDecodeError:
            raise
        except Exception as error:
            raise VideoDecodeError(f"Cannot decode frame {target} of video {self.name} with PyAV: {error}") from error
        raise VideoDecodeError(f"PyAV did not return frame {target} of video {self.name}.")

    def _decode_from(self, keyframe: int | None) -> Iterator:
        """``(index, frame)`` of the shown frames from ``keyframe`` on, seeking; or from the top (``keyframe=None``,
        and always in an untimed stream), reopening."""
        if self._pts is None or keyframe is None:
            self._reopen()
        else:
            self._container.seek(int(self._pts[keyframe]), stream=self._stream, backward=True, any_frame=False)
        self._position = (keyframe or 0) - 1
        for frame in self._container.decode(self._stream):
            self.frames_decoded += 1
            stamp = frame.pts if frame.pts is not None else frame.dts
            index = self._position + 1 if self._pts is None else self._pts_to_index.get(stamp)
            if index is not None:
                self._position = index
                yield index, frame

    def _to_rgb(self, frame) -> torch.Tensor:
        """uint8 ``[1, H, W, 3]``, upright, converted by an FFmpeg filter graph as the ``ffmpeg`` command line does
        (PyAV's ``to_ndarray(format="rgb24")`` converts 10-bit frames differently, by up to 117 grey levels)."""
        import av

        rotation = round(frame.rotation or 0) % 360
        if rotation not in _ROTATION_FILTERS:
            raise VideoDecodeError(
                f"Video {self.name} asks to be displayed rotated by {rotation} degrees; only multiples of 90 are "
                "supported. Re-encode it upright (ffmpeg -i IN -c:v libx264 OUT applies the rotation)."
            )
        if (frame.width, frame.height, frame.format.name, rotation) != self._graph_key:
            graph = av.filter.Graph()
            rotate = [graph.add(name, args) for name, args in _ROTATION_FILTERS[rotation].items()]
            graph.link_nodes(
                graph.add_buffer(template=frame), *rotate, graph.add("format", "rgb24"), graph.add("buffersink")
            ).configure()
            self._graph, self._graph_key = graph, (frame.width, frame.height, frame.format.name, rotation)
        self._graph.push(frame)
        return torch.from_numpy(self._graph.pull().to_ndarray())[None]

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __exit__(self, *exc):
        self.close()


def open_video(source, backend: str = "auto") -> VideoReader:
    """A reader of ``source`` for several :func:`decode_video` calls on one open file. ``"auto"``: torchcodec, and
    PyAV when torchcodec is missing, cannot open the source or fails to decode it."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown video backend {backend!r}; expected one of {BACKENDS}.")
    decoder_class = _torchcodec_decoder_class()
    if backend == "torchcodec" and decoder_class is None:
        raise ImportError("backend='torchcodec' needs torchcodec and FFmpeg's shared libraries (apt install ffmpeg).")
    reader = VideoReader(*_normalize(source))
    if backend == "pyav" or decoder_class is None:
        reader._open_pyav()
        return reader
    try:
        reader._open_torchcodec(source if isinstance(source, decoder_class) else None)
    except VideoDecodeError as error:
        if backend == "torchcodec":
            raise
        reader._open_pyav(error)
    reader.fallback = backend == "auto" and reader.backend == "torchcodec" and reader._source is not None
    return reader


def _short_side_resize(shortest_edge: int, resample) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 ``[n, H, W, 3]`` -> ``[n, h, w, 3]``, bit for bit the resize of transformers' torchvision backend for
    ``size={"shortest_edge": ...}`` (torchvision computes the same output size)."""
    resample = pil_torch_interpolation_mapping.get(resample, resample)

    def resize(frames: torch.Tensor) -> torch.Tensor:
        frames = tvF.resize(frames.permute(0, 3, 1, 2), [shortest_edge], interpolation=resample, antialias=True)
        return frames.permute(0, 2, 3, 1)

    return resize


def decode_video(
    source,
    indices: np.ndarray | list[int] | Callable[[VideoMetadata], np.ndarray] | None = None,
    shortest_edge: int | None = None,
    resample: PILImageResampling | tvF.InterpolationMode = PILImageResampling.BILINEAR,
    backend: str = "auto",
) -> tuple[torch.Tensor, VideoMetadata]:
    """uint8 frames ``[N, H, W, 3]`` at ``indices`` of ``source`` (all frames when None; each decoded from the
    keyframe before it), resized to ``shortest_edge`` chunk by chunk, and ``VideoMetadata`` with ``frames_indices``.

    Args:
        source: a path, URL, bytes, binary file, torchcodec ``VideoDecoder`` (a ``datasets.Video()`` value), or an
            open reader from :func:`open_video` (left open).
        indices: frame indices in presentation order (any shape, order and repeats), or a function of the video's
            ``VideoMetadata`` returning them.
        backend: ``"auto"`` (torchcodec, PyAV fallback), ``"torchcodec"`` or ``"pyav"``.
    """
    with nullcontext(source) if isinstance(source, VideoReader) else open_video(source, backend) as reader:
        indices = indices(reader.metadata) if callable(indices) else indices
        indices = np.arange(reader.num_frames) if indices is None else np.asarray(indices, dtype=np.int64)
        resize = None if shortest_edge is None else _short_side_resize(shortest_edge, resample)
        frames = reader.get_frames(indices, resize)
    return frames, dataclasses.replace(reader.metadata, frames_indices=indices)


__all__ = ["VideoDecodeError", "VideoReader", "decode_video", "download_video", "open_video"]
