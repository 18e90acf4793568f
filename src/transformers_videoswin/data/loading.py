"""Loading the video-classification input forms that training and inference share.

- a Hub id or a local path given to ``load_dataset`` (parquet with video bytes or paths, the Hub layout);
- a ``videofolder`` (class sub-folders; ``load_dataset("videofolder", data_dir=...)``);
- mmaction annotation lists (``<relative path> <label>`` per line, relative to a data root);
- any of the above streamed (``streaming=True``).

The video column is cast to ``Video(decode=False)`` so rows carry ``{"bytes", "path"}``; :func:`resolve_video_source`
turns such a value (or a `datasets.Video()` decoder) into a source of
:func:`transformers_videoswin.processing.decoding.decode_video`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..checkpoints.labels import LABEL_SETS, load_labels
from ..processing.decoding import VideoDecodeError


def resolve_video_source(value, data_root: str | os.PathLike | None = None):
    """A decodable source from a video-column value: a `datasets.Video()` decoder as is, bytes when embedded,
    otherwise a path (joined to data_root)."""
    if hasattr(value, "get_frames_at"):
        return value, (getattr(value, "_hf_encoded", None) or {}).get("path") or "<video decoder>"
    if not isinstance(value, dict):  # as a `Video(decode=False)` value
        value = {"bytes": value} if isinstance(value, (bytes, bytearray)) else {"path": value}
    if value.get("bytes"):
        return bytes(value["bytes"]), value.get("path") or "<bytes>"
    if value.get("path") is None:
        raise VideoDecodeError("The row has neither video bytes nor a path.")
    path = os.fspath(value["path"])
    if data_root is not None and not os.path.isabs(path) and "://" not in path:
        path = os.path.join(data_root, path)
    return path, path


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


def annotation_entries(path: str | os.PathLike) -> list[tuple[int, str]]:
    """``(line number, line)`` of each entry of an annotation list: its lines that are neither blank nor a ``#``
    comment, stripped."""
    lines = (line.strip() for line in Path(path).read_text().splitlines())
    return [(number, line) for number, line in enumerate(lines, start=1) if line and not line.startswith("#")]


def read_annotation_list(path: str | os.PathLike) -> tuple[list[str], list[int]]:
    """An mmaction annotation list: one ``<relative path> <label>`` per line (paths may contain spaces; the label is
    the last field). Blank lines and ``#`` comments are ignored (:func:`annotation_entries`)."""
    paths, labels = [], []
    for number, line in annotation_entries(path):
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
    "annotation_entries",
    "label_names_from_features",
    "load_annotation_lists",
    "load_video_dataset",
    "prepare_video_column",
    "read_annotation_list",
    "read_label_names",
    "resolve_video_source",
]
