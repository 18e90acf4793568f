"""Command line: ``videoswin classify`` and ``videoswin features``.

    videoswin classify clip.mp4 other.mp4 --model DIR [--views 4x3] [--top-k 5] [--json]
    videoswin features clip.mp4 --model DIR --out clip.safetensors [--level stages] [--views 1x1]

``classify`` prints a table per video (or one JSON document with ``--json``), averaging softmax probabilities over
``--views CLIPSxCROPS`` as the official test does (``4x3`` for the reported Kinetics numbers, ``1x3`` with
``--sampling ssv2`` for SSv2). Videos that cannot be read are reported (the error names the file) and the exit status
is 1, but the other videos are still classified.

``features`` writes a safetensors file. Every tensor has a leading view axis ``V`` (1 with the default ``--views
1x1``): ``pooled`` ``[V, C]`` (the classifier input), ``pooled_time`` ``[V, T', C]`` (spatial mean, time kept) and,
with ``--level stages``, ``final`` ``[V, C, T', H', W']`` (after the final LayerNorm) plus one map per stage
``stem``, ``stage1`` ... ``[V, C_i, T', H_i, W_i]`` (the model's ``reshaped_hidden_states``). The header metadata
records the video, the model, the views and the sampled frame indices.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .processing.sampling import SAMPLING_PROTOCOLS
from .processing.video_io import BACKENDS, VideoDecodeError


def _views_arg(value: str) -> tuple[int, int]:
    from .processing.multiview import parse_views

    try:
        return parse_views(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_common(parser: argparse.ArgumentParser, default_views: str) -> None:
    parser.add_argument("--model", required=True, help="model directory (save_pretrained output) or Hub id")
    parser.add_argument(
        "--views", type=_views_arg, default=default_views, help="CLIPSxCROPS, e.g. 1x1, 4x3 (Kinetics), 1x3 (SSv2)"
    )
    parser.add_argument("--sampling", choices=SAMPLING_PROTOCOLS, default=None, help="frame sampling protocol")
    parser.add_argument("--num-frames", type=int, default=None, help="frames per clip (default: the model's)")
    parser.add_argument("--frame-interval", type=int, default=None, help="stride between frames (kinetics)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="video decoder")
    parser.add_argument("--max-testing-views", type=int, default=None, help="views per forward pass (memory)")
    parser.add_argument("--device", default="cpu")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videoswin", description="Video Swin Transformer inference.")
    sub = parser.add_subparsers(dest="command", required=True)

    classify = sub.add_parser("classify", help="classify videos")
    classify.add_argument("videos", nargs="+", metavar="VIDEO")
    _add_common(classify, default_views="1x1")
    classify.add_argument("--top-k", type=int, default=5)
    classify.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    classify.add_argument("--no-progress", action="store_true", help="no progress bar (shown for 2+ videos)")

    features = sub.add_parser("features", help="extract features that keep the time axis")
    features.add_argument("video", metavar="VIDEO")
    _add_common(features, default_views="1x1")
    features.add_argument("--out", required=True, help="output .safetensors file")
    features.add_argument(
        "--level", choices=("pooled", "stages"), default="pooled", help="pooled vectors only, or every stage map"
    )
    return parser


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


def _processor_kwargs(args, config, num_clips: int, num_crops: int) -> dict:
    kwargs = {
        "num_clips": num_clips,
        "num_crops": num_crops,
        "decode_backend": args.backend,
        "num_frames": args.num_frames or getattr(config, "num_frames", None),
        "return_metadata": True,
    }
    if args.sampling:
        kwargs["sampling"] = args.sampling
    if args.frame_interval:
        kwargs["frame_interval"] = args.frame_interval
    return {k: v for k, v in kwargs.items() if v is not None}


def _views_tensor(pixel_values: torch.Tensor) -> torch.Tensor:
    return pixel_values if pixel_values.ndim == 6 else pixel_values.unsqueeze(1)


def _progress(items, enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="videos", unit="video", file=sys.stderr)


def run_classify(args) -> int:
    from transformers import AutoModelForVideoClassification

    from .processing.multiview import predict_multiview

    num_clips, num_crops = args.views
    model = AutoModelForVideoClassification.from_pretrained(args.model).to(args.device).eval()
    processor = _load_processor(args.model, model.config)
    kwargs = _processor_kwargs(args, model.config, num_clips, num_crops)
    top_k = max(1, min(args.top_k, model.config.num_labels))

    results, failed = [], 0
    for video in _progress(args.videos, enabled=len(args.videos) > 1 and not args.no_progress):
        try:
            batch = processor(video, return_tensors="pt", **kwargs)
        except (VideoDecodeError, OSError) as error:
            failed += 1
            results.append({"video": video, "error": str(error)})
            if not args.json:
                print(f"error: {error}", file=sys.stderr)
            continue
        probs = predict_multiview(model, _views_tensor(batch["pixel_values"]), args.max_testing_views)[0]
        scores, ids = probs.topk(top_k)
        predictions = [
            {"label": model.config.id2label[int(i)], "score": float(s)} for s, i in zip(scores.tolist(), ids.tolist())
        ]
        result = {"video": video, "views": f"{num_clips}x{num_crops}", "predictions": predictions}
        results.append(result)
        if not args.json:
            _print_table(result)
    if args.json:
        print(json.dumps(results if len(results) != 1 else results[0], indent=2))
    return 1 if failed else 0


def _print_table(result: dict) -> None:
    predictions = result["predictions"]
    width = max([len("label")] + [len(p["label"]) for p in predictions])
    print(f"{result['video']}  ({result['views']} views)")
    print(f"  {'rank':>4}  {'label':<{width}}  {'score':>7}")
    for rank, prediction in enumerate(predictions, 1):
        print(f"  {rank:>4}  {prediction['label']:<{width}}  {prediction['score']:>7.4f}")


@torch.no_grad()
def run_features(args) -> int:
    from safetensors.torch import save_file
    from transformers import AutoModel

    num_clips, num_crops = args.views
    model = AutoModel.from_pretrained(args.model).to(args.device).eval()
    processor = _load_processor(args.model, model.config)
    kwargs = _processor_kwargs(args, model.config, num_clips, num_crops)
    try:
        batch = processor(args.video, return_tensors="pt", **kwargs)
    except (VideoDecodeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    views = _views_tensor(batch["pixel_values"])[0]  # [V, T, C, H, W]
    chunk = args.max_testing_views or views.shape[0]
    dtype = next(model.parameters()).dtype
    collected: dict[str, list[torch.Tensor]] = {}
    stage_names = list(getattr(model.config, "stage_names", []))
    for start in range(0, views.shape[0], chunk):
        pixel_values = views[start : start + chunk].to(device=args.device, dtype=dtype)
        outputs = model(pixel_values=pixel_values, output_hidden_states=args.level == "stages")
        final_shape = None
        if outputs.reshaped_hidden_states is not None:
            final_shape = outputs.reshaped_hidden_states[-1].shape[2:]
        else:
            final_shape = _final_token_grid(model.config, pixel_values.shape)
        tokens = outputs.last_hidden_state  # [N, T'*H'*W', C], (t, h, w) order
        grid = tokens.reshape(tokens.shape[0], *final_shape, tokens.shape[-1])  # [N, T', H', W', C]
        parts = {"pooled": outputs.pooler_output, "pooled_time": grid.mean(dim=(2, 3))}
        if args.level == "stages":
            parts["final"] = grid.permute(0, 4, 1, 2, 3)
            for index, stage in enumerate(outputs.reshaped_hidden_states):
                name = stage_names[index] if index < len(stage_names) else f"stage{index}"
                parts[name] = stage
        for name, value in parts.items():
            collected.setdefault(name, []).append(value.float().cpu())
    tensors = {name: torch.cat(values).contiguous() for name, values in collected.items()}
    indices = batch["video_metadata"][0].frames_indices
    metadata = {
        "video": str(args.video),
        "model": str(args.model),
        "views": f"{num_clips}x{num_crops}",
        "view_order": "crop * num_clips + clip",
        "frame_indices": json.dumps([int(i) for i in indices]),
        "layout": json.dumps({name: list(t.shape) for name, t in tensors.items()}),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata=metadata)
    shapes = ", ".join(f"{name} {list(t.shape)}" for name, t in tensors.items())
    print(f"wrote {out}: {shapes}")
    return 0


def _final_token_grid(config, shape) -> tuple[int, int, int]:
    """(T', H', W') of the last stage for an input of ``shape`` [N, T, C, H, W] (ceil at every step)."""
    t, h, w = shape[1], shape[3], shape[4]
    pt, ph, pw = config.patch_size
    t, h, w = -(-t // pt), -(-h // ph), -(-w // pw)
    for _ in range(len(config.depths) - 1):
        h, w = -(-h // 2), -(-w // 2)
    return t, h, w


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "classify":
        return run_classify(args)
    return run_features(args)


if __name__ == "__main__":
    sys.exit(main())
