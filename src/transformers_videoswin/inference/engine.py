"""The batch-inference engine behind ``videoswin features``, ``classify`` and ``timeline``.

    videos -> VideoClipStream (DataLoader workers: decode, sample, preprocess)
           -> InferenceEngine (clips of several videos per forward pass)
           -> a sink (files + index in an output directory, or results in memory)

What a video becomes is a :class:`ClipPlan`:

- **sliding windows** (``window`` set): :func:`~transformers_videoswin.processing.sampling.sliding_window_indices`
  covers the whole video (``window`` frames every ``stride``, sampled every ``frame_interval`` frames or at ``fps``);
  the frames are decoded once by :func:`~transformers_videoswin.processing.decoding.decode_video`, resized chunk by
  chunk as they are decoded (the processor's ``decode_kwargs``), cropped and normalised once by the processor, then
  gathered into windows, ``batch_size`` windows at a time
  (so neither a long video nor a full-resolution 4K frame sits in memory whole);
- **views** (no window): the processor's own sampling (``sampling``, ``num_clips`` x ``num_crops``), as the
  official test protocol (resized while decoding too); a batch of views is a view of the video's frames, not a copy.

Each clip goes through the model once. Per video the engine returns, for every clip (window or view): ``pooled``
``[N, C]`` (features; ``pooled_time`` ``[N, T', C]`` with ``keep_time``; the final and per-stage maps with
``level="stages"``) or ``probs`` ``[N, num_labels]`` (classification), plus ``start_time`` / ``end_time`` ``[N]`` in
seconds and ``frame_indices`` ``[N, T]``.

Threads on CPU: decoding workers and the model's intra-op threads share the cores. When decoding is the bottleneck
(the model waits for clips longer than it computes, over several batches), :class:`CpuThreadBalancer` gives the model
``max(1, cores - num_workers)`` threads, so the OpenMP threads stop competing with the decoders; when the model is
the bottleneck it keeps every thread.

Sharding: the video at input position ``p`` belongs to process ``p % world_size`` and, inside it, to DataLoader
worker ``(p // world_size) % num_workers``: no overlap, no gap, and the result does not depend on either count.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..processing.decoding import decode_video, open_video
from ..processing.sampling import LAST_WINDOW_POLICIES, sliding_window_indices
from .outputs import OutputDirectory
from .sources import DatasetTable, VideoEntry, dataset_key

TASKS = ("features", "classify")
LEVELS = ("pooled", "stages")


@dataclass
class ClipPlan:
    """Which clips a video gives: sliding windows when ``window`` is set, else the processor's views."""

    window: int | None = None
    stride: int | None = None
    frame_interval: int | None = None
    fps: float | None = None
    last_window: str = "pad"
    num_frames: int | None = None
    sampling: str | None = None
    num_clips: int = 1
    num_crops: int = 1
    decode_backend: str = "auto"

    def __post_init__(self):
        if self.window is None:
            if self.stride is not None or self.fps is not None:
                raise ValueError("--stride and --fps place sliding windows; give --window FRAMES too.")
            return
        if self.stride is None:
            self.stride = self.window
        if self.window < 1 or self.stride < 1:
            raise ValueError(f"--window and --stride must be positive, got {self.window} and {self.stride}.")
        if self.num_clips != 1 or self.num_crops != 1:
            raise ValueError(
                f"Sliding windows take one center crop per window; --views {self.num_clips}x{self.num_crops} "
                "cannot be combined with --window (use --views 1x1)."
            )
        if self.sampling is not None:
            raise ValueError("--sampling chooses clips inside a video; sliding windows (--window) cover all of it.")
        if self.fps is not None and self.frame_interval is not None:
            raise ValueError("Give either --frame-interval or --fps for the windows' frames, not both.")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"--fps must be positive, got {self.fps}.")
        if self.frame_interval is not None and self.frame_interval < 1:
            raise ValueError(f"--frame-interval must be positive, got {self.frame_interval}.")
        if self.last_window not in LAST_WINDOW_POLICIES:
            raise ValueError(f"--last-window must be one of {LAST_WINDOW_POLICIES}, got {self.last_window!r}.")

    @property
    def windows(self) -> bool:
        return self.window is not None

    def step(self, video_fps: float | None, name: str) -> float:
        """Source frames between two sampled frames of a window (``--fps`` above a video's own rate: every frame)."""
        if self.fps is None:
            return float(self.frame_interval or 1)
        if not video_fps:
            raise ValueError(f"Video {name} has no frame rate in its metadata; use --frame-interval instead of --fps.")
        return max(1.0, float(video_fps) / float(self.fps))

    def processor_kwargs(self) -> dict:
        kwargs = {
            "num_clips": self.num_clips,
            "num_crops": self.num_crops,
            "num_frames": self.num_frames,
            "sampling": self.sampling,
            "frame_interval": self.frame_interval,
            "decode_backend": self.decode_backend,
        }
        return {k: v for k, v in kwargs.items() if v is not None}

    def describe(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _identity(item):
    return item


@dataclass
class Shard:
    """This process's share of the videos: position ``p`` belongs to rank ``p % world_size``."""

    rank: int = 0
    world_size: int = 1

    def owner(self, num_workers: int, worker: int):
        def owned(position: int) -> bool:
            return position % self.world_size == self.rank and (position // self.world_size) % num_workers == worker

        return owned


class VideoClipStream(torch.utils.data.IterableDataset):
    """Items for the engine, produced in DataLoader workers (see the module docstring).

    Yields dicts with ``kind``: ``"clips"`` (``position``, ``offset`` of the first clip, the preprocessed
    ``frames`` ``[n, 3, h, w]`` and ``gather`` ``[k, T]``: clip ``i`` is ``frames[gather[i]]``, so frames shared by
    overlapping windows travel once; for the first chunk of a video also its ``header``), ``"error"`` (the video
    could not be read; never fatal) or ``"done"`` (its output already exists: ``metadata``).
    """

    def __init__(
        self,
        processor,
        plan: ClipPlan,
        entries: list[VideoEntry] | None = None,
        table: DatasetTable | None = None,
        shard: Shard | None = None,
        chunk_size: int = 8,
        outputs: OutputDirectory | None = None,
    ):
        super().__init__()
        if (entries is None) == (table is None):
            raise ValueError("Give either `entries` (files) or `table` (a dataset).")
        self.processor, self.plan, self.entries, self.table = processor, plan, entries, table
        self.shard = shard or Shard()
        self.chunk_size = max(1, int(chunk_size))
        self.outputs = outputs

    def __len__(self) -> int:
        """Videos of this rank (files and map-style datasets; streamed datasets have no length)."""
        total = len(self.entries) if self.entries is not None else len(self.table)
        return len(range(self.shard.rank, total, self.shard.world_size))

    def _owned_videos(self) -> Iterator[tuple[int, str, str, object]]:
        worker = torch.utils.data.get_worker_info()
        owned = self.shard.owner(worker.num_workers if worker else 1, worker.id if worker else 0)
        if self.entries is not None:
            for entry in self.entries:
                if owned(entry.position):
                    yield entry.position, entry.key, entry.name, entry.source
        else:
            for position, source, name in self.table.rows(owned):
                yield position, dataset_key(position), name, source

    def __iter__(self) -> Iterator[dict]:
        for position, key, name, source in self._owned_videos():
            base = {"position": position, "key": key, "name": name}
            if self.outputs is not None:
                metadata = self.outputs.complete(key)
                if metadata is not None:
                    yield {**base, "kind": "done", "metadata": metadata}
                    continue
            try:
                if isinstance(source, Exception):
                    raise source
                if self.plan.windows:
                    yield from self._windows(base, source)
                else:
                    yield self._views(base, source)
            except Exception as error:  # noqa: BLE001 -- a bad video is recorded and skipped, never fatal
                message = str(error) if name in str(error) else f"{name}: {error}"
                yield {**base, "kind": "error", "error": f"{type(error).__name__}: {message}"}

    def _header(self, base, info_frames, fps, duration, indices, start_frame, end_frame) -> dict:
        fps = float(fps) if fps else None
        scale = 1.0 / fps if fps else float("nan")
        return {
            **base,
            "num_frames": int(info_frames),
            "fps": fps,
            "duration": float(duration) if duration else (info_frames * scale if fps else None),
            "num_clips": int(indices.shape[0]),
            "frame_indices": torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64)),
            "start_time": torch.from_numpy(start_frame.astype(np.float64) * scale),
            "end_time": torch.from_numpy(end_frame.astype(np.float64) * scale),
        }

    def _windows(self, base: dict, source) -> Iterator[dict]:
        plan, decode = self.plan, self.processor.decode_kwargs(decode_backend=self.plan.decode_backend)
        with open_video(source, backend=decode.pop("backend")) as reader:
            info, n = reader.metadata, reader.num_frames
            windows = sliding_window_indices(
                n, plan.window, plan.stride, plan.step(info.fps, base["name"]), plan.last_window
            )
            header = self._header(
                base, n, info.fps, info.duration, windows.indices, windows.start_frame, windows.end_frame
            )
            cached_indices, cached = np.empty(0, dtype=np.int64), None
            for offset in range(0, windows.num_windows, self.chunk_size):
                indices = windows.indices[offset : offset + self.chunk_size]
                unique = np.unique(indices)
                have = np.isin(unique, cached_indices)
                frames = None
                new = unique[~have]
                if new.size:  # decoded (resized while decoding), then cropped and normalised by the processor, once
                    decoded, _ = decode_video(reader, new, **decode)
                    fresh = self.processor(decoded, num_clips=1, num_crops=1, return_tensors="pt")["pixel_values"][0]
                    frames = fresh.new_empty((unique.size, *fresh.shape[1:]))
                    frames[torch.from_numpy(~have)] = fresh
                if have.any():  # frames shared with the previous chunk's windows are not decoded again
                    kept = cached[torch.from_numpy(np.searchsorted(cached_indices, unique[have]))]
                    frames = kept.new_empty((unique.size, *kept.shape[1:])) if frames is None else frames
                    frames[torch.from_numpy(have)] = kept
                gather = torch.from_numpy(
                    np.searchsorted(unique, indices)
                )  # clip t of window i = frames[gather[i, t]]
                cached_indices, cached = unique, frames
                item = {**base, "kind": "clips", "offset": offset, "frames": frames, "gather": gather}
                if offset == 0:
                    item["header"] = header
                yield item

    def _views(self, base: dict, source) -> dict:
        kwargs = self.plan.processor_kwargs()
        batch = self.processor(source, return_tensors="pt", return_metadata=True, **kwargs)
        pixel_values = batch["pixel_values"]
        views = (pixel_values if pixel_values.ndim == 6 else pixel_values.unsqueeze(1))[0]  # [V, T, 3, h, w]
        metadata = batch["video_metadata"][0]
        num_clips = self.plan.num_clips
        per_clip = np.asarray(metadata.frames_indices, dtype=np.int64).reshape(num_clips, -1)
        indices = per_clip[np.arange(views.shape[0]) % num_clips]  # view = crop * num_clips + clip
        header = self._header(
            base,
            metadata.total_num_frames,
            metadata.fps,
            metadata.duration,
            indices,
            indices.min(axis=1),
            indices.max(axis=1) + 1,
        )
        frames = views.reshape(-1, *views.shape[2:])  # [V * T, 3, h, w]
        gather = torch.arange(frames.shape[0]).reshape(views.shape[0], -1)
        return {**base, "kind": "clips", "offset": 0, "frames": frames, "gather": gather, "header": header}


def _gather_clips(frames: torch.Tensor, gather: torch.Tensor) -> torch.Tensor:
    """``frames[gather]`` (``[N, T]`` rows of ``frames``): a view, not a copy, when the rows are consecutive, as for
    the official views (12 views of 32 frames at 224x224 are 231 MB)."""
    first = int(gather[0, 0]) if gather.numel() else 0
    if torch.equal(gather.cpu(), torch.arange(first, first + gather.numel()).view_as(gather)):
        return frames[first : first + gather.numel()].view(*gather.shape, *frames.shape[1:])
    return frames[gather.to(frames.device)]


def _final_token_grid(config, shape) -> tuple[int, int, int]:
    """(T', H', W') of the last stage for an input of ``shape`` [N, T, C, H, W] (ceil at every step)."""
    t, h, w = shape[1], shape[3], shape[4]
    pt, ph, pw = config.patch_size
    t, h, w = -(-t // pt), -(-h // ph), -(-w // pw)
    for _ in range(len(config.depths) - 1):
        h, w = -(-h // 2), -(-w // 2)
    return t, h, w


@dataclass
class Summary:
    """What one run did (this process)."""

    ok: int = 0
    resumed: int = 0
    failed: int = 0
    clips: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def videos(self) -> int:
        return self.ok + self.resumed + self.failed

    def line(self) -> str:
        rate = max(self.seconds, 1e-9)
        return (
            f"{self.videos} videos: {self.ok} done, {self.resumed} already complete (skipped), {self.failed} failed; "
            f"{self.clips} clips in {self.seconds:.1f}s ({self.ok / rate:.2f} videos/s, {self.clips / rate:.2f} clips/s)"
        )


class CpuThreadBalancer:
    """Lowers the model's CPU threads to ``cores - num_workers`` once decoding is seen to be the bottleneck."""

    def __init__(self, device: torch.device, num_workers: int, min_batches: int = 3):
        import os

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.target = max(1, cores - num_workers)
        self.active = device.type == "cpu" and num_workers > 0 and torch.get_num_threads() > self.target
        self.min_batches, self.batches, self.waiting, self.computing = min_batches, 0, 0.0, 0.0
        self.previous: int | None = None

    def observe(self, waiting: float, computing: float) -> None:
        if not self.active:
            return
        self.batches += 1
        if self.batches == 1:  # worker start-up and first-call caches: not representative
            return
        self.waiting += waiting
        self.computing += computing
        if self.batches > self.min_batches and self.waiting > self.computing:
            self.previous = torch.get_num_threads()
            torch.set_num_threads(self.target)
            self.active = False

    def restore(self) -> None:
        if self.previous is not None:
            torch.set_num_threads(self.previous)
            self.previous = None


@dataclass
class _VideoState:
    header: dict
    parts: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    received: int = 0


# Clips per forward pass when none is given. On an accelerator: 8. On the CPU: as many clips as fit in
# CPU_BATCH_BYTES of pixel values, at most 8. The CPU model already works a few windows (about 8 MiB) at a time, so
# large clips gain no speed from a batch (Swin-T, 32x224x224, 19 MB a clip, 2 threads: 0.84-0.88 s per clip at
# batch 1, 0.78-0.93 s at batch 8) and each costs about 80 MiB of peak; small clips gain from fewer calls (a tiny
# model on 16x112x112 clips: 134 clips/s at batch 1, 196 at batch 8).
ACCELERATOR_BATCH_SIZE = 8
CPU_BATCH_BYTES = 32 * 2**20


def default_batch_size(device: torch.device, clip_bytes: int) -> int:
    """Clips per forward pass unless told otherwise, for clips of `clip_bytes` of pixel values in the model's dtype:
    8 on an accelerator; on the CPU, as many as fit in `CPU_BATCH_BYTES` (one Swin-T clip of 32x224x224 in float32,
    three in bfloat16), at least 1 and at most 8."""
    if torch.device(device).type != "cpu":
        return ACCELERATOR_BATCH_SIZE
    return max(1, min(ACCELERATOR_BATCH_SIZE, CPU_BATCH_BYTES // max(1, clip_bytes)))


class InferenceEngine:
    """Runs clips from many videos through one model, ``batch_size`` clips per forward pass (None: chosen from the
    device and the first clip's size by :func:`default_batch_size`)."""

    def __init__(
        self,
        model,
        task: str = "features",
        batch_size: int | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        keep_time: bool = False,
        level: str = "pooled",
    ):
        if task not in TASKS:
            raise ValueError(f"`task` must be one of {TASKS}, got {task!r}.")
        if level not in LEVELS:
            raise ValueError(f"`level` must be one of {LEVELS}, got {level!r}.")
        self.device = torch.device(device)
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.dtype = next(self.model.parameters()).dtype
        self.batch_size = None if batch_size is None else max(1, int(batch_size))
        self.task, self.keep_time, self.level = task, keep_time, level
        config = self.model.config
        self.stage_names = list(getattr(config, "stage_names", []))
        self.labels = [config.id2label[i] for i in range(config.num_labels)] if task == "classify" else None

    @torch.inference_mode()
    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-clip outputs (float32, CPU) for ``clips`` ``[N, T, 3, H, W]`` (on any device)."""
        pixel_values = clips.to(device=self.device, dtype=self.dtype, non_blocking=True)
        if self.task == "classify":
            return {"probs": self.model(pixel_values=pixel_values).logits.float().softmax(-1).cpu()}
        stages = self.level == "stages"
        outputs = self.model(pixel_values=pixel_values, output_hidden_states=stages)
        parts = {"pooled": outputs.pooler_output}
        if self.keep_time or stages:
            tokens = outputs.last_hidden_state  # [N, T'*H'*W', C] in (t, h, w) order
            grid = tokens.reshape(tokens.shape[0], *_final_token_grid(self.model.config, pixel_values.shape), -1)
            parts["pooled_time"] = grid.mean(dim=(2, 3))  # [N, T', C]
            if stages:
                parts["final"] = grid.permute(0, 4, 1, 2, 3)
                for index, stage in enumerate(outputs.reshaped_hidden_states):
                    parts[self.stage_names[index] if index < len(self.stage_names) else f"stage{index}"] = stage
        return {name: value.float().cpu() for name, value in parts.items()}

    def run(self, loader, sink, progress: bool = False, total: int | None = None, num_workers: int = 0) -> Summary:
        """Consume ``loader`` (items of :class:`VideoClipStream`), hand each finished video to ``sink``."""
        summary, states, buffer = Summary(), {}, []
        balancer = CpuThreadBalancer(self.device, num_workers)
        clock = {"waiting": 0.0}
        bar = _progress_bar(total, progress)
        start = time.perf_counter()

        def finished(kind: str) -> None:
            if bar is not None:
                bar.update(1)
                elapsed = max(time.perf_counter() - start, 1e-9)
                bar.set_postfix_str(f"{summary.ok / elapsed:.2f} videos/s, {summary.clips / elapsed:.1f} clips/s")

        def step(count: int) -> None:
            taken, clips = [], []
            while count and buffer:
                position, offset, frames, gather = buffer[0]
                take = min(count, gather.shape[0])
                frames = frames.to(device=self.device, dtype=self.dtype, non_blocking=True)
                taken.append((position, offset, take))
                clips.append(_gather_clips(frames, gather[:take]))  # [take, T, 3, h, w], gathered on the device
                if take == gather.shape[0]:
                    buffer.pop(0)
                else:  # the rest waits for the next batch, its frames already on the device
                    buffer[0] = (position, offset + take, frames, gather[take:])
                count -= take
            computing = time.perf_counter()
            outputs = self.forward(torch.cat(clips) if len(clips) > 1 else clips[0])
            balancer.observe(clock["waiting"], time.perf_counter() - computing)
            clock["waiting"] = 0.0
            row = 0
            for position, offset, take in taken:
                state = states[position]
                state.parts[offset] = {name: value[row : row + take] for name, value in outputs.items()}
                state.received += take
                row += take
                summary.clips += take
                if state.received == state.header["num_clips"]:
                    del states[position]
                    tensors = {
                        name: torch.cat([state.parts[o][name] for o in sorted(state.parts)]) for name in state.parts[0]
                    }
                    for name in ("start_time", "end_time", "frame_indices"):
                        tensors[name] = state.header[name]
                    sink.done(state.header, tensors)
                    summary.ok += 1
                    finished("ok")

        try:
            iterator, waited = iter(loader), time.perf_counter()
            for item in iterator:
                clock["waiting"] += time.perf_counter() - waited
                kind = item["kind"]
                if kind == "done":
                    sink.resumed(item)
                    summary.resumed += 1
                    finished("resumed")
                elif kind == "error":
                    states.pop(item["position"], None)
                    buffer[:] = [segment for segment in buffer if segment[0] != item["position"]]
                    sink.failed(item)
                    summary.failed += 1
                    summary.errors.append((item["name"], item["error"]))
                    finished("failed")
                else:
                    if "header" in item:
                        states[item["position"]] = _VideoState(header=item["header"])
                    buffer.append((item["position"], item["offset"], item["frames"], item["gather"]))
                    if self.batch_size is None:  # the default, once the size of a clip is known
                        clip_bytes = item["gather"].shape[1] * item["frames"][0].numel() * self.dtype.itemsize
                        self.batch_size = default_batch_size(self.device, clip_bytes)
                    while sum(segment[3].shape[0] for segment in buffer) >= self.batch_size:
                        step(self.batch_size)
                waited = time.perf_counter()
            while buffer:
                step(self.batch_size)
        finally:
            balancer.restore()
        summary.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
        return summary


def _progress_bar(total: int | None, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="videos", unit="video", file=sys.stderr, dynamic_ncols=True)


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


def default_num_workers() -> int:
    """Decoding processes: half the cores, at least 1, at most 8 (the model keeps the rest)."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    return max(1, min(8, cores // 2))


# ---------------------------------------------------------------------------------------------------- sinks
def _record(header_or_item: dict, status: str, **extra) -> dict:
    record = {
        "position": header_or_item["position"],
        "path": header_or_item["name"],
        "output": header_or_item["key"],
        "status": status,
        "num_windows": header_or_item.get("num_clips"),
        "num_frames": header_or_item.get("num_frames"),
        "duration": header_or_item.get("duration"),
        "fps": header_or_item.get("fps"),
        "error": None,
        "resumed": False,
    }
    record.update(extra)
    return record


class MemorySink:
    """Keeps every video's result (for printing, the timeline, or a single ``--out`` file)."""

    def __init__(self):
        self.results: dict[int, dict] = {}

    def done(self, header: dict, tensors: dict[str, torch.Tensor]) -> None:
        self.results[header["position"]] = {"header": header, "tensors": tensors}

    def failed(self, item: dict) -> None:
        self.results[item["position"]] = {"header": item, "error": item["error"]}

    def resumed(self, item: dict) -> None:  # never happens without an output directory
        self.results[item["position"]] = {"header": item, "metadata": item["metadata"]}


class DirectorySink:
    """Writes one file per video and this process's index part (see :mod:`.outputs`)."""

    def __init__(self, outputs: OutputDirectory, index, metadata: dict):
        self.outputs, self.index, self.metadata = outputs, index, metadata

    def done(self, header: dict, tensors: dict[str, torch.Tensor]) -> None:
        metadata = {
            **self.metadata,
            "video": header["name"],
            "key": header["key"],
            "position": header["position"],
            "num_windows": header["num_clips"],
            "num_frames": header["num_frames"],
            "fps": header["fps"],
            "duration": header["duration"],
            "layout": {name: list(t.shape) for name, t in tensors.items()},
        }
        self.outputs.write(header["key"], tensors, metadata)
        self.index.add(_record(header, "ok"))

    def failed(self, item: dict) -> None:
        self.index.add(_record(item, "error", error=item["error"]))

    def resumed(self, item: dict) -> None:
        metadata = item["metadata"]
        fields = {k: metadata.get(k) for k in ("num_frames", "fps", "duration")}
        self.index.add(_record(item, "ok", resumed=True, num_windows=metadata.get("num_windows"), **fields))


def run_metadata(model_name: str, task: str, plan: ClipPlan, engine: InferenceEngine) -> dict:
    """What every output file records about how it was made."""
    metadata = {"model": model_name, "task": task, "plan": json.dumps(plan.describe()), "level": engine.level}
    metadata["keep_time"] = engine.keep_time
    if engine.labels is not None:
        metadata["labels"] = engine.labels
    return metadata


def window_chunk_size(batch_size: int | None) -> int:
    """Windows decoded together in a worker (one item): 4 to 8 (8 for the default batch size), so that an item of
    Swin-T frames stays under about 100 MB whatever the batch size (batches are assembled from items in the main
    process)."""
    return max(4, min(8, int(math.ceil(batch_size or ACCELERATOR_BATCH_SIZE))))


__all__ = [
    "ClipPlan",
    "CpuThreadBalancer",
    "DirectorySink",
    "InferenceEngine",
    "LEVELS",
    "MemorySink",
    "Shard",
    "Summary",
    "TASKS",
    "VideoClipStream",
    "default_batch_size",
    "default_num_workers",
    "make_loader",
    "run_metadata",
    "window_chunk_size",
]
