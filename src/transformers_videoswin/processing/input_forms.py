"""The input forms the processors and the pipeline accept, and the two rules that keep them unambiguous.

One video is a path / URL / bytes / binary file / `datasets` video (decoded and sampled), a frame array or tensor
`[T, H, W, C]` or `[T, C, H, W]`, or a list of frames (PIL images, `[H, W, C]` / `[C, H, W]` arrays or tensors). A
batch is a list of videos.

1. **A list of frames is one video.** transformers' pipelines read any list as a batch, so
   `VideoSwinVideoClassificationPipeline` (passed as `pipeline_class=`; transformers 5.25 registers per-model
   pipelines only through `trust_remote_code`) stacks it first; the stock pipeline serves every other form.
2. **Pixel range follows the data**, as transformers' `is_scaled_image` reads it: integer frames and PIL images are
   0-255 (16-bit types and values outside 0-255 are refused, not divided by 255); float frames all in `[0, 1]` are
   already rescaled, above 1 they are 0-255. A passed `do_rescale` wins (with a warning when the input looks
   rescaled already); a batch that mixes both ranges is refused.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.pipelines.video_classification import VideoClassificationPipeline
from transformers.utils import logging
from transformers.video_utils import is_valid_video

from .decoding import VideoReader

logger = logging.get_logger(__name__)


def is_list_of_frames(item) -> bool:
    """A list of PIL images or 3-D arrays / tensors (transformers' `is_valid_video` also takes 4-D arrays)."""
    return isinstance(item, (list, tuple)) and bool(is_valid_video(item))


def stack_frames(frames) -> np.ndarray | torch.Tensor:
    """A list of frames as one ``[T, ...]`` array (tensors stay tensors)."""
    if all(isinstance(frame, torch.Tensor) for frame in frames):
        return torch.stack(list(frames))
    return np.stack([np.asarray(frame) for frame in frames])


def is_video_source(item) -> bool:
    """A video still to decode: a path, URL, bytes, binary file or torchcodec decoder (a `datasets` video)."""
    return (
        isinstance(item, (str, os.PathLike, bytes, bytearray, memoryview))
        or hasattr(item, "read")
        or (hasattr(item, "get_frames_at") and hasattr(item, "metadata"))
        or isinstance(item, VideoReader)
    )


def check_integer_frames(frames: np.ndarray | torch.Tensor) -> None:
    """Integer frames must hold 8-bit values: unsigned types wider than 8 bits (16-bit video) and values outside
    0-255 are refused rather than divided by 255 as if they were 8-bit."""
    if isinstance(frames, torch.Tensor):
        if frames.is_floating_point() or frames.is_complex() or frames.dtype in (torch.uint8, torch.bool):
            return
        frames = frames.cpu().numpy()  # wider integers, uint16 included, through numpy
    if not np.issubdtype(frames.dtype, np.integer) or frames.dtype == np.uint8 or not frames.size:
        return
    low, high = int(frames.min()), int(frames.max())
    if (frames.dtype.kind == "u" and frames.dtype.itemsize > 1) or low < 0 or high > 255:
        raise ValueError(
            f"Integer frames are read as 8-bit (0-255), but these are {frames.dtype} with values {low}..{high}. Pass "
            "uint8 frames, or float frames in [0, 1] (16-bit video: frames / 65535)."
        )


def _ranges(videos) -> set[str]:
    """`"scaled"` for float data within [0, 1], `"0-255"` for the rest (ints, PIL images, files, floats above 1), for
    every leaf of a (nested) input; integer leaves are checked by :func:`check_integer_frames`."""
    if isinstance(videos, (list, tuple)):
        return set().union(*(_ranges(item) for item in videos))
    if isinstance(videos, (np.ndarray, torch.Tensor)):
        check_integer_frames(videos)
        floating = videos.is_floating_point() if isinstance(videos, torch.Tensor) else videos.dtype.kind == "f"
        if floating and math.prod(videos.shape) and videos.min() >= 0 and videos.max() <= 1:
            return {"scaled"}
    return {"0-255"}


def resolve_do_rescale(videos, do_rescale: bool | None, default: bool) -> bool:
    """``do_rescale`` for this input (rule 2 of the module docstring); ``do_rescale`` is the value passed to the call
    (``None`` when not passed), ``default`` the processor's setting."""
    if is_video_source(videos):
        return default if do_rescale is None else do_rescale
    ranges = _ranges(videos)
    if do_rescale is not None:
        if do_rescale and ranges == {"scaled"}:
            logger.warning_once(
                "It looks like you are trying to rescale already rescaled video frames (float values in [0, 1]) with "
                "do_rescale=True. If the frames are already in [0, 1], leave do_rescale unset or pass False."
            )
        return do_rescale
    if ranges == {"scaled", "0-255"}:
        raise ValueError(
            "This batch mixes float frames in [0, 1] with 0-255 frames (integers, PIL images or floats above 1), so "
            "one rescaling cannot fit both. Pass them in separate calls, or convert them to one range."
        )
    if ranges == {"scaled"} and default:
        logger.info_once("Float frames in [0, 1] are taken as already rescaled: they are not divided by 255 again.")
        return False
    return default


class FramesInTheirRange:
    """What both image processors add to VideoMAE's: the official mean/std, and `preprocess` under rule 2 (float
    frames in [0, 1] are taken as already rescaled)."""

    image_mean = list(IMAGENET_DEFAULT_MEAN)
    image_std = list(IMAGENET_DEFAULT_STD)
    model_input_names = ["pixel_values"]

    def preprocess(self, videos, **kwargs):
        """`videos`: a video (list of frames, or a 4D array / tensor of frames) or a list of videos; integer frames
        and PIL images are 0-255, float frames in [0, 1] are taken as already rescaled."""
        kwargs["do_rescale"] = resolve_do_rescale(videos, kwargs.get("do_rescale"), self.do_rescale)
        return super().preprocess(videos, **kwargs)


class VideoSwinVideoClassificationPipeline(VideoClassificationPipeline):
    """`video-classification` pipeline that reads a list of frames as one video (transformers reads any list as a
    batch), a list of such lists as a batch of videos, and batches with only a video processor saved (transformers
    5.25 collates batches with a feature extractor's or image processor's padding only). Pass it as
    `pipeline("video-classification", model=..., pipeline_class=VideoSwinVideoClassificationPipeline)`."""

    def get_iterator(self, *args, **kwargs):
        image_processor, self.image_processor = self.image_processor, self.image_processor or self.video_processor
        try:  # clips of one size need no padding: the video processor stands in for the collate function
            return super().get_iterator(*args, **kwargs)
        finally:
            self.image_processor = image_processor

    def __call__(self, inputs=None, **kwargs):
        if is_list_of_frames(inputs):
            inputs = stack_frames(inputs)
        elif isinstance(inputs, (list, tuple)) and any(is_list_of_frames(item) for item in inputs):
            inputs = [stack_frames(item) if is_list_of_frames(item) else item for item in inputs]
        return super().__call__(inputs, **kwargs)


__all__ = ["VideoSwinVideoClassificationPipeline"]
