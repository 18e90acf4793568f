"""The fine-tuning `Trainer`: the loss it logs and reports is the per-clip mean whatever the gradient accumulation."""

from __future__ import annotations

import pytest
import torch
from transformers import TrainingArguments

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification
from transformers_videoswin.training import VideoClassificationTrainer, collate_clips


def clips(count: int = 8) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    return [
        {"pixel_values": torch.randn(4, 3, 16, 16, generator=generator), "labels": index % 3} for index in range(count)
    ]


def logged_losses(tmp_path, batch_size: int, accumulation: int, label_smoothing: float) -> tuple[list, list, float]:
    """The losses and gradient norms logged at each optimizer step (4 clips each) and `train_loss`, with a learning
    rate of 0 so that every configuration sees the same weights."""
    torch.manual_seed(0)
    config = VideoSwinConfig(
        embed_dim=8, depths=[1, 1], num_heads=[1, 2], window_size=[2, 4, 4], num_frames=4, image_size=16,
        num_labels=3, drop_path_rate=0.0, classifier_dropout_prob=0.0,
    )  # fmt: skip
    args = TrainingArguments(
        output_dir=str(tmp_path / f"{batch_size}x{accumulation}"),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=0.0,
        max_steps=2,
        logging_steps=1,
        label_smoothing_factor=label_smoothing,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    trainer = VideoClassificationTrainer(
        model=VideoSwinForVideoClassification(config),
        args=args,
        train_dataset=clips(),
        data_collator=collate_clips,
        warmup_start_factor=0.0,
    )
    result = trainer.train()
    steps = [entry for entry in trainer.state.log_history if "loss" in entry]
    return [s["loss"] for s in steps], [s["grad_norm"] for s in steps], result.metrics["train_loss"]


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_gradient_accumulation_does_not_scale_the_reported_loss(tmp_path, label_smoothing):
    # 4 clips per optimizer step either way: one batch of 4, or two accumulated batches of 2. The smoothed loss (the
    # SSv2 recipe) is Trainer's label smoother's, which normalises by the number of items itself.
    single, single_norms, single_train_loss = logged_losses(tmp_path, 4, 1, label_smoothing)
    accumulated, accumulated_norms, accumulated_train_loss = logged_losses(tmp_path, 2, 2, label_smoothing)
    assert len(single) == len(accumulated) == 2
    assert accumulated == pytest.approx(single, rel=1e-4)
    assert accumulated_train_loss == pytest.approx(single_train_loss, rel=1e-4)
    # the gradient too (what gradient clipping sees), not only the number logged
    assert accumulated_norms == pytest.approx(single_norms, rel=1e-4)
