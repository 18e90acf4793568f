"""Training step time and peak memory: ours (with and without gradient checkpointing) vs torchvision's `swin3d_*`.

    python benchmarks/bench_training.py                        # Swin-T, batch 1, 16x224x224, 3 timed steps
    python benchmarks/bench_training.py --frames 32 --steps 2 --json out.json

A step is forward + cross-entropy + backward + SGD update, in train mode (dropout and stochastic depth on). Each
variant runs in its own subprocess so that peak memory is that variant's alone: the reported peak is the rise of the
process's maximum resident set size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) over its resident size just before
the first step, so it counts activations, gradients and temporaries but not the weights and the Python runtime.
The step time is the median of `--steps` steps after one warm-up step.

    python benchmarks/bench_training.py --device cuda --batch-size 8 --dtype bf16   # the GPU rows

On CUDA the step is timed after synchronising, the peak is `torch.cuda.max_memory_allocated` over the steps, and
`--dtype bf16` trains under bf16 autocast (the usual mixed-precision recipe); `clips/s` is batch / step time.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import format_table, machine_header, set_threads, write_json  # noqa: E402

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification  # noqa: E402
from transformers_videoswin.checkpoints.torchvision_swin3d import build_torchvision_model  # noqa: E402
from transformers_videoswin.model import cpu_windows  # noqa: E402

VARIANTS = (
    "ours",
    "ours+checkpointing",
    "ours+block-checkpointing",
    "torchvision",
    "ours-compiled",
    "torchvision-compiled",
)
DEFAULT_VARIANTS = ("ours", "ours+checkpointing", "torchvision")
COLUMNS = [
    ("variant", "variant", ""),
    ("median_s", "step median s", ".3f"),
    ("min_s", "min s", ".3f"),
    ("max_s", "max s", ".3f"),
    ("clips_per_s", "clips/s", ".2f"),
    ("peak_mib", "peak memory MiB", ".0f"),
    ("memory_vs_ours", "memory vs ours", ".2f"),
    ("time_vs_ours", "time vs ours", ".2f"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="tiny", help="architecture (VideoSwinConfig.from_variant)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), choices=VARIANTS)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast")
    parser.add_argument("--config-json", help="a VideoSwinConfig as JSON (overrides --variant; used by the tests)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def current_rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def build_config(args: argparse.Namespace) -> VideoSwinConfig:
    if args.config_json:
        return VideoSwinConfig(**json.loads(args.config_json))
    return VideoSwinConfig.from_variant(args.variant, num_labels=400)


def worker(args: argparse.Namespace) -> dict:
    """Runs in the subprocess: time `args.steps` training steps of one variant and measure its peak memory."""
    set_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    config = build_config(args)
    model = VideoSwinForVideoClassification(config)
    clip = torch.randn(args.batch_size, args.frames, config.num_channels, args.image_size, args.image_size)
    labels = torch.randint(0, config.num_labels, (args.batch_size,), device=device)
    if args.worker.startswith("torchvision"):
        model = build_torchvision_model(model).to(device)
        clip = clip.permute(0, 2, 1, 3, 4).contiguous().to(device)
        module = torch.compile(model) if args.worker.endswith("-compiled") else model

        def loss_fn():
            return torch.nn.functional.cross_entropy(module(clip), labels)

    else:
        model, clip = model.to(device), clip.to(device)
        if args.worker in ("ours+checkpointing", "ours+block-checkpointing"):  # chunk by chunk, or whole blocks
            model.activation_checkpointing_enable()
            if args.worker == "ours+checkpointing":
                cpu_windows.enable_chunk_checkpointing(model)
        module = torch.compile(model) if args.worker.endswith("-compiled") else model

        def loss_fn():
            return module(pixel_values=clip, labels=labels).loss

    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    baseline = current_rss_kib()
    times = []
    for step in range(args.steps + 1):
        if cuda and step == 1:  # the peak of the timed steps, not of compilation
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn()
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    if cuda:
        peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline, 0) / 1024  # KiB on Linux
    times = times[1:]
    return {
        "variant": args.worker,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "clips_per_s": args.batch_size / statistics.median(times),
        "times_s": times,
        "peak_mib": peak_mib,
    }


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch on this machine.")
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return {}
    threads = set_threads(args.threads)
    title = (
        f"Video Swin training step ({args.variant}, batch {args.batch_size}, {args.frames}x{args.image_size}^2, "
        f"{args.device}, {args.dtype})"
    )
    header = machine_header(title)
    print(header)
    rows = []
    for variant in args.variants:
        print(f"running {variant} ...", file=sys.stderr, flush=True)
        command = [sys.executable, str(Path(__file__).resolve()), *argv, "--worker", variant]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(next(line[7:] for line in output.splitlines() if line.startswith("RESULT "))))
    reference = next((row for row in rows if row["variant"] == "ours"), None)
    for row in rows:
        if reference is not None:
            row["memory_vs_ours"] = row["peak_mib"] / reference["peak_mib"] if reference["peak_mib"] else None
            row["time_vs_ours"] = row["median_s"] / reference["median_s"]
    print()
    if args.device == "cpu":
        print("peak memory = rise of max RSS over RSS before the first step (separate process per variant)")
    else:
        print("peak memory = torch.cuda.max_memory_allocated over the timed steps (separate process per variant)")
    print(format_table(rows, COLUMNS))
    result = {"header": header, "threads": threads, "rows": rows}
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
