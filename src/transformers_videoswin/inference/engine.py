"""The batch-inference engine behind ``videoswin features``, ``classify`` and ``timeline``.

    videos -> VideoClipStream (DataLoader workers: decode, sample, preprocess; see :mod:`.stream`)
           -> InferenceEngine (clips of several videos per forward pass)
           -> a sink (files + index in an output directory, or results in memory; see :mod:`.outputs`)

Each clip goes through the model once. Per video the engine returns, for every clip (window or view): ``pooled``
``[N, C]`` (features; ``pooled_time`` ``[N, T', C]`` with ``keep_time``; the final and per-stage maps with
``level="stages"``) or ``probs`` ``[N, num_labels]`` (classification), plus ``start_time`` / ``end_time`` ``[N]`` in
seconds and ``frame_indices`` ``[N, T]``.

Threads on CPU: decoding workers and the model's intra-op threads share the cores. The model's time cannot tell
which is the bottleneck (OpenMP threads that share a core with a decoder wait at every parallel region, so an
oversubscribed forward looks model-bound), so :class:`CpuThreadBalancer` measures instead: when the model waits for
clips at all, it times a few batches with every thread and as many with ``max(1, cores - num_workers)`` and keeps the
faster; when the model never waits (model-bound), it keeps every thread without trying.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field

import torch

from .stream import ACCELERATOR_BATCH_SIZE, ClipChunk, VideoFailed, VideoInfo, VideoSkipped, available_cores

TASKS = ("features", "classify")
LEVELS = ("pooled", "stages")

# Clips per forward pass when none is given. On an accelerator: 8. On the CPU: as many clips as fit in
# CPU_BATCH_BYTES of pixel values, at most 8. The CPU model already works a few windows (about 8 MiB) at a time, so
# large clips gain no speed from a batch (Swin-T, 32x224x224, 19 MB a clip, 2 threads: 0.84-0.88 s per clip at
# batch 1, 0.78-0.93 s at batch 8) and each costs about 80 MiB of peak; small clips gain from fewer calls (a tiny
# model on 16x112x112 clips: 134 clips/s at batch 1, 196 at batch 8).
CPU_BATCH_BYTES = 32 * 2**20
# The most pixel values a batch may hold, whatever `batch_size` asks (4 GiB: 226 Swin-T clips of 32x224x224 in
# float32): clips wait for a full batch, so a larger batch would hold the clips of a whole dataset before the first
# forward pass.
MAX_BATCH_BYTES = 4 * 2**30


def default_batch_size(device: torch.device, clip_bytes: int) -> int:
    """Clips per forward pass unless told otherwise, for clips of `clip_bytes` of pixel values in the model's dtype:
    8 on an accelerator; on the CPU, as many as fit in `CPU_BATCH_BYTES` (one Swin-T clip of 32x224x224 in float32,
    three in bfloat16), at least 1 and at most 8."""
    if torch.device(device).type != "cpu":
        return ACCELERATOR_BATCH_SIZE
    return max(1, min(ACCELERATOR_BATCH_SIZE, CPU_BATCH_BYTES // max(1, clip_bytes)))


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
    """What one run did (this process): videos done, already complete, failed (with their errors), and clips."""

    errors: list[tuple[str, str]] = field(default_factory=list)  # (video, error) of the failed videos
    ok: int = 0
    resumed: int = 0
    failed: int = 0
    clips: int = 0
    seconds: float = 0.0
    rank: int = 0  # this process, of `world_size` (or this job, of the independent jobs)
    world_size: int = 1

    @property
    def videos(self) -> int:
        return self.ok + self.resumed + self.failed

    def line(self) -> str:
        rate = max(self.seconds, 1e-9)
        return (
            f"{self.videos} videos: {self.ok} done, {self.resumed} already complete (skipped), {self.failed} failed; "
            f"{self.clips} clips in {self.seconds:.1f}s ({self.ok / rate:.2f} videos/s, {self.clips / rate:.2f} clips/s)"
        )

    def report(self, max_errors: int = 20) -> str:
        """:meth:`line` and the first ``max_errors`` failures, each line prefixed by the rank when there are several."""
        prefix = f"[rank {self.rank}/{self.world_size}] " if self.world_size > 1 else ""
        lines = [self.line(), *(f"  failed: {error}" for _, error in self.errors[:max_errors])]
        if len(self.errors) > max_errors:
            lines.append(f"  ... and {len(self.errors) - max_errors} more (see the index)")
        return "\n".join(prefix + line for line in lines)


class CpuThreadBalancer:
    """Picks the model's CPU threads while ``num_workers`` decoding workers share the cores: every thread, or
    ``max(1, cores - num_workers)``, whichever gives the shorter wall clock per clip (waiting for clips included).

    After a warm-up batch, ``probe_batches`` batches run with every thread; if the model waited for the loader more
    than ``WAITING_SHARE`` of that time, as many run with the lower count, and the faster count stays."""

    WAITING_SHARE = 0.02  # below it decoding keeps up with the model at every thread: nothing to win

    def __init__(self, device: torch.device, num_workers: int, probe_batches: int = 3):
        self.candidates = (torch.get_num_threads(), max(1, available_cores() - num_workers))
        self.active = device.type == "cpu" and num_workers > 0 and self.candidates[0] > self.candidates[1]
        self.probe_batches = probe_batches
        self.seconds_per_clip: list[float] = []  # of each candidate tried, in order
        self.batches, self.clips, self.seconds, self.waiting = 0, 0, 0.0, 0.0
        self.last: float | None = None  # end of the previous batch; None until the warm-up batch is done

    def observe(self, waiting: float, clips: int) -> None:
        """After each batch of ``clips`` clips, for which the model waited ``waiting`` seconds for the loader."""
        if not self.active:
            return
        now = time.perf_counter()
        last, self.last = self.last, now
        if last is None:  # the warm-up batch (worker start-up, first-call caches): not representative
            return
        self.batches, self.clips = self.batches + 1, self.clips + clips
        self.seconds, self.waiting = self.seconds + now - last, self.waiting + waiting
        if self.batches < self.probe_batches:
            return
        self.seconds_per_clip.append(self.seconds / self.clips)
        if len(self.seconds_per_clip) == 1 and self.waiting <= self.WAITING_SHARE * self.seconds:
            self.active = False  # model-bound: every thread stays
        elif len(self.seconds_per_clip) == 1:
            torch.set_num_threads(self.candidates[1])
        else:
            fastest = min(range(len(self.candidates)), key=self.seconds_per_clip.__getitem__)
            torch.set_num_threads(self.candidates[fastest])
            self.active = False
        self.batches, self.clips, self.seconds, self.waiting = 0, 0, 0.0, 0.0

    def restore(self) -> None:
        """Give the process its thread count back."""
        torch.set_num_threads(self.candidates[0])


@dataclass
class _PendingVideo:
    """A video whose clips are partly through the model: outputs by clip offset."""

    video: VideoInfo
    parts: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    received: int = 0

    def tensors(self) -> dict[str, torch.Tensor]:
        tensors = {name: torch.cat([self.parts[o][name] for o in sorted(self.parts)]) for name in self.parts[0]}
        tensors.update(
            start_time=self.video.start_time, end_time=self.video.end_time, frame_indices=self.video.frame_indices
        )
        return tensors


class _BatchQueue:
    """Clips waiting for the model, from several videos, and the videos they belong to.

    ``take(n)`` gathers the next ``n`` clips (moving their frames to the device once: the rest of a chunk waits there
    for the next batch); ``deliver(outputs)`` hands the outputs back and returns the videos that are now complete.
    """

    def __init__(self, device: torch.device, dtype: torch.dtype):
        self.device, self.dtype = device, dtype
        self.chunks: list[ClipChunk] = []
        self.videos: dict[int, _PendingVideo] = {}
        self.taken: list[tuple[int, int, int]] = []  # (position, offset, count) of the batch in flight

    @property
    def num_clips(self) -> int:
        return sum(chunk.gather.shape[0] for chunk in self.chunks)

    def add(self, chunk: ClipChunk) -> None:
        if chunk.offset == 0:
            self.videos[chunk.video.position] = _PendingVideo(chunk.video)
        self.chunks.append(chunk)

    def drop(self, position: int) -> None:
        """Forget a video that failed half-way."""
        self.videos.pop(position, None)
        self.chunks = [chunk for chunk in self.chunks if chunk.video.position != position]

    def take(self, count: int) -> torch.Tensor:
        """The next ``count`` clips (fewer at the end), ``[n, T, 3, h, w]`` on the device."""
        clips, self.taken = [], []
        while count and self.chunks:
            chunk = self.chunks[0]
            take = min(count, chunk.gather.shape[0])
            frames = chunk.frames.to(device=self.device, dtype=self.dtype, non_blocking=True)
            self.taken.append((chunk.video.position, chunk.offset, take))
            clips.append(_gather_clips(frames, chunk.gather[:take]))  # gathered on the device
            if take == chunk.gather.shape[0]:
                self.chunks.pop(0)
            else:
                self.chunks[0] = ClipChunk(chunk.video, chunk.offset + take, frames, chunk.gather[take:])
            count -= take
        return torch.cat(clips) if len(clips) > 1 else clips[0]

    def deliver(self, outputs: dict[str, torch.Tensor]) -> list[_PendingVideo]:
        done, row = [], 0
        for position, offset, take in self.taken:
            pending = self.videos[position]
            pending.parts[offset] = {name: value[row : row + take] for name, value in outputs.items()}
            pending.received += take
            row += take
            if pending.received == pending.video.num_clips:
                done.append(self.videos.pop(position))
        return done


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
        """Consume ``loader`` (items of :class:`~.stream.VideoClipStream`), hand each finished video to ``sink``."""
        summary, queue = Summary(), _BatchQueue(self.device, self.dtype)
        balancer = CpuThreadBalancer(self.device, num_workers)
        bar = _progress_bar(total) if progress else None
        start = waited = time.perf_counter()
        waiting = 0.0  # seconds spent waiting for the loader since the last forward pass
        batch_checked = False
        try:
            for item in loader:
                waiting += time.perf_counter() - waited
                if isinstance(item, VideoSkipped):
                    sink.resumed(item)
                    summary.resumed += 1
                elif isinstance(item, VideoFailed):
                    queue.drop(item.video.position)
                    sink.failed(item)
                    summary.failed += 1
                    summary.errors.append((item.video.name, item.error))
                else:
                    queue.add(item)
                    if not batch_checked:  # the default and the bound, once the size of a clip is known
                        self.batch_size = self._bounded_batch_size(item.clip_bytes(self.dtype))
                        batch_checked = True
                    while queue.num_clips >= self.batch_size:
                        self._step(queue, sink, summary, balancer, waiting)
                        waiting = 0.0
                _advance(bar, summary, start)
                waited = time.perf_counter()
            while queue.chunks:
                self._step(queue, sink, summary, balancer, waiting)
                waiting = 0.0
                _advance(bar, summary, start)
        finally:
            balancer.restore()
        summary.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
        return summary

    def _bounded_batch_size(self, clip_bytes: int) -> int:
        """The batch size for clips of ``clip_bytes``: the one given, or :func:`default_batch_size`, at most
        ``MAX_BATCH_BYTES`` of clips (with a warning when the given one is lowered)."""
        if self.batch_size is None:
            return default_batch_size(self.device, clip_bytes)
        bound = max(1, MAX_BATCH_BYTES // max(1, clip_bytes))
        if self.batch_size > bound:
            warnings.warn(
                f"A batch of {self.batch_size} clips of {clip_bytes / 2**20:.1f} MiB would hold "
                f"{self.batch_size * clip_bytes / 2**30:.1f} GiB of clips; running batches of {bound} clips "
                f"({MAX_BATCH_BYTES / 2**30:.0f} GiB) instead.",
                stacklevel=3,
            )
        return min(self.batch_size, bound)

    def _step(self, queue: _BatchQueue, sink, summary: Summary, balancer: CpuThreadBalancer, waiting: float) -> None:
        """One forward pass over the next ``batch_size`` clips; complete videos go to ``sink``."""
        clips = queue.take(self.batch_size)
        outputs = self.forward(clips)
        summary.clips += clips.shape[0]
        for pending in queue.deliver(outputs):
            sink.done(pending.video, pending.tensors())
            summary.ok += 1
        balancer.observe(waiting, clips.shape[0])


def _progress_bar(total: int | None):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="videos", unit="video", file=sys.stderr, dynamic_ncols=True)


def _advance(bar, summary: Summary, start: float) -> None:
    """Move the progress bar to the videos finished so far, with the rates."""
    if bar is None:
        return
    bar.update(summary.videos - bar.n)
    elapsed = max(time.perf_counter() - start, 1e-9)
    bar.set_postfix_str(f"{summary.ok / elapsed:.2f} videos/s, {summary.clips / elapsed:.1f} clips/s")


__all__ = [
    "CpuThreadBalancer",
    "InferenceEngine",
    "LEVELS",
    "MAX_BATCH_BYTES",
    "Summary",
    "TASKS",
    "default_batch_size",
]
