"""The demo's synthetic dataset: real H.264 files, Hub-layout parquet, and classes that only time separates."""

from __future__ import annotations

import json

import av
import datasets
import numpy as np
import pytest
from synthetic_videos import (
    CLASS_NAMES,
    SyntheticVideoSpec,
    encode_mp4,
    generate_synthetic_dataset,
    render_clip,
    trajectory_order,
)

from transformers_videoswin.processing.decoding import decode_video


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return generate_synthetic_dataset(
        tmp_path_factory.mktemp("synthetic") / "motion", num_train=8, num_validation=4, num_test=4, num_frames=8
    )


@pytest.mark.parametrize("num_frames", [2, 7, 8, 16])
def test_every_class_visits_the_same_positions(num_frames):
    orders = [trajectory_order(name, num_frames) for name in CLASS_NAMES]
    for order in orders:
        assert sorted(order.tolist()) == list(range(num_frames))
    # ... in orders that differ, so the order is the only cue
    assert len({tuple(o.tolist()) for o in orders}) == (len(CLASS_NAMES) if num_frames > 2 else 2)


def test_frame_sets_match_across_classes_but_orders_do_not():
    """Same random draws, different class: the clips are permutations of each other's frames (up to pixel noise)."""
    clips = {name: render_clip(name, np.random.default_rng(3), num_frames=8, size=32) for name in CLASS_NAMES}
    reference = clips["move_right"].astype(np.int32)
    for name, clip in clips.items():
        clip = clip.astype(np.int32)
        # every frame of this clip has a near-identical frame in the reference clip
        distances = np.abs(clip[:, None] - reference[None]).mean(axis=(2, 3, 4))
        assert distances.min(axis=1).max() < 8, name
        if name != "move_right":
            # ... but not at the same time step
            assert np.abs(clip - reference).mean(axis=(1, 2, 3)).max() > 8, name


def test_the_object_moves_in_the_class_direction():
    clip = render_clip("move_right", np.random.default_rng(0), num_frames=8, size=32).astype(np.float64)
    background_free = np.abs(clip - np.median(clip, axis=0)).sum(axis=(1, 3))  # [T, W] column activity
    centres = (background_free * np.arange(32)).sum(axis=1) / background_free.sum(axis=1)
    assert np.all(np.diff(centres) > 0)


def test_mp4_is_h264_and_decodes(dataset_dir):
    path = next((dataset_dir / "videos" / "train").rglob("*.mp4"))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (32, 32)
    frames = decode_video(str(path), list(range(8)))[0]
    assert frames.shape == (8, 32, 32, 3)


def test_encode_mp4_round_trip_is_close():
    clip = render_clip("zigzag_left", np.random.default_rng(1), num_frames=8, size=32)
    decoded = decode_video(encode_mp4(clip), list(range(8)))[0].numpy().astype(np.int32)
    assert np.abs(decoded - clip.astype(np.int32)).mean() < 6


def test_hub_layout_parquet_loads_with_class_names(dataset_dir):
    assert (dataset_dir / "data" / "train-00000-of-00001.parquet").is_file()
    ds = datasets.load_dataset(str(dataset_dir))
    assert set(ds) == {"train", "validation", "test"}
    assert ds["train"].num_rows == 8 and ds["test"].num_rows == 4
    assert ds["train"].features["label"].names == list(CLASS_NAMES)
    row = ds["train"].cast_column("video", datasets.Video(decode=False))[0]
    assert row["video"]["bytes"][4:8] == b"ftyp"
    # balanced classes
    assert sorted(np.bincount(ds["train"]["label"]).tolist()) == [2, 2, 2, 2]


def test_videofolder_and_list_files_agree(dataset_dir):
    folder = datasets.load_dataset("videofolder", data_dir=str(dataset_dir / "videos"))
    assert folder["validation"].num_rows == 4
    assert sorted(folder["train"].features["label"].names) == sorted(CLASS_NAMES)
    lines = (dataset_dir / "train_list.txt").read_text().split("\n")
    entries = [line.rsplit(" ", 1) for line in lines if line]
    assert len(entries) == 8
    for path, label in entries:
        assert (dataset_dir / path).is_file()
        assert path.split("/")[2] == CLASS_NAMES[int(label)]


def test_existing_dataset_is_reused_and_changed_spec_regenerates(dataset_dir):
    marker = dataset_dir / "synthetic_dataset.json"
    before = marker.stat().st_mtime_ns
    generate_synthetic_dataset(dataset_dir, num_train=8, num_validation=4, num_test=4, num_frames=8)
    assert marker.stat().st_mtime_ns == before
    other = dataset_dir.parent / "other"
    generate_synthetic_dataset(other, SyntheticVideoSpec(num_train=4, num_validation=4, num_test=4, num_frames=4))
    assert json.loads((other / "synthetic_dataset.json").read_text())["num_frames"] == 4
    assert not list(dataset_dir.parent.glob(".*tmp-*")), "temporary build directories must not be left behind"


def test_unknown_class_is_rejected():
    with pytest.raises(ValueError, match="Unknown class"):
        trajectory_order("spin", 8)
