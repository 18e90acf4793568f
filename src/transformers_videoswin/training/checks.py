"""Checks that run before the first training step, and finding the checkpoint to resume from.

Everything that can be known about the data before training is checked here, with an error that names the column,
the row, the file or the valid options; `find_resumable_checkpoint` skips checkpoint directories that a killed save
left half-written.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "training", "validation", "valid", "val", "dev", "test", "testing", "eval")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts", ".3gp")


def check_local_dataset_path(name: str | None) -> None:
    """A `--dataset_name` that is clearly meant as a local path but does not exist gets a clear error (instead of
    `load_dataset` asking the Hub for it)."""
    if not name or os.path.exists(name):
        return
    looks_local = (
        os.path.isabs(name)
        or name.startswith(("./", "../", "~", ".\\"))
        or name.count("/") > 1
        or (os.sep in name and os.path.isdir(os.path.dirname(os.path.normpath(name))))
    )
    if looks_local:
        parent = Path(name).expanduser().parent
        hint = ""
        if parent.is_dir():
            entries = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))[:20]
            hint = f" {parent} holds: {', '.join(entries) or 'nothing'}."
        raise FileNotFoundError(f"--dataset_name {name!r}: no such local directory or file.{hint}")


def check_columns(dataset, split: str, video_column: str, label_column: str) -> None:
    """Both columns exist in `split`; otherwise the error lists the dataset's columns."""
    columns = getattr(dataset, "column_names", None)
    if columns is None:
        features = getattr(dataset, "features", None)
        columns = list(features) if features is not None else None
    if columns is None:  # a streamed dataset without known features: the first row tells
        columns = list(next(iter(dataset)))
    for option, column in (("--video_column_name", video_column), ("--label_column_name", label_column)):
        if column not in columns:
            raise ValueError(f"{option} {column!r} is not a column of the {split!r} split; its columns are {columns}.")


def check_labels(dataset, split: str, label_column: str, num_labels: int) -> None:
    """Every label of a (non-streamed) split is an integer in [0, num_labels)."""
    import numpy as np

    labels = np.asarray(dataset[label_column])
    if labels.size == 0:
        return
    bad = np.flatnonzero((labels < 0) | (labels >= num_labels))
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"{split} row {row}: label {labels[row]} is outside [0, {num_labels}) ({bad.size} such rows); labels "
            f"must index the {num_labels} class names."
        )


def check_video_folder(data_dir: str | os.PathLike) -> None:
    """Every class folder of a `videofolder` holds at least one video (an empty one would silently drop a class)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--data_dir {data_dir}: no such directory.")
    class_dirs = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir()):
        if folder.name.lower() in SPLIT_NAMES:  # <data_dir>/<split>/<class>/video
            class_dirs += sorted(d for d in folder.iterdir() if d.is_dir())
        else:  # <data_dir>/<class>/video
            class_dirs.append(folder)
    for class_dir in class_dirs:
        if not any(p.suffix.lower() in VIDEO_EXTENSIONS for p in class_dir.rglob("*") if p.is_file()):
            raise ValueError(
                f"The class folder {class_dir} holds no videos ({', '.join(VIDEO_EXTENSIONS[:5])}, ...): add videos "
                "or remove the folder."
            )


def check_annotation_videos(dataset, split: str, video_column: str) -> None:
    """The videos of an annotation list exist (paths are already joined to --data_root)."""
    missing = [(row, path) for row, path in enumerate(dataset[video_column]) if not os.path.exists(path)]
    if missing:
        row, path = missing[0]
        raise FileNotFoundError(
            f"{split}: {len(missing)} of {len(dataset)} videos do not exist, the first at row {row}: {path}. Check "
            "--data_root (the list's paths are relative to it)."
        )


_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def is_complete_checkpoint(path: str | os.PathLike) -> bool:
    """A checkpoint directory whose save finished: Trainer writes `trainer_state.json` after the weights, the
    optimizer and the scheduler, so it is present and readable only when those are."""
    import json

    path = Path(path)
    state = path / "trainer_state.json"
    weights = any((path / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json"))
    if not (state.is_file() and weights):
        return False
    try:
        json.loads(state.read_text())
    except (OSError, ValueError):
        return False
    return True


def find_resumable_checkpoint(output_dir: str | os.PathLike) -> tuple[str | None, list[str]]:
    """The newest complete `checkpoint-N` of `output_dir`, and the newer incomplete ones it skipped."""
    if not os.path.isdir(output_dir):
        return None, []
    found = sorted(
        (int(m.group(1)), name)
        for name in os.listdir(output_dir)
        if (m := _CHECKPOINT.match(name)) and os.path.isdir(os.path.join(output_dir, name))
    )
    skipped = []
    for _, name in reversed(found):
        path = os.path.join(output_dir, name)
        if is_complete_checkpoint(path):
            if skipped:
                logger.warning("Resuming from %s; skipped incomplete checkpoints: %s", name, ", ".join(skipped))
            return path, skipped
        skipped.append(name)
    if skipped:
        logger.warning("No complete checkpoint in %s; skipped incomplete ones: %s", output_dir, ", ".join(skipped))
    return None, skipped


__all__ = [
    "check_annotation_videos",
    "check_columns",
    "check_labels",
    "check_local_dataset_path",
    "check_video_folder",
    "find_resumable_checkpoint",
    "is_complete_checkpoint",
]
