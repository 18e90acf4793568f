"""Parameter groups (both modes) checked name by name and through an actual AdamW step; the warmup-cosine schedule."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification
from transformers_videoswin.training.optimization import (
    describe_parameter_groups,
    get_cosine_schedule_with_scaled_warmup,
    get_parameter_groups,
)

LR, WD = 1e-3, 0.05


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VideoSwinForVideoClassification(VideoSwinConfig(**tiny_config_kwargs()))


def expected_default(name: str, param: torch.Tensor) -> tuple[float, float]:
    head = name.startswith("classifier.")
    lr = LR if head else LR * 0.1
    no_decay = name.endswith("relative_position_bias_table") or name.endswith(".bias") or "norm" in name
    return lr, 0.0 if no_decay else WD


def expected_official(name: str, param: torch.Tensor) -> tuple[float, float]:
    if name.endswith("relative_position_bias_table"):
        return LR, 0.0
    if name.startswith("classifier."):
        return LR, WD
    return LR * 0.1, WD


def settings_by_name(groups) -> dict[str, tuple[float, float]]:
    out = {}
    for group in groups:
        for name in group["param_names"]:
            assert name not in out, f"{name} is in two groups"
            out[name] = (group["lr"], group["weight_decay"])
    return out


@pytest.mark.parametrize("mode,expected", [("default", expected_default), ("official", expected_official)])
def test_every_parameter_gets_the_intended_lr_and_decay(model, mode, expected):
    groups = get_parameter_groups(model, LR, WD, backbone_lr_multiplier=0.1, mode=mode)
    settings = settings_by_name(groups)
    named = dict(model.named_parameters())
    assert set(settings) == set(named)
    for name, param in named.items():
        assert settings[name] == pytest.approx(expected(name, param)), name
    # groups hold the very tensors, once each
    assert sum(len(g["params"]) for g in groups) == len(named)


def test_spot_checks_of_the_interesting_names(model):
    default = settings_by_name(get_parameter_groups(model, LR, WD))
    official = settings_by_name(get_parameter_groups(model, LR, WD, mode="official"))
    table = "videoswin.encoder.layers.0.blocks.0.attention.relative_position_bias_table"
    norm = "videoswin.encoder.layers.0.blocks.0.layernorm_before.weight"
    qkv_bias = "videoswin.encoder.layers.0.blocks.0.attention.qkv.bias"
    qkv = "videoswin.encoder.layers.0.blocks.0.attention.qkv.weight"
    reduction = "videoswin.encoder.layers.0.downsample.reduction.weight"
    assert default[table] == pytest.approx((1e-4, 0.0)) and official[table] == pytest.approx((1e-3, 0.0))
    assert default[norm] == pytest.approx((1e-4, 0.0)) and official[norm] == pytest.approx((1e-4, WD))
    assert default[qkv_bias] == pytest.approx((1e-4, 0.0)) and official[qkv_bias] == pytest.approx((1e-4, WD))
    assert default[qkv] == official[qkv] == pytest.approx((1e-4, WD))
    assert default[reduction] == pytest.approx((1e-4, WD))
    assert default["classifier.weight"] == official["classifier.weight"] == pytest.approx((LR, WD))
    assert default["classifier.bias"] == pytest.approx((LR, 0.0))
    assert official["classifier.bias"] == pytest.approx((LR, WD))


@pytest.mark.parametrize("mode", ["default", "official"])
def test_one_adamw_step_moves_each_parameter_by_its_group_lr(model, mode):
    """AdamW's first step is p <- p (1 - lr wd) - lr g / (|g| + eps): recover lr and wd of every tensor from it."""
    model = VideoSwinForVideoClassification(model.config)
    expected = expected_default if mode == "default" else expected_official
    optimizer = torch.optim.AdamW(get_parameter_groups(model, LR, WD, mode=mode), lr=LR, eps=1e-30)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    torch.manual_seed(1)
    for param in model.parameters():
        param.grad = torch.randn_like(param).sign() * (torch.rand_like(param) + 0.5)
    optimizer.step()
    for name, param in model.named_parameters():
        lr, wd = expected(name, param)
        predicted = before[name] * (1 - lr * wd) - lr * param.grad.sign()
        torch.testing.assert_close(param.detach(), predicted, rtol=0, atol=1e-7, msg=name)


def test_head_multiplier_and_bare_backbone(model):
    groups = get_parameter_groups(model, LR, WD, backbone_lr_multiplier=0.5, head_lr_multiplier=2.0)
    settings = settings_by_name(groups)
    assert settings["classifier.weight"][0] == pytest.approx(2e-3)
    assert settings["videoswin.embeddings.patch_embeddings.projection.weight"][0] == pytest.approx(5e-4)
    # a model without a head: all parameters are backbone parameters
    bare = get_parameter_groups(model.videoswin, LR, WD)
    assert {g["group_name"] for g in bare} == {"backbone", "backbone_no_decay"}


def test_frozen_parameters_are_left_out_and_wrappers_are_seen_through(model):
    model = VideoSwinForVideoClassification(model.config)
    for param in model.videoswin.embeddings.parameters():
        param.requires_grad_(False)
    names = set(settings_by_name(get_parameter_groups(model, LR, WD)))
    assert not any(n.startswith("videoswin.embeddings") for n in names)
    for wrapped in (torch.nn.DataParallel(model), torch.compile(model)):  # `module.` and `_orig_mod.` prefixes
        assert settings_by_name(get_parameter_groups(wrapped, LR, WD)) == settings_by_name(
            get_parameter_groups(model, LR, WD)
        )


def test_unknown_mode_is_rejected(model):
    with pytest.raises(ValueError, match="mode"):
        get_parameter_groups(model, LR, WD, mode="mmcv")


def test_description_lists_every_group(model):
    text = describe_parameter_groups(get_parameter_groups(model, LR, WD))
    for group in ("backbone ", "backbone_no_decay", "head ", "head_no_decay"):
        assert group in text


def test_cosine_schedule_with_warmup_from_a_tenth():
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.AdamW([{"params": [params[0]], "lr": 1.0}, {"params": [params[1]], "lr": 0.1}])
    schedule = get_cosine_schedule_with_scaled_warmup(optimizer, num_warmup_steps=10, num_training_steps=110)
    lrs = []
    for _ in range(111):
        lrs.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        schedule.step()
    assert lrs[0] == pytest.approx([0.1, 0.01])
    assert lrs[5] == pytest.approx([0.55, 0.055])
    assert lrs[10] == pytest.approx([1.0, 0.1])
    assert lrs[60] == pytest.approx([0.5 * (1 + math.cos(math.pi * 0.5)), 0.05 * (1 + math.cos(math.pi * 0.5))])
    assert lrs[110] == pytest.approx([0.0, 0.0], abs=1e-12)
    assert all(a >= b for (a, _), (b, _) in zip(lrs[10:], lrs[11:]))


def test_without_a_warmup_start_the_schedule_is_transformers_own():
    from transformers import get_cosine_schedule_with_warmup

    def lrs(make):
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        schedule = make(optimizer, num_warmup_steps=10, num_training_steps=110)
        values = []
        for _ in range(111):
            values.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        return values

    ours = lrs(lambda *a, **k: get_cosine_schedule_with_scaled_warmup(*a, warmup_start_factor=0.0, **k))
    assert ours == pytest.approx(lrs(get_cosine_schedule_with_warmup), abs=1e-12)
