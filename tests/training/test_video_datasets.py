"""Dataset adapters: clip decoding and sampling, corrupt-video skipping with a counter and a threshold, list files."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from synthetic_videos import encode_mp4, render_clip

from transformers_videoswin.data import load_annotation_lists, read_annotation_list, read_label_names
from transformers_videoswin.training import (
    ClipLoader,
    CorruptVideoTracker,
    StreamingVideoClipDataset,
    TooManyCorruptVideos,
    VideoClipDataset,
    build_eval_transform,
    build_train_transform,
    collate_clips,
    get_recipe,
    make_index_sampler,
)

RECIPE = get_recipe("kinetics", num_frames=4, frame_interval=2, image_size=32, resize_ratio=1.0, flip_prob=0.0)


def index_video(num_frames: int = 12) -> bytes:
    """A clip whose frame t has brightness 20 * t everywhere (so decoded frames reveal their index)."""
    frames = np.stack([np.full((32, 32, 3), 20 * t, dtype=np.uint8) for t in range(num_frames)])
    return encode_mp4(frames)


def make_rows(count: int, corrupt: set[int] = frozenset()) -> datasets.Dataset:
    videos = []
    for i in range(count):
        data = b"this is not a video" if i in corrupt else index_video()
        videos.append({"bytes": data, "path": f"clip{i}.mp4"})
    return datasets.Dataset.from_dict({"video": videos, "label": [i % 3 for i in range(count)]})


def loader(train: bool = False, **kwargs) -> ClipLoader:
    transform = (build_train_transform if train else build_eval_transform)(RECIPE)
    return ClipLoader("video", "label", make_index_sampler(RECIPE, train=train), transform, seed=0, **kwargs)


def brightness(pixel_values: torch.Tensor) -> np.ndarray:
    """Undo the normalisation of channel 0 and return the per-frame brightness (0-255)."""
    return ((pixel_values[:, 0].mean(dim=(1, 2)) * 0.229 + 0.485) * 255).numpy()


def test_eval_clip_is_the_centre_clip_at_the_recipe_stride():
    item = VideoClipDataset(make_rows(1), loader(), CorruptVideoTracker())[0]
    assert item["pixel_values"].shape == (4, 3, 32, 32) and item["labels"] == 0
    # 12 frames, 4 at stride 2: the official test offset is (12 - 8 + 1) / 2 -> frames 2, 4, 6, 8
    np.testing.assert_allclose(brightness(item["pixel_values"]), [40, 80, 120, 160], atol=4)


def test_training_clips_are_reproducible_per_epoch_and_index():
    dataset = VideoClipDataset(make_rows(2), loader(train=True), CorruptVideoTracker())
    first = dataset[1]["pixel_values"]
    assert torch.equal(first, dataset[1]["pixel_values"])
    offsets = set()
    for epoch in range(8):
        dataset.set_epoch(epoch)
        offsets.add(round(float(brightness(dataset[1]["pixel_values"])[0])))
    assert len(offsets) > 1, "the random clip offset should change between epochs"


def test_shuffle_frames_permutes_the_frames():
    ordered = VideoClipDataset(make_rows(1), loader(), CorruptVideoTracker())[0]["pixel_values"]
    shuffled = VideoClipDataset(make_rows(1), loader(shuffle_frames=True), CorruptVideoTracker())[0]["pixel_values"]
    a, b = brightness(ordered), brightness(shuffled)
    np.testing.assert_allclose(np.sort(a), np.sort(b), atol=1)
    assert not np.allclose(a, b, atol=1)


def test_corrupt_videos_are_skipped_counted_and_replaced():
    tracker = CorruptVideoTracker(max_fraction=0.5, min_attempts=1)
    dataset = VideoClipDataset(make_rows(6, corrupt={2}), loader(), tracker)
    items = [dataset[i] for i in range(6)]
    assert all(item["pixel_values"].shape == (4, 3, 32, 32) for item in items)
    assert (tracker.attempted, tracker.failed) == (7, 1)
    assert tracker.summary() == {"train_videos_attempted": 7, "train_videos_skipped": 1}
    batch = collate_clips(items)
    assert batch["pixel_values"].shape == (6, 4, 3, 32, 32) and batch["labels"].dtype == torch.long


def test_too_many_corrupt_videos_fail_the_run():
    tracker = CorruptVideoTracker(max_fraction=0.2, min_attempts=4)
    dataset = VideoClipDataset(make_rows(6, corrupt={0, 1, 2}), loader(), tracker)
    with pytest.raises(TooManyCorruptVideos, match="allowed fraction 0.2"):
        for i in range(6):
            dataset[i]


def test_final_check_applies_below_the_minimum_count():
    tracker = CorruptVideoTracker(max_fraction=0.1, min_attempts=100)
    tracker.record_success()
    tracker.record_failure("x", ValueError("broken"))  # 1 of 2 but below min_attempts: no error yet
    with pytest.raises(TooManyCorruptVideos):
        tracker.check(final=True)


def test_streaming_dataset_skips_corrupt_rows():
    tracker = CorruptVideoTracker(max_fraction=0.5, min_attempts=1)
    stream = make_rows(5, corrupt={1, 3}).to_iterable_dataset()
    items = list(StreamingVideoClipDataset(stream, loader(), tracker))
    assert [item["labels"] for item in items] == [0, 2, 1]
    assert (tracker.attempted, tracker.failed) == (5, 2)


def test_paths_are_resolved_against_the_data_root(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(encode_mp4(render_clip("move_left", np.random.default_rng(0), 8)))
    (tmp_path / "list.txt").write_text("# comment\nvideos/a.mp4 1\n\nvideos/missing.mp4 0\n")
    paths, labels = read_annotation_list(tmp_path / "list.txt")
    assert paths == ["videos/a.mp4", "videos/missing.mp4"] and labels == [1, 0]
    splits = load_annotation_lists({"train": str(tmp_path / "list.txt")}, tmp_path, ["zero", "one"])
    assert splits["train"].features["label"].names == ["zero", "one"]
    tracker = CorruptVideoTracker(max_fraction=1.0, min_attempts=1)
    recipe = get_recipe("kinetics", num_frames=8, frame_interval=1, image_size=32, resize_ratio=1.0)
    clip_loader = ClipLoader("video", "label", make_index_sampler(recipe, False), build_eval_transform(recipe))
    dataset = VideoClipDataset(splits["train"], clip_loader, tracker)
    assert dataset[0]["labels"] == 1
    assert dataset[1]["labels"] == 1  # the missing file is replaced by the readable one
    assert tracker.failed == 1


def test_annotation_list_errors_and_packaged_label_names(tmp_path):
    (tmp_path / "bad.txt").write_text("videos/a.mp4 cat\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        read_annotation_list(tmp_path / "bad.txt")
    assert len(read_label_names("kinetics400")) == 400


def test_local_datasets_with_the_same_folder_name_do_not_share_a_cache(tmp_path):
    """Two Hub-layout folders both named `data` (and one folder rewritten in place) each load their own rows; plain
    `datasets.load_dataset` would hand the second folder the first one's cached rows."""
    from synthetic_videos import generate_synthetic_dataset

    from transformers_videoswin.data import load_video_dataset

    sizes = {"first": 2, "second": 3}
    folders = {
        key: generate_synthetic_dataset(tmp_path / key / "data", num_train=n, num_validation=1, num_test=1, seed=n)
        for key, n in sizes.items()
    }
    cache = tmp_path / "cache"
    for key, folder in folders.items():
        train = load_video_dataset(str(folder), cache_dir=cache)["train"]
        assert train.num_rows == sizes[key]
    rewritten = generate_synthetic_dataset(folders["first"], num_train=4, num_validation=1, num_test=1, seed=9)
    assert load_video_dataset(str(rewritten), cache_dir=cache)["train"].num_rows == 4
    assert load_video_dataset(str(folders["second"]), cache_dir=cache)["train"].num_rows == 3  # cached, still its own


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_clips_are_resized_while_decoding_with_the_same_result(monkeypatch, train):
    """Large videos: frames are resized chunk by chunk as they are decoded (the pipeline's first, deterministic
    step), not decoded whole; the clip is exactly the one that decoding whole frames gives."""
    from transformers_videoswin.training import video_datasets

    recipe = get_recipe("kinetics", num_frames=4, frame_interval=2, image_size=32, resize_ratio=1.25, flip_prob=0.5)
    frames = render_clip("move_right", np.random.default_rng(0), num_frames=12, size=160)
    rows = datasets.Dataset.from_dict(
        {"video": [{"bytes": encode_mp4(frames[:, :96]), "path": "a.mp4"}], "label": [0]}
    )
    decoded_shapes = []
    read = video_datasets.decode_video

    def recording_read(*args, **kwargs):
        result = read(*args, **kwargs)
        decoded_shapes.append(tuple(result[0].shape))
        return result

    monkeypatch.setattr(video_datasets, "decode_video", recording_read)
    clips = {}
    for decode_resize in (True, False):
        transform = (build_train_transform if train else build_eval_transform)(recipe)
        clip_loader = ClipLoader(
            "video", "label", make_index_sampler(recipe, train=train), transform, seed=3, decode_resize=decode_resize
        )
        clips[decode_resize] = VideoClipDataset(rows, clip_loader, CorruptVideoTracker())[0]["pixel_values"]
    # 96 x 160 frames: short side 32 * 1.25 = 40 while decoding, full size without
    assert decoded_shapes == [(4, 40, 66, 3), (4, 96, 160, 3)]
    assert clips[True].shape == (4, 3, 32, 32)
    torch.testing.assert_close(clips[True], clips[False], atol=0, rtol=0)


def test_no_decode_resize_for_a_pipeline_that_does_not_start_with_a_resize():
    from torchvision.transforms import v2

    from transformers_videoswin.training.transforms import decode_kwargs

    assert decode_kwargs(v2.Compose([v2.RandomHorizontalFlip(), v2.Resize(40)])) == {}
    assert decode_kwargs(build_train_transform(RECIPE))["shortest_edge"] == 32


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_a_datasets_video_column_trains_without_files(train):
    """A `Video()` column (torchcodec decoders over bytes in the Arrow table) loads the same clips as its raw
    `{"bytes", "path"}` rows: nothing is written out to files."""
    rows = make_rows(2)
    decoded = rows.cast_column("video", datasets.Video())
    assert not hasattr(rows[0]["video"], "get_frames_at") and hasattr(decoded[0]["video"], "get_frames_at")
    for index in range(2):
        expected = VideoClipDataset(rows, loader(train=train), CorruptVideoTracker())[index]
        item = VideoClipDataset(decoded, loader(train=train), CorruptVideoTracker())[index]
        assert item["labels"] == expected["labels"]
        torch.testing.assert_close(item["pixel_values"], expected["pixel_values"], rtol=0, atol=0)


@pytest.mark.slow
def test_workers_started_with_spawn_load_the_same_clips(tmp_path):
    """DataLoader workers started with spawn (the default on macOS) or forkserver (on Linux from Python 3.14) get the
    dataset pickled: the recipe's sampler, the decode-time resize and the transforms must survive that, and a worker
    loads exactly the clips the main process loads (seeded by epoch and index, with a corrupt row replaced and
    counted in the shared tracker). Run in a fresh interpreter whose start method is spawn, as on macOS."""
    import pickle
    import subprocess
    import sys

    from conftest import REPO_ROOT

    with open(tmp_path / "rows.pkl", "wb") as file:
        pickle.dump({"video": make_rows(3, corrupt={1})["video"]}, file)
    script = f"""
import multiprocessing, pickle, sys
import datasets, torch
sys.path[:0] = [{str(REPO_ROOT / "tests" / "training")!r}, {str(REPO_ROOT / "examples")!r}]
from test_video_datasets import loader
from transformers_videoswin.training import CorruptVideoTracker, VideoClipDataset

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    with open({str(tmp_path / "rows.pkl")!r}, "rb") as file:
        rows = datasets.Dataset.from_dict({{**pickle.load(file), "label": [0, 1, 2]}})
    tracker = CorruptVideoTracker(max_fraction=1.0, min_attempts=1)
    dataset = VideoClipDataset(rows, loader(train=True), tracker)
    dataset.set_epoch(2)
    expected = [dataset[index]["pixel_values"] for index in range(3)]
    spawned = list(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=1))
    assert len(spawned) == 3, len(spawned)
    for item, reference in zip(spawned, expected):
        torch.testing.assert_close(item["pixel_values"], reference, atol=0, rtol=0)
    assert tracker.failed == 2, tracker.failed  # row 1 once here, once in the worker
    print("ok")
"""
    (tmp_path / "spawned.py").write_text(script)
    result = subprocess.run(
        [sys.executable, str(tmp_path / "spawned.py")], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
