"""A small labelled video dataset whose classes are only visible through time (for the demo and the tests).

Every clip shows a textured object sliding horizontally over a static textured background. The four classes visit
exactly the same set of positions, only in a different order:

- ``move_left``: right to left at constant speed;
- ``move_right``: left to right at constant speed;
- ``zigzag_right``: jumps forward and steps back, drifting right (positions 0, 4, 1, 5, 2, 6, 3, 7 for 8 frames);
- ``zigzag_left``: the same path mirrored in time (7, 3, 6, 2, 5, 1, 4, 0).

Every pair of consecutive frames moves the object by a class-specific signed amount (small right, small left, big
right, big left), which a 2-frame temporal patch sees directly. Sample the frames exactly (all frames of the video,
stride 1, no horizontal flip: flipping swaps left and right).

So the multiset of frames of a clip has the same distribution in every class: a model that looks at frames one by
one, or at a clip whose frames were shuffled, cannot do better than chance (0.25), while a model that uses the frame
order can solve the task. Clips are written as real H.264 mp4 files (PyAV / libx264) in a ``videofolder`` layout, and
the same videos are embedded in parquet files laid out like a dataset on the Hugging Face Hub (``data/<split>-*.parquet``
plus a ``README.md`` whose YAML header names the splits and features), so ``load_dataset(path)`` reads it. An
mmaction-style annotation list (``<relative path> <label>`` per line) is written for each split as well.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from transformers_videoswin.file_utils import atomic_write

CLASS_NAMES: tuple[str, ...] = ("move_left", "move_right", "zigzag_left", "zigzag_right")
SPLITS: tuple[str, ...] = ("train", "validation", "test")
_MARKER = "synthetic_dataset.json"


@dataclass
class SyntheticVideoSpec:
    """Parameters of the generated dataset; stored next to it so an existing copy is reused only when they match."""

    num_train: int = 400
    num_validation: int = 100
    num_test: int = 100
    num_frames: int = 8
    size: int = 32
    fps: int = 8
    seed: int = 0
    class_names: tuple[str, ...] = field(default_factory=lambda: CLASS_NAMES)
    version: int = 4

    def to_dict(self) -> dict:
        data = asdict(self)
        data["class_names"] = list(self.class_names)
        return data


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 3) -> np.ndarray:
    """A random smooth texture in [0, 1]: a coarse random grid upsampled bilinearly to `size` x `size`."""
    coarse = rng.random((cells + 1, cells + 1, channels))
    pos = np.linspace(0, cells, size)
    i0 = np.clip(np.floor(pos).astype(int), 0, cells - 1)
    frac = pos - i0
    rows = coarse[i0] * (1 - frac)[:, None, None] + coarse[i0 + 1] * frac[:, None, None]
    out = rows[:, i0] * (1 - frac)[None, :, None] + rows[:, i0 + 1] * frac[None, :, None]
    return out


def _object_texture(rng: np.random.Generator, obj: int) -> np.ndarray:
    """A bright, non-periodic texture with a dark outline, `obj` x `obj` x 3 in [0, 1].

    A periodic texture (a checkerboard) would make small displacements ambiguous (a shift by half a period looks
    like a shift the other way); a smooth random texture with an outline has one unambiguous motion.
    """
    texture = 0.55 + 0.45 * _smooth_noise(rng, obj, cells=2)
    texture[[0, -1], :] = 0.0
    texture[:, [0, -1]] = 0.0
    return texture


def trajectory_order(class_name: str, num_frames: int) -> np.ndarray:
    """The order in which a clip of `class_name` visits the positions 0 .. num_frames-1 (left to right)."""
    forward = np.arange(num_frames)
    half = (num_frames + 1) // 2
    zigzag = np.empty(num_frames, dtype=forward.dtype)
    zigzag[0::2], zigzag[1::2] = forward[:half], forward[half:]  # 0, 4, 1, 5, 2, 6, 3, 7
    orders = {
        "move_right": forward,
        "move_left": forward[::-1],
        "zigzag_right": zigzag,
        "zigzag_left": (num_frames - 1) - zigzag,
    }
    if class_name not in orders:
        raise ValueError(f"Unknown class {class_name!r}; expected one of {sorted(orders)}.")
    return orders[class_name]


def render_clip(class_name: str, rng: np.random.Generator, num_frames: int = 8, size: int = 32) -> np.ndarray:
    """One clip of `class_name` as uint8 [num_frames, size, size, 3]."""
    background = _smooth_noise(rng, size, cells=int(rng.integers(3, 7))) * 0.3 + 0.2
    obj = int(rng.integers(size // 4, size // 3 + 2))
    texture = _object_texture(rng, obj)
    # Constant step between neighbouring positions; the path may leave the frame by up to half the object.
    max_span = size - obj + obj // 2
    step = float(rng.uniform(0.7, 1.0)) * max_span / max(num_frames - 1, 1)
    span = step * (num_frames - 1)
    x_start = float(rng.uniform(-obj / 4, size - obj + obj / 4 - span))
    y = int(rng.integers(0, size - obj + 1))
    positions = x_start + step * trajectory_order(class_name, num_frames)
    frames = np.empty((num_frames, size, size, 3), dtype=np.float64)
    for t, x in enumerate(positions):
        frame = background.copy()
        x0 = int(round(x))
        lo, hi = max(x0, 0), min(x0 + obj, size)
        if hi > lo:
            frame[y : y + obj, lo:hi] = texture[:, lo - x0 : hi - x0]
        frames[t] = frame
    noise = rng.normal(0, 0.02, frames.shape)
    return np.clip((frames + noise) * 255.0, 0, 255).round().astype(np.uint8)


def encode_mp4(frames: np.ndarray, fps: int = 8, crf: int = 12) -> bytes:
    """Encode uint8 [T, H, W, 3] RGB frames (H, W even) as an H.264 mp4 (yuv420p) in memory."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = int(frames.shape[2])
        stream.height = int(frames.shape[1])
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def render_long_video(
    class_sequence: list[str] | tuple[str, ...],
    passes_per_class: int = 3,
    num_frames: int = 8,
    size: int = 32,
    seed: int = 0,
) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """A long video chaining the motions: ``passes_per_class`` clips of every class of ``class_sequence`` in turn.

    Returns uint8 frames ``[len(class_sequence) * passes_per_class * num_frames, size, size, 3]`` and the true
    segments ``(first_frame, end_frame, class_name)`` (end exclusive), one per class of the sequence.
    """
    rng = np.random.default_rng(seed)
    clips, segments = [], []
    for class_name in class_sequence:
        start = len(clips) * num_frames
        clips += [render_clip(class_name, rng, num_frames=num_frames, size=size) for _ in range(passes_per_class)]
        segments.append((start, len(clips) * num_frames, class_name))
    return np.concatenate(clips), segments


def _dataset_card(spec: SyntheticVideoSpec) -> str:
    names = "\n".join(f"          '{i}': {name}" for i, name in enumerate(spec.class_names))
    splits = "\n".join(
        f"  - split: {split}\n    path: data/{split}-*.parquet" for split in SPLITS if _split_size(spec, split) > 0
    )
    return f"""---
license: cc0-1.0
task_categories:
- video-classification
dataset_info:
  features:
  - name: video
    dtype: video
  - name: label
    dtype:
      class_label:
        names:
{names}
configs:
- config_name: default
  data_files:
{splits}
---

# Synthetic motion-order dataset

Generated by `examples/synthetic_videos.py` ({json.dumps(spec.to_dict())}).
Each {spec.size}x{spec.size} clip of {spec.num_frames} frames shows a textured object sliding horizontally over a
static background. The classes ({", ".join(spec.class_names)}) visit the same positions in a different order, so
only the order of the frames tells them apart: shuffling the frames of a clip makes the task impossible.

Layout: `data/<split>-00000-of-00001.parquet` (video bytes + label, the Hub layout), `videos/<split>/<class>/*.mp4`
(a `videofolder`), `<split>_list.txt` (mmaction annotation lists: `videos/<split>/<class>/<file> <label>`).
"""


def _split_size(spec: SyntheticVideoSpec, split: str) -> int:
    return {"train": spec.num_train, "validation": spec.num_validation, "test": spec.num_test}[split]


def _existing_spec(root: Path) -> dict | None:
    marker = root / _MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def generate_synthetic_dataset(
    output_dir: str | os.PathLike, spec: SyntheticVideoSpec | None = None, **kwargs
) -> Path:
    """Write the dataset to `output_dir` (if it is not already there with the same parameters) and return its path.

    The directory is built in a temporary sibling and renamed into place, so an interrupted run never leaves a
    half-written dataset that a later run would mistake for a complete one.
    """
    import datasets

    spec = spec or SyntheticVideoSpec(**kwargs)
    root = Path(output_dir)
    if _existing_spec(root) == spec.to_dict():
        return root
    if root.exists():  # made with another spec
        shutil.rmtree(root)

    def write(tmp: Path) -> None:
        tmp.mkdir()
        rng = np.random.default_rng(spec.seed)
        features = datasets.Features(
            {"video": datasets.Video(), "label": datasets.ClassLabel(names=list(spec.class_names))}
        )
        (tmp / "data").mkdir()
        for split in SPLITS:
            if _split_size(spec, split) == 0:
                continue
            records, lines = {"video": [], "label": []}, []
            # Balanced classes, in a shuffled order.
            labels = np.arange(_split_size(spec, split)) % len(spec.class_names)
            rng.shuffle(labels)
            for index, label in enumerate(labels):
                name = spec.class_names[int(label)]
                clip = render_clip(name, rng, num_frames=spec.num_frames, size=spec.size)
                data = encode_mp4(clip, fps=spec.fps)
                relative = f"videos/{split}/{name}/{split}_{index:05d}.mp4"
                (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
                (tmp / relative).write_bytes(data)
                records["video"].append({"bytes": data, "path": f"{split}_{index:05d}.mp4"})
                records["label"].append(int(label))
                lines.append(f"{relative} {int(label)}")
            table = datasets.Dataset.from_dict(records, features=features)
            bars_were_enabled = not datasets.utils.are_progress_bars_disabled()
            datasets.utils.disable_progress_bars()
            try:
                table.to_parquet(str(tmp / "data" / f"{split}-00000-of-00001.parquet"))
            finally:
                if bars_were_enabled:
                    datasets.utils.enable_progress_bars()
            (tmp / f"{split}_list.txt").write_text("\n".join(lines) + "\n")
        (tmp / "README.md").write_text(_dataset_card(spec))
        (tmp / _MARKER).write_text(json.dumps(spec.to_dict(), indent=2))

    atomic_write(root, write)
    return root


__all__ = [
    "CLASS_NAMES",
    "SyntheticVideoSpec",
    "encode_mp4",
    "generate_synthetic_dataset",
    "render_clip",
    "render_long_video",
    "trajectory_order",
]
