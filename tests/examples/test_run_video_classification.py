"""examples/run_video_classification.py end to end on a tiny generated dataset: every input form, the output
directory, a killed-and-resumed run, and two processes under torchrun (gloo). One input form runs in
`make test-fast`; the other runs are marked slow (`make test`, CI, runs them all)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from synthetic_videos import CLASS_NAMES, generate_synthetic_dataset

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "run_video_classification.py"

MODEL_ARGS = [
    "--config_name", "tiny",
    "--config_overrides", "embed_dim=8,depths=[1,1],num_heads=[1,2],window_size=[4,4,4],drop_path_rate=0.0,"
    "classifier_dropout_prob=0.0",
]  # fmt: skip
RECIPE_ARGS = [
    "--recipe", "kinetics", "--num_frames", "8", "--frame_interval", "1", "--image_size", "32",
    "--resize_ratio", "1.0", "--flip_prob", "0",
]  # fmt: skip
RUN_ARGS = [
    "--do_train", "--do_eval", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4",
    "--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--logging_steps", "1", "--seed", "3",
    "--learning_rate", "1e-3",
]  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return generate_synthetic_dataset(
        tmp_path_factory.mktemp("run_script") / "motion", num_train=12, num_validation=4, num_test=0, num_frames=8
    )


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("run_video_classification", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def data_args(form: str, data_dir: Path, tmp_path: Path) -> list[str]:
    if form == "parquet":
        return ["--dataset_name", str(data_dir)]
    if form == "videofolder":
        return ["--dataset_name", "videofolder", "--data_dir", str(data_dir / "videos")]
    if form == "list":
        names = tmp_path / "names.txt"
        names.write_text("\n".join(CLASS_NAMES) + "\n")
        return [
            "--train_file", str(data_dir / "train_list.txt"), "--validation_file", str(data_dir / "validation_list.txt"),
            "--data_root", str(data_dir), "--label_names_file", str(names),
        ]  # fmt: skip
    if form == "streaming":
        return ["--dataset_name", str(data_dir), "--streaming"]
    raise ValueError(form)


@pytest.mark.parametrize(
    "form", ["parquet", *(pytest.param(form, marks=pytest.mark.slow) for form in ("videofolder", "list", "streaming"))]
)
def test_each_input_form_trains_evaluates_and_saves(script, data_dir, tmp_path, form):
    out = tmp_path / "out"
    args = [*data_args(form, data_dir, tmp_path), *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS]
    args += ["--output_dir", str(out), "--max_steps", "2", "--save_strategy", "no"]
    if form == "parquet":  # the official parameter groups and a multi-view (2 clips x 3 crops) final evaluation
        args += ["--param_group_mode", "official", "--eval_views", "2x3"]
    if form == "videofolder":  # mixed precision and activation checkpointing pass through TrainingArguments
        args += ["--bf16", "--activation_checkpointing"]
    if form == "list":  # the SSv2 recipe: uniform segments, RandAugment, random erasing, label smoothing
        args += ["--recipe", "ssv2"]
    results = script.main(args)

    assert results.get("train_videos_skipped", 0) == 0
    assert 0.0 <= results["eval_top1_accuracy"] <= 1.0
    assert results["eval_top5_accuracy"] == 1.0  # 4 classes: the top 5 always contain the answer
    config = json.loads((out / "config.json").read_text())
    names = sorted(config["id2label"].values())
    assert names == sorted(CLASS_NAMES)
    assert (
        config["auto_map"]["AutoModelForVideoClassification"] == "modeling_videoswin.VideoSwinForVideoClassification"
    )
    assert config["num_frames"] == 8 and config["image_size"] == 32 and config["embed_dim"] == 8
    for name in ("model.safetensors", "modeling_videoswin.py", "configuration_videoswin.py", "README.md"):
        assert (out / name).is_file(), name
    assert (out / "video_preprocessor_config.json").is_file() and (out / "preprocessor_config.json").is_file()
    card = (out / "README.md").read_text()
    assert "eval_top1_accuracy" in card and "AdamW parameter groups" in card
    # one Hub-directory writer and one card renderer for converted and fine-tuned models
    from huggingface_hub import ModelCard

    metadata = ModelCard(card).data
    assert metadata.pipeline_tag == "video-classification" and metadata.library_name == "transformers"
    assert metadata.eval_results[0].metric_value == round(results["eval_top1_accuracy"], 4)
    video_config = json.loads((out / "video_preprocessor_config.json").read_text())
    assert video_config["auto_map"] == {"AutoVideoProcessor": "video_processing_videoswin.VideoSwinVideoProcessor"}
    assert not list(out.glob(".final-*")), "no staging directory may be left behind"
    if form != "streaming":
        csv_lines = (out / "confusion_matrix.csv").read_text().splitlines()
        assert len(csv_lines) == 1 + len(CLASS_NAMES)
        assert (out / "confusion_matrix.png").stat().st_size > 1000
        assert all(f"eval_accuracy_{name}" in results for name in CLASS_NAMES)
    if form == "parquet":
        assert "eval_2x3_top1_accuracy" in results and results["eval_2x3_skipped"] == 0
        assert "bias_tables" in card  # the official grouping was used and logged
    if form == "list":
        args_json = json.loads((out / "training_args.json").read_text())
        assert args_json["label_smoothing_factor"] == 0.1
        assert json.loads((out / "video_preprocessor_config.json").read_text())["sampling"] == "ssv2"
    # the saved directory loads back through the Auto API
    from transformers import AutoModelForVideoClassification

    model = AutoModelForVideoClassification.from_pretrained(out)
    saved = load_file(out / "model.safetensors")
    torch.testing.assert_close(model.state_dict()["classifier.weight"], saved["classifier.weight"])


def recording_trainer(script, monkeypatch) -> list:
    """The trainers the script builds, in order."""
    runs = []

    class RecordingTrainer(script.VideoClassificationTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            runs.append(self)

    monkeypatch.setattr(script, "VideoClassificationTrainer", RecordingTrainer)
    return runs


@pytest.mark.parametrize("recipe", ["kinetics", "ssv2"])
def test_the_saved_processor_gives_exactly_the_validation_tensors(script, data_dir, tmp_path, monkeypatch, recipe):
    from transformers import AutoVideoProcessor

    from transformers_videoswin.data import resolve_video_source

    runs = recording_trainer(script, monkeypatch)
    out = tmp_path / "out"
    args = [*data_args("parquet", data_dir, tmp_path), *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS, "--recipe", recipe]
    args += ["--resize_ratio", "1.25", "--output_dir", str(out), "--max_steps", "1", "--save_strategy", "no"]
    script.main(args)
    processor = AutoVideoProcessor.from_pretrained(out)
    eval_dataset = runs[0].eval_dataset
    for index in range(len(eval_dataset)):
        validated = eval_dataset[index]["pixel_values"]
        source, _ = resolve_video_source(eval_dataset.dataset[index]["video"])
        saved = processor(source, return_tensors="pt")["pixel_values"][0]
        assert validated.shape == (8, 3, 32, 32)
        assert torch.equal(saved, validated), index


def test_corrupt_videos_fail_the_run_past_the_threshold(script, data_dir, tmp_path):
    from transformers_videoswin.training import TooManyCorruptVideos

    lines = (data_dir / "train_list.txt").read_text().splitlines()
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    broken = [f"{tmp_path / 'broken.mp4'} 0"] * 6
    (tmp_path / "train.txt").write_text("\n".join(lines[:6] + broken) + "\n")
    args = ["--train_file", str(tmp_path / "train.txt"), "--data_root", str(data_dir), *MODEL_ARGS, *RECIPE_ARGS]
    args += [*RUN_ARGS, "--output_dir", str(tmp_path / "out"), "--max_steps", "2", "--save_strategy", "no"]
    args.remove("--do_eval")
    with pytest.raises(TooManyCorruptVideos) as failure:
        script.main([*args, "--max_corrupt_fraction", "0.1"])
    # the check that can only run at the end comes after the trained model is saved, and says where it is
    assert f"saved in {tmp_path / 'out'}" in "\n".join(getattr(failure.value, "__notes__", []))
    for name in ("model.safetensors", "config.json", "video_preprocessor_config.json", "train_results.json"):
        assert (tmp_path / "out" / name).is_file(), name
    # with a generous threshold the same data trains, and the skips are counted
    results = script.main([*args, "--max_corrupt_fraction", "0.9"])
    assert results["train_videos_skipped"] > 0


def test_a_class_absent_from_the_evaluation_set_is_reported_as_such(script, data_dir, tmp_path):
    """No per-class accuracy for a class without evaluation videos, and the run still ends with its results."""
    lines = (data_dir / "validation_list.txt").read_text().splitlines()
    (tmp_path / "validation.txt").write_text("\n".join(x for x in lines if not x.endswith(" 3")) + "\n")
    args = [*data_args("list", data_dir, tmp_path), "--validation_file", str(tmp_path / "validation.txt")]
    out = tmp_path / "out"
    args += [*MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS, "--save_strategy", "no"]
    args += ["--output_dir", str(out), "--max_steps", "1"]
    results = script.main(args)

    absent = CLASS_NAMES[3]
    assert f"eval_accuracy_{absent}" not in results
    assert all(isinstance(results[f"eval_accuracy_{name}"], float) for name in CLASS_NAMES[:3])
    assert json.loads((out / "eval_results.json").read_text())["eval_top1_accuracy"] == results["eval_top1_accuracy"]
    assert json.loads((out / "all_results.json").read_text())["eval_classes_without_videos"] == 1
    rows = {row[0]: row for row in csv.reader((out / "confusion_matrix.csv").read_text().splitlines())}
    assert rows[absent][-2:] == ["0", ""]  # no support, no accuracy


def test_a_plain_string_label_column_gives_the_class_names(script, data_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for split in ("train", "validation"):  # the parquet files without their dataset card: labels as plain strings
        table = pq.read_table(data_dir / "data" / f"{split}-00000-of-00001.parquet")
        names = pa.array([CLASS_NAMES[i] for i in table.column("label").to_pylist()])
        (tmp_path / "plain" / "data").mkdir(parents=True, exist_ok=True)
        pq.write_table(table.set_column(1, "label", names), tmp_path / "plain" / "data" / f"{split}.parquet")
    out = tmp_path / "out"
    args = ["--dataset_name", str(tmp_path / "plain"), *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS, "--save_strategy", "no"]
    results = script.main([*args, "--output_dir", str(out), "--max_steps", "1"])
    config = json.loads((out / "config.json").read_text())
    assert list(config["id2label"].values()) == sorted(CLASS_NAMES)
    assert f"eval_accuracy_{CLASS_NAMES[0]}" in results


@pytest.mark.parametrize("num_videos", [1, 12])
def test_without_do_eval_every_training_video_trains(script, data_dir, tmp_path, monkeypatch, num_videos):
    """No evaluation split is held out of train when nothing evaluates (a single video is a training set too)."""
    runs = recording_trainer(script, monkeypatch)
    lines = (data_dir / "train_list.txt").read_text().splitlines()[:num_videos]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    args = ["--train_file", str(tmp_path / "train.txt"), "--data_root", str(data_dir), *MODEL_ARGS, *RECIPE_ARGS]
    args += [*RUN_ARGS, "--output_dir", str(tmp_path / "out"), "--max_steps", "1", "--save_strategy", "no"]
    args.remove("--do_eval")
    script.main(args)
    assert len(runs[0].train_dataset) == num_videos and runs[0].eval_dataset is None


def test_evaluating_a_one_video_dataset_without_evaluation_split_is_refused_early(script, data_dir, tmp_path):
    (tmp_path / "train.txt").write_text((data_dir / "train_list.txt").read_text().splitlines()[0] + "\n")
    args = ["--train_file", str(tmp_path / "train.txt"), "--data_root", str(data_dir), *MODEL_ARGS, *RECIPE_ARGS]
    args += [*RUN_ARGS, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"]
    with pytest.raises(ValueError, match=r"1 video.*--validation_file.*--do_eval"):
        script.main(args)


def test_a_missing_list_video_is_named_by_its_line_in_the_list(script, data_dir, tmp_path, monkeypatch):
    """The line of the user's file, not the row of the shuffled split carved out of it."""
    monkeypatch.setattr(script, "build_model", lambda *a, **k: pytest.fail("the model was built before the check"))
    lines = (data_dir / "train_list.txt").read_text().splitlines()
    lines[9] = "videos/train/move_left/gone.mp4 0"
    (tmp_path / "train.txt").write_text("# path label\n\n" + "\n".join(lines) + "\n")  # entry 10 is line 12
    args = ["--train_file", str(tmp_path / "train.txt"), "--data_root", str(data_dir), *MODEL_ARGS, *RECIPE_ARGS]
    args += [*RUN_ARGS, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"]
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'train.txt'}:12: .*gone.mp4 does not exist"):
        script.main(args)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--video_column_name", "clip"], r"--video_column_name 'clip' is not a column .*\['video', 'label'\]"),
        (["--label_column_name", "class"], r"--label_column_name 'class' is not a column"),
    ],
)
def test_bad_columns_fail_before_the_model_is_built(script, data_dir, tmp_path, extra, message, monkeypatch):
    monkeypatch.setattr(script, "build_model", lambda *a: pytest.fail("the model was built before the data check"))
    args = [*data_args("list", data_dir, tmp_path), *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS, *extra]
    with pytest.raises(ValueError, match=message):
        script.main([*args, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"])


@pytest.mark.parametrize("override", ["hidden_act=bogus", "depths='1,1'"])
def test_a_config_value_of_the_wrong_kind_is_named_before_the_model_is_built(
    script, data_dir, tmp_path, monkeypatch, override
):
    monkeypatch.setattr(script, "build_model", lambda *a, **k: pytest.fail("the model was built with a bad config"))
    args = [*data_args("parquet", data_dir, tmp_path), *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS]
    args[args.index("--config_overrides") + 1] += "," + override
    name = override.split("=")[0]
    with pytest.raises(ValueError, match=rf"configuration's `{name}` is .* \(from the overrides\); expected"):
        script.main([*args, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"])


def test_an_unwritable_output_dir_fails_before_the_data_and_the_model(script, data_dir, tmp_path, monkeypatch):
    """A file where the output directory should be is named before any video is read or the model built."""
    monkeypatch.setattr(script, "build_model", lambda *a, **k: pytest.fail("the model was built before the check"))
    monkeypatch.setattr(script, "load_raw_datasets", lambda *a, **k: pytest.fail("the data was read before the check"))
    (tmp_path / "out").write_text("a file, not a directory")
    args = [*data_args("parquet", data_dir, tmp_path), *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS]
    with pytest.raises(ValueError, match=r"--output_dir .*out: .*is a file, not a directory"):
        script.main([*args, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"])


def test_a_dataset_path_typo_is_a_local_error(script, data_dir, tmp_path):
    args = ["--dataset_name", str(data_dir) + "x", *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS]
    with pytest.raises(FileNotFoundError, match="no such local directory"):
        script.main([*args, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"])


def run_script(args: list[str], env_extra: dict | None = None, launcher: list[str] | None = None, timeout=240):
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", **(env_extra or {}))
    command = [*(launcher or [sys.executable]), str(SCRIPT), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(script, data_dir, tmp_path):
    common = [*data_args("parquet", data_dir, tmp_path), *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS]
    common += ["--max_steps", "6", "--save_strategy", "steps", "--save_steps", "3", "--warmup_steps", "2"]
    reference = script.main([*common, "--output_dir", str(tmp_path / "uninterrupted")])

    out = tmp_path / "interrupted"
    killer = [sys.executable, str(Path(__file__).parent / "kill_after_save.py"), "3"]
    killed = run_script([*common, "--output_dir", str(out)], launcher=killer)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert (out / "checkpoint-3").is_dir() and not (out / "checkpoint-6").exists()
    assert not (out / "model.safetensors").exists()
    (out / "checkpoint-6").mkdir()  # what a kill during the next save leaves: a directory without trainer state
    (out / "checkpoint-6" / "config.json").write_text("{}")

    resumed = script.main([*common, "--output_dir", str(out), "--resume_from_checkpoint", "last"])
    assert resumed["train_resumed_from"] == "checkpoint-3"
    assert resumed["train_steps_this_run"] == 3 and reference["train_steps_this_run"] == 6
    assert resumed["eval_loss"] == pytest.approx(reference["eval_loss"], rel=1e-4, abs=1e-6)
    assert resumed["eval_top1_accuracy"] == reference["eval_top1_accuracy"]
    a = load_file(tmp_path / "uninterrupted" / "model.safetensors")
    b = load_file(out / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6, msg=key)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_with_torchrun_gloo(data_dir, tmp_path):
    out = tmp_path / "ddp"
    args = [*data_args("parquet", data_dir, tmp_path), *MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS]
    args += ["--output_dir", str(out), "--max_steps", "2", "--save_strategy", "steps", "--save_steps", "2"]
    args += ["--ddp_backend", "gloo"]
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
    ]
    result = run_script(args, launcher=launcher)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "Rank 0 finished." in log and "Rank 1 finished." in log
    assert "distributed: True" in log
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    # the 12 clips are split between the ranks: 2 ranks x 4 clips -> 2 steps per epoch (3 in one process)
    assert state["log_history"][0]["epoch"] == pytest.approx(1 / 2, abs=1e-3)
    assert (out / "model.safetensors").is_file()


@pytest.mark.slow
def test_fine_tuning_a_saved_model_onto_new_classes_reinitialises_only_the_head(script, data_dir, tmp_path):
    source = tmp_path / "source"
    common = [*MODEL_ARGS, *RECIPE_ARGS, *RUN_ARGS, "--save_strategy", "no"]
    script.main([*data_args("parquet", data_dir, tmp_path), *common, "--output_dir", str(source), "--max_steps", "1"])
    # a 2-class problem from the list files: labels 0/1 only
    for split in ("train", "validation"):
        lines = (data_dir / f"{split}_list.txt").read_text().splitlines()
        (tmp_path / f"{split}2.txt").write_text("\n".join(x for x in lines if x.endswith((" 0", " 1"))) + "\n")
    (tmp_path / "names2.txt").write_text("left\nright\n")
    out = tmp_path / "finetuned"
    args = ["--train_file", str(tmp_path / "train2.txt"), "--validation_file", str(tmp_path / "validation2.txt")]
    args += ["--data_root", str(data_dir), "--label_names_file", str(tmp_path / "names2.txt")]
    args += ["--model_name_or_path", str(source), *RECIPE_ARGS, *RUN_ARGS, "--save_strategy", "no"]
    args += ["--output_dir", str(out), "--max_steps", "1", "--learning_rate", "0.0", "--warmup_steps", "0"]
    script.main(args)
    before, after = load_file(source / "model.safetensors"), load_file(out / "model.safetensors")
    assert after["classifier.weight"].shape[0] == 2 and before["classifier.weight"].shape[0] == 4
    for key in before:
        if not key.startswith("classifier."):
            torch.testing.assert_close(after[key], before[key], msg=key)
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "left", "1": "right"} and config["embed_dim"] == 8


@pytest.mark.slow
def test_inflating_a_2d_imagenet_swin(script, data_dir, tmp_path, official_tiny_dir):
    image_checkpoint = official_tiny_dir / "official_2d_imagenet_checkpoint.pth"
    fixture = json.loads((official_tiny_dir / "fixture.json").read_text())
    architecture = fixture.get("architecture", fixture)
    overrides = "embed_dim={},depths={},num_heads={},window_size=[2,7,7]".format(
        architecture["embed_dim"], list(architecture["depths"]), list(architecture["num_heads"])
    )
    out = tmp_path / "inflated"
    args = [*data_args("parquet", data_dir, tmp_path), "--image_model_name_or_path", str(image_checkpoint)]
    args += ["--config_name", "tiny", "--config_overrides", overrides, *RECIPE_ARGS, *RUN_ARGS]
    args += ["--output_dir", str(out), "--max_steps", "1", "--learning_rate", "0.0", "--save_strategy", "no"]
    script.main(args)
    from transformers_videoswin.checkpoints.inflate import inflate_image_swin

    reference = inflate_image_swin(image_checkpoint, window_size=(2, 7, 7), num_labels=4).state_dict()
    saved = load_file(out / "model.safetensors")
    for key, value in reference.items():
        if not key.startswith("classifier.") and key in saved:
            torch.testing.assert_close(saved[key], value, msg=key)
    assert "videoswin.embeddings.patch_embeddings.projection.weight" in saved


def test_config_overrides_typo_is_rejected():
    """A typo in --config_overrides must not silently train the default architecture."""
    from video_classification_utils import parse_config_overrides

    from transformers_videoswin.training import RECIPES
    from transformers_videoswin.training.configuration import build_config

    overrides = parse_config_overrides("embedding_dim=48,depths=[1,1,2,1]")
    with pytest.raises(ValueError, match="`embedding_dim` \\(did you mean `embed_dim`\\?\\)"):
        build_config(["a", "b"], RECIPES["kinetics"], overrides=overrides)
    config = build_config(["a", "b"], RECIPES["kinetics"], overrides=parse_config_overrides("embed_dim=48"))
    assert config.embed_dim == 48
