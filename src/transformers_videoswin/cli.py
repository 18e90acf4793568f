"""Command line: ``videoswin classify``, ``features``, ``timeline`` and ``merge``.

    videoswin classify clips/*.mp4 --model DIR [--views 4x3] [--top-k 5] [--json]
    videoswin features clip.mp4 --model DIR --out clip.safetensors [--level stages] [--views 1x1]
    videoswin features videos/ --model DIR --output-dir feats --window 32 --stride 16 [--keep-time]
    videoswin timeline long.mp4 --model DIR --out timeline.png [--window 32 --stride 8]
    videoswin merge feats

``classify`` and ``features`` share one engine (:mod:`transformers_videoswin.inference`): inputs are files, globs,
text lists, directory trees or ``--dataset`` (a Hub id or local parquet, ``--streaming``); decoding runs in
``--num-workers`` DataLoader processes; ``--batch-size`` clips from several videos go through the model together
(default 8 on a GPU; on the CPU as many clips as fit in 32 MiB, one Swin-T clip: a bigger batch of large clips is
no faster there and only costs memory).

Clips per video: without ``--window``, the official views (``--views CLIPSxCROPS``, ``--sampling``); ``classify``
averages their softmax probabilities. With ``--window FRAMES --stride FRAMES`` (frames taken every
``--frame-interval`` frames or at ``--fps``), sliding windows cover the whole video; ``--last-window`` says what
happens to the tail (``pad``: one more window, its missing frames repeating the last frame; ``shift``: one more full
window ending at the last frame; ``drop``), and a video shorter than one window gets one padded window.

Tensors written per video, one row per window (or view): ``pooled`` ``[N, C]`` (``pooled_time`` ``[N, T', C]`` with
``--keep-time``; ``final`` and per-stage maps ``[N, C_i, T', H_i, W_i]`` with ``--level stages``), ``probs``
``[N, num_labels]`` for ``classify``, and ``start_time`` / ``end_time`` ``[N]`` (seconds), ``frame_indices``
``[N, T]``. With ``--output-dir`` every video gets its own file, written atomically, and ``index.jsonl`` lists
every video with its status; re-running skips finished videos. Unreadable videos are reported (the index, stderr, or
the JSON list) and the others go on; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .processing.decoding import BACKENDS
from .processing.sampling import LAST_WINDOW_POLICIES, SAMPLING_PROTOCOLS

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class UsageError(Exception):
    """A bad command line, reported as one line (exit status 2)."""


def _views_arg(value: str) -> tuple[int, int]:
    from .processing.multiview import parse_views

    try:
        return parse_views(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "videos", nargs="*", metavar="VIDEO", help="video files, URLs, globs, directories, or .txt lists of videos"
    )
    data = parser.add_argument_group("a datasets dataset instead of files")
    data.add_argument("--dataset", default=None, help="Hub id, local dataset folder or .parquet file(s)")
    data.add_argument("--split", default="train")
    data.add_argument("--video-column", default="video")
    data.add_argument("--streaming", action="store_true", help="stream the dataset instead of downloading it")


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory (save_pretrained output) or Hub id")
    parser.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, cuda:1 ...")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="fp32")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="video decoder")


def _add_clips(parser: argparse.ArgumentParser, default_views: str = "1x1") -> None:
    clips = parser.add_argument_group("clips per video")
    clips.add_argument(
        "--views", type=_views_arg, default=default_views, help="CLIPSxCROPS, e.g. 1x1, 4x3 (Kinetics), 1x3 (SSv2)"
    )
    clips.add_argument("--sampling", choices=SAMPLING_PROTOCOLS, default=None, help="frame sampling protocol (views)")
    clips.add_argument("--num-frames", type=_positive_int, default=None, help="frames per clip (default: the model's)")
    clips.add_argument("--frame-interval", type=_positive_int, default=None, help="stride between sampled frames")
    clips.add_argument("--window", type=_positive_int, default=None, help="sliding windows of FRAMES frames")
    clips.add_argument(
        "--stride", type=_positive_int, default=None, help="frames between window starts (default: window)"
    )
    clips.add_argument("--fps", type=float, default=None, help="sample the windows' frames at this rate")
    clips.add_argument("--last-window", choices=LAST_WINDOW_POLICIES, default="pad", help="the tail of a video")


def _add_run(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("running")
    run.add_argument(
        "--batch-size", "--max-testing-views", dest="batch_size", type=_positive_int, default=None,
        help="clips per forward pass, from several videos (default: 8 on a GPU; on the CPU as many as fit in 32 MiB, "
        "one Swin-T clip of 32x224x224: bigger batches of large clips are no faster there and only cost memory)",
    )  # fmt: skip
    run.add_argument("--num-workers", type=int, default=None, help="decoding processes (default: half the cores)")
    run.add_argument("--output-dir", default=None, help="one file per video + index.jsonl; re-running resumes")
    run.add_argument("--format", choices=("safetensors", "npy"), default="safetensors", help="per-video files")
    run.add_argument("--index-format", choices=("jsonl", "parquet"), default="jsonl")
    run.add_argument(
        "--shard", default=None, metavar="I/N",
        help="independent job I of N (0-based, no torchrun needed); run `videoswin merge DIR` after the last one",
    )  # fmt: skip
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videoswin", description="Video Swin Transformer inference.")
    sub = parser.add_subparsers(dest="command", required=True)

    classify = sub.add_parser("classify", help="classify videos (whole, or per sliding window)")
    _add_inputs(classify)
    _add_model(classify)
    _add_clips(classify)
    _add_run(classify)
    classify.add_argument("--top-k", type=_positive_int, default=5)
    classify.add_argument("--json", action="store_true", help="print a JSON list instead of tables")

    features = sub.add_parser("features", help="extract features that keep the time axis")
    _add_inputs(features)
    _add_model(features)
    _add_clips(features)
    _add_run(features)
    features.add_argument("--out", default=None, help="output .safetensors file (one video)")
    features.add_argument(
        "--level", choices=("pooled", "stages"), default="pooled", help="pooled vectors only, or every stage map"
    )
    features.add_argument("--keep-time", action="store_true", help="also pooled_time [N, T', C] (spatial mean)")

    timeline = sub.add_parser("timeline", help="plot the top classes' probabilities over a long video")
    timeline.add_argument("video", metavar="VIDEO")
    _add_model(timeline)
    timeline.add_argument("--out", required=True, help="output PNG")
    timeline.add_argument("--window", type=_positive_int, default=None, help="frames per window (default: model's)")
    timeline.add_argument("--stride", type=_positive_int, default=None, help="default: half a window")
    timeline.add_argument("--frame-interval", type=_positive_int, default=None)
    timeline.add_argument("--fps", type=float, default=None)
    timeline.add_argument("--last-window", choices=LAST_WINDOW_POLICIES, default="pad")
    timeline.add_argument("--top-k", type=_positive_int, default=4, help="classes to plot")
    timeline.add_argument("--batch-size", type=_positive_int, default=None, help="as for classify")

    merge = sub.add_parser("merge", help="merge the index parts of a sharded run into index.jsonl")
    merge.add_argument("output_dir", metavar="DIR")
    merge.add_argument("--index-format", choices=("jsonl", "parquet"), default="jsonl")
    return parser


# ------------------------------------------------------------------------------------------------ checks
# The library names its parameters in backquotes (`window`); the command line speaks of its flags.
FLAGS = {
    "`views`": "--views",
    "`window`": "--window",
    "`stride`": "--stride",
    "`fps`": "--fps",
    "`frame_interval`": "--frame-interval",
    "`last_window`": "--last-window",
    "`num_frames`": "--num-frames",
    "`sampling`": "--sampling",
    "`output_dir`": "--output-dir",
    "`out`": "--out",
    "`video_column`": "--video-column",
}


def _usage_error(error: Exception) -> UsageError:
    """A library error as a command-line error: its parameters become the flags that set them."""
    message = str(error)
    for parameter, flag in FLAGS.items():
        message = message.replace(parameter, flag)
    return UsageError(message)


def _check_model_dir(model: str) -> None:
    """A local-looking --model must be a saved model directory (clear message instead of a Hub lookup)."""
    path = Path(model)
    looks_local = path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1
    if not looks_local:
        return
    if not path.exists():
        raise UsageError(f"--model {model}: no such directory.")
    if not path.is_dir():
        raise UsageError(f"--model {model} is a file; give the directory written by save_pretrained or the converter.")
    if not (path / "config.json").is_file():
        raise UsageError(
            f"--model {model} is a directory but not a saved model (no config.json); give the directory written by "
            "save_pretrained or conversion/convert_official_checkpoint.py."
        )


def _device(device: str) -> torch.device:
    """``auto`` and ``cuda``: this process's device (its GPU under torchrun / accelerate, else the CPU)."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device}, but PyTorch sees no CUDA GPU on this machine; use --device cpu.")
    if device in ("auto", "cuda"):
        from .inference.runner import distributed_state

        return distributed_state().device
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise UsageError(f"--device {device}: {error}") from None
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise UsageError(f"--device {resolved}: this machine has {torch.cuda.device_count()} GPU(s).")
    return resolved


def _plan(args, config, **defaults):
    """The clip plan of the command line (``defaults``: values for the flags left out)."""
    from .inference.plan import ClipPlan, PlanError

    num_clips, num_crops = getattr(args, "views", (1, 1))
    num_frames = getattr(args, "num_frames", None)
    try:
        return ClipPlan(
            window=args.window or defaults.get("window"),
            stride=args.stride or defaults.get("stride"),
            frame_interval=args.frame_interval,
            fps=args.fps,
            last_window=args.last_window,
            num_frames=num_frames or (None if args.window else getattr(config, "num_frames", None)),
            sampling=getattr(args, "sampling", None),
            num_clips=num_clips,
            num_crops=num_crops,
            decode_backend=args.backend,
        )
    except PlanError as error:
        raise _usage_error(error) from None


def _shard(value: str) -> tuple[int, int]:
    try:
        rank, world_size = (int(part) for part in value.split("/"))
    except ValueError:
        raise UsageError(f"--shard takes I/N (job I of N, from 0), got {value!r}.") from None
    if not 0 <= rank < world_size:
        raise UsageError(f"--shard {value}: I must be in 0..N-1.")
    from .inference.runner import distributed_state

    if distributed_state().num_processes > 1:
        raise UsageError("--shard splits independent jobs; under torchrun / accelerate the ranks already shard.")
    return rank, world_size


def _inputs(args):
    from .data.sources import DatasetTable, expand_inputs, file_entries

    if args.dataset and args.videos:
        raise UsageError("Give video files or --dataset, not both.")
    if args.dataset:
        table = DatasetTable(args.dataset, args.split, args.video_column, args.streaming)
        try:
            table.load()
        except Exception as error:  # noqa: BLE001 -- datasets raises many kinds; one line says which
            raise UsageError(f"--dataset {args.dataset}: {_usage_error(error)}") from None
        return None, table
    if not args.videos:
        raise UsageError("No videos given: pass video files, globs, directories or lists, or --dataset.")
    try:
        return file_entries(expand_inputs(args.videos)), None
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _load_config(args):
    """The model's config, once --model and --device are known to be usable."""
    from transformers import AutoConfig

    _check_model_dir(args.model)
    args.device = _device(args.device)
    try:
        return AutoConfig.from_pretrained(args.model)
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"Cannot load the model {args.model}: {_first_line(error)}") from None


def _load(args, config, task: str):
    from transformers import AutoModel, AutoModelForVideoClassification

    from .hardware import has_native_bf16

    if args.dtype == "bf16" and args.device.type == "cpu" and not has_native_bf16():
        print(
            "warning: --dtype bf16 on this CPU (no AVX512-BF16 or AMX) is emulated and several times slower than fp32;"
            " use --dtype fp32 here.",
            file=sys.stderr,
        )
    loader = AutoModelForVideoClassification if task == "classify" else AutoModel
    try:
        model = loader.from_pretrained(args.model, config=config)
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"Cannot load the model {args.model}: {_first_line(error)}") from None
    return model, _load_processor(args.model, config)


def _load_processor(model_dir: str, config):
    from transformers import AutoVideoProcessor

    from .processing.video_processing_videoswin import VideoSwinVideoProcessor

    try:
        processor = AutoVideoProcessor.from_pretrained(model_dir)
    except (OSError, ValueError):
        processor = None
    if not isinstance(processor, VideoSwinVideoProcessor):
        size = getattr(config, "image_size", 224)
        print(
            f"warning: no VideoSwinVideoProcessor saved in {model_dir}; using the defaults at {size}px.",
            file=sys.stderr,
        )
        processor = VideoSwinVideoProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    return processor


def _print_summary(summary, rank: int, world_size: int) -> None:
    prefix = f"[rank {rank}/{world_size}] " if world_size > 1 else ""
    print(prefix + summary.line(), file=sys.stderr)
    for _, error in summary.errors[:20]:
        print(f"{prefix}  failed: {error}", file=sys.stderr)
    if len(summary.errors) > 20:
        print(f"{prefix}  ... and {len(summary.errors) - 20} more (see the index)", file=sys.stderr)


# ------------------------------------------------------------------------------------------------ commands
def _check_output_dir(path: str) -> None:
    from .file_utils import UnwritableLocation, check_writable_directory

    try:
        check_writable_directory(path)
    except UnwritableLocation as error:
        raise UsageError(f"--output-dir {path}: {error}") from None


def _check_out_file(path: str) -> None:
    from .file_utils import UnwritableLocation, check_writable_file

    try:
        check_writable_file(path)
    except UnwritableLocation as error:
        raise UsageError(f"--out {path}: {error}") from None


def _open_outputs(args, task: str, plan, model=None):
    """The output directory, its settings recorded or checked (``None`` while the weights are not known: a Hub
    model before it is loaded)."""
    from .inference.outputs import SettingsMismatch
    from .inference.runner import open_output_directory, weights_fingerprint

    weights = weights_fingerprint(args.model, model)
    if weights is None:
        return None
    level, keep_time = getattr(args, "level", "pooled"), getattr(args, "keep_time", False)
    try:
        return open_output_directory(
            args.output_dir, weights, task, plan, level, keep_time, args.format, DTYPES[args.dtype]
        )
    except SettingsMismatch as error:
        raise _usage_error(error) from None


def _run(args, task: str):
    from .inference.runner import distributed_state, run_inference
    from .inference.stream import default_num_workers

    if task == "features" and args.format == "npy" and args.level == "stages":
        raise UsageError("--format npy stores one array per video; use safetensors for --level stages.")
    if args.output_dir:
        _check_output_dir(args.output_dir)
    config = _load_config(args)
    plan = _plan(args, config)
    shard = _shard(args.shard) if args.shard else None
    entries, table = _inputs(args)
    # a re-run into a directory made with other settings (or weights) fails now, not after loading
    outputs = _open_outputs(args, task, plan) if args.output_dir else None
    model, processor = _load(args, config, task)
    if args.output_dir and outputs is None:
        outputs = _open_outputs(args, task, plan, model)
    total = len(entries) if entries is not None else None
    workers = args.num_workers if args.num_workers is not None else default_num_workers()
    workers = 0 if total == 1 else (min(workers, total) if total else workers)
    try:
        summary, sink = run_inference(
            model,
            processor,
            plan,
            entries=entries,
            table=table,
            task=task,
            output_dir=outputs,
            output_format=args.format,
            index_format=args.index_format,
            batch_size=args.batch_size,
            num_workers=max(0, workers),
            device=args.device,
            dtype=DTYPES[args.dtype],
            keep_time=getattr(args, "keep_time", False),
            level=getattr(args, "level", "pooled"),
            shard=shard,
            model_name=args.model,
            progress=not args.no_progress and total != 1,
        )
    except OSError as error:  # the output directory filled up or went read-only during the run
        if not args.output_dir:
            raise
        raise UsageError(
            f"--output-dir {args.output_dir}: writing failed ({error}); the finished videos are kept, and the same "
            "command resumes once the directory can be written."
        ) from None
    if args.output_dir or total != 1 or summary.failed:
        state = distributed_state() if shard is None else None
        _print_summary(summary, *((state.process_index, state.num_processes) if state else shard))
    return summary, sink, plan, model


def run_classify(args) -> int:
    summary, sink, plan, model = _run(args, "classify")
    if args.output_dir:
        print(f"wrote {summary.ok} files and the index to {args.output_dir}")
        return 1 if summary.failed else 0
    top_k = max(1, min(args.top_k, model.config.num_labels))
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    results = [_classify_result(r, labels, top_k, plan) for _, r in sorted(sink.results.items())]
    if args.json:
        print(json.dumps(results, indent=2))  # always a list, errors included
    else:
        for result in results:
            if "error" not in result:  # errors are already reported on stderr
                _print_predictions(result)
    return 1 if summary.failed else 0


def _top(probs: torch.Tensor, labels: list[str], top_k: int) -> list[dict]:
    scores, ids = probs.topk(top_k)
    return [{"label": labels[int(i)], "score": float(s)} for s, i in zip(scores.tolist(), ids.tolist())]


def _classify_result(result, labels, top_k: int, plan) -> dict:
    name = result.video.name
    if result.error is not None:
        return {"video": name, "error": result.error}
    tensors = result.tensors
    if not plan.windows:
        views = f"{plan.num_clips}x{plan.num_crops}"
        return {"video": name, "views": views, "predictions": _top(tensors["probs"].mean(0), labels, top_k)}
    windows = [
        {"start": float(s), "end": float(e), "predictions": _top(p, labels, top_k)}
        for s, e, p in zip(tensors["start_time"].tolist(), tensors["end_time"].tolist(), tensors["probs"])
    ]
    return {"video": name, "window": plan.window, "stride": plan.stride, "windows": windows}


def _print_predictions(result: dict) -> None:
    """One line per window (its top classes), or per rank of the video's top classes."""
    if "windows" in result:
        print(f"{result['video']}  ({len(result['windows'])} windows of {result['window']} frames)")
        for window in result["windows"]:
            top = ", ".join(f"{p['label']} {p['score']:.3f}" for p in window["predictions"])
            print(f"  {window['start']:.2f}-{window['end']:.2f}s  {top}")
        return
    print(f"{result['video']}  ({result['views']} views)")
    for rank, prediction in enumerate(result["predictions"], 1):
        print(f"  {rank}  {prediction['label']}  {prediction['score']:.4f}")


def run_features(args) -> int:
    from .inference.outputs import save_safetensors

    if args.out and args.output_dir:
        raise UsageError("Give --out FILE (one video) or --output-dir DIR (any number), not both.")
    if not args.out and not args.output_dir:
        raise UsageError("Where should the features go? Give --out FILE (one video) or --output-dir DIR.")
    if args.out and (args.dataset or len(args.videos) != 1 or any(c in args.videos[0] for c in "*?[")):
        raise UsageError("--out takes the features of one video; use --output-dir DIR for several.")
    if args.out:
        _check_out_file(args.out)
    summary, sink, plan, _ = _run(args, "features")
    if args.output_dir:
        print(f"wrote {summary.ok} files and the index to {args.output_dir}")
        return 1 if summary.failed else 0
    result = next(iter(sink.results.values()), None)
    if result is None or result.error is not None:
        print(f"error: {result.error if result else 'no video was processed'}", file=sys.stderr)
        return 1
    tensors = result.tensors
    metadata = {
        "video": result.video.name,
        "model": args.model,
        "plan": json.dumps(plan.describe()),
        "layout": {name: list(t.shape) for name, t in tensors.items()},
    }
    if not plan.windows:
        metadata.update(views=f"{plan.num_clips}x{plan.num_crops}", view_order="crop * num_clips + clip")
    try:
        out = save_safetensors(args.out, tensors, metadata)
    except OSError as error:  # checked before loading, but the disk may fill up meanwhile
        raise UsageError(f"--out {args.out}: writing failed ({error}).") from None
    shapes = ", ".join(f"{name} {list(t.shape)}" for name, t in tensors.items())
    print(f"wrote {out}: {shapes}")
    return 0


def run_timeline(args) -> int:
    from .data.sources import file_entries
    from .inference.runner import run_inference
    from .inference.timeline import check_png_path, plot_timeline

    try:
        check_png_path(args.out)
    except ValueError as error:
        raise _usage_error(error) from None
    _check_out_file(args.out)
    config = _load_config(args)
    window = args.window or getattr(config, "num_frames", 32)
    plan = _plan(args, config, window=window, stride=max(1, window // 2))
    model, processor = _load(args, config, "classify")
    _, sink = run_inference(
        model, processor, plan, entries=file_entries([args.video]), task="classify",
        batch_size=args.batch_size, device=args.device, dtype=DTYPES[args.dtype], shard=(0, 1),
    )  # fmt: skip
    result = sink.results.get(0)
    if result is None or result.error is not None:
        print(f"error: {result.error if result else 'nothing decoded'}", file=sys.stderr)
        return 1
    tensors = result.tensors
    labels = [config.id2label[i] for i in range(config.num_labels)]
    out = plot_timeline(
        tensors["probs"].numpy(), tensors["start_time"].numpy(), tensors["end_time"].numpy(), labels, args.out,
        top_k=args.top_k, title=f"{Path(args.video).name}: {plan.window}-frame windows every {plan.stride} frames",
    )  # fmt: skip
    print(f"wrote {out} ({tensors['probs'].shape[0]} windows)")
    return 0


def run_merge(args) -> int:
    from .inference.outputs import IncompleteIndex, merge_index, read_index_parts

    try:
        path = merge_index(args.output_dir, args.index_format)
    except (FileNotFoundError, IncompleteIndex) as error:
        raise UsageError(str(error)) from None
    records = read_index_parts(args.output_dir)
    failed = sum(r["status"] != "ok" for r in records)
    print(f"merged {len(records)} videos ({len(records) - failed} ok, {failed} failed) into {path}")
    return 0


COMMANDS = {"classify": run_classify, "features": run_features, "timeline": run_timeline, "merge": run_merge}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"videoswin {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
