"""Outputs that survive a crash: one file per video written atomically, an index written line by line, resuming.

Layout of ``--output-dir DIR``::

    DIR/<key>.safetensors            one per video (or <key>.npy + <key>.json with --format npy)
    DIR/settings.json                how they were made: a re-run with other settings is refused
    DIR/index-parts/rank-R-of-N.jsonl  one record per video, appended and flushed as each video finishes
    DIR/index.jsonl | index.parquet  the merged index: the latest record of every video, in input order

A video file appears under its final name only once it is complete (written to a hidden temporary file in the same
folder, then renamed), so a killed run leaves no half-written output: re-running the same command skips every video
whose output exists and processes the rest. Failed videos are retried on a re-run (a fixed file then succeeds).
Index records: ``position, path, output, status ("ok" | "error"), num_windows, num_frames, duration, fps, error,
resumed, rank, finished_at``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

OUTPUT_FORMATS = ("safetensors", "npy")
INDEX_FORMATS = ("jsonl", "parquet")
PARTS_DIR = "index-parts"


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` on a hidden temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _metadata_strings(metadata: dict) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}


def _parse_metadata(metadata: dict[str, str]) -> dict:
    parsed = {}
    for name, value in metadata.items():
        try:
            parsed[name] = json.loads(value)
        except ValueError:
            parsed[name] = value
    return parsed


class OutputDirectory:
    """Writes and recognises the per-video files of one output directory (picklable: workers check completeness)."""

    def __init__(self, root: str | os.PathLike, fmt: str = "safetensors", main_tensor: str = "pooled"):
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"`format` must be one of {OUTPUT_FORMATS}, got {fmt!r}.")
        self.root = Path(root)
        self.format = fmt
        self.main_tensor = main_tensor

    def path(self, key: str) -> Path:
        return self.root / f"{key}.{self.format}"

    def complete(self, key: str) -> dict | None:
        """The metadata of ``key``'s output when it is complete, else ``None``."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            if self.format == "npy":
                return json.loads(path.with_suffix(".json").read_text())["metadata"]
            from safetensors import safe_open

            with safe_open(str(path), "pt") as handle:
                return _parse_metadata(handle.metadata() or {})
        except Exception:  # noqa: BLE001 -- unreadable leftovers are simply redone
            return None

    def write(self, key: str, tensors: dict[str, torch.Tensor], metadata: dict) -> Path:
        path = self.path(key)
        if self.format == "safetensors":
            save_safetensors(path, tensors, metadata)
            return path
        main = tensors[self.main_tensor].numpy()
        side = {name: t.tolist() for name, t in tensors.items() if name != self.main_tensor}
        side_json = json.dumps({"metadata": metadata, "array": self.main_tensor, **side})
        # the sidecar first, the array last: the .npy exists only when both are complete
        atomic_write(path.with_suffix(".json"), lambda tmp: tmp.write_text(side_json))
        atomic_write(path, lambda tmp: _save_npy(tmp, main))
        return path


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)


def save_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict) -> Path:
    """Atomically write ``tensors`` (made contiguous) with string metadata (non-strings as JSON)."""
    from safetensors.torch import save_file

    tensors = {name: t.contiguous() for name, t in tensors.items()}
    return atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=_metadata_strings(metadata)))


class SettingsMismatch(ValueError):
    """An output directory holds results made with other settings; resuming into it would mix them."""


def check_settings(root: str | os.PathLike, settings: dict) -> None:
    """Record ``settings`` in ``DIR/settings.json``, or check that they equal the ones already recorded there, so
    that a re-run resumes only work made the same way (same model, task, windows, outputs)."""
    path = Path(root) / "settings.json"
    settings = json.loads(json.dumps(settings))  # as they will read back
    if path.is_file():
        recorded = json.loads(path.read_text())
        if recorded != settings:
            changed = sorted(k for k in recorded.keys() | settings.keys() if recorded.get(k) != settings.get(k))
            details = ", ".join(f"{k}: {recorded.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise SettingsMismatch(
                f"{root} holds outputs made with other settings ({details}); resuming would mix them. "
                "Use another --output-dir, or delete that one to start over."
            )
        return
    text = json.dumps(settings, indent=2)
    atomic_write(path, lambda tmp: tmp.write_text(text))


class IndexPart:
    """This process's part of the index: one JSON line per video, flushed as soon as the video is done."""

    def __init__(self, root: str | os.PathLike, rank: int = 0, world_size: int = 1):
        self.path = Path(root) / PARTS_DIR / f"rank-{rank:05d}-of-{world_size:05d}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rank = rank
        self._handle = open(self.path, "a")

    def add(self, record: dict) -> None:
        record = {**record, "rank": self.rank, "finished_at": time.time()}
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def read_index_parts(root: str | os.PathLike) -> list[dict]:
    """The latest record of every video over all index parts, sorted by input position."""
    latest: dict[str, dict] = {}
    for part in sorted((Path(root) / PARTS_DIR).glob("*.jsonl")):
        for line in part.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a line cut by a kill
                continue
            previous = latest.get(record["output"])
            if previous is None or record["finished_at"] >= previous["finished_at"]:
                latest[record["output"]] = record
    return sorted(latest.values(), key=lambda r: (r["position"], r["output"]))


def merge_index(root: str | os.PathLike, fmt: str = "jsonl") -> Path:
    """Merge ``DIR/index-parts/*.jsonl`` into ``DIR/index.jsonl`` (or ``index.parquet``); returns its path."""
    if fmt not in INDEX_FORMATS:
        raise ValueError(f"The index format must be one of {INDEX_FORMATS}, got {fmt!r}.")
    root = Path(root)
    if not (root / PARTS_DIR).is_dir():
        raise FileNotFoundError(f"{root} has no {PARTS_DIR}/ folder: not an output directory of `videoswin features`.")
    records = read_index_parts(root)
    path = root / f"index.{fmt}"
    if fmt == "jsonl":
        text = "".join(json.dumps(r) + "\n" for r in records)
        return atomic_write(path, lambda tmp: tmp.write_text(text))
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(records)
    return atomic_write(path, lambda tmp: pq.write_table(table, str(tmp)))


__all__ = [
    "INDEX_FORMATS",
    "OUTPUT_FORMATS",
    "IndexPart",
    "OutputDirectory",
    "SettingsMismatch",
    "check_settings",
    "atomic_write",
    "merge_index",
    "read_index_parts",
    "save_safetensors",
]
