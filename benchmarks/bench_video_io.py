"""Video input throughput vs model throughput.

Writes a 640x360 H.264 mp4 (PyAV, ``--seconds`` at 30 fps, keyframe every ``--gop`` frames), then measures clips per
second of open + sample + decode + preprocess of official single-view Kinetics clips (32 frames at interval 2, short
side 224, center crop 224, normalised) with torchcodec and with PyAV, and the clips per second of a Swin-T forward
pass (random weights, 32x224x224, float32) on the same machine.

    python benchmarks/bench_video_io.py [--threads 2] [--repeats 5] [--skip-model] [--bf16]

The input side must not starve the model: decoding one clip must cost less than one Swin-T forward pass.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification, VideoSwinVideoProcessor
from transformers_videoswin.processing.decoding import open_video, torchcodec_available
from transformers_videoswin.processing.sampling import sample_kinetics_indices
from transformers_videoswin.testing.utils import write_test_video


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median seconds per call over ``repeats`` calls (after one warm-up call)."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_backend(path: Path, backend: str, repeats: int, clip_offsets: list[int]) -> dict:
    processor = VideoSwinVideoProcessor(decode_backend=backend)
    num_video_frames = open_video(path, backend=backend).num_frames
    # vary the clip position like a data loader would (training offsets), deterministically
    state = {"i": 0}

    def next_indices():
        offset = clip_offsets[state["i"] % len(clip_offsets)]
        state["i"] += 1
        return (offset + np.arange(32) * 2) % num_video_frames

    def decode_only():
        with open_video(path, backend=backend) as reader:
            return reader.get_frames(next_indices())

    def full():
        # the whole input path of the processor: open, index, sample (official test protocol), decode, preprocess
        return processor(str(path), num_frames=32, frame_interval=2, return_tensors="pt")["pixel_values"]

    frames = decode_only()
    decode_s, _ = timed(decode_only, repeats)
    preprocess_s, _ = timed(lambda: processor(frames, return_tensors="pt")["pixel_values"], repeats)
    full_s, pixel_values = timed(full, repeats)
    assert pixel_values.shape == (1, 32, 3, 224, 224), pixel_values.shape
    return {"backend": backend, "decode": decode_s, "preprocess": preprocess_s, "full": full_s}


def bench_model(repeats: int, dtype: torch.dtype) -> float:
    config = VideoSwinConfig()  # Swin-T, K400 head
    model = VideoSwinForVideoClassification(config).eval().to(dtype)
    pixel_values = torch.randn(1, 32, 3, 224, 224, dtype=dtype)
    with torch.inference_mode():
        seconds, _ = timed(lambda: model(pixel_values=pixel_values).logits, repeats)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per measurement (median)")
    parser.add_argument("--model-repeats", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the test video at 30 fps")
    parser.add_argument("--gop", type=int, default=30, help="keyframe interval of the test video")
    parser.add_argument("--pattern", default="noisy", help="test video content (testing_utils.PATTERNS)")
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="also time the model in bfloat16")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_640x360.mp4"
        start = time.perf_counter()
        num_frames = int(args.seconds * 30)
        write_test_video(path, num_frames, 360, 640, fps=30, pattern=args.pattern, gop_size=args.gop, crf=23)
        mbps = path.stat().st_size * 8 / 1e6 / args.seconds
        print(
            f"test video: {num_frames} frames 640x360 H.264 (gop {args.gop}, {args.pattern}, {mbps:.2f} Mbit/s), "
            f"written in {time.perf_counter() - start:.1f}s; torch threads {torch.get_num_threads()}"
        )
        offsets = sample_kinetics_indices(num_frames, 32, 2, num_clips=8, test_mode=True)[:, 0].tolist()
        backends = (["torchcodec"] if torchcodec_available() else []) + ["pyav"]
        rows = [bench_backend(path, backend, args.repeats, offsets) for backend in backends]

    model_rows = []
    if not args.skip_model:
        model_rows.append(("Swin-T forward fp32", bench_model(args.model_repeats, torch.float32)))
        if args.bf16:
            model_rows.append(("Swin-T forward bf16", bench_model(args.model_repeats, torch.bfloat16)))

    print()
    print("32-frame 224x224 clips (official single view: 32 x interval 2, short side 224, center crop)")
    header = f"{'input path':<28}{'decode ms':>11}{'preprocess ms':>15}{'total ms':>11}{'clips/s':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['backend'] + ' (open+decode+prep)':<28}{row['decode'] * 1e3:>11.1f}{row['preprocess'] * 1e3:>15.1f}"
            f"{row['full'] * 1e3:>11.1f}{1 / row['full']:>10.2f}"
        )
    for name, seconds in model_rows:
        print(f"{name:<28}{'':>11}{'':>15}{seconds * 1e3:>11.1f}{1 / seconds:>10.2f}")
    if model_rows:
        model_s = model_rows[0][1]
        print()
        for row in rows:
            verdict = "OK" if row["full"] < model_s else "SLOWER THAN THE MODEL"
            print(
                f"{row['backend']}: one clip costs {row['full'] / model_s:.2f}x a Swin-T fp32 forward "
                f"(decode alone {row['decode'] / model_s:.2f}x) -> {verdict}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
