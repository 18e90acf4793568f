"""What only `run_video_classification.py` needs: the up-front checks of its data, resuming, its command-line
settings (recipe defaults, `--config_overrides`), its final output directory and confusion matrix.

Errors here name the script's flags: they are its messages to the person running it.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import io
import json
import logging
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
from transformers.trainer_utils import get_last_checkpoint

from transformers_videoswin.checkpoints.hub import save_hub_directory
from transformers_videoswin.checkpoints.model_cards import render_fine_tuned_card
from transformers_videoswin.data import (
    VIDEO_EXTENSIONS,
    annotation_entries,
    label_names_from_features,
    load_annotation_lists,
    load_video_dataset,
    read_label_names,
)
from transformers_videoswin.file_utils import atomic_write, atomic_write_bytes, atomic_write_text
from transformers_videoswin.training import Recipe, build_processors
from transformers_videoswin.training.metrics import confusion_matrix, per_class_accuracy

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "training", "validation", "valid", "val", "dev", "test", "testing", "eval")


# ------------------------------------------------------------------------------------------------ data
def load_raw_datasets(data_args, model_args):
    """The dataset of the data arguments: annotation lists, a videofolder, or anything `load_dataset` reads."""
    if data_args.train_file or data_args.validation_file:
        files = {}
        if data_args.train_file:
            files["train"] = data_args.train_file
        if data_args.validation_file:
            files["validation"] = data_args.validation_file
        names = read_label_names(data_args.label_names_file) if data_args.label_names_file else None
        raw = load_annotation_lists(files, data_args.data_root, names, streaming=data_args.streaming)
        if not data_args.streaming:
            for split, list_file in files.items():
                check_annotation_videos(raw[split], list_file)
        return raw
    check_local_dataset_path(data_args.dataset_name)
    if data_args.dataset_name == "videofolder" and data_args.data_dir:
        check_video_folder(data_args.data_dir)
    kwargs = {"cache_dir": model_args.cache_dir, "streaming": data_args.streaming}
    if data_args.data_dir:
        kwargs["data_dir"] = data_args.data_dir
    return load_video_dataset(data_args.dataset_name, data_args.dataset_config_name, **kwargs)


def pick_eval_split(raw, data_args, seed: int, do_eval: bool):
    """Name of the evaluation split; when the run evaluates and the dataset has none, carves one out of train."""
    if data_args.eval_split_name:
        return raw, data_args.eval_split_name
    for name in ("validation", "valid", "val", "test"):
        if name in raw:
            return raw, name
    train = data_args.train_split_name
    if not do_eval or data_args.streaming or not data_args.train_val_split or train not in raw:
        return raw, None
    size = len(raw[train])
    if size - math.ceil(data_args.train_val_split * size) < 1:
        raise ValueError(
            f"--do_eval: the {train!r} split has {size} video{'s' if size != 1 else ''}, too few to hold out an "
            f"evaluation split of --train_val_split {data_args.train_val_split}; give --validation_file or "
            "--eval_split_name (or a smaller --train_val_split), or leave out --do_eval."
        )
    split = raw[train].train_test_split(test_size=data_args.train_val_split, seed=seed)
    raw[train] = split["train"]
    raw["validation"] = split["test"]
    return raw, "validation"


def check_local_dataset_path(name: str | None) -> None:
    """A `--dataset_name` that is clearly meant as a local path but does not exist gets a clear error (instead of
    `load_dataset` asking the Hub for it)."""
    if not name or os.path.exists(name):
        return
    looks_local = (
        os.path.isabs(name)
        or name.startswith(("./", "../", "~", ".\\"))
        or name.count("/") > 1
        or (os.sep in name and os.path.isdir(os.path.dirname(os.path.normpath(name))))
    )
    if looks_local:
        parent = Path(name).expanduser().parent
        hint = ""
        if parent.is_dir():
            entries = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))[:20]
            hint = f" {parent} holds: {', '.join(entries) or 'nothing'}."
        raise FileNotFoundError(f"--dataset_name {name!r}: no such local directory or file.{hint}")


def check_columns(dataset, split: str, video_column: str, label_column: str) -> None:
    """Both columns exist in `split`; otherwise the error lists the dataset's columns."""
    columns = getattr(dataset, "column_names", None)
    if columns is None:
        features = getattr(dataset, "features", None)
        columns = list(features) if features is not None else None
    if columns is None:  # a streamed dataset without known features: the first row tells
        columns = list(next(iter(dataset)))
    for option, column in (("--video_column_name", video_column), ("--label_column_name", label_column)):
        if column not in columns:
            raise ValueError(f"{option} {column!r} is not a column of the {split!r} split; its columns are {columns}.")


def to_class_labels(raw, label_column: str, label_names_file: str | None = None) -> list[str]:
    """The class names of the label column, after casting a plain column to one `ClassLabel` in every split of `raw`:
    integers index the names of `label_names_file` (without it, each class is named by its number, 0..max); strings
    are the names (every distinct value, sorted, or those of the file). A streamed plain column needs the file."""
    first = next(iter(raw.values()))
    names = label_names_from_features(first, label_column)
    if names is not None:
        return names
    feature = (getattr(first, "features", None) or {}).get(label_column)
    names = read_label_names(label_names_file) if label_names_file else None
    if isinstance(first, datasets.IterableDataset):
        if names is None:
            raise ValueError(
                f"--label_column_name {label_column!r} is {feature}, not a ClassLabel, and a streamed dataset cannot "
                "be read ahead for its classes: give the class names with --label_names_file (integer labels index "
                "them, strings are looked up in them), or leave out --streaming."
            )
    else:
        values = {split: list(dataset[label_column]) for split, dataset in raw.items()}
        flat = [value for column in values.values() for value in column]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
            names = names if names is not None else [str(i) for i in range(max(flat, default=-1) + 1)]
            for split, dataset in raw.items():
                check_labels(dataset, split, label_column, len(names))
        elif all(isinstance(v, str) for v in flat):
            names = names if names is not None else sorted(set(flat))
            known = set(names)
            for split, column in values.items():
                row = next((row for row, value in enumerate(column) if value not in known), None)
                if row is not None:
                    raise ValueError(
                        f"{split} row {row}: the label {column[row]!r} is not one of the {len(names)} class names of "
                        f"--label_names_file {label_names_file}."
                    )
        else:
            raise ValueError(
                f"--label_column_name {label_column!r} holds {feature}; expected class names (strings), class "
                "indices (integers) or a ClassLabel."
            )
        logger.info("Classes of the plain label column %r: %s", label_column, ", ".join(names))
    class_label = datasets.ClassLabel(names=names)
    for split in list(raw):
        raw[split] = raw[split].cast_column(label_column, class_label)
    return names


def check_labels(dataset, split: str, label_column: str, num_labels: int) -> None:
    """Every label of a (non-streamed) split is an integer in [0, num_labels)."""
    labels = np.asarray(dataset[label_column])
    if labels.size == 0:
        return
    bad = np.flatnonzero((labels < 0) | (labels >= num_labels))
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"{split} row {row}: label {labels[row]} is outside [0, {num_labels}) ({bad.size} such rows); labels "
            f"must index the {num_labels} class names."
        )


def check_video_folder(data_dir: str | os.PathLike) -> None:
    """Every class folder of a `videofolder` holds at least one video (an empty one would silently drop a class)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--data_dir {data_dir}: no such directory.")
    class_dirs = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir()):
        if folder.name.lower() in SPLIT_NAMES:  # <data_dir>/<split>/<class>/video
            class_dirs += sorted(d for d in folder.iterdir() if d.is_dir())
        else:  # <data_dir>/<class>/video
            class_dirs.append(folder)
    for class_dir in class_dirs:
        if not any(p.suffix.lower() in VIDEO_EXTENSIONS for p in class_dir.rglob("*") if p.is_file()):
            raise ValueError(
                f"The class folder {class_dir} holds no videos ({', '.join(VIDEO_EXTENSIONS[:5])}, ...): add videos "
                "or remove the folder."
            )


def check_annotation_videos(dataset, list_file: str | os.PathLike) -> None:
    """The videos of an annotation list exist. `dataset` holds the list's entries in order (its `video` paths
    already joined to --data_root); the error names the list's line of the first missing video."""
    missing = [row for row, path in enumerate(dataset["video"]) if not os.path.exists(path)]
    if missing:
        row = missing[0]
        line_number = annotation_entries(list_file)[row][0]  # the dataset's rows are the list's entries, in order
        raise FileNotFoundError(
            f"{list_file}:{line_number}: the video {dataset[row]['video']} does not exist ({len(missing)} of "
            f"{len(dataset)} listed videos are missing). Check --data_root (the list's paths are relative to it)."
        )


# ------------------------------------------------------------------------------------------------ resuming
def is_complete_checkpoint(path: str | os.PathLike) -> bool:
    """A checkpoint directory whose save finished: Trainer writes `trainer_state.json` after the weights, the
    optimizer and the scheduler, so it is present and readable only when those are."""
    path = Path(path)
    state = path / "trainer_state.json"
    weights = any((path / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json"))
    if not (state.is_file() and weights):
        return False
    try:
        json.loads(state.read_text())
    except (OSError, ValueError):
        return False
    return True


def find_resumable_checkpoint(output_dir: str | os.PathLike) -> tuple[str | None, list[str]]:
    """The newest complete `checkpoint-N` of `output_dir` (transformers' `get_last_checkpoint`), and the names of the
    newer incomplete ones it skipped. Those are moved aside to `incomplete-checkpoint-N`, so that the Trainer (its
    checkpoint rotation, its next save under the same name) only ever sees complete checkpoints."""
    if not os.path.isdir(output_dir):
        return None, []
    skipped = []
    while (last := get_last_checkpoint(output_dir)) is not None and not is_complete_checkpoint(last):
        name = os.path.basename(last)
        skipped.append(name)
        aside = os.path.join(output_dir, f"incomplete-{name}")
        shutil.rmtree(aside, ignore_errors=True)
        try:
            os.replace(last, aside)
        except FileNotFoundError:  # another rank of the same run moved it first
            pass
    if skipped:
        where = f"Resuming from {os.path.basename(last)}" if last else f"No complete checkpoint in {output_dir}"
        logger.warning("%s; skipped incomplete checkpoints (moved to incomplete-*): %s", where, ", ".join(skipped))
    return last, skipped


# ------------------------------------------------------------------------------------------------ settings
# Optimiser settings that a recipe supplies unless the command line (or JSON/YAML file) sets them.
RECIPE_TRAINING_KEYS = ("learning_rate", "weight_decay", "lr_scheduler_type", "warmup_steps", "label_smoothing_factor")


def explicitly_given(argv: list[str]) -> set[str]:
    """Names of the options set on the command line (or the keys of a single JSON/YAML arguments file)."""
    if len(argv) == 1 and argv[0].endswith((".json", ".yaml", ".yml")):
        path = Path(argv[0])
        if path.suffix == ".json":
            return set(json.loads(path.read_text()))
        import yaml

        return set(yaml.safe_load(path.read_text()))
    return {arg[2:].split("=", 1)[0].replace("-", "_") for arg in argv if arg.startswith("--")}


def apply_recipe_defaults(training_args, recipe: Recipe, explicit: set[str]) -> None:
    """Set the recipe's optimiser settings (AdamW lr, weight decay, cosine schedule, warmup as a fraction of
    training, label smoothing) on `training_args`, except those in `explicit`."""
    values = {
        "learning_rate": recipe.learning_rate,
        "weight_decay": recipe.weight_decay,
        "lr_scheduler_type": "cosine",
        "warmup_steps": recipe.warmup_epochs / recipe.num_train_epochs,
        "label_smoothing_factor": recipe.label_smoothing,
    }
    for key in RECIPE_TRAINING_KEYS:
        if key not in explicit:
            setattr(training_args, key, values[key])


def parse_config_overrides(text: str | None) -> dict:
    """'a=1,b=[1,2],c=gelu' -> {'a': 1, 'b': [1, 2], 'c': 'gelu'} (commas inside brackets or quotes do not split).

    Not `PretrainedConfig.update_from_string`: it splits on every comma and parses no lists or tuples, and Video
    Swin's architecture is lists (`depths`, `num_heads`, `window_size`)."""
    if not text:
        return {}
    items, depth, quote, current = [], 0, None, ""
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0 and not quote:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    overrides = {}
    for item in filter(None, (i.strip() for i in items)):
        if "=" not in item:
            raise ValueError(f"--config_overrides items must look like key=value, got {item!r}.")
        key, value = (s.strip() for s in item.split("=", 1))
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


# ------------------------------------------------------------------------------------------------ outputs
def save_final_outputs(
    model,
    output_dir: str | os.PathLike,
    recipe,
    results: dict,
    labels: list[str],
    command: str,
    model_args=None,
    data_args=None,
    training_args=None,
    parameter_groups: str | None = None,
    processors=None,
) -> Path:
    """Write model, code, processors, model card and run arguments into `output_dir` atomically (see module)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    dataset = getattr(data_args, "dataset_name", None) or getattr(data_args, "train_file", None)
    if dataset and os.path.exists(dataset):  # a local path: name it, do not publish the machine's layout
        dataset = Path(dataset).name
    if dataset == "videofolder" and getattr(data_args, "data_dir", None):
        dataset = Path(data_args.data_dir).name
    card = render_fine_tuned_card(model, recipe, results, labels, command, dataset, parameter_groups)
    processors = processors if processors is not None else build_processors(recipe)
    run = {
        "command": command,
        "recipe": dataclasses.asdict(recipe),
        "model_args": dataclasses.asdict(model_args) if model_args is not None else None,
        "data_args": dataclasses.asdict(data_args) if data_args is not None else None,
    }

    def write(staging: Path) -> None:
        save_hub_directory(model, staging, processors=processors, model_card=card)
        (staging / "run_arguments.json").write_text(json.dumps(run, indent=2, default=str))
        if training_args is not None:
            (staging / "training_args.json").write_text(training_args.to_json_string())

    atomic_write(output_dir, write)
    return output_dir


def predict_with_confusion_matrix(trainer, dataset, labels: list[str]) -> tuple[dict, np.ndarray]:
    """`trainer.predict` metrics plus `eval_accuracy_<class>` for every class with evaluation videos (a class
    without any has no accuracy: it is named in the log and counted in `eval_classes_without_videos`), and the
    confusion matrix."""
    output = trainer.predict(dataset, metric_key_prefix="eval")
    metrics = dict(output.metrics)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    matrix = confusion_matrix(np.asarray(logits).argmax(-1), output.label_ids, len(labels))
    absent = []
    for name, value in zip(labels, per_class_accuracy(matrix)):
        if math.isnan(value):
            absent.append(str(name))
        else:
            metrics[f"eval_accuracy_{name}"] = float(value)
    if absent:
        logger.warning(
            "%d of %d classes have no evaluation videos, so no accuracy: %s",
            len(absent),
            len(labels),
            ", ".join(absent),
        )
    metrics["eval_classes_without_videos"] = len(absent)
    return metrics, matrix


def write_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], output_dir: str | os.PathLike, prefix: str = "confusion_matrix"
) -> dict[str, Path]:
    """Write `<prefix>.csv` (counts, with per-class accuracy as the last column) and `<prefix>.png` atomically."""
    output_dir = Path(output_dir)
    names = [str(n) for n in class_names]
    accuracy = per_class_accuracy(matrix)

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["true \\ predicted", *names, "support", "accuracy"])
    for i, name in enumerate(names):
        score = "" if math.isnan(accuracy[i]) else f"{accuracy[i]:.4f}"  # no videos of the class, no accuracy
        writer.writerow([name, *(int(v) for v in matrix[i]), int(matrix[i].sum()), score])
    csv_path = output_dir / f"{prefix}.csv"
    atomic_write_text(csv_path, text.getvalue())

    try:
        import matplotlib
    except ImportError:
        logger.warning(
            "matplotlib is not installed: wrote %s but not the PNG (pip install matplotlib, or "
            "pip install 'transformers-videoswin[train]', then rerun the evaluation).",
            csv_path,
        )
        return {"csv": csv_path}

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(names)
    size = min(4 + 0.35 * n, 40)
    fig, ax = plt.subplots(figsize=(size, size))
    normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if n <= 50:
        ax.set_xticks(range(n), names, rotation=90)
        ax.set_yticks(range(n), names)
        if n <= 20:
            for i in range(n):
                for j in range(n):
                    colour = "white" if normalised[i, j] > 0.5 else "black"
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", color=colour, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (rows normalised)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    png_path = output_dir / f"{prefix}.png"
    atomic_write_bytes(png_path, buffer.getvalue())
    return {"csv": csv_path, "png": png_path}
