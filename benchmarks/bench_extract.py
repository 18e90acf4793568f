"""Dataset-scale extraction throughput: decode-only, model-only and end to end, in clips per second.

For two models on the same synthetic videos (H.264, 320x240, 30 fps, noisy content so the decoder works for real):

- ``tiny``: a very small Video Swin (16 frames of 112x112), so decoding is the bottleneck (decode-bound);
- ``swin-t``: Swin-T (32 frames of 224x224), so the model is the bottleneck (model-bound).

Sliding windows of the model's clip length, stride = window, frames every 2 source frames (every frame of a window
decoded once). Three measurements per model, with the engine's default number of decoding workers
(``default_num_workers()``, or ``--workers``):

- decode-only: the engine's DataLoader (workers decode, sample, preprocess), items consumed and dropped;
- model-only: forward passes of ``--batch-size`` random clips of the same shape (``InferenceEngine.forward``);
- end to end: ``run_inference`` writing features and the index to a temporary directory.

Targets: end to end >= 90% of model-only for Swin-T and >= 80% of decode-only for the tiny model. Then the peak
memory (peak RSS of the main process and of the decoding workers, each run in a fresh process, and the workers'
private memory, RssAnon, which leaves out the pages they share with the main process) for a growing number of videos:
it must stay flat, since features are written per video and never accumulated. Throughputs include the
workers' start-up, so use enough videos for it not to matter (the default: 8 videos of 20 s).

With ``--trim-videos N``, decode-only again on N short videos (2 s) under three policies for handing the decoding
workers' freed heap back to the system (``malloc_trim``, glibc): after every video, past the engine's slack
(``stream.TRIM_SLACK_BYTES``, the default) and never, in turns, as ratios to the default.

    python benchmarks/bench_extract.py            # 8 videos of 20 s; memory at 4, 16, 64 videos
    python benchmarks/bench_extract.py --quick    # a smoke run: 2 short videos, 1 model-only repeat
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from transformers_videoswin import VideoSwinConfig, VideoSwinModel, VideoSwinVideoProcessor
from transformers_videoswin.data import file_entries
from transformers_videoswin.inference import ClipPlan, InferenceEngine, VideoClipStream, run_inference
from transformers_videoswin.inference import stream as stream_module
from transformers_videoswin.inference.stream import VideoFailed, default_num_workers, make_loader, window_chunk_size
from transformers_videoswin.testing.utils import write_test_video

MODELS = {
    "tiny": dict(
        config=dict(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), window_size=(4, 4, 4)),
        frames=16,
        size=112,
    ),
    "swin-t": dict(config={}, frames=32, size=224),
}


def make_videos(directory: Path, count: int, seconds: float, fps: int = 30) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"video{index:03d}.mp4"
        if not path.is_file():  # written under a temporary name: a killed run leaves no truncated video behind
            tmp = write_test_video(
                path.with_name(f".{path.name}.tmp.mp4"), int(seconds * fps), 240, 320, fps=fps, pattern="noisy",
                gop_size=30, crf=23,
            )  # fmt: skip
            os.replace(tmp, path)
        paths.append(str(path))
    return paths


def build(name: str, dtype: torch.dtype):
    spec = MODELS[name]
    config = VideoSwinConfig(num_frames=spec["frames"], image_size=spec["size"], **spec["config"])
    model = VideoSwinModel(config).eval().to(dtype)
    size = spec["size"]
    processor = VideoSwinVideoProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    plan = ClipPlan(window=spec["frames"], stride=spec["frames"], frame_interval=2)
    return model, processor, plan


def decode_only(processor, plan, videos, batch_size: int, workers: int) -> tuple[float, int]:
    stream = VideoClipStream(processor, plan, file_entries(videos), chunk_size=window_chunk_size(batch_size))
    start, clips = time.perf_counter(), 0
    for item in make_loader(stream, workers):
        if isinstance(item, VideoFailed):
            raise RuntimeError(item.error)
        clips += item.frames[item.gather].shape[0]  # the clips, assembled as the engine does
    return clips / (time.perf_counter() - start), clips


def model_only(model, plan, size: int, batch_size: int, repeats: int, dtype, device: str) -> float:
    engine = InferenceEngine(model, "features", batch_size, device, dtype)
    clips = torch.randn(batch_size, plan.window, 3, size, size)
    engine.forward(clips)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        engine.forward(clips)
    return repeats * batch_size / (time.perf_counter() - start)


def end_to_end(model, processor, plan, videos, batch_size, workers, dtype, device="cpu") -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as out:
        summary, _ = run_inference(
            model, processor, plan, file_entries(videos), output_dir=out, batch_size=batch_size,
            num_workers=workers, dtype=dtype, device=device,
        )  # fmt: skip
    if summary.failed:
        raise RuntimeError(f"{summary.failed} videos failed: {summary.errors}")
    return summary.clips / summary.seconds, summary.clips


def peak_memory(videos: list[str], batch_size: int, workers: int) -> dict:
    """End to end (tiny model) in a fresh process: its peak RSS (VmHWM), its decoding workers' (ru_maxrss of the
    forked workers, which counts the pages they share with it), and the workers' own memory (the peak of their
    summed RssAnon, sampled), MiB."""
    command = [sys.executable, __file__, "--_memory-child", json.dumps([videos, batch_size, workers])]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def children_anon_mib(parent: int) -> float:
    """Summed RssAnon (private memory, not the pages shared with the parent) of `parent`'s child processes, MiB."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            status = (stat.parent / "status").read_text().splitlines()
        except (OSError, IndexError, ValueError):  # the process is gone
            continue
        total += next((int(line.split()[1]) for line in status if line.startswith("RssAnon:")), 0)
    return total / 1024


class WorkerMemorySampler(threading.Thread):
    """The peak of `children_anon_mib(this process)` (the decoding workers), sampled every `interval` seconds."""

    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval, self.peak, self.done = interval, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, children_anon_mib(os.getpid()))


def _memory_child(payload: str) -> None:
    videos, batch_size, workers = json.loads(payload)
    model, processor, plan = build("tiny", torch.float32)
    sampler = WorkerMemorySampler()
    sampler.start()
    end_to_end(model, processor, plan, videos, batch_size, workers, torch.float32)
    sampler.done.set()
    sampler.join()
    # VmHWM: this address space's peak (ru_maxrss would include the parent's memory from before exec)
    status = Path("/proc/self/status").read_text().splitlines()
    main_mib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    workers_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # forked: shares the main's pages
    print(json.dumps({"main_mib": main_mib, "workers_mib": workers_mib, "workers_anon_mib": sampler.peak}))


TRIM_POLICIES = {"after every video": 0, "past the slack (default)": None, "never": 2**62}


def trim_policies(videos: list[str], batch_size: int, workers: int, rounds: int) -> list[dict]:
    """Decode-only clips/s of the tiny model's stream under each of `TRIM_POLICIES` (`stream.TRIM_SLACK_BYTES`; the
    workers are forked and inherit it), in turns, medians of `rounds`."""
    _, processor, plan = build("tiny", torch.float32)
    default, rates = stream_module.TRIM_SLACK_BYTES, {name: [] for name in TRIM_POLICIES}
    try:
        for _ in range(rounds):
            for name, slack in TRIM_POLICIES.items():
                stream_module.TRIM_SLACK_BYTES, stream_module._trimmed_rss = default if slack is None else slack, None
                rates[name].append(decode_only(processor, plan, videos, batch_size, workers)[0])
    finally:
        stream_module.TRIM_SLACK_BYTES, stream_module._trimmed_rss = default, None
    medians = {name: statistics.median(values) for name, values in rates.items()}
    reference = medians["past the slack (default)"]
    return [{"policy": name, "decode_only": rate, "vs_default": rate / reference} for name, rate in medians.items()]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 videos of 2 s, 1 repeat, 1 model")
    parser.add_argument("--models", default="tiny,swin-t")
    parser.add_argument("--num-videos", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each video")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None, help="decoding workers (default: the engine's)")
    parser.add_argument("--repeats", type=int, default=3, help="model-only forward passes")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--device", default="cpu", help="cpu, cuda")
    parser.add_argument("--memory-videos", default=None, help="video counts for the memory check (4,16,64)")
    parser.add_argument("--videos-dir", default=None, help="keep the generated videos here (default: a temp dir)")
    parser.add_argument("--trim-videos", type=int, default=0, help="short videos for the heap-trim table (0: none)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--_memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._memory_child:
        _memory_child(args._memory_child)
        return {}
    if args.quick:
        args.num_videos, args.seconds, args.repeats, args.batch_size = 2, 2.0, 1, 2
        args.trim_videos = min(args.trim_videos, 2) or 2
        args.models = "tiny" if args.models == "tiny,swin-t" else args.models
    args.memory_videos = args.memory_videos or ("1,2" if args.quick else "4,16,64")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    workers = args.workers if args.workers is not None else default_num_workers()
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}")
    print(
        f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}, decoding workers {workers}, "
        f"{args.dtype} on {args.device}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        videos_dir = Path(args.videos_dir or tmp)
        memory_counts = [int(n) for n in args.memory_videos.split(",") if n]
        videos = make_videos(videos_dir, args.num_videos, args.seconds)
        rows = []
        for name in args.models.split(","):
            model, processor, plan = build(name, dtype)
            size = MODELS[name]["size"]
            decode_rate, clips = decode_only(processor, plan, videos, args.batch_size, workers)
            model_rate = model_only(model, plan, size, args.batch_size, args.repeats, dtype, args.device)
            e2e_rate, e2e_clips = end_to_end(
                model, processor, plan, videos, args.batch_size, workers, dtype, args.device
            )
            assert e2e_clips == clips, (e2e_clips, clips)
            bound = "model" if model_rate < decode_rate else "decode"
            peer = model_rate if bound == "model" else decode_rate
            target = 0.9 if name == "swin-t" else 0.8
            rows.append(
                {
                    "model": name, "clips": clips, "decode_only": decode_rate, "model_only": model_rate,
                    "end_to_end": e2e_rate, "bound": bound, "e2e_vs_bound": e2e_rate / peer,
                    "e2e_vs_model": e2e_rate / model_rate, "e2e_vs_decode": e2e_rate / decode_rate, "target": target,
                }
            )  # fmt: skip
        print()
        print("| model | clips | decode-only clips/s | model-only clips/s | end-to-end clips/s | bound by "
              "| e2e / model-only | e2e / decode-only | target |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            ref = "model-only" if r["model"] == "swin-t" else "decode-only"
            print(
                f"| {r['model']} | {r['clips']} | {r['decode_only']:.2f} | {r['model_only']:.2f} | "
                f"{r['end_to_end']:.2f} | {r['bound']} | {r['e2e_vs_model']:.2f} | {r['e2e_vs_decode']:.2f} | "
                f">= {r['target']:.2f} of {ref} |"
            )
        memory = []
        for count in memory_counts:
            # the same files listed again count as further videos (each gets its own output)
            peak = peak_memory([videos[i % len(videos)] for i in range(count)], args.batch_size, workers)
            memory.append({"videos": count, **peak})
        print()
        print(
            "| videos (tiny, end to end) | peak RSS main MiB | peak RSS workers MiB | peak RssAnon workers MiB "
            "| main vs fewest videos | workers' RssAnon vs fewest videos |"
        )
        print("|---|---|---|---|---|---|")
        for m in memory:
            ratio = m["main_mib"] / memory[0]["main_mib"]
            anon = m["workers_anon_mib"] / max(memory[0]["workers_anon_mib"], 1e-9)
            print(
                f"| {m['videos']} | {m['main_mib']:.0f} | {m['workers_mib']:.0f} | {m['workers_anon_mib']:.0f} "
                f"| {ratio:.2f} | {anon:.2f} |"
            )
        trims = []
        if args.trim_videos:
            short = make_videos(videos_dir / "short", args.trim_videos, 2.0)
            trims = trim_policies(short, 1, max(workers, 1), 1 if args.quick else 3)
            print()
            print(f"| decoding workers' freed heap ({args.trim_videos} videos of 2 s, tiny) | decode-only clips/s "
                  "| vs default |")  # fmt: skip
            print("|---|---|---|")
            for t in trims:
                print(f"| {t['policy']} | {t['decode_only']:.1f} | {t['vs_default']:.2f} |")
    result = {"workers": workers, "rows": rows, "memory": memory, "trim": trims, "dtype": args.dtype}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
