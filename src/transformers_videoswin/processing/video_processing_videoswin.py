"""Video processor for Video Swin: video files / bytes / arrays -> sampled, resized, cropped ``pixel_values``.

``VideoSwinVideoProcessor`` is a transformers ``BaseVideoProcessor`` (torchvision backend) that also decodes and
samples frames the way the official code does:

* decoding goes through :mod:`transformers_videoswin.processing.video_io` (torchcodec, PyAV fallback, only sampled frames decoded);
* sampling follows :mod:`transformers_videoswin.processing.sampling`: ``sampling="kinetics"`` (clips of ``num_frames`` frames every
  ``frame_interval`` frames, ``num_clips`` clips at uniform offsets), ``"ssv2"`` (``num_frames`` segments over the
  whole video, middle frame at test) or ``"uniform"``; ``test_mode=False`` draws the random training variants;
* defaults are the official single-view evaluation of the Kinetics models: 32 frames at interval 2, 1 clip, shorter
  side 224, center crop 224, rescale 1/255, ImageNet mean/std.

Multi-view (the protocol of the reported accuracies): ``num_clips=4, num_crops=3`` (Kinetics) or
``sampling="ssv2", num_crops=3`` (SSv2). With more than one view ``pixel_values`` has shape
``[B, V, T, C, H, W]`` with ``V = num_crops * num_clips`` and view ``v = crop * num_clips + clip`` -- the official
(mmaction ``ThreeCrop`` + ``FormatShape``) order; crops are left/top, right/bottom, center along the longer side and
centered along the shorter one. With one view it is ``[B, T, C, H, W]``. See :mod:`transformers_videoswin.processing.multiview`
for averaged predictions.

Memory: frames decoded here are resized as they are decoded, a chunk of a few frames at a time, with the same
resize as for frame arrays (so the result is bit-identical to decoding everything and then resizing, checked in the
tests), so a 4K video never holds more than a few full-resolution frames (``decode_resize=False`` turns this off).
Callers that decode frames themselves (the sliding windows of ``transformers_videoswin.inference``) get the same
resize from ``decode_transform()`` and pass the frames to ``preprocess_frames(..., resized=True)``.
``benchmarks/bench_memory.py`` measures the peak memory of ``videoswin classify`` on a 4K clip.

Input forms and pixel range: see :mod:`transformers_videoswin.processing.input_forms` (a list of frames is one video;
float frames in [0, 1] are not rescaled again).

When do frames get sampled? ``do_sample_frames=None`` (the default) samples videos that are decoded here (paths,
URLs, bytes, file objects) and keeps frame arrays as given (they usually are a clip already); pass
``do_sample_frames=True`` to sample arrays too, as the video-classification pipeline does.
"""

from __future__ import annotations

import contextvars
import os
from dataclasses import dataclass

import numpy as np
import torch
from transformers.image_processing_utils import BatchFeature, get_size_dict
from transformers.image_utils import SizeDict
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.utils import TensorType
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import VideoMetadata, group_videos_by_shape, reorder_videos

from .defaults import VideoSwinPixelDefaults
from .input_forms import resolve_do_rescale
from .sampling import SAMPLING_PROTOCOLS, sample_indices
from .video_io import BACKENDS, FrameTransform, open_video


@dataclass(frozen=True)
class _Decoding:
    """How this call decodes: the backend, and the resize applied to each chunk of decoded frames (or None)."""

    backend: str | None = None
    transform: FrameTransform | None = None


# decoding happens in `_decode_and_sample_videos`, which the base class calls without the call's kwargs
_CALL_DECODING: contextvars.ContextVar[_Decoding | None] = contextvars.ContextVar("videoswin_decoding", default=None)


class VideoSwinVideoProcessorKwargs(VideosKwargs, total=False):
    r"""
    sampling (`str`, *optional*, defaults to `"kinetics"`):
        Frame sampling protocol: `"kinetics"`, `"ssv2"` or `"uniform"` (see `transformers_videoswin.processing.sampling`).
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
        Resize frames decoded from files chunk by chunk as they are decoded (same result, bounded memory); `False`
        decodes every sampled frame at full resolution before resizing.
    """

    sampling: str | None
    frame_interval: int | None
    num_clips: int | None
    num_crops: int | None
    test_mode: bool | None
    sampling_seed: int | None
    decode_backend: str | None
    decode_resize: bool | None


def _is_video_source(item) -> bool:
    return isinstance(item, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(item, "read")


def three_crop_offsets(height: int, width: int, crop_height: int, crop_width: int) -> list[tuple[int, int]]:
    """``(top, left)`` of the official ``ThreeCrop``: left, right, middle along the longer side (top, bottom, middle
    for portrait frames), centered along the other side (the official code requires that side to equal the crop)."""
    if width >= height:
        step = (width - crop_width) // 2
        top = (height - crop_height) // 2
        return [(top, 0), (top, 2 * step), (top, step)]
    step = (height - crop_height) // 2
    left = (width - crop_width) // 2
    return [(0, left), (2 * step, left), (step, left)]


class VideoSwinVideoProcessor(VideoSwinPixelDefaults, BaseVideoProcessor):
    do_sample_frames = None  # auto: sample decoded files, keep arrays as given
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

    # ------------------------------------------------------------------ entry point
    def preprocess(self, videos, **kwargs: Unpack[VideoSwinVideoProcessorKwargs]) -> BatchFeature:
        r"""
        videos: a video path / URL / bytes / binary file object, a frame array ``[T, H, W, C]`` (or ``[T, C, H, W]``),
            a list of frames, or a list of any of these (a batch).
        """
        if isinstance(videos, (os.PathLike, bytes, bytearray, memoryview)) or hasattr(videos, "read"):
            videos = [videos]
        from_files = _is_video_source(videos) or (
            isinstance(videos, (list, tuple)) and len(videos) > 0 and all(_is_video_source(v) for v in videos)
        )
        do_sample_frames = kwargs.get("do_sample_frames", self.do_sample_frames)
        if do_sample_frames is None:
            kwargs["do_sample_frames"] = from_files
        for name in ("sampling", "decode_backend"):
            kwargs.setdefault(name, getattr(self, name))
        if kwargs["sampling"] not in SAMPLING_PROTOCOLS:
            raise ValueError(f"`sampling` must be one of {SAMPLING_PROTOCOLS}, got {kwargs['sampling']!r}.")
        if kwargs["decode_backend"] not in BACKENDS:
            raise ValueError(f"`decode_backend` must be one of {BACKENDS}, got {kwargs['decode_backend']!r}.")
        num_crops = kwargs.get("num_crops", self.num_crops)
        if num_crops not in (1, 3):
            raise ValueError(f"`num_crops` must be 1 or 3, got {num_crops!r}.")
        kwargs["do_rescale"] = resolve_do_rescale(videos, kwargs.get("do_rescale"), self.do_rescale)
        transform = self.decode_transform(**kwargs) if from_files else None
        if transform is not None:
            kwargs["do_resize"] = False  # done chunk by chunk while decoding
        token = _CALL_DECODING.set(_Decoding(kwargs["decode_backend"], transform))
        try:
            return super().preprocess(videos, **kwargs)
        finally:
            _CALL_DECODING.reset(token)

    def decode_transform(self, **kwargs) -> FrameTransform | None:
        """The resize to give a reader's ``get_frames(indices, transform=...)``, so that each chunk of frames is
        resized as soon as it is decoded (frames then go through ``preprocess_frames(..., resized=True)``); None
        when this processor resizes afterwards (``decode_resize=False``, no resize, or resizing on another device).
        ``kwargs``: per-call overrides of ``do_resize``, ``decode_resize``, ``device``, ``size`` and ``resample``."""
        do_resize = kwargs.get("do_resize", self.do_resize)
        decode_resize = kwargs.get("decode_resize", self.decode_resize)
        if not (do_resize and decode_resize is not False and kwargs.get("device") in (None, "cpu")):
            return None
        return self._resize_transform(kwargs.get("size", self.size), kwargs.get("resample", self.resample))

    def _resize_transform(self, size, resample) -> FrameTransform:
        """The processor's own resize, applied to a chunk of decoded uint8 frames ``[n, H, W, 3]``."""
        if not isinstance(size, SizeDict):
            size = SizeDict(**get_size_dict(size, default_to_square=self.default_to_square))

        def resize_chunk(frames: torch.Tensor) -> torch.Tensor:
            resized = self.resize(frames.permute(0, 3, 1, 2), size=size, resample=resample)
            return resized.permute(0, 2, 3, 1)

        return resize_chunk

    def preprocess_frames(self, frames: torch.Tensor, num_crops: int = 1, resized: bool = False) -> torch.Tensor:
        """Resize, crop and normalise already-decoded frames as one run, with no sampling.

        ``frames``: uint8 ``[N, H, W, 3]`` (e.g. from :func:`~transformers_videoswin.processing.video_io.open_video`),
        or, with ``resized=True``, frames already resized while decoding (``get_frames(..., transform=
        processor.decode_transform())``), which are then only cropped and normalised.
        Returns float ``[num_crops, N, 3, h, w]``. Used when the caller picks the frames itself (sliding windows share
        frames between overlapping windows, so each frame is preprocessed once and windows are gathered after).
        """
        kwargs = {"do_resize": False} if resized else {}
        pixel_values = self(frames, do_sample_frames=False, num_crops=num_crops, return_tensors="pt", **kwargs)[
            "pixel_values"
        ]
        return pixel_values[0] if num_crops > 1 else pixel_values  # [1, N, ...] is one crop of one video

    # ------------------------------------------------------------------ sampling and decoding
    def sample_frames(
        self,
        metadata: VideoMetadata,
        num_frames: int | None = None,
        fps: int | float | None = None,
        sampling: str | None = None,
        frame_interval: int | None = None,
        num_clips: int | None = None,
        test_mode: bool | None = None,
        sampling_seed: int | None = None,
        **kwargs,
    ) -> np.ndarray:
        """Indices of the frames to keep, flattened clip-major (``num_clips * num_frames``)."""
        num_frames = num_frames if num_frames is not None else self.num_frames
        if fps is not None:
            # frames at a given rate: the number of frames follows from the duration, spread uniformly
            if not metadata.fps:
                raise ValueError("Sampling at a given `fps` needs the video's frame rate in its metadata.")
            num_frames = max(1, int(metadata.total_num_frames / metadata.fps * fps))
            sampling = "uniform"
        seed = sampling_seed if sampling_seed is not None else self.sampling_seed
        indices = sample_indices(
            sampling or self.sampling,
            metadata.total_num_frames,
            num_frames,
            frame_interval=frame_interval if frame_interval is not None else self.frame_interval,
            num_clips=num_clips if num_clips is not None else self.num_clips,
            test_mode=test_mode if test_mode is not None else self.test_mode,
            generator=np.random.default_rng(seed) if seed is not None else None,
        )
        return indices.reshape(-1)

    def _decode_and_sample_videos(self, videos, video_metadata, do_sample_frames=None, sample_indices_fn=None):
        if isinstance(videos, (list, tuple)) and videos and all(_is_video_source(v) for v in videos):
            videos = list(videos)
        elif _is_video_source(videos):
            videos = [videos]
        else:
            return super()._decode_and_sample_videos(videos, video_metadata, do_sample_frames, sample_indices_fn)
        decoded, metadata = [], []
        for video in videos:
            frames, meta = self._load_video(video, sample_indices_fn)
            decoded.append(frames)
            metadata.append(meta)
        return decoded, metadata

    def fetch_videos(self, video_url_or_urls, sample_indices_fn=None):
        if isinstance(video_url_or_urls, (list, tuple)):
            return list(zip(*[self.fetch_videos(x, sample_indices_fn) for x in video_url_or_urls]))
        return self._load_video(video_url_or_urls, sample_indices_fn)

    def _load_video(self, source, sample_indices_fn=None, decode_backend: str | None = None):
        decoding = _CALL_DECODING.get() or _Decoding()
        backend = decode_backend or decoding.backend or self.decode_backend
        with open_video(source, backend=backend) as reader:
            info = reader.info
            metadata = VideoMetadata(
                total_num_frames=info.num_frames,
                fps=info.fps,
                width=info.width,
                height=info.height,
                duration=info.duration,
                video_backend=info.backend,
            )
            if sample_indices_fn is not None:
                indices = np.asarray(sample_indices_fn(metadata=metadata), dtype=np.int64).reshape(-1)
            else:
                indices = np.arange(info.num_frames)
            frames = reader.get_frames(indices, transform=decoding.transform)
        metadata.frames_indices = indices
        return frames, metadata

    # ------------------------------------------------------------------ pixels
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
        num_clips = num_clips or 1
        num_crops = num_crops or 1
        for video in videos:
            if video.shape[0] % num_clips:
                raise ValueError(
                    f"A video of {video.shape[0]} frames cannot be split into num_clips={num_clips} equal clips."
                )
        grouped, grouped_index = group_videos_by_shape(videos)
        processed = {}
        for shape, stacked in grouped.items():  # stacked: [G, N, C, H, W] uint8
            if do_resize:
                stacked = self.resize(stacked, size=size, resample=resample)
            if num_crops == 3:
                crop_h, crop_w = crop_size.height, crop_size.width
                height, width = stacked.shape[-2:]
                if crop_h > height or crop_w > width:  # pad small frames like center_crop does
                    stacked = self.center_crop(stacked, SizeDict(height=max(crop_h, height), width=max(crop_w, width)))
                    height, width = stacked.shape[-2:]
                crops = [
                    stacked[..., top : top + crop_h, left : left + crop_w]
                    for top, left in three_crop_offsets(height, width, crop_h, crop_w)
                ]
                stacked = torch.stack(crops, dim=1)  # [G, 3, N, C, h, w]
            else:
                if do_center_crop:
                    stacked = self.center_crop(stacked, crop_size)
                stacked = stacked.unsqueeze(1)  # [G, 1, N, C, h, w]
            stacked = self.rescale_and_normalize(
                stacked, do_rescale, rescale_factor, do_normalize, image_mean, image_std
            )
            g, crops, n = stacked.shape[:3]
            # [G, crops, clips * T, ...] -> [G, crops * clips, T, ...]: view = crop * num_clips + clip
            stacked = stacked.reshape(g, crops * num_clips, n // num_clips, *stacked.shape[3:])
            if crops * num_clips == 1:
                stacked = stacked[:, 0]
            processed[shape] = stacked
        if len(processed) == 1 and return_tensors:  # one group, in input order: already the batch, no stacked copy
            pixel_values = next(iter(processed.values()))  # (a copy of 12 views of 32 frames is 231 MB)
        else:
            pixel_values = reorder_videos(processed, grouped_index)
        return BatchFeature(data={"pixel_values": pixel_values}, tensor_type=return_tensors)


__all__ = ["VideoSwinVideoProcessor", "VideoSwinVideoProcessorKwargs", "three_crop_offsets"]
