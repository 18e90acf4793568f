"""Output directories: an output is reused only for its own video and weights, the run's own files cannot be taken
by a video's outputs, and merging refuses an incomplete set of index parts."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinModel, VideoSwinVideoProcessor
from transformers_videoswin.data.sources import DatasetTable, expand_inputs, file_entries
from transformers_videoswin.inference import ClipPlan, SettingsMismatch, merge_index, run_inference
from transformers_videoswin.inference.outputs import IncompleteIndex
from transformers_videoswin.testing.utils import write_test_video

PLAN = ClipPlan(window=8, stride=8)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VideoSwinModel(VideoSwinConfig(**tiny_config_kwargs())).eval()


@pytest.fixture(scope="module")
def processor():
    return VideoSwinVideoProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})


def _run(model, processor, videos, output_dir, **kwargs):
    entries = file_entries(expand_inputs([str(v) for v in videos]))
    return run_inference(model, processor, PLAN, entries, output_dir=output_dir, batch_size=4, **kwargs)


def _source(path) -> dict:
    with safe_open(str(path), "pt") as handle:
        return json.loads(handle.metadata()["source"])


def test_an_output_of_another_video_with_the_same_name_is_made_again(model, processor, tmp_path):
    """`a/x.mp4` then `b/x.mp4` into one directory: both are `x`, and the second run must not reuse the first's."""
    first = write_test_video(tmp_path / "a" / "x.mp4", 16, 64, 64)
    second = write_test_video(tmp_path / "b" / "x.mp4", 24, 64, 64, pattern="noisy")
    out = tmp_path / "out"
    assert _run(model, processor, [first], out)[0].ok == 1
    summary, _ = _run(model, processor, [second], out)
    assert (summary.ok, summary.resumed) == (1, 0)
    _, expected = run_inference(model, processor, PLAN, file_entries([str(second)]), batch_size=4)
    torch.testing.assert_close(load_file(out / "x.safetensors")["pooled"], expected.results[0].tensors["pooled"])
    assert _source(out / "x.safetensors")["path"] == str(second.resolve())
    assert _run(model, processor, [second], out)[0].resumed == 1  # the same video again: reused


def test_a_video_changed_in_place_is_made_again(model, processor, tmp_path):
    video = write_test_video(tmp_path / "v.mp4", 16, 64, 64)
    out = tmp_path / "out"
    _run(model, processor, [video], out)
    write_test_video(video, 24, 64, 64, pattern="noisy")
    summary, _ = _run(model, processor, [video], out)
    assert (summary.ok, summary.resumed) == (1, 0)
    assert load_file(out / "v.safetensors")["pooled"].shape == (3, 128)  # 24 frames: three windows of 8


def test_reordered_list_reuses_each_output_for_its_own_video(model, processor, tmp_path):
    """`x.mp4` and `x.avi` share a stem; their keys must not follow their positions in the list."""
    videos = [write_test_video(tmp_path / "in" / "x.mp4", 16, 64, 64), tmp_path / "in" / "x.avi"]
    write_test_video(videos[1], 24, 64, 64, pattern="noisy")
    out = tmp_path / "out"
    _run(model, processor, videos, out)
    summary, _ = _run(model, processor, videos[::-1], out)
    assert (summary.resumed, summary.ok) == (2, 0)
    for video in videos:
        output = out / f"{video.name}.safetensors"
        assert _source(output)["path"] == str(video.resolve())


def test_another_split_gets_its_own_outputs(model, processor, tmp_path):
    import datasets

    features = datasets.Features({"video": datasets.Video()})
    folder = tmp_path / "dataset" / "data"
    folder.mkdir(parents=True)
    for split, frames in (("train", 16), ("test", 24)):
        video = write_test_video(tmp_path / f"{split}.mp4", frames, 64, 64)
        records = {"video": [{"bytes": video.read_bytes(), "path": video.name}]}
        data = datasets.Dataset.from_dict(records, features=features)
        data.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    out = tmp_path / "out"
    for split in ("train", "test"):
        table = DatasetTable(str(tmp_path / "dataset"), split=split)
        summary, _ = run_inference(model, processor, PLAN, table=table, output_dir=out, batch_size=4)
        assert (summary.ok, summary.resumed) == (1, 0), split
    assert load_file(out / "train" / "00000000.safetensors")["pooled"].shape == (2, 128)
    assert load_file(out / "test" / "00000000.safetensors")["pooled"].shape == (3, 128)
    table = DatasetTable(str(tmp_path / "dataset"), split="test")
    summary, _ = run_inference(model, processor, PLAN, table=table, output_dir=out, batch_size=4)
    assert summary.resumed == 1


def test_other_weights_under_the_same_name_are_refused(model, processor, tmp_path):
    """A model saved again in place: the same `model_name`, other weights. The run is refused as other settings
    (its weights' SHA-256 is recorded, not its path), and no output of the old weights counts as complete."""
    video = write_test_video(tmp_path / "v.mp4", 16, 64, 64)
    model.save_pretrained(tmp_path / "model")
    out = tmp_path / "out"
    _run(model, processor, [video], out, model_name=str(tmp_path / "model"))
    retrained = VideoSwinModel(model.config).eval()
    retrained.save_pretrained(tmp_path / "model")
    with pytest.raises(SettingsMismatch, match="weights_sha256"):
        _run(retrained, processor, [video], out, model_name=str(tmp_path / "model"))
    (out / ".videoswin" / "settings.json").unlink()  # even without the run's record
    summary, _ = _run(retrained, processor, [video], out, model_name=str(tmp_path / "model"))
    assert (summary.ok, summary.resumed) == (1, 0)
    assert _run(retrained, processor, [video], out, model_name=str(tmp_path / "model"))[0].resumed == 1


def test_videos_named_like_the_run_files_do_not_replace_them(model, processor, tmp_path):
    """`settings.mp4` with npy outputs writes `settings.json` (its sidecar); the run's own settings live in the
    hidden `.videoswin/`, which no output can take, so the same command resumes."""
    videos = [write_test_video(tmp_path / "in" / name, 16, 64, 64) for name in ("settings.mp4", "index.mp4")]
    write_test_video(tmp_path / "in" / ".videoswin" / "settings.mp4", 16, 64, 64)
    out = tmp_path / "out"
    first, _ = _run(model, processor, [tmp_path / "in"], out, output_format="npy")
    assert first.ok == 3
    again, _ = _run(model, processor, [tmp_path / "in"], out, output_format="npy")
    assert (again.resumed, again.ok) == (3, 0)
    assert json.loads((out / "settings.json").read_text())["metadata"]["video"] == str(videos[0])
    assert (out / "_videoswin" / "settings.npy").is_file() and (out / "index.jsonl").is_file()
    assert json.loads((out / ".videoswin" / "settings.json").read_text())["format"] == "npy"


def _part(root, rank: int, world_size: int, output: str) -> None:
    folder = root / ".videoswin" / "index-parts"
    folder.mkdir(parents=True, exist_ok=True)
    record = {"position": rank, "path": f"{output}.mp4", "output": output, "status": "ok", "finished_at": 1.0}
    (folder / f"rank-{rank:05d}-of-{world_size:05d}.jsonl").write_text(json.dumps(record) + "\n")


def test_merge_refuses_a_missing_job_or_mixed_job_counts(tmp_path):
    _part(tmp_path, 0, 2, "a")
    with pytest.raises(IncompleteIndex, match="rank-00001-of-00002.jsonl"):
        merge_index(tmp_path)
    _part(tmp_path, 1, 3, "b")  # a job of another split into 3
    with pytest.raises(IncompleteIndex, match="2 and 3 jobs"):
        merge_index(tmp_path)
    assert not (tmp_path / "index.jsonl").exists()
    assert merge_index(tmp_path, require_complete=False).is_file()  # what a single job merges as it ends
    _part(tmp_path, 1, 2, "c")
    _part(tmp_path, 0, 3, "d")
    _part(tmp_path, 2, 3, "e")
    lines = merge_index(tmp_path).read_text().splitlines()  # two whole runs, split 2 and 3 ways
    assert sorted(json.loads(line)["output"] for line in lines) == ["a", "b", "c", "d", "e"]
