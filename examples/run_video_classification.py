#!/usr/bin/env python
"""Fine-tune (or train from scratch) a Video Swin Transformer for video classification with the `Trainer`.

Data: `--dataset_name` (a Hub id or a local directory for `load_dataset`: parquet with video bytes or paths, or
`videofolder` together with `--data_dir`), or mmaction annotation lists `--train_file/--validation_file`
(`<path> <label>` per line, relative to `--data_root`). `--streaming` streams any of them.

Recipes (`--recipe kinetics|ssv2`) follow the official configs: frame sampling, augmentation (random resized crop,
flip for Kinetics; RandAugment and random erasing for SSv2, identical for every frame of a clip), label smoothing
(SSv2), one centre view for validation, and the optimiser settings (AdamW, lr, weight decay, cosine with linear
warmup from 0.1 x lr) unless given on the command line. `--eval_views 4x3` adds a final multi-view evaluation.

Single process:
    python examples/run_video_classification.py --dataset_name path/or/hub-id --config_name tiny \
        --output_dir out --do_train --do_eval --per_device_train_batch_size 8 --gradient_accumulation_steps 8
Several GPUs / machines: the same command under `torchrun --nproc_per_node N` or `accelerate launch`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import transformers
from transformers import HfArgumentParser, TrainingArguments, set_seed
from video_classification_utils import (
    apply_recipe_defaults,
    check_columns,
    check_labels,
    explicitly_given,
    find_resumable_checkpoint,
    load_raw_datasets,
    parse_config_overrides,
    pick_eval_split,
    predict_with_confusion_matrix,
    save_final_outputs,
    to_class_labels,
    write_confusion_matrix,
)

from transformers_videoswin.data import prepare_video_column
from transformers_videoswin.file_utils import UnwritableLocation, atomic_write_text, check_writable_directory
from transformers_videoswin.model.configuration_videoswin import VARIANTS
from transformers_videoswin.processing.multiview import parse_views
from transformers_videoswin.training import (
    RECIPES,
    ClipLoader,
    CorruptVideoCheckCallback,
    CorruptVideoTracker,
    SetEpochCallback,
    StreamingVideoClipDataset,
    VideoClassificationTrainer,
    VideoClipDataset,
    build_processors,
    build_train_transform,
    collate_clips,
    get_recipe,
    make_index_sampler,
)
from transformers_videoswin.training.configuration import build_config, build_model
from transformers_videoswin.training.evaluation import build_compute_metrics, evaluate_multiview
from transformers_videoswin.training.optimization import PARAMETER_GROUP_MODES
from transformers_videoswin.training.trainer import StepCounterCallback

logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A converted Video Swin checkpoint (directory or Hub id) to fine-tune; a head of a different "
            "size is re-initialised (ignore_mismatched_sizes)."
        },
    )
    image_model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A 2D ImageNet Swin (official .pth or transformers Swin directory) to inflate into the "
            "video model given by --config_name/--config_overrides."
        },
    )
    config_name: str | None = field(
        default=None,
        metadata={
            "help": f"Architecture for training from scratch or inflation: a variant ({', '.join(VARIANTS)}) "
            "or a config directory / Hub id."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Override config fields, e.g. 'embed_dim=32,depths=[1,1,2,1],num_heads=[1,2,4,8]' "
            "(values are Python literals)."
        },
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where to cache models from the Hub."})
    model_revision: str = field(default="main", metadata={"help": "Model revision (branch, tag or commit)."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow remote code of Hub models."})
    param_group_mode: str = field(
        default="default",
        metadata={
            "help": f"AdamW parameter groups: {PARAMETER_GROUP_MODES} ('official' reproduces what mmcv "
            "actually applied)."
        },
    )
    backbone_lr_multiplier: float | None = field(
        default=None,
        metadata={"help": "Backbone lr = lr x this (default 0.1 when fine-tuning or inflating, 1.0 from scratch)."},
    )
    head_lr_multiplier: float = field(default=1.0, metadata={"help": "Head lr = lr x this."})
    warmup_start_factor: float = field(
        default=0.1, metadata={"help": "The cosine schedule's linear warmup starts at lr x this (official: 0.1)."}
    )
    drop_path_rate: float | None = field(default=None, metadata={"help": "Override the stochastic depth rate."})


@dataclass
class DataTrainingArguments:
    dataset_name: str | None = field(
        default=None, metadata={"help": "Hub id or local path for load_dataset (parquet, 'videofolder', ...)."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Dataset configuration name."})
    data_dir: str | None = field(default=None, metadata={"help": "data_dir for load_dataset (e.g. a videofolder)."})
    train_file: str | None = field(default=None, metadata={"help": "mmaction annotation list for training."})
    validation_file: str | None = field(default=None, metadata={"help": "mmaction annotation list for evaluation."})
    data_root: str | None = field(
        default=None, metadata={"help": "Root of the relative video paths of the lists (or of a parquet's paths)."}
    )
    label_names_file: str | None = field(
        default=None,
        metadata={
            "help": "Class names, one per line, for annotation lists or a plain (not ClassLabel) label column (or "
            "a packaged list: kinetics400, kinetics600, ssv2)."
        },
    )
    video_column_name: str = field(default="video", metadata={"help": "Column holding the videos."})
    label_column_name: str = field(default="label", metadata={"help": "Column holding the labels."})
    train_split_name: str = field(default="train", metadata={"help": "Training split."})
    eval_split_name: str | None = field(
        default=None, metadata={"help": "Evaluation split (default: validation, else test, else a train split-off)."}
    )
    train_val_split: float = field(
        default=0.1,
        metadata={"help": "Fraction of train held out for --do_eval when the dataset has no evaluation split."},
    )
    streaming: bool = field(default=False, metadata={"help": "Stream the dataset instead of downloading it."})
    shuffle_buffer_size: int = field(default=1000, metadata={"help": "Shuffle buffer when streaming."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Truncate the training set."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Truncate the evaluation set."})
    recipe: str = field(default="kinetics", metadata={"help": f"Training recipe: {sorted(RECIPES)}."})
    num_frames: int | None = field(default=None, metadata={"help": "Frames per clip (recipe: 32)."})
    frame_interval: int | None = field(default=None, metadata={"help": "Frame stride (kinetics recipe: 2)."})
    image_size: int | None = field(default=None, metadata={"help": "Crop size (recipe: 224)."})
    resize_ratio: float | None = field(default=None, metadata={"help": "Short side = image_size x this (256/224)."})
    crop_min_scale: float | None = field(default=None, metadata={"help": "RandomResizedCrop minimal area (0.08)."})
    flip_prob: float | None = field(default=None, metadata={"help": "Horizontal flip probability."})
    rand_augment_num_ops: int | None = field(default=None, metadata={"help": "RandAugment ops (ssv2: 4; 0 = off)."})
    rand_augment_magnitude: int | None = field(default=None, metadata={"help": "RandAugment magnitude (ssv2: 7)."})
    random_erasing_prob: float | None = field(default=None, metadata={"help": "Random erasing probability."})
    eval_views: str = field(
        default="1x1", metadata={"help": "Final multi-view evaluation CLIPSxCROPS, e.g. 4x3 (Kinetics) or 1x3."}
    )
    max_corrupt_fraction: float = field(
        default=0.01, metadata={"help": "Fail when more than this fraction of videos cannot be decoded."}
    )
    decode_backend: str = field(default="auto", metadata={"help": "Video decoder: auto, torchcodec or pyav."})
    shuffle_frames: bool = field(
        default=False,
        metadata={"help": "Shuffle the frames inside every clip (train and eval): a control that removes time."},
    )
    write_confusion_matrix: bool = field(default=True, metadata={"help": "Write confusion_matrix.{csv,png}."})

    def __post_init__(self):
        if self.dataset_name is None and self.train_file is None and self.validation_file is None:
            raise ValueError("Give --dataset_name (or --dataset_name videofolder --data_dir DIR) or --train_file.")
        if self.recipe not in RECIPES:
            raise ValueError(f"--recipe must be one of {sorted(RECIPES)}, got {self.recipe!r}.")


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, TrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        model_args, data_args, training_args = parser.parse_json_file(json_file=os.path.abspath(argv[0]))
    elif len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        model_args, data_args, training_args = parser.parse_yaml_file(os.path.abspath(argv[0]))
    else:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    training_args.remove_unused_columns = False  # the collator builds pixel_values itself

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    logging.getLogger("transformers_videoswin").setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()
    logger.warning(
        "Process rank: %s, device: %s, n_gpu: %s, distributed: %s, bf16: %s, fp16: %s",
        training_args.process_index,
        training_args.device,
        training_args.n_gpu,
        training_args.parallel_mode.value == "distributed",
        training_args.bf16,
        training_args.fp16,
    )

    # Recipe: data settings, and the optimiser settings the command line leaves open.
    recipe = get_recipe(
        data_args.recipe,
        num_frames=data_args.num_frames,
        frame_interval=data_args.frame_interval,
        image_size=data_args.image_size,
        resize_ratio=data_args.resize_ratio,
        crop_scale=None if data_args.crop_min_scale is None else (data_args.crop_min_scale, 1.0),
        flip_prob=data_args.flip_prob,
        rand_augment_num_ops=data_args.rand_augment_num_ops,
        rand_augment_magnitude=data_args.rand_augment_magnitude,
        random_erasing_prob=data_args.random_erasing_prob,
    )
    apply_recipe_defaults(training_args, recipe, explicitly_given(argv))
    logger.info("Recipe: %s", recipe)
    clips, crops = parse_views(data_args.eval_views)  # checked now, used after training
    if recipe.sampling == "ssv2" and clips > 1:
        raise ValueError("The ssv2 protocol takes one clip per video; use --eval_views 1x3.")
    overrides = parse_config_overrides(model_args.config_overrides)
    if model_args.drop_path_rate is not None:
        overrides["drop_path_rate"] = model_args.drop_path_rate
    try:  # a read-only, full or mistyped output directory fails now, not at the first checkpoint
        check_writable_directory(training_args.output_dir)
    except UnwritableLocation as error:
        raise ValueError(f"--output_dir {training_args.output_dir}: {error}") from None

    # Resuming: "--resume_from_checkpoint last" picks the newest complete checkpoint-* of the output dir (a save cut
    # short by a kill leaves an incomplete one, which is skipped and named); a path works too.
    checkpoint = training_args.resume_from_checkpoint
    if checkpoint in ("last", "latest", "auto", "True", "true"):
        checkpoint, _ = find_resumable_checkpoint(training_args.output_dir)
        if checkpoint is None:
            logger.info("No complete checkpoint in %s: starting from scratch.", training_args.output_dir)
    if checkpoint:
        logger.info("Resuming from %s", checkpoint)

    set_seed(training_args.seed)

    # Data, checked before the model is built: columns, labels, files.
    with training_args.main_process_first(desc="loading the dataset"):
        raw = load_raw_datasets(data_args, model_args)
        raw, eval_split = pick_eval_split(raw, data_args, training_args.seed, training_args.do_eval)
    train_split = data_args.train_split_name if data_args.train_split_name in raw else None
    if training_args.do_train and train_split is None:
        raise ValueError(f"--do_train needs a '{data_args.train_split_name}' split; the dataset has {list(raw)}.")
    if training_args.do_eval and eval_split is None:
        raise ValueError(f"--do_eval needs an evaluation split; the dataset has {list(raw)}.")
    for split in (train_split, eval_split):
        if split is not None:
            check_columns(raw[split], split, data_args.video_column_name, data_args.label_column_name)
    labels = to_class_labels(raw, data_args.label_column_name, data_args.label_names_file)
    for split in list(raw):
        raw[split] = prepare_video_column(raw[split], data_args.video_column_name)
        if not data_args.streaming:
            check_labels(raw[split], split, data_args.label_column_name, len(labels))
    if data_args.streaming:
        if train_split:
            raw[train_split] = raw[train_split].shuffle(
                seed=training_args.seed, buffer_size=data_args.shuffle_buffer_size
            )
            if data_args.max_train_samples is not None:
                raw[train_split] = raw[train_split].take(data_args.max_train_samples)
        if eval_split and data_args.max_eval_samples is not None:
            raw[eval_split] = raw[eval_split].take(data_args.max_eval_samples)
    else:
        if train_split and data_args.max_train_samples is not None:
            n = min(data_args.max_train_samples, len(raw[train_split]))
            raw[train_split] = raw[train_split].shuffle(seed=training_args.seed).select(range(n))
        if eval_split and data_args.max_eval_samples is not None:
            raw[eval_split] = raw[eval_split].select(range(min(data_args.max_eval_samples, len(raw[eval_split]))))
    if data_args.streaming and training_args.do_train and training_args.max_steps <= 0:
        raise ValueError("A streamed training set has no length: give --max_steps.")

    # Model.
    hub_kwargs = {"cache_dir": model_args.cache_dir}
    if model_args.model_name_or_path:
        hub_kwargs.update(revision=model_args.model_revision, trust_remote_code=model_args.trust_remote_code)
    config = build_config(
        labels, recipe, model_args.model_name_or_path, model_args.config_name, overrides, **hub_kwargs
    )
    model = build_model(config, model_args.model_name_or_path, model_args.image_model_name_or_path, **hub_kwargs)
    if model_args.backbone_lr_multiplier is None:
        pretrained = model_args.model_name_or_path or model_args.image_model_name_or_path
        model_args.backbone_lr_multiplier = 0.1 if pretrained else 1.0

    # Clips: training augments on top of the recipe's sampling; evaluation is the processor saved with the model.
    processors = build_processors(recipe)
    train_tracker = CorruptVideoTracker(data_args.max_corrupt_fraction, name="train")
    eval_tracker = CorruptVideoTracker(data_args.max_corrupt_fraction, name="eval")

    def clip_dataset(split: str, train: bool, tracker: CorruptVideoTracker):
        loader = ClipLoader(
            data_args.video_column_name,
            data_args.label_column_name,
            make_index_sampler(recipe, train=train),
            build_train_transform(recipe) if train else processors[1],
            seed=training_args.seed if train else training_args.seed + 1,
            data_root=data_args.data_root,
            decode_backend=data_args.decode_backend,
            shuffle_frames=data_args.shuffle_frames,
        )
        if data_args.streaming:
            return StreamingVideoClipDataset(raw[split], loader, tracker)
        return VideoClipDataset(raw[split], loader, tracker)

    train_dataset = clip_dataset(train_split, True, train_tracker) if training_args.do_train else None
    eval_dataset = clip_dataset(eval_split, False, eval_tracker) if eval_split and training_args.do_eval else None

    step_counter = StepCounterCallback()
    trainer = VideoClassificationTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collate_clips,
        compute_metrics=build_compute_metrics(),
        callbacks=[
            SetEpochCallback(train_dataset, eval_dataset),
            CorruptVideoCheckCallback(train_tracker, eval_tracker),
            step_counter,
        ],
        param_group_mode=model_args.param_group_mode,
        backbone_lr_multiplier=model_args.backbone_lr_multiplier,
        head_lr_multiplier=model_args.head_lr_multiplier,
        warmup_start_factor=model_args.warmup_start_factor,
    )

    def save_outputs(results: dict) -> None:
        if training_args.do_train and trainer.is_world_process_zero():
            save_final_outputs(
                trainer.model,
                training_args.output_dir,
                recipe=recipe,
                results=results,
                labels=labels,
                command=" ".join(["python", os.path.basename(__file__), *argv]),
                model_args=model_args,
                data_args=data_args,
                training_args=training_args,
                parameter_groups=trainer.parameter_group_description,
                processors=processors,
            )

    # Training; the trained model, processors and card are on disk before anything else can fail.
    results: dict = {}
    start = time.time()
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=checkpoint or None)
        metrics = {**train_result.metrics, **train_tracker.summary(), "train_steps_this_run": step_counter.steps}
        if checkpoint:
            metrics["train_resumed_from"] = os.path.basename(os.path.normpath(checkpoint))
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()
        results.update({k if k.startswith("train") else f"train_{k}": v for k, v in metrics.items()})
        save_outputs(results)

    # Evaluation, and the checks that only the end of the run can make.
    try:
        eval_matrix = None
        if training_args.do_eval and eval_dataset is not None:
            if data_args.streaming:
                metrics = trainer.evaluate()
            else:
                metrics, eval_matrix = predict_with_confusion_matrix(trainer, eval_dataset, labels)
            metrics.update(eval_tracker.summary())
            trainer.log_metrics("eval", metrics)
            trainer.save_metrics("eval", metrics)
            results.update(metrics)
            # The multi-view pass runs once, in the main process (it is a final report, not part of training).
            if (clips, crops) != (1, 1) and not data_args.streaming and trainer.is_world_process_zero():
                views = evaluate_multiview(
                    trainer.model,
                    raw[eval_split],
                    processors[1],
                    clips,
                    crops,
                    video_column=data_args.video_column_name,
                    label_column=data_args.label_column_name,
                    data_root=data_args.data_root,
                    decode_backend=data_args.decode_backend,
                    max_testing_views=training_args.per_device_eval_batch_size,
                )
                views = {f"eval_{clips}x{crops}_{k}": v for k, v in views.items()}
                trainer.log_metrics("eval", views)
                results.update(views)
        results["wall_time_seconds"] = time.time() - start

        if trainer.is_world_process_zero():
            if any(k.startswith("eval_") for k in results):
                save_outputs(results)  # the model card with the evaluation results
            if eval_matrix is not None and data_args.write_confusion_matrix:
                write_confusion_matrix(eval_matrix, labels, training_args.output_dir)
            text = json.dumps(results, indent=2, default=str)
            atomic_write_text(Path(training_args.output_dir) / "all_results.json", text)
        train_tracker.check(final=True)
        eval_tracker.check(final=True)
    except Exception as error:
        if training_args.do_train:
            error.add_note(
                f"The trained model, its processors and the metrics so far are saved in {training_args.output_dir}."
            )
            logger.error("Failed after training; the trained model is saved in %s.", training_args.output_dir)
        raise
    logger.warning("Rank %d finished.", training_args.process_index)
    return results


if __name__ == "__main__":
    main()
