"""The batch-inference engine: windows against the model run by hand, resume after a crash, corrupt files, dataset
input, and 2 processes under torchrun (gloo) against 1."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO_ROOT, tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification, VideoSwinVideoProcessor
from transformers_videoswin.data.sources import DatasetTable, expand_inputs, file_entries
from transformers_videoswin.inference import ClipPlan, VideoClipStream, read_index_parts, run_inference
from transformers_videoswin.inference.stream import ClipChunk
from transformers_videoswin.processing.decoding import decode_video, torchcodec_available
from transformers_videoswin.processing.sampling import sliding_window_indices
from transformers_videoswin.testing.utils import write_test_video

FRAMES = (40, 5, 23, 17)  # one video shorter than a window (8 frames)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    torch.manual_seed(0)
    model = VideoSwinForVideoClassification(VideoSwinConfig(**tiny_config_kwargs())).eval()
    model.save_pretrained(root / "model")
    processor = VideoSwinVideoProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    processor.save_pretrained(root / "model")
    videos = [
        write_test_video(root / "videos" / f"part{i % 2}" / f"v{i}.mp4", n, 64, 80) for i, n in enumerate(FRAMES)
    ]
    broken = root / "videos" / "part0" / "broken.mp4"
    broken.write_bytes(b"not a video" * 20)
    return {"root": root, "model": model, "processor": processor, "videos": [str(v) for v in videos]}


def _features(setup, output_dir, **kwargs):
    plan = ClipPlan(window=8, stride=4)
    entries = file_entries(expand_inputs([str(setup["root"] / "videos")]))
    kwargs = {"batch_size": 3, **kwargs}
    return run_inference(setup["model"].videoswin, setup["processor"], plan, entries, output_dir=output_dir, **kwargs)


def _outputs(directory) -> dict[str, dict[str, torch.Tensor]]:
    return {
        str(path.relative_to(directory)): load_file(path)
        for path in sorted(directory.rglob("*.safetensors"))
        if not path.name.startswith(".")
    }


def test_windows_match_the_model_run_by_hand(setup):
    """Every window (chunked, frames shared between chunks) equals the model on its own decoded, preprocessed frames."""
    plan = ClipPlan(window=4, stride=3, frame_interval=2)
    entries = file_entries(setup["videos"][:1])
    summary, sink = run_inference(
        setup["model"].videoswin, setup["processor"], plan, entries, batch_size=3, keep_time=True
    )
    assert (summary.ok, summary.failed) == (1, 0)
    tensors = sink.results[0].tensors
    # 20 sampled frames: full windows start at 0, 3, ..., 15, then a padded one at 18; chunks of 4 windows share frames
    expected = sliding_window_indices(40, 4, 3, step=2)
    assert expected.start_frame.tolist() == [0, 6, 12, 18, 24, 30, 36]
    np.testing.assert_array_equal(tensors["frame_indices"].numpy(), expected.indices)
    np.testing.assert_allclose(tensors["start_time"].numpy(), expected.start_frame / 25)
    np.testing.assert_allclose(tensors["end_time"].numpy(), expected.end_frame / 25)
    assert tensors["pooled"].shape == (7, 128) and tensors["pooled_time"].shape == (7, 2, 128)
    for i, indices in enumerate(expected.indices):
        frames, _ = decode_video(setup["videos"][0], indices)
        pixel_values = setup["processor"](frames, return_tensors="pt")["pixel_values"]  # [1, 4, 3, 64, 64]
        with torch.no_grad():
            reference = setup["model"].videoswin(pixel_values=pixel_values).pooler_output[0]
        torch.testing.assert_close(tensors["pooled"][i], reference, rtol=1e-5, atol=1e-5)


def test_corrupt_and_short_videos_in_the_index(setup, tmp_path):
    summary, _ = _features(setup, tmp_path / "out")
    assert (summary.ok, summary.failed, summary.resumed) == (4, 1, 0)
    lines = (tmp_path / "out" / "index.jsonl").read_text().splitlines()
    records = {record["output"]: record for record in map(json.loads, lines)}
    assert records["part0/broken"]["status"] == "error" and "broken.mp4" in records["part0/broken"]["error"]
    assert records["part1/v1"]["num_windows"] == 1  # 5 frames: one padded window
    assert records["part0/v0"]["num_windows"] == 9 and records["part0/v0"]["fps"] == 25.0
    assert records["part0/v0"]["duration"] == pytest.approx(40 / 25)
    assert not (tmp_path / "out" / "part0" / "broken.safetensors").exists()
    outputs = _outputs(tmp_path / "out")
    assert outputs["part1/v1.safetensors"]["frame_indices"].tolist() == [[0, 1, 2, 3, 4, 4, 4, 4]]


def test_resume_after_a_crash(setup, tmp_path, monkeypatch):
    """A run killed while writing its third video leaves two complete files and nothing half-written; the re-run
    skips those two and ends with exactly the outputs of an uninterrupted run."""
    from transformers_videoswin.inference import outputs as outputs_module

    clean, _ = _features(setup, tmp_path / "clean")
    real_save = outputs_module.save_safetensors
    calls = {"n": 0}

    def crashing_save(path, tensors, metadata):
        calls["n"] += 1
        if calls["n"] == 3:
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.parent / f".{path.name}.tmp-1").write_bytes(b"partial")  # what a kill mid-write leaves
            raise KeyboardInterrupt  # the process dies here
        return real_save(path, tensors, metadata)

    monkeypatch.setattr(outputs_module, "save_safetensors", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        _features(setup, tmp_path / "out")
    assert len(_outputs(tmp_path / "out")) == 2
    monkeypatch.setattr(outputs_module, "save_safetensors", real_save)

    resumed, _ = _features(setup, tmp_path / "out")
    assert (resumed.resumed, resumed.ok, resumed.failed) == (2, 2, 1)
    first, second = _outputs(tmp_path / "clean"), _outputs(tmp_path / "out")
    assert first.keys() == second.keys() and len(first) == 4
    for name in first:
        for tensor in first[name]:
            torch.testing.assert_close(second[name][tensor], first[name][tensor], rtol=1e-5, atol=1e-5)
    records = read_index_parts(tmp_path / "out")
    assert len(records) == 5 and sum(r["resumed"] for r in records) == 2
    assert {r["output"]: r["num_windows"] for r in records} == {
        r["output"]: r["num_windows"] for r in read_index_parts(tmp_path / "clean")
    }


def test_npy_outputs_and_parquet_index(setup, tmp_path):
    summary, _ = _features(setup, tmp_path / "out", output_format="npy", index_format="parquet", keep_time=True)
    assert summary.ok == 4
    array = np.load(tmp_path / "out" / "part0" / "v0.npy")
    side = json.loads((tmp_path / "out" / "part0" / "v0.json").read_text())
    assert array.shape == (9, 4, 128) and side["array"] == "pooled_time" and len(side["start_time"]) == 9
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out" / "index.parquet").to_pylist()
    assert [r["status"] for r in table].count("error") == 1 and len(table) == 5
    again, _ = _features(setup, tmp_path / "out", output_format="npy", index_format="parquet", keep_time=True)
    assert again.resumed == 4 and again.ok == 0


def test_dataset_input_gives_the_file_outputs(setup, tmp_path):
    import datasets

    videos = setup["videos"][:2]
    records = {"video": [{"bytes": open(v, "rb").read(), "path": os.path.basename(v)} for v in videos]}
    features = datasets.Features({"video": datasets.Video()})
    datasets.Dataset.from_dict(records, features=features).to_parquet(str(tmp_path / "data.parquet"))
    plan = ClipPlan(window=8, stride=4)
    model, processor = setup["model"].videoswin, setup["processor"]
    for streaming in (False, True):
        table = DatasetTable(str(tmp_path / "data.parquet"), split="train", streaming=streaming)
        summary, sink = run_inference(model, processor, plan, table=table, batch_size=4, num_workers=1)
        _, expected = run_inference(model, processor, plan, file_entries(videos), batch_size=4)
        assert summary.ok == 2
        for position in (0, 1):
            assert sink.results[position].video.name == os.path.basename(videos[position])
            torch.testing.assert_close(  # the thread balancer may run them on other thread counts: float32 sums
                sink.results[position].tensors["pooled"],
                expected.results[position].tensors["pooled"],
                rtol=1e-5,
                atol=1e-5,
            )
    with pytest.raises(ValueError, match="no column 'clip'"):
        DatasetTable(str(tmp_path / "data.parquet"), video_column="clip").load()


def test_a_request_runs_as_the_library_calls_do_and_writes_one_file(setup, tmp_path):
    """`run_request` (model directory, file names, `out`) gives the tensors of `run_inference` with a loaded model,
    written by the sink when it finishes, with the run's metadata."""
    from safetensors import safe_open

    from transformers_videoswin.inference import InferenceRequest, run_request

    out = tmp_path / "v0.safetensors"
    request = InferenceRequest(
        str(setup["root"] / "model"), videos=[setup["videos"][0]], window=8, stride=4, out=out, num_workers=0
    )
    summary, sink = run_request(request)
    assert (summary.ok, summary.failed) == (1, 0)
    _, expected = run_inference(
        setup["model"].videoswin, setup["processor"], ClipPlan(window=8, stride=4), file_entries(setup["videos"][:1])
    )
    written = load_file(out)
    torch.testing.assert_close(written["pooled"], expected.results[0].tensors["pooled"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(written["pooled"], sink.results[0].tensors["pooled"])
    with safe_open(str(out), "pt") as handle:
        metadata = handle.metadata()
    assert json.loads(metadata["plan"]) == {"window": 8, "stride": 4, "last_window": "pad", "num_clips": 1,
                                            "num_crops": 1, "decode_backend": "auto"}  # fmt: skip
    assert metadata["video"] == setup["videos"][0] and len(metadata["weights_sha256"]) == 64


def test_a_request_kept_in_memory_does_not_read_the_weight_files_for_a_fingerprint(setup, monkeypatch):
    """Only written outputs record the weights' SHA-256; a run whose results stay in memory (printing) reads the
    weight files once, to load them."""
    from transformers_videoswin.inference import InferenceRequest, run_request
    from transformers_videoswin.inference import runner as runner_module

    hashed = []
    monkeypatch.setattr(runner_module, "weights_fingerprint", lambda *args: hashed.append(args) or "0" * 64)
    request = InferenceRequest(
        str(setup["root"] / "model"), videos=[setup["videos"][0]], window=8, stride=4, num_workers=0
    )
    summary, sink = run_request(request)
    assert (summary.ok, summary.failed) == (1, 0) and sink.results[0].tensors["pooled"].shape[0] > 0
    assert hashed == [] and sink.metadata["weights_sha256"] is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"out": "a.safetensors", "output_dir": "d"}, "Give `out` (one video) or `output_dir`"),
        ({"out": "a.safetensors", "videos": ["a.mp4", "b.mp4"]}, "`out` takes the features of one video"),
        ({"output_dir": "d", "output_format": "npy", "level": "stages"}, "use safetensors for `level` stages"),
        ({"videos": []}, "No videos given"),
        ({"dataset": "x.parquet"}, "Give `videos` or a `dataset`, not both"),
        ({"shard": (2, 2)}, "`shard` 2/2"),
        ({"model": "./no/such/model"}, "`model` ./no/such/model: no such directory"),
        ({"stride": 4}, "`stride` and `fps` place sliding windows; give `window` too"),
    ],
)
def test_request_errors_name_its_fields_not_flags(setup, tmp_path, fields, message):
    """Everything a request can get wrong is refused before a model is loaded, in the request's own terms."""
    from transformers_videoswin.inference import InferenceRequest, PlanError, RequestError, run_request

    request = InferenceRequest(str(setup["root"] / "model"), videos=[setup["videos"][0]], device="cpu")
    for name, value in fields.items():
        setattr(request, name, value)
    with pytest.raises((RequestError, PlanError)) as excinfo:
        run_request(request)
    assert message in str(excinfo.value) and "--" not in str(excinfo.value)


def test_workers_and_shards_split_without_overlap_or_gap(setup):
    from transformers_videoswin.inference.stream import owns

    entries = file_entries([f"v{i}.mp4" for i in range(23)])
    seen = []
    for rank in range(3):
        for worker in range(4):
            seen += [e.position for e in entries if owns(e.position, rank, 3, worker, 4)]
    assert sorted(seen) == list(range(23))
    stream = VideoClipStream(setup["processor"], ClipPlan(), entries, rank=1, world_size=3)
    assert len(stream) == 8  # positions 1, 4, ..., 22


def test_the_stream_hands_freed_memory_back_after_each_video(setup, monkeypatch):
    """Once per video, read or failed, after its last item (a decoding worker's RSS stays flat in the videos)."""
    from transformers_videoswin.inference import stream as stream_module

    calls, seen = [], []
    monkeypatch.setattr(stream_module, "release_freed_memory", lambda: calls.append(len(seen)))
    videos = [*setup["videos"][:2], str(setup["root"] / "videos" / "part0" / "broken.mp4")]
    for item in VideoClipStream(setup["processor"], ClipPlan(window=8, stride=4), file_entries(videos)):
        seen.append(item)
    ends = [
        i + 1 for i, item in enumerate(seen) if i + 1 == len(seen) or seen[i + 1].video.position != item.video.position
    ]
    assert calls == ends and len(calls) == 3
    assert (stream_module._malloc_trim() is not None) == (platform.libc_ver()[0] == "glibc")  # glibc only


def test_freed_memory_is_trimmed_past_a_slack(monkeypatch):
    """glibc's heap is trimmed after the first video, then only once RSS has grown `TRIM_SLACK_BYTES` past what it
    was after the last trim (not after every short video)."""
    from transformers_videoswin.inference import stream as stream_module

    slack, resident, trims = stream_module.TRIM_SLACK_BYTES, [0], []

    def trim(pad: int) -> int:
        trims.append(resident[0])
        resident[0] = 100 * 2**20  # what the process keeps after a trim
        return 1

    monkeypatch.setattr(stream_module, "_trimmed_rss", None)
    monkeypatch.setattr(stream_module, "_malloc_trim", lambda: trim)
    monkeypatch.setattr(stream_module, "resident_bytes", lambda: resident[0])
    after_each_video = [300 * 2**20, 150 * 2**20, 100 * 2**20 + slack, 100 * 2**20 + slack + 1, 120 * 2**20]
    for rss in after_each_video:
        resident[0] = rss
        stream_module.release_freed_memory()
    assert trims == [300 * 2**20, 100 * 2**20 + slack + 1]


def test_resident_bytes_reads_this_process():
    from transformers_videoswin.inference.stream import resident_bytes

    if not os.path.exists("/proc/self/statm"):
        assert resident_bytes() == 0
        return
    before = resident_bytes()
    block = torch.ones(64 * 2**20, dtype=torch.uint8)  # 64 MiB, touched
    assert resident_bytes() - before >= 48 * 2**20
    del block


@pytest.mark.slow
def test_two_processes_under_torchrun_equal_one(setup, tmp_path):
    """`torchrun --nproc_per_node 2` (gloo, CPU) writes exactly the files of one process and merges the index."""
    model_dir, videos = setup["root"] / "model", str(setup["root"] / "videos")
    argv = ["features", videos, "--model", str(model_dir), "--window", "8", "--stride", "4", "--batch-size", "1"]
    argv += ["--num-workers", "1", "--device", "cpu", "--no-progress", "--keep-time"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "src"), *sys.path]))
    single = subprocess.run(
        [sys.executable, "-m", "transformers_videoswin.cli", *argv, "--output-dir", str(tmp_path / "one")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert single.returncode == 1, single.stderr[-3000:]  # 1: the broken video
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    sharded = subprocess.run(
        [*torchrun, "-m", "transformers_videoswin.cli", *argv, "--output-dir", str(tmp_path / "two")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "[rank 0/2]" in sharded.stderr and "[rank 1/2]" in sharded.stderr, sharded.stderr[-3000:]
    parts = sorted(p.name for p in (tmp_path / "two" / ".videoswin" / "index-parts").iterdir())
    assert parts == ["rank-00000-of-00002.jsonl", "rank-00001-of-00002.jsonl"]
    one, two = _outputs(tmp_path / "one"), _outputs(tmp_path / "two")
    assert one.keys() == two.keys() and len(one) == 4
    for name in one:
        assert one[name].keys() == two[name].keys()
        for tensor in one[name]:
            assert torch.equal(one[name][tensor], two[name][tensor]), (name, tensor)

    def index(directory):
        lines = (directory / "index.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k not in ("rank", "finished_at")} for line in lines]

    assert index(tmp_path / "one") == index(tmp_path / "two") and len(index(tmp_path / "two")) == 5


def test_resume_after_sigkill(setup, tmp_path):
    """SIGKILL a real run as soon as its first file appears; the re-run keeps what was finished and completes."""
    import signal
    import time

    videos = [str(write_test_video(tmp_path / "in" / f"k{i}.mp4", 40, 64, 80)) for i in range(3)]
    argv = ["features", *videos, "--model", str(setup["root"] / "model"), "--window", "8", "--stride", "2"]
    argv += ["--batch-size", "1", "--num-workers", "0", "--device", "cpu", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "src"), *sys.path]))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "transformers_videoswin.cli", *argv, "--output-dir", str(out)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(out.glob("*.safetensors")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = {p.name for p in out.glob("*.safetensors")}
    assert 1 <= len(finished) <= 3
    plan = ClipPlan(window=8, stride=2)
    model, processor = setup["model"].videoswin, setup["processor"]
    summary, _ = run_inference(
        model,
        processor,
        plan,
        file_entries(videos),
        output_dir=out,
        batch_size=8,
        model_name=argv[argv.index("--model") + 1],
    )  # the settings of the killed command (settings.json), or the re-run is refused
    assert summary.resumed == len(finished) and summary.ok == 3 - len(finished) and summary.failed == 0
    _, clean = run_inference(model, processor, plan, file_entries(videos), batch_size=8)
    for position in range(len(videos)):
        written = load_file(out / f"k{position}.safetensors")
        assert written["pooled"].shape == (17, 128)
        torch.testing.assert_close(written["pooled"], clean.results[position].tensors["pooled"], rtol=1e-5, atol=1e-5)


def test_thread_balancer_keeps_the_faster_thread_count(monkeypatch):
    """Model-bound (no waiting): every thread, without trying fewer. Waiting: three batches with every thread, three
    with ``cores - workers``, and the faster stays; ``restore`` gives the process its count back."""
    from transformers_videoswin.inference import engine
    from transformers_videoswin.inference.engine import CpuThreadBalancer

    seconds = {2: 4.0, 1: 1.0}  # wall clock of one batch at each thread count
    now = [0.0]

    def run_batches(balancer, count, waiting):
        for _ in range(count):
            now[0] += seconds[torch.get_num_threads()]
            balancer.observe(waiting=waiting, clips=8)

    monkeypatch.setattr(engine, "available_cores", lambda: 2)
    monkeypatch.setattr(engine.time, "perf_counter", lambda: now[0])
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model_bound = CpuThreadBalancer(torch.device("cpu"), num_workers=1)
        run_batches(model_bound, 10, waiting=0.0)
        assert torch.get_num_threads() == 2 and not model_bound.active
        decode_bound = CpuThreadBalancer(torch.device("cpu"), num_workers=1)
        run_batches(decode_bound, 4, waiting=0.5)  # warm-up + three batches with every thread
        assert torch.get_num_threads() == 1
        run_batches(decode_bound, 3, waiting=0.5)  # three with one thread: 1 s per batch instead of 4
        assert torch.get_num_threads() == 1 and not decode_bound.active
        decode_bound.restore()
        assert torch.get_num_threads() == 2
        seconds[1] = 8.0  # the lower count is slower: every thread comes back
        slower = CpuThreadBalancer(torch.device("cpu"), num_workers=1)
        run_batches(slower, 7, waiting=0.5)
        assert torch.get_num_threads() == 2 and not slower.active
        assert not CpuThreadBalancer(torch.device("cpu"), num_workers=0).active
        assert not CpuThreadBalancer(torch.device("meta"), num_workers=1).active
    finally:
        torch.set_num_threads(before)


PLANS = {  # 30 frames sampled every 2: 4 full windows and a padded one; 2 clips x 3 crops
    "windows": (dict(window=4, stride=3, frame_interval=2), 5),
    "views": (dict(num_frames=4, frame_interval=2, num_clips=2, num_crops=3), 6),
}


@pytest.mark.parametrize("backend", ["pyav", *(["torchcodec"] if torchcodec_available() else [])])
@pytest.mark.parametrize("kind", sorted(PLANS))
def test_clips_are_resized_while_decoding(tmp_path, monkeypatch, backend, kind):
    """`videoswin classify` / `features` (windows and views) hand the reader the processor's resize, so that no more
    than a chunk of full-resolution frames is ever held (a 4K frame is 25 MB), and the clips are exactly those of
    decoding everything and then resizing (tolerance 0: the same resize, applied to each chunk)."""
    from transformers_videoswin.processing import decoding

    monkeypatch.setattr(decoding, "CHUNK_FRAMES", 3)  # several chunks per window chunk
    video = write_test_video(tmp_path / "large.mp4", 30, 96, 128, pattern="noisy")
    plan_kwargs, num_clips = PLANS[kind]
    plan = ClipPlan(decode_backend=backend, **plan_kwargs)

    def clips(processor):
        stream = VideoClipStream(processor, plan, file_entries([str(video)]), chunk_size=2)
        items = [item for item in stream if isinstance(item, ClipChunk)]
        assert items, "no clips"
        return torch.cat([item.frames[item.gather] for item in items])  # [windows, 4, 3, 48, 48]

    kwargs = dict(size={"shortest_edge": 48}, crop_size={"height": 48, "width": 48})
    resizing = VideoSwinVideoProcessor(**kwargs)
    decoded_sizes, resized_sizes = [], []
    short_side_resize = decoding._short_side_resize

    def spy_transform(*args):
        resize = short_side_resize(*args)

        def spy(frames):
            decoded_sizes.append(tuple(frames.shape[1:3]))
            resized = resize(frames)
            resized_sizes.append(tuple(resized.shape[1:3]))
            return resized

        return spy

    monkeypatch.setattr(decoding, "_short_side_resize", spy_transform)
    resized_while_decoding = clips(resizing)
    assert set(decoded_sizes) == {(96, 128)} and set(resized_sizes) == {(48, 64)}  # the reader ran the resize
    assert len(decoded_sizes) > 1  # chunk by chunk
    decoded_sizes.clear()
    decoded_then_resized = clips(VideoSwinVideoProcessor(decode_resize=False, **kwargs))
    assert decoded_sizes == []  # no resize while decoding
    assert resized_while_decoding.shape == (num_clips, 4, 3, 48, 48)
    torch.testing.assert_close(resized_while_decoding, decoded_then_resized, rtol=0, atol=0)


def test_clips_of_consecutive_frames_are_views_not_copies():
    """The official views of a video are consecutive rows of its frames: batches of them are views (12 views of 32
    frames at 224x224 are 231 MB); overlapping sliding windows are gathered. Both equal `frames[gather]`."""
    from transformers_videoswin.inference.engine import _gather_clips

    frames = torch.randn(24, 3, 4, 4)
    consecutive = torch.arange(8, 20).view(3, 4)
    clips = _gather_clips(frames, consecutive)
    assert clips.data_ptr() == frames[8].data_ptr()  # a view
    torch.testing.assert_close(clips, frames[consecutive], rtol=0, atol=0)
    overlapping = torch.tensor([[0, 1, 2, 3], [2, 3, 4, 5]])
    torch.testing.assert_close(_gather_clips(frames, overlapping), frames[overlapping], rtol=0, atol=0)


def test_default_batch_size_fits_32_mib_of_clips_on_the_cpu_and_is_eight_on_accelerators(setup, monkeypatch):
    """On the CPU the model already works a few windows at a time: a batch of large clips is no faster and only costs
    memory (benchmarks/bench_memory.py), while small clips gain from fewer calls. The default is as many clips as fit
    in 32 MiB there (one Swin-T clip), 8 on accelerators; an explicit batch size is kept."""
    from transformers_videoswin.cli import main
    from transformers_videoswin.inference import engine
    from transformers_videoswin.inference.engine import InferenceEngine, default_batch_size

    swin_t_clip = 32 * 3 * 224 * 224
    assert default_batch_size(torch.device("cpu"), swin_t_clip * 4) == 1  # float32: 19 MB
    assert default_batch_size(torch.device("cpu"), swin_t_clip * 2) == 3  # bfloat16
    assert default_batch_size(torch.device("cpu"), 16 * 3 * 112 * 112 * 4) == 8  # small clips: at most 8
    assert default_batch_size(torch.device("cpu"), 2**40) == 1
    assert default_batch_size(torch.device("cuda", 0), swin_t_clip * 4) == 8
    assert default_batch_size(torch.device("meta"), 1) == 8
    forward, batches = InferenceEngine.forward, []

    def recording_forward(self, clips):
        batches.append(clips.shape[0])
        return forward(self, clips)

    monkeypatch.setattr(InferenceEngine, "forward", recording_forward)
    argv = ["classify", setup["videos"][0], "--model", str(setup["root"] / "model"), "--views", "2x3"]
    argv += ["--num-workers", "0", "--device", "cpu", "--no-progress", "--json"]
    clip_bytes = 8 * 3 * 64 * 64 * 4  # the test model's clips: 8 frames of 64x64, float32
    for budget, expected in [(2**30, [6]), (2 * clip_bytes, [2, 2, 2]), (clip_bytes - 1, [1] * 6)]:
        monkeypatch.setattr(engine, "CPU_BATCH_BYTES", budget)
        batches.clear()
        assert main(argv) == 0
        assert batches == expected, budget
    batches.clear()
    assert main([*argv, "--batch-size", "4"]) == 0
    assert batches == [4, 2]


def test_a_huge_batch_size_does_not_hold_every_clip(setup, monkeypatch):
    """`batch_size` 100000 would wait for the clips of every video before the first forward pass; batches are
    bounded by `MAX_BATCH_BYTES` of clips (here 5 of the test model's), and videos finish as the run goes."""
    from transformers_videoswin.inference import engine
    from transformers_videoswin.inference.engine import InferenceEngine

    clip_bytes = 8 * 3 * 64 * 64 * 4
    monkeypatch.setattr(engine, "MAX_BATCH_BYTES", 5 * clip_bytes)
    forward, batches = InferenceEngine.forward, []

    def recording_forward(self, clips):
        batches.append(clips.shape[0])
        return forward(self, clips)

    monkeypatch.setattr(InferenceEngine, "forward", recording_forward)
    entries = file_entries(setup["videos"])  # 9 + 1 + 5 + 4 windows of 8 frames every 4
    with pytest.warns(UserWarning, match="batches of 5 clips"):
        summary, sink = run_inference(
            setup["model"].videoswin, setup["processor"], ClipPlan(window=8, stride=4), entries, batch_size=100000
        )
    assert summary.ok == 4 and summary.clips == 19
    assert batches == [5, 5, 5, 4]
    _, reference = run_inference(setup["model"].videoswin, setup["processor"], ClipPlan(window=8, stride=4), entries)
    for position in range(4):
        torch.testing.assert_close(
            sink.results[position].tensors["pooled"], reference.results[position].tensors["pooled"]
        )


def test_raw_h264_stream_is_decoded(setup, tmp_path):
    video = write_test_video(tmp_path / "raw.h264", 20, 64, 80)
    summary, sink = run_inference(
        setup["model"].videoswin, setup["processor"], ClipPlan(window=8, stride=8), file_entries([str(video)])
    )
    assert summary.failed == 0, summary.errors
    assert sink.results[0].tensors["pooled"].shape == (3, 128)
