"""Video classification data for the Trainer: loading the input forms, decoding sampled clips, skipping bad videos.

Input forms (all end up as a `datasets.Dataset` / `IterableDataset` with a video column and an integer label column):

- a Hub id or a local path given to ``load_dataset`` (parquet with video bytes or paths, the Hub layout);
- a ``videofolder`` (class sub-folders; ``load_dataset("videofolder", data_dir=...)``);
- mmaction annotation lists (``<relative path> <label>`` per line, relative to a data root);
- any of the above streamed (``streaming=True``).

The video column is cast to ``Video(decode=False)`` so rows carry ``{"bytes", "path"}``; clips are decoded here with
:func:`transformers_videoswin.processing.decoding.decode_video`, which decodes only the sampled frames.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoints.labels import LABEL_SETS, load_labels
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
                f"{self.max_fraction} (--max_corrupt_fraction)."
            )

    def summary(self) -> dict[str, int]:
        return {f"{self.name}_videos_attempted": self.attempted, f"{self.name}_videos_skipped": self.failed}


def resolve_video_source(value, data_root: str | os.PathLike | None = None):
    """A decodable source from a video-column value: a `datasets.Video()` decoder as is, bytes when embedded,
    otherwise a path (joined to data_root)."""
    if hasattr(value, "get_frames_at"):
        return value, (getattr(value, "_hf_encoded", None) or {}).get("path") or "<video decoder>"
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"], value.get("path") or "<bytes>"
        value = value.get("path")
    if value is None:
        raise VideoDecodeError("The row has neither video bytes nor a path.")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), "<bytes>"
    path = os.fspath(value)
    if data_root is not None and not os.path.isabs(path) and "://" not in path:
        path = os.path.join(os.fspath(data_root), path)
    return path, path


@dataclass(frozen=True)
class IndexSampler:
    """`sampler(num_video_frames, generator) -> int64 [num_clips, num_frames]` frame indices following the recipe.
    A plain picklable object, so that DataLoader workers started with spawn or forkserver (the default on macOS, and
    on Linux from Python 3.14) receive it."""

    recipe: Recipe
    train: bool
    num_clips: int = 1

    def __call__(self, num_video_frames: int, generator: np.random.Generator | None) -> np.ndarray:
        return sample_indices(
            self.recipe.sampling,
            num_video_frames,
            self.recipe.num_frames,
            frame_interval=self.recipe.frame_interval,
            num_clips=self.num_clips,
            test_mode=not self.train,
            generator=generator,
        )


def make_index_sampler(recipe: Recipe, train: bool, num_clips: int = 1) -> IndexSampler:
    """The recipe's training (random offsets) or test-time (centred) frame sampling; see :class:`IndexSampler`."""
    return IndexSampler(recipe, train, num_clips)


class ClipLoader:
    """Decode, sample and transform one row; the randomness comes from a generator seeded by (seed, epoch, index),
    so a clip depends only on those, not on the order or process in which it is loaded."""

    def __init__(
        self,
        video_column: str,
        label_column: str,
        index_sampler: Callable,
        transform: Callable,
        seed: int = 0,
        data_root: str | os.PathLike | None = None,
        decode_backend: str = "auto",
        shuffle_frames: bool = False,
        decode_resize: bool = True,
    ):
        """`decode_resize`: resize frames as they are decoded when `transform` starts with a resize (the same clips,
        a fraction of the memory for large videos; see :func:`~.transforms.decode_kwargs`)."""
        self.video_column = video_column
        self.label_column = label_column
        self.index_sampler = index_sampler
        self.transform = transform
        self.seed = seed
        self.data_root = data_root
        self.decode_backend = decode_backend
        self.shuffle_frames = shuffle_frames
        self.decode_resize = decode_resize

    def __call__(self, row: dict, key: Sequence[int]) -> dict:
        entropy = [int(self.seed), *(int(k) for k in key)]
        np_generator = np.random.default_rng(entropy)
        torch_generator = torch.Generator().manual_seed(int(np_generator.integers(2**62)))
        source, _ = resolve_video_source(row[self.video_column], self.data_root)
        resize = decode_kwargs(self.transform) if self.decode_resize else {}
        resize.pop("backend", None)
        frames, metadata = decode_video(
            source,
            lambda info: self.index_sampler(info.total_num_frames, np_generator),
            backend=self.decode_backend,
            **resize,
        )
        if metadata.frames_indices.shape[0] != 1:
            raise ValueError("ClipLoader samples one clip per video; use the multi-view evaluation for several.")
        if self.shuffle_frames:
            frames = frames[torch.randperm(frames.shape[0], generator=torch_generator)]
        pixel_values = apply_video_transform(self.transform, frames, torch_generator)
        return {"pixel_values": pixel_values, "labels": int(row[self.label_column])}


class VideoClipDataset(torch.utils.data.Dataset):
    """Map-style dataset of transformed clips. A row that cannot be decoded is counted by `tracker`, logged, and
    replaced by another row (so batches keep their size and distributed ranks stay in step)."""

    def __init__(self, dataset, loader: ClipLoader, tracker: CorruptVideoTracker, max_retries: int = 20):
        self.dataset = dataset
        self.loader = loader
        self.tracker = tracker
        self.max_retries = max_retries
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

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


class StreamingVideoClipDataset(torch.utils.data.IterableDataset):
    """Iterable dataset over a (streamed) `datasets.IterableDataset`; undecodable rows are counted and skipped."""

    def __init__(self, dataset, loader: ClipLoader, tracker: CorruptVideoTracker):
        super().__init__()
        self.dataset = dataset
        self.loader = loader
        self.tracker = tracker
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

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


# ---------------------------------------------------------------------------------------------------------------
# Loading the input forms


def load_video_dataset(path: str, name: str | None = None, cache_dir: str | os.PathLike | None = None, **kwargs):
    """`datasets.load_dataset(path, name, **kwargs)`, with local data cached by its absolute path and contents.

    `datasets` keys the cache of a local folder by the folder's name and its card's data-file patterns, so two
    folders both named ``data`` (or one folder rewritten in place) would share the first one's cached rows. Here a
    local `path` (or `data_dir`) gets a cache of its own under `cache_dir` (default: the `datasets` cache), keyed
    by its absolute path and the name, size and modification time of every file in it.
    """
    import hashlib

    import datasets

    local = [Path(p) for p in (path, kwargs.get("data_dir")) if p is not None and Path(p).is_dir()]
    if local and not kwargs.get("streaming"):
        digest = hashlib.sha256()
        for root in local:
            root = root.resolve()
            digest.update(str(root).encode())
            for file in sorted(root.rglob("*")):
                if file.is_file():
                    stat = file.stat()
                    digest.update(f"{file.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        base = Path(cache_dir) if cache_dir is not None else Path(datasets.config.HF_DATASETS_CACHE)
        cache_dir = base / "local" / digest.hexdigest()[:16]
    return datasets.load_dataset(path, name, cache_dir=None if cache_dir is None else str(cache_dir), **kwargs)


def read_annotation_list(path: str | os.PathLike) -> tuple[list[str], list[int]]:
    """An mmaction annotation list: one ``<relative path> <label>`` per line (paths may contain spaces; the label is
    the last field). Blank lines and ``#`` comments are ignored."""
    paths, labels = [], []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ValueError(f"{path}:{number}: expected '<path> <integer label>', got {line!r}.")
        if int(parts[1]) < 0:
            raise ValueError(f"{path}:{number}: the label {parts[1]} is negative; labels count from 0.")
        paths.append(parts[0])
        labels.append(int(parts[1]))
    if not paths:
        raise ValueError(f"The annotation list {path} has no entries.")
    return paths, labels


def read_label_names(path: str | os.PathLike) -> list[str]:
    """Class names, one per line (a file path or the name of a list shipped in the package: kinetics400, ...)."""
    candidate = Path(path)
    if not candidate.is_file():
        if str(path) in LABEL_SETS:
            return list(load_labels(str(path)))
        raise FileNotFoundError(f"No label-name file {path} (nor a packaged list: {', '.join(sorted(LABEL_SETS))}).")
    return [line.strip() for line in candidate.read_text().splitlines() if line.strip()]


def load_annotation_lists(
    files: dict[str, str], data_root: str | os.PathLike | None, label_names: list[str] | None, streaming: bool = False
):
    """A `DatasetDict` (or `IterableDatasetDict`) with ``video`` (path strings) and ``label`` (ClassLabel)."""
    import datasets

    columns = {split: read_annotation_list(path) for split, path in files.items()}
    num_labels = max(max(labels) for _, labels in columns.values()) + 1
    if label_names is None:
        label_names = [str(i) for i in range(num_labels)]
    elif len(label_names) < num_labels:
        split, row = next((s, i) for s, (_, ls) in columns.items() for i, x in enumerate(ls) if x >= len(label_names))
        raise ValueError(
            f"{files[split]}: entry {row + 1} has label {columns[split][1][row]}, but the label names list has only "
            f"{len(label_names)} names (labels 0..{len(label_names) - 1})."
        )
    features = datasets.Features({"video": datasets.Value("string"), "label": datasets.ClassLabel(names=label_names)})
    # absolute, so that the loader (which also joins relative paths to data_root) does not join it twice
    root = os.path.abspath(os.fspath(data_root)) if data_root is not None else None
    splits = {}
    for split, (paths, labels) in columns.items():
        if root is not None:
            paths = [p if os.path.isabs(p) else os.path.join(root, p) for p in paths]
        ds = datasets.Dataset.from_dict({"video": paths, "label": labels}, features=features)
        splits[split] = ds.to_iterable_dataset() if streaming else ds
    return (datasets.IterableDatasetDict if streaming else datasets.DatasetDict)(splits)


def prepare_video_column(dataset, video_column: str):
    """Cast a decoded `Video` column to ``decode=False`` (rows then carry ``{"bytes", "path"}``)."""
    import datasets

    features = getattr(dataset, "features", None)
    if features is not None and isinstance(features.get(video_column), datasets.Video):
        return dataset.cast_column(video_column, datasets.Video(decode=False))
    return dataset


def label_names_from_features(dataset, label_column: str) -> list[str] | None:
    import datasets

    features = getattr(dataset, "features", None)
    feature = features.get(label_column) if features is not None else None
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return None


__all__ = [
    "ClipLoader",
    "CorruptVideoTracker",
    "IndexSampler",
    "StreamingVideoClipDataset",
    "TooManyCorruptVideos",
    "VideoClipDataset",
    "collate_clips",
    "label_names_from_features",
    "load_annotation_lists",
    "make_index_sampler",
    "prepare_video_column",
    "read_annotation_list",
    "read_label_names",
    "resolve_video_source",
]
