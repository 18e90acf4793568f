"""Smoke tests of the benchmark scripts on a tiny model (one iteration, no timing assertions). The runs are marked
slow: `make test` (CI) runs them, `make test-fast` does not."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from conftest import REPO_ROOT, tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import bench_extract  # noqa: E402
import bench_inference  # noqa: E402
import bench_memory  # noqa: E402
import bench_training  # noqa: E402
import bench_window_attention  # noqa: E402
import count_kernels  # noqa: E402
import profile_forward  # noqa: E402
from common import videoswin_flops, videoswin_flops_by_kind  # noqa: E402


def table_rows(printed: str) -> int:
    """Data rows of the markdown tables in `printed` (lines of cells, less each table's header and rule)."""
    lines = [line for line in printed.splitlines() if line.startswith("|")]
    rules = sum(set(line.replace("|", "").strip()) <= set("-: ") for line in lines)
    return len(lines) - 2 * rules


def test_analytic_flops_of_swin_t():
    config = VideoSwinConfig.from_variant("tiny", num_labels=400)
    assert videoswin_flops(config, 32, 224, 224) / 1e9 == pytest.approx(175.5, abs=0.1)
    by_kind = videoswin_flops_by_kind(config, 32, 224, 224, batch=2)
    assert sum(by_kind.values()) == pytest.approx(2 * videoswin_flops(config, 32, 224, 224))
    # q.k^T and attn.v: 2 matmuls x 2 FLOPs x tokens x 392 keys x channels, per block (depths 2, 2, 6, 2).
    stages = [(16 * 56 * 56, 96, 2), (16 * 28 * 28, 192, 2), (16 * 14 * 14, 384, 6), (16 * 7 * 7, 768, 2)]
    attention = sum(depth * 4 * tokens * 392 * channels for tokens, channels, depth in stages)
    assert by_kind["attention"] == pytest.approx(2 * attention)


@pytest.mark.slow
def test_profile_forward_groups(capsys):
    config = VideoSwinConfig(**tiny_config_kwargs(num_labels=5))
    argv = ["--dtypes", "fp32", "--frames", "8", "--image-size", "64", "--warmup", "0", "--ceiling-size", "64"]
    result = profile_forward.main([*argv, "--top", "3"], config=config)
    rows = {row["group"]: row for row in result["fp32"]["rows"]}
    assert rows["linear"]["ms"] > 0 and rows["attention"]["ms"] > 0
    total = rows["total"]["ms"]
    assert sum(rows[group]["ms"] for group in ("linear", "attention", "conv")) + rows[
        "other (copies, norms, GELU, adds, gathers)"
    ]["ms"] == pytest.approx(total)
    assert table_rows(capsys.readouterr().out) >= len(rows)


@pytest.mark.slow
def test_bench_inference_table(tmp_path, capsys):
    config = VideoSwinConfig(**tiny_config_kwargs(num_labels=5))
    out = tmp_path / "inference.json"
    argv = ["--frames", "8", "--batch-sizes", "1", "--image-size", "64", "--repeats", "1", "--warmup", "0"]
    argv += ["--impls", "ours", "eager", "torchvision", "ours-autocast"]
    result = bench_inference.main([*argv, "--ceiling-size", "64", "--json", str(out)], config=config)
    rows = result["rows"]
    implementations = ("ours", "eager", "torchvision", bench_inference.CEILING)
    assert {(row["dtype"], row["impl"]) for row in rows} == {
        (dtype, impl) for dtype in ("fp32", "bf16") for impl in implementations
    } | {("bf16", "ours-autocast")}
    for row in rows:
        assert {
            "median_s",
            "min_s",
            "max_s",
            "gflops_per_s",
            "percent_of_ceiling",
            "ours_speedup",
            "page_faults",
        } <= row.keys()
        assert row["peak_mib"] is None  # GPU memory only on CUDA
        if row["impl"] != bench_inference.CEILING:
            assert row["clips_per_s"] == pytest.approx(1 / row["median_s"])
        if row["impl"] == bench_inference.CEILING:  # the interleaved matmul is the ceiling of its own dtype
            assert row["percent_of_ceiling"] == pytest.approx(100)
            assert row["gflops_per_s"] == pytest.approx(result["ceilings_gflops_per_s"][row["dtype"]])
    assert set(result["ceilings_gflops_per_s"]) == {"fp32", "bf16"}
    assert json.loads(out.read_text())["rows"][0]["impl"] == "ours"
    printed = capsys.readouterr().out
    assert "command:" in printed and table_rows(printed) == len(rows)


@pytest.mark.slow
def test_bench_inference_runtime_rows(capsys):
    """The deployment runtimes time our ONNX export in fp32 (their logits checked against ours inside), and are left
    out of the bf16 rows."""
    pytest.importorskip("openvino")
    config = VideoSwinConfig(**tiny_config_kwargs(num_labels=5))
    argv = ["--frames", "8", "--batch-sizes", "1", "--image-size", "64", "--repeats", "1", "--warmup", "0"]
    argv += ["--impls", "ours", "openvino", "onnxruntime", "--ceiling-size", "64"]
    result = bench_inference.main(argv, config=config)
    assert {(row["dtype"], row["impl"]) for row in result["rows"]} == {
        ("fp32", "ours"), ("fp32", "openvino"), ("fp32", "onnxruntime"), ("fp32", bench_inference.CEILING),
        ("bf16", "ours"), ("bf16", bench_inference.CEILING),
    }  # fmt: skip
    printed = capsys.readouterr().out
    assert "max |logits diff| vs ours (openvino, 1 x 8 x 3 x 64 x 64)" in printed


def test_bench_inference_skips_a_missing_runtime(monkeypatch, capsys):
    monkeypatch.setattr(bench_inference.importlib.util, "find_spec", lambda name: None)
    args = bench_inference.parse_args(["--impls", "ours", "openvino", "onnxruntime"])
    assert args.impls == ["ours"]
    printed = capsys.readouterr().out
    assert "skipping openvino: not installed" in printed and "skipping onnxruntime: not installed" in printed


def test_bench_inference_skips_openvino_under_jemalloc(monkeypatch, capsys):
    monkeypatch.setenv("LD_PRELOAD", "libjemalloc.so.2")
    args = bench_inference.parse_args(["--impls", "ours", "openvino"])
    assert args.impls == ["ours"] and "skipping openvino: it aborts under jemalloc" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_training_table(tmp_path, capsys):
    config = json.dumps(tiny_config_kwargs(num_labels=5))
    out = tmp_path / "training.json"
    argv = ["--config-json", config, "--frames", "8", "--image-size", "64", "--steps", "1", "--json", str(out)]
    result = bench_training.main(argv)
    assert [row["variant"] for row in result["rows"]] == ["ours", "ours+checkpointing", "torchvision"]
    for row in result["rows"]:
        assert {"median_s", "peak_mib", "memory_vs_ours", "time_vs_ours", "clips_per_s"} <= row.keys()
    assert json.loads(out.read_text())["rows"]
    assert table_rows(capsys.readouterr().out) == len(result["rows"])


@pytest.mark.slow
def test_bench_extract_quick(tmp_path, capsys):
    out = tmp_path / "extract.json"
    slack = bench_extract.stream_module.TRIM_SLACK_BYTES
    result = bench_extract.main(["--quick", "--memory-videos", "1", "--json", str(out)])
    (row,) = result["rows"]
    assert row["model"] == "tiny" and row["clips"] == 4  # 2 videos of 60 frames: 2 windows of 16 frames at interval 2
    for key in ("decode_only", "model_only", "end_to_end"):
        assert row[key] > 0
    assert row["e2e_vs_decode"] == pytest.approx(row["end_to_end"] / row["decode_only"])
    assert result["memory"][0]["videos"] == 1 and result["memory"][0]["main_mib"] > 0
    assert json.loads(out.read_text())["rows"][0]["model"] == "tiny"
    assert [t["policy"] for t in result["trim"]] == list(bench_extract.TRIM_POLICIES)  # the heap-trim table
    assert all(t["decode_only"] > 0 for t in result["trim"])
    assert next(t for t in result["trim"] if "default" in t["policy"])["vs_default"] == 1.0
    assert bench_extract.stream_module.TRIM_SLACK_BYTES == slack  # restored after the table
    assert table_rows(capsys.readouterr().out) >= len(result["rows"]) + len(result["trim"])  # and the memory table


@pytest.mark.slow
def test_bench_inference_reruns_itself_under_jemalloc(tmp_path):
    out = tmp_path / "jemalloc.json"
    config = json.dumps(tiny_config_kwargs(num_labels=5))
    argv = ["--config-json", config, "--dtypes", "fp32", "--frames", "8", "--batch-sizes", "1", "--image-size", "64"]
    argv += ["--repeats", "1", "--warmup", "0", "--ceiling-size", "64", "--impls", "ours", "--json", str(out)]
    script = str(REPO_ROOT / "benchmarks" / "bench_inference.py")
    completed = subprocess.run(
        [sys.executable, script, *argv, "--allocator", "jemalloc"], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(out.read_text())
    assert result["allocator"] == "jemalloc" and "allocator: jemalloc" in completed.stdout


@pytest.mark.slow
def test_count_kernels_table(capsys):
    config = VideoSwinConfig(**tiny_config_kwargs(num_labels=5))
    argv = ["--batch-sizes", "1", "2", "--frames", "8", "--image-size", "64"]
    result = count_kernels.main(argv, config=config)
    rows = {(row["mode"], row["impl"]): row for row in result["rows"]}
    assert set(rows) == {(mode, impl) for mode in ("inference", "training") for impl in ("ours", "torchvision")}
    for (mode, _), row in rows.items():
        assert row["batch_1"] > 0 and row["batch_2"] > 0
        assert row["vs_torchvision_1"] == pytest.approx(row["batch_1"] / rows[(mode, "torchvision")]["batch_1"])
    # Training dispatches the backward pass too.
    assert rows[("training", "torchvision")]["batch_1"] > rows[("inference", "torchvision")]["batch_1"]
    assert table_rows(capsys.readouterr().out) == len(rows)


def test_kernel_counter_skips_views():
    with count_kernels.KernelCounter() as counter:
        x = torch.ones(4, 4, device="meta")
        x.view(16)
        x.transpose(0, 1)
        torch.mm(x, x)
    assert counter.counts["aten.mm"] == 1
    assert "aten.view" not in counter.counts and "aten.transpose" not in counter.counts


@pytest.mark.slow
def test_bench_window_attention_variants_agree(capsys):
    """Every attention variant (the model's fused and chunked calls, FlexAttention and inductor included) runs and
    computes the reference numbers; the table and the float64 facts are printed."""
    result = bench_window_attention.main(["--quick", "--stage", "1", "--dtype", "fp32", "--repeats", "1"])
    rows = {row["impl"]: row for row in result["rows"]}
    assert set(rows) == {
        "model-fused",
        "model-chunked",
        "sdpa-windows",
        "sdpa-groups",
        "eager-baddbmm",
        "sdpa-compiled",
        "eager-compiled",
        "flex-score-mod",
        "flex-table",
        "flex-block-mask",
        "matmuls-only",
        "matmul (ceiling)",
    }
    assert rows["matmul (ceiling)"]["percent_of_ceiling"] == pytest.approx(100)
    for name, row in rows.items():
        assert row["median_s"] > 0 and row["gflops_per_s"] > 0, row
        if name == "matmul (ceiling)":
            continue
        assert row["speedup"] > 0, row
        if name == "matmuls-only":  # a bound, not attention: nothing to agree with
            assert "max_abs_diff" not in row
            continue
        assert row["status"] == "ok", row
        # The stated tolerance, 1e-5 of the output's largest magnitude, both against the model's call and float64.
        assert 0 < row["tolerance"] < 1e-4
        assert row["max_abs_diff"] <= row["tolerance"]
        assert row["err_vs_fp64"] <= row["tolerance"]
    assert rows["model-fused"]["max_abs_diff"] == 0
    for name in ("sdpa-compiled", "eager-compiled", "flex-score-mod", "flex-table", "flex-block-mask"):
        assert rows[name]["first_call_s"] > 0
    (fact,) = result["facts"]
    assert fact["minus100_vs_removed"] < 1e-12  # exp(-100) is far below fp32 resolution
    out = capsys.readouterr().out
    assert "| stage | dtype | implementation | median s | x model-fused |" in out
    assert "| 1 | fp32 | flex-block-mask |" in out
    torch._dynamo.reset()


def test_bench_window_attention_detects_a_wrong_variant(monkeypatch):
    """The agreement check can fail: a variant that drops the relative position bias is reported WRONG."""
    original = bench_window_attention.variants

    def with_a_wrong_one(work):
        found = original(work)
        q, k, v = work["q"], work["k"], work["v"]
        wrong = (lambda: lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), False)
        return {name: found[name] for name in ("model-fused", "sdpa-windows")} | {"no-bias": wrong}

    monkeypatch.setattr(bench_window_attention, "variants", with_a_wrong_one)
    rows, _ = bench_window_attention.measure(1, bench_window_attention.QUICK_STAGES[1], "fp32", 1)
    status = {row["impl"]: row["status"] for row in rows}
    assert status == {"model-fused": "ok", "sdpa-windows": "ok", "no-bias": "WRONG", "matmul (ceiling)": "64^3 matmul"}


@pytest.mark.slow
def test_bench_memory_peak_is_the_commands_own():
    """The peak is the command's (a child allocating 300 MiB), not this large test process's high-water mark."""
    allocate = "data = b'x' * (300 * 2**20); print('[]')"
    measured = bench_memory.peak_memory([sys.executable, "-c", allocate])
    assert 300 <= measured["peak_rss_mib"] < 400, measured
    assert measured["stdout"].strip() == "[]"
    with pytest.raises(RuntimeError, match="failed"):
        bench_memory.peak_memory([sys.executable, "-c", "raise SystemExit(3)"])


@pytest.mark.slow
def test_bench_memory_quick(tmp_path, capsys):
    result = bench_memory.main(["--quick", "--views", "1x3", "--extra-batch-sizes", "", "--work-dir", str(tmp_path)])
    rows = result["rows"]
    runs = [("640x360", "resize while decoding"), ("114x64", "resize while decoding")]
    runs.append(("640x360", "decode full, then resize"))
    assert [(row["views"], row["clip"].split()[0], row["decoding"]) for row in rows] == [
        *(("1x3", *run) for run in runs),
        *(("training clip", *run) for run in runs),
    ]
    assert all(row["peak_rss_mib"] > 100 for row in rows)
    assert table_rows(capsys.readouterr().out) == len(rows)
