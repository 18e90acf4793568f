"""Decoding real H.264 files written during the test: right frames, same frames on both backends, seeking, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from transformers_videoswin.processing import video_io
from transformers_videoswin.processing.video_io import (
    PyAVReader,
    VideoDecodeError,
    count_frames,
    decode_frames,
    open_video,
    torchcodec_available,
)
from transformers_videoswin.testing.utils import read_frame_index, write_test_video

NUM_FRAMES = 120
needs_torchcodec = pytest.mark.skipif(not torchcodec_available(), reason="torchcodec (or FFmpeg's libraries) missing")
BACKENDS = ["pyav", pytest.param("torchcodec", marks=needs_torchcodec)]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    # 120 frames, keyframe every 12, B-frames on (libx264 veryfast)
    return write_test_video(tmp_path_factory.mktemp("io") / "clip.mp4", NUM_FRAMES, 64, 96, fps=25, gop_size=12)


def frame_ids(frames: torch.Tensor) -> list[int]:
    return [read_frame_index(frame) for frame in frames.numpy()]


def test_test_video_helper_encodes_frame_indices(video):
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert [read_frame_index(f) for f in decoded] == list(range(NUM_FRAMES))


@pytest.mark.parametrize("backend", BACKENDS)
def test_decodes_requested_frames_in_order_with_repeats(video, backend):
    indices = [119, 3, 3, 60, 0, 61, 118, 12, 11]
    frames = decode_frames(video, indices, backend=backend)
    assert frames.dtype == torch.uint8 and frames.shape == (len(indices), 64, 96, 3)
    assert frame_ids(frames) == indices


@needs_torchcodec
def test_backends_return_identical_frames(video):
    indices = np.arange(0, NUM_FRAMES, 7)
    a = decode_frames(video, indices, backend="torchcodec")
    b = decode_frames(video, indices, backend="pyav")
    assert torch.equal(a, b)  # bit-identical: both use FFmpeg's swscale for YUV -> RGB


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["str", "path", "bytes", "file"])
def test_sources_path_bytes_file(video, backend, kind):
    data = video.read_bytes()
    source = {"str": str(video), "path": video, "bytes": data, "file": io.BytesIO(data)}[kind]
    with open_video(source, backend=backend) as reader:
        assert reader.num_frames == NUM_FRAMES
        assert reader.info.fps == pytest.approx(25.0)
        assert (reader.info.height, reader.info.width) == (64, 96)
        assert frame_ids(reader.get_frames([100, 7])) == [100, 7]


def test_pyav_seeks_instead_of_decoding_everything(video):
    with PyAVReader(str(video), "clip") as reader:
        assert frame_ids(reader.get_frames([110, 111])) == [110, 111]
        # keyframe 108 -> decode 108..111 (+ at most a few B-frame reorder frames), not 112 frames
        assert reader.frames_decoded <= 12
    with PyAVReader(str(video), "clip") as reader:
        frames = reader.get_frames([5, 100, 101])
        assert frame_ids(frames) == [5, 100, 101]
        assert reader.frames_decoded <= 24  # GOP 0..5 and GOP 96..101, not 0..101


def test_auto_prefers_torchcodec_and_falls_back_to_pyav(video, monkeypatch):
    with open_video(video) as reader:
        assert reader.backend == ("torchcodec" if torchcodec_available() else "pyav")
    monkeypatch.setattr(video_io, "torchcodec_available", lambda: False)
    with open_video(video) as reader:
        assert reader.backend == "pyav"
        assert frame_ids(reader.get_frames([42])) == [42]
    with pytest.raises(ImportError, match="torchcodec"):
        open_video(video, backend="torchcodec")


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_count_frames(video, backend):
    assert count_frames(video, backend=backend) == NUM_FRAMES


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_unreadable_file_error_names_the_file(tmp_path, backend):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoDecodeError, match="not_a_video.mp4"):
        decode_frames(bad, [0], backend=backend)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="truncated.mp4"):
        count_frames(truncated, backend=backend)


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_empty_video_error_names_the_file(tmp_path, backend):
    empty = write_test_video(tmp_path / "empty.mp4", 0, 64, 96)
    assert empty.stat().st_size > 0
    with pytest.raises(VideoDecodeError, match="empty.mp4"):
        count_frames(empty, backend=backend)


def test_missing_file_and_bad_indices(video, tmp_path):
    with pytest.raises(VideoDecodeError, match="missing.mp4"):
        count_frames(tmp_path / "missing.mp4")
    with pytest.raises(IndexError, match=r"\[0, 120\)"):
        decode_frames(video, [NUM_FRAMES])
    with pytest.raises(ValueError, match="Unknown video backend"):
        decode_frames(video, [0], backend="decord")
    assert decode_frames(video, [], backend="pyav").shape == (0, 64, 96, 3)
