"""Decode selected frames of a video: torchcodec when it works, PyAV otherwise, the same frames either way.

The truth both backends are held to is FFmpeg's own ``ffmpeg -i VIDEO -f rawvideo -pix_fmt rgb24 -`` output: frames
in presentation order after the container's edit list (a stream-copied trim starts at its first *shown* frame, not at
the keyframe before it), rotated as the display matrix says (multiples of 90 degrees), converted to 8-bit RGB by
FFmpeg's filter graph (so 10-bit and other pixel formats come out as FFmpeg converts them).
``tests/processing/test_video_io.py`` checks both backends against the ``ffmpeg`` command line on files it makes
with it (rotated, trimmed with an edit list, 10-bit, MPEG-TS).

Frames are addressed by their index in presentation order (0 = first displayed frame). Both backends build the same
frame index from the container without decoding anything (torchcodec's ``seek_mode="exact"`` scan, a packet scan in
PyAV that skips the packets an edit list discards), then decode only what the requested indices need: torchcodec
seeks natively; the PyAV reader seeks to the keyframe before each requested frame that lies in a later group of
pictures and decodes forward from there, so a clip of 32 frames from a long video never decodes the whole file.

``backend="auto"`` uses torchcodec and falls back to PyAV when torchcodec cannot open a source *or* fails while
decoding it (torchcodec cannot decode some MPEG-TS streams, for example).

``get_frames(indices, transform=...)`` decodes in chunks of a few frames and applies ``transform`` to each chunk, so a
resize done there never holds more than a few full-resolution frames (a 4K frame is 25 MB).

``source`` may be a path (``str`` / ``os.PathLike``), an ``http(s)://`` URL (downloaded unless ``HF_HUB_OFFLINE`` is
set), raw ``bytes``, or a binary file-like object. Unreadable, truncated-beyond-use or frameless videos, and URLs
that cannot be fetched, raise :class:`VideoDecodeError`, whose message names the file.
"""

from __future__ import annotations

import io
import os
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

BACKENDS = ("auto", "torchcodec", "pyav")
# Frames decoded before a transform runs: at most CHUNK_FRAMES, and at most CHUNK_BYTES of RGB (one 4K frame is 25 MB:
# 2 frames a chunk, where 8 would be 200 MB).
CHUNK_FRAMES = 8
CHUNK_BYTES = 64 * 2**20


def chunk_frames(width: int, height: int) -> int:
    """Frames of ``width`` x ``height`` to decode in one chunk (see ``CHUNK_FRAMES`` and ``CHUNK_BYTES``)."""
    return max(1, min(CHUNK_FRAMES, CHUNK_BYTES // max(1, 3 * width * height)))


FrameTransform = Callable[[torch.Tensor], torch.Tensor]  # uint8 [n, H, W, 3] -> [n, ...]


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


def offline_mode() -> bool:
    """``HF_HUB_OFFLINE`` as huggingface_hub reads it (at import), or as set in the environment since."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def _fetch_url(url: str) -> bytes:
    if offline_mode():
        raise VideoDecodeError(
            f"Cannot read video {url}: HF_HUB_OFFLINE is set, so URLs are not downloaded. Download the video "
            "yourself and pass the local path, or unset HF_HUB_OFFLINE."
        )
    from huggingface_hub.utils import httpx

    try:
        response = httpx.get(url, follow_redirects=True)
        response.raise_for_status()
    except Exception as error:  # httpx.HTTPError and the OSErrors below it
        raise VideoDecodeError(
            f"Cannot download video {url}: {error}. Check the URL and the network, or pass a local file."
        ) from error
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


def _is_mpeg_ts(source) -> bool:
    """Whether ``source`` (a path, bytes or a seekable file) starts like an MPEG transport stream: 188-byte packets,
    each beginning with the sync byte 0x47. torchcodec seeks in them by byte estimates and returns frames from the
    wrong group of pictures, so ``auto`` sends them to PyAV."""
    if isinstance(source, str):
        with open(source, "rb") as file:
            head = file.read(3 * 188 + 1)
    elif isinstance(source, bytes):
        head = source[: 3 * 188 + 1]
    elif hasattr(source, "seek") and hasattr(source, "tell"):
        position = source.tell()
        head = source.read(3 * 188 + 1)
        source.seek(position)
    else:
        return False
    return len(head) > 2 * 188 and all(head[i] == 0x47 for i in (0, 188, 376))


def _check_indices(indices, num_frames: int, name: str) -> np.ndarray:
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size and (indices.min() < 0 or indices.max() >= num_frames):
        raise IndexError(
            f"Frame indices must be in [0, {num_frames}) for video {name}, got min {indices.min()} max {indices.max()}."
        )
    return indices


def _gather(unique: np.ndarray, chunks: list[torch.Tensor], indices: np.ndarray) -> torch.Tensor:
    """Frames decoded for the sorted ``unique`` indices, in chunks, arranged in the order of ``indices``."""
    frames = torch.cat(chunks) if len(chunks) > 1 else chunks[0]
    position = np.searchsorted(unique, indices)
    return frames[torch.from_numpy(position)].contiguous()


def _apply(transform: FrameTransform | None, frames: torch.Tensor) -> torch.Tensor:
    return frames if transform is None else transform(frames)


class VideoReader:
    """Common interface of the backends; use :func:`open_video` to get one."""

    backend: str = ""

    def __init__(self, source, name: str):
        self.name = name
        self.info: VideoInfo

    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    def get_frames(self, indices: Sequence[int] | np.ndarray, transform: FrameTransform | None = None) -> torch.Tensor:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 ``[N, H, W, 3]`` RGB.

        With ``transform``, each chunk of decoded frames ``[n, H, W, 3]`` (:func:`chunk_frames`) goes through it as
        soon as it is decoded, and the result is ``transform``'s outputs, concatenated in the order of ``indices``.
        """
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
        if _is_mpeg_ts(source):
            raise VideoDecodeError(
                f"Video {name} is an MPEG transport stream: torchcodec seeks in it inexactly and returns the wrong "
                "frames. Use backend='pyav' (or 'auto', which does)."
            )
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
        self._first_pts = meta.begin_stream_seconds_from_content
        self.info = VideoInfo(
            num_frames=num_frames,
            fps=float(meta.average_fps) if meta.average_fps else None,
            height=int(meta.height),
            width=int(meta.width),
            duration=float(meta.duration_seconds) if meta.duration_seconds else None,
            backend=self.backend,
        )

    def get_frames(self, indices, transform: FrameTransform | None = None) -> torch.Tensor:
        indices = _check_indices(indices, self.num_frames, self.name)
        if indices.size == 0:
            return _apply(transform, torch.empty((0, self.info.height, self.info.width, 3), dtype=torch.uint8))
        unique = np.unique(indices)
        chunks, step = [], chunk_frames(self.info.width, self.info.height)
        for start in range(0, unique.size, step):
            chunk = unique[start : start + step].tolist()
            try:
                batch = self._decoder.get_frames_at(indices=chunk)
            except Exception as error:
                raise VideoDecodeError(f"Cannot decode frames {chunk} of video {self.name}: {error}") from error
            self._check_timestamps(chunk, batch.pts_seconds)
            chunks.append(_apply(transform, batch.data))
        return _gather(unique, chunks, indices)

    def _check_timestamps(self, indices: list[int], pts: torch.Tensor) -> None:
        """A safety net against inexact seeks: frames asked for in increasing order must come back with strictly
        increasing timestamps, and frame 0 with the stream's first timestamp."""
        pts = pts.double()
        wrong = bool((pts[1:] <= pts[:-1]).any())
        if indices[0] == 0 and self._first_pts is not None:
            wrong |= abs(float(pts[0]) - float(self._first_pts)) > 1e-6
        if wrong:
            raise VideoDecodeError(
                f"torchcodec returned frames with timestamps {[round(float(p), 4) for p in pts]} s for frames "
                f"{indices} of video {self.name}: it sought inexactly in this file. Use backend='pyav' (or 'auto')."
            )


# FFmpeg's autorotation (fftools): the filters that turn a decoded frame upright, by the display matrix's
# counter-clockwise rotation in degrees (PyAV's ``VideoFrame.rotation``).
_ROTATION_FILTERS = {
    0: (),
    90: (("transpose", "cclock"),),
    180: (("hflip", ""), ("vflip", "")),
    270: (("transpose", "clock"),),
}


class _RGBConverter:
    """Decoded frame -> upright uint8 RGB, through an FFmpeg filter graph like the ``ffmpeg`` command line's.

    PyAV's ``VideoFrame.to_ndarray(format="rgb24")`` converts 10-bit frames differently from FFmpeg's filter graph
    (by up to 117 grey levels on a test pattern), so frames go through ``[transpose/flips] -> format=rgb24``.
    """

    def __init__(self, name: str):
        self.name = name
        self._graph = None
        self._key = None

    def __call__(self, frame) -> np.ndarray:
        import av

        rotation = int(round(frame.rotation or 0)) % 360
        if rotation not in _ROTATION_FILTERS:
            raise VideoDecodeError(
                f"Video {self.name} asks to be displayed rotated by {rotation} degrees; only multiples of 90 are "
                "supported. Re-encode it upright (ffmpeg -i IN -c:v libx264 OUT applies the rotation)."
            )
        key = (frame.width, frame.height, frame.format.name, rotation)
        if key != self._key:
            graph = av.filter.Graph()
            nodes = [
                graph.add_buffer(
                    width=frame.width, height=frame.height, format=frame.format, time_base=frame.time_base
                )
            ]
            nodes += [graph.add(name, args) for name, args in _ROTATION_FILTERS[rotation]]
            nodes += [graph.add("format", "rgb24"), graph.add("buffersink")]
            graph.link_nodes(*nodes).configure()
            self._graph, self._key = graph, key
        self._graph.push(frame)
        return self._graph.pull().to_ndarray()


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
        self._to_rgb = _RGBConverter(name)
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
            # Index the stream from packets (no decoding): presentation timestamps and keyframes. Packets that the
            # container's edit list hides (the pre-roll of a stream-copied trim) are flagged `is_discard`: the
            # decoder needs them but never shows their frames, so they are not frames of the video.
            pts, keyframe_pts = [], []
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None:
                    continue
                if packet.is_keyframe:
                    keyframe_pts.append(stamp)
                if packet.is_discard:
                    continue
                pts.append(stamp)
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
        # a keyframe is where decoding can start: for a discarded keyframe, the first shown frame at or after it
        keyframe_indices = sorted({int(np.searchsorted(self._pts, p)) for p in keyframe_pts} - {len(self._pts)})
        if not keyframe_indices or keyframe_indices[0] != 0:
            keyframe_indices.insert(0, 0)  # decoding from the very start is always possible
        self._keyframes = keyframe_indices
        self._keyframe_seek_pts = {}
        for p in sorted(keyframe_pts, reverse=True):  # the earliest keyframe that leads to each index
            index = int(np.searchsorted(self._pts, p))
            self._keyframe_seek_pts[index] = int(p)
        self._iterator = None
        self._position = -1  # index of the last decoded frame
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
        try:  # the display matrix is known once a frame is decoded: frames rotated by 90 degrees swap H and W
            self.info.height, self.info.width = self.get_frames([0]).shape[1:3]
        except VideoDecodeError:
            self.close()
            raise

    def _keyframe_before(self, index: int) -> int:
        return self._keyframes[bisect_right(self._keyframes, index) - 1]

    def _seek(self, index: int) -> None:
        keyframe = self._keyframe_before(index)
        stamp = self._keyframe_seek_pts.get(keyframe, int(self._pts[keyframe]))
        self._container.seek(stamp, stream=self._stream, backward=True, any_frame=False)
        self._iterator = self._container.decode(self._stream)
        self._position = keyframe - 1

    def _decode_until(self, target: int, wanted: set[int], out: dict[int, torch.Tensor], transform) -> None:
        for frame in self._iterator:
            self.frames_decoded += 1
            stamp = frame.pts if frame.pts is not None else frame.dts
            index = self._pts_to_index.get(int(stamp)) if stamp is not None else None
            if index is None:
                continue
            self._position = index
            if index in wanted and index not in out:
                rgb = torch.from_numpy(self._to_rgb(frame))[None]
                out[index] = _apply(transform, rgb)
            if index >= target:
                return
        self._iterator = None  # exhausted

    def get_frames(self, indices, transform: FrameTransform | None = None) -> torch.Tensor:
        indices = _check_indices(indices, self.num_frames, self.name)
        if indices.size == 0:
            return _apply(transform, torch.empty((0, self.info.height, self.info.width, 3), dtype=torch.uint8))
        unique = np.unique(indices)
        wanted = {int(i) for i in unique}
        out: dict[int, torch.Tensor] = {}
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
                self._decode_until(target, wanted, out, transform)
                if target not in out:  # inexact seek (unusual timestamps): decode from the start as a last resort
                    self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
                    self._iterator = self._container.decode(self._stream)
                    self._position = -1
                    self._decode_until(target, wanted, out, transform)
        except VideoDecodeError:
            raise
        except Exception as error:
            raise VideoDecodeError(f"Cannot decode frames of video {self.name} with PyAV: {error}") from error
        missing = sorted(wanted - out.keys())
        if missing:
            raise VideoDecodeError(f"Video {self.name} ended before frames {missing[:8]} could be decoded.")
        return _gather(unique, [out[int(i)] for i in unique], indices)

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None


class _FallbackReader(VideoReader):
    """torchcodec first; when it fails to decode frames it had opened, PyAV takes over, as when it fails to open.

    PyAV must see the same number of frames (frame indices are only meaningful within one index), else the error
    names both failures.
    """

    def __init__(self, primary: VideoReader, source, name: str, num_threads: int):
        super().__init__(source, name)
        self._primary, self._source, self._num_threads = primary, source, num_threads
        self._fallback: VideoReader | None = None
        self.info = primary.info

    @property
    def backend(self) -> str:
        return (self._fallback or self._primary).backend

    def get_frames(self, indices, transform: FrameTransform | None = None) -> torch.Tensor:
        if self._fallback is None:
            try:
                return self._primary.get_frames(indices, transform)
            except VideoDecodeError as error:
                primary_error = error
            self._primary.close()
            if hasattr(self._source, "seek"):
                self._source.seek(0)
            try:
                fallback = PyAVReader(self._source, self.name, num_threads=self._num_threads)
            except VideoDecodeError as error:
                raise VideoDecodeError(f"{primary_error} (PyAV also failed: {error})") from error
            if fallback.num_frames != self.num_frames:
                fallback.close()
                raise VideoDecodeError(
                    f"{primary_error} (PyAV counts {fallback.num_frames} frames where torchcodec counted "
                    f"{self.num_frames}, so it cannot stand in for the same frame indices)"
                ) from primary_error
            self._fallback = fallback
            self.info = VideoInfo(**{**vars(self.info), "backend": fallback.backend})
        return self._fallback.get_frames(indices, transform)

    def close(self) -> None:
        (self._fallback or self._primary).close()


def open_video(source, backend: str = "auto", num_threads: int = 1) -> VideoReader:
    """Open a video for random access to its frames.

    ``backend="auto"`` uses torchcodec when it is installed and loads, and falls back to PyAV when torchcodec is
    missing, cannot open this particular source, or fails to decode its frames. Raises :class:`VideoDecodeError`
    (naming the file) when no backend can read it or it has no frames.
    """
    if backend not in BACKENDS:
        raise ValueError(f"Unknown video backend {backend!r}; expected one of {BACKENDS}.")
    name = describe_source(source)
    source = _normalize_source(source)
    if backend == "torchcodec" and not torchcodec_available():
        raise ImportError("backend='torchcodec' needs torchcodec and FFmpeg's shared libraries (apt install ffmpeg).")
    torchcodec_error = None
    if backend in ("torchcodec", "auto") and torchcodec_available():
        try:
            reader = TorchcodecReader(source, name, num_threads=num_threads)
            return reader if backend == "torchcodec" else _FallbackReader(reader, source, name, num_threads)
        except VideoDecodeError as error:
            if backend == "torchcodec":
                raise
            torchcodec_error = error
        if hasattr(source, "seek"):
            source.seek(0)
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


def decode_frames(source, indices, backend: str = "auto", transform: FrameTransform | None = None) -> torch.Tensor:
    """Frames ``indices`` of ``source`` as uint8 ``[N, H, W, 3]`` RGB (or ``transform``'s output, see
    ``VideoReader.get_frames``); only those frames (and the frames between each one and its preceding keyframe) are
    decoded."""
    with open_video(source, backend=backend) as reader:
        return reader.get_frames(indices, transform)


def read_video_clips(
    source, indices_fn, backend: str = "auto", transform: FrameTransform | None = None
) -> tuple[torch.Tensor, np.ndarray, VideoInfo]:
    """Open ``source`` once, call ``indices_fn(info)`` for the indices to decode (any shape), return
    ``(frames [indices.size, H, W, 3], indices, info)``; with ``transform``, applied to each chunk as it is decoded
    (see :meth:`VideoReader.get_frames`)."""
    with open_video(source, backend=backend) as reader:
        indices = np.asarray(indices_fn(reader.info), dtype=np.int64)
        return reader.get_frames(indices.reshape(-1), transform=transform), indices, reader.info


__all__ = [
    "BACKENDS",
    "CHUNK_BYTES",
    "CHUNK_FRAMES",
    "FrameTransform",
    "PyAVReader",
    "TorchcodecReader",
    "VideoDecodeError",
    "VideoInfo",
    "VideoReader",
    "chunk_frames",
    "count_frames",
    "decode_frames",
    "describe_source",
    "open_video",
    "read_video_clips",
    "torchcodec_available",
]
