"""One shifted-window attention call, several ways: which kernel and layout bring the attention closest to the matmul
ceiling on the CPU, and what FlexAttention would give.

    python benchmarks/bench_window_attention.py                     # Swin-T stages 1 and 3, fp32 and bf16
    python benchmarks/bench_window_attention.py --stage 1 --dtype bf16 --repeats 10
    python benchmarks/bench_window_attention.py --quick             # tiny sizes (the test suite's smoke run)

The workload is the attention core of one SW-MSA block of Swin-T at 32x224x224, batch 1: q, k and v of every window
(`[windows, heads, N, head_dim]`, N = 8x7x7 = 392), the `[heads, N, N]` relative position bias (gathered from a random
table as the model does) and the shift regions (`modeling_videoswin.shift_window_mask`: 0 or -100). Stage 1: 16x56x56
tokens, 128 windows, 3 heads of 32 channels (C = 96); stage 3: 16x14x14 tokens, 8 windows, 12 heads (C = 384).
Every timed call starts from q, k, v, the bias and the cached shift mask, so a variant that folds them into one mask
pays for it on every call, as the model does in every block. Variants:

- `model-fused` (the reference): the model's own `VideoSwinAttention.forward` (its qkv projection replaced by
  the precomputed q, k, v, its output projection by the identity) with the mask `shifted_window_attention` builds:
  bias + shift mask folded into `[windows, heads, N, N]`, run as SDPA over `[1, windows * heads, N, N]`. The model
  file's path (accelerators, `torch.compile`, `torch.export`).
- `model-chunked`: the same module, called the way the CPU forward (`cpu_windows.py`) calls it: windows sorted
  into groups that share a shift mask (`cpu_windows.window_layout`), `cpu_windows.windows_per_chunk` windows per
  call, windows as the batch and one `[1, heads, N, N]` mask broadcast over them.
- `sdpa-windows`: windows as the batch and heads as heads, `[windows, heads, N, N]` mask (no fold into one batch).
- `sdpa-groups`: one SDPA call per window group, windows as the batch, the group's `[1, heads, N, N]` mask
  broadcast: at most 8 calls, no `[windows, heads, N, N]` tensor (windows taken already sorted by group).
- `eager-baddbmm`: `baddbmm(mask, q * scale, k^T)`, softmax in fp32 (as the model's eager attention), `bmm`.
- `sdpa-compiled`, `eager-compiled`: the fold + SDPA, and `eager-baddbmm`, under `torch.compile` (inductor).
- `flex-score-mod`: FlexAttention under `torch.compile`; a `score_mod` adds the `[heads, N, N]` bias and -100
  between tokens of different regions (from the `[windows, N]` region labels): no `[windows, heads, N, N]` tensor.
- `flex-table`: the same, the bias gathered inside the `score_mod` from the `[table, heads]` bias table by the
  relative position index (what a training path would differentiate through): no `[heads, N, N]` tensor either.
- `flex-block-mask`: the bias as a `score_mod`, the regions as a `BlockMask` (`create_block_mask`, built once per
  geometry and not timed, like the cached shift mask): cross-region pairs are removed instead of weighted by exp(-100).
- `matmuls-only`: the two batched matmuls alone (q.k^T and scores.v, no scale, mask or softmax): a bound, not attention.

Checks: every variant against `model-fused` (max abs difference, tolerance `rtol * max|output|`: fp32 1e-5, bf16
2^-6, about 4 bf16 steps) and against a float64 reference computed from the same (rounded) inputs. The effect of
removing cross-region pairs instead of adding -100 is printed from two float64 references. Timing: variants in
turns after a warm-up call, median of `--repeats`; the first call (compilation) is reported apart. GFLOP/s count q.k^T
and attn.v (4 N^2 head_dim per window and head), against a square matmul of the same dtype and about the same FLOPs,
timed in turn with the variants (the ceiling).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import alternate, format_table, machine_header, set_threads, summarize, write_json  # noqa: E402

from transformers_videoswin import VideoSwinConfig  # noqa: E402
from transformers_videoswin.model.cpu_windows import window_layout, windows_per_chunk  # noqa: E402
from transformers_videoswin.model.modeling_videoswin import (  # noqa: E402
    SHIFT_MASK_VALUE,
    VideoSwinAttention,
    shift_region_labels,
    shift_window_mask,
    window_partition,
)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# Agreement with the reference: max abs difference <= RTOL * max |reference output|.
RTOL = {"fp32": 1e-5, "bf16": 2.0**-6}
# Swin-T at 32x224x224: (token grid, window, heads, head_dim) of stages 1 and 3.
STAGES = {1: ((16, 56, 56), (8, 7, 7), 3, 32), 3: ((16, 14, 14), (8, 7, 7), 12, 32)}
QUICK_STAGES = {1: ((4, 8, 8), (2, 4, 4), 2, 8), 3: ((4, 4, 4), (2, 4, 4), 4, 8)}
REFERENCE = "model-fused"
BOUND = "matmuls-only"
CEILING = "matmul (ceiling)"


class PrecomputedQKV(nn.Module):
    """Stands in for the attention module's qkv projection: returns rows `[offset, offset + len(x))` of a precomputed
    `[windows, ..., 3 * C]` qkv tensor, so that the model's attention code runs on known q, k and v."""

    def __init__(self, qkv: torch.Tensor):
        super().__init__()
        self.qkv, self.offset = qkv, 0

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.qkv[self.offset : self.offset + windows.shape[0]]


def workload(stage: tuple, dtype: torch.dtype, seed: int = 0) -> dict:
    """Random q, k, v `[nW, heads, N, d]`, a bias table and the model's `[heads, N, N]` bias gathered from it, the
    `[nW, N]` region labels and the package's `[nW, N, N]` shift mask, all in `dtype`."""
    size, window, heads, head_dim = stage
    shift = tuple(w // 2 for w in window)
    config = VideoSwinConfig(
        window_size=window, embed_dim=heads * head_dim, num_heads=tuple(heads * 2**i for i in range(4))
    )
    config._attn_implementation = "sdpa"
    module = VideoSwinAttention(config, stage_idx=0).eval().to(dtype)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.relative_position_bias_table.copy_(
            torch.randn(module.relative_position_bias_table.shape, generator=generator)
        )
    labels = shift_region_labels(
        size, window, shift, torch.device("cpu")
    )  # the grid is a multiple of the window: no padding
    num_windows, num_tokens = labels.shape
    q, k, v = (torch.randn(num_windows, heads, num_tokens, head_dim, generator=generator).to(dtype) for _ in "qkv")
    with torch.no_grad():
        bias = module.relative_position_bias(window)
    return {
        "size": size,
        "window": window,
        "shift": shift,
        "module": module,
        "q": q,
        "k": k,
        "v": v,
        "bias": bias,
        "table": module.relative_position_bias_table.detach(),
        "index": module.relative_position_index[:num_tokens, :num_tokens],
        "labels": labels,
        "shift_mask": shift_window_mask(size, window, shift, torch.device("cpu")).to(dtype),
    }


def reference_output(work: dict, cross_region: float) -> torch.Tensor:
    """Float64 attention from the same inputs, `cross_region` added between tokens of different regions (-100 as the
    official code, or -inf: the pairs removed, as a block mask does)."""
    q, k, v = (work[key].double() for key in "qkv")
    labels, bias = work["labels"], work["bias"].double()
    outputs = []
    for start in range(0, q.shape[0], 8):
        same = labels[start : start + 8, :, None] == labels[start : start + 8, None, :]
        mask = bias + torch.zeros(same.shape, dtype=torch.float64).masked_fill(~same, cross_region)[:, None]
        scores = q[start : start + 8] @ k[start : start + 8].transpose(-1, -2) * q.shape[-1] ** -0.5 + mask
        outputs.append(scores.softmax(-1) @ v[start : start + 8])
    return torch.cat(outputs)


def window_order(work: dict) -> tuple[torch.Tensor, object]:
    """The chunked strategy's window order (`window_layout`, batch 1) as indices into the partition order, and the
    layout itself."""
    size, window, shift = work["size"], work["window"], work["shift"]
    layout = window_layout(size, window, shift, 1, torch.device("cpu"))
    rolled = torch.roll(torch.arange(math.prod(size)).view(1, *size, 1), tuple(-s for s in shift), dims=(1, 2, 3))
    first_rows = window_partition(rolled, window)[0, :, 0, 0].tolist()  # row of each window's first token
    position = {row: index for index, row in enumerate(first_rows)}
    sorted_first = layout.gather.view(len(first_rows), -1)[:, 0].tolist()
    return torch.tensor([position[row] for row in sorted_first]), layout


def variants(work: dict) -> dict[str, tuple[Callable[[], Callable[[], torch.Tensor]], bool]]:
    """name -> (setup returning a zero-argument call whose output is `[nW, heads, N, d]`, whether it compiles)."""
    q, k, v, bias, labels, shift_mask = (work[key] for key in ("q", "k", "v", "bias", "labels", "shift_mask"))
    num_windows, heads, num_tokens, head_dim = q.shape
    channels, scale = heads * head_dim, head_dim**-0.5
    # [nW, N, 3 * C], channels ordered (q/k/v, head, head_dim) as the model's qkv projection writes them.
    qkv = torch.stack([q, k, v]).permute(1, 3, 0, 2, 4).reshape(num_windows, num_tokens, 3 * channels)

    def canonical(windows: torch.Tensor) -> torch.Tensor:  # [..., N, C] in window order -> [nW, heads, N, d]
        return windows.reshape(num_windows, num_tokens, heads, head_dim).transpose(1, 2)

    def model_attention(qkv_projection: nn.Module) -> nn.Module:  # the model's module, projections stubbed
        module = copy.deepcopy(work["module"])
        module.qkv, module.proj = qkv_projection, nn.Identity()
        return module

    def folded_mask() -> torch.Tensor:  # what `shifted_window_attention` passes to the attention module
        return bias.unsqueeze(0) + shift_mask.unsqueeze(1)  # [nW, heads, N, N]

    def model_fused():
        module = model_attention(PrecomputedQKV(qkv[None]))
        windows = torch.empty(1, num_windows, num_tokens, channels, dtype=q.dtype)  # only its shape is read
        return lambda: canonical(module(windows, folded_mask())[0])

    def model_chunked():
        order, layout = window_order(work)
        stub = PrecomputedQKV(qkv[order][:, None])  # [nW, 1, N, 3C] in the layout's order
        module = model_attention(stub)
        windows = torch.empty(num_windows, 1, num_tokens, channels, dtype=q.dtype)
        step = windows_per_chunk(num_tokens, channels, heads, q.element_size(), weights=False)
        inverse = torch.argsort(order)

        def run():
            outputs = []
            for group in layout.groups:
                mask = bias[None] if group.shift_mask is None else bias[None] + group.shift_mask.to(bias.dtype)
                for start in range(group.first, group.end, step):
                    stub.offset = start
                    outputs.append(module(windows[start : min(group.end, start + step)], mask)[0])
            return canonical(torch.cat(outputs)[inverse])  # back to partition order for the check (not in the model)

        return run

    def sdpa_windows():
        return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=folded_mask())

    def sdpa_groups():
        order, layout = window_order(work)
        sorted_qkv = [t[order] for t in (q, k, v)]
        inverse = torch.argsort(order)

        def run():
            outputs = []
            for group in layout.groups:
                mask = bias[None] if group.shift_mask is None else bias[None] + group.shift_mask.to(bias.dtype)
                parts = [t[group.first : group.end] for t in sorted_qkv]
                outputs.append(F.scaled_dot_product_attention(*parts, attn_mask=mask))
            return torch.cat(outputs)[inverse]

        return run

    def baddbmm_attention(q, k, v, bias, shift_mask):
        mask = (bias.unsqueeze(0) + shift_mask.unsqueeze(1)).reshape(-1, num_tokens, num_tokens)
        flat = [t.reshape(-1, num_tokens, head_dim) for t in (q, k, v)]
        scores = torch.baddbmm(mask, flat[0] * scale, flat[1].transpose(1, 2))
        return torch.bmm(scores.softmax(-1, dtype=torch.float32).to(q.dtype), flat[2]).view_as(q)

    def eager_baddbmm():
        return lambda: baddbmm_attention(q, k, v, bias, shift_mask)

    def sdpa_compiled():
        def attention(q, k, v, bias, shift_mask):
            mask = (bias.unsqueeze(0) + shift_mask.unsqueeze(1)).reshape(1, -1, num_tokens, num_tokens)
            fold = [t.reshape(1, -1, num_tokens, head_dim) for t in (q, k, v)]
            return F.scaled_dot_product_attention(*fold, attn_mask=mask).view_as(q)

        compiled = torch.compile(attention, dynamic=False)
        return lambda: compiled(q, k, v, bias, shift_mask)

    def eager_compiled():
        compiled = torch.compile(baddbmm_attention, dynamic=False)
        return lambda: compiled(q, k, v, bias, shift_mask)

    def flex_score_mod():
        from torch.nn.attention.flex_attention import flex_attention

        def score_mod(score, b, h, q_idx, kv_idx):
            same = labels[b, q_idx] == labels[b, kv_idx]
            return score + bias[h, q_idx, kv_idx] + torch.where(same, 0.0, SHIFT_MASK_VALUE)

        compiled = torch.compile(flex_attention, dynamic=False)
        return lambda: compiled(q, k, v, score_mod=score_mod)

    def flex_table():
        from torch.nn.attention.flex_attention import flex_attention

        table, index = work["table"], work["index"]

        def score_mod(score, b, h, q_idx, kv_idx):
            same = labels[b, q_idx] == labels[b, kv_idx]
            return score + table[index[q_idx, kv_idx], h] + torch.where(same, 0.0, SHIFT_MASK_VALUE)

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

    def matmuls_only():
        flat = [t.reshape(-1, num_tokens, head_dim) for t in (q, k, v)]
        return lambda: torch.bmm(torch.bmm(flat[0], flat[1].transpose(1, 2)), flat[2]).view_as(q)

    return {
        REFERENCE: (model_fused, False),
        "model-chunked": (model_chunked, False),
        "sdpa-windows": (sdpa_windows, False),
        "sdpa-groups": (sdpa_groups, False),
        "eager-baddbmm": (eager_baddbmm, False),
        "sdpa-compiled": (sdpa_compiled, True),
        "eager-compiled": (eager_compiled, True),
        "flex-score-mod": (flex_score_mod, True),
        "flex-table": (flex_table, True),
        "flex-block-mask": (flex_block_mask, True),
        BOUND: (matmuls_only, False),
    }


def first_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0][:100] if lines else ''}"


def matmul_of_comparable_size(flops: float, dtype: torch.dtype) -> tuple[int, Callable[[], torch.Tensor]]:
    """A square matmul of about `flops` FLOPs (side a multiple of 64): the ceiling, timed in turn with the variants."""
    side = max(64, round((flops / 2) ** (1 / 3) / 64) * 64)
    a, b = (torch.randn(side, side).to(dtype) for _ in "ab")
    return side, lambda: torch.mm(a, b)


def measure(stage_name: int, stage: tuple, dtype_name: str, repeats: int) -> tuple[list[dict], dict]:
    """One row per variant (timing, agreement) plus the matmul ceiling's row, and the float64 facts of the
    workload."""
    torch._dynamo.reset()  # every compiled variant compiles afresh for this size and dtype
    work = workload(stage, DTYPES[dtype_name])
    num_windows, heads, num_tokens, head_dim = work["q"].shape
    flops = 4 * num_windows * heads * num_tokens**2 * head_dim
    exact = reference_output(work, SHIFT_MASK_VALUE)
    facts = {
        "stage": stage_name,
        "dtype": dtype_name,
        "windows": num_windows,
        "heads": heads,
        "tokens": num_tokens,
        "gflop": flops / 1e9,
        # What a block mask changes by itself: -100 between regions vs the pairs removed, both in float64.
        "minus100_vs_removed": (exact - reference_output(work, -math.inf)).abs().max().item(),
    }
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
                row["status"] = f"unsupported: {first_line(error)}"
                continue
            calls[name] = call
            if name == BOUND:
                row["status"] = "bound: no mask, no softmax"
                continue
            reference = output if name == REFERENCE else reference
            if reference is None:
                raise RuntimeError(f"the reference variant {REFERENCE} did not run: {rows[REFERENCE]['status']}")
            row["max_abs_diff"] = (output.float() - reference.float()).abs().max().item()
            row["err_vs_fp64"] = (output.double() - exact).abs().max().item()
            row["tolerance"] = RTOL[dtype_name] * reference.float().abs().max().item()
            row["status"] = "ok" if row["max_abs_diff"] <= row["tolerance"] else "WRONG"
        side, calls[CEILING] = matmul_of_comparable_size(flops, work["q"].dtype)
        rows[CEILING] = {"stage": stage_name, "dtype": dtype_name, "impl": CEILING, "status": f"{side}^3 matmul"}
        times, _ = alternate(calls, repeats=repeats, warmup=1)
    baseline = summarize(times[REFERENCE])["median_s"]
    work_flops = {name: flops for name in times} | {CEILING: 2 * side**3}
    for name, seconds in times.items():
        row = rows[name]
        row.update(summarize(seconds))
        row["speedup"] = baseline / row["median_s"] if name != CEILING else None
        row["gflops_per_s"] = work_flops[name] / row["median_s"] / 1e9
    ceiling = rows[CEILING]["gflops_per_s"]
    facts["ceiling_gflops"] = ceiling
    for name in times:
        rows[name]["percent_of_ceiling"] = 100 * rows[name]["gflops_per_s"] / ceiling
    return list(rows.values()), facts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", "--stage", type=int, nargs="+", choices=sorted(STAGES), default=[1, 3])
    parser.add_argument("--dtypes", "--dtype", nargs="+", choices=sorted(DTYPES), default=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every variant runs and agrees")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    stages = QUICK_STAGES if args.quick else STAGES
    print(machine_header("Shifted-window attention kernels (CPU)"))
    rows, facts = [], []
    for dtype_name in args.dtypes:
        for stage in args.stages:
            stage_rows, stage_facts = measure(stage, stages[stage], dtype_name, args.repeats)
            rows += stage_rows
            facts.append(stage_facts)
            print(f"stage {stage} {dtype_name}: done", file=sys.stderr, flush=True)
    columns = [
        ("stage", "stage", "d"),
        ("dtype", "dtype", "s"),
        ("impl", "implementation", "s"),
        ("median_s", "median s", ".4f"),
        ("speedup", f"x {REFERENCE}", ".2f"),
        ("gflops_per_s", "GFLOP/s", ".1f"),
        ("percent_of_ceiling", "% of matmul", ".0f"),
        ("first_call_s", "compile s", ".1f"),
        ("max_abs_diff", "max abs diff", ".1e"),
        ("err_vs_fp64", "err vs fp64", ".1e"),
        ("status", "status", "s"),
    ]
    print(format_table(rows, columns))
    print(
        "\nagreement: max abs diff vs model-fused <= rtol * max|output| (rtol fp32 1e-5, bf16 2^-6); "
        "err vs fp64: against float64 attention from the same inputs (-100 shift mask)"
    )
    for fact in facts:
        print(
            f"stage {fact['stage']} {fact['dtype']}: {fact['windows']} windows x {fact['heads']} heads x "
            f"{fact['tokens']} tokens, {fact['gflop']:.2f} GFLOP, ceiling {fact['ceiling_gflops']:.1f} GFLOP/s; "
            "float64, -100 across regions vs pairs removed "
            f"(block mask): max abs diff {fact['minus100_vs_removed']:.1e}"
        )
    result = {"rows": rows, "facts": facts}
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
