"""One call from a model and a list of videos to outputs: sharding across processes, workers, resume, merging.

    summary, sink = run_inference(model, processor, ClipPlan(window=32, stride=16), entries, task="features",
                                  output_dir="feats", batch_size=8, num_workers=4)

Under ``torchrun`` / ``accelerate launch`` every process (accelerate's ``PartialState``) handles its share of the
videos and writes its own index part; after a barrier the main process merges the parts into ``index.jsonl``.
Independent jobs (``shard=(i, n)``) merge the parts present when each ends; :func:`~.outputs.merge_index` after the
last one gives the complete index.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path

import torch

from ..data.sources import DatasetTable, VideoEntry
from .engine import InferenceEngine, Summary
from .outputs import DirectorySink, IndexPart, MemorySink, OutputDirectory, check_settings, merge_index
from .plan import ClipPlan
from .stream import VideoClipStream, make_loader, window_chunk_size

# Ranks wait for each other only at the end, and one rank may get all the long videos.
BARRIER_TIMEOUT = datetime.timedelta(days=7)
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.pth")


def weights_fingerprint(model_name: str | os.PathLike = "", model=None) -> str | None:
    """The SHA-256 that identifies a model's weights: of the weight files when ``model_name`` is a saved model
    directory (so it is known before the model is loaded), else of ``model``'s parameters and buffers; ``None``
    without either. A model saved again in place with other weights gets another fingerprint."""
    digest = hashlib.sha256()
    folder = Path(model_name) if model_name else None
    files = sorted({f for pattern in WEIGHT_FILES for f in folder.glob(pattern)}) if folder and folder.is_dir() else []
    if files:
        for file in files:
            digest.update(f"{file.name}\0".encode())
            with open(file, "rb") as handle:
                while chunk := handle.read(1 << 24):
                    digest.update(chunk)
        return digest.hexdigest()
    if model is None:
        return None
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}\0{tensor.dtype}\0{tensor.numel()}\0".encode())
        digest.update(tensor.view(torch.uint8).numpy())
    return digest.hexdigest()


def distributed_state(cpu: bool = False):
    """This process's place under torchrun / accelerate (one process otherwise): accelerate's ``PartialState``,
    on the CPU (gloo) with ``cpu`` or without a GPU. The first call decides for the whole process."""
    from accelerate import PartialState

    return PartialState(cpu=cpu or not torch.cuda.is_available(), timeout=BARRIER_TIMEOUT)


def run_settings(weights: str, task: str, plan: ClipPlan, level: str, keep_time: bool, output_format: str,
                 dtype: torch.dtype) -> dict:  # fmt: skip
    """What must match for a re-run to resume into an output directory (``DIR/.videoswin/settings.json``):
    ``weights`` is the :func:`weights_fingerprint` of the model."""
    return {
        "weights_sha256": weights, "task": task, "plan": plan.describe(), "level": level, "keep_time": keep_time,
        "format": output_format, "dtype": str(dtype).removeprefix("torch."),
    }  # fmt: skip


def open_output_directory(
    output_dir: str | os.PathLike, weights: str, task: str, plan: ClipPlan, level: str, keep_time: bool,
    output_format: str, dtype: torch.dtype,
) -> OutputDirectory:  # fmt: skip
    """``output_dir`` for a run with these settings (``weights``: the model's :func:`weights_fingerprint`): they are
    recorded there, or, when it holds outputs made with other settings, :class:`~.outputs.SettingsMismatch` is
    raised (before any model is loaded, if called first)."""
    check_settings(output_dir, run_settings(weights, task, plan, level, keep_time, output_format, dtype))
    main_tensor = "probs" if task == "classify" else ("pooled_time" if keep_time else "pooled")
    return OutputDirectory(output_dir, output_format, main_tensor, weights)


def run_metadata(model_name: str, weights: str | None, task: str, plan: ClipPlan, engine: InferenceEngine) -> dict:
    """What every output file records about how it was made."""
    metadata = {"model": model_name, "weights_sha256": weights, "task": task, "plan": json.dumps(plan.describe())}
    metadata["level"] = engine.level
    metadata["keep_time"] = engine.keep_time
    if engine.labels is not None:
        metadata["labels"] = engine.labels
    return metadata


def run_inference(
    model,
    processor,
    plan: ClipPlan,
    entries: list[VideoEntry] | None = None,
    table: DatasetTable | None = None,
    task: str = "features",
    output_dir: str | os.PathLike | OutputDirectory | None = None,
    output_format: str = "safetensors",
    index_format: str = "jsonl",
    batch_size: int | None = None,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    keep_time: bool = False,
    level: str = "pooled",
    shard: tuple[int, int] | None = None,
    model_name: str = "",
    progress: bool = False,
) -> tuple[Summary, DirectorySink | MemorySink]:
    """Run ``task`` over the videos; returns ``(summary, sink)`` (a :class:`MemorySink` unless ``output_dir``).

    ``shard``: ``(i, n)`` for independent job ``i`` of ``n``; by default the process's rank under torchrun /
    accelerate, where the ranks meet at a barrier and the main process merges the index. ``output_dir``: a path, or
    the result of :func:`open_output_directory` (a re-run into a directory made with other settings raises
    :class:`~.outputs.SettingsMismatch` there, before any video is read). ``model_name``: recorded in every output;
    when it is the saved model's directory its weight files identify the model (:func:`weights_fingerprint`), else
    ``model``'s parameters do.
    """
    if (entries is None) == (table is None):
        raise ValueError("Give either `entries` (files) or `table` (a dataset).")
    videos = entries if entries is not None else table
    weights = output_dir.weights if isinstance(output_dir, OutputDirectory) else None
    if output_dir is not None and weights is None:  # before the engine casts the model to `dtype`
        weights = weights_fingerprint(model_name, model)
    state = distributed_state(cpu=torch.device(device).type == "cpu") if shard is None else None
    rank, world_size = (state.process_index, state.num_processes) if state is not None else shard
    engine = InferenceEngine(model, task, batch_size, device, dtype, keep_time=keep_time, level=level)
    outputs, index, sink = None, None, MemorySink()
    if output_dir is not None:
        outputs = output_dir if isinstance(output_dir, OutputDirectory) else open_output_directory(
            output_dir, weights, task, plan, level, keep_time, output_format, engine.dtype
        )  # fmt: skip
        output_dir = outputs.root
        index = IndexPart(output_dir, rank, world_size)
        sink = DirectorySink(outputs, index, run_metadata(model_name, weights, task, plan, engine))
    stream = VideoClipStream(processor, plan, videos, rank, world_size, window_chunk_size(engine.batch_size), outputs)
    loader = make_loader(stream, num_workers, pin_memory=engine.device.type == "cuda")
    total = len(stream) if entries is not None or (table is not None and not table.streaming) else None
    try:
        summary = engine.run(loader, sink, progress and rank == 0, total, num_workers)
    finally:
        if index is not None:
            index.close()
    if output_dir is not None:
        if state is not None and world_size > 1:
            state.wait_for_everyone()
            if state.is_main_process:
                merge_index(output_dir, index_format, require_complete=False)  # earlier runs may have left parts
            state.wait_for_everyone()  # nobody leaves before the merged index exists
        else:
            merge_index(output_dir, index_format, require_complete=False)
    return summary, sink


__all__ = [
    "distributed_state",
    "open_output_directory",
    "run_inference",
    "run_metadata",
    "run_settings",
    "weights_fingerprint",
]
