"""What to run on: video files, globs, text lists, directory trees, or a ``datasets`` dataset with a video column.

Every video gets a ``position`` (its place in the input order, which decides the process that handles it) and a
``key``, the name of its output file without extension, which depends on the set of inputs, never on their order:

- local files: the path relative to the common folder of all inputs (``clips/a/x.mp4`` and ``clips/b/x.mp4`` give
  ``a/x`` and ``b/x``), so a directory tree is mirrored in the output directory; files that would share a key keep
  their extension (``x.mp4``, ``x.avi``), and a name starting with ``.`` gets a ``_`` in front (outputs are never
  hidden: the run's own files are);
- URLs: the last component of the URL without extension (the same rules when two share it);
- dataset rows: the split and the row number, zero-padded (``train/00000042``); the index records the row's own path.

Each video also has an ``identity`` (:func:`file_identity`, or the dataset, split and row): what its output records,
so that a re-run reuses an output only for the very video it was made from.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import os
import re
from collections import Counter
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


def file_identity(source: str) -> dict:
    """What identifies a video file's contents: its resolved path, size and modification time (a URL: the URL; a
    file that cannot be read: its resolved path only)."""
    if _is_url(source):
        return {"url": source}
    path = os.path.realpath(source)
    try:
        stat = os.stat(path)
    except OSError:
        return {"path": path}
    return {"path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_header(field: str, folder: Path) -> bool:
    """Whether the first field of a CSV list names a column rather than a video: no video extension, not a URL, and
    no such file."""
    return not _is_url(field) and Path(field).suffix.lower() not in VIDEO_EXTENSIONS and not (folder / field).exists()


def _read_list(path: Path) -> list[str]:
    """One video per line (a CSV list: the first field, after an optional header line); relative paths are relative
    to the list's folder."""
    lines = path.read_text().splitlines()
    if path.suffix.lower() == ".csv":
        fields = [row[0].strip() for row in csv.reader(lines) if row and row[0].strip()]
    else:
        fields = [line.strip() for line in lines if line.strip()]
    fields = [field for field in fields if not field.startswith("#")]
    if path.suffix.lower() == ".csv" and fields and _is_header(fields[0], path.parent):
        fields = fields[1:]
    return [field if _is_url(field) or os.path.isabs(field) else str(path.parent / field) for field in fields]


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files, URLs, globs (``**`` recursive), directories (searched recursively for video extensions) and text lists
    (``.txt``/``.lst``/``.list``/``.csv``, one video per line), expanded in order; a file given several times, under
    any spelling (``v.mp4``, ``./v.mp4``, a symlink to it), is kept once, as first given."""
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
    unique: dict[str, str] = {}
    for video in videos:
        unique.setdefault(video if _is_url(video) else os.path.realpath(video), video)
    return list(unique.values())


def _visible(name: str) -> str:
    """``name`` (a relative POSIX path) with every component made a plain, visible file name."""
    parts = [re.sub(r"^\.", "_", part) for part in PurePosixPath(name).parts if part not in ("", ".", "/")]
    return "/".join(parts) or "video"


def file_entries(videos: list[str]) -> list[VideoEntry]:
    """Entries with keys mirroring the paths below their common folder (URLs: their last component); distinct
    videos always get distinct keys, whatever their order (see the module docstring)."""
    local = [os.path.abspath(v) for v in videos if not _is_url(v)]
    root = os.path.commonpath([os.path.dirname(p) for p in local]) if local else ""

    def name(video: str) -> str:  # with its extension
        if _is_url(video):
            return _visible(PurePosixPath(video.split("?")[0].split("#")[0]).name)
        return _visible(Path(os.path.relpath(os.path.abspath(video), root)).as_posix())

    names = [name(v) for v in videos]
    stems = [str(PurePosixPath(n).with_suffix("")) if PurePosixPath(n).suffix else n for n in names]
    shared = Counter(stems)
    keys = [stem if shared[stem] == 1 else full for stem, full in zip(stems, names)]
    shared = Counter(keys)  # still shared (URLs with one name, names made visible): a digest of the source
    keys = [
        key if shared[key] == 1 else f"{key}-{hashlib.sha256(video.encode()).hexdigest()[:10]}"
        for key, video in zip(keys, videos)
    ]
    return [
        VideoEntry(position=position, key=key, name=video, source=video)
        for position, (key, video) in enumerate(zip(keys, videos))
    ]


class DatasetTable:
    """Rows of a ``datasets`` dataset (a Hub id, a local dataset folder or parquet file(s), optionally streamed).

    The video column is read without decoding (``{"bytes", "path"}`` or a path string); decoding happens in the
    workers through :func:`transformers_videoswin.processing.decoding.decode_video`.
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

    def key(self, position: int) -> str:
        """The output name of a row: its split and row number (``train/00000042``)."""
        return f"{_visible(re.sub(r'[^A-Za-z0-9._-]', '_', self.split))}/{position:08d}"

    def identity(self, position: int, source) -> dict:
        """What identifies a row's video: the dataset (resolved when local), split and row, and the video's bytes
        (SHA-256) or file (:func:`file_identity`)."""
        dataset = os.path.realpath(self.name) if os.path.exists(self.name) else self.name
        identity = {"dataset": dataset, "split": self.split, "row": position}
        if isinstance(source, (bytes, bytearray)):
            identity["sha256"] = hashlib.sha256(source).hexdigest()
        elif isinstance(source, str):
            identity["file"] = file_identity(source)
        return identity

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


__all__ = [
    "DatasetTable",
    "LIST_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VideoEntry",
    "expand_inputs",
    "file_entries",
    "file_identity",
]
