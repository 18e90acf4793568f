"""The one way a clip is decoded: :func:`decode_video` (a source and frame indices in, frames resized while decoding
out). The video processor, the inference engine's windows and training's clip loader all call it.

It is built on torchcodec's ``VideoDecoder`` (``seek_mode="exact"``, ``get_frames_at``), ``datasets.Video()``
decoders, transformers' ``VideoMetadata`` and resize arithmetic, torchvision's resize, huggingface_hub's offline flag
and HTTP client. What stays here is what those libraries do not do to the standard of an existing test; the truth
is FFmpeg's own ``ffmpeg -i VIDEO -f rawvideo -pix_fmt rgb24 -`` output:

- **Agreement with FFmpeg when torchcodec cannot open or decode a file** (rotation by the display matrix, the edit
  list of a stream-copied trim, 10-bit frames converted by FFmpeg's filter graph rather than PyAV's ``to_ndarray``):
  a PyAV reader that indexes packets, seeks to keyframes and converts through an FFmpeg filter graph
  (``test_decoding.py::test_backends_meet_ffmpeg_command_line``, ``test_trimmed_file_starts_at_its_first_shown_frame``,
  ``test_pyav_seeks_instead_of_decoding_everything``).
- **MPEG-TS**: torchcodec 0.17 seeks in transport streams by byte estimates and returns frames of the wrong group of
  pictures; such files go to PyAV, and a torchcodec result with out-of-order timestamps falls back to it
  (``test_torchcodec_refuses_mpeg_ts_and_auto_uses_pyav``, ``test_auto_falls_back_to_pyav_when_torchcodec_fails_to_decode``).
- **Frame times** (``VideoReader.frame_times``): each frame's presentation time, so a variable frame rate is
  honoured (transformers' ``VideoMetadata.timestamps`` is index / average fps). torchcodec does not expose its frame
  index, so its readers take the times from PyAV's packet index of the same source, without decoding
  (``test_frame_times_are_the_presentation_times``).
- **Raw elementary streams** (``.h264``): no container timestamps and no seeking, so torchcodec cannot index them;
  PyAV counts their frames in the order the decoder shows them and rereads from the top of the file to go back
  (``test_raw_h264_stream_is_decoded_by_pyav``).
- **Bit-exact resize while decoding**: torchcodec's ``transforms=[Resize(...)]`` resizes with FFmpeg's swscale,
  which differs from torchvision's antialiased resize that the processors apply to frame arrays; here each chunk of
  decoded frames (at most ``CHUNK_FRAMES`` frames and ``CHUNK_BYTES`` of RGB: 2 frames at 4K) goes through
  ``torchvision``'s resize at transformers' output size, so a clip is the same whether decoded from a file or given
  as frames (``test_video_processing_videoswin.py::test_resize_while_decoding_equals_decode_then_resize``,
  ``test_chunks_are_bounded_in_frames_and_bytes``, ``test_torchcodec_resize_transform_is_not_bit_exact``).
- **Errors that name the file** (``VideoDecodeError``) for unreadable, empty and missing videos and failed downloads
  (``test_unreadable_file_error_names_the_file``, ``test_url_is_downloaded_and_a_failed_download_is_a_video_decode_error``);
  ``HF_HUB_OFFLINE`` set after huggingface_hub was imported is honoured too (``is_offline_mode`` reads it at import;
  ``test_url_respects_hf_hub_offline``).
- **Bounded downloads** (:func:`download_video`): a URL streams to an anonymous temporary file under a size cap and a
  deadline for the whole download, not only per read (``test_url_download_has_a_size_cap_and_a_total_deadline``).

Sources: a path, an ``http(s)://`` URL, ``bytes``, a binary file object, a ``torchcodec`` ``VideoDecoder`` (what a
``datasets.Video()`` column yields), or a reader from :func:`open_video` (to decode several chunks from one open file).
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
MAX_DOWNLOAD_BYTES = 2 * 2**30  # a URL's video; VIDEOSWIN_MAX_DOWNLOAD_BYTES overrides it
DOWNLOAD_TIMEOUT = 600.0  # seconds for a whole download; VIDEOSWIN_DOWNLOAD_TIMEOUT overrides it


class VideoDecodeError(ValueError):
    """A video could not be opened or decoded (corrupt, not a video, no video stream, or no frames)."""


def chunk_frames(width: int, height: int) -> int:
    """Frames of ``width`` x ``height`` decoded in one chunk (see ``CHUNK_FRAMES`` and ``CHUNK_BYTES``)."""
    return max(1, min(CHUNK_FRAMES, CHUNK_BYTES // max(1, 3 * width * height)))


@lru_cache(maxsize=1)
def _torchcodec_decoder_class():
    try:  # torchcodec is optional; it also fails to import without FFmpeg's shared libraries
        from torchcodec.decoders import VideoDecoder
    except Exception:
        return None
    return VideoDecoder


def torchcodec_available() -> bool:
    """Whether torchcodec imports and finds FFmpeg's shared libraries."""
    return _torchcodec_decoder_class() is not None


def offline_mode() -> bool:
    """huggingface_hub's ``is_offline_mode()``, or ``HF_HUB_OFFLINE`` set in the environment since its import."""
    from huggingface_hub import is_offline_mode

    return is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


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
    """Stream ``url`` into an anonymous temporary file (deleted when closed) and return it at offset 0.

    ``max_bytes`` (default ``VIDEOSWIN_MAX_DOWNLOAD_BYTES`` or 2 GiB) caps the size, ``timeout`` (default
    ``VIDEOSWIN_DOWNLOAD_TIMEOUT`` or 600 s) the whole download, not only each read; either raises
    ``VideoDecodeError`` naming the URL and the limit."""
    from huggingface_hub.utils import httpx

    max_bytes = int(max_bytes or _env_number("VIDEOSWIN_MAX_DOWNLOAD_BYTES", MAX_DOWNLOAD_BYTES))
    timeout = float(timeout or _env_number("VIDEOSWIN_DOWNLOAD_TIMEOUT", DOWNLOAD_TIMEOUT))
    deadline = time.monotonic() + timeout
    file = tempfile.TemporaryFile()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=min(timeout, 30.0)) as response:
            response.raise_for_status()
            announced = response.headers.get("content-length", "")
            if announced.isdigit() and int(announced) > max_bytes:
                raise VideoDecodeError(
                    f"Cannot download video {url}: it is {int(announced)} bytes, over the limit of {max_bytes} bytes "
                    "(VIDEOSWIN_MAX_DOWNLOAD_BYTES raises it)."
                )
            for chunk in response.iter_bytes():  # each network read, so that the deadline is checked as bytes trickle
                if file.tell() + len(chunk) > max_bytes:
                    raise VideoDecodeError(
                        f"Cannot download video {url}: it is over the limit of {max_bytes} bytes "
                        "(VIDEOSWIN_MAX_DOWNLOAD_BYTES raises it)."
                    )
                file.write(chunk)
                if time.monotonic() > deadline:
                    raise VideoDecodeError(
                        f"Cannot download video {url}: not complete after {timeout:g} s ({file.tell()} bytes "
                        "received; VIDEOSWIN_DOWNLOAD_TIMEOUT raises the limit)."
                    )
    except VideoDecodeError:
        file.close()
        raise
    except Exception as error:  # httpx.HTTPError and the OSErrors below it
        file.close()
        raise VideoDecodeError(f"Cannot download video {url}: {error}. Check the URL, or pass a file.") from error
    file.seek(0)
    return file


def _normalize(source):
    """Paths become ``str`` (checked to exist), URLs are downloaded, buffers become ``bytes``."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        if offline_mode():
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


def _is_mpeg_ts(source) -> bool:
    """Whether ``source`` starts like an MPEG transport stream: 188-byte packets beginning with the sync byte 0x47."""
    if isinstance(source, str):
        with open(source, "rb") as file:
            head = file.read(3 * 188 + 1)
    elif isinstance(source, bytes):
        head = source[: 3 * 188 + 1]
    else:
        position = source.tell()
        head = source.read(3 * 188 + 1)
        source.seek(position)
    return len(head) > 2 * 188 and all(head[i] == 0x47 for i in (0, 188, 376))


def _uniform_times(num_frames: int, fps: float | None) -> np.ndarray:
    """Frame times at a constant ``fps`` (NaN without one): the fallback when timestamps are unknown."""
    return np.arange(num_frames + 1, dtype=np.float64) / fps if fps else np.full(num_frames + 1, np.nan)


class _PacketIndex:
    """The shown frames of a PyAV stream, read from its packets without decoding: ``pts`` (sorted, in the stream's
    time base), ``keyframe_pts``, and :meth:`frame_times`. Packets an edit list hides
    (``is_discard``, the pre-roll of a stream-copied trim) feed the decoder but are never shown. A raw elementary
    stream (``.h264``) has no timestamps at all (``untimed``): its frames are numbered in the order they are shown."""

    def __init__(self, container, stream):
        pts, durations, keyframe_pts, untimed = [], {}, [], 0
        for packet in container.demux(stream):
            stamp = packet.pts if packet.pts is not None else packet.dts
            if packet.size and stamp is None:
                untimed += 1
            if packet.size == 0 or stamp is None:
                continue
            if packet.is_keyframe:
                keyframe_pts.append(stamp)
            if not packet.is_discard:
                pts.append(stamp)
                durations[stamp] = packet.duration or 0
        self.untimed = not pts and untimed > 0
        self.pts = np.arange(untimed) if self.untimed else np.array(sorted(pts), dtype=np.int64)
        self.keyframe_pts = keyframe_pts
        self._last_duration = durations.get(int(self.pts[-1]), 0) if pts else 0

    def frame_times(self, stream) -> np.ndarray:
        """Seconds from the first frame (see ``VideoReader.frame_times``)."""
        fps = float(stream.average_rate) if stream.average_rate else None
        if self.untimed or not stream.time_base or not self.pts.size:
            return _uniform_times(self.pts.size, fps)
        pts = self.pts.astype(np.float64)
        last = self._last_duration or (np.median(np.diff(pts)) if pts.size > 1 else 0)
        if not last:
            last = 1 / (fps * float(stream.time_base)) if fps else 0
        return (np.append(pts, pts[-1] + last) - pts[0]) * float(stream.time_base)


def _pyav_frame_times(source, num_frames: int) -> np.ndarray | None:
    """Frame times of ``source`` (a path, bytes or binary file, left where it was) from PyAV's packet index, or
    None when PyAV cannot read it or counts other than ``num_frames`` frames."""
    import av

    position = source.tell() if hasattr(source, "tell") else None
    try:
        if position is not None:
            source.seek(0)
        with av.open(io.BytesIO(source) if isinstance(source, bytes) else source) as container:
            stream = container.streams.video[0]
            index = _PacketIndex(container, stream)
            return index.frame_times(stream) if index.pts.size == num_frames else None
    except Exception:  # noqa: BLE001 -- the constant-rate fallback applies
        return None
    finally:
        if position is not None:
            source.seek(position)


class VideoReader:
    """Random access to the frames of one video; ``metadata`` is transformers' ``VideoMetadata``."""

    backend = ""
    metadata: VideoMetadata

    def __init__(self, name: str):
        self.name, self._frame_times = name, None

    @property
    def num_frames(self) -> int:
        return self.metadata.total_num_frames

    @property
    def frame_times(self) -> np.ndarray:
        """float64 ``[num_frames + 1]``: when each frame is shown, in seconds from the first, then when the last one
        ends; from the frames' presentation timestamps, so a variable frame rate is honoured."""
        if self._frame_times is None:
            self._frame_times = self._read_frame_times()
        return self._frame_times

    def _read_frame_times(self) -> np.ndarray:
        return _uniform_times(self.num_frames, self.metadata.fps)

    def get_frames(self, indices, transform: Callable | None = None) -> torch.Tensor:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 ``[N, H, W, 3]``; ``transform`` runs on each
        chunk of decoded frames as soon as it is decoded."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_frames):
            raise IndexError(
                f"Frame indices must be in [0, {self.num_frames}) for video {self.name}, got min {indices.min()} "
                f"max {indices.max()}."
            )
        unique = np.unique(indices)
        if unique.size == 0:
            frames = torch.empty((0, self.metadata.height, self.metadata.width, 3), dtype=torch.uint8)
            return frames if transform is None else transform(frames)
        chunks = self._decode(unique, transform or (lambda frames: frames))
        frames = torch.cat(chunks) if len(chunks) > 1 else chunks[0]
        return frames[torch.from_numpy(np.searchsorted(unique, indices))].contiguous()

    def _decode(self, unique: np.ndarray, transform: Callable) -> list[torch.Tensor]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TorchcodecReader(VideoReader):
    backend = "torchcodec"

    def __init__(self, source, name: str, decoder=None):
        super().__init__(name)
        if decoder is None:
            if _torchcodec_decoder_class() is None:
                raise ImportError("torchcodec is not installed or cannot load FFmpeg's shared libraries.")
            if _is_mpeg_ts(source):
                raise VideoDecodeError(
                    f"Video {name} is an MPEG transport stream: torchcodec seeks in it inexactly and returns the "
                    "wrong frames. Use backend='pyav' (or 'auto', which does)."
                )
        try:
            self._decoder = decoder or _torchcodec_decoder_class()(source, seek_mode="exact", dimension_order="NHWC")
            meta = self._decoder.metadata
            num_frames = int(meta.num_frames or 0)
        except Exception as error:  # torchcodec raises RuntimeError / ValueError with FFmpeg's message
            raise VideoDecodeError(f"Cannot read video {name} with torchcodec: {error}") from error
        if num_frames <= 0:
            raise VideoDecodeError(f"Video {name} contains no frames.")
        self._first_pts = meta.begin_stream_seconds_from_content
        self._source = source
        self.metadata = VideoMetadata(
            total_num_frames=num_frames,
            fps=float(meta.average_fps) if meta.average_fps else None,
            height=int(meta.height),
            width=int(meta.width),
            duration=float(meta.duration_seconds) if meta.duration_seconds else None,
            video_backend=self.backend,
        )

    def _read_frame_times(self) -> np.ndarray:
        """torchcodec keeps its frame index to itself: the times come from PyAV's packet index of the same source
        (a constant rate when PyAV cannot read it or counts other frames)."""
        times = None if self._source is None else _pyav_frame_times(self._source, self.num_frames)
        return super()._read_frame_times() if times is None else times

    def _decode(self, unique, transform):
        chunks, step = [], chunk_frames(self.metadata.width, self.metadata.height)
        for start in range(0, unique.size, step):
            chunk = unique[start : start + step].tolist()
            try:
                batch = self._decoder.get_frames_at(indices=chunk)
            except Exception as error:
                raise VideoDecodeError(f"Cannot decode frames {chunk} of video {self.name}: {error}") from error
            pts = batch.pts_seconds.double()  # inexact seeks show as timestamps out of order, or a late frame 0
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


# FFmpeg's autorotation: the filters that turn a frame upright, by the display matrix's counter-clockwise rotation
_ROTATION_FILTERS = {
    0: (),
    90: (("transpose", "cclock"),),
    180: (("hflip", ""), ("vflip", "")),
    270: (("transpose", "clock"),),
}


class PyAVReader(VideoReader):
    """PyAV reader that seeks to keyframes; ``frames_decoded`` counts the frames PyAV decoded so far."""

    backend = "pyav"

    def __init__(self, source, name: str):
        super().__init__(name)
        self.frames_decoded, self._graph, self._graph_key, self._container = 0, None, None, None
        self._source = source
        try:
            self._open()
        except Exception as error:  # av.error.InvalidDataError and friends
            raise VideoDecodeError(f"Cannot read video {name} with PyAV: {error}") from error
        try:
            if not self._container.streams.video:
                raise VideoDecodeError(f"Video {name} has no video stream.")
            stream = self._stream
            index = _PacketIndex(self._container, stream)
            if not index.pts.size:
                raise VideoDecodeError(f"Video {name} contains no frames.")
            self.untimed, self._pts, keyframe_pts = index.untimed, index.pts, index.keyframe_pts
            self._pts_to_index = {int(p): i for i, p in enumerate(self._pts)}
            self._keyframe_seek_pts = {}  # first shown frame at or after each keyframe -> the keyframe to seek to
            for p in sorted(keyframe_pts, reverse=True):
                self._keyframe_seek_pts[int(np.searchsorted(self._pts, p))] = int(p)
            self._keyframe_seek_pts.pop(len(self._pts), None)
            self._keyframes = sorted({0, *self._keyframe_seek_pts})
            self._iterator, self._position = None, -1
            time_base = float(stream.time_base) if stream.time_base else None
            self._frame_times = index.frame_times(stream)
            self.metadata = VideoMetadata(
                total_num_frames=len(self._pts),
                fps=float(stream.average_rate) if stream.average_rate else None,
                height=int(stream.codec_context.height),
                width=int(stream.codec_context.width),
                duration=float(stream.duration * time_base) if stream.duration and time_base else None,
                video_backend=self.backend,
            )
            # the display matrix is known once a frame is decoded: frames rotated by 90 degrees swap H and W
            self.metadata.height, self.metadata.width = self.get_frames([0]).shape[1:3]
        except VideoDecodeError:
            self.close()
            raise
        except Exception as error:
            self.close()
            raise VideoDecodeError(f"Cannot read video {name} with PyAV: {error}") from error

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
        key = (frame.width, frame.height, frame.format.name, rotation)
        if key != self._graph_key:
            graph = av.filter.Graph()
            buffer = graph.add_buffer(
                width=frame.width, height=frame.height, format=frame.format, time_base=frame.time_base
            )
            filters = [graph.add(name, args) for name, args in _ROTATION_FILTERS[rotation]]
            graph.link_nodes(buffer, *filters, graph.add("format", "rgb24"), graph.add("buffersink")).configure()
            self._graph, self._graph_key = graph, key
        self._graph.push(frame)
        return self._graph.pull().to_ndarray()

    def _open(self) -> None:
        """(Re)open the container at the start of the source."""
        import av

        if self._container is not None:
            self._container.close()
        if hasattr(self._source, "seek"):
            self._source.seek(0)
        self._container = av.open(io.BytesIO(self._source) if isinstance(self._source, bytes) else self._source)
        if self._container.streams.video:
            self._stream = self._container.streams.video[0]

    def _keyframe_before(self, index: int) -> int:
        return self._keyframes[bisect_right(self._keyframes, index) - 1]

    def _seek(self, index: int | None) -> None:
        """Restart decoding at the keyframe before ``index`` (``None``: at the start of the file)."""
        keyframe = 0 if index is None else self._keyframe_before(index)
        stamp = 0 if index is None else self._keyframe_seek_pts.get(keyframe, int(self._pts[keyframe]))
        if self.untimed:
            self._open()
        else:
            self._container.seek(stamp, stream=self._stream, backward=True, any_frame=False)
        self._iterator, self._position = self._container.decode(self._stream), keyframe - 1

    def _decode_until(self, target: int, wanted: set[int], out: dict, transform) -> None:
        for frame in self._iterator:
            self.frames_decoded += 1
            stamp = frame.pts if frame.pts is not None else frame.dts
            if self.untimed:
                stamp = self._position + 1
            index = self._pts_to_index.get(int(stamp)) if stamp is not None else None
            if index is None:
                continue
            self._position = index
            if index in wanted and index not in out:
                out[index] = transform(torch.from_numpy(self._to_rgb(frame))[None])
            if index >= target:
                return
        self._iterator = None  # exhausted

    def _decode(self, unique, transform):
        wanted, out = {int(i) for i in unique}, {}
        try:
            for target in sorted(wanted):
                if target in out:
                    continue
                # seek when not decoding, past the target, or a keyframe lies between the position and the target
                if (
                    self._iterator is None
                    or target <= self._position
                    or self._keyframe_before(target) > self._position
                ):
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
        if getattr(self, "_container", None) is not None:
            self._container.close()
            self._container = None


class _FallbackReader(VideoReader):
    """torchcodec first; PyAV takes over when torchcodec fails to decode frames of a file it had opened. PyAV must
    count the same frames (indices are only meaningful within one index)."""

    def __init__(self, primary: TorchcodecReader, source, name: str):
        super().__init__(name)
        self._primary, self._source, self._fallback = primary, source, None
        self.metadata = primary.metadata

    @property
    def backend(self) -> str:
        return (self._fallback or self._primary).backend

    @property
    def frame_times(self) -> np.ndarray:
        return (self._fallback or self._primary).frame_times

    def get_frames(self, indices, transform=None) -> torch.Tensor:
        if self._fallback is None:
            try:
                return self._primary.get_frames(indices, transform)
            except VideoDecodeError as error:
                primary_error = error
            self._primary.close()
            if hasattr(self._source, "seek"):
                self._source.seek(0)
            try:
                fallback = PyAVReader(self._source, self.name)
            except VideoDecodeError as error:
                raise VideoDecodeError(f"{primary_error} (PyAV also failed: {error})") from error
            if fallback.num_frames != self.num_frames:
                fallback.close()
                raise VideoDecodeError(
                    f"{primary_error} (PyAV counts {fallback.num_frames} frames where torchcodec counted "
                    f"{self.num_frames}, so it cannot stand in for the same frame indices)"
                ) from primary_error
            self._fallback, self.metadata = fallback, fallback.metadata
        return self._fallback.get_frames(indices, transform)

    def close(self) -> None:
        (self._fallback or self._primary).close()


def open_video(source, backend: str = "auto") -> VideoReader:
    """A reader of ``source`` for several :func:`decode_video` calls on one open file. ``"auto"``: torchcodec, and
    PyAV when torchcodec is missing, cannot open the source or fails to decode it."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown video backend {backend!r}; expected one of {BACKENDS}.")
    name = _describe(source)
    decoder_class = _torchcodec_decoder_class()
    if decoder_class is not None and isinstance(source, decoder_class):  # a `datasets.Video()` value
        encoded = getattr(source, "_hf_encoded", {})  # datasets keeps the encoded video: PyAV can take over
        fallback = encoded.get("bytes") or encoded.get("path")
        reader = TorchcodecReader(fallback, name, decoder=source)
        return reader if backend == "torchcodec" or not fallback else _FallbackReader(reader, fallback, name)
    source = _normalize(source)
    if backend == "torchcodec" and decoder_class is None:
        raise ImportError("backend='torchcodec' needs torchcodec and FFmpeg's shared libraries (apt install ffmpeg).")
    torchcodec_error = None
    if backend != "pyav" and decoder_class is not None:
        try:
            reader = TorchcodecReader(source, name)
            return reader if backend == "torchcodec" else _FallbackReader(reader, source, name)
        except VideoDecodeError as error:
            if backend == "torchcodec":
                raise
            torchcodec_error = error
        if hasattr(source, "seek"):
            source.seek(0)
    try:
        return PyAVReader(source, name)
    except VideoDecodeError as error:
        if torchcodec_error is not None and "no frames" not in str(error):
            raise VideoDecodeError(f"{error} (torchcodec also failed: {torchcodec_error})") from error
        raise


def _short_side_resize(shortest_edge: int, resample) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 ``[n, H, W, 3]`` -> ``[n, h, w, 3]``: the resize of transformers' torchvision backend for
    ``size={"shortest_edge": ...}`` (its output size, torchvision's antialiased resize), bit for bit."""
    if isinstance(resample, (PILImageResampling, int)):
        resample = pil_torch_interpolation_mapping[resample]

    def resize(frames: torch.Tensor) -> torch.Tensor:
        frames = frames.permute(0, 3, 1, 2)
        size = get_resize_output_image_size(
            frames, shortest_edge, default_to_square=False, input_data_format=ChannelDimension.FIRST
        )
        return tvF.resize(frames, list(size), interpolation=resample, antialias=True).permute(0, 2, 3, 1)

    return resize


def decode_video(
    source,
    indices: np.ndarray | list[int] | Callable[[VideoMetadata], np.ndarray] | None = None,
    shortest_edge: int | None = None,
    resample: PILImageResampling | tvF.InterpolationMode = PILImageResampling.BILINEAR,
    backend: str = "auto",
) -> tuple[torch.Tensor, VideoMetadata]:
    """Decode frames ``indices`` of ``source`` (all frames when None); only those frames, and the frames between each
    one and the keyframe before it, are decoded.

    Args:
        source: a path, URL, bytes, binary file, torchcodec ``VideoDecoder`` (a ``datasets.Video()`` value), or an
            open reader from :func:`open_video` (left open).
        indices: frame indices in presentation order (any shape, order and repeats), or a function of the video's
            ``VideoMetadata`` returning them (a sampler that needs the frame count).
        shortest_edge: resize each chunk of decoded frames to this shorter side as it is decoded (memory stays at a
            few full-resolution frames); ``resample`` is its filter.
        backend: ``"auto"`` (torchcodec, PyAV fallback), ``"torchcodec"`` or ``"pyav"``.

    Returns:
        uint8 frames ``[N, H, W, 3]`` (``N = indices.size``) and the video's ``VideoMetadata``, whose
        ``frames_indices`` holds ``indices`` in the shape given.
    """
    reader = source if isinstance(source, VideoReader) else open_video(source, backend)
    try:
        if callable(indices):
            indices = indices(reader.metadata)
        indices = np.arange(reader.num_frames) if indices is None else np.asarray(indices, dtype=np.int64)
        resize = None if shortest_edge is None else _short_side_resize(shortest_edge, resample)
        frames = reader.get_frames(indices, resize)
    finally:
        if reader is not source:
            reader.close()
    metadata = VideoMetadata(**{**vars(reader.metadata), "frames_indices": indices, "video_backend": reader.backend})
    return frames, metadata


__all__ = ["VideoDecodeError", "VideoReader", "decode_video", "download_video", "open_video"]
