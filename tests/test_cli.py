"""The ``videoswin`` command line on real mp4 files and a tiny saved model."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification, VideoSwinVideoProcessor
from transformers_videoswin.cli import main
from transformers_videoswin.processing.multiview import classify_multiview
from transformers_videoswin.processing.sampling import sample_kinetics_indices
from transformers_videoswin.testing.utils import write_test_video

LABELS = {0: "abseiling", 1: "baking", 2: "cartwheel"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    config = VideoSwinConfig(**tiny_config_kwargs(id2label=LABELS, label2id={v: k for k, v in LABELS.items()}))
    model = VideoSwinForVideoClassification(config).eval()
    model_dir = root / "model"
    model.save_pretrained(model_dir)
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    processor.save_pretrained(model_dir)
    videos = [str(write_test_video(root / f"v{i}.mp4", n, 64, 112)) for i, n in enumerate((60, 6))]
    return {"root": root, "model_dir": str(model_dir), "model": model, "processor": processor, "videos": videos}


def test_classify_table(setup, capsys):
    assert main(["classify", setup["videos"][0], "--model", setup["model_dir"], "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert setup["videos"][0] in out and "(1x1 views)" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2"]
    assert all(row[1] in LABELS.values() for row in rows)
    assert float(rows[0][2]) >= float(rows[1][2])


def test_classify_json_multiview_matches_library(setup, capsys):
    videos, model, processor = setup["videos"], setup["model"], setup["processor"]
    argv = ["classify", *videos, "--model", setup["model_dir"], "--views", "2x3", "--top-k", "3", "--json"]
    argv += ["--max-testing-views", "4", "--no-progress"]
    assert main(argv) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["video"] for r in results] == videos
    for result, video in zip(results, videos):
        assert result["views"] == "2x3"
        probs = classify_multiview(model, processor, [video], num_clips=2, num_crops=3)[0]
        for prediction in result["predictions"]:
            label_id = {v: k for k, v in LABELS.items()}[prediction["label"]]
            assert prediction["score"] == pytest.approx(probs[label_id].item(), abs=1e-5)
        assert sum(p["score"] for p in result["predictions"]) == pytest.approx(1.0, abs=1e-5)


def test_classify_reports_unreadable_videos_and_continues(setup, capsys, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"garbage" * 50)
    code = main(["classify", str(broken), setup["videos"][1], "--model", setup["model_dir"], "--json"])
    assert code == 1
    captured = capsys.readouterr()
    assert "2/2" in captured.err  # progress bar (stderr) for several videos; stdout stays pure JSON
    results = json.loads(captured.out)
    assert "broken.mp4" in results[0]["error"]
    assert len(results[1]["predictions"]) == 3


def test_bad_views_is_a_usage_error(setup, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["classify", setup["videos"][0], "--model", setup["model_dir"], "--views", "4x2"])
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "--views" in err and "4x2" in err


def test_features_pooled(setup, tmp_path):
    out = tmp_path / "feat.safetensors"
    assert main(["features", setup["videos"][0], "--model", setup["model_dir"], "--out", str(out)]) == 0
    tensors = load_file(out)
    assert set(tensors) == {"pooled", "pooled_time"}
    # 8 frames -> T' = 4 tokens in time; tiny width 16 * 2**3 = 128 channels
    assert tensors["pooled"].shape == (1, 128) and tensors["pooled_time"].shape == (1, 4, 128)
    # against the model directly, on the same (official single-view) frames
    inputs = setup["processor"](setup["videos"][0], num_frames=8, return_tensors="pt")
    with torch.no_grad():
        expected = setup["model"].videoswin(**inputs)
    torch.testing.assert_close(tensors["pooled"], expected.pooler_output, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(tensors["pooled_time"].mean(1), expected.pooler_output, rtol=1e-5, atol=1e-5)
    with safe_open(str(out), "pt") as handle:
        metadata = handle.metadata()
    assert json.loads(metadata["frame_indices"]) == sample_kinetics_indices(60, 8, 2, test_mode=True)[0].tolist()
    assert metadata["views"] == "1x1"


def test_features_per_stage_keep_time(setup, tmp_path):
    out = tmp_path / "stages.safetensors"
    argv = ["features", setup["videos"][1], "--model", setup["model_dir"], "--out", str(out), "--level", "stages"]
    assert main([*argv, "--views", "1x3"]) == 0
    tensors = load_file(out)
    assert tensors["pooled"].shape == (3, 128)
    assert tensors["final"].shape == (3, 128, 4, 2, 2)
    expected = {"stem": (16, 16), "stage1": (16, 16), "stage2": (32, 8), "stage3": (64, 4), "stage4": (128, 2)}
    for name, (channels, side) in expected.items():
        assert tensors[name].shape == (3, channels, 4, side, side), name
    torch.testing.assert_close(tensors["final"].mean(dim=(2, 3, 4)), tensors["pooled"], rtol=1e-5, atol=1e-5)


def test_console_script_entry_point(capsys):
    # `videoswin` is declared in setup.cfg; check the installed metadata points here (no slow subprocess)
    scripts = [ep for ep in entry_points(group="console_scripts") if ep.name == "videoswin"]
    assert scripts, "the `videoswin` console script is not installed (make test installs the package with pip -e)"
    assert scripts[0].value == "transformers_videoswin.cli:main"
    assert scripts[0].load() is main
    with pytest.raises(SystemExit) as excinfo:
        main(["--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    assert "classify" in out and "features" in out
