"""Where the time of one forward pass goes: torch.profiler self-time grouped into matmuls (linear layers), the
attention kernel, the patch-embedding convolution and everything else, with the analytic FLOPs and GFLOP/s of each
compute group against the matmul ceiling measured in the same run.

    python benchmarks/profile_forward.py                          # Swin-T, fp32 and bf16, 1x32x224x224
    python benchmarks/profile_forward.py --dtypes bf16 --frames 16 --top 25

The last line of each table is the bound that the attention kernel puts on the whole model: the % of the ceiling
that the forward pass would reach if everything except the matmuls and the attention kernel took no time at all.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import format_table, machine_header, matmul_ceiling, set_threads, videoswin_flops_by_kind  # noqa: E402

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# Profiler op names (self time) of each compute group; everything else is "other".
GROUPS = {
    "linear": ("aten::addmm", "aten::mm", "mkldnn::_linear_pointwise"),  # the last: fc1 with its GELU epilogue
    "attention": ("aten::_scaled_dot_product_flash_attention_for_cpu", "aten::bmm", "aten::_softmax"),
    "conv": ("aten::mkldnn_convolution", "aten::convolution_overrideable", "aten::_convolution"),
}
COLUMNS = [
    ("group", "group", ""),
    ("ms", "self time ms", ".1f"),
    ("share", "share %", ".1f"),
    ("gflop", "GFLOP", ".1f"),
    ("gflops_per_s", "GFLOP/s", ".1f"),
    ("percent_of_ceiling", "% of ceiling", ".1f"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="tiny")
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=sorted(DTYPES))
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--top", type=int, default=12, help="also print this many ops by self time (0: none)")
    parser.add_argument("--ceiling-size", type=int, default=4096)
    return parser.parse_args(argv)


def profile_groups(model: torch.nn.Module, pixel_values: torch.Tensor, warmup: int):
    """Self time in ms per op name of one forward pass (after `warmup` passes), and the profiler for the top table."""
    with torch.inference_mode():
        for _ in range(warmup):
            model(pixel_values=pixel_values)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
            model(pixel_values=pixel_values)
    self_ms = {event.key: event.self_cpu_time_total / 1e3 for event in profiler.key_averages()}
    return self_ms, profiler


def group_rows(self_ms: dict[str, float], flops: dict[str, float], ceiling: float) -> list[dict]:
    total = sum(self_ms.values())
    rows = []
    for group, names in GROUPS.items():
        ms = sum(self_ms.get(name, 0.0) for name in names)
        row = {"group": group, "ms": ms, "share": 100 * ms / total, "gflop": flops[group] / 1e9}
        if ms:
            row["gflops_per_s"] = flops[group] / 1e9 / (ms / 1e3)
            row["percent_of_ceiling"] = 100 * row["gflops_per_s"] / ceiling
        rows.append(row)
    other = total - sum(row["ms"] for row in rows)
    rows.append({"group": "other (copies, norms, GELU, adds, gathers)", "ms": other, "share": 100 * other / total})
    everything = sum(flops.values()) / 1e9
    rows.append(
        {
            "group": "total",
            "ms": total,
            "share": 100.0,
            "gflop": everything,
            "gflops_per_s": everything / (total / 1e3),
            "percent_of_ceiling": 100 * everything / (total / 1e3) / ceiling,
        }
    )
    compute_ms = sum(row["ms"] for row in rows[: len(GROUPS)])
    rows.append(
        {
            "group": "bound: 'other' taking no time",
            "ms": compute_ms,
            "gflop": everything,
            "gflops_per_s": everything / (compute_ms / 1e3),
            "percent_of_ceiling": 100 * everything / (compute_ms / 1e3) / ceiling,
        }
    )
    return rows


def main(argv: list[str] | None = None, config: VideoSwinConfig | None = None) -> dict:
    args = parse_args(argv)
    set_threads(args.threads)
    torch.manual_seed(0)
    config = config or VideoSwinConfig.from_variant(args.variant, num_labels=400)
    print(
        machine_header(f"Video Swin forward profile ({args.variant}, batch {args.batch_size}, {args.frames} frames)")
    )
    size = args.image_size
    flops = videoswin_flops_by_kind(config, args.frames, size, size, args.batch_size)
    model32 = VideoSwinForVideoClassification(config).eval()
    clip = torch.randn(args.batch_size, args.frames, config.num_channels, size, size)
    results = {}
    for name in args.dtypes:
        dtype = DTYPES[name]
        ceiling = matmul_ceiling(dtype, args.ceiling_size)
        model = copy.deepcopy(model32).to(dtype)  # `.to` is in place: keep the fp32 weights for later dtypes
        self_ms, profiler = profile_groups(model, clip.to(dtype), args.warmup)
        rows = group_rows(self_ms, flops, ceiling)
        print(f"\n## {name}: matmul ceiling {ceiling:.1f} GFLOP/s ({args.ceiling_size}^3, same run)\n")
        print(format_table(rows, COLUMNS))
        if args.top:
            print()
            print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
        results[name] = {"ceiling_gflops_per_s": ceiling, "rows": rows}
    return results


if __name__ == "__main__":
    main()
