"""A `Trainer` with the Video Swin parameter groups and the recipe's warmup, plus the callbacks the script uses."""

from __future__ import annotations

import logging

from transformers import Trainer, TrainerCallback

from .optimization import describe_parameter_groups, get_cosine_schedule_with_scaled_warmup, get_parameter_groups

logger = logging.getLogger(__name__)


class VideoClassificationTrainer(Trainer):
    """`Trainer` whose optimizer uses :func:`transformers_videoswin.training.optimization.get_parameter_groups` (logged at
    start-up) and whose ``cosine`` schedule warms up linearly from ``warmup_start_factor`` x lr (0.1 in the official
    recipe; 0 gives transformers' usual schedule)."""

    def __init__(
        self,
        *args,
        param_group_mode: str = "default",
        backbone_lr_multiplier: float = 0.1,
        head_lr_multiplier: float = 1.0,
        warmup_start_factor: float = 0.1,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.param_group_mode = param_group_mode
        self.backbone_lr_multiplier = backbone_lr_multiplier
        self.head_lr_multiplier = head_lr_multiplier
        self.warmup_start_factor = warmup_start_factor
        self.parameter_group_description: str | None = None

    def create_optimizer(self, model=None):
        opt_model = self.model if model is None else model
        if self.optimizer is None:
            groups = get_parameter_groups(
                opt_model,
                learning_rate=self.args.learning_rate,
                weight_decay=self.args.weight_decay,
                backbone_lr_multiplier=self.backbone_lr_multiplier,
                head_lr_multiplier=self.head_lr_multiplier,
                mode=self.param_group_mode,
            )
            self.parameter_group_description = describe_parameter_groups(groups)
            logger.info(self.parameter_group_description)
            if self.is_world_process_zero():
                print(self.parameter_group_description, flush=True)
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            # Torch optimizers keep extra group keys; the names are for logging only and would bloat checkpoints.
            for group in groups:
                group.pop("param_names", None)
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        scaled_warmup = self.warmup_start_factor > 0 and str(self.args.lr_scheduler_type).endswith("cosine")
        if self.lr_scheduler is None and scaled_warmup:
            optimizer = self.optimizer if optimizer is None else optimizer
            self.lr_scheduler = get_cosine_schedule_with_scaled_warmup(
                optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps,
                warmup_start_factor=self.warmup_start_factor,
            )
            self._created_lr_scheduler = True
            return self.lr_scheduler
        return super().create_scheduler(num_training_steps, optimizer)


class SetEpochCallback(TrainerCallback):
    """Tells the datasets the epoch number, so per-sample augmentations differ between epochs but not between an
    interrupted and a resumed run."""

    def __init__(self, *datasets):
        self.datasets = [d for d in datasets if d is not None and hasattr(d, "set_epoch")]

    def on_epoch_begin(self, args, state, control, **kwargs):
        epoch = int(state.epoch or 0)
        for dataset in self.datasets:
            dataset.set_epoch(epoch)


class CorruptVideoCheckCallback(TrainerCallback):
    """Logs the skipped-video counters with the training logs."""

    def __init__(self, *trackers):
        self.trackers = [t for t in trackers if t is not None]

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None:
            for tracker in self.trackers:
                if tracker.failed:
                    logs.update(tracker.summary())


class StepCounterCallback(TrainerCallback):
    """Optimizer steps taken by this process (a resumed run takes only the remaining ones)."""

    def __init__(self):
        self.steps = 0

    def on_step_end(self, args, state, control, **kwargs):
        self.steps += 1


__all__ = ["CorruptVideoCheckCallback", "SetEpochCallback", "StepCounterCallback", "VideoClassificationTrainer"]
