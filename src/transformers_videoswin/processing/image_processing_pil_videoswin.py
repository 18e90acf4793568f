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
"""PIL twin of `VideoSwinImageProcessor` (its antialiased bilinear resize differs by at most one grey level)."""

import numpy as np
from transformers.image_processing_utils import BatchFeature
from transformers.models.videomae.image_processing_pil_videomae import VideoMAEImageProcessorPil
from transformers.utils import auto_docstring

from .input_forms import FramesInTheirRange


@auto_docstring
class VideoSwinImageProcessorPil(FramesInTheirRange, VideoMAEImageProcessorPil):
    def _preprocess(self, images, return_tensors=None, **kwargs) -> BatchFeature:
        pixel_values = super()._preprocess(images, return_tensors=None, **kwargs)["pixel_values"]  # lists of frames
        return BatchFeature({"pixel_values": [np.stack(v).astype(np.float32) for v in pixel_values]}, return_tensors)


__all__ = ["VideoSwinImageProcessorPil"]
