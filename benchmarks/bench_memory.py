"""Peak memory of `videoswin classify` on a large (4K) video, against its peers in the same run.

    python benchmarks/bench_memory.py                 # 3-second 3840x2160 clip, Swin-T (random weights), 1x1 and 4x3
    python benchmarks/bench_memory.py --quick         # smoke run: a small clip and a tiny model

Every run is the real command line (`python -m transformers_videoswin.cli classify VIDEO --model DIR --views V`) in
a fresh process; nothing is downloaded: the clip is made with ffmpeg (`testsrc2`, libx264) and the model is saved
from the package's own Swin-T configuration with random weights. Peers, each run the same way:

- the same command on a 224p clip of the same length (the memory that decoding costs nothing extra: the floor);
- the same command with frames decoded at full resolution and resized afterwards (`decode_resize: false` in the
  saved processor, the behaviour before resizing moved into decoding);
- the same clips loaded as one training sample (`ClipLoader` with the Kinetics recipe's augmentation, as the
  training script loads them), resized while decoding and decoded whole;
- the large clip again at other `--batch-size` values (`--extra-batch-sizes`, default 8 and 2; the command's
  default on the CPU is as many clips as fit in 32 MiB, one Swin-T clip, since bigger batches of large clips are no
  faster there): once decoding is resized, the peak is the
  model's forward pass over a batch of clips, on top of the process's imports (torch alone is about 500 MiB) and the
  views of the video (12 views of 32 frames at 224x224 in float32: 231 MB).

Memory is the peak resident set of the command: its own peak (`ru_maxrss` from `wait4` in a small launcher
process, which covers the command and any decoding workers it waited for, whichever peaked highest), and the peak of
the whole process tree's proportional set size sampled every 20 ms (with `--num-workers` > 0 the workers are forked
and share pages with the main process, so plain RSS sums would count those twice). Target: at most 1.5 GB for `--views 4x3` on the 4K clip.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_MIB = 1500 * 1000**2 / 2**20  # 1.5 GB
SAMPLE_S = 0.02


def make_clip(path: Path, width: int, height: int, seconds: float, fps: int = 30) -> Path:
    """An H.264 clip of ffmpeg's `testsrc2` pattern (moving, textured), `width` x `height`."""
    if not path.is_file():
        source = f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset",
             "ultrafast", "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )  # fmt: skip
    return path


MODEL_DIRS = {"resize while decoding": "model", "decode full, then resize": "model-decode-full"}


def save_models(directory: Path, variant: str) -> dict[str, Path]:
    """The model twice: with the default processor (resize while decoding) and with `decode_resize=False` (saved by
    a child process: this one never imports torch)."""
    if not all((directory / name).is_dir() for name in MODEL_DIRS.values()):
        subprocess.run([sys.executable, __file__, "--_save-models", str(directory), variant], check=True)
    return {how: directory / name for how, name in MODEL_DIRS.items()}


def _save_models_child(directory: Path, variant: str) -> None:
    import torch

    from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification, VideoSwinVideoProcessor

    if variant == "tiny-test":  # smoke runs: a 4-stage model with very few channels
        config = VideoSwinConfig(
            embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), window_size=(2, 4, 4), num_frames=8,
            image_size=64, num_labels=5,
        )  # fmt: skip
    else:
        config = VideoSwinConfig.from_variant(variant, num_labels=400)
    torch.manual_seed(0)
    model = VideoSwinForVideoClassification(config).eval()
    size = config.image_size
    for how, name in MODEL_DIRS.items():
        model.save_pretrained(directory / name)
        VideoSwinVideoProcessor(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size},
            num_frames=config.num_frames, decode_resize=how == "resize while decoding",
        ).save_pretrained(directory / name)  # fmt: skip


def _load_train_clip_child(video: str, decode_resize: bool) -> None:
    """Load one training clip of `video` (the Kinetics recipe: 32 frames, random resized crop to 224) the way the
    training script does, and print its shape."""
    import datasets

    from transformers_videoswin.training import (
        ClipLoader,
        CorruptVideoTracker,
        VideoClipDataset,
        build_train_transform,
        get_recipe,
        make_index_sampler,
    )

    recipe = get_recipe("kinetics")
    loader = ClipLoader(
        "video", "label", make_index_sampler(recipe, train=True), build_train_transform(recipe),
        decode_resize=decode_resize,
    )  # fmt: skip
    rows = datasets.Dataset.from_dict({"video": [{"bytes": None, "path": video}], "label": [0]})
    clip = VideoClipDataset(rows, loader, CorruptVideoTracker())[0]["pixel_values"]
    print(json.dumps([list(clip.shape)]))


def train_clip_command(video: Path, decode_resize: bool) -> list[str]:
    return [sys.executable, __file__, "--_train-clip", str(video), "1" if decode_resize else "0"]


def _tree_pss_mib(root, skip_root: bool = False) -> float:
    """Proportional set size of `root`'s descendants (and `root`, unless `skip_root`), MiB."""
    import psutil

    total = 0
    try:
        processes = [*([] if skip_root else [root]), *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return 0.0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return total / 2**20


def _run_measured(result_path: str, command: list[str]) -> None:
    """Runs `command` (its output goes to ours) and writes its exit code and `ru_maxrss` (KiB) to `result_path`.

    A child's `ru_maxrss` starts from its parent's peak: the kernel carries the high-water mark across fork and
    exec. This small, freshly started process is the parent, so that the peak is the command's own whatever process
    runs the benchmark (a test runner that imported torch, say)."""
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)  # the command's own rusage (Popen.wait would discard it)
    Path(result_path).write_text(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]))


def peak_memory(command: list[str]) -> dict:
    """Runs `command`; returns its peak RSS (`ru_maxrss` of the process and its waited-for children, whichever
    peaked highest, MiB), the sampled peak PSS of its process tree (MiB), the wall time and its standard output."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        result_path, out_path, err_path = (Path(tmp) / name for name in ("result.json", "stdout", "stderr"))
        launcher = [sys.executable, __file__, "--_run-measured", str(result_path), *command]
        with open(out_path, "w") as stdout, open(err_path, "w") as stderr:
            process = subprocess.Popen(launcher, stdout=stdout, stderr=stderr)
            root = psutil.Process(process.pid)
            peak_pss, done = [0.0], threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak_pss[0] = max(peak_pss[0], _tree_pss_mib(root, skip_root=True))
                    time.sleep(SAMPLE_S)

            sampler = threading.Thread(target=sample, daemon=True)
            start = time.perf_counter()
            sampler.start()
            process.wait()
            done.set()
            sampler.join()
            seconds = time.perf_counter() - start
        returncode, maxrss_kib = json.loads(result_path.read_text()) if result_path.is_file() else (None, 0)
        stdout, stderr = out_path.read_text(), err_path.read_text()
    if returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({returncode}):\n{stderr[-3000:]}")
    return {"peak_rss_mib": maxrss_kib / 1024, "peak_pss_mib": peak_pss[0], "seconds": seconds, "stdout": stdout}


def classify_command(video: Path, model_dir: Path, views: str, workers: int, batch_size: int | None) -> list[str]:
    """The command line; `batch_size` None leaves `--batch-size` at the command's default."""
    return [
        sys.executable, "-m", "transformers_videoswin.cli", "classify", str(video), "--model", str(model_dir),
        "--views", views, "--num-workers", str(workers), "--device", "cpu", "--no-progress", "--json",
        *([] if batch_size is None else ["--batch-size", str(batch_size)]),
    ]  # fmt: skip


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_run-measured"]:  # the launcher of `peak_memory`
        _run_measured(argv[1], argv[2:])
        return {}
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: a 1-second 640x360 clip, a tiny model")
    parser.add_argument("--variant", default="tiny", help="VideoSwinConfig.from_variant name (default: Swin-T)")
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--peer-height", type=int, default=224, help="height of the small peer clip")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--views", default="1x1,4x3")
    parser.add_argument("--num-workers", type=int, default=0, help="decoding workers of the command (0: in-process)")
    parser.add_argument("--batch-size", type=int, default=None, help="clips per forward pass (default: the command's)")
    parser.add_argument(
        "--extra-batch-sizes", default="8,2", help="also run the large clip at these batch sizes (comma-separated)"
    )
    parser.add_argument("--work-dir", default=None, help="keep the clips and models here (default: a temp dir)")
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--no-training",
        action="store_true",
        help="skip the training rows (one augmented clip, as the Trainer loads it)",
    )
    parser.add_argument("--_save-models", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_train-clip", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._save_models:
        _save_models_child(Path(args._save_models[0]), args._save_models[1])
        return {}
    if args._train_clip:
        _load_train_clip_child(args._train_clip[0], args._train_clip[1] == "1")
        return {}
    if args.quick:
        args.variant, args.width, args.height, args.peer_height, args.seconds = "tiny-test", 640, 360, 64, 1.0
    if shutil.which("ffmpeg") is None:
        raise SystemExit("bench_memory.py makes its clips with the ffmpeg command line; install ffmpeg.")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *argv])}")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        peer_width = round(args.peer_height * args.width / args.height / 2) * 2
        large = make_clip(work / f"clip-{args.width}x{args.height}.mp4", args.width, args.height, args.seconds)
        small = make_clip(
            work / f"clip-{peer_width}x{args.peer_height}.mp4", peer_width, args.peer_height, args.seconds
        )
        models = save_models(work / args.variant, args.variant)
        extra = [int(size) for size in args.extra_batch_sizes.split(",") if size]
        runs = [
            (f"{args.width}x{args.height}", large, "resize while decoding", args.batch_size),
            (f"{peer_width}x{args.peer_height} (peer)", small, "resize while decoding", args.batch_size),
            (f"{args.width}x{args.height}", large, "decode full, then resize", args.batch_size),
        ] + [(f"{args.width}x{args.height}", large, "resize while decoding", size) for size in extra]
        rows = []
        for views in args.views.split(","):
            base = None
            for clip_name, video, how, batch_size in runs:
                command = classify_command(video, models[how], views, args.num_workers, batch_size)
                measured = peak_memory(command)
                results = json.loads(measured.pop("stdout"))  # one record per video
                if len(results) != 1 or results[0].get("error"):
                    raise RuntimeError(f"classify did not classify {video}: {results}")
                batch = "default" if batch_size is None else f"{batch_size}"
                row = {"views": views, "clip": clip_name, "decoding": how, "batch_size": batch, **measured}
                base = base or row
                row["rss_vs_4k"] = row["peak_rss_mib"] / base["peak_rss_mib"]
                rows.append(row)
        training = [
            (f"{args.width}x{args.height}", large, True),
            (f"{peer_width}x{args.peer_height} (peer)", small, True),
            (f"{args.width}x{args.height}", large, False),
        ]
        base = None
        for clip_name, video, decode_resize in [] if args.no_training else training:
            measured = peak_memory(train_clip_command(video, decode_resize))
            if json.loads(measured.pop("stdout")) != [[32, 3, 224, 224]]:
                raise RuntimeError(f"the training loader did not load a 32x224x224 clip of {video}")
            how = "resize while decoding" if decode_resize else "decode full, then resize"
            row = {"views": "training clip", "clip": clip_name, "decoding": how, "batch_size": "-", **measured}
            base = base or row
            row["rss_vs_4k"] = row["peak_rss_mib"] / base["peak_rss_mib"]
            rows.append(row)

    print(f"\nswin variant: {args.variant}, {args.seconds:g} s clips, --num-workers {args.num_workers}\n")
    print(
        "| views | clip | decoding | --batch-size | peak RSS MiB | peak PSS of process tree MiB | vs first row of the "
        "views | s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['views']} | {r['clip']} | {r['decoding']} | {r['batch_size']} | {r['peak_rss_mib']:.0f} | "
            f"{r['peak_pss_mib']:.0f} | {r['rss_vs_4k']:.2f} | {r['seconds']:.1f} |"
        )
    print()
    for r in rows:
        if r["views"] == "4x3" and r["decoding"] == "resize while decoding" and "peer" not in r["clip"]:
            verdict = "met" if r["peak_rss_mib"] <= TARGET_MIB else "NOT met"
            print(
                f"target: peak RSS <= 1.5 GB ({TARGET_MIB:.0f} MiB) for --views 4x3 at --batch-size {r['batch_size']}: "
                f"{r['peak_rss_mib']:.0f} MiB, {verdict}"
            )
    result = {"rows": rows, "variant": args.variant}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
