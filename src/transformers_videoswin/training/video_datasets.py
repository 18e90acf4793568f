"""Video classification clips for the Trainer: decoding sampled clips, transforming them, skipping bad videos.

Rows come from :mod:`transformers_videoswin.data.loading` (a video column of ``{"bytes", "path"}`` or paths, and an
integer label column); clips are decoded with :func:`transformers_videoswin.processing.decoding.decode_video`, which
decodes only the sampled frames.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from ..data.loading import resolve_video_source
from ..processing.decoding import VideoDecodeError, decode_video
from ..processing.sampling import sample_indices
from .transforms import Recipe, apply_video_transform, decode_kwargs

logger = logging.getLogger(__name__)


class TooManyCorruptVideos(RuntimeError):
    """More videos failed to decode than the run allows."""


class CorruptVideoTracker:
    """Counts decoded and failed videos (shared with DataLoader worker processes) and enforces a failure fraction.

    A failure is logged as a warning and counted; once at least `min_attempts` videos were tried, the run fails
    with :class:`TooManyCorruptVideos` as soon as failed / attempted exceeds `max_fraction`.
    """

    def __init__(self, max_fraction: float = 0.01, min_attempts: int = 50, name: str = "train"):
        if not 0 <= max_fraction <= 1:
            raise ValueError(f"max_fraction must be in [0, 1], got {max_fraction}.")
        context = multiprocessing.get_context()
        self._attempted = context.Value("q", 0)
        self._failed = context.Value("q", 0)
        self.max_fraction = max_fraction
        self.min_attempts = min_attempts
        self.name = name

    @property
    def attempted(self) -> int:
        return int(self._attempted.value)

    @property
    def failed(self) -> int:
        return int(self._failed.value)

    def record_success(self) -> None:
        with self._attempted.get_lock():
            self._attempted.value += 1

    def record_failure(self, source: str, error: BaseException) -> None:
        with self._attempted.get_lock():
            self._attempted.value += 1
        with self._failed.get_lock():
            self._failed.value += 1
        logger.warning("Skipping %s video %s (%d skipped so far): %s", self.name, source, self.failed, error)
        self.check()

    def check(self, final: bool = False) -> None:
        attempted, failed = self.attempted, self.failed
        if failed == 0 or (attempted < self.min_attempts and not final):
            return
        if failed / max(attempted, 1) > self.max_fraction:
            raise TooManyCorruptVideos(
                f"{failed} of {attempted} {self.name} videos could not be decoded, more than the allowed fraction "
                f"{self.max_fraction} (`max_fraction`)."
            )

    def summary(self) -> dict[str, int]:
        return {f"{self.name}_videos_attempted": self.attempted, f"{self.name}_videos_skipped": self.failed}


def make_index_sampler(recipe: Recipe, train: bool, num_clips: int = 1) -> Callable[..., np.ndarray]:
    """The recipe's training (random) or test-time (centred) sampling, `sampler(num_video_frames, generator=rng) ->
    int64 [num_clips, num_frames]`: a partial of a module function, which spawned DataLoader workers can unpickle."""
    return partial(
        sample_indices,
        recipe.sampling,
        num_frames=recipe.num_frames,
        frame_interval=recipe.frame_interval,
        num_clips=num_clips,
        test_mode=not train,
    )


@dataclass
class ClipLoader:
    """Decode, sample and transform one row, with randomness seeded by (seed, epoch, index) only; `decode_resize`:
    resize while decoding as `transform` would (the same clips, see :func:`~.transforms.decode_kwargs`)."""

    video_column: str
    label_column: str
    index_sampler: Callable
    transform: Callable
    seed: int = 0
    data_root: str | os.PathLike | None = None
    decode_backend: str = "auto"
    shuffle_frames: bool = False
    decode_resize: bool = True

    def __call__(self, row: dict, key: Sequence[int]) -> dict:
        np_generator = np.random.default_rng([int(self.seed), *(int(k) for k in key)])
        torch_generator = torch.Generator().manual_seed(int(np_generator.integers(2**62)))
        source, _ = resolve_video_source(row[self.video_column], self.data_root)
        frames, metadata = decode_video(
            source,
            lambda info: self.index_sampler(info.total_num_frames, generator=np_generator),
            backend=self.decode_backend,
            **(decode_kwargs(self.transform) if self.decode_resize else {}),
        )
        if metadata.frames_indices.shape[0] != 1:
            raise ValueError("ClipLoader samples one clip per video; use the multi-view evaluation for several.")
        if self.shuffle_frames:
            frames = frames[torch.randperm(frames.shape[0], generator=torch_generator)]
        pixel_values = apply_video_transform(self.transform, frames, torch_generator)
        return {"pixel_values": pixel_values, "labels": int(row[self.label_column])}


class _ClipDataset:
    """The rows, the clip loader and the corrupt-video tracker of a clip dataset, and the epoch that seeds its
    clips."""

    def __init__(self, dataset, loader: ClipLoader, tracker: CorruptVideoTracker):
        super().__init__()
        self.dataset = dataset
        self.loader = loader
        self.tracker = tracker
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):  # a streamed dataset reshuffles by epoch
            self.dataset.set_epoch(epoch)


class VideoClipDataset(_ClipDataset, torch.utils.data.Dataset):
    """Map-style dataset of transformed clips. A row that cannot be decoded is counted by `tracker`, logged, and
    replaced by another row (so batches keep their size and distributed ranks stay in step)."""

    def __init__(self, dataset, loader: ClipLoader, tracker: CorruptVideoTracker, max_retries: int = 20):
        super().__init__(dataset, loader, tracker)
        self.max_retries = max_retries

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        n = len(self.dataset)
        candidate = int(index)
        for attempt in range(self.max_retries):
            row = self.dataset[candidate]
            try:
                item = self.loader(row, (self.epoch, candidate, attempt))
            except VideoDecodeError as error:
                name = resolve_video_source(row[self.loader.video_column], self.loader.data_root)[1]
                self.tracker.record_failure(f"#{candidate} ({name})", error)
                candidate = (candidate + 7919 * (attempt + 1)) % n  # a different row, deterministic
                continue
            self.tracker.record_success()
            return item
        raise TooManyCorruptVideos(f"{self.max_retries} videos in a row failed to decode around index {index}.")


class StreamingVideoClipDataset(_ClipDataset, torch.utils.data.IterableDataset):
    """Iterable dataset over a (streamed) `datasets.IterableDataset`; undecodable rows are counted and skipped."""

    def __iter__(self) -> Iterator[dict]:
        worker = torch.utils.data.get_worker_info()
        worker_id = worker.id if worker is not None else 0
        for position, row in enumerate(self.dataset):
            try:
                item = self.loader(row, (self.epoch, worker_id, position))
            except VideoDecodeError as error:
                self.tracker.record_failure(f"#{position}", error)
                continue
            self.tracker.record_success()
            yield item


def collate_clips(examples: list[dict]) -> dict[str, torch.Tensor]:
    """Stack clips into ``pixel_values`` ``[B, T, C, H, W]`` and ``labels`` ``[B]``."""
    return {
        "pixel_values": torch.stack([e["pixel_values"] for e in examples]),
        "labels": torch.tensor([e["labels"] for e in examples], dtype=torch.long),
    }


__all__ = [
    "ClipLoader",
    "CorruptVideoTracker",
    "StreamingVideoClipDataset",
    "TooManyCorruptVideos",
    "VideoClipDataset",
    "collate_clips",
    "make_index_sampler",
]
