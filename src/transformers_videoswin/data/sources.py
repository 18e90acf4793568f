"""What to run on: video files, globs, text lists, directory trees, or a ``datasets`` dataset with a video column.

Every video gets a ``position`` (its place in the input order, which decides the process that handles it) and a
``key``, the name of its output file without extension:

- local files: the path relative to the common folder of all inputs (``clips/a/x.mp4`` and ``clips/b/x.mp4`` give
  ``a/x`` and ``b/x``), so a directory tree is mirrored in the output directory;
- URLs: the last component of the URL without extension;
- dataset rows: the row number, zero-padded (``00000042``); the index records the row's own path.

The same inputs give the same keys, so a re-run finds the outputs of the previous one.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .loading import load_video_dataset, prepare_video_column, resolve_video_source

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts", ".3gp")
LIST_EXTENSIONS = (".txt", ".lst", ".list", ".csv")


@dataclass(frozen=True)
class VideoEntry:
    """One video to process: ``source`` is a path or URL, or ``None`` for a dataset row (read by ``position``)."""

    position: int
    key: str
    name: str
    source: str | None = None


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _read_list(path: Path) -> list[str]:
    """One video per line (the first whitespace/comma-separated field); relative paths are relative to the list."""
    videos = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        field = line.split(",")[0].strip() if path.suffix == ".csv" else line
        if not _is_url(field) and not os.path.isabs(field) and not os.path.exists(field):
            field = str(path.parent / field)
        videos.append(field)
    return videos


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files, URLs, globs (``**`` recursive), directories (searched recursively for video extensions) and text lists
    (``.txt``/``.lst``/``.list``/``.csv``, one video per line), expanded in order, duplicates dropped."""
    videos: list[str] = []
    for item in inputs:
        path = Path(item)
        if _is_url(item):
            videos.append(item)
        elif path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
            if not found:
                raise FileNotFoundError(f"No videos ({', '.join(VIDEO_EXTENSIONS)}) found under the directory {item}.")
            videos.extend(found)
        elif path.is_file() and path.suffix.lower() in LIST_EXTENSIONS:
            listed = _read_list(path)
            if not listed:
                raise ValueError(f"The video list {item} has no entries.")
            videos.extend(listed)
        elif glob.has_magic(item):
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not found:
                raise FileNotFoundError(f"The pattern {item!r} matches no files.")
            videos.extend(found)
        else:
            videos.append(item)  # a file; a missing one is reported in the index like any unreadable video
    return list(dict.fromkeys(videos))


def file_entries(videos: list[str]) -> list[VideoEntry]:
    """Entries with keys mirroring the paths below their common folder (URLs: their last component)."""
    local = [os.path.abspath(v) for v in videos if not _is_url(v)]
    root = os.path.commonpath([os.path.dirname(p) for p in local]) if local else ""
    entries, used = [], set()
    for position, video in enumerate(videos):
        if _is_url(video):
            key = PurePosixPath(video.split("?")[0]).stem or f"video-{position:08d}"
        else:
            key = Path(os.path.relpath(os.path.abspath(video), root)).with_suffix("").as_posix()
        if key in used:  # same name, different extension
            key = f"{key}-{position:08d}"
        used.add(key)
        entries.append(VideoEntry(position=position, key=key, name=video, source=video))
    return entries


class DatasetTable:
    """Rows of a ``datasets`` dataset (a Hub id, a local dataset folder or parquet file(s), optionally streamed).

    The video column is read without decoding (``{"bytes", "path"}`` or a path string); decoding happens in the
    workers through :mod:`transformers_videoswin.processing.video_io`.
    """

    def __init__(self, name: str, split: str = "train", video_column: str = "video", streaming: bool = False):
        self.name, self.split, self.video_column, self.streaming = name, split, video_column, streaming
        self._dataset = None

    def load(self):
        if self._dataset is None:
            import datasets

            path = Path(self.name)
            if path.is_file() or (glob.has_magic(self.name) and self.name.endswith(".parquet")):
                dataset = datasets.load_dataset(
                    "parquet", data_files={self.split: self.name}, split=self.split, streaming=self.streaming
                )
            else:
                dataset = load_video_dataset(self.name, split=self.split, streaming=self.streaming)
            columns = list(dataset.column_names or getattr(dataset, "features", {}) or [])
            if columns and self.video_column not in columns:
                raise ValueError(
                    f"The dataset {self.name} has no column {self.video_column!r}; its columns are {columns}. "
                    "Pass the right `video_column`."
                )
            self._dataset = prepare_video_column(dataset, self.video_column)
        return self._dataset

    def __getstate__(self):  # workers reload the dataset themselves (Arrow memory maps are not pickled)
        return {**self.__dict__, "_dataset": None}

    def __len__(self) -> int:
        if self.streaming:
            raise TypeError("A streamed dataset has no length.")
        return len(self.load())

    def rows(self, owned) -> Iterator[tuple]:
        """``(position, source, name)`` for the rows whose position satisfies ``owned(position)``; other rows are
        not read (a streamed dataset is iterated, but only owned rows are resolved)."""
        dataset = self.load()
        positions = None if self.streaming else (p for p in range(len(dataset)) if owned(p))
        iterator = enumerate(dataset) if positions is None else ((p, dataset[p]) for p in positions)
        for position, row in iterator:
            if not owned(position):
                continue
            try:
                source, name = resolve_video_source(row[self.video_column])
            except Exception as error:  # noqa: BLE001 -- a bad row is reported, never fatal
                source, name = error, f"row {position}"
            yield position, source, name


def dataset_key(position: int) -> str:
    return f"{position:08d}"


__all__ = [
    "DatasetTable",
    "LIST_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VideoEntry",
    "dataset_key",
    "expand_inputs",
    "file_entries",
]
