"""One call from a model and a list of videos to outputs: sharding across processes, workers, resume, merging.

    summary = run_inference(model, processor, entries, ClipPlan(window=32, stride=16), task="features",
                            output_dir="feats", batch_size=8, num_workers=4)

Under ``torchrun`` / ``accelerate launch`` (``WORLD_SIZE`` > 1 in the environment) every process handles its share
of the videos (:class:`~.engine.Shard`) and writes its own index part; after a barrier (gloo) the first process
merges the parts into ``index.jsonl``. ``videoswin merge DIR`` does the same by hand (after a crash, or when the
ranks ran as separate jobs).
"""

from __future__ import annotations

import datetime
import os
import sys

import torch

from .engine import (
    ClipPlan,
    DirectorySink,
    InferenceEngine,
    MemorySink,
    Shard,
    Summary,
    VideoClipStream,
    make_loader,
    run_metadata,
    window_chunk_size,
)
from .outputs import IndexPart, OutputDirectory, check_settings, merge_index
from .sources import DatasetTable, VideoEntry


def shard_from_environment() -> Shard:
    """``RANK`` / ``WORLD_SIZE`` as set by torchrun and accelerate (one process otherwise)."""
    return Shard(rank=int(os.environ.get("RANK", 0)), world_size=int(os.environ.get("WORLD_SIZE", 1)))


def local_device(device: str) -> torch.device:
    """``auto`` -> this process's GPU when there is one, else CPU; ``cuda`` -> ``cuda:LOCAL_RANK``."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return torch.device(device)


def _barrier(shard: Shard) -> bool:
    """Wait for every rank (gloo, CPU tensors only). Returns whether this call initialised the process group."""
    import torch.distributed as dist

    created = False
    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=datetime.timedelta(days=7))
        created = True
    dist.barrier()
    return created


def run_settings(model_name: str, task: str, plan: ClipPlan, level: str, keep_time: bool, output_format: str,
                 dtype: torch.dtype) -> dict:  # fmt: skip
    """What must match for a re-run to resume into an output directory (``DIR/settings.json``)."""
    return {
        "model": model_name, "task": task, "plan": plan.describe(), "level": level, "keep_time": keep_time,
        "format": output_format, "dtype": str(dtype).removeprefix("torch."),
    }  # fmt: skip


def run_inference(
    model,
    processor,
    plan: ClipPlan,
    entries: list[VideoEntry] | None = None,
    table: DatasetTable | None = None,
    task: str = "features",
    output_dir: str | os.PathLike | None = None,
    output_format: str = "safetensors",
    index_format: str = "jsonl",
    batch_size: int | None = None,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    keep_time: bool = False,
    level: str = "pooled",
    shard: Shard | None = None,
    synchronize: bool = True,
    model_name: str = "",
    progress: bool = False,
    sink=None,
) -> tuple[Summary, object]:
    """Run ``task`` over the videos; returns ``(summary, sink)`` (a :class:`MemorySink` unless ``output_dir``).

    With ``shard.world_size > 1`` and ``synchronize`` (torchrun / accelerate), the ranks meet at a gloo barrier and
    rank 0 merges the index; without ``synchronize`` (independent jobs) each job merges the parts present when it
    ends, and ``merge_index`` (``videoswin merge``) after the last one gives the complete index.
    """
    shard = shard or Shard()
    engine = InferenceEngine(model, task, batch_size, device, dtype, keep_time=keep_time, level=level)
    outputs, index = None, None
    if output_dir is not None:
        main_tensor = "probs" if task == "classify" else ("pooled_time" if keep_time else "pooled")
        outputs = OutputDirectory(output_dir, output_format, main_tensor)
        outputs.root.mkdir(parents=True, exist_ok=True)
        metadata = run_metadata(model_name, task, plan, engine)
        check_settings(output_dir, run_settings(model_name, task, plan, level, keep_time, output_format, engine.dtype))
        index = IndexPart(output_dir, shard.rank, shard.world_size)
        sink = DirectorySink(outputs, index, metadata)
    sink = sink if sink is not None else MemorySink()
    stream = VideoClipStream(
        processor, plan, entries, table, shard, chunk_size=window_chunk_size(engine.batch_size), outputs=outputs
    )
    loader = make_loader(stream, num_workers, pin_memory=engine.device.type == "cuda")
    total = len(stream) if entries is not None or (table is not None and not table.streaming) else None
    try:
        summary = engine.run(loader, sink, progress and shard.rank == 0, total, num_workers)
    finally:
        if index is not None:
            index.close()
    if output_dir is not None:
        if shard.world_size > 1 and synchronize:
            created = _barrier(shard)
            if shard.rank == 0:
                merge_index(output_dir, index_format)
            _barrier(shard)  # nobody leaves before the merged index exists
            if created:
                import torch.distributed as dist

                dist.destroy_process_group()
        else:
            merge_index(output_dir, index_format)
    return summary, sink


def print_summary(summary: Summary, shard: Shard, file=None) -> None:
    file = file or sys.stderr
    prefix = f"[rank {shard.rank}/{shard.world_size}] " if shard.world_size > 1 else ""
    print(prefix + summary.line(), file=file)
    for _, error in summary.errors[:20]:
        print(f"{prefix}  failed: {error}", file=file)
    if len(summary.errors) > 20:
        print(f"{prefix}  ... and {len(summary.errors) - 20} more (see the index)", file=file)


__all__ = ["local_device", "print_summary", "run_inference", "run_settings", "shard_from_environment"]
