"""The one way a clip is decoded: :func:`decode_video` (a source and frame indices in, frames resized while decoding
out), called by the video processor, the inference stream and training's clip loader.

It runs torchcodec's ``VideoDecoder`` (``seek_mode="exact"``; ``datasets.Video()`` values are such decoders) and
returns transformers' ``VideoMetadata``; URLs use huggingface_hub's HTTP client and offline flag. Kept here, each for
a test the libraries fail (the truth is ``ffmpeg -i VIDEO -f rawvideo -pix_fmt rgb24 -``):

- a PyAV reader for what torchcodec cannot open or decode, converting through FFmpeg's filter graph as the command
  line does (rotation, edit lists, 10-bit) and seeking to keyframes (``test_backends_meet_ffmpeg_command_line``,
  ``test_trimmed_file_starts_at_its_first_shown_frame``, ``test_pyav_seeks_instead_of_decoding_everything``,
  ``test_auto_prefers_torchcodec_and_falls_back_to_pyav``,
  ``test_auto_falls_back_to_pyav_when_torchcodec_fails_to_decode``);
- MPEG-TS goes to PyAV: torchcodec 0.17 seeks in it by byte estimates
  (``test_torchcodec_refuses_mpeg_ts_and_auto_uses_pyav``);
- raw elementary streams (``.h264``): no timestamps, no seeking; PyAV numbers frames as shown and rereads from the top
  (``test_raw_h264_stream_is_decoded_by_pyav``);
- frame times from the packets' timestamps, for variable frame rates: ``VideoMetadata.timestamps`` is index / fps,
  and torchcodec keeps its frame index to itself (``test_frame_times_are_the_presentation_times``);
- the resize while decoding: torchvision's antialiased resize at transformers' output size on chunks of at most
  ``CHUNK_FRAMES`` frames and ``CHUNK_BYTES``; torchcodec's ``Resize`` (swscale) is not bit-exact
  (``test_torchcodec_resize_transform_is_not_bit_exact``, ``test_resize_while_decoding_equals_decode_then_resize``,
  ``test_chunks_are_bounded_in_frames_and_bytes``);
- errors naming the file, ``HF_HUB_OFFLINE`` set after import, downloads with a size cap and a total deadline
  (``test_unreadable_file_error_names_the_file``, ``test_url_respects_hf_hub_offline``,
  ``test_url_download_has_a_size_cap_and_a_total_deadline``).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable
from functools import lru_cache
from typing import IO

import numpy as np
import torch
from torchvision.transforms.v2 import functional as tvF
from transformers.image_transforms import get_resize_output_image_size
from transformers.image_utils import ChannelDimension, PILImageResampling, pil_torch_interpolation_mapping
from transformers.video_utils import VideoMetadata

BACKENDS = ("auto", "torchcodec", "pyav")
CHUNK_FRAMES = 8  # frames decoded before the resize runs: at most 8, and at most CHUNK_BYTES of RGB
CHUNK_BYTES = 64 * 2**20
MAX_DOWNLOAD_BYTES = 2 * 2**30  # VIDEOSWIN_MAX_DOWNLOAD_BYTES overrides it
DOWNLOAD_TIMEOUT = 600.0  # seconds for a whole download; VIDEOSWIN_DOWNLOAD_TIMEOUT overrides it
# FFmpeg's autorotation: the filters that turn a frame upright, by the display matrix's counter-clockwise rotation
_ROTATION_FILTERS = {
    0: (),
    90: (("transpose", "cclock"),),
    180: (("hflip", ""), ("vflip", "")),
    270: (("transpose", "clock"),),
}


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


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes of video data>"
    name = getattr(source, "name", None) or (getattr(source, "_hf_encoded", None) or {}).get("path")
    return os.fsdecode(name) if isinstance(name, (str, bytes)) else f"<{type(source).__name__} object>"


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        number = float(value) if value else default
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    if not number > 0:
        raise ValueError(f"{name} must be positive, got {value!r}.")
    return number


def download_video(url: str, max_bytes: int | None = None, timeout: float | None = None) -> IO[bytes]:
    """``url`` streamed into an anonymous temporary file, at offset 0. ``max_bytes`` (default 2 GiB) caps its size,
    ``timeout`` (default 600 s) the whole download; either raises ``VideoDecodeError``."""
    from huggingface_hub.utils import httpx

    max_bytes = int(max_bytes or _env_number("VIDEOSWIN_MAX_DOWNLOAD_BYTES", MAX_DOWNLOAD_BYTES))
    timeout = float(timeout or _env_number("VIDEOSWIN_DOWNLOAD_TIMEOUT", DOWNLOAD_TIMEOUT))
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


def _normalize(source):
    """Paths become ``str`` (checked to exist), URLs are downloaded, buffers become ``bytes``."""
    from huggingface_hub import is_offline_mode  # reads HF_HUB_OFFLINE at import: the environment is read again

    source = os.fspath(source) if isinstance(source, os.PathLike) else source
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        if is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
            raise VideoDecodeError(
                f"Cannot read video {source}: HF_HUB_OFFLINE is set, so URLs are not downloaded. Download the video "
                "yourself and pass the local path, or unset HF_HUB_OFFLINE."
            )
        return download_video(source)
    if isinstance(source, str) and not os.path.isfile(source):
        raise VideoDecodeError(f"Cannot read video {source}: no such file.")
    if isinstance(source, (bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, bytes)) or hasattr(source, "read"):
        return source
    raise TypeError(f"Unsupported video source of type {type(source).__name__}; pass a path, bytes or a file object.")


def _head(source, size: int) -> bytes:
    if isinstance(source, str):
        with open(source, "rb") as file:
            return file.read(size)
    if isinstance(source, bytes):
        return source[:size]
    position, head = source.tell(), source.read(size)
    source.seek(position)
    return head


def _rewound(source):
    if hasattr(source, "seek"):
        source.seek(0)
    return source


def _uniform_times(num_frames: int, fps: float | None) -> np.ndarray:
    return np.arange(num_frames + 1, dtype=np.float64) / fps if fps else np.full(num_frames + 1, np.nan)


def _index_packets(container, stream) -> tuple[np.ndarray, list[int], bool, np.ndarray]:
    """The shown frames of a PyAV stream, from its packets without decoding: sorted ``pts``, the keyframes' pts,
    whether the stream is untimed (raw ``.h264``: frames numbered as shown) and ``VideoReader.frame_times``. Packets
    an edit list hides (``is_discard``: a stream-copied trim's pre-roll) feed the decoder but are never shown."""
    pts, keyframe_pts, last_duration, untimed = [], [], {}, 0
    for packet in container.demux(stream):
        stamp = packet.pts if packet.pts is not None else packet.dts
        untimed += bool(packet.size and stamp is None)
        if packet.size and stamp is not None:
            keyframe_pts += [stamp] if packet.is_keyframe else []
            if not packet.is_discard:
                pts.append(stamp)
                last_duration[stamp] = packet.duration or 0
    fps = float(stream.average_rate) if stream.average_rate else None
    if not pts:
        return np.arange(untimed), keyframe_pts, untimed > 0, _uniform_times(untimed, fps)
    pts = np.array(sorted(pts), dtype=np.int64)
    if not stream.time_base:
        return pts, keyframe_pts, False, _uniform_times(pts.size, fps)
    time_base, seconds = float(stream.time_base), pts.astype(np.float64)
    last = last_duration[int(pts[-1])] or (np.median(np.diff(seconds)) if pts.size > 1 else 0)
    last = last or (1 / (fps * time_base) if fps else 0)
    return pts, keyframe_pts, False, (np.append(seconds, seconds[-1] + last) - seconds[0]) * time_base


class VideoReader:
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
        ends (from the presentation timestamps; torchcodec's reader reads them from PyAV's packet index)."""
        if self._times is None:
            self._times = _uniform_times(self.num_frames, self.metadata.fps)
            source, position = self._source, getattr(self._source, "tell", lambda: None)()
            try:
                import av

                with av.open(io.BytesIO(source) if isinstance(source, bytes) else _rewound(source)) as container:
                    pts, _, _, times = _index_packets(container, container.streams.video[0])
                self._times = times if pts.size == self.num_frames else self._times
            except Exception:  # noqa: BLE001 -- no source, or PyAV cannot read it: a constant rate
                pass
            finally:
                if position is not None:
                    source.seek(position)
        return self._times

    def _open_torchcodec(self, decoder=None) -> None:
        head = b"" if decoder is not None else _head(self._source, 3 * 188)
        if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:  # MPEG-TS: 188-byte packets, sync byte
            raise VideoDecodeError(
                f"Video {self.name} is an MPEG transport stream: torchcodec seeks in it inexactly and returns the "
                "wrong frames. Use backend='pyav' (or 'auto', which does)."
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
            total_num_frames=int(meta.num_frames),
            fps=float(meta.average_fps) if meta.average_fps else None,
            height=int(meta.height),
            width=int(meta.width),
            duration=float(meta.duration_seconds) if meta.duration_seconds else None,
            video_backend="torchcodec",
        )

    def _open_pyav(self) -> None:
        try:
            self._reopen()
            if (stream := self._stream) is None:
                raise VideoDecodeError(f"Video {self.name} has no video stream.")
            self._pts, keyframe_pts, self.untimed, self._times = _index_packets(self._container, stream)
            if not self._pts.size:
                raise VideoDecodeError(f"Video {self.name} contains no frames.")
            self._pts_to_index = {int(p): i for i, p in enumerate(self._pts)}
            first_shown = np.searchsorted(self._pts, keyframe_pts)  # seeking to it lands on its keyframe
            self._keyframes, self._iterator = sorted({0, *first_shown[first_shown < len(self._pts)].tolist()}), None
            time_base = float(stream.time_base) if stream.time_base else None
            self.metadata = VideoMetadata(
                total_num_frames=len(self._pts),
                fps=float(stream.average_rate) if stream.average_rate else None,
                height=int(stream.codec_context.height),
                width=int(stream.codec_context.width),
                duration=float(stream.duration * time_base) if stream.duration and time_base else None,
                video_backend="pyav",
            )
            # the display matrix is known once a frame is decoded: frames rotated by 90 degrees swap H and W
            self.metadata.height, self.metadata.width = self.get_frames([0]).shape[1:3]
        except Exception as error:
            self.close()
            if isinstance(error, VideoDecodeError):
                raise
            raise VideoDecodeError(f"Cannot read video {self.name} with PyAV: {error}") from error

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
            decode = self._decode_pyav if self._decoder is None else self._decode_torchcodec
            chunks = decode(unique, transform)
        except VideoDecodeError as error:
            if not self.fallback:
                raise
            self._fall_back(error)
            chunks = self._decode_pyav(unique, transform)
        frames = torch.cat(chunks) if len(chunks) > 1 else chunks[0]
        return frames[torch.from_numpy(np.searchsorted(unique, indices))].contiguous()

    def _fall_back(self, error: VideoDecodeError) -> None:
        """PyAV takes over when torchcodec fails to decode; it must count the same frames (indices are only
        meaningful within one index)."""
        num_frames, self._decoder, self.fallback = self.num_frames, None, False
        try:
            self._open_pyav()
        except VideoDecodeError as pyav_error:
            raise VideoDecodeError(f"{error} (PyAV also failed: {pyav_error})") from pyav_error
        if self.num_frames != num_frames:
            self.close()
            raise VideoDecodeError(
                f"{error} (PyAV counts {self.num_frames} frames where torchcodec counted {num_frames}, so it cannot "
                "stand in for the same frame indices)"
            ) from error

    def _decode_torchcodec(self, unique: np.ndarray, transform: Callable) -> list[torch.Tensor]:
        """torchcodec, a chunk at a time; an inexact seek shows as timestamps out of order or a late frame 0."""
        chunks, step = [], chunk_frames(self.metadata.width, self.metadata.height)
        for start in range(0, unique.size, step):
            chunk = unique[start : start + step].tolist()
            try:
                batch = self._decoder.get_frames_at(indices=chunk)
            except Exception as error:
                raise VideoDecodeError(f"Cannot decode frames {chunk} of video {self.name}: {error}") from error
            pts = batch.pts_seconds.double()
            wrong = bool((pts[1:] <= pts[:-1]).any())
            if chunk[0] == 0 and self._first_pts is not None:
                wrong |= abs(float(pts[0]) - float(self._first_pts)) > 1e-6
            if wrong:
                raise VideoDecodeError(
                    f"torchcodec returned frames with timestamps {[round(float(p), 4) for p in pts]} s for frames "
                    f"{chunk} of video {self.name}: it sought inexactly. Use backend='pyav' (or 'auto')."
                )
            frames = batch.data  # NHWC, or NCHW from a decoder made elsewhere (datasets' default)
            nchw = tuple(frames.shape[-2:]) == (self.metadata.height, self.metadata.width)
            chunks.append(transform(frames.permute(0, 2, 3, 1) if nchw else frames))
        return chunks

    def _reopen(self) -> None:
        import av

        self.close()
        source = self._source
        self._container = av.open(io.BytesIO(source) if isinstance(source, bytes) else _rewound(source))
        self._stream = self._container.streams.video[0] if self._container.streams.video else None

    def _to_rgb(self, frame) -> np.ndarray:
        """Upright uint8 RGB through an FFmpeg filter graph, as the ``ffmpeg`` command line converts (PyAV's
        ``to_ndarray(format="rgb24")`` converts 10-bit frames differently, by up to 117 grey levels)."""
        import av

        rotation = int(round(frame.rotation or 0)) % 360
        if rotation not in _ROTATION_FILTERS:
            raise VideoDecodeError(
                f"Video {self.name} asks to be displayed rotated by {rotation} degrees; only multiples of 90 are "
                "supported. Re-encode it upright (ffmpeg -i IN -c:v libx264 OUT applies the rotation)."
            )
        if (frame.width, frame.height, frame.format.name, rotation) != self._graph_key:
            graph = av.filter.Graph()
            buffer = graph.add_buffer(
                width=frame.width, height=frame.height, format=frame.format, time_base=frame.time_base
            )
            rotate = [graph.add(name, args) for name, args in _ROTATION_FILTERS[rotation]]
            graph.link_nodes(buffer, *rotate, graph.add("format", "rgb24"), graph.add("buffersink")).configure()
            self._graph, self._graph_key = graph, (frame.width, frame.height, frame.format.name, rotation)
        self._graph.push(frame)
        return self._graph.pull().to_ndarray()

    def _seek(self, index: int | None) -> None:
        """Restart decoding at the keyframe before ``index`` (``None``: at the start of the file)."""
        keyframe = 0 if index is None else self._keyframes[bisect_right(self._keyframes, index) - 1]
        if self.untimed:
            self._reopen()
        else:
            stamp = 0 if index is None else int(self._pts[keyframe])
            self._container.seek(stamp, stream=self._stream, backward=True, any_frame=False)
        self._iterator, self._position = self._container.decode(self._stream), keyframe - 1

    def _decode_until(self, target: int, wanted: set[int], out: dict, transform: Callable) -> None:
        for frame in self._iterator:
            self.frames_decoded += 1
            stamp = self._position + 1 if self.untimed else (frame.pts if frame.pts is not None else frame.dts)
            index = self._pts_to_index.get(int(stamp)) if stamp is not None else None
            if index is None:
                continue
            self._position = index
            if index in wanted and index not in out:
                out[index] = transform(torch.from_numpy(self._to_rgb(frame))[None])
            if index >= target:
                return
        self._iterator = None  # exhausted

    def _decode_pyav(self, unique: np.ndarray, transform: Callable) -> list[torch.Tensor]:
        wanted, out = {int(i) for i in unique}, {}
        try:
            for target in sorted(wanted):
                if target in out:
                    continue
                # seek when not decoding, past the target, or a keyframe lies between the position and the target
                keyframe = self._keyframes[bisect_right(self._keyframes, target) - 1]
                if self._iterator is None or target <= self._position or keyframe > self._position:
                    self._seek(target)
                self._decode_until(target, wanted, out, transform)
                if target not in out:  # inexact seek (unusual timestamps): decode from the start as a last resort
                    self._seek(None)
                    self._decode_until(target, wanted, out, transform)
        except VideoDecodeError:
            raise
        except Exception as error:
            raise VideoDecodeError(f"Cannot decode frames of video {self.name} with PyAV: {error}") from error
        missing = sorted(wanted - out.keys())
        if missing:
            raise VideoDecodeError(f"Video {self.name} ended before frames {missing[:8]} could be decoded.")
        return [out[i] for i in sorted(wanted)]

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_video(source, backend: str = "auto") -> VideoReader:
    """A reader of ``source`` for several :func:`decode_video` calls on one open file. ``"auto"``: torchcodec, and
    PyAV when torchcodec is missing, cannot open the source or fails to decode it."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown video backend {backend!r}; expected one of {BACKENDS}.")
    name, decoder_class = _describe(source), _torchcodec_decoder_class()
    if decoder_class is not None and isinstance(source, decoder_class):  # a `datasets.Video()` value
        encoded = getattr(source, "_hf_encoded", {})  # datasets keeps the encoded video: PyAV can take over
        reader = VideoReader(encoded.get("bytes") or encoded.get("path"), name)
        reader._open_torchcodec(source)
        reader.fallback = backend != "torchcodec" and reader._source is not None
        return reader
    reader = VideoReader(_normalize(source), name)
    if backend == "torchcodec" and decoder_class is None:
        raise ImportError("backend='torchcodec' needs torchcodec and FFmpeg's shared libraries (apt install ffmpeg).")
    torchcodec_error = None
    if backend != "pyav" and decoder_class is not None:
        try:
            reader._open_torchcodec()
            reader.fallback = backend == "auto"
            return reader
        except VideoDecodeError as error:
            if backend == "torchcodec":
                raise
            torchcodec_error = error
    try:
        reader._open_pyav()
    except VideoDecodeError as error:
        if torchcodec_error is not None and "no frames" not in str(error):
            raise VideoDecodeError(f"{error} (torchcodec also failed: {torchcodec_error})") from error
        raise
    return reader


def _short_side_resize(shortest_edge: int, resample) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 ``[n, H, W, 3]`` -> ``[n, h, w, 3]``: the resize of transformers' torchvision backend for
    ``size={"shortest_edge": ...}`` (its output size, torchvision's antialiased resize), bit for bit."""
    if isinstance(resample, (PILImageResampling, int)):
        resample = pil_torch_interpolation_mapping[resample]

    def resize(frames: torch.Tensor) -> torch.Tensor:
        frames = frames.permute(0, 3, 1, 2)
        size = get_resize_output_image_size(frames, shortest_edge, False, input_data_format=ChannelDimension.FIRST)
        return tvF.resize(frames, list(size), interpolation=resample, antialias=True).permute(0, 2, 3, 1)

    return resize


def decode_video(
    source,
    indices: np.ndarray | list[int] | Callable[[VideoMetadata], np.ndarray] | None = None,
    shortest_edge: int | None = None,
    resample: PILImageResampling | tvF.InterpolationMode = PILImageResampling.BILINEAR,
    backend: str = "auto",
) -> tuple[torch.Tensor, VideoMetadata]:
    """Decode frames ``indices`` of ``source`` (all frames when None): only those, and the frames between each one
    and the keyframe before it.

    Args:
        source: a path, URL, bytes, binary file, torchcodec ``VideoDecoder`` (a ``datasets.Video()`` value), or an
            open reader from :func:`open_video` (left open).
        indices: frame indices in presentation order (any shape, order and repeats), or a function of the video's
            ``VideoMetadata`` returning them.
        shortest_edge: resize each chunk of frames to this shorter side as it is decoded, with ``resample``.
        backend: ``"auto"`` (torchcodec, PyAV fallback), ``"torchcodec"`` or ``"pyav"``.

    Returns:
        uint8 frames ``[N, H, W, 3]`` (``N = indices.size``) and the video's ``VideoMetadata`` (``frames_indices``:
        ``indices`` in the shape given).
    """
    reader = source if isinstance(source, VideoReader) else open_video(source, backend)
    try:
        indices = indices(reader.metadata) if callable(indices) else indices
        indices = np.arange(reader.num_frames) if indices is None else np.asarray(indices, dtype=np.int64)
        resize = None if shortest_edge is None else _short_side_resize(shortest_edge, resample)
        frames = reader.get_frames(indices, resize)
    finally:
        if reader is not source:
            reader.close()
    return frames, VideoMetadata(**{**vars(reader.metadata), "frames_indices": indices})


__all__ = ["VideoDecodeError", "VideoReader", "decode_video", "download_video", "open_video"]
