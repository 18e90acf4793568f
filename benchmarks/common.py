"""Shared helpers for the benchmarks: machine header, matmul ceilings, analytic FLOPs, alternating timing, tables."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import torch

from transformers_videoswin import VideoSwinConfig
from transformers_videoswin.model.modeling_videoswin import effective_window_and_shift


def set_threads(threads: int) -> int:
    """Use `threads` intra-op threads (capped by the CPUs this process may run on); returns the number used."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, min(threads, available))
    torch.set_num_threads(threads)
    return threads


def machine_header(title: str) -> str:
    """The command line and the machine: CPU model, usable cores, threads, memory, load, library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            memory = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    import torchvision
    import transformers

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    preloaded = os.environ.get("LD_PRELOAD", "")
    allocator = "jemalloc" if "jemalloc" in preloaded else "tcmalloc" if "tcmalloc" in preloaded else "default (glibc)"
    lines = [
        f"# {title}",
        f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}",
        f"cpu: {cpu}; usable cores: {affinity}; torch threads: {torch.get_num_threads()}; memory: {memory}",
        f"load average (1/5/15 min) at start: {load}; allocator: {allocator}",
        f"python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"transformers {transformers.__version__}, {platform.system()} {platform.release()}",
    ]
    return "\n".join(lines)


def matmul_ceiling(
    dtype: torch.dtype, size: int = 4096, repeats: int = 3, device: torch.device | str = "cpu"
) -> float:
    """Best GFLOP/s of a `size`^3 matmul in `dtype` (2 * size^3 FLOPs) on `device`: the practical compute ceiling."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def videoswin_flops_by_kind(
    config: VideoSwinConfig, frames: int, height: int, width: int, batch: int = 1
) -> dict[str, float]:
    """Analytic FLOPs (2 x multiply-adds) of one forward pass, by kind: `linear` (qkv, projection, MLP, patch merging,
    head), `attention` (q.k^T and attn.v over the padded windows) and `conv` (the patch embedding). Elementwise ops,
    norms and softmax are not counted."""
    pt, ph, pw = config.patch_size
    size = [math.ceil(frames / pt), math.ceil(height / ph), math.ceil(width / pw)]
    channels = config.embed_dim
    flops = {
        "linear": 0.0,
        "attention": 0.0,
        "conv": 2 * math.prod(size) * config.num_channels * pt * ph * pw * channels,
    }
    for index, depth in enumerate(config.depths):
        window, _ = effective_window_and_shift(tuple(size), tuple(config.window_size), (0, 0, 0))
        tokens = math.prod(size)
        padded = math.prod(math.ceil(s / w) * w for s, w in zip(size, window))
        hidden = int(channels * config.mlp_ratio)
        flops["linear"] += depth * 2 * padded * channels * 4 * channels  # qkv (3C) + projection (C)
        flops["attention"] += depth * 2 * 2 * padded * math.prod(window) * channels  # q.k^T and attn.v
        flops["linear"] += depth * 2 * 2 * tokens * channels * hidden  # fc1 + fc2
        if index < len(config.depths) - 1:
            size = [size[0], math.ceil(size[1] / 2), math.ceil(size[2] / 2)]
            flops["linear"] += 2 * math.prod(size) * 4 * channels * 2 * channels
            channels *= 2
    flops["linear"] += 2 * channels * max(config.num_labels, 0)
    return {kind: batch * value for kind, value in flops.items()}


def videoswin_flops(config: VideoSwinConfig, frames: int, height: int, width: int, batch: int = 1) -> float:
    """Total analytic FLOPs of one forward pass (see `videoswin_flops_by_kind`): 175.5 GFLOP for Swin-T at
    32x224x224."""
    return sum(videoswin_flops_by_kind(config, frames, height, width, batch).values())


def minor_page_faults() -> int:
    """Minor page faults of this process so far: each is a fresh page handed out by the kernel, the cost of large
    temporaries that the default allocator maps and unmaps on every call."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def alternate(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1, progress: str = ""
) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Seconds and minor page faults per call of each function, run in turn (a, b, c, a, b, c, ...) after `warmup`
    calls of each."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    faults: dict[str, list[int]] = {name: [] for name in fns}
    for repeat in range(repeats):
        for name, fn in fns.items():
            first_fault, start = minor_page_faults(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            faults[name].append(minor_page_faults() - first_fault)
        if progress:
            print(
                f"  {progress} repeat {repeat + 1}/{repeats}: "
                + ", ".join(f"{name} {t[-1]:.3f}s" for name, t in times.items()),
                file=sys.stderr,
                flush=True,
            )
    return times, faults


def summarize(times: Sequence[float]) -> dict[str, float]:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": len(times)}


def format_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Markdown table of `rows`; `columns` are (key, header, format spec), missing values print as '-'."""
    header = "| " + " | ".join(title for _, title, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    lines = [header, rule]
    for row in rows:
        cells = []
        for key, _, spec in columns:
            value = row.get(key)
            cells.append("-" if value is None else format(value, spec))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(path: str, payload: dict) -> None:
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
