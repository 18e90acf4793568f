"""The fine-tuning script's helpers: checks before the first training step (columns, labels, class folders, list
paths, dataset paths), resuming from the newest complete checkpoint, command-line settings, the confusion matrix."""

from __future__ import annotations

import csv
import json
import logging
import sys
from types import SimpleNamespace

import datasets
import numpy as np
import pytest
from PIL import Image
from video_classification_utils import (
    apply_recipe_defaults,
    check_annotation_videos,
    check_columns,
    check_labels,
    check_local_dataset_path,
    check_video_folder,
    explicitly_given,
    find_resumable_checkpoint,
    parse_config_overrides,
    pick_eval_split,
    to_class_labels,
    write_confusion_matrix,
)

from transformers_videoswin.data import load_annotation_lists, read_annotation_list, resolve_video_source
from transformers_videoswin.training import get_recipe


def test_a_wrong_column_name_lists_the_columns():
    ds = datasets.Dataset.from_dict({"clip": ["a.mp4"], "label": [0]})
    with pytest.raises(ValueError, match=r"--video_column_name 'video'.*\['clip', 'label'\]"):
        check_columns(ds, "train", "video", "label")
    with pytest.raises(ValueError, match=r"--label_column_name 'labels'.*\['clip', 'label'\]"):
        check_columns(ds, "train", "clip", "labels")
    check_columns(ds, "train", "clip", "label")


@pytest.mark.parametrize("bad", [-1, 3])
def test_labels_out_of_range_name_the_row(bad):
    ds = datasets.Dataset.from_dict({"video": ["a", "b", "c"], "label": [0, bad, 1]})
    with pytest.raises(ValueError, match=rf"train row 1: label {bad} is outside \[0, 3\)"):
        check_labels(ds, "train", "label", 3)
    check_labels(datasets.Dataset.from_dict({"video": ["a"], "label": [2]}), "train", "label", 3)


def test_a_negative_label_in_an_annotation_list_names_the_line(tmp_path):
    (tmp_path / "list.txt").write_text("a.mp4 0\nb.mp4 -2\n")
    with pytest.raises(ValueError, match=r"list.txt:2: the label -2 is negative"):
        read_annotation_list(tmp_path / "list.txt")


def test_a_label_beyond_the_names_names_the_entry(tmp_path):
    (tmp_path / "list.txt").write_text("a.mp4 0\nb.mp4 5\n")
    with pytest.raises(ValueError, match=r"entry 2 has label 5.*2 names"):
        load_annotation_lists({"train": str(tmp_path / "list.txt")}, tmp_path, ["x", "y"])


def test_an_empty_class_folder_is_an_error(tmp_path):
    for split, name in [("train", "left"), ("train", "right"), ("validation", "left")]:
        (tmp_path / split / name).mkdir(parents=True)
        (tmp_path / split / name / "a.mp4").write_bytes(b"x")
    check_video_folder(tmp_path)
    (tmp_path / "train" / "up").mkdir()
    (tmp_path / "train" / "up" / "notes.txt").write_text("no video")
    with pytest.raises(ValueError, match=r"class folder .*up holds no videos"):
        check_video_folder(tmp_path)


def test_a_relative_data_root_is_joined_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "videos").mkdir(parents=True)
    (tmp_path / "data" / "videos" / "a.mp4").write_bytes(b"x")
    (tmp_path / "list.txt").write_text("videos/a.mp4 0\n")
    ds = load_annotation_lists({"train": "list.txt"}, "data", None)["train"]
    check_annotation_videos(ds, "list.txt")  # the video exists
    source, _ = resolve_video_source(ds[0]["video"], "data")  # the loader joins data_root again if relative
    assert source == str(tmp_path / "data" / "videos" / "a.mp4")


def test_missing_list_videos_are_reported_before_training(tmp_path):
    (tmp_path / "list.txt").write_text("# videos\n\nvideos/a.mp4 0\nvideos/b.mp4 1\n")
    ds = load_annotation_lists({"train": str(tmp_path / "list.txt")}, tmp_path / "wrong_root", None)["train"]
    with pytest.raises(FileNotFoundError, match=r"list.txt:3: the video .*wrong_root.*a.mp4 does not exist \(2 of 2"):
        check_annotation_videos(ds, tmp_path / "list.txt")


def test_plain_integer_labels_are_their_own_class_names_or_index_a_names_file(tmp_path):
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"video": ["a", "b"], "label": [2, 0]})})
    assert to_class_labels(raw, "label") == ["0", "1", "2"]
    assert raw["train"].features["label"] == datasets.ClassLabel(names=["0", "1", "2"])
    (tmp_path / "names.txt").write_text("left\nright\n")
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"video": ["a", "b"], "label": [1, 0]})})
    assert to_class_labels(raw, "label", str(tmp_path / "names.txt")) == ["left", "right"]
    assert raw["train"]["label"][:] == [1, 0]
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"video": ["a", "b"], "label": [1, 2]})})
    with pytest.raises(ValueError, match=r"train row 1: label 2 is outside \[0, 2\)"):
        to_class_labels(raw, "label", str(tmp_path / "names.txt"))


def test_plain_string_labels_are_the_class_names_of_every_split(tmp_path):
    raw = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"video": ["a", "b"], "label": ["run", "jump"]}),
            "validation": datasets.Dataset.from_dict({"video": ["c"], "label": ["swim"]}),
        }
    )
    assert to_class_labels(raw, "label") == ["jump", "run", "swim"]
    assert raw["train"]["label"][:] == [1, 0] and raw["validation"]["label"][:] == [2]
    (tmp_path / "names.txt").write_text("run\njump\n")
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"video": ["a", "b"], "label": ["run", "swim"]})})
    with pytest.raises(ValueError, match=r"train row 1: the label 'swim' is not one of the 2 class names"):
        to_class_labels(raw, "label", str(tmp_path / "names.txt"))


def test_a_streamed_plain_label_column_needs_the_names_file(tmp_path):
    rows = datasets.Dataset.from_dict({"video": ["a", "b"], "label": ["run", "jump"]})
    raw = datasets.IterableDatasetDict({"train": rows.to_iterable_dataset()})
    with pytest.raises(ValueError, match=r"'label' is Value\('string'\), not a ClassLabel.*--label_names_file"):
        to_class_labels(raw, "label")
    (tmp_path / "names.txt").write_text("run\njump\n")
    assert to_class_labels(raw, "label", str(tmp_path / "names.txt")) == ["run", "jump"]
    assert [row["label"] for row in raw["train"]] == [0, 1]


def test_labels_that_are_neither_names_nor_indices_are_refused():
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"video": ["a"], "label": [0.5]})})
    with pytest.raises(ValueError, match=r"holds Value\('float64'\); expected class names \(strings\), class indices"):
        to_class_labels(raw, "label")


def test_an_evaluation_split_is_carved_out_of_train_only_for_an_evaluating_run():
    data_args = SimpleNamespace(eval_split_name=None, train_split_name="train", streaming=False, train_val_split=0.25)
    rows = datasets.Dataset.from_dict({"video": list("abcd"), "label": [0, 1, 0, 1]})
    raw, name = pick_eval_split(datasets.DatasetDict({"train": rows}), data_args, seed=0, do_eval=False)
    assert name is None and list(raw) == ["train"] and len(raw["train"]) == 4
    raw, name = pick_eval_split(datasets.DatasetDict({"train": rows}), data_args, seed=0, do_eval=True)
    assert name == "validation" and (len(raw["train"]), len(raw["validation"])) == (3, 1)
    one = datasets.DatasetDict({"train": rows.select([0])})
    with pytest.raises(ValueError, match=r"'train' split has 1 video, too few .*--train_val_split 0.25"):
        pick_eval_split(one, data_args, seed=0, do_eval=True)


def test_a_local_dataset_path_typo_is_not_sent_to_the_hub(tmp_path):
    (tmp_path / "motion").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no such local directory.*holds: motion"):
        check_local_dataset_path(str(tmp_path / "motoin"))
    with pytest.raises(FileNotFoundError, match="no such local directory"):
        check_local_dataset_path("./data/motoin")
    check_local_dataset_path(str(tmp_path / "motion"))
    check_local_dataset_path("owner/dataset")  # a Hub id stays a Hub id


def write_checkpoint(path, complete: bool):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    if complete:
        (path / "model.safetensors").write_bytes(b"weights")
        (path / "trainer_state.json").write_text(json.dumps({"global_step": 1}))


def test_last_checkpoint_skips_incomplete_ones_and_says_so(tmp_path, caplog):
    write_checkpoint(tmp_path / "checkpoint-3", complete=True)
    write_checkpoint(tmp_path / "checkpoint-6", complete=False)  # a save cut short by SIGKILL
    write_checkpoint(tmp_path / "checkpoint-9", complete=True)
    (tmp_path / "checkpoint-9" / "trainer_state.json").write_text('{"global_st')  # truncated
    with caplog.at_level(logging.WARNING):
        path, skipped = find_resumable_checkpoint(tmp_path)
    assert path == str(tmp_path / "checkpoint-3")
    assert skipped == ["checkpoint-9", "checkpoint-6"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-3",
        "incomplete-checkpoint-6",
        "incomplete-checkpoint-9",
    ]
    assert "checkpoint-9, checkpoint-6" in caplog.text
    assert find_resumable_checkpoint(tmp_path / "absent") == (None, [])


def test_confusion_matrix_without_matplotlib_writes_the_csv_and_warns(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with caplog.at_level(logging.WARNING):
        written = write_confusion_matrix(np.array([[2, 0], [1, 1]]), ["a", "b"], tmp_path)
    assert set(written) == {"csv"} and (tmp_path / "confusion_matrix.csv").is_file()
    assert not (tmp_path / "confusion_matrix.png").exists()
    assert "pip install matplotlib" in caplog.text


def test_config_overrides_parser():
    parsed = parse_config_overrides("embed_dim=32,depths=[1,1,2,1],num_heads=(1, 2,4,8),hidden_act=gelu")
    assert parsed == {"embed_dim": 32, "depths": [1, 1, 2, 1], "num_heads": (1, 2, 4, 8), "hidden_act": "gelu"}
    assert parse_config_overrides("hidden_act='a,b',depths=[1]") == {"hidden_act": "a,b", "depths": [1]}
    assert parse_config_overrides(None) == {}
    with pytest.raises(ValueError, match="key=value"):
        parse_config_overrides("embed_dim")


def test_explicit_options_from_the_command_line_and_from_a_file(tmp_path):
    assert explicitly_given(["--learning_rate", "1e-3", "--weight-decay=0.1", "x"]) == {
        "learning_rate",
        "weight_decay",
    }
    (tmp_path / "args.json").write_text(json.dumps({"learning_rate": 1e-3, "output_dir": "out"}))
    assert explicitly_given([str(tmp_path / "args.json")]) == {"learning_rate", "output_dir"}


def test_recipe_defaults_fill_only_what_the_command_line_left_open():
    args = SimpleNamespace(learning_rate=5e-5, weight_decay=0.0, lr_scheduler_type="linear", warmup_steps=0)
    args.label_smoothing_factor = 0.0
    apply_recipe_defaults(args, get_recipe("ssv2"), explicit={"learning_rate"})
    assert args.learning_rate == 5e-5  # given explicitly: kept
    assert (args.weight_decay, args.lr_scheduler_type, args.label_smoothing_factor) == (0.05, "cosine", 0.1)
    assert args.warmup_steps == pytest.approx(2.5 / 60)  # a fraction of training


def test_confusion_matrix_files(tmp_path):
    matrix = np.array([[3, 1], [0, 4]])
    paths = write_confusion_matrix(matrix, ["left", "right"], tmp_path)
    rows = list(csv.reader(paths["csv"].open()))
    assert rows[0] == ["true \\ predicted", "left", "right", "support", "accuracy"]
    assert rows[1] == ["left", "3", "1", "4", "0.7500"]
    assert rows[2] == ["right", "0", "4", "4", "1.0000"]
    with Image.open(paths["png"]) as image:
        assert image.format == "PNG" and image.size[0] > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion_matrix.csv", "confusion_matrix.png"]
