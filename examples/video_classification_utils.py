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

import numpy as np
from transformers.trainer_utils import get_last_checkpoint

from transformers_videoswin.checkpoints.hub import save_hub_directory
from transformers_videoswin.checkpoints.model_cards import render_fine_tuned_card
from transformers_videoswin.data import VIDEO_EXTENSIONS, load_annotation_lists, load_video_dataset, read_label_names
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
        return load_annotation_lists(files, data_args.data_root, names, streaming=data_args.streaming)
    check_local_dataset_path(data_args.dataset_name)
    if data_args.dataset_name == "videofolder" and data_args.data_dir:
        check_video_folder(data_args.data_dir)
    kwargs = {"cache_dir": model_args.cache_dir, "streaming": data_args.streaming}
    if data_args.data_dir:
        kwargs["data_dir"] = data_args.data_dir
    return load_video_dataset(data_args.dataset_name, data_args.dataset_config_name, **kwargs)


def pick_eval_split(raw, data_args, seed: int):
    """Name of the evaluation split; carves one out of train when the dataset has none."""
    if data_args.eval_split_name:
        return raw, data_args.eval_split_name
    for name in ("validation", "valid", "val", "test"):
        if name in raw:
            return raw, name
    if data_args.streaming or not data_args.train_val_split or data_args.train_split_name not in raw:
        return raw, None
    split = raw[data_args.train_split_name].train_test_split(test_size=data_args.train_val_split, seed=seed)
    raw[data_args.train_split_name] = split["train"]
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


def check_labels(dataset, split: str, label_column: str, num_labels: int) -> None:
    """Every label of a (non-streamed) split is an integer in [0, num_labels)."""
    import numpy as np

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


def check_annotation_videos(dataset, split: str, video_column: str) -> None:
    """The videos of an annotation list exist (paths are already joined to --data_root)."""
    missing = [(row, path) for row, path in enumerate(dataset[video_column]) if not os.path.exists(path)]
    if missing:
        row, path = missing[0]
        raise FileNotFoundError(
            f"{split}: {len(missing)} of {len(dataset)} videos do not exist, the first at row {row}: {path}. Check "
            "--data_root (the list's paths are relative to it)."
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
    """'a=1,b=[1,2],c=gelu' -> {'a': 1, 'b': [1, 2], 'c': 'gelu'} (commas inside brackets do not split).

    Not `PretrainedConfig.update_from_string`: it splits on every comma and parses no lists or tuples, and Video
    Swin's architecture is lists (`depths`, `num_heads`, `window_size`)."""
    if not text:
        return {}
    items, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
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
    """`trainer.predict` metrics plus `eval_accuracy_<class>` for every class, and the confusion matrix."""
    output = trainer.predict(dataset, metric_key_prefix="eval")
    metrics = dict(output.metrics)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    matrix = confusion_matrix(np.asarray(logits).argmax(-1), output.label_ids, len(labels))
    for name, value in zip(labels, per_class_accuracy(matrix)):
        metrics[f"eval_accuracy_{name}"] = None if math.isnan(value) else float(value)
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
        writer.writerow([name, *(int(v) for v in matrix[i]), int(matrix[i].sum()), f"{accuracy[i]:.4f}"])
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
