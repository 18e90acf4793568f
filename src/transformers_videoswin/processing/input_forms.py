"""Input forms of the processors and the pipeline: a video is a path / URL / bytes / binary file / `datasets` video, a
frame array or tensor `[T, H, W, C]` / `[T, C, H, W]`, or a list of frames (PIL images, `[H, W, C]` / `[C, H, W]`
arrays or tensors); a batch is a list of videos. Two rules keep them unambiguous:

1. **A list of frames is one video**, also to `VideoSwinVideoClassificationPipeline` (transformers' pipelines read
   any list as a batch; 5.25 registers per-model pipelines only through `trust_remote_code`).
2. **Pixel range follows the data** (transformers' `is_scaled_image`): integer frames and PIL images are 0-255 (16-bit
   types and values outside 0-255 are refused); floats all in `[0, 1]` are already rescaled, above 1 they are 0-255.
   A passed `do_rescale` wins (with a warning if the input looks rescaled already); a batch mixing both is refused.
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


def is_video_source(item) -> bool:
    """A video still to decode: a path, URL, bytes, binary file or torchcodec decoder (a `datasets` video)."""
    return (
        isinstance(item, (str, os.PathLike, bytes, bytearray, memoryview, VideoReader))
        or hasattr(item, "read")
        or (hasattr(item, "get_frames_at") and hasattr(item, "metadata"))
    )


def check_integer_frames(frames: np.ndarray | torch.Tensor) -> None:
    """Integer frames must hold 8-bit values: wider unsigned types (16-bit video) and values outside 0-255 are
    refused rather than divided by 255 as if they were 8-bit."""
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
    """`"scaled"` for float data within [0, 1], `"0-255"` for any other leaf of a (nested) input (integers checked by
    :func:`check_integer_frames`, PIL images, video sources, floats above 1)."""
    if isinstance(videos, (list, tuple)):
        return set().union(*(_ranges(item) for item in videos))
    if isinstance(videos, (np.ndarray, torch.Tensor)):
        check_integer_frames(videos)
        floating = videos.is_floating_point() if isinstance(videos, torch.Tensor) else videos.dtype.kind == "f"
        if floating and math.prod(videos.shape) and videos.min() >= 0 and videos.max() <= 1:
            return {"scaled"}
    return {"0-255"}


def resolve_do_rescale(videos, do_rescale: bool | None, default: bool) -> bool:
    """`do_rescale` for `videos` under rule 2: `do_rescale` as passed to the call (`None`: not passed), `default` the
    processor's setting."""
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
    """What both image processors add to VideoMAE's: the official mean/std, and `preprocess` under rule 2."""

    image_mean = list(IMAGENET_DEFAULT_MEAN)
    image_std = list(IMAGENET_DEFAULT_STD)

    def preprocess(self, videos, **kwargs):
        kwargs["do_rescale"] = resolve_do_rescale(videos, kwargs.get("do_rescale"), self.do_rescale)
        return super().preprocess(videos, **kwargs)


class VideoSwinVideoClassificationPipeline(VideoClassificationPipeline):
    """`video-classification` pipeline that reads a list of frames as one video and batches with only a video
    processor saved (transformers 5.25 collates with a feature extractor's or image processor's padding only). Pass
    it as `pipeline("video-classification", model=..., pipeline_class=VideoSwinVideoClassificationPipeline)`."""

    def get_iterator(self, *args, **kwargs):
        image_processor, self.image_processor = self.image_processor, self.image_processor or self.video_processor
        try:  # clips of one size need no padding: the video processor stands in for the collate function
            return super().get_iterator(*args, **kwargs)
        finally:
            self.image_processor = image_processor

    def __call__(self, inputs=None, **kwargs):
        if isinstance(inputs, (list, tuple)) and is_valid_video(inputs):  # the frames of one video: a batch of one
            return super().__call__([inputs], **kwargs)[0]
        return super().__call__(inputs, **kwargs)


__all__ = ["VideoSwinVideoClassificationPipeline"]
