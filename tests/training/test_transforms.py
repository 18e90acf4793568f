"""Recipe transforms: one set of random parameters per clip, reproducible per sample, recipe values as specified."""

from __future__ import annotations

import pytest
import torch

from transformers_videoswin.training.transforms import (
    IMAGENET_MEAN,
    RECIPES,
    apply_video_transform,
    build_eval_transform,
    build_train_transform,
    get_recipe,
)


def constant_clip(num_frames=6, height=40, width=56, seed=0) -> torch.Tensor:
    """uint8 [T, H, W, 3] whose frames are all the same random image."""
    generator = torch.Generator().manual_seed(seed)
    frame = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=generator)
    return frame.expand(num_frames, -1, -1, -1).contiguous()


@pytest.mark.parametrize("recipe_name", ["kinetics", "ssv2"])
def test_every_frame_gets_the_same_augmentation(recipe_name):
    # erasing always on, RandAugment on for both, so every random transform of both recipes is exercised
    recipe = get_recipe(recipe_name, image_size=32, random_erasing_prob=1.0, rand_augment_num_ops=3)
    transform = build_train_transform(recipe)
    for seed in range(8):
        out = apply_video_transform(transform, constant_clip(seed=seed), torch.Generator().manual_seed(seed))
        assert out.shape == (6, 3, 32, 32) and out.dtype == torch.float32
        assert torch.equal(out, out[:1].expand_as(out)), f"frames differ (seed {seed})"


def test_the_random_parameters_do_change_between_clips():
    recipe = get_recipe("kinetics", image_size=32)
    transform = build_train_transform(recipe)
    clip = constant_clip()
    outs = [apply_video_transform(transform, clip, torch.Generator().manual_seed(s)) for s in range(6)]
    assert len({round(float(o.sum()), 3) for o in outs}) > 1


def test_a_generator_makes_the_augmentation_reproducible_without_touching_the_global_rng():
    transform = build_train_transform(get_recipe("ssv2", image_size=32))
    clip = torch.randint(0, 256, (4, 40, 40, 3), dtype=torch.uint8)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = apply_video_transform(transform, clip, torch.Generator().manual_seed(7))
    assert torch.equal(torch.random.get_rng_state(), before)
    b = apply_video_transform(transform, clip, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_eval_transform_is_a_normalised_center_crop():
    recipe = get_recipe("kinetics", image_size=32, resize_ratio=1.0)
    clip = torch.zeros((2, 32, 48, 3), dtype=torch.uint8)
    clip[:, :, 8:40] = 255  # the centre 32 columns are white
    out = apply_video_transform(build_eval_transform(recipe), clip)
    assert out.shape == (2, 3, 32, 32)
    expected_white = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor((0.229, 0.224, 0.225))
    torch.testing.assert_close(out[0, :, 16, 16], expected_white)
    torch.testing.assert_close(out, out[0, :, 16, 16][None, :, None, None].expand_as(out))


def test_recipes_follow_the_spec():
    kinetics, ssv2 = RECIPES["kinetics"], RECIPES["ssv2"]
    assert (kinetics.num_frames, kinetics.frame_interval, kinetics.flip_prob) == (32, 2, 0.5)
    assert kinetics.crop_scale == (0.08, 1.0) and kinetics.crop_ratio == pytest.approx((3 / 4, 4 / 3))
    assert kinetics.rand_augment_num_ops == 0 and kinetics.random_erasing_prob == 0
    assert (ssv2.sampling, ssv2.flip_prob, ssv2.label_smoothing) == ("ssv2", 0.0, 0.1)
    assert (ssv2.rand_augment_num_ops, ssv2.rand_augment_magnitude, ssv2.random_erasing_prob) == (4, 7, 0.25)
    assert build_train_transform(ssv2).transforms[0].size == [256]
    assert not any(type(t).__name__ == "RandomHorizontalFlip" for t in build_train_transform(ssv2).transforms)


def test_overrides_ignore_none_and_reject_unknown_fields():
    assert get_recipe("kinetics", num_frames=None, image_size=64).image_size == 64
    with pytest.raises(ValueError, match="Unknown recipe fields"):
        get_recipe("kinetics", frames=8)
    with pytest.raises(ValueError, match="Unknown recipe"):
        get_recipe("imagenet")
