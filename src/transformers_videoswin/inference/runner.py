"""One call from a request (or a loaded model and a list of videos) to outputs: checks, sharding across processes,
workers, resume, merging.

    summary, sink = run_request(InferenceRequest("path/to/model", videos=["videos/"], window=32, stride=16,
                                                 output_dir="feats"))
    summary, sink = run_inference(model, processor, ClipPlan(window=32, stride=16), entries, task="features",
                                  output_dir="feats", batch_size=8, num_workers=4)

:func:`run_request` goes downward, and everything that can be refused is refused before the model is loaded: the
request's settings, the model directory and device, the clip plan, the output location (and the settings recorded
there), the inputs; then the model is loaded, the videos run, and the sink finishes (merges the index, or writes the
one output file).

Under ``torchrun`` / ``accelerate launch`` every process (accelerate's ``PartialState``) handles its share of the
videos and writes its own index part; after a barrier the main process merges the parts into ``index.jsonl``.
Independent jobs (``shard=(i, n)``) merge the parts present when each ends; :func:`~.outputs.merge_index` after the
last one gives the complete index.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers.utils import logging

from ..data.sources import DatasetTable, VideoEntry, expand_inputs, file_entries
from .engine import InferenceEngine, Summary
from .outputs import DirectorySink, FileSink, MemorySink
from .plan import ClipPlan
from .stream import VideoClipStream, default_num_workers, make_loader, window_chunk_size

logger = logging.get_logger(__name__)

# Ranks wait for each other only at the end, and one rank may get all the long videos.
BARRIER_TIMEOUT = datetime.timedelta(days=7)
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.pth")


class RequestError(ValueError):
    """A request that cannot run (its settings, model, device or inputs); the message names the request's fields in
    backquotes (`` `model` ``), so that a caller can map them to its own options."""


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


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


@dataclass
class InferenceRequest:
    """One run of ``task`` (``"features"`` or ``"classify"``) of the model ``model`` (a saved model directory or a
    Hub id), in library terms.

    - inputs: ``videos`` (files, URLs, globs, directories, text lists; see
      :func:`~transformers_videoswin.data.sources.expand_inputs`) or the rows of ``dataset`` (a Hub id, a local dataset
      folder or parquet file(s); ``split``, ``video_column``, ``streaming``);
    - clips (:class:`~.plan.ClipPlan`): the processor's ``views`` ``(num_clips, num_crops)`` of ``num_frames`` frames
      (default: the model's), or sliding windows of ``window`` frames every ``stride``; ``windows``: sliding windows
      even without ``window`` (then the model's clip length, every half window unless ``stride``);
    - outputs: ``output_dir`` (one ``output_format`` file per video and the ``index_format`` index; re-running
      resumes), ``out`` (the tensors of one video in one safetensors file), or neither (results in memory);
      ``level`` ``"stages"`` adds every stage map, ``keep_time`` the pooled features per time step;
    - running: ``device`` (``"auto"``: this process's GPU, else the CPU), ``dtype``, ``batch_size`` clips per
      forward pass, ``num_workers`` decoding processes (default: half the cores), ``shard`` ``(i, n)`` for
      independent job ``i`` of ``n``, ``progress`` bar.
    """

    model: str
    task: str = "features"
    videos: list[str] = field(default_factory=list)
    dataset: str | None = None
    split: str = "train"
    video_column: str = "video"
    streaming: bool = False
    views: tuple[int, int] = (1, 1)
    sampling: str | None = None
    num_frames: int | None = None
    frame_interval: int | None = None
    window: int | None = None
    stride: int | None = None
    fps: float | None = None
    last_window: str = "pad"
    windows: bool = False
    decode_backend: str = "auto"
    output_dir: str | os.PathLike | None = None
    out: str | os.PathLike | None = None
    output_format: str = "safetensors"
    index_format: str = "jsonl"
    level: str = "pooled"
    keep_time: bool = False
    device: str | torch.device = "auto"
    dtype: torch.dtype = torch.float32
    batch_size: int | None = None
    num_workers: int | None = None
    shard: tuple[int, int] | None = None
    progress: bool = True

    def check(self) -> None:
        """Refuse settings that cannot go together (before anything is read or loaded)."""
        if self.out is not None and self.output_dir is not None:
            raise RequestError("Give `out` (one video) or `output_dir` (any number of videos), not both.")
        if self.out is not None and self.dataset:  # files are counted once expanded, by `inputs`
            raise RequestError("`out` takes the features of one video; use `output_dir` for several.")
        if self.output_format == "npy" and self.level == "stages":
            raise RequestError("`output_format` npy stores one array per video; use safetensors for `level` stages.")
        if self.dataset and self.videos:
            raise RequestError("Give `videos` or a `dataset`, not both.")
        if not self.dataset and not self.videos:
            raise RequestError("No videos given: pass video files, globs, directories or lists, or a `dataset`.")
        if self.shard is not None and not 0 <= self.shard[0] < self.shard[1]:
            raise RequestError(f"`shard` {self.shard[0]}/{self.shard[1]}: job i of n must be in 0..n-1.")

    def torch_device(self) -> torch.device:
        """``auto`` and ``cuda``: this process's device (its GPU under torchrun / accelerate, else the CPU)."""
        device = str(self.device)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RequestError(f"`device` {device}, but PyTorch sees no CUDA GPU on this machine; use `device` cpu.")
        if device in ("auto", "cuda"):
            return distributed_state().device
        try:
            resolved = torch.device(device)
        except RuntimeError as error:
            raise RequestError(f"`device` {device}: {error}") from None
        if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
            raise RequestError(f"`device` {resolved}: this machine has {torch.cuda.device_count()} GPU(s).")
        return resolved

    def config(self):
        """The model's config; a local-looking ``model`` must be a saved model directory (a clear message instead of
        a Hub lookup)."""
        from transformers import AutoConfig

        path = Path(self.model)
        if path.exists() or self.model.startswith((".", "/", "~")) or self.model.count("/") > 1:
            if not path.exists():
                raise RequestError(f"`model` {self.model}: no such directory.")
            if not path.is_dir():
                raise RequestError(
                    f"`model` {self.model} is a file; give the directory written by save_pretrained or the converter."
                )
            if not (path / "config.json").is_file():
                raise RequestError(
                    f"`model` {self.model} is a directory but not a saved model (no config.json); give the directory "
                    "written by save_pretrained or conversion/convert_official_checkpoint.py."
                )
        try:
            return AutoConfig.from_pretrained(self.model)
        except (OSError, ValueError, KeyError) as error:
            raise RequestError(f"Cannot load the model {self.model}: {_first_line(error)}") from None

    def plan(self, config) -> ClipPlan:
        """The clip plan (``num_frames`` and, with ``windows``, ``window`` default to the model's clip length)."""
        window = self.window or (getattr(config, "num_frames", 32) if self.windows else None)
        stride = self.stride or (max(1, window // 2) if self.windows else None)
        num_frames = self.num_frames or (None if window else getattr(config, "num_frames", None))
        return ClipPlan(
            window=window, stride=stride, frame_interval=self.frame_interval, fps=self.fps, last_window=self.last_window,
            num_frames=num_frames, sampling=self.sampling, num_clips=self.views[0], num_crops=self.views[1],
            decode_backend=self.decode_backend,
        )  # fmt: skip

    def sink(self) -> DirectorySink | FileSink | MemorySink:
        """Where the results go: not opened yet (see the sinks' ``check``)."""
        if self.output_dir is not None:
            main_tensor = "probs" if self.task == "classify" else ("pooled_time" if self.keep_time else "pooled")
            return DirectorySink(self.output_dir, self.output_format, self.index_format, main_tensor)
        if self.out is not None:
            return FileSink(self.out)
        return MemorySink()

    def settings(self, weights: str, plan: ClipPlan) -> dict:
        """What must match for a re-run to resume into an output directory (``DIR/.videoswin/settings.json``):
        ``weights`` is the :func:`weights_fingerprint` of the model."""
        return {
            "weights_sha256": weights, "task": self.task, "plan": plan.describe(), "level": self.level,
            "keep_time": self.keep_time, "format": self.output_format, "dtype": str(self.dtype).removeprefix("torch."),
        }  # fmt: skip

    def metadata(self, weights: str | None, plan: ClipPlan, config) -> dict:
        """What every output file records about how it was made."""
        metadata = {"model": self.model, "weights_sha256": weights, "task": self.task, "plan": plan.describe()}
        metadata.update(level=self.level, keep_time=self.keep_time)
        if not plan.windows:
            metadata.update(views=f"{plan.num_clips}x{plan.num_crops}", view_order="crop * num_clips + clip")
        if self.task == "classify":
            metadata["labels"] = [config.id2label[i] for i in range(config.num_labels)]
        return metadata

    def inputs(self) -> list[VideoEntry] | DatasetTable:
        """The videos: file entries, or the dataset's table (loaded now, so that a bad one fails early)."""
        if self.dataset:
            table = DatasetTable(self.dataset, self.split, self.video_column, self.streaming)
            try:
                table.load()
            except Exception as error:  # noqa: BLE001 -- datasets raises many kinds; one line says which
                raise RequestError(f"`dataset` {self.dataset}: {error}") from None
            return table
        try:
            entries = file_entries(expand_inputs(self.videos))
        except (OSError, ValueError) as error:
            raise RequestError(str(error)) from None
        if self.out is not None and len(entries) != 1:
            raise RequestError(f"`out` takes the features of one video, and `videos` are {len(entries)}; use "
                               "`output_dir` for several.")  # fmt: skip
        return entries

    def load(self, config, device: torch.device):
        """The model (with the task's head) and its video processor (the defaults at the model's size when none
        was saved with it)."""
        from transformers import AutoModel, AutoModelForVideoClassification, AutoVideoProcessor

        from .. import hardware
        from ..processing.video_processing_videoswin import VideoSwinVideoProcessor

        if self.dtype == torch.bfloat16 and device.type == "cpu" and not hardware.has_native_bf16():
            logger.warning(
                "bfloat16 on this CPU (no AVX512-BF16 or AMX) is emulated and several times slower than fp32; use "
                "float32 here."
            )
        loader = AutoModelForVideoClassification if self.task == "classify" else AutoModel
        try:
            model = loader.from_pretrained(self.model, config=config)
        except (OSError, ValueError, KeyError) as error:
            raise RequestError(f"Cannot load the model {self.model}: {_first_line(error)}") from None
        try:
            processor = AutoVideoProcessor.from_pretrained(self.model)
        except (OSError, ValueError):
            processor = None
        if not isinstance(processor, VideoSwinVideoProcessor):
            size = getattr(config, "image_size", 224)
            logger.warning(f"No VideoSwinVideoProcessor saved in {self.model}; using the defaults at {size}px.")
            processor = VideoSwinVideoProcessor(
                size={"shortest_edge": size}, crop_size={"height": size, "width": size}
            )
        return model, processor


def run_request(request: InferenceRequest) -> tuple[Summary, DirectorySink | FileSink | MemorySink]:
    """Check, open the outputs, load, run, finish; returns ``(summary, sink)`` (the sink keeps the results in
    memory unless ``output_dir``).

    Raises :class:`RequestError`, :class:`~.plan.PlanError`, :class:`~.outputs.SettingsMismatch` (a re-run into a
    directory made with other settings) or :class:`~transformers_videoswin.file_utils.UnwritableLocation` before the
    model is loaded; an ``OSError`` while writing during the run (the finished videos are kept).
    """
    request.check()
    device = request.torch_device()
    if request.shard is not None and distributed_state().num_processes > 1:
        raise RequestError("`shard` splits independent jobs; under torchrun / accelerate the ranks already shard.")
    config = request.config()
    plan = request.plan(config)
    # The weights' fingerprint identifies written outputs (resume, provenance); results kept in memory need none, so
    # a run that prints does not read the weight files twice. None for a Hub model: known once it is loaded.
    writes_files = request.output_dir is not None or request.out is not None
    weights = weights_fingerprint(request.model) if writes_files else None
    settings = request.settings(weights, plan) if weights is not None else None
    videos = request.inputs()  # before the outputs: a run with no videos leaves no output directory behind
    sink = request.sink()
    sink.check(settings)  # the location takes files, and a re-run has the same settings
    model, processor = request.load(config, device)
    return _run_with_model(request, model, processor, plan, videos, sink, weights, device)


def _run_with_model(request: InferenceRequest, model, processor, plan: ClipPlan, videos, sink, weights: str | None,
         device: torch.device) -> tuple[Summary, DirectorySink | FileSink | MemorySink]:  # fmt: skip
    """Run ``request``'s ``task`` with a loaded model into a sink whose location is checked; ``weights``: the
    model's fingerprint when it was known before loading (the settings were then checked with it)."""
    if weights is None and sink.outputs is not None:  # before the engine casts the model to `dtype`
        weights = weights_fingerprint(request.model, model)
        settings = request.settings(weights, plan)
        sink.check(settings)
    state = distributed_state(cpu=device.type == "cpu") if request.shard is None else None
    rank, world_size = (state.process_index, state.num_processes) if state is not None else request.shard
    metadata = request.metadata(weights, plan, model.config)
    sink.start(metadata, rank, world_size)
    try:
        stream = VideoClipStream(processor, plan, videos, rank, world_size, window_chunk_size(request.batch_size),
                                 sink.outputs)  # fmt: skip
        total = None if isinstance(videos, DatasetTable) and videos.streaming else len(stream)  # this process's
        workers = max(0, default_num_workers() if request.num_workers is None else request.num_workers)
        if total is not None:  # no more decoding processes than videos, and none for a single video
            workers = 0 if total == 1 else min(workers, total)
        loader = make_loader(stream, workers, pin_memory=device.type == "cuda")
        engine = InferenceEngine(model, request.task, request.batch_size, device, request.dtype,
                                 keep_time=request.keep_time, level=request.level)  # fmt: skip
        summary = engine.run(loader, sink, request.progress and rank == 0 and total != 1, total, workers)
    finally:
        sink.close()
    if state is not None and world_size > 1:
        state.wait_for_everyone()
    if state is None or state.is_main_process:  # every independent job merges what is there so far
        sink.finish()
    if state is not None and world_size > 1:
        state.wait_for_everyone()  # nobody leaves before the merged index exists
    summary.rank, summary.world_size = rank, world_size
    return summary, sink


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
    shard: tuple[int, int] | None = None,
    model_name: str = "",
    progress: bool = False,
) -> tuple[Summary, DirectorySink | MemorySink]:
    """Run ``task`` over the videos with a loaded model; returns ``(summary, sink)`` (a :class:`MemorySink` unless
    ``output_dir``).

    ``shard``: ``(i, n)`` for independent job ``i`` of ``n``; by default the process's rank under torchrun /
    accelerate, where the ranks meet at a barrier and the main process merges the index. A re-run into an
    ``output_dir`` made with other settings raises :class:`~.outputs.SettingsMismatch` before any video is read.
    ``model_name``: recorded in every output; when it is the saved model's directory its weight files identify the
    model (:func:`weights_fingerprint`), else ``model``'s parameters do.
    """
    if (entries is None) == (table is None):
        raise ValueError("Give either `entries` (files) or `table` (a dataset).")
    dtype = dtype or next(model.parameters()).dtype
    request = InferenceRequest(
        model_name, task, output_dir=output_dir, output_format=output_format, index_format=index_format, level=level,
        keep_time=keep_time, device=device, dtype=dtype, batch_size=batch_size, num_workers=num_workers, shard=shard,
        progress=progress,
    )  # fmt: skip
    sink = request.sink()
    sink.check()
    videos = entries if entries is not None else table
    return _run_with_model(request, model, processor, plan, videos, sink, None, torch.device(device))


__all__ = [
    "InferenceRequest",
    "RequestError",
    "distributed_state",
    "run_inference",
    "run_request",
    "weights_fingerprint",
]
