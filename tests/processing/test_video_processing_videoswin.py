"""Video processor: decoding + sampling protocols on real mp4 files, multi-view layout, Auto registration."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from transformers import AutoVideoProcessor

from transformers_videoswin import VideoSwinConfig, VideoSwinVideoProcessor
from transformers_videoswin.processing import video_processing_videoswin
from transformers_videoswin.processing.decoding import VideoDecodeError, decode_video, torchcodec_available
from transformers_videoswin.processing.sampling import (
    sample_kinetics_indices,
    sample_ssv2_indices,
    sample_uniform_indices,
)
from transformers_videoswin.testing.utils import read_frame_index, write_test_video

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
RAW = {"do_resize": False, "do_center_crop": False, "do_rescale": False, "do_normalize": False}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("vp")
    return {
        "long": write_test_video(root / "long.mp4", 150, 64, 96),
        "short": write_test_video(root / "short.mp4", 6, 64, 96),
        "portrait": write_test_video(root / "portrait.mp4", 20, 96, 64),
    }


def decode_frames(source, indices) -> torch.Tensor:
    return decode_video(source, indices)[0]


def sampled_ids(pixel_values: torch.Tensor) -> list[int]:
    """Frame indices read back from raw (unprocessed) output frames [T, C, H, W]."""
    return [read_frame_index(frame.permute(1, 2, 0).numpy()) for frame in pixel_values]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"num_frames": 8, "frame_interval": 2}, sample_kinetics_indices(150, 8, 2, test_mode=True)[0]),
        ({"num_frames": 8, "frame_interval": 4}, sample_kinetics_indices(150, 8, 4, test_mode=True)[0]),
        ({"num_frames": 8, "sampling": "ssv2"}, sample_ssv2_indices(150, 8, test_mode=True)[0]),
        ({"num_frames": 5, "sampling": "uniform"}, sample_uniform_indices(150, 5)[0]),
    ],
)
def test_sampling_protocols_pick_the_right_frames(videos, kwargs, expected):
    out = VideoSwinVideoProcessor(**RAW)(str(videos["long"]), return_tensors="pt", **kwargs)
    assert out.pixel_values.shape[:2] == (1, len(expected))
    assert sampled_ids(out.pixel_values[0]) == expected.tolist()


def test_default_is_official_single_view_kinetics(videos):
    out = VideoSwinVideoProcessor()(str(videos["long"]), return_tensors="pt", return_metadata=True)
    assert out.pixel_values.shape == (1, 32, 3, 224, 224)
    np.testing.assert_array_equal(
        out["video_metadata"][0].frames_indices, sample_kinetics_indices(150, 32, 2, test_mode=True)[0]
    )


def test_short_video_loops_instead_of_crashing(videos):
    processor = VideoSwinVideoProcessor(**RAW)
    out = processor(str(videos["short"]), num_frames=32, return_tensors="pt")
    assert out.pixel_values.shape[1] == 32
    assert sampled_ids(out.pixel_values[0]) == (np.arange(0, 64, 2) % 6).tolist()
    ssv2 = processor(str(videos["short"]), num_frames=16, sampling="ssv2", return_tensors="pt")
    assert sampled_ids(ssv2.pixel_values[0]) == sample_ssv2_indices(6, 16, test_mode=True)[0].tolist()


def test_random_training_sampling_is_seeded(videos):
    processor = VideoSwinVideoProcessor(**RAW, test_mode=False)
    a = processor(str(videos["long"]), num_frames=8, sampling_seed=1, return_tensors="pt", return_metadata=True)
    b = processor(str(videos["long"]), num_frames=8, sampling_seed=1, return_tensors="pt", return_metadata=True)
    c = processor(str(videos["long"]), num_frames=8, sampling_seed=2, return_tensors="pt", return_metadata=True)
    ia, ib, ic = (x["video_metadata"][0].frames_indices for x in (a, b, c))
    np.testing.assert_array_equal(ia, ib)
    assert not np.array_equal(ia, ic)
    assert sampled_ids(a.pixel_values[0]) == ia.tolist()


def test_multiview_layout_against_direct_computation(videos):
    # 2 clips x 3 crops of 64x96 frames; short side already 64 -> no resize; crop 64: offsets 0, 32, 16
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    out = processor(str(videos["long"]), num_frames=4, frame_interval=3, num_clips=2, num_crops=3, return_tensors="pt")
    assert out.pixel_values.shape == (1, 6, 4, 3, 64, 64)
    clips = sample_kinetics_indices(150, 4, 3, num_clips=2, test_mode=True)
    for crop, left in enumerate([0, 32, 16]):  # official ThreeCrop order: left, right, middle
        for clip in range(2):
            raw = decode_frames(videos["long"], clips[clip]).permute(0, 3, 1, 2).float()
            expected = (raw[..., :, left : left + 64] / 255 - MEAN) / STD
            torch.testing.assert_close(out.pixel_values[0, crop * 2 + clip], expected, rtol=0, atol=1e-5)


def test_three_crops_on_portrait_video_go_top_bottom_middle(videos):
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    out = processor(str(videos["portrait"]), num_frames=2, num_crops=3, return_tensors="pt", return_metadata=True)
    raw = decode_frames(videos["portrait"], out["video_metadata"][0].frames_indices).permute(0, 3, 1, 2).float()
    for view, top in enumerate([0, 32, 16]):
        expected = (raw[:, :, top : top + 64, :] / 255 - MEAN) / STD
        torch.testing.assert_close(out.pixel_values[0, view], expected, rtol=0, atol=1e-5)


def test_paths_bytes_files_and_batches_agree(videos):
    processor = VideoSwinVideoProcessor()
    path = videos["long"]
    reference = processor(str(path), num_frames=8, return_tensors="pt").pixel_values
    for source in (path, path.read_bytes(), io.BytesIO(path.read_bytes())):
        torch.testing.assert_close(processor(source, num_frames=8, return_tensors="pt").pixel_values, reference)
    batch = processor([str(path), str(videos["portrait"])], num_frames=8, return_tensors="pt").pixel_values
    assert batch.shape == (2, 8, 3, 224, 224)
    torch.testing.assert_close(batch[:1], reference)


@pytest.mark.skipif(not torchcodec_available(), reason="torchcodec missing")
def test_a_datasets_video_is_a_source_like_a_path(videos):
    import datasets

    rows = datasets.Dataset.from_dict({"video": [{"bytes": videos["long"].read_bytes(), "path": None}]})
    value = rows.cast_column("video", datasets.Video())[0]["video"]
    processor = VideoSwinVideoProcessor()
    expected = processor(str(videos["long"]), num_frames=8, return_tensors="pt").pixel_values
    torch.testing.assert_close(processor(value, num_frames=8, return_tensors="pt").pixel_values, expected)


@pytest.mark.skipif(not torchcodec_available(), reason="torchcodec missing")
def test_decoders_give_identical_pixel_values(videos):
    processor = VideoSwinVideoProcessor()
    a = processor(str(videos["long"]), num_frames=8, decode_backend="torchcodec", return_tensors="pt").pixel_values
    b = processor(str(videos["long"]), num_frames=8, decode_backend="pyav", return_tensors="pt").pixel_values
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_arrays_are_kept_unless_sampling_is_requested():
    video = torch.randint(0, 256, (10, 48, 64, 3), dtype=torch.uint8)
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 48}, crop_size={"height": 48, "width": 48})
    assert processor(video, return_tensors="pt").pixel_values.shape == (1, 10, 3, 48, 48)
    sampled = processor(video, do_sample_frames=True, num_frames=4, sampling="uniform", return_tensors="pt")
    expected = processor(video[[0, 3, 6, 9]], return_tensors="pt").pixel_values
    torch.testing.assert_close(sampled.pixel_values, expected, rtol=0, atol=0)


def test_errors(videos, tmp_path):
    processor = VideoSwinVideoProcessor()
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 512)
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        processor(str(bad), return_tensors="pt")
    with pytest.raises(ValueError, match="num_crops"):
        processor(str(videos["long"]), num_crops=2)
    with pytest.raises(ValueError, match="sampling"):
        processor(str(videos["long"]), sampling="tsn")


def test_auto_video_processor_round_trip(tmp_path):
    VideoSwinConfig(image_size=64, num_frames=8).save_pretrained(tmp_path)
    VideoSwinVideoProcessor(num_frames=16, sampling="ssv2", num_crops=3).save_pretrained(tmp_path)
    loaded = AutoVideoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is VideoSwinVideoProcessor
    assert (loaded.num_frames, loaded.sampling, loaded.num_crops, loaded.frame_interval) == (16, "ssv2", 3, 2)


# ---------------------------------------------------------------- resize while decoding (memory)
@pytest.mark.parametrize("backend", ["pyav", *(["torchcodec"] if torchcodec_available() else [])])
@pytest.mark.parametrize("views", [(1, 1), (2, 3)])
@pytest.mark.parametrize("name", ["long", "portrait"])
def test_resize_while_decoding_equals_decode_then_resize(videos, name, views, backend, monkeypatch):
    """Tolerance 0: each chunk of decoded frames goes through the processor's own resize, the same operation the
    decode-then-resize path applies to the whole clip; short side first, then the (three) crops."""
    from transformers_videoswin.processing import decoding

    monkeypatch.setattr(decoding, "CHUNK_FRAMES", 3)  # several chunks per clip
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32})
    num_clips, num_crops = views
    kwargs = dict(num_frames=4, num_clips=num_clips, num_crops=num_crops, decode_backend=backend, return_tensors="pt")
    resized_while_decoding = processor(str(videos[name]), **kwargs).pixel_values
    decoded_then_resized = processor(str(videos[name]), decode_resize=False, **kwargs).pixel_values
    torch.testing.assert_close(resized_while_decoding, decoded_then_resized, rtol=0, atol=0)
    # and the frames really were resized while decoding: decoding hands back 40-pixel short sides
    seen = []
    monkeypatch.setattr(video_processing_videoswin, "decode_video", _spy_decoder(seen))
    processor(str(videos[name]), **kwargs)
    processor(str(videos[name]), decode_resize=False, **kwargs)
    assert [min(shape) for shape in seen] == [40, 64]


def _spy_decoder(seen):
    def spy(*args, **kwargs):
        frames, metadata = decode_video(*args, **kwargs)
        seen.append(tuple(frames.shape[1:3]))
        return frames, metadata

    return spy
