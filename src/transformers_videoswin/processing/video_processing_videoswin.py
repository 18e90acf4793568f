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
"""Video Swin's video processor: the official preprocessing, sampling (`sample_frames`) and views (`_preprocess`:
`[B, V, T, C, H, W]`, view `v = crop * num_clips + clip` as mmaction's `ThreeCrop`, `[B, T, C, H, W]` for one)."""

from functools import partial

import numpy as np
import torch
from transformers.image_processing_utils import BatchFeature, get_size_dict
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling, SizeDict
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.utils import TensorType, auto_docstring
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import VideoMetadata, group_videos_by_shape, reorder_videos

from .decoding import BACKENDS, decode_video
from .input_forms import is_video_source, resolve_do_rescale
from .sampling import SAMPLING_PROTOCOLS, sample_indices

SAMPLING_OPTIONS = ("sampling", "frame_interval", "num_clips", "test_mode", "sampling_seed")


class VideoSwinVideoProcessorKwargs(VideosKwargs, total=False):
    r"""
    sampling (`str`, *optional*, defaults to `"kinetics"`):
        Frame sampling protocol: `"kinetics"`, `"ssv2"` or `"uniform"`.
    frame_interval (`int`, *optional*, defaults to 2):
        Stride between the frames of a clip (`"kinetics"` only).
    num_clips (`int`, *optional*, defaults to 1):
        Clips per video (`"kinetics"` only); 4 for the reported Kinetics accuracies.
    num_crops (`int`, *optional*, defaults to 1):
        1 (center crop) or 3 (three crops along the longer side, as the reported accuracies).
    test_mode (`bool`, *optional*, defaults to `True`):
        Deterministic test-time sampling; `False` draws the random training offsets.
    sampling_seed (`int`, *optional*):
        Seed of the random training sampling (ignored in test mode).
    decode_backend (`str`, *optional*, defaults to `"auto"`):
        `"auto"` (torchcodec, PyAV fallback), `"torchcodec"` or `"pyav"`.
    decode_resize (`bool`, *optional*, defaults to `True`):
        Resize frames decoded from files as they are decoded (same result, a few full frames in memory at a time).
    """

    sampling: str | None
    frame_interval: int | None
    num_clips: int | None
    num_crops: int | None
    test_mode: bool | None
    sampling_seed: int | None
    decode_backend: str | None
    decode_resize: bool | None


def three_crop_offsets(height: int, width: int, crop_height: int, crop_width: int) -> list[tuple[int, int]]:
    """`(top, left)` of the official `ThreeCrop`: left, right, middle (portrait: top, bottom, middle), centered."""
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    if width >= height:
        return [(top, 0), (top, 2 * left), (top, left)]
    return [(0, left), (2 * top, left), (top, left)]


@auto_docstring
class VideoSwinVideoProcessor(BaseVideoProcessor):
    resample = PILImageResampling.BILINEAR
    image_mean = list(IMAGENET_DEFAULT_MEAN)
    image_std = list(IMAGENET_DEFAULT_STD)
    size = {"shortest_edge": 224}
    default_to_square = False
    crop_size = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = True
    do_rescale = True
    do_normalize = True
    do_sample_frames = None  # files are sampled, frame arrays kept as given unless asked
    num_frames = 32
    sampling = "kinetics"
    frame_interval = 2
    num_clips = 1
    num_crops = 1
    test_mode = True
    sampling_seed = None
    decode_backend = "auto"
    decode_resize = True
    valid_kwargs = VideoSwinVideoProcessorKwargs
    model_input_names = ["pixel_values"]

    def __init__(self, **kwargs: Unpack[VideoSwinVideoProcessorKwargs]):
        super().__init__(**kwargs)

    @auto_docstring
    def preprocess(self, videos, **kwargs: Unpack[VideoSwinVideoProcessorKwargs]) -> BatchFeature:
        r"""
        videos (`VideoInput` or video sources):
            A path, URL, bytes, binary file or `datasets` video (decoded and sampled here), a frame array
            `[T, H, W, C]` or `[T, C, H, W]`, a list of frames (one video), or a list of any of these (a batch).
        """
        for name, allowed in (("sampling", SAMPLING_PROTOCOLS), ("num_crops", (1, 3)), ("decode_backend", BACKENDS)):
            value = kwargs.get(name) or getattr(self, name)
            if value not in allowed:
                raise ValueError(f"`{name}` must be one of {allowed}, got {value!r}.")
        kwargs["do_rescale"] = resolve_do_rescale(videos, kwargs.get("do_rescale"), self.do_rescale)
        sources = [videos] if is_video_source(videos) else videos
        if isinstance(sources, (list, tuple)) and sources and all(is_video_source(v) for v in sources):
            sampler = None if kwargs.get("do_sample_frames") is False else partial(self.sample_frames, **kwargs)
            videos, metadata = self.fetch_videos(list(sources), sampler, **kwargs)
            kwargs.update(video_metadata=list(metadata), do_sample_frames=False)
        return super().preprocess(videos, **kwargs)

    def decode_kwargs(self, **kwargs) -> dict:
        """`decode_video`'s resize while decoding that matches this processor's (`kwargs`: per call), or `{}`."""
        size = get_size_dict(kwargs.get("size") or self.size, default_to_square=False)
        resize = kwargs.get("do_resize", self.do_resize) and kwargs.get("decode_resize", self.decode_resize)
        if not resize or set(size) != {"shortest_edge"} or kwargs.get("device") not in (None, "cpu"):
            return {}
        return {"shortest_edge": size["shortest_edge"], "resample": kwargs.get("resample") or self.resample}

    def fetch_videos(self, video_url_or_urls, sample_indices_fn=None, **kwargs):
        """`decode_video` of a source (or a list): uint8 frames `[N, H, W, 3]`, `VideoMetadata`; `kwargs`: per call."""
        if isinstance(video_url_or_urls, list):
            return list(zip(*[self.fetch_videos(x, sample_indices_fn, **kwargs) for x in video_url_or_urls]))
        backend = kwargs.get("decode_backend") or self.decode_backend
        return decode_video(video_url_or_urls, sample_indices_fn, backend=backend, **self.decode_kwargs(**kwargs))

    def sample_frames(
        self, metadata: VideoMetadata, num_frames: int | None = None, fps: int | float | None = None, **kwargs
    ) -> np.ndarray:
        """Clip-major indices `[num_clips * num_frames]`, uniform at a given `fps`; the `SAMPLING_OPTIONS` not in
        `kwargs` are the processor's."""
        options = {k: getattr(self, k) if kwargs.get(k) is None else kwargs[k] for k in SAMPLING_OPTIONS}
        num_frames = num_frames or self.num_frames
        if fps is not None:
            if not metadata.fps:
                raise ValueError("Sampling at a given `fps` needs the video's frame rate in its metadata.")
            num_frames, options["sampling"] = max(1, int(metadata.total_num_frames / metadata.fps * fps)), "uniform"
        options["generator"] = np.random.default_rng(options.pop("sampling_seed"))  # unseeded: fresh entropy
        return sample_indices(options.pop("sampling"), metadata.total_num_frames, num_frames, **options).reshape(-1)

    def _preprocess(
        self,
        videos: list[torch.Tensor],
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
        return_tensors: str | TensorType | None = None,
        num_clips: int | None = None,
        num_crops: int | None = None,
        **kwargs,
    ) -> BatchFeature:
        num_clips, num_crops = num_clips or 1, num_crops or 1
        grouped, grouped_index = group_videos_by_shape(videos)
        processed = {}
        for shape, group in grouped.items():  # [G, N, C, H, W]
            if group.shape[1] % num_clips:
                raise ValueError(f"A video of {group.shape[1]} frames cannot be split into {num_clips} equal clips.")
            if do_resize:  # frames resized while decoding are already at this size: no-op
                group = self.resize(group, size=size, resample=resample)
            if num_crops == 3:  # frames smaller than a crop are padded first, as center_crop pads them
                crop_h, crop_w = crop_size.height, crop_size.width
                height, width = max(crop_h, group.shape[-2]), max(crop_w, group.shape[-1])
                group = self.center_crop(group, SizeDict(height=height, width=width))
                offsets = three_crop_offsets(height, width, crop_h, crop_w)
                group = torch.stack([group[..., t : t + crop_h, s : s + crop_w] for t, s in offsets], dim=1)
            else:
                group = (self.center_crop(group, crop_size) if do_center_crop else group).unsqueeze(1)
            group = self.rescale_and_normalize(group, do_rescale, rescale_factor, do_normalize, image_mean, image_std)
            group = group.unflatten(2, (num_clips, -1)).flatten(1, 2)  # [G, crops, clips * T] -> [G, crops * clips, T]
            processed[shape] = group[:, 0] if group.shape[1] == 1 else group
        if len(processed) == 1 and return_tensors:  # one group in input order is the batch: no stacked copy
            pixel_values = next(iter(processed.values()))  # (12 views of 32 frames are 231 MB)
        else:
            pixel_values = reorder_videos(processed, grouped_index)
        return BatchFeature(data={"pixel_values": pixel_values}, tensor_type=return_tensors)


__all__ = ["VideoSwinVideoProcessor"]
