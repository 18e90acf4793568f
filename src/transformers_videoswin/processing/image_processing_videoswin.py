"""Image processors for Video Swin: lists of already sampled frames -> ``pixel_values`` ``[B, T, C, H, W]``.

Two backends, as transformers 5 ships them: ``VideoSwinImageProcessor`` (torchvision, the default of
``AutoImageProcessor``) and ``VideoSwinImageProcessorPil`` (PIL/NumPy, ``AutoImageProcessor(..., backend="pil")``).
Both save as ``image_processor_type: "VideoSwinImageProcessor"``.

Defaults reproduce the official single-view evaluation of the released models: RGB, shorter side resized to 224
(bilinear), center crop 224x224, rescale by 1/255, normalise with the ImageNet mean/std (0.485, 0.456, 0.406) /
(0.229, 0.224, 0.225) -- the official 0-255 values 123.675/58.395... divided by 255.

Resampling note: the official code resizes with OpenCV's bilinear filter (no antialiasing); both backends here use
the antialiased bilinear filter of PIL / torchvision (the transformers convention), which differs from OpenCV by a
few grey levels when downscaling. For video files, frame sampling and multi-view crops, use
``VideoSwinVideoProcessor``.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers.image_processing_backends import PilBackend, TorchvisionBackend
from transformers.image_processing_utils import BatchFeature
from transformers.image_transforms import group_images_by_shape, reorder_images
from transformers.image_utils import (
    ImageInput,
    SizeDict,
    make_nested_list_of_images,
)
from transformers.processing_utils import ImagesKwargs, Unpack
from transformers.utils import TensorType

from .defaults import VideoSwinPixelDefaults
from .input_forms import resolve_do_rescale


class _VideoSwinImageDefaults(VideoSwinPixelDefaults):
    def _prepare_images_structure(self, images: ImageInput, expected_ndims: int = 3) -> ImageInput:
        # one video = a list of frames (or a [T, H, W, C] array); a batch = a list of videos
        return make_nested_list_of_images(images, expected_ndims=expected_ndims)

    # Shared by both backends: decides `do_rescale` from the input before the backend's own preprocess runs.
    def preprocess(self, videos: ImageInput, **kwargs: Unpack[ImagesKwargs]) -> BatchFeature:
        r"""
        videos: a video (list of frames, or a 4D array/tensor of frames) or a list of videos; integer frames and PIL
            images are 0-255, float frames in [0, 1] are taken as already rescaled (see ``input_forms``).
        """
        kwargs["do_rescale"] = resolve_do_rescale(videos, kwargs.get("do_rescale"), self.do_rescale)
        return super().preprocess(videos, **kwargs)


class VideoSwinImageProcessor(_VideoSwinImageDefaults, TorchvisionBackend):
    r"""
    Torchvision-backend processor for videos given as frames (PIL images, ``[H, W, C]`` / ``[C, H, W]`` arrays or
    tensors, 0-255). Accepts one video (a list of frames or a ``[T, H, W, C]`` array) or a list of videos, and returns
    ``pixel_values`` of shape ``[B, T, C, H, W]``. Frames are not sampled: pass the clip you want classified.
    """

    def __init__(self, **kwargs: Unpack[ImagesKwargs]):
        super().__init__(**kwargs)

    def _preprocess(
        self,
        images: list[list[torch.Tensor]],
        do_resize: bool,
        size: SizeDict,
        resample,
        do_center_crop: bool,
        crop_size: SizeDict,
        do_rescale: bool,
        rescale_factor: float,
        do_normalize: bool,
        image_mean,
        image_std,
        disable_grouping: bool | None,
        return_tensors: str | TensorType | None,
        **kwargs,
    ) -> BatchFeature:
        grouped, grouped_index = group_images_by_shape(images, is_nested=True, disable_grouping=disable_grouping)
        resized = {}
        for shape, stacked in grouped.items():
            resized[shape] = self.resize(stacked, size, resample) if do_resize else stacked
        images = reorder_images(resized, grouped_index, is_nested=True)

        grouped, grouped_index = group_images_by_shape(images, is_nested=True, disable_grouping=disable_grouping)
        processed = {}
        for shape, stacked in grouped.items():
            if do_center_crop:
                stacked = self.center_crop(stacked, crop_size)
            processed[shape] = self.rescale_and_normalize(
                stacked, do_rescale, rescale_factor, do_normalize, image_mean, image_std
            )
        images = reorder_images(processed, grouped_index, is_nested=True)
        pixel_values = [torch.stack(frames) for frames in images]  # list of [T, C, H, W]
        return BatchFeature(data={"pixel_values": pixel_values}, tensor_type=return_tensors)


class VideoSwinImageProcessorPil(_VideoSwinImageDefaults, PilBackend):
    r"""
    PIL/NumPy twin of [`VideoSwinImageProcessor`] (same defaults, same output layout ``[B, T, C, H, W]``). Its
    output matches the torchvision backend within one 8-bit grey level before normalisation (the two antialiased
    bilinear resizers round differently); see ``tests/processing/test_image_processing_videoswin.py`` for the tolerance.
    """

    def __init__(self, **kwargs: Unpack[ImagesKwargs]):
        super().__init__(**kwargs)

    def _preprocess(
        self,
        images: list[list[np.ndarray]],
        do_resize: bool,
        size: SizeDict,
        resample,
        do_center_crop: bool,
        crop_size: SizeDict,
        do_rescale: bool,
        rescale_factor: float,
        do_normalize: bool,
        image_mean,
        image_std,
        return_tensors: str | TensorType | None,
        **kwargs,
    ) -> BatchFeature:
        pixel_values = []
        for frames in images:
            processed = []
            for image in frames:
                if do_resize:
                    image = self.resize(image, size, resample)
                if do_center_crop:
                    image = self.center_crop(image, crop_size)
                if do_rescale:
                    image = self.rescale(image, rescale_factor)
                if do_normalize:
                    image = self.normalize(image, image_mean, image_std)
                processed.append(image.astype(np.float32))
            pixel_values.append(np.stack(processed))  # [T, C, H, W]
        return BatchFeature(data={"pixel_values": pixel_values}, tensor_type=return_tensors)


__all__ = ["VideoSwinImageProcessor", "VideoSwinImageProcessorPil"]
