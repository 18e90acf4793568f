"""Inference speed of our Video Swin vs torchvision's `swin3d_*` (same weights) vs our plain eager attention path.

    python benchmarks/bench_inference.py                       # full matrix: fp32+bf16, batch 1+4, 16+32 frames
    python benchmarks/bench_inference.py --quick               # batch 1, 32 frames, fp32 + bf16, 3 repeats
    python benchmarks/bench_inference.py --dtypes fp32 --batch-sizes 1 --frames 32 --json out.json
    python benchmarks/bench_inference.py --quick --allocator jemalloc   # the same, re-run under jemalloc
    python benchmarks/bench_inference.py --quick --dtypes fp32 --impls ours openvino onnxruntime torchvision
    python benchmarks/bench_inference.py --device cuda --batch-sizes 1 8 --impls ours ours-autocast torchvision \
        ours-compiled torchvision-compiled                              # the GPU rows

Implementations, timed in turn (ours, eager, torchvision, ours, ...) in one process after a warm-up call each:
- `ours`: `VideoSwinForVideoClassification`, SDPA attention (the default); in bf16 the model itself is bfloat16.
- `eager`: the same model with `attn_implementation="eager"` (plain matmul + softmax attention).
- `torchvision`: `torchvision.models.video.SwinTransformer3d` with our weights converted (outputs are checked to
  match in float32); in bf16 it runs under `torch.autocast(device, torch.bfloat16)`, as torchvision supports it.
- `ours-autocast`: our float32 model under bf16 autocast (bf16 rows only), the peer of torchvision's bf16 row.
- `ours-compiled`, `torchvision-compiled`: `torch.compile` (inductor) of the same models, compiled during warm-up.
- `openvino`, `onnxruntime` (fp32 rows only): the deployment runtimes on our ONNX export
  (`transformers_videoswin.export.export_onnx`, one graph per clip shape) of the same weights, with the same number
  of threads (OpenVINO: `INFERENCE_NUM_THREADS`, and `INFERENCE_PRECISION_HINT=f32`, since OpenVINO otherwise runs
  bf16 on CPUs with native bf16; onnxruntime: `intra_op_num_threads`). Each is skipped with a message when its
  package is not installed, and OpenVINO under jemalloc's `LD_PRELOAD` (it aborts there). Their logits are checked
  against ours (1e-4) on every timed clip shape.

`--allocator jemalloc` re-runs the script under jemalloc (`LD_PRELOAD=libjemalloc.so.2`, Debian package
`libjemalloc2`, with freed pages kept: `MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1`): under it torchvision
loses most of its page-fault cost, so report both allocators. `--device cuda` times with CUDA events after
synchronising, and adds the peak GPU memory of each implementation (`torch.cuda.max_memory_allocated`).

FLOPs are analytic (see `common.videoswin_flops`: 2 x multiply-adds of every matmul/conv, attention over the padded
windows; 175.5 GFLOP for Swin-T at 32x224x224). The ceiling is a 4096^3 matmul in the same dtype, timed in turn with
the models (its own row in the table), so that it sees the same machine state: on a shared machine whose speed
drifts by 10-20% within minutes, a ceiling taken once at the start would make every percentage a coin toss. The
best matmul at the start is printed too.
"page faults / call" is the median number of fresh pages the kernel handed out during one call: the cost of large
temporaries under the default allocator. `benchmarks/profile_forward.py` says where the time of one call goes.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    alternate,
    format_table,
    machine_header,
    matmul_ceiling,
    set_threads,
    summarize,
    videoswin_flops,
    write_json,
)

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification  # noqa: E402
from transformers_videoswin.checkpoints.torchvision_swin3d import build_torchvision_model  # noqa: E402
from transformers_videoswin.export import export_onnx  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
RUNTIMES = ("openvino", "onnxruntime")
IMPLEMENTATIONS = (
    "ours", "eager", "torchvision", "ours-autocast", "ours-compiled", "torchvision-compiled", *RUNTIMES,
)  # fmt: skip
DEFAULT_IMPLEMENTATIONS = ("ours", "eager", "torchvision")
JEMALLOC = "libjemalloc.so.2"
CEILING = "matmul (ceiling)"
COLUMNS = [
    ("dtype", "dtype", ""),
    ("batch", "batch", "d"),
    ("frames", "frames", "d"),
    ("impl", "implementation", ""),
    ("median_s", "median s", ".3f"),
    ("min_s", "min s", ".3f"),
    ("max_s", "max s", ".3f"),
    ("gflops_per_s", "GFLOP/s", ".1f"),
    ("percent_of_ceiling", "% of matmul ceiling", ".1f"),
    ("clips_per_s", "clips/s", ".2f"),
    ("ours_speedup", "ours is x faster", ".2f"),
    ("page_faults", "page faults / call", "d"),
    ("peak_mib", "peak GPU MiB", ".0f"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="tiny", help="tiny, small, base, ... (VideoSwinConfig.from_variant)")
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=sorted(DTYPES))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--frames", nargs="+", type=int, default=[16, 32])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--impls", nargs="+", default=list(DEFAULT_IMPLEMENTATIONS), choices=IMPLEMENTATIONS)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--allocator", default="default", choices=["default", "jemalloc"], help="re-run under jemalloc (CPU)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per implementation and configuration")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ceiling-size", type=int, default=4096, help="matmul size for the ceiling")
    parser.add_argument("--quick", action="store_true", help="batch 1, 32 frames only")
    parser.add_argument("--config-json", help="a VideoSwinConfig as JSON (overrides --variant; used by the tests)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.frames = [1], [32]
    if "ours" not in args.impls:
        parser.error("--impls must include ours: every ratio is against it.")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible to torch on this machine.")
    if args.device != "cpu" and any(name in RUNTIMES for name in args.impls):
        parser.error(f"--impls {' '.join(RUNTIMES)} run on the CPU only (--device cpu).")
    args.impls = [name for name in args.impls if name not in RUNTIMES or runtime_available(name)]
    return args


def runtime_available(name: str) -> bool:
    """Whether the deployment runtime `name` can run in this process; prints why not when it cannot."""
    if importlib.util.find_spec(name) is None:
        print(f"skipping {name}: not installed (`pip install {name}`).")
        return False
    if name == "openvino" and "jemalloc" in os.environ.get("LD_PRELOAD", ""):
        print("skipping openvino: it aborts under jemalloc's LD_PRELOAD; run without --allocator jemalloc.")
        return False
    return True


def onnx_session(name: str, path: Path, threads: int):
    """A callable running the ONNX model at `path` in the runtime `name` on `threads` CPU threads: a float32
    `pixel_values` array in, logits (a tensor) out."""
    if name == "openvino":
        import openvino

        core = openvino.Core()
        options = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
        compiled = core.compile_model(core.read_model(str(path)), "CPU", options)
        request = compiled.create_infer_request()

        def run(pixel_values):
            return torch.from_numpy(request.infer({0: pixel_values})[0].copy())

        return run
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda pixel_values: torch.from_numpy(session.run(None, {"pixel_values": pixel_values})[0])


def runtime_runners(
    model: VideoSwinForVideoClassification, names: list[str], clip: torch.Tensor, threads: int, workdir: Path
) -> dict:
    """No-argument callables running `clip` in each deployment runtime of `names` on our ONNX export of `model`
    (exported at the clip's frame count and size, with a dynamic batch); their logits are checked against ours to
    1e-4 first."""
    if not names:
        return {}
    example = torch.randn(2, *clip.shape[1:])  # a batch of 2: torch.export specialises a batch of 1
    path = export_onnx(model, workdir / f"videoswin-{'x'.join(map(str, clip.shape[1:]))}.onnx", example)
    pixel_values = clip.numpy()
    with torch.inference_mode():
        reference = model(pixel_values=clip).logits
    runners = {}
    for name in names:
        session = onnx_session(name, path, threads)
        diff = (session(pixel_values) - reference).abs().max().item()
        assert diff < 1e-4, f"{name} disagrees with ours: max |diff| = {diff:.2e}"
        print(f"max |logits diff| vs ours ({name}, {' x '.join(map(str, clip.shape))}): {diff:.2e}")
        runners[name] = lambda session=session: session(pixel_values)
    return runners


def rerun_under_jemalloc() -> None:
    """Replace this process by the same command with jemalloc preloaded (and `--allocator` dropped)."""
    import ctypes.util
    import subprocess

    library = ctypes.util.find_library("jemalloc")
    if library is None:
        try:
            found = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        except OSError:
            found = ""
        library = JEMALLOC if JEMALLOC in found else None
    if library is None:
        raise SystemExit("jemalloc is not installed: `apt-get install libjemalloc2` (Debian), then run this again.")
    argv, skip = [], False
    for arg in sys.argv:
        if skip:
            skip = False
        elif arg == "--allocator":
            skip = True
        elif not arg.startswith("--allocator="):
            argv.append(arg)
    env = dict(os.environ, LD_PRELOAD=JEMALLOC, MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1")
    os.execve(sys.executable, [sys.executable, *argv], env)


def build_models(model: VideoSwinForVideoClassification, impls: list[str]) -> dict[str, torch.nn.Module]:
    """One module per implementation; the autocast and compiled rows share the weights of their peer."""
    models: dict[str, torch.nn.Module] = {"ours": model}
    if "eager" in impls:
        eager = copy.deepcopy(model)
        eager.config._attn_implementation = "eager"
        models["eager"] = eager
    if any(name.startswith("torchvision") for name in impls):
        models["torchvision"] = build_torchvision_model(model)
    return models


def peer_of(name: str) -> str:
    """The module an implementation runs: `ours-compiled` runs `ours`, and so on."""
    return name.split("-")[0]


def check_outputs(models: dict[str, torch.nn.Module], frames: int, size: int) -> dict[str, float]:
    """Max |logit difference| of every implementation vs ours, in float32 (asserted below 1e-4)."""
    clip = torch.randn(1, frames, 3, size, size)
    diffs = {}
    device = next(models["ours"].parameters()).device
    clip = clip.to(device)
    with torch.inference_mode():
        reference = models["ours"](pixel_values=clip).logits
        for name, module in models.items():
            if name == "torchvision":
                logits = module(clip.permute(0, 2, 1, 3, 4).contiguous())
            elif name != "ours":
                logits = module(pixel_values=clip).logits
            else:
                continue
            diffs[name] = (logits - reference).abs().max().item()
            assert diffs[name] < 1e-4, f"{name} disagrees with ours: max |diff| = {diffs[name]:.2e}"
    return diffs


def synchronized(fn, device: torch.device):
    """`fn` followed by a device synchronisation, so that wall-clock time covers the kernels it queued."""
    if device.type != "cuda":
        return fn

    def run():
        result = fn()
        torch.cuda.synchronize(device)
        return result

    return run


def matmul_runner(dtype: torch.dtype, size: int, device: torch.device):
    """The ceiling, timed in turn with the models: one `size`^3 matmul in `dtype`."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    return synchronized(lambda: torch.mm(a, b), device)


def runner(name: str, module: torch.nn.Module, clip: torch.Tensor, dtype: torch.dtype):
    """A no-argument callable running one forward pass of `module` on `clip` (`[B, T, C, H, W]`, on its device).
    torchvision and `ours-autocast` run a float32 model under autocast to `dtype`; `ours` is already in `dtype`."""
    device = clip.device
    autocast = peer_of(name) == "torchvision" or name == "ours-autocast"
    if name.endswith("-compiled"):
        module = torch.compile(module)
    if peer_of(name) == "torchvision":
        inputs = clip.permute(0, 2, 1, 3, 4).contiguous()

        def forward():
            return module(inputs)

    else:
        pixel_values = clip if autocast else clip.to(dtype)

        def forward():
            return module(pixel_values=pixel_values).logits

    def run():
        enabled = autocast and dtype != torch.float32
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=enabled):
            return forward()

    return synchronized(run, device)


def peak_memory_mib(fn, device: torch.device) -> float | None:
    """Peak GPU memory of one call of `fn` (None on the CPU: see `page faults / call` there)."""
    if device.type != "cuda":
        return None
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    return torch.cuda.max_memory_allocated(device) / 2**20


def main(argv: list[str] | None = None, config: VideoSwinConfig | None = None) -> dict:
    args = parse_args(argv)
    if args.allocator == "jemalloc" and JEMALLOC not in os.environ.get("LD_PRELOAD", ""):
        rerun_under_jemalloc()
    device = torch.device(args.device)
    threads = set_threads(args.threads)
    torch.manual_seed(0)
    if config is None and args.config_json:
        config = VideoSwinConfig(**json.loads(args.config_json))
    title = f"Video Swin inference benchmark ({args.variant if config is None else 'custom'} config)"
    config = config or VideoSwinConfig.from_variant(args.variant, num_labels=400)
    print(machine_header(title))
    best = {name: matmul_ceiling(DTYPES[name], args.ceiling_size, device=device) for name in args.dtypes}
    print(
        f"best {args.ceiling_size}^3 matmul at start ({threads} threads): "
        + ", ".join(f"{name} {value:.1f} GFLOP/s" for name, value in best.items())
    )

    model32 = VideoSwinForVideoClassification(config).eval()
    models32 = {name: m.to(device) for name, m in build_models(model32, args.impls).items()}
    diffs = check_outputs(models32, frames=min(args.frames), size=args.image_size)
    print("max |logits diff| vs ours (fp32): " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))

    rows, ceilings = [], {}
    onnx_dir = tempfile.TemporaryDirectory(prefix="bench_inference_")
    for dtype_name in args.dtypes:
        dtype = DTYPES[dtype_name]
        if dtype == torch.float32:
            models = models32
        else:  # our models in the dtype; torchvision and ours-autocast stay float32 under autocast
            models = {name: m if name == "torchvision" else copy.deepcopy(m).to(dtype) for name, m in models32.items()}
            models["ours-autocast"] = models32["ours"]
        impls = [name for name in args.impls if name != "ours-autocast" or dtype != torch.float32]
        if dtype != torch.float32:  # the ONNX export is float32
            impls = [name for name in impls if name not in RUNTIMES]
        for batch in args.batch_sizes:
            for frames in args.frames:
                clip = torch.randn(batch, frames, 3, args.image_size, args.image_size, device=device)
                fns = {
                    name: runner(name, models[name if name == "ours-autocast" else peer_of(name)], clip, dtype)
                    for name in impls
                    if name not in RUNTIMES
                }
                fns.update(
                    runtime_runners(model32, [n for n in impls if n in RUNTIMES], clip, threads, Path(onnx_dir.name))
                )
                fns = {name: fns[name] for name in impls}
                peaks = {name: peak_memory_mib(fn, device) for name, fn in fns.items()}
                fns[CEILING] = matmul_runner(dtype, args.ceiling_size, device)
                label = f"{dtype_name} batch {batch} frames {frames}"
                print(f"timing {label} ...", file=sys.stderr, flush=True)
                times, faults = alternate(fns, args.repeats, args.warmup, progress=label)
                flops = videoswin_flops(config, frames, args.image_size, args.image_size, batch)
                ceiling = 2 * args.ceiling_size**3 / summarize(times[CEILING])["median_s"] / 1e9
                ceilings.setdefault(dtype_name, ceiling)
                ours_median = summarize(times["ours"])["median_s"]
                for name in [*impls, CEILING]:
                    stats = summarize(times[name])
                    gflops = (2 * args.ceiling_size**3 if name == CEILING else flops) / stats["median_s"] / 1e9
                    rows.append(
                        {
                            "dtype": dtype_name,
                            "batch": batch,
                            "frames": frames,
                            "impl": name,
                            **stats,
                            "times_s": times[name],
                            "gflop": flops / 1e9,
                            "gflops_per_s": gflops,
                            "percent_of_ceiling": 100 * gflops / ceiling,
                            "clips_per_s": batch / stats["median_s"] if name != CEILING else None,
                            "ours_speedup": stats["median_s"] / ours_median if name != CEILING else None,
                            "page_faults": int(statistics.median(faults[name])),
                            "peak_mib": peaks.get(name),
                        }
                    )
    onnx_dir.cleanup()
    print()
    print(
        f"{args.image_size}x{args.image_size}, analytic FLOPs; 'ours is x faster' = median(impl) / median(ours); "
        "page faults are medians per call"
    )
    print(format_table(rows, COLUMNS))
    result = {
        "header": machine_header(title),
        "threads": threads,
        "device": str(device),
        "allocator": "jemalloc" if JEMALLOC in os.environ.get("LD_PRELOAD", "") else "default",
        "ceilings_gflops_per_s": ceilings,
        "best_matmul_at_start_gflops_per_s": best,
        "max_abs_logit_diff_fp32": diffs,
        "rows": rows,
    }
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
