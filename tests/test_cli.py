"""The ``videoswin`` command line on real mp4 files and a tiny saved model."""

from __future__ import annotations

import errno
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
    argv = ["features", setup["videos"][0], "--model", setup["model_dir"], "--out", str(out), "--keep-time"]
    assert main(argv) == 0
    tensors = load_file(out)
    assert set(tensors) == {"pooled", "pooled_time", "start_time", "end_time", "frame_indices"}
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
    expected_indices = sample_kinetics_indices(60, 8, 2, test_mode=True)
    assert tensors["frame_indices"].tolist() == expected_indices.tolist()
    assert tensors["start_time"].tolist() == [expected_indices.min() / 25] and tensors["end_time"].tolist() == [
        (expected_indices.max() + 1) / 25
    ]
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


def test_classify_json_is_a_list_for_one_video(setup, capsys):
    assert main(["classify", setup["videos"][0], "--model", setup["model_dir"], "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert isinstance(results, list) and len(results) == 1 and results[0]["video"] == setup["videos"][0]


def test_classify_sliding_windows_json(setup, capsys):
    argv = ["classify", setup["videos"][0], "--model", setup["model_dir"], "--window", "8", "--stride", "12"]
    assert main([*argv, "--frame-interval", "2", "--top-k", "1", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    # 60 frames at interval 2 = 30 sampled; windows of 8 every 12 sampled frames: 0, 12, and 24 padded to the end
    expected = [(0.0, 16 / 25), (24 / 25, 40 / 25), (48 / 25, 60 / 25)]
    spans = [value for w in result["windows"] for value in (w["start"], w["end"])]
    assert spans == pytest.approx([value for span in expected for value in span])
    assert all(
        len(w["predictions"]) == 1 and w["predictions"][0]["label"] in LABELS.values() for w in result["windows"]
    )


def test_classify_output_dir_saves_per_window_probabilities(setup, tmp_path, capsys):
    argv = ["classify", *setup["videos"], "--model", setup["model_dir"], "--window", "8", "--stride", "8"]
    assert main([*argv, "--output-dir", str(tmp_path), "--num-workers", "1", "--no-progress"]) == 0
    probs = load_file(tmp_path / "v0.safetensors")["probs"]
    assert probs.shape == (8, 3)  # 60 frames: 7 full windows of 8 and a padded one
    torch.testing.assert_close(probs.sum(-1), torch.ones(8))
    with safe_open(str(tmp_path / "v0.safetensors"), "pt") as handle:
        assert json.loads(handle.metadata()["labels"]) == list(LABELS.values())
    assert "2 videos: 2 done" in capsys.readouterr().err


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_model_errors_are_one_line(setup, tmp_path, capsys):
    video = setup["videos"][0]
    assert "no such directory" in _error(capsys, ["classify", video, "--model", str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    assert "not a saved model" in _error(capsys, ["classify", video, "--model", str(tmp_path / "empty")])
    with pytest.raises(SystemExit) as excinfo:
        main(["classify", video])
    assert excinfo.value.code == 2 and "--model" in capsys.readouterr().err


def test_cuda_without_a_gpu_is_one_line(setup, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    err = _error(
        capsys, ["features", setup["videos"][0], "--model", setup["model_dir"], "--out", "x", "--device", "cuda"]
    )
    assert "no CUDA GPU" in err and "--device cpu" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--window", "8", "--views", "4x3"], "cannot be combined with --window"),
        (["--sampling", "ssv2", "--views", "4x1"], "one clip spread over the whole video"),
        (["--window", "8", "--fps", "5", "--frame-interval", "2"], "not both"),
        (["--window", "8", "--num-frames", "16"], "disagree"),
        (["--stride", "4"], "give --window"),
        (["--window", "8", "--sampling", "uniform"], "cover all of it"),
    ],
)
def test_impossible_clip_combinations_are_one_line(setup, capsys, extra, message):
    assert message in _error(capsys, ["classify", setup["videos"][0], "--model", setup["model_dir"], *extra])


def test_features_output_errors(setup, tmp_path, capsys):
    base = ["features", *setup["videos"], "--model", setup["model_dir"]]
    assert "--output-dir" in _error(capsys, base)
    assert "one video" in _error(capsys, [*base, "--out", str(tmp_path / "x.safetensors")])
    empty, output_dir = tmp_path / "empty", tmp_path / "o"
    empty.mkdir()
    argv = ["features", str(empty), "--model", setup["model_dir"], "--output-dir", str(output_dir)]
    assert "no videos" in _error(capsys, argv).lower()
    assert not output_dir.exists()  # the inputs are checked before the output directory is made


def test_timeline_png(setup, tmp_path, capsys):
    out = tmp_path / "timeline.png"
    argv = ["timeline", setup["videos"][0], "--model", setup["model_dir"], "--out", str(out), "--window", "8"]
    assert main(argv) == 0
    assert "(14 windows)" in capsys.readouterr().out  # 60 frames, 8-frame windows every 4 frames (half a window)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_merge_rebuilds_the_index(setup, tmp_path, capsys):
    argv = ["features", *setup["videos"], "--model", setup["model_dir"], "--window", "8", "--no-progress"]
    assert main([*argv, "--output-dir", str(tmp_path), "--num-workers", "0"]) == 0
    index = (tmp_path / "index.jsonl").read_text()
    (tmp_path / "index.jsonl").unlink()
    assert main(["merge", str(tmp_path)]) == 0
    assert (tmp_path / "index.jsonl").read_text() == index
    assert "2 videos (2 ok, 0 failed)" in capsys.readouterr().out
    assert "not an output directory" in _error(capsys, ["merge", str(tmp_path / "v0.safetensors")])


def test_independent_shards_then_merge(setup, tmp_path, capsys):
    argv = ["features", *setup["videos"], "--model", setup["model_dir"], "--window", "8", "--no-progress"]
    argv += ["--output-dir", str(tmp_path), "--num-workers", "0"]
    assert main([*argv, "--shard", "1/2"]) == 0
    assert [p.stem for p in tmp_path.glob("*.safetensors")] == ["v1"]  # position 1 of 2
    assert main([*argv, "--shard", "0/2"]) == 0
    assert main(["merge", str(tmp_path)]) == 0
    lines = (tmp_path / "index.jsonl").read_text().splitlines()
    assert [json.loads(line)["output"] for line in lines] == ["v0", "v1"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as excinfo:
        main([*argv, "--shard", "2"])
    assert excinfo.value.code == 2 and "I/N" in capsys.readouterr().err
    assert "--shard 2/2: job i of n must be in 0..n-1" in _error(capsys, [*argv, "--shard", "2/2"])


def test_features_bf16_close_to_fp32(setup, tmp_path):
    argv = ["features", setup["videos"][0], "--model", setup["model_dir"], "--window", "8", "--stride", "8"]
    assert main([*argv, "--out", str(tmp_path / "fp32.safetensors")]) == 0
    assert main([*argv, "--out", str(tmp_path / "bf16.safetensors"), "--dtype", "bf16"]) == 0
    fp32, bf16 = load_file(tmp_path / "fp32.safetensors"), load_file(tmp_path / "bf16.safetensors")
    assert bf16["pooled"].dtype == torch.float32 and bf16["pooled"].shape == fp32["pooled"].shape == (8, 128)
    assert not torch.equal(bf16["pooled"], fp32["pooled"])  # the model did run in bfloat16
    cosine = torch.nn.functional.cosine_similarity(bf16["pooled"], fp32["pooled"], dim=-1)
    assert cosine.min() > 0.99  # bfloat16 keeps 8 bits of mantissa: features agree in direction
    assert torch.equal(bf16["start_time"], fp32["start_time"])


def test_resuming_with_other_settings_is_refused(setup, tmp_path, capsys):
    argv = ["features", setup["videos"][1], "--model", setup["model_dir"], "--output-dir", str(tmp_path)]
    assert main([*argv, "--window", "8", "--no-progress"]) == 0
    assert main([*argv, "--window", "8", "--no-progress"]) == 0  # same settings: resumes
    assert "1 already complete" in capsys.readouterr().err
    err = _error(capsys, [*argv, "--window", "4", "--no-progress"])
    assert "other settings" in err and "plan" in err


@pytest.fixture
def no_model_loading(monkeypatch):
    """Output locations are checked before any model is loaded: loading one fails the test."""
    from transformers_videoswin.inference.runner import InferenceRequest

    def load(*args, **kwargs):
        raise AssertionError("a model was loaded before the output location was checked")

    monkeypatch.setattr(InferenceRequest, "load", load)


def _refuse_writes_under(monkeypatch, folder, code):
    """The filesystem of `folder` refuses new files (`code`: EROFS read-only, ENOSPC full); chmod would not stop
    root, who runs the tests in some containers."""
    import os

    real_open, real_mkdir = os.open, os.mkdir

    def refuse(real):
        def call(path, *args, **kwargs):
            if str(path).startswith(str(folder)):
                raise OSError(code, os.strerror(code), str(path))
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "open", refuse(real_open))
    monkeypatch.setattr(os, "mkdir", refuse(real_mkdir))


@pytest.mark.parametrize("code, message", [(errno.EROFS, "Read-only file system"), (errno.ENOSPC, "No space left")])
def test_unwritable_output_dir_is_one_line_before_loading(setup, tmp_path, capsys, monkeypatch, no_model_loading,
                                                          code, message):  # fmt: skip
    (tmp_path / "out").mkdir()
    _refuse_writes_under(monkeypatch, tmp_path / "out", code)
    argv = ["features", setup["videos"][0], "--model", setup["model_dir"], "--output-dir", str(tmp_path / "out")]
    err = _error(capsys, [*argv, "--window", "8"])
    assert "--output-dir" in err and message in err


def test_output_locations_are_checked_before_loading(setup, tmp_path, capsys, no_model_loading):
    video, model = setup["videos"][0], setup["model_dir"]
    (tmp_path / "file").write_text("x")
    err = _error(capsys, ["features", video, "--model", model, "--out", str(tmp_path)])
    assert "--out" in err and "is a directory" in err
    err = _error(capsys, ["features", video, "--model", model, "--output-dir", str(tmp_path / "file" / "sub")])
    assert "--output-dir" in err and "cannot be created" in err
    for out in ("t.txt", "noext"):
        err = _error(capsys, ["timeline", video, "--model", model, "--out", str(tmp_path / out)])
        assert "--out" in err and ".png" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written: no t.txt, no noext.png
    err = _error(capsys, ["timeline", video, "--model", model, "--out", str(tmp_path / "file" / "t.png")])
    assert "--out" in err and "is a file" in err


def test_output_dir_filling_up_during_the_run_is_one_line(setup, tmp_path, capsys, monkeypatch):
    import os

    from transformers_videoswin.inference import outputs

    def full(path, tensors, metadata):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(outputs, "save_safetensors", full)
    argv = ["features", *setup["videos"], "--model", setup["model_dir"], "--output-dir", str(tmp_path / "out")]
    assert main([*argv, "--window", "8", "--no-progress", "--num-workers", "0"]) == 2
    err = capsys.readouterr().err  # after the model's loading bar
    assert "Traceback" not in err and "No space left on device" in err.splitlines()[-1] and "resumes" in err


def test_merge_with_a_missing_job_is_one_line(setup, tmp_path, capsys):
    argv = ["features", *setup["videos"], "--model", setup["model_dir"], "--window", "8", "--no-progress"]
    assert main([*argv, "--output-dir", str(tmp_path), "--num-workers", "0", "--shard", "1/2"]) == 0
    capsys.readouterr()
    err = _error(capsys, ["merge", str(tmp_path)])
    assert "rank-00000-of-00002.jsonl" in err and "missing" in err


def test_model_saved_again_in_place_is_refused_before_loading(setup, tmp_path, capsys, monkeypatch):
    """The settings record the SHA-256 of the weight files, not the --model path: new weights at the same path are
    other settings, refused before the model is loaded, where they used to resume "already complete"."""
    import shutil

    from transformers_videoswin.inference.runner import InferenceRequest

    model_dir = tmp_path / "model"
    shutil.copytree(setup["model_dir"], model_dir)
    argv = ["features", setup["videos"][1], "--model", str(model_dir), "--output-dir", str(tmp_path / "out")]
    argv += ["--window", "8", "--no-progress"]
    assert main(argv) == 0
    torch.manual_seed(1)
    VideoSwinForVideoClassification(setup["model"].config).save_pretrained(model_dir)
    capsys.readouterr()
    monkeypatch.setattr(InferenceRequest, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    err = _error(capsys, argv)
    assert "weights_sha256" in err and "other settings" in err


@pytest.mark.parametrize("native", [False, True])
def test_bf16_on_a_cpu_without_native_bf16_warns(setup, tmp_path, caplog, monkeypatch, native):
    from transformers_videoswin import hardware

    monkeypatch.setattr(hardware, "has_native_bf16", lambda: native)
    argv = ["features", setup["videos"][0], "--model", setup["model_dir"], "--window", "8", "--stride", "8"]
    assert main([*argv, "--out", str(tmp_path / "bf16.safetensors"), "--dtype", "bf16"]) == 0
    warned = any("slower than fp32" in record.getMessage() for record in caplog.records)
    assert warned is not native
