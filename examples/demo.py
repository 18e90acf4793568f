#!/usr/bin/env python
"""The demo: teach a small Video Swin a task that only time can solve, on 2 CPU cores, in a few minutes.

1. Generates (once) a labelled dataset of real H.264 mp4 clips plus a parquet index in the Hub layout
   (`examples/synthetic_videos.py`): a textured object slides over a static background; the four classes
   (move_left, move_right, zigzag_left, zigzag_right) show the same set of frames in a different order.
2. Fine-tunes a small Video Swin with `examples/run_video_classification.py` twice, side by side (one thread each):
   on the clips as they are, and on the same clips with the frames shuffled inside each clip (train and test).
3. Evaluates both on the held-out test split and classifies a few test videos with
   `pipeline("video-classification")` from the saved model directory.
4. Makes a long video that chains the four motions and draws its timeline (`timeline.png`): sliding-window
   classification with the engine behind `videoswin classify --window` / `videoswin timeline`, against the true
   segments.

The run on ordered frames should reach >= 0.9 accuracy while the shuffled run stays near chance (0.25): the model
reads the order of the frames, not their content. Prints `eval accuracy: X` as its last line.

    python examples/demo.py --output-dir demo_output
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "run_video_classification.py"

# A Video Swin sized to the task: 8 frames of 32x32 give 4x8x8 tokens; windows cover 4x4x4 tokens.
CONFIG_OVERRIDES = (
    "embed_dim=32,depths=[1,1,2,1],num_heads=[1,2,4,8],window_size=[4,4,4],"
    "drop_path_rate=0.0,classifier_dropout_prob=0.0,use_exact_relative_position_index=True"
)


def training_command(data_dir: Path, output_dir: Path, args: argparse.Namespace, shuffle: bool) -> list[str]:
    command = [
        sys.executable,
        str(SCRIPT),
        "--dataset_name", str(data_dir),
        "--eval_split_name", "test",
        "--config_name", "tiny",
        "--config_overrides", CONFIG_OVERRIDES,
        # Kinetics-style sampling of every frame (stride 1, 8 of 8) and no flip: flipping swaps left and right.
        "--recipe", "kinetics",
        "--num_frames", "8",
        "--frame_interval", "1",
        "--image_size", "32",
        "--resize_ratio", "1.0",
        "--crop_min_scale", "0.5",
        "--flip_prob", "0",
        "--learning_rate", str(args.learning_rate),
        "--weight_decay", "0.05",
        "--lr_scheduler_type", "cosine",
        "--warmup_steps", "0.1",
        "--max_steps", str(args.max_steps),
        "--per_device_train_batch_size", str(args.batch_size),
        "--per_device_eval_batch_size", "50",
        "--output_dir", str(output_dir),
        "--do_train",
        "--do_eval",
        "--eval_strategy", "no",
        "--save_strategy", "no",
        "--logging_steps", "50",
        "--seed", str(args.seed),
        "--use_cpu",
        "--report_to", "none",
        "--disable_tqdm", "true",
        "--dataloader_num_workers", "0",
    ]  # fmt: skip
    if shuffle:
        command.append("--shuffle_frames")
    return command


def run_side_by_side(jobs: dict[str, tuple[list[str], Path]], threads: int) -> dict[str, int]:
    """Start every job at once (each with `threads` intra-op threads), stream a progress line per log entry."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    processes = {}
    for name, (command, log_path) in jobs.items():
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = log_path.open("w")
        processes[name] = (subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env), handle)
        print(f"[{name}] started, log: {log_path}", flush=True)
    seen = dict.fromkeys(jobs, 0)
    while True:
        done = True
        for name, (process, _) in processes.items():
            lines = jobs[name][1].read_text(errors="replace").splitlines()
            for line in lines[seen[name] :]:
                if "'loss'" in line or "Error" in line:
                    print(f"[{name}] {line.strip()[-120:]}", flush=True)
            seen[name] = len(lines)
            done &= process.poll() is not None
        if done:
            break
        time.sleep(2)
    codes = {}
    for name, (process, handle) in processes.items():
        handle.close()
        codes[name] = process.returncode
    return codes


def classify_with_pipeline(model_dir: Path, data_dir: Path, count: int = 4) -> list[tuple[str, str, float]]:
    from synthetic_videos import CLASS_NAMES
    from transformers import pipeline

    import transformers_videoswin  # noqa: F401  (registers the Video Swin classes with the Auto API)

    classifier = pipeline("video-classification", model=str(model_dir), device="cpu")
    rows = []
    for name in CLASS_NAMES[:count]:
        video = sorted((data_dir / "videos" / "test" / name).glob("*.mp4"))[0]
        top = classifier(str(video), top_k=1)[0]
        rows.append((video.relative_to(data_dir).as_posix(), top["label"], float(top["score"])))
    return rows


TIMELINE_SEQUENCE = ("move_right", "zigzag_left", "move_left", "zigzag_right")


def draw_timeline(model_dir: Path, output_dir: Path, fps: int = 8) -> tuple[Path, float]:
    """Chain the motions into one long video, classify 8-frame windows every 2 frames, plot against the truth.
    Returns the PNG and the fraction of windows lying inside one segment whose top-1 class is right."""
    import numpy as np
    from synthetic_videos import encode_mp4, render_long_video
    from transformers import AutoModelForVideoClassification, AutoVideoProcessor

    from transformers_videoswin.data import file_entries
    from transformers_videoswin.inference import ClipPlan, run_inference
    from transformers_videoswin.inference.timeline import plot_timeline

    frames, segments = render_long_video(TIMELINE_SEQUENCE, passes_per_class=3, seed=1)
    video = output_dir / "long_video.mp4"
    video.write_bytes(encode_mp4(frames, fps=fps))
    model = AutoModelForVideoClassification.from_pretrained(model_dir)
    processor = AutoVideoProcessor.from_pretrained(model_dir)
    _, sink = run_inference(
        model, processor, ClipPlan(window=8, stride=2), file_entries([str(video)]), task="classify"
    )
    tensors = sink.results[0].tensors
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    start, end = tensors["start_time"].numpy(), tensors["end_time"].numpy()
    truth = [(a / fps, b / fps, name) for a, b, name in segments]
    png = plot_timeline(
        tensors["probs"].numpy(), start, end, labels, output_dir / "timeline.png", top_k=4, truth=truth,
        title=f"{video.name}: {len(frames)} frames at {fps} fps, 8-frame windows every 2 frames",
    )  # fmt: skip
    top1 = [labels[i] for i in tensors["probs"].argmax(-1).tolist()]
    inside = [(s, e, p) for s, e, p in zip(start, end, top1) if any(a <= s and e <= b for a, b, _ in truth)]
    correct = [p == next(n for a, b, n in truth if a <= s and e <= b) for s, e, p in inside]
    return png, float(np.mean(correct)) if correct else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="demo_output", type=Path)
    parser.add_argument("--num-train", type=int, default=1000)
    parser.add_argument("--num-test", type=int, default=200)
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="Intra-op threads per training run (two run at once).")
    parser.add_argument("--no-shuffled-control", action="store_true", help="Skip the run on shuffled frames.")
    args = parser.parse_args()

    start = time.time()
    output_dir = args.output_dir.resolve()
    data_dir = output_dir / "data"

    from synthetic_videos import SyntheticVideoSpec, generate_synthetic_dataset

    spec = SyntheticVideoSpec(
        num_train=args.num_train, num_validation=0, num_test=args.num_test, num_frames=8, size=32
    )
    print(f"Dataset: {data_dir} ({spec.num_train} train / {spec.num_test} test clips of 8 frames, 32x32)", flush=True)
    generate_synthetic_dataset(data_dir, spec)
    print(f"  ready after {time.time() - start:.0f}s", flush=True)

    # datasets caches a local folder by its name and config, not its content: a cache made from another folder also
    # called "data" (the demo test's 8 clips) would be reused silently. A cache of the demo's own keeps it honest.
    os.environ["HF_DATASETS_CACHE"] = str(output_dir / "datasets_cache")
    runs = {"ordered": False} if args.no_shuffled_control else {"ordered": False, "shuffled": True}
    jobs = {
        name: (training_command(data_dir, output_dir / f"model_{name}", args, shuffle), output_dir / f"{name}.log")
        for name, shuffle in runs.items()
    }
    codes = run_side_by_side(jobs, args.threads)
    failed = {name: code for name, code in codes.items() if code != 0}
    if failed:
        for name in failed:
            print(f"[{name}] failed; the end of its log:\n" + "\n".join(jobs[name][1].read_text().splitlines()[-30:]))
        raise SystemExit(f"Training failed: {failed}")

    results = {name: json.loads((output_dir / f"model_{name}" / "all_results.json").read_text()) for name in runs}
    print(f"\nTraining finished after {time.time() - start:.0f}s", flush=True)

    print("\npipeline('video-classification') on held-out test videos:", flush=True)
    for path, label, score in classify_with_pipeline(output_dir / "model_ordered", data_dir):
        print(f"  {path:<45} -> {label} ({score:.2f})", flush=True)

    png, timeline_accuracy = draw_timeline(output_dir / "model_ordered", output_dir)
    print(f"\nTimeline of a long video chaining {', '.join(TIMELINE_SEQUENCE)}: {png}")
    print(f"  windows inside one motion with the right top-1 class: {timeline_accuracy:.2f}", flush=True)

    accuracy = results["ordered"]["eval_top1_accuracy"]
    print(f"\nHeld-out accuracy, frames in order:           {accuracy:.3f}")
    if "shuffled" in results:
        print(
            f"Held-out accuracy, frames shuffled per clip:  {results['shuffled']['eval_top1_accuracy']:.3f} "
            f"(chance: {1 / len(spec.class_names):.2f})"
        )
    print(f"Confusion matrix: {output_dir / 'model_ordered' / 'confusion_matrix.png'}")
    print(f"Model directory:  {output_dir / 'model_ordered'}")
    print(f"Total wall time:  {time.time() - start:.0f}s")
    print(f"eval accuracy: {accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main()
