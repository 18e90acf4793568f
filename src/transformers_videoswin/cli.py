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


def _shard_arg(value: str) -> tuple[int, int]:
    try:
        rank, world_size = (int(part) for part in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N (job I of N, from 0), got {value!r}") from None
    return rank, world_size


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
        "--shard", type=_shard_arg, default=None, metavar="I/N",
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


# ------------------------------------------------------------------------------------------------ requests
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
    "`output_format`": "--format",
    "`level`": "--level",
    "`model`": "--model",
    "`device`": "--device",
    "`shard`": "--shard",
    "`dataset`": "--dataset",
    "`videos`": "video files",
    "`video_column`": "--video-column",
}


def _usage_error(error: Exception) -> UsageError:
    """A library error as a command-line error: its parameters become the flags that set them."""
    message = str(error)
    for parameter, flag in FLAGS.items():
        message = message.replace(parameter, flag)
    return UsageError(message)


def _request(args, task: str, **outputs):
    """The request of ``classify`` and ``features`` (``outputs``: the flags only ``features`` has)."""
    from .inference.runner import InferenceRequest

    return InferenceRequest(
        args.model, task, videos=args.videos, dataset=args.dataset, split=args.split, video_column=args.video_column,
        streaming=args.streaming, views=args.views, sampling=args.sampling, num_frames=args.num_frames,
        frame_interval=args.frame_interval, window=args.window, stride=args.stride, fps=args.fps,
        last_window=args.last_window, decode_backend=args.backend, output_dir=args.output_dir,
        output_format=args.format, index_format=args.index_format, device=args.device, dtype=DTYPES[args.dtype],
        batch_size=args.batch_size, num_workers=args.num_workers, shard=args.shard, progress=not args.no_progress,
        **outputs,
    )  # fmt: skip


def _run(request):
    """Run ``request``; its errors become one-line usage errors, and the summary goes to stderr (unless one video
    went well)."""
    from .file_utils import UnwritableLocation
    from .inference.outputs import SettingsMismatch
    from .inference.plan import PlanError
    from .inference.runner import RequestError, run_request

    try:
        summary, sink = run_request(request)
    except (RequestError, PlanError, SettingsMismatch, UnwritableLocation) as error:
        raise _usage_error(error) from None
    except OSError as error:  # the output location filled up or went read-only during the run
        if request.output_dir is not None:
            raise UsageError(
                f"--output-dir {request.output_dir}: writing failed ({error}); the finished videos are kept, and the "
                "same command resumes once the directory can be written."
            ) from None
        if request.out is not None:
            raise UsageError(f"--out {request.out}: writing failed ({error}).") from None
        raise
    if request.output_dir is not None or summary.videos != 1 or summary.failed:
        print(summary.report(), file=sys.stderr)
    return summary, sink


# ------------------------------------------------------------------------------------------------ commands
def run_classify(args) -> int:
    request = _request(args, "classify")
    summary, sink = _run(request)
    if args.output_dir:
        print(f"wrote {summary.ok} files and the index to {args.output_dir}")
        return 1 if summary.failed else 0
    predictions = sink.predictions(args.top_k)
    if args.json:
        print(json.dumps(predictions, indent=2))  # always a list, errors included
        return 1 if summary.failed else 0
    for result in predictions:  # one line per window (its top classes), or per rank of the video's top classes
        if "windows" in result:
            print(f"{result['video']}  ({len(result['windows'])} windows of {result['window']} frames)")
            for window in result["windows"]:
                top = ", ".join(f"{p['label']} {p['score']:.3f}" for p in window["predictions"])
                print(f"  {window['start']:.2f}-{window['end']:.2f}s  {top}")
        elif "predictions" in result:  # errors are already reported on stderr
            print(f"{result['video']}  ({result['views']} views)")
            for rank, prediction in enumerate(result["predictions"], 1):
                print(f"  {rank}  {prediction['label']}  {prediction['score']:.4f}")
    return 1 if summary.failed else 0


def run_features(args) -> int:
    if not args.out and not args.output_dir:
        raise UsageError("Where should the features go? Give --out FILE (one video) or --output-dir DIR.")
    request = _request(args, "features", out=args.out, level=args.level, keep_time=args.keep_time)
    summary, sink = _run(request)
    if args.output_dir:
        print(f"wrote {summary.ok} files and the index to {args.output_dir}")
        return 1 if summary.failed else 0
    result = next(iter(sink.results.values()), None)
    if result is None or result.error is not None:
        print(f"error: {result.error if result else 'no video was processed'}", file=sys.stderr)
        return 1
    shapes = ", ".join(f"{name} {list(t.shape)}" for name, t in result.tensors.items())
    print(f"wrote {args.out}: {shapes}")
    return 0


def run_timeline(args) -> int:
    from .file_utils import UnwritableLocation, check_writable_file
    from .inference.runner import InferenceRequest
    from .inference.timeline import check_png_path, plot_timeline

    try:
        check_png_path(args.out)
    except ValueError as error:
        raise _usage_error(error) from None
    try:
        check_writable_file(args.out)
    except UnwritableLocation as error:
        raise UsageError(f"--out {args.out}: {error}") from None
    request = InferenceRequest(
        args.model, "classify", videos=[args.video], window=args.window, stride=args.stride, windows=True,
        frame_interval=args.frame_interval, fps=args.fps, last_window=args.last_window, decode_backend=args.backend,
        device=args.device, dtype=DTYPES[args.dtype], batch_size=args.batch_size, shard=(0, 1), progress=False,
    )  # fmt: skip
    _, sink = _run(request)
    result = sink.results.get(0)
    if result is None or result.error is not None:
        print(f"error: {result.error if result else 'nothing decoded'}", file=sys.stderr)
        return 1
    tensors, plan = result.tensors, sink.metadata["plan"]
    out = plot_timeline(
        tensors["probs"].numpy(), tensors["start_time"].numpy(), tensors["end_time"].numpy(), sink.metadata["labels"],
        args.out, top_k=args.top_k,
        title=f"{Path(args.video).name}: {plan['window']}-frame windows every {plan['stride']} frames",
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
