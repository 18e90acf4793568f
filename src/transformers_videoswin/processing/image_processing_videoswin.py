# Copyright 2026 The transformers-videoswin Authors. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Torchvision image processor for Video Swin: clips given as frames -> `pixel_values` `[B, T, C, H, W]`.

transformers' VideoMAE image processor with the official single-view evaluation of the released models (shorter side
224, bilinear, centre crop 224, rescale 1/255, ImageNet mean/std) and the pixel-range rule of
:mod:`~transformers_videoswin.processing.input_forms`. Frames are not sampled: for video files, sampling and the
multi-view crops, use `VideoSwinVideoProcessor`.
"""

from transformers.models.videomae.image_processing_videomae import VideoMAEImageProcessor
from transformers.processing_utils import ImagesKwargs, Unpack
from transformers.utils import auto_docstring

from .input_forms import FramesInTheirRange


@auto_docstring
class VideoSwinImageProcessor(FramesInTheirRange, VideoMAEImageProcessor):
    def __init__(self, **kwargs: Unpack[ImagesKwargs]):
        super().__init__(**kwargs)


__all__ = ["VideoSwinImageProcessor"]
