"""Every input form the processors and the pipeline accept gives the same pixel values (see processing/input_forms)."""

from __future__ import annotations

import logging

import numpy as np
import PIL.Image
import pytest
import torch
from transformers import pipeline
from transformers.pipelines.video_classification import VideoClassificationPipeline
from transformers.utils import logging as hf_logging

from conftest import tiny_config_kwargs
from transformers_videoswin import (
    VideoSwinConfig,
    VideoSwinForVideoClassification,
    VideoSwinImageProcessor,
    VideoSwinImageProcessorPil,
    VideoSwinVideoProcessor,
)
from transformers_videoswin.processing.input_forms import VideoSwinVideoClassificationPipeline

SIZE = {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}}
PROCESSORS = [VideoSwinVideoProcessor, VideoSwinImageProcessor, VideoSwinImageProcessorPil]
# float frames are resized in float, integer frames in uint8 (rounded): at most one grey level apart after resizing,
# 1 / 255 / 0.224 (smallest ImageNet std) = 0.0175 after normalisation
FLOAT_VS_UINT8_ATOL = 1.01 / 255 / 0.224


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (6, 40, 56, 3), dtype=np.uint8)  # [T, H, W, C]


def input_forms(clip: np.ndarray) -> dict:
    return {
        "list of PIL images": [PIL.Image.fromarray(frame) for frame in clip],
        "list of HWC uint8 arrays": list(clip),
        "list of CHW uint8 tensors": [torch.from_numpy(frame).permute(2, 0, 1) for frame in clip],
        "THWC uint8 array": clip,
        "TCHW uint8 tensor": torch.from_numpy(clip).permute(0, 3, 1, 2),
        "THWC float array in [0, 1]": clip.astype(np.float32) / 255,
        "TCHW float tensor in [0, 1]": torch.from_numpy(clip).permute(0, 3, 1, 2).float() / 255,
        "THWC float array in [0, 255]": clip.astype(np.float32),
    }


@pytest.mark.parametrize("processor_class", PROCESSORS)
@pytest.mark.parametrize("form", list(input_forms(np.zeros((1, 2, 2, 3), np.uint8))))
def test_every_input_form_is_one_video_with_the_same_pixels(processor_class, form, clip):
    processor = processor_class(**SIZE)
    reference = processor(clip, return_tensors="pt")["pixel_values"]
    assert reference.shape == (1, 6, 3, 32, 32)
    pixel_values = processor(input_forms(clip)[form], return_tensors="pt")["pixel_values"]
    assert pixel_values.shape == (1, 6, 3, 32, 32)  # one video of 6 frames, not 6 one-frame videos
    atol = FLOAT_VS_UINT8_ATOL if "float" in form else 0
    torch.testing.assert_close(pixel_values, reference, atol=atol, rtol=0)


@pytest.mark.parametrize("processor_class", PROCESSORS)
def test_batches_of_videos_and_mixed_ranges(processor_class, clip):
    processor = processor_class(**SIZE)
    frames = [PIL.Image.fromarray(frame) for frame in clip]
    batch = processor([frames, frames[:6]], return_tensors="pt")["pixel_values"]
    assert batch.shape == (2, 6, 3, 32, 32)
    with pytest.raises(ValueError, match=r"mixes float frames in \[0, 1\] with 0-255 frames"):
        processor([clip, clip.astype(np.float32) / 255], return_tensors="pt")


@pytest.mark.parametrize("processor_class", PROCESSORS)
def test_explicit_do_rescale_wins_and_warns_on_rescaled_input(processor_class, clip, caplog):
    processor = processor_class(**SIZE)
    scaled = clip.astype(np.float32) / 255
    logging.Logger.warning_once.cache_clear()  # transformers warns once per message and process
    hf_logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            twice = processor(scaled, do_rescale=True, return_tensors="pt")["pixel_values"]
    finally:
        hf_logging.disable_propagation()
    assert "already rescaled" in caplog.text
    once = processor(scaled, return_tensors="pt")["pixel_values"]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 1, 3, 1, 1)
    assert (twice * std + mean).max() < 1 / 255 + 1e-4  # divided by 255 twice, as asked
    assert (once * std + mean).max() > 0.9  # the default reads [0, 1] floats correctly
    np.testing.assert_allclose(
        processor(scaled, do_rescale=False, return_tensors="pt")["pixel_values"], once, atol=1e-6
    )


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("forms_model")
    torch.manual_seed(0)
    config = VideoSwinConfig(**tiny_config_kwargs(num_labels=4, num_frames=4, image_size=32))
    VideoSwinForVideoClassification(config).eval().save_pretrained(root)
    VideoSwinVideoProcessor(**SIZE, frame_interval=1).save_pretrained(root)
    return root


def test_pipeline_reads_a_list_of_frames_as_one_video(classifier, clip):
    """transformers' pipelines read any list as a batch; the pipeline class for this model reads a list of frames
    as one video, asked for per call (nothing is registered for every model on import)."""
    classifier = pipeline(
        "video-classification", model=str(classifier), pipeline_class=VideoSwinVideoClassificationPipeline
    )
    reference = classifier(clip, top_k=4)
    for form, video in input_forms(clip).items():
        result = classifier(video, top_k=4)
        assert isinstance(result[0], dict), form  # one video -> one list of predictions
        assert [r["label"] for r in result] == [r["label"] for r in reference], form
        np.testing.assert_allclose([r["score"] for r in result], [r["score"] for r in reference], atol=1e-3)
    frames = [PIL.Image.fromarray(frame) for frame in clip]
    batch = classifier([frames, frames], top_k=4)  # a list of lists of frames is a batch
    assert len(batch) == 2 and all(isinstance(result, list) for result in batch)


def test_stock_pipeline_serves_every_single_video_form_through_the_processor(classifier, clip):
    """`pipeline("video-classification")` is transformers' own pipeline; the video processor reads frame arrays and
    float clips in [0, 1] as single videos, the same as the uint8 clip."""
    stock = pipeline("video-classification", model=str(classifier))
    assert type(stock) is VideoClassificationPipeline
    reference = stock(clip, top_k=4)
    for form, video in input_forms(clip).items():
        if form.startswith("list of"):
            continue  # a list is a batch to transformers' pipelines: see the test above
        result = stock(video, top_k=4)
        assert [r["label"] for r in result] == [r["label"] for r in reference], form
        np.testing.assert_allclose([r["score"] for r in result], [r["score"] for r in reference], atol=1e-3)


@pytest.mark.parametrize("processor_class", PROCESSORS)
@pytest.mark.parametrize("to_tensor", [False, True], ids=["array", "tensor"])
def test_integer_frames_beyond_8_bit_are_refused(processor_class, to_tensor, clip):
    processor = processor_class(**SIZE)
    wide = clip.astype(np.uint16) * 257  # 16-bit frames: 0..65535
    wrap = torch.from_numpy if to_tensor else np.asarray
    with pytest.raises(ValueError, match=r"read as 8-bit \(0-255\), but these are .*uint16 with values 0\.\.65535"):
        processor(wrap(wide), return_tensors="pt")
    with pytest.raises(ValueError, match=r"uint16 with values 0\.\.255"):  # a 16-bit type is refused whatever it holds
        processor(wrap(clip.astype(np.uint16)), return_tensors="pt")
    with pytest.raises(ValueError, match=r"int32 with values 0\.\.1145"):
        processor(wrap(np.minimum(clip.astype(np.int32) * 5, 1145)), return_tensors="pt")
    with pytest.raises(ValueError, match=r"values -1\.\."):
        processor(wrap(clip.astype(np.int64) - 1), return_tensors="pt")


@pytest.mark.parametrize("processor_class", PROCESSORS)
def test_integer_frames_of_8_bit_values_in_a_wider_type_are_0_255(processor_class, clip):
    processor = processor_class(**SIZE)
    reference = processor(clip, return_tensors="pt")["pixel_values"]
    for frames in (clip.astype(np.int64), torch.from_numpy(clip.astype(np.int32))):  # as np.random.randint makes
        pixel_values = processor(frames, return_tensors="pt")["pixel_values"]  # resized in float, not in uint8
        torch.testing.assert_close(pixel_values, reference, atol=FLOAT_VS_UINT8_ATOL, rtol=0)
