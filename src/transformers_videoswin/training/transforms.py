"""Training recipes of the official configs (spec: "Training and testing recipes") as torchvision v2 pipelines.

Clips are ``tv_tensors.Video`` ``[T, C, H, W]``: torchvision v2 draws the random parameters of each transform once
per call, so every frame of a clip gets the same crop, flip, RandAugment operations and erased box.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from transformers.image_utils import IMAGENET_DEFAULT_MEAN as IMAGENET_MEAN
from transformers.image_utils import IMAGENET_DEFAULT_STD as IMAGENET_STD
from transformers.video_processing_utils import BaseVideoProcessor


@dataclass(frozen=True)
class Recipe:
    """Everything a recipe fixes besides the model. `None` fields of a user override keep the recipe value."""

    name: str
    sampling: str  # "kinetics" (clips at a stride) or "ssv2" (one frame per uniform segment)
    num_frames: int = 32
    frame_interval: int = 2
    image_size: int = 224
    resize_ratio: float = 256 / 224  # the short side is resized to image_size * resize_ratio before cropping
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_prob: float = 0.5
    rand_augment_num_ops: int = 0
    rand_augment_magnitude: int = 7
    random_erasing_prob: float = 0.0
    label_smoothing: float = 0.0
    learning_rate: float = 1e-3
    weight_decay: float = 0.02
    num_train_epochs: float = 30
    warmup_epochs: float = 2.5
    warmup_start_factor: float = 0.1

    def override(self, **kwargs) -> Recipe:
        """A copy with every non-None keyword replacing the field of that name."""
        names = {f.name for f in fields(self)}
        unknown = set(kwargs) - names
        if unknown:
            raise ValueError(f"Unknown recipe fields: {sorted(unknown)}")
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})


RECIPES: dict[str, Recipe] = {
    "kinetics": Recipe(name="kinetics", sampling="kinetics", num_frames=32, frame_interval=2, flip_prob=0.5),
    "ssv2": Recipe(
        name="ssv2",
        sampling="ssv2",
        num_frames=32,
        flip_prob=0.0,  # left/right matters in Something-Something
        rand_augment_num_ops=4,
        rand_augment_magnitude=7,
        random_erasing_prob=0.25,
        label_smoothing=0.1,
        learning_rate=3e-4,
        weight_decay=0.05,
        num_train_epochs=60,
    ),
}


def get_recipe(name: str, **overrides) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; expected one of {sorted(RECIPES)}.")
    return RECIPES[name].override(**overrides)


def _short_side(recipe: Recipe) -> int:
    return max(recipe.image_size, int(round(recipe.image_size * recipe.resize_ratio)))


def build_train_transform(
    recipe: Recipe, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> v2.Compose:
    """uint8 video ``[T, C, H, W]`` -> normalised float32 ``[T, C, S, S]`` with the recipe's augmentation."""
    steps: list = [
        v2.Resize(_short_side(recipe), antialias=True),
        v2.RandomResizedCrop(
            (recipe.image_size, recipe.image_size),
            scale=tuple(recipe.crop_scale),
            ratio=tuple(recipe.crop_ratio),
            antialias=True,
        ),
    ]
    if recipe.flip_prob > 0:
        steps.append(v2.RandomHorizontalFlip(recipe.flip_prob))
    if recipe.rand_augment_num_ops > 0:
        steps.append(v2.RandAugment(num_ops=recipe.rand_augment_num_ops, magnitude=recipe.rand_augment_magnitude))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    if recipe.random_erasing_prob > 0:
        steps.append(v2.RandomErasing(p=recipe.random_erasing_prob, value=0))
    return v2.Compose(steps)


def build_processors(recipe: Recipe):
    """Image and video processors of the recipe's single-view evaluation: short side image_size * resize_ratio,
    centre crop image_size, ImageNet mean/std, the recipe's test-time sampling. The video processor *is* the
    evaluation transform of training, and the pair is what a fine-tuned model is saved with."""
    from ..processing.image_processing_videoswin import VideoSwinImageProcessor
    from ..processing.video_processing_videoswin import VideoSwinVideoProcessor

    common = {
        "size": {"shortest_edge": _short_side(recipe)},
        "crop_size": {"height": recipe.image_size, "width": recipe.image_size},
    }
    video_processor = VideoSwinVideoProcessor(
        **common, num_frames=recipe.num_frames, sampling=recipe.sampling, frame_interval=recipe.frame_interval
    )
    return VideoSwinImageProcessor(**common), video_processor


def build_eval_transform(recipe: Recipe):
    """One center view: the recipe's `VideoSwinVideoProcessor` (see :func:`build_processors`)."""
    return build_processors(recipe)[1]


def decode_kwargs(transform) -> dict:
    """`decode_video`'s resize while decoding for `transform` (the processor's, or its opening `v2.Resize` to a shorter
    side), which `transform` then leaves as it is: the same clips as from whole frames. `{}` otherwise."""
    if isinstance(transform, BaseVideoProcessor):
        return transform.decode_kwargs()
    first = transform.transforms[0] if isinstance(transform, v2.Compose) and transform.transforms else None
    if isinstance(first, v2.Resize) and len(first.size) == 1 and first.max_size is None:
        return {"shortest_edge": first.size[0], "resample": first.interpolation}
    return {}


def apply_video_transform(transform, frames_thwc: torch.Tensor, generator: torch.Generator | None = None):
    """`transform` of uint8 ``[T, H, W, 3]`` frames, float ``[T, 3, H', W']``; with `generator`, torch's global RNG is
    forked and seeded from it (augmentations reproducible per sample, the global stream untouched)."""
    if isinstance(transform, BaseVideoProcessor):  # deterministic: resize, crop, normalise as the saved processor
        return transform(frames_thwc, num_clips=1, num_crops=1, return_tensors="pt")["pixel_values"][0]
    video = tv_tensors.Video(frames_thwc.permute(0, 3, 1, 2).contiguous())
    with torch.random.fork_rng(devices=[], enabled=generator is not None):
        if generator is not None:
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        return transform(video).as_subclass(torch.Tensor)


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RECIPES",
    "Recipe",
    "apply_video_transform",
    "build_eval_transform",
    "build_processors",
    "build_train_transform",
    "decode_kwargs",
    "get_recipe",
]
