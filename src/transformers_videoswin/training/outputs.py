"""The final output directory of a fine-tuning run, written atomically.

Everything (the Hub directory of :func:`..checkpoints.hub.save_hub_directory`: safetensors weights, config with
``auto_map``, the model and processor code, processors, model card; then the run metadata) is first written into a temporary directory next to the output directory, then each file is moved into place with
``os.replace``: a reader never sees a half-written file, and an interrupted save leaves the previous files intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..checkpoints.hub import save_hub_directory
from ..checkpoints.model_cards import render_fine_tuned_card
from .transforms import build_processors


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
    staging = Path(tempfile.mkdtemp(prefix=".final-", dir=output_dir))
    try:
        dataset = getattr(data_args, "dataset_name", None) or getattr(data_args, "train_file", None)
        if dataset and os.path.exists(dataset):  # a local path: name it, do not publish the machine's layout
            dataset = Path(dataset).name
        if dataset == "videofolder" and getattr(data_args, "data_dir", None):
            dataset = Path(data_args.data_dir).name
        card = render_fine_tuned_card(model, recipe, results, labels, command, dataset, parameter_groups)
        processors = processors if processors is not None else build_processors(recipe)
        save_hub_directory(model, staging, processors=processors, model_card=card)
        run = {
            "command": command,
            "recipe": dataclasses.asdict(recipe),
            "model_args": dataclasses.asdict(model_args) if model_args is not None else None,
            "data_args": dataclasses.asdict(data_args) if data_args is not None else None,
        }
        (staging / "run_arguments.json").write_text(json.dumps(run, indent=2, default=str))
        if training_args is not None:
            (staging / "training_args.json").write_text(training_args.to_json_string())
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                target = output_dir / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output_dir


__all__ = ["save_final_outputs"]
