"""`decode_video` on real H.264 files written during the test: right frames, same frames on both backends, seeking,
errors, agreement with the ffmpeg command line, URLs and `datasets` videos."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from transformers_videoswin.processing import decoding
from transformers_videoswin.processing.decoding import VideoDecodeError, decode_video, open_video, torchcodec_available
from transformers_videoswin.testing.utils import ffmpeg_rgb_frames, read_frame_index, run_ffmpeg, write_test_video

NUM_FRAMES = 120
needs_torchcodec = pytest.mark.skipif(not torchcodec_available(), reason="torchcodec (or FFmpeg's libraries) missing")
BACKENDS = ["pyav", pytest.param("torchcodec", marks=needs_torchcodec)]
BACKENDS_PLAIN = ["pyav", "torchcodec"] if torchcodec_available() else ["pyav"]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    # 120 frames, keyframe every 12, B-frames on (libx264 veryfast)
    return write_test_video(tmp_path_factory.mktemp("io") / "clip.mp4", NUM_FRAMES, 64, 96, fps=25, gop_size=12)


def decode_frames(source, indices, backend: str = "auto") -> torch.Tensor:
    return decode_video(source, indices, backend=backend)[0]


def count_frames(source, backend: str = "auto") -> int:
    return decode_video(source, [], backend=backend)[1].total_num_frames


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


def test_chunks_are_bounded_in_frames_and_bytes():
    """A chunk of decoded frames waiting for the transform (the decode-time resize) is at most 8 frames and 64 MiB
    of RGB: 8 frames at 224p, 2 at 4K (8 would be 200 MB)."""
    assert decoding.chunk_frames(398, 224) == 8
    assert decoding.chunk_frames(1920, 1080) == 8  # 6 MB a frame: 10 would fit
    assert decoding.chunk_frames(3840, 2160) == 2
    assert decoding.chunk_frames(16384, 16384) == 1  # one frame over the budget still decodes, one at a time


@pytest.mark.parametrize("backend", BACKENDS)
def test_transform_sees_chunks_within_the_budget(video, backend, monkeypatch):
    """Both backends hand the transform chunks within `chunk_frames` (PyAV: frame by frame), in the order of the
    indices, with the frames a plain decode gives."""
    monkeypatch.setattr(decoding, "CHUNK_BYTES", 2 * 64 * 96 * 3)  # two 64x96 frames
    seen = []

    def record(frames: torch.Tensor) -> torch.Tensor:
        seen.append(frames.shape[0])
        return frames.clone()

    indices = [5, 0, 7, 3, 9, 1]
    with decoding.open_video(video, backend=backend) as reader:
        frames = reader.get_frames(indices, transform=record)
    assert frame_ids(frames) == indices
    assert max(seen) <= 2 and sum(seen) == len(set(indices))


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
        assert reader.metadata.fps == pytest.approx(25.0)
        assert (reader.metadata.height, reader.metadata.width) == (64, 96)
        assert frame_ids(reader.get_frames([100, 7])) == [100, 7]


def test_pyav_seeks_instead_of_decoding_everything(video):
    with open_video(str(video), backend="pyav") as reader:
        assert frame_ids(reader.get_frames([110, 111])) == [110, 111]
        # keyframe 108 -> decode 108..111 (+ at most a few B-frame reorder frames), not 112 frames
        assert reader.frames_decoded <= 12
    with open_video(str(video), backend="pyav") as reader:
        frames = reader.get_frames([5, 100, 101])
        assert frame_ids(frames) == [5, 100, 101]
        assert reader.frames_decoded <= 24  # GOP 0..5 and GOP 96..101, not 0..101


def test_auto_prefers_torchcodec_and_falls_back_to_pyav(video, monkeypatch):
    with open_video(video) as reader:
        assert reader.backend == ("torchcodec" if torchcodec_available() else "pyav")
    monkeypatch.setattr(decoding, "_torchcodec_decoder_class", lambda: None)
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


# ---------------------------------------------------------------- agreement with FFmpeg's own decode
# Files made by the ffmpeg command line; the truth is `ffmpeg -i X -f rawvideo -pix_fmt rgb24 -` (edit list and
# rotation applied by FFmpeg). Both backends must return exactly those frames, for any subset in any order.
SOURCE = ("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-t", "3")
X264 = ("-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-bf", "2")


@pytest.fixture(scope="module")
def ffmpeg_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ffmpeg")
    base = folder / "base.mp4"
    run_ffmpeg(*SOURCE, *X264, "-pix_fmt", "yuv420p", base)
    videos = {"base": base}
    for angle in (90, 180, 270):  # display matrix only, pixels untouched (stream copy)
        videos[f"rotate{angle}"] = folder / f"rotate{angle}.mp4"
        run_ffmpeg("-i", base, "-c", "copy", "-metadata:s:v:0", f"rotate={angle}", videos[f"rotate{angle}"])
    # stream-copied trim: starts at the keyframe at 1.0 s, the edit list hides the frames before 1.35 s
    videos["trim_edit_list"] = folder / "trim.mp4"
    run_ffmpeg("-ss", "1.35", "-i", base, "-c", "copy", videos["trim_edit_list"])
    videos["10bit_h264"] = folder / "h264_10bit.mp4"
    run_ffmpeg(*SOURCE, *X264, "-pix_fmt", "yuv420p10le", videos["10bit_h264"])
    videos["10bit_hevc"] = folder / "hevc_10bit.mp4"
    run_ffmpeg(
        *SOURCE, "-c:v", "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", videos["10bit_hevc"]
    )
    videos["mpegts"] = folder / "clip.ts"
    run_ffmpeg(*SOURCE, *X264, "-pix_fmt", "yuv420p", "-f", "mpegts", videos["mpegts"])
    videos["avi"] = folder / "clip.avi"  # B-frames in a container that stamps packets in decode order
    run_ffmpeg(*SOURCE, *X264, "-pix_fmt", "yuv420p", videos["avi"])
    videos["raw_h264"] = folder / "clip.h264"  # an elementary stream: no container, no timestamps
    run_ffmpeg("-i", base, "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", videos["raw_h264"])
    return videos


CASES = [
    "base",
    "rotate90",
    "rotate180",
    "rotate270",
    "trim_edit_list",
    "10bit_h264",
    "10bit_hevc",
    "mpegts",
    "raw_h264",
    "avi",
]
BACKEND_CASES = [
    (case, backend)
    for case in CASES
    for backend in ["auto", *BACKENDS_PLAIN]
    # refused, see test_torchcodec_refuses_mpeg_ts_and_avi and test_raw_h264_stream_is_decoded_by_pyav
    if not (case in ("mpegts", "raw_h264", "avi") and backend == "torchcodec")
]


@pytest.mark.parametrize(("case", "backend"), BACKEND_CASES)
def test_backends_meet_ffmpeg_command_line(ffmpeg_videos, case, backend):
    path = ffmpeg_videos[case]
    truth = ffmpeg_rgb_frames(path)
    with open_video(path, backend=backend) as reader:
        assert reader.num_frames == len(truth)
        assert (reader.metadata.height, reader.metadata.width) == truth.shape[1:3]
        every = reader.get_frames(np.arange(len(truth))).numpy()
        np.testing.assert_array_equal(every, truth)
    with open_video(path, backend=backend) as reader:  # random access: seeks across groups of pictures, repeats
        subset = np.array([len(truth) - 1, 3, 3, len(truth) // 2, 0, 11, 10])
        np.testing.assert_array_equal(reader.get_frames(subset).numpy(), truth[subset])


def test_trimmed_file_starts_at_its_first_shown_frame(ffmpeg_videos):
    base, trimmed = ffmpeg_rgb_frames(ffmpeg_videos["base"]), ffmpeg_rgb_frames(ffmpeg_videos["trim_edit_list"])
    assert len(trimmed) < 20  # 1.35 s .. 3 s at 10 fps, not the 20 packets from the keyframe at 1.0 s on
    np.testing.assert_array_equal(decode_frames(ffmpeg_videos["trim_edit_list"], [0], backend="pyav")[0], trimmed[0])
    assert not np.array_equal(trimmed[0], base[10])  # the keyframe's frame is not shown


def test_raw_h264_stream_is_decoded_by_pyav(ffmpeg_videos):
    """Raw H.264 has no timestamps and cannot seek: PyAV counts the frames as shown and rereads from the top."""
    path = ffmpeg_videos["raw_h264"]
    truth = ffmpeg_rgb_frames(path)
    assert len(truth) == 30
    for source in (path, path.read_bytes(), io.BytesIO(path.read_bytes())):
        frames, metadata = decode_video(source, [29, 4, 4, 0, 17])
        assert metadata.total_num_frames == 30 and metadata.fps == 25  # the h264 demuxer's rate, as ffmpeg assumes
        np.testing.assert_array_equal(frames.numpy(), truth[[29, 4, 4, 0, 17]])
    if torchcodec_available():  # torchcodec cannot index a stream it cannot seek in: a clear error
        with pytest.raises(VideoDecodeError, match=r"clip\.h264 with torchcodec.*does not support seeking"):
            open_video(path, backend="torchcodec")


def test_pyav_seeks_in_a_stream_marked_for_b_frames_that_has_none(tmp_path):
    """x264 marks the stream as reordering (has_b_frames) but places no B-frame in noise, so the stamps come in
    order; PyAV must still seek there (it reread from the top when such stamps were taken for AVI's)."""
    import av

    path = tmp_path / "noise.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "nullsrc=size=64x48:rate=10,geq=random(1)*255:128:128", "-t", "3", *X264, path)
    with av.open(str(path)) as container:
        stamps = [packet.pts for packet in container.demux(container.streams.video[0]) if packet.size]
        assert container.streams.video[0].codec_context.has_b_frames and stamps == sorted(stamps)
    with open_video(path, backend="pyav") as reader:
        opened = reader.frames_decoded
        np.testing.assert_array_equal(reader.get_frames([25, 26]).numpy(), ffmpeg_rgb_frames(path)[[25, 26]])
        assert reader.frames_decoded - opened <= 10  # from the keyframe at 20, not the 27 frames from the top


@needs_torchcodec
@pytest.mark.parametrize(("case", "kind"), [("mpegts", r"clip\.ts is an MPEG transport stream"), ("avi", r"AVI")])
def test_torchcodec_refuses_mpeg_ts_and_auto_uses_pyav(ffmpeg_videos, case, kind):
    # torchcodec 0.17 seeks in MPEG-TS by byte estimates: frame 0 came back as frame 10, later frames failed; in AVI
    # (stamps in decode order) it returned frames 5, 6, 7 of a B-frame stream out of place, without an error
    path = ffmpeg_videos[case]
    with pytest.raises(VideoDecodeError, match=kind + r".*backend='pyav'"):
        open_video(path, backend="torchcodec")
    with open_video(path) as reader:
        assert reader.backend == "pyav"
        np.testing.assert_array_equal(reader.get_frames([5, 6, 7]).numpy(), ffmpeg_rgb_frames(path)[[5, 6, 7]])


class _FailingDecoder:
    """Stands in for torchcodec's decoder: opens fine, then fails (as torchcodec does on some streams) or returns
    frames from the wrong place (an inexact seek)."""

    def __init__(self, decoder, mode):
        self.decoder, self.mode = decoder, mode

    def get_frames_at(self, indices):
        if self.mode == "fail":
            raise RuntimeError("Requested next frame while there are no more frames left to decode.")
        return self.decoder.get_frames_at([min(i + 10, 29) for i in indices])  # one group of pictures too late


@needs_torchcodec
@pytest.mark.parametrize("mode", ["fail", "inexact_seek"])
def test_auto_falls_back_to_pyav_when_torchcodec_fails_to_decode(ffmpeg_videos, mode):
    path = ffmpeg_videos["base"]
    truth = ffmpeg_rgb_frames(path)
    with open_video(path, backend="torchcodec") as reader:  # no fallback
        reader._decoder = _FailingDecoder(reader._decoder, mode)
        with pytest.raises(VideoDecodeError, match="base.mp4"):
            reader.get_frames([0, 5])
    with open_video(path) as reader:
        assert reader.backend == "torchcodec"
        reader._decoder = _FailingDecoder(reader._decoder, mode)
        frames = reader.get_frames([5, 0])
        assert reader.backend == "pyav" and reader.metadata.video_backend == "pyav"
        np.testing.assert_array_equal(frames.numpy(), truth[[5, 0]])


def test_transform_runs_per_chunk_and_keeps_the_order(video, monkeypatch):
    monkeypatch.setattr(decoding, "CHUNK_FRAMES", 3)
    seen = []

    def transform(frames):
        seen.append(frames.shape[0])
        return frames[:, :32].clone()  # keep the index bars, drop the rest

    indices = [50, 2, 2, 90, 7, 8, 9, 60]
    for backend in BACKENDS_PLAIN:
        seen.clear()
        with open_video(video, backend=backend) as reader:
            out = reader.get_frames(indices, transform)
        assert out.shape == (len(indices), 32, 96, 3) and frame_ids(out) == indices
        assert max(seen) <= 3  # never more than a chunk of full frames at once


# ---------------------------------------------------------------- frame times
VFR_TIMES = [0.0, 0.04, 0.08, 0.5, 0.9, 0.92, 0.94, 2.0, 2.04, 2.08, 2.12, 2.16]


@pytest.mark.parametrize("backend", ["auto", *BACKENDS_PLAIN])
def test_frame_times_are_the_presentation_times(video, tmp_path, backend):
    import av

    path = write_test_video(tmp_path / "vfr.mp4", len(VFR_TIMES), 64, 96, frame_times=VFR_TIMES)
    with av.open(str(path)) as container:  # the truth: what PyAV's decoder stamps on each frame
        truth = [float(frame.pts * frame.time_base) for frame in container.decode(video=0)]
    np.testing.assert_allclose(truth, VFR_TIMES, atol=1e-9)
    for source in (path, path.read_bytes(), io.BytesIO(path.read_bytes())):
        with open_video(source, backend=backend) as reader:
            times = reader.frame_times
            np.testing.assert_allclose(times[:-1], truth, atol=1e-9)
            assert times[-1] > truth[-1]  # when the last frame ends
            assert frame_ids(reader.get_frames([7, 3])) == [7, 3]  # reading times leaves a file object usable
    with open_video(video, backend=backend) as reader:  # a constant rate: index / fps
        np.testing.assert_allclose(reader.frame_times, np.arange(NUM_FRAMES + 1) / 25, atol=1e-9)


# ---------------------------------------------------------------- URLs
@contextlib.contextmanager
def serving(handler):
    """A threaded HTTP server on 127.0.0.1 for the block: yields its base URL."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server(video):
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(video.parent))
    handler.log_message = lambda *args: None
    with serving(handler) as url:
        yield url


def test_url_is_downloaded_and_a_failed_download_is_a_video_decode_error(http_server, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    for backend in BACKENDS_PLAIN:  # streamed to a temporary file that both decoders read
        assert frame_ids(decode_frames(f"{http_server}/clip.mp4", [4, 100], backend=backend)) == [4, 100]
    with pytest.raises(VideoDecodeError, match=r"Cannot download video .*missing\.mp4.*404"):
        decode_frames(f"{http_server}/missing.mp4", [0])
    with pytest.raises(VideoDecodeError, match="Cannot download"):
        decode_frames("http://127.0.0.1:9/closed-port.mp4", [0])  # connection refused


@pytest.fixture
def hostile_server():
    """A local server with an endless body (stopped by the server after 64 MiB), a 1-byte-per-0.05 s body (stopped
    after 200 bytes, 10 s) and a body announced larger than the cap, each on its own path."""
    import http.server
    import time

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            if self.path == "/announced.mp4":
                self.send_header("Content-Length", str(2**40))
            self.end_headers()
            try:
                if self.path == "/endless.mp4":
                    for _ in range(64):
                        self.wfile.write(b"\0" * 2**20)
                elif self.path == "/slow.mp4":
                    for _ in range(200):
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                        time.sleep(0.05)
            except OSError:  # the client hung up, as it should
                pass

    with serving(Handler) as url:
        yield url


def test_url_download_has_a_size_cap_and_a_total_deadline(hostile_server, monkeypatch):
    import time

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("VIDEOSWIN_MAX_DOWNLOAD_BYTES", str(2**20))
    with pytest.raises(VideoDecodeError, match=r"endless\.mp4: it is over the limit of 1048576 bytes"):
        decode_frames(f"{hostile_server}/endless.mp4", [0])
    with pytest.raises(VideoDecodeError, match=r"announced\.mp4: it is 1099511627776 bytes, over the limit"):
        decode_frames(f"{hostile_server}/announced.mp4", [0])
    monkeypatch.setenv("VIDEOSWIN_DOWNLOAD_TIMEOUT", "1")
    start = time.monotonic()
    with pytest.raises(VideoDecodeError, match=r"slow\.mp4: not complete after 1 s"):
        decode_frames(f"{hostile_server}/slow.mp4", [0])
    assert time.monotonic() - start < 3
    with pytest.raises(VideoDecodeError, match=r"slow\.mp4: not complete after 0\.5 s"):
        decoding.download_video(f"{hostile_server}/slow.mp4", timeout=0.5)  # arguments win over the environment
    monkeypatch.setenv("VIDEOSWIN_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="VIDEOSWIN_DOWNLOAD_TIMEOUT must be a number"):
        decode_frames(f"{hostile_server}/slow.mp4", [0])


def test_url_respects_hf_hub_offline(http_server, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(VideoDecodeError, match="HF_HUB_OFFLINE"):
        decode_frames(f"{http_server}/clip.mp4", [0])


# ---------------------------------------------------------------- library gaps and `datasets` videos
@needs_torchcodec
def test_torchcodec_resize_transform_is_not_bit_exact(video):
    """The gap that keeps our decode-time resize: torchcodec's `Resize` (FFmpeg's swscale) differs from the
    torchvision resize the processors apply to frame arrays; `decode_video`'s resize is that one, bit for bit. When
    this test fails, torchcodec's transform can replace ours."""
    from torchcodec.decoders import VideoDecoder
    from torchcodec.transforms import Resize
    from torchvision.transforms.v2 import functional as F

    indices = [0, 5, 61]
    ours = decode_video(video, indices, shortest_edge=40)[0].permute(0, 3, 1, 2)
    full = decode_frames(video, indices).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, F.resize(full, [40, 60], antialias=True), rtol=0, atol=0)
    library = VideoDecoder(str(video), transforms=[Resize((40, 60))]).get_frames_at(indices).data
    assert not torch.equal(library, ours)


def test_datasets_video_column_decodes_without_files(video):
    """A `datasets.Video()` value (a torchcodec decoder over bytes kept in memory) is a source like a path: the same
    frames, with PyAV ready to take over from the bytes datasets keeps."""
    import datasets

    rows = datasets.Dataset.from_dict({"video": [{"bytes": video.read_bytes(), "path": None}]})
    value = rows.cast_column("video", datasets.Video())[0]["video"]
    frames, metadata = decode_video(value, [100, 7, 7])
    assert frame_ids(frames) == [100, 7, 7] and metadata.total_num_frames == NUM_FRAMES
    torch.testing.assert_close(frames, decode_frames(video, [100, 7, 7]), rtol=0, atol=0)


@needs_torchcodec
def test_datasets_video_with_a_remote_path_decodes_with_torchcodec(video):
    """A `datasets.Video()` value read from the Hub keeps an `hf://` path and no bytes: nothing may open that path
    as a local file (the MPEG-TS / AVI check, PyAV's fallback); torchcodec's decoder is used as it is."""
    import datasets

    rows = datasets.Dataset.from_dict({"video": [{"bytes": video.read_bytes(), "path": None}]})
    value = rows.cast_column("video", datasets.Video())[0]["video"]
    value._hf_encoded = {"path": "hf://datasets/user/videos/clip.mp4", "bytes": None}
    with open_video(value) as reader:
        assert reader.backend == "torchcodec" and reader.name == "hf://datasets/user/videos/clip.mp4"
        assert frame_ids(reader.get_frames([100, 7])) == [100, 7]
