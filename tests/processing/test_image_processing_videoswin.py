"""Image processors (torchvision backend and its PIL twin): official defaults, layout, numbers, Auto registration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor

from transformers_videoswin import VideoSwinConfig, VideoSwinImageProcessor, VideoSwinImageProcessorPil
from transformers_videoswin.processing.video_processing_videoswin import VideoSwinVideoProcessor
from transformers_videoswin.testing.utils import make_test_frame

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# The two antialiased bilinear resizers (torchvision on uint8, PIL) may round a pixel to neighbouring grey levels:
# one level is 1 / 255 / std after normalisation, at most 0.0175 with the smallest std (0.224).
ONE_LEVEL = 1.0 / 255 / STD.min() + 1e-5


def frames(num=4, height=180, width=320, pattern="moving"):
    return [make_test_frame(i, height, width, pattern, num) for i in range(num)]


@pytest.mark.parametrize("cls", [VideoSwinImageProcessor, VideoSwinImageProcessorPil])
def test_defaults_are_the_official_evaluation(cls):
    processor = cls()
    # the official 0-255 normalisation: mean 123.675, 116.28, 103.53; std 58.395, 57.12, 57.375
    np.testing.assert_allclose(np.array(processor.image_mean) * 255, [123.675, 116.28, 103.53], rtol=1e-6)
    np.testing.assert_allclose(np.array(processor.image_std) * 255, [58.395, 57.12, 57.375], rtol=1e-6)
    assert processor.size["shortest_edge"] == 224
    assert (processor.crop_size["height"], processor.crop_size["width"]) == (224, 224)
    assert processor.rescale_factor == pytest.approx(1 / 255)
    assert processor.do_resize and processor.do_center_crop and processor.do_rescale and processor.do_normalize


@pytest.mark.parametrize("cls", [VideoSwinImageProcessor, VideoSwinImageProcessorPil])
def test_layout_btchw_for_every_input_kind(cls):
    processor = cls()
    video = frames()
    as_list = processor(video, return_tensors="pt").pixel_values
    as_array = processor(np.stack(video), return_tensors="pt").pixel_values
    as_pil = processor([Image.fromarray(f) for f in video], return_tensors="pt").pixel_values
    batch = processor([video, video[::-1]], return_tensors="pt").pixel_values
    assert as_list.shape == (1, 4, 3, 224, 224) and as_list.dtype == torch.float32
    assert batch.shape == (2, 4, 3, 224, 224)
    torch.testing.assert_close(as_array, as_list, rtol=0, atol=0)
    torch.testing.assert_close(as_pil, as_list, rtol=0, atol=0)
    torch.testing.assert_close(batch[1], as_list[0].flip(0), rtol=0, atol=0)


@pytest.mark.parametrize("cls", [VideoSwinImageProcessor, VideoSwinImageProcessorPil])
def test_center_crop_and_normalisation_against_direct_computation(cls):
    # no resize: the output must be exactly frame[8:232, 38:262] scaled and normalised
    video = frames(2, 240, 300, pattern="gradient")
    out = cls(do_resize=False)(video, return_tensors="pt").pixel_values[0].numpy()
    expected = (np.stack(video)[:, 8:232, 38:262].astype(np.float32) / 255 - MEAN) / STD
    np.testing.assert_allclose(out, expected.transpose(0, 3, 1, 2), rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", [(180, 320), (320, 200), (224, 224), (97, 131)])
def test_torchvision_and_pil_backends_agree_within_one_grey_level(size):
    video = frames(3, *size)
    a = VideoSwinImageProcessor()(video, return_tensors="pt").pixel_values
    b = VideoSwinImageProcessorPil()(video, return_tensors="pt").pixel_values
    assert a.shape == b.shape == (1, 3, 3, 224, 224)
    difference = (a - b).abs()
    assert difference.max().item() <= ONE_LEVEL
    assert difference.mean().item() < 1e-3


def test_resize_keeps_aspect_ratio_on_the_short_side():
    # 120x360 -> short side 224 -> 224x672, crop 224: the centre third of the frame
    video = frames(1, 120, 360, pattern="gradient")
    out = VideoSwinImageProcessor(do_center_crop=False, do_normalize=False)(video, return_tensors="pt")
    assert out.pixel_values.shape == (1, 1, 3, 224, 672)


def test_image_and_video_processors_give_the_same_tensor():
    video = np.stack(frames(4, 200, 260))
    a = VideoSwinImageProcessor()(list(video), return_tensors="pt").pixel_values
    b = VideoSwinVideoProcessor()(video, return_tensors="pt").pixel_values
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_auto_image_processor_round_trip(tmp_path):
    VideoSwinConfig(image_size=64, num_frames=8).save_pretrained(tmp_path)
    VideoSwinImageProcessor(size={"shortest_edge": 72}, crop_size={"height": 64, "width": 64}).save_pretrained(
        tmp_path
    )
    loaded = AutoImageProcessor.from_pretrained(tmp_path)
    assert type(loaded) is VideoSwinImageProcessor
    assert loaded.size["shortest_edge"] == 72 and loaded.crop_size["height"] == 64
    pil = AutoImageProcessor.from_pretrained(tmp_path, backend="pil")
    assert type(pil) is VideoSwinImageProcessorPil
    assert pil.size["shortest_edge"] == 72
    video = frames(2, 90, 120)
    torch.testing.assert_close(
        loaded(video, return_tensors="pt").pixel_values,
        pil(video, return_tensors="pt").pixel_values,
        rtol=0,
        atol=ONE_LEVEL,
    )
