"""AdamW parameter groups and the learning-rate schedule of the Video Swin fine-tuning recipe.

Two modes:

- ``"default"`` (what the official configs intend, and the usual practice): backbone parameters get
  ``lr * backbone_lr_multiplier`` (0.1 by default), the head ``lr * head_lr_multiplier`` (1.0); relative-position
  bias tables, and what transformers' ``Trainer`` exempts (normalisation weights and every bias), get no weight
  decay.
- ``"official"`` (what the official mmcv optimizer constructor actually applied, because its ``paramwise_cfg``
  takes the longest matching key): bias tables get the *full* learning rate and no weight decay; every other
  backbone parameter, norms and biases included, gets ``lr * backbone_lr_multiplier`` *with* weight decay; the head
  gets ``lr * head_lr_multiplier`` with weight decay.

Every group carries ``group_name`` and ``param_names`` keys besides ``params``, ``lr`` and ``weight_decay``
(torch optimizers keep extra keys), so the groups can be logged and checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from accelerate.utils import extract_model_from_parallel
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from transformers import Trainer

PARAMETER_GROUP_MODES = ("default", "official")


def is_bias_table(name: str) -> bool:
    return name.endswith("relative_position_bias_table")


def _backbone_prefix(model: nn.Module) -> str | None:
    prefix = getattr(model, "base_model_prefix", "") or ""
    if prefix and hasattr(model, prefix):
        return prefix + "."
    return None


def get_parameter_groups(
    model: nn.Module,
    learning_rate: float,
    weight_decay: float,
    backbone_lr_multiplier: float = 0.1,
    head_lr_multiplier: float = 1.0,
    mode: str = "default",
    backbone_prefix: str | None = None,
) -> list[dict]:
    """Split the trainable parameters of `model` into AdamW parameter groups (see the module docstring).

    Backbone parameters are those under `backbone_prefix` (default: the model's `base_model_prefix`, `videoswin.`);
    everything else (the classifier) is the head. For a bare backbone (no head), every parameter is backbone.
    Empty groups are dropped.
    """
    if mode not in PARAMETER_GROUP_MODES:
        raise ValueError(f"Unknown parameter-group mode {mode!r}; expected one of {PARAMETER_GROUP_MODES}.")
    # names as the bare model spells them: no `module.` (DDP) or `_orig_mod.` (torch.compile; transformers'
    # `unwrap_model` keeps that one)
    model = extract_model_from_parallel(model, keep_torch_compile=False)
    if backbone_prefix is None:
        backbone_prefix = _backbone_prefix(model)
    # transformers' rule (biases and normalisation weights), called on the class: it does not use the trainer
    decays = set(Trainer.get_decay_parameter_names(None, model))
    backbone_lr = learning_rate * backbone_lr_multiplier
    head_lr = learning_rate * head_lr_multiplier

    groups: dict[str, dict] = {}

    def add(group: str, lr: float, wd: float, name: str, param: nn.Parameter) -> None:
        entry = groups.setdefault(
            group, {"group_name": group, "lr": lr, "weight_decay": wd, "params": [], "param_names": []}
        )
        entry["params"].append(param)
        entry["param_names"].append(name)

    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        in_backbone = backbone_prefix is None or name.startswith(backbone_prefix)
        if mode == "official":
            if is_bias_table(name):
                add("bias_tables", learning_rate, 0.0, name, param)
            elif in_backbone:
                add("backbone", backbone_lr, weight_decay, name, param)
            else:
                add("head", head_lr, weight_decay, name, param)
        else:
            part = "backbone" if in_backbone else "head"
            lr = backbone_lr if in_backbone else head_lr
            if is_bias_table(name) or name not in decays:
                add(f"{part}_no_decay", lr, 0.0, name, param)
            else:
                add(part, lr, weight_decay, name, param)
    return list(groups.values())


def describe_parameter_groups(groups: Iterable[dict]) -> str:
    """A human-readable table of the groups (for the start-up log)."""
    lines = ["AdamW parameter groups:"]
    for group in groups:
        count = sum(p.numel() for p in group["params"])
        names = group.get("param_names", [])
        example = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        lines.append(
            f"  {group.get('group_name', '?'):<18} lr={group['lr']:.3g} weight_decay={group['weight_decay']:.3g} "
            f"tensors={len(group['params'])} params={count:,} [{example}]"
        )
    return "\n".join(lines)


def get_cosine_schedule_with_scaled_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    warmup_start_factor: float = 0.1,
    min_lr_factor: float = 0.0,
    last_epoch: int = -1,
) -> LambdaLR:
    """Linear warmup from `warmup_start_factor` x lr to lr (the official recipe starts at 0.1 x lr), then a cosine
    decay to `min_lr_factor` x lr at `num_training_steps`. Each parameter group keeps its own base lr.

    With both factors 0 this is transformers' `get_cosine_schedule_with_warmup`, which has no warmup start factor."""

    def factor(step: int) -> float:
        if step < num_warmup_steps:
            return warmup_start_factor + (1.0 - warmup_start_factor) * step / max(1, num_warmup_steps)
        progress = (step - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)
        progress = min(max(progress, 0.0), 1.0)
        return min_lr_factor + (1.0 - min_lr_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor, last_epoch)


__all__ = [
    "PARAMETER_GROUP_MODES",
    "describe_parameter_groups",
    "get_cosine_schedule_with_scaled_warmup",
    "get_parameter_groups",
]
