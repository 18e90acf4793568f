"""The clips of many videos, decoded in DataLoader workers: :class:`VideoClipStream` and the items it yields.

A video becomes one :class:`VideoInfo` and either :class:`ClipChunk` items (its clips, a chunk at a time), a
:class:`VideoFailed` (it could not be read; never fatal) or a :class:`VideoSkipped` (its output already exists).

- sliding windows: the frames are decoded once by :func:`~transformers_videoswin.processing.decoding.decode_video`,
  resized chunk by chunk as they are decoded (the processor's ``decode_kwargs``), cropped and normalised once by the
  processor, then gathered into windows, ``chunk_size`` windows at a time
  (so neither a long video nor a full-resolution 4K frame sits in memory whole);
- views: the processor's own sampling (resized while decoding too); a chunk of views is a view of the video's
  frames, not a copy.

Sharding: the video at input position ``p`` belongs to process ``p % world_size`` and, inside it, to DataLoader
worker ``(p // world_size) % num_workers``: no overlap, no gap, and the result does not depend on either count.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..data.sources import DatasetTable, VideoEntry, file_identity
from ..processing.decoding import VideoReader, decode_video, open_video
from ..processing.sampling import SlidingWindows, sliding_window_indices
from .outputs import OutputDirectory
from .plan import ClipPlan

# Clips per forward pass on an accelerator (and the most on the CPU); see `engine.default_batch_size`.
ACCELERATOR_BATCH_SIZE = 8


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (another C library, another system)."""
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


# Freed heap a decoding worker may keep before it is handed back: trimming after every short video costs about 10% of
# the decoding throughput (the next video faults its pages in again), trimming past this slack keeps RSS flat.
TRIM_SLACK_BYTES = 64 * 2**20
_trimmed_rss: int | None = None  # this process's resident bytes after its last trim


def resident_bytes() -> int:
    """This process's resident memory (``/proc/self/statm``), in bytes; 0 where there is no ``/proc``."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def release_freed_memory() -> None:
    """Hand the heap freed by finished videos (their decoded frames, their clips) back to the system once the
    process's resident memory has grown ``TRIM_SLACK_BYTES`` past what it was after the last trim. glibc keeps freed
    heap otherwise, so that a decoding worker's RSS grows with the videos it has seen; elsewhere this does nothing."""
    global _trimmed_rss
    trim = _malloc_trim()
    if trim is None:
        return
    if _trimmed_rss is None or resident_bytes() > _trimmed_rss + TRIM_SLACK_BYTES:
        trim(0)
        _trimmed_rss = resident_bytes()


@dataclass
class VideoInfo:
    """One video of the input (``identity``: what its output records to be recognised, see
    :mod:`~transformers_videoswin.data.sources`), and once it is opened its clips: ``frame_indices`` ``[N, T]``,
    ``start_time`` / ``end_time`` ``[N]`` in seconds."""

    position: int
    key: str
    name: str
    identity: dict | None = None
    num_frames: int | None = None
    fps: float | None = None
    duration: float | None = None
    num_clips: int | None = None
    frame_indices: torch.Tensor | None = None
    start_time: torch.Tensor | None = None
    end_time: torch.Tensor | None = None


@dataclass
class ClipChunk:
    """Clips ``offset ..`` of a video: clip ``i`` is ``frames[gather[i]]`` (``frames`` ``[n, 3, h, w]``, ``gather``
    ``[k, T]``), so frames shared by overlapping windows travel once."""

    video: VideoInfo
    offset: int
    frames: torch.Tensor
    gather: torch.Tensor

    def clip_bytes(self, dtype: torch.dtype) -> int:
        return self.gather.shape[1] * self.frames[0].numel() * dtype.itemsize


@dataclass
class VideoFailed:
    video: VideoInfo
    error: str


@dataclass
class VideoSkipped:
    """The video's output exists already (``metadata`` is what it records)."""

    video: VideoInfo
    metadata: dict


def owns(position: int, rank: int, world_size: int, worker: int, num_workers: int) -> bool:
    """Whether input ``position`` belongs to process ``rank`` of ``world_size`` and to its DataLoader ``worker``."""
    return position % world_size == rank and (position // world_size) % num_workers == worker


class VideoClipStream(torch.utils.data.IterableDataset):
    """Items for the engine, produced in DataLoader workers (see the module docstring)."""

    def __init__(
        self,
        processor,
        plan: ClipPlan,
        videos: list[VideoEntry] | DatasetTable,
        rank: int = 0,
        world_size: int = 1,
        chunk_size: int = 8,
        outputs: OutputDirectory | None = None,
    ):
        """`videos`: files (:func:`~transformers_videoswin.data.sources.file_entries`) or the rows of a dataset."""
        super().__init__()
        if not 0 <= rank < world_size:
            raise ValueError(f"`rank` must be in 0..world_size-1, got {rank} of {world_size}.")
        self.processor, self.plan, self.videos = processor, plan, videos
        self.rank, self.world_size = rank, world_size
        self.chunk_size = max(1, int(chunk_size))
        self.outputs = outputs

    def __len__(self) -> int:
        """Videos of this rank (files and map-style datasets; streamed datasets have no length)."""
        return len(range(self.rank, len(self.videos), self.world_size))

    def _owned_videos(self) -> Iterator[tuple[VideoInfo, object]]:
        worker = torch.utils.data.get_worker_info()
        worker_id, num_workers = (worker.id, worker.num_workers) if worker else (0, 1)

        def owned(position: int) -> bool:
            return owns(position, self.rank, self.world_size, worker_id, num_workers)

        if isinstance(self.videos, DatasetTable):
            for position, source, name in self.videos.rows(owned):
                identity = self.videos.identity(position, source)
                yield VideoInfo(position, self.videos.key(position), name, identity), source
        else:
            for entry in self.videos:
                if owned(entry.position):
                    yield VideoInfo(entry.position, entry.key, entry.name, file_identity(entry.source)), entry.source

    def __iter__(self) -> Iterator[ClipChunk | VideoFailed | VideoSkipped]:
        for video, source in self._owned_videos():
            if self.outputs is not None:
                metadata = self.outputs.complete(video.key, video.identity)
                if metadata is not None:
                    yield VideoSkipped(video, metadata)
                    continue
            try:
                if isinstance(source, Exception):
                    raise source
                if self.plan.windows:
                    yield from self._windows(video, source)
                else:
                    yield self._views(video, source)
            except Exception as error:  # noqa: BLE001 -- a bad video is recorded and skipped, never fatal
                message = str(error) if video.name in str(error) else f"{video.name}: {error}"
                yield VideoFailed(
                    VideoInfo(video.position, video.key, video.name, video.identity),
                    f"{type(error).__name__}: {message}",
                )
            release_freed_memory()

    @staticmethod
    def _describe(video: VideoInfo, reader: VideoReader, clips: SlidingWindows) -> None:
        """Fill in ``video``'s frame count, rate, duration and ``clips`` (times from ``reader.frame_times``)."""
        metadata, times = reader.metadata, reader.frame_times
        video.num_frames = int(metadata.total_num_frames)
        video.fps = float(metadata.fps) if metadata.fps else None
        video.duration = float(metadata.duration) if metadata.duration else (float(times[-1]) if video.fps else None)
        video.num_clips = len(clips.indices)
        video.frame_indices = torch.as_tensor(clips.indices, dtype=torch.int64)
        video.start_time = torch.from_numpy(times[clips.start_frame])
        video.end_time = torch.from_numpy(times[clips.end_frame])

    def _windows(self, video: VideoInfo, source) -> Iterator[ClipChunk]:
        plan, resize = self.plan, self.processor.decode_kwargs()
        with open_video(source, backend=plan.decode_backend) as reader:
            sampled_frames = plan.sampled_frames(reader.frame_times, video.name)
            windows = sliding_window_indices(
                reader.num_frames, plan.window, plan.stride, plan.step(), plan.last_window, sampled_frames
            )
            self._describe(video, reader, windows)
            cached = {}  # frame index -> its processed frame, for the previous chunk's windows
            for offset in range(0, len(windows.indices), self.chunk_size):
                indices = windows.indices[offset : offset + self.chunk_size]
                unique = np.unique(indices).tolist()
                new = [i for i in unique if i not in cached]  # frames of the previous chunk are kept
                if new:  # decoded (resized while decoding), then cropped and normalised by the processor, once
                    decoded, _ = decode_video(reader, new, **resize)
                    processed = self.processor(decoded, num_clips=1, num_crops=1, return_tensors="pt")
                    cached.update(zip(new, processed["pixel_values"][0]))
                frames = torch.stack([cached[i] for i in unique])  # [n, 3, h, w]
                cached = dict(zip(unique, frames))
                gather = torch.from_numpy(np.searchsorted(unique, indices))  # window i, frame t: frames[gather[i, t]]
                yield ClipChunk(video, offset, frames, gather)

    def _views(self, video: VideoInfo, source) -> ClipChunk:
        with open_video(source, backend=self.plan.decode_backend) as reader:  # its frame times give the clips' times
            batch = self.processor(reader, return_tensors="pt", return_metadata=True, **self.plan.processor_kwargs())
            frames = batch["pixel_values"][0].flatten(0, -4)  # views [V * T, 3, h, w], not a copy
            clips = np.asarray(batch["video_metadata"][0].frames_indices).reshape(self.plan.num_clips, -1)
            indices = clips[np.arange(len(frames) // clips.shape[1]) % len(clips)]  # view = crop * num_clips + clip
            self._describe(video, reader, SlidingWindows(indices, indices.min(axis=1), indices.max(axis=1) + 1))
        gather = torch.arange(len(frames)).reshape(len(indices), -1)
        return ClipChunk(video, 0, frames, gather)


def _identity(item):
    return item


def make_loader(stream: VideoClipStream, num_workers: int, pin_memory: bool = False):
    """A DataLoader that passes the stream's items through unchanged (decoding runs in ``num_workers`` processes)."""
    return torch.utils.data.DataLoader(
        stream,
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_identity,
        pin_memory=pin_memory,
        prefetch_factor=2 if num_workers > 0 else None,
    )


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_num_workers() -> int:
    """Decoding processes: half the cores, at least 1, at most 8 (the model keeps the rest)."""
    return max(1, min(8, available_cores() // 2))


def window_chunk_size(batch_size: int | None) -> int:
    """Windows decoded together in a worker (one item): 4 to 8 (8 for the default batch size), so that an item of
    Swin-T frames stays under about 100 MB whatever the batch size (batches are assembled from items in the main
    process)."""
    return max(4, min(8, int(math.ceil(batch_size or ACCELERATOR_BATCH_SIZE))))


__all__ = [
    "ClipChunk",
    "VideoClipStream",
    "VideoFailed",
    "VideoInfo",
    "VideoSkipped",
    "default_num_workers",
    "make_loader",
    "owns",
    "window_chunk_size",
]
