"""One shifted-window attention call, several ways: which kernel layout moves the attention closest to the matmul
ceiling on the CPU.

    python benchmarks/bench_window_attention.py                       # Swin-T stages 1 and 3, fp32 and bf16
    python benchmarks/bench_window_attention.py --stages 1 --dtypes bf16 --repeats 10
    python benchmarks/bench_window_attention.py --quick               # tiny sizes (the test suite's smoke run)

The workload is the attention core of one SW-MSA block of Swin-T at 32x224x224, batch 1: q, k and v of every window
(`[windows, heads, N, head_dim]`, N = 8x7x7 = 392), the `[heads, N, N]` relative position bias and the
`[windows, N, N]` shift mask (0 or -100). Stage 1: 16x56x56 tokens, 128 windows, 3 heads of 32 channels; stage 3:
16x14x14 tokens, 8 windows, 12 heads of 32 channels. Variants:

- `sdpa-folded` (the model's fused strategy): SDPA over `[1, windows * heads, N, d]` with the bias and shift mask
  folded into one `[1, windows * heads, N, N]` additive mask;
- `sdpa-windows`: SDPA with the windows as the batch, `[windows, heads, N, N]` mask;
- `eager-baddbmm`: `baddbmm(mask, q * scale, k^T)`, softmax (fp32, as the model's eager attention), `bmm` (the
  bias folded into the score matmul);
- `sdpa-compiled`: `sdpa-folded` under `torch.compile` (inductor);
- `flex-score-mod`: FlexAttention under `torch.compile`, bias and -100 shift mask added in a `score_mod` from the
  `[heads, N, N]` bias and the `[windows, N]` region labels: no `[windows, heads, N, N]` tensor exists;
- `flex-block-mask`: FlexAttention with the bias as a `score_mod` and the shift regions as a `BlockMask` (cross-region
  pairs removed instead of -100: the same numbers to fp32 rounding, as exp(-100) is below fp32 resolution).

Every variant is checked against `sdpa-folded` (max abs difference; fp32 tolerance 1e-5, bf16 2e-2) and timed in
turns (median); compile time is reported apart. GFLOP/s count q.k^T and attn.v (4 N^2 d per window and head) and are
compared with a square matmul of the same dtype measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import alternate, format_table, machine_header, matmul_ceiling, set_threads, summarize, write_json  # noqa: E402

from transformers_videoswin.model.window_engine import SHIFT_MASK_VALUE, shift_region_labels  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
TOLERANCE = {"fp32": 1e-5, "bf16": 2e-2}
# Swin-T at 32x224x224: (token grid, window, heads, head_dim) of stages 1 and 3.
STAGES = {1: ((16, 56, 56), (8, 7, 7), 3, 32), 3: ((16, 14, 14), (8, 7, 7), 12, 32)}
QUICK_STAGES = {1: ((4, 8, 8), (2, 4, 4), 2, 8), 3: ((4, 4, 4), (2, 4, 4), 4, 8)}


def workload(stage: tuple, dtype: torch.dtype, seed: int = 0) -> dict:
    """q, k, v `[nW, heads, N, d]`, the `[heads, N, N]` bias, `[nW, N]` region labels and `[nW, N, N]` shift mask."""
    size, window, heads, head_dim = stage
    shift = tuple(w // 2 for w in window)
    labels = shift_region_labels(size, window, shift).long()  # the grid is a multiple of the window: no padding
    num_windows, num_tokens = labels.shape
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(num_windows, heads, num_tokens, head_dim, generator=generator).to(dtype) for _ in "qkv")
    bias = torch.randn(heads, num_tokens, num_tokens, generator=generator).to(dtype)
    different = labels[:, :, None] != labels[:, None, :]
    shift_mask = torch.zeros(different.shape, dtype=dtype).masked_fill(different, SHIFT_MASK_VALUE)
    return {"q": q, "k": k, "v": v, "bias": bias, "labels": labels, "shift_mask": shift_mask}


def variants(work: dict) -> dict:
    """name -> (setup returning a zero-argument call, whether it compiles)."""
    q, k, v, bias, labels, shift_mask = (work[key] for key in ("q", "k", "v", "bias", "labels", "shift_mask"))
    num_windows, heads, num_tokens, head_dim = q.shape
    scale = head_dim**-0.5

    def sdpa_folded():
        mask = (bias.unsqueeze(0) + shift_mask.unsqueeze(1)).reshape(1, -1, num_tokens, num_tokens)
        fold = [t.reshape(1, num_windows * heads, num_tokens, head_dim) for t in (q, k, v)]
        return lambda: F.scaled_dot_product_attention(*fold, attn_mask=mask).view_as(q)

    def sdpa_windows():
        mask = bias.unsqueeze(0) + shift_mask.unsqueeze(1)  # [nW, heads, N, N]
        return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    def eager_baddbmm():
        mask = (bias.unsqueeze(0) + shift_mask.unsqueeze(1)).reshape(-1, num_tokens, num_tokens)
        flat = [t.reshape(-1, num_tokens, head_dim) for t in (q, k, v)]

        def run():
            scores = torch.baddbmm(mask, flat[0] * scale, flat[1].transpose(1, 2))
            return torch.bmm(scores.softmax(-1, dtype=torch.float32).to(q.dtype), flat[2]).view_as(q)

        return run

    def sdpa_compiled():
        folded_mask = (bias.unsqueeze(0) + shift_mask.unsqueeze(1)).reshape(1, -1, num_tokens, num_tokens)
        fold = [t.reshape(1, num_windows * heads, num_tokens, head_dim) for t in (q, k, v)]
        compiled = torch.compile(
            lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m), dynamic=False
        )
        return lambda: compiled(*fold, folded_mask).view_as(q)

    def flex_score_mod():
        from torch.nn.attention.flex_attention import flex_attention

        def score_mod(score, b, h, q_idx, kv_idx):
            same = labels[b, q_idx] == labels[b, kv_idx]
            return score + bias[h, q_idx, kv_idx] + torch.where(same, 0.0, SHIFT_MASK_VALUE)

        compiled = torch.compile(flex_attention, dynamic=False)
        return lambda: compiled(q, k, v, score_mod=score_mod)

    def flex_block_mask():
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        def score_mod(score, b, h, q_idx, kv_idx):
            return score + bias[h, q_idx, kv_idx]

        def mask_mod(b, h, q_idx, kv_idx):
            return labels[b, q_idx] == labels[b, kv_idx]

        block_mask = create_block_mask(mask_mod, num_windows, None, num_tokens, num_tokens, device="cpu")
        compiled = torch.compile(flex_attention, dynamic=False)
        return lambda: compiled(q, k, v, score_mod=score_mod, block_mask=block_mask)

    return {
        "sdpa-folded": (sdpa_folded, False),
        "sdpa-windows": (sdpa_windows, False),
        "eager-baddbmm": (eager_baddbmm, False),
        "sdpa-compiled": (sdpa_compiled, True),
        "flex-score-mod": (flex_score_mod, True),
        "flex-block-mask": (flex_block_mask, True),
    }


def measure(stage_name: int, stage: tuple, dtype_name: str, repeats: int, ceiling: float) -> list[dict]:
    work = workload(stage, DTYPES[dtype_name])
    num_windows, heads, num_tokens, head_dim = work["q"].shape
    flops = 4 * num_windows * heads * num_tokens**2 * head_dim
    rows, calls = {}, {}
    with torch.inference_mode():
        reference = None
        for name, (setup, compiles) in variants(work).items():
            row = rows[name] = {"stage": stage_name, "dtype": dtype_name, "impl": name}
            try:
                call = setup()
                start = time.perf_counter()
                output = call()  # the first call compiles
                row["first_call_s"] = time.perf_counter() - start if compiles else None
            except Exception as error:  # noqa: BLE001 -- an unsupported variant is a row, not a crash
                row["status"] = f"unsupported: {type(error).__name__}: {str(error).splitlines()[0][:80]}"
                continue
            reference = output if reference is None else reference
            row["max_abs_diff"] = (output.float() - reference.float()).abs().max().item()
            row["status"] = "ok" if row["max_abs_diff"] <= TOLERANCE[dtype_name] else "WRONG"
            calls[name] = call
        times, _ = alternate(calls, repeats=repeats, warmup=1)
    baseline = summarize(times["sdpa-folded"])["median_s"]
    for name, seconds in times.items():
        row = rows[name]
        row.update(summarize(seconds))
        row["speedup"] = baseline / row["median_s"]
        row["gflops_per_s"] = flops / row["median_s"] / 1e9
        row["percent_of_ceiling"] = 100 * row["gflops_per_s"] / ceiling
    return list(rows.values())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", type=int, nargs="+", choices=sorted(STAGES), default=[1, 3])
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every variant runs")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    stages = QUICK_STAGES if args.quick else STAGES
    print(machine_header("Shifted-window attention kernels (CPU)"))
    rows = []
    for dtype_name in args.dtypes:
        ceiling = matmul_ceiling(DTYPES[dtype_name], size=256 if args.quick else 2048)
        print(f"{dtype_name} matmul ceiling: {ceiling:.1f} GFLOP/s", flush=True)
        for stage in args.stages:
            rows += [
                dict(row, ceiling_gflops=ceiling)
                for row in measure(stage, stages[stage], dtype_name, args.repeats, ceiling)
            ]
    columns = [
        ("stage", "stage", "d"),
        ("dtype", "dtype", "s"),
        ("impl", "implementation", "s"),
        ("median_s", "median s", ".4f"),
        ("speedup", "x sdpa-folded", ".2f"),
        ("gflops_per_s", "GFLOP/s", ".1f"),
        ("percent_of_ceiling", "% of matmul", ".0f"),
        ("first_call_s", "compile s", ".1f"),
        ("max_abs_diff", "max abs diff", ".1e"),
        ("status", "status", "s"),
    ]
    print(format_table(rows, columns))
    result = {"rows": rows}
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
