"""Inference speed of our Video Swin vs torchvision's `swin3d_*` (same weights) vs our plain eager attention path.

    python benchmarks/bench_inference.py                       # full matrix: fp32+bf16, batch 1+4, 16+32 frames
    python benchmarks/bench_inference.py --quick               # batch 1, 32 frames, fp32 + bf16, 3 repeats
    python benchmarks/bench_inference.py --dtypes fp32 --batch-sizes 1 --frames 32 --json out.json

Implementations, timed in turn (ours, eager, torchvision, ours, ...) in one process after a warm-up call each:
- `ours`: `VideoSwinForVideoClassification`, SDPA attention (the default); in bf16 the model itself is bfloat16.
- `eager`: the same model with `attn_implementation="eager"` (plain matmul + softmax attention).
- `torchvision`: `torchvision.models.video.SwinTransformer3d` with our weights converted (outputs are checked to
  match in float32); in bf16 it runs under `torch.autocast("cpu", torch.bfloat16)`, as torchvision supports it.

FLOPs are analytic (see `common.videoswin_flops`: 2 x multiply-adds of every matmul/conv, attention over the padded
windows; 175.5 GFLOP for Swin-T at 32x224x224). The ceiling is a 4096^3 matmul in the same dtype, timed in turn with
the models (its own row in the table), so that it sees the same machine state: on a shared machine whose speed
drifts by 10-20% within minutes, a ceiling taken once at the start would make every percentage a coin toss. The
best matmul at the start is printed too.
"page faults / call" is the median number of fresh pages the kernel handed out during one call: the cost of large
temporaries under the default allocator. `benchmarks/profile_forward.py` says where the time of one call goes.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    alternate,
    format_table,
    machine_header,
    matmul_ceiling,
    set_threads,
    summarize,
    videoswin_flops,
    write_json,
)

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification  # noqa: E402
from transformers_videoswin.checkpoints.torchvision_swin3d import build_torchvision_model  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
IMPLEMENTATIONS = ("ours", "eager", "torchvision")
CEILING = "matmul (ceiling)"
COLUMNS = [
    ("dtype", "dtype", ""),
    ("batch", "batch", "d"),
    ("frames", "frames", "d"),
    ("impl", "implementation", ""),
    ("median_s", "median s", ".3f"),
    ("min_s", "min s", ".3f"),
    ("max_s", "max s", ".3f"),
    ("gflops_per_s", "GFLOP/s", ".1f"),
    ("percent_of_ceiling", "% of matmul ceiling", ".1f"),
    ("ours_speedup", "ours is x faster", ".2f"),
    ("page_faults", "page faults / call", "d"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="tiny", help="tiny, small, base, ... (VideoSwinConfig.from_variant)")
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=sorted(DTYPES))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--frames", nargs="+", type=int, default=[16, 32])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--impls", nargs="+", default=list(IMPLEMENTATIONS), choices=IMPLEMENTATIONS)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per implementation and configuration")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ceiling-size", type=int, default=4096, help="matmul size for the ceiling")
    parser.add_argument("--quick", action="store_true", help="batch 1, 32 frames only")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.frames = [1], [32]
    return args


def build_models(model: VideoSwinForVideoClassification, impls: list[str]) -> dict[str, torch.nn.Module]:
    models: dict[str, torch.nn.Module] = {"ours": model}
    if "eager" in impls:
        eager = copy.deepcopy(model)
        eager.config._attn_implementation = "eager"
        models["eager"] = eager
    if "torchvision" in impls:
        models["torchvision"] = build_torchvision_model(model)
    return models


def check_outputs(models: dict[str, torch.nn.Module], frames: int, size: int) -> dict[str, float]:
    """Max |logit difference| of every implementation vs ours, in float32 (asserted below 1e-4)."""
    clip = torch.randn(1, frames, 3, size, size)
    diffs = {}
    with torch.inference_mode():
        reference = models["ours"](pixel_values=clip).logits
        for name, module in models.items():
            if name == "torchvision":
                logits = module(clip.permute(0, 2, 1, 3, 4).contiguous())
            elif name != "ours":
                logits = module(pixel_values=clip).logits
            else:
                continue
            diffs[name] = (logits - reference).abs().max().item()
            assert diffs[name] < 1e-4, f"{name} disagrees with ours: max |diff| = {diffs[name]:.2e}"
    return diffs


def matmul_runner(dtype: torch.dtype, size: int):
    """The ceiling, timed in turn with the models: one `size`^3 matmul in `dtype`."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    return lambda: torch.mm(a, b)


def runner(name: str, module: torch.nn.Module, clip: torch.Tensor, dtype: torch.dtype):
    """A no-argument callable running one forward pass of `module` on `clip` (`[B, T, C, H, W]`)."""
    if name == "torchvision":
        tv_clip = clip.permute(0, 2, 1, 3, 4).contiguous()

        def run():
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
                return module(tv_clip)

    else:
        ours_clip = clip.to(dtype)

        def run():
            with torch.inference_mode():
                return module(pixel_values=ours_clip).logits

    return run


def main(argv: list[str] | None = None, config: VideoSwinConfig | None = None) -> dict:
    args = parse_args(argv)
    threads = set_threads(args.threads)
    torch.manual_seed(0)
    title = f"Video Swin inference benchmark ({args.variant if config is None else 'custom'} config)"
    config = config or VideoSwinConfig.from_variant(args.variant, num_labels=400)
    print(machine_header(title))
    best = {name: matmul_ceiling(DTYPES[name], args.ceiling_size) for name in args.dtypes}
    print(
        f"best {args.ceiling_size}^3 matmul at start ({threads} threads): "
        + ", ".join(f"{name} {value:.1f} GFLOP/s" for name, value in best.items())
    )

    model32 = VideoSwinForVideoClassification(config).eval()
    models32 = build_models(model32, args.impls)
    diffs = check_outputs(models32, frames=min(args.frames), size=args.image_size)
    print("max |logits diff| vs ours (fp32): " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))

    rows, ceilings = [], {}
    for dtype_name in args.dtypes:
        dtype = DTYPES[dtype_name]
        if dtype == torch.float32:
            models = models32
        else:  # our models in the dtype; torchvision stays float32 under autocast
            models = {name: m if name == "torchvision" else copy.deepcopy(m).to(dtype) for name, m in models32.items()}
        for batch in args.batch_sizes:
            for frames in args.frames:
                clip = torch.randn(batch, frames, 3, args.image_size, args.image_size)
                fns = {name: runner(name, models[name], clip, dtype) for name in args.impls}
                fns[CEILING] = matmul_runner(dtype, args.ceiling_size)
                label = f"{dtype_name} batch {batch} frames {frames}"
                print(f"timing {label} ...", file=sys.stderr, flush=True)
                times, faults = alternate(fns, args.repeats, args.warmup, progress=label)
                flops = videoswin_flops(config, frames, args.image_size, args.image_size, batch)
                ceiling = 2 * args.ceiling_size**3 / summarize(times[CEILING])["median_s"] / 1e9
                ceilings.setdefault(dtype_name, ceiling)
                ours_median = summarize(times["ours"])["median_s"]
                for name in [*args.impls, CEILING]:
                    stats = summarize(times[name])
                    gflops = (2 * args.ceiling_size**3 if name == CEILING else flops) / stats["median_s"] / 1e9
                    rows.append(
                        {
                            "dtype": dtype_name,
                            "batch": batch,
                            "frames": frames,
                            "impl": name,
                            **stats,
                            "times_s": times[name],
                            "gflop": flops / 1e9,
                            "gflops_per_s": gflops,
                            "percent_of_ceiling": 100 * gflops / ceiling,
                            "ours_speedup": stats["median_s"] / ours_median if name != CEILING else None,
                            "page_faults": int(statistics.median(faults[name])),
                        }
                    )
    print()
    print(
        f"{args.image_size}x{args.image_size}, analytic FLOPs; 'ours is x faster' = median(impl) / median(ours); "
        "page faults are medians per call"
    )
    print(format_table(rows, COLUMNS))
    result = {
        "header": machine_header(title),
        "threads": threads,
        "ceilings_gflops_per_s": ceilings,
        "best_matmul_at_start_gflops_per_s": best,
        "max_abs_logit_diff_fp32": diffs,
        "rows": rows,
    }
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
