"""Outputs that survive a crash (one file per video written atomically, an index written line by line, resuming),
and the sinks that receive every video of a run, from checking their location before the model is loaded to
finishing (files and index: :class:`DirectorySink`; one video's file: :class:`FileSink`; results in memory:
:class:`MemorySink`).

Layout of an output directory ``DIR``::

    DIR/<key>.safetensors            one per video (or <key>.npy + <key>.json with the npy format)
    DIR/.videoswin/settings.json     how they were made: a re-run with other settings is refused
    DIR/.videoswin/index-parts/rank-R-of-N.jsonl  one record per video, appended and flushed as each video finishes
    DIR/index.jsonl | index.parquet  the merged index: the latest record of every video, in input order

Keys are never hidden (:mod:`~transformers_videoswin.data.sources`) and per-video files end in ``.safetensors``,
``.npy`` or ``.json``, so no video's output can take the name of the run's own files.

A video file appears under its final name only once it is complete (written in a private temporary folder beside
it, then renamed), so a killed run leaves no half-written output. Each output records the identity of its video
(resolved path, size and modification time; dataset, split and row) and the SHA-256 of the model's weights: a
re-run skips a video only when its output exists and records this video and these weights, and processes the rest
(an output of another video, or of other weights, is made again). Failed videos are retried on a re-run.
Index records: ``position, path, output, status ("ok" | "error"), num_windows, num_frames, duration, fps, error,
resumed, rank, finished_at``.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..file_utils import (
    UnwritableLocation,
    atomic_write,
    atomic_write_text,
    check_writable_directory,
    check_writable_file,
)

OUTPUT_FORMATS = ("safetensors", "npy")
INDEX_FORMATS = ("jsonl", "parquet")
RUN_DIR = ".videoswin"
PARTS_DIR = f"{RUN_DIR}/index-parts"


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

    def __init__(
        self,
        root: str | os.PathLike,
        fmt: str = "safetensors",
        main_tensor: str = "pooled",
        weights: str | None = None,
    ):
        """``weights``: the SHA-256 of the model's weights (:func:`~.runner.weights_fingerprint`) that an output
        must record to count as complete."""
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"`format` must be one of {OUTPUT_FORMATS}, got {fmt!r}.")
        self.root = Path(root)
        self.format = fmt
        self.main_tensor = main_tensor
        self.weights = weights

    def path(self, key: str) -> Path:
        return self.root / f"{key}.{self.format}"

    def complete(self, key: str, identity: dict | None) -> dict | None:
        """The metadata of ``key``'s output when it is complete and was made from the video ``identity`` with these
        weights, else ``None`` (the video is then processed again)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            if self.format == "npy":
                metadata = json.loads(path.with_suffix(".json").read_text())["metadata"]
            else:
                from safetensors import safe_open

                with safe_open(str(path), "pt") as handle:
                    metadata = _parse_metadata(handle.metadata() or {})
        except Exception:  # noqa: BLE001 -- unreadable leftovers are simply redone
            return None
        same_video = identity is not None and metadata.get("source") == json.loads(json.dumps(identity))
        return metadata if same_video and metadata.get("weights_sha256") == self.weights else None

    def write(self, key: str, tensors: dict[str, torch.Tensor], metadata: dict) -> Path:
        path = self.path(key)
        if self.format == "safetensors":
            save_safetensors(path, tensors, metadata)
            return path
        main = tensors[self.main_tensor].numpy()
        side = {name: t.tolist() for name, t in tensors.items() if name != self.main_tensor}
        side_json = json.dumps({"metadata": metadata, "array": self.main_tensor, **side})
        # the sidecar first, the array last: the .npy exists only when both are complete
        atomic_write_text(path.with_suffix(".json"), side_json)
        atomic_write(path, lambda tmp: _save_npy(tmp, main))
        return path


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)


def save_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict) -> Path:
    """Atomically write ``tensors`` (made contiguous) with string metadata (non-strings as JSON)."""
    from safetensors.torch import save_file

    tensors = {name: t.contiguous() for name, t in tensors.items()}
    strings = {name: value if isinstance(value, str) else json.dumps(value) for name, value in metadata.items()}
    return atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=strings))


class SettingsMismatch(ValueError):
    """An output directory holds results made with other settings; resuming into it would mix them."""


def check_settings(root: str | os.PathLike, settings: dict) -> None:
    """Record ``settings`` in ``DIR/.videoswin/settings.json``, or check that they equal the ones already recorded
    there, so that a re-run resumes only work made the same way (same weights, task, windows, outputs)."""
    path = Path(root) / RUN_DIR / "settings.json"
    settings = json.loads(json.dumps(settings))  # as they will read back
    if path.is_file():
        recorded = json.loads(path.read_text())
        if recorded != settings:
            changed = sorted(k for k in recorded.keys() | settings.keys() if recorded.get(k) != settings.get(k))
            details = ", ".join(f"{k}: {recorded.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise SettingsMismatch(
                f"{root} holds outputs made with other settings ({details}); resuming would mix them. "
                "Use another `output_dir`, or delete that one to start over."
            )
        return
    atomic_write_text(path, json.dumps(settings, indent=2))


class IndexPart:
    """This process's part of the index: one JSON line per video, flushed as soon as the video is done."""

    def __init__(self, root: str | os.PathLike, rank: int = 0, world_size: int = 1):
        self.path = Path(root) / PARTS_DIR / f"rank-{rank:05d}-of-{world_size:05d}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rank = rank
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)  # never through a symlink
        self._handle = open(os.open(self.path, flags, 0o666), "a")

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


class IncompleteIndex(ValueError):
    """The index parts of an output directory do not make whole runs: a job is missing."""


def check_index_parts(root: str | os.PathLike) -> None:
    """Raise :class:`IncompleteIndex` unless the parts form whole runs: for every job count N found, the parts of
    jobs 0 .. N-1 (a run repeated with another count adds a whole set of its own)."""
    jobs: dict[int, set[int]] = {}
    for part in (Path(root) / PARTS_DIR).glob("*.jsonl"):
        match = re.fullmatch(r"rank-(\d+)-of-(\d+)\.jsonl", part.name)
        if match:
            jobs.setdefault(int(match[2]), set()).add(int(match[1]))
    if not jobs:
        raise IncompleteIndex(f"{root} has no index parts: no job of a dataset-scale run has written there.")
    missing = [f"rank-{r:05d}-of-{n:05d}.jsonl" for n in sorted(jobs) for r in range(n) if r not in jobs[n]]
    if missing:
        counts = " and ".join(str(n) for n in sorted(jobs))
        raise IncompleteIndex(
            f"{root} holds the index parts of runs split into {counts} jobs, and {len(missing)} job(s) are missing "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): run them (or remove the parts of an "
            "abandoned run from the index-parts folder), then merge again."
        )


def merge_index(root: str | os.PathLike, fmt: str = "jsonl", require_complete: bool = True) -> Path:
    """Merge ``DIR/.videoswin/index-parts/*.jsonl`` into ``DIR/index.jsonl`` (or ``index.parquet``); returns its path.

    ``require_complete``: refuse (:class:`IncompleteIndex`) unless every job of each run has written its part; an
    independent job merges what is there so far with ``False``.
    """
    if fmt not in INDEX_FORMATS:
        raise ValueError(f"The index format must be one of {INDEX_FORMATS}, got {fmt!r}.")
    root = Path(root)
    if not (root / PARTS_DIR).is_dir():
        raise FileNotFoundError(f"{root} has no {PARTS_DIR}/ folder: not an output directory of a dataset-scale run.")
    if require_complete:
        check_index_parts(root)
    records = read_index_parts(root)
    path = root / f"index.{fmt}"
    if fmt == "jsonl":
        return atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(records)
    return atomic_write(path, lambda tmp: pq.write_table(table, str(tmp)))


# ---------------------------------------------------------------------------------------------------- sinks
# A sink receives every video of a run, in this order: `check(settings)` before the model is loaded (the location
# takes files; the settings, with the weights' fingerprint, match the ones recorded there), `start(metadata, rank,
# world_size)`, then `done(video, tensors)`, `failed(item)` (a `VideoFailed`) or `resumed(item)` (a `VideoSkipped`)
# for each video (`stream.VideoInfo`s), `close()` in every process, and `finish()` in the main one once every process
# has closed. `outputs` is the `OutputDirectory` whose complete files are skipped (None: every video is processed).


def _record(video, status: str, **extra) -> dict:
    """The index record of one video."""
    record = {
        "position": video.position,
        "path": video.name,
        "output": video.key,
        "status": status,
        "num_windows": video.num_clips,
        "num_frames": video.num_frames,
        "duration": video.duration,
        "fps": video.fps,
        "error": None,
        "resumed": False,
    }
    record.update(extra)
    return record


def _video_metadata(metadata: dict, video, tensors: dict[str, torch.Tensor]) -> dict:
    """What one video's output file records: the run's ``metadata`` and the video's own."""
    return {
        **metadata,
        "video": video.name,
        "source": video.identity,
        "key": video.key,
        "position": video.position,
        "num_windows": video.num_clips,
        "num_frames": video.num_frames,
        "fps": video.fps,
        "duration": video.duration,
        "layout": {name: list(t.shape) for name, t in tensors.items()},
    }


def _top(probs: torch.Tensor, labels: list[str], top_k: int) -> list[dict]:
    scores, ids = probs.topk(top_k)
    return [{"label": labels[int(i)], "score": float(s)} for s, i in zip(scores.tolist(), ids.tolist())]


@dataclass
class VideoResult:
    """What a run gave for one video: its ``tensors``, or the ``error`` that stopped it, or the ``metadata`` of the
    output a previous run wrote."""

    video: object
    tensors: dict[str, torch.Tensor] | None = None
    error: str | None = None
    metadata: dict | None = None


class MemorySink:
    """Keeps every video's result by input position (for printing, the timeline, or a single output file)."""

    outputs = None

    def __init__(self):
        self.results: dict[int, VideoResult] = {}
        self.metadata: dict = {}

    def check(self, settings: dict | None = None) -> None:
        """Nothing to check: the results stay in memory."""

    def start(self, metadata: dict, rank: int = 0, world_size: int = 1) -> None:
        self.metadata = metadata

    def done(self, video, tensors: dict[str, torch.Tensor]) -> None:
        self.results[video.position] = VideoResult(video, tensors=tensors)

    def failed(self, item) -> None:
        self.results[item.video.position] = VideoResult(item.video, error=item.error)

    def resumed(self, item) -> None:  # never happens without an output directory
        self.results[item.video.position] = VideoResult(item.video, metadata=item.metadata)

    def close(self) -> None:
        """Nothing to close."""

    def finish(self) -> None:
        """Nothing to write."""

    def predictions(self, top_k: int = 5) -> list[dict]:
        """Per video in input order, for a classification run: the ``top_k`` classes (``label``, ``score``) of the
        mean probabilities of its views, or of each window (``start``, ``end`` in seconds); or its ``error``."""
        if "labels" not in self.metadata:
            raise ValueError('Predictions need the labels of a classification run (`task` "classify").')
        labels, plan = self.metadata["labels"], self.metadata["plan"]
        top_k = max(1, min(top_k, len(labels)))
        predictions = []
        for _, result in sorted(self.results.items()):
            name, tensors = result.video.name, result.tensors
            if result.error is not None:
                predictions.append({"video": name, "error": result.error})
            elif "window" not in plan:
                top = _top(tensors["probs"].mean(0), labels, top_k)
                predictions.append({"video": name, "views": self.metadata["views"], "predictions": top})
            else:
                spans = zip(tensors["start_time"].tolist(), tensors["end_time"].tolist(), tensors["probs"])
                windows = [{"start": s, "end": e, "predictions": _top(p, labels, top_k)} for s, e, p in spans]
                predictions.append(
                    {"video": name, "window": plan["window"], "stride": plan["stride"], "windows": windows}
                )
        return predictions


class FileSink(MemorySink):
    """Keeps the results in memory and writes the one video's tensors to ``path`` (safetensors) when it finishes."""

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)

    def check(self, settings: dict | None = None) -> None:
        """``path`` can take a file (before the model is loaded)."""
        try:
            check_writable_file(self.path)
        except UnwritableLocation as error:
            raise UnwritableLocation(f"`out` {self.path}: {error}") from None

    def finish(self) -> Path | None:
        """Write the video's tensors; ``None`` when it failed (nothing is written)."""
        result = next(iter(self.results.values()), None)
        if result is None or result.tensors is None:
            return None
        metadata = _video_metadata(self.metadata, result.video, result.tensors)
        return save_safetensors(self.path, result.tensors, metadata)


class DirectorySink:
    """Writes one file per video into ``root`` and this process's part of the index; ``finish`` merges the parts
    (``index_format``)."""

    def __init__(
        self,
        root: str | os.PathLike,
        output_format: str = "safetensors",
        index_format: str = "jsonl",
        main_tensor: str = "pooled",
    ):
        if index_format not in INDEX_FORMATS:
            raise ValueError(f"`index_format` must be one of {INDEX_FORMATS}, got {index_format!r}.")
        self.outputs = OutputDirectory(root, output_format, main_tensor)
        self.index_format = index_format
        self.index: IndexPart | None = None
        self.metadata: dict = {}

    def check(self, settings: dict | None = None) -> None:
        """``root`` can take files; ``settings`` (with the weights' ``weights_sha256``) are recorded there, or must
        equal the ones a previous run recorded (:class:`SettingsMismatch`)."""
        root = self.outputs.root
        try:
            check_writable_directory(root)
        except UnwritableLocation as error:
            raise UnwritableLocation(f"`output_dir` {root}: {error}") from None
        if settings is not None:
            check_settings(root, settings)
            self.outputs.weights = settings["weights_sha256"]

    def start(self, metadata: dict, rank: int = 0, world_size: int = 1) -> None:
        self.metadata = metadata
        self.index = IndexPart(self.outputs.root, rank, world_size)

    def done(self, video, tensors: dict[str, torch.Tensor]) -> None:
        metadata = _video_metadata(self.metadata, video, tensors)
        self.outputs.write(video.key, tensors, metadata)
        self.index.add(_record(video, "ok"))

    def failed(self, item) -> None:
        self.index.add(_record(item.video, "error", error=item.error))

    def resumed(self, item) -> None:
        metadata = item.metadata
        fields = {k: metadata.get(k) for k in ("num_frames", "fps", "duration")}
        self.index.add(_record(item.video, "ok", resumed=True, num_windows=metadata.get("num_windows"), **fields))

    def close(self) -> None:
        if self.index is not None:
            self.index.close()

    def finish(self) -> Path:
        """Merge the index parts present (an independent job's are completed by the last one)."""
        return merge_index(self.outputs.root, self.index_format, require_complete=False)


__all__ = [
    "INDEX_FORMATS",
    "DirectorySink",
    "FileSink",
    "IncompleteIndex",
    "MemorySink",
    "VideoResult",
    "OUTPUT_FORMATS",
    "IndexPart",
    "OutputDirectory",
    "SettingsMismatch",
    "check_index_parts",
    "check_settings",
    "merge_index",
    "read_index_parts",
    "save_safetensors",
]
