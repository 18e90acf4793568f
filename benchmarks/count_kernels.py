"""Kernel launches per step, counted on the meta device: ours vs torchvision's `swin3d_*`, inference and training.

    python benchmarks/count_kernels.py                          # Swin-T, 32x224x224, batch 1, 8 and 32
    python benchmarks/count_kernels.py --batch-sizes 1 8 --frames 16 --json out.json

On an accelerator every aten operator that is not a view is one kernel launch (plus Python dispatch, roughly 5-20 us
each), so the count of those operators bounds how launch-bound a step is, whatever the compute. The count is exact
and needs no GPU: the models run on the meta device (shapes only, no data), inside a `TorchDispatchMode` that counts
every dispatched operator whose overload is not a view (`OpOverload.is_view`). On meta our model runs the model
file's own forward, as on any accelerator (the CPU forward of `cpu_windows.py` is for CPU inputs only), so the count
is the one a GPU would see.

Each model runs once before the counted step, so that per-size caches (our shift masks) are not counted.
- inference: one forward pass under `torch.inference_mode()`, eval mode.
- training: forward + cross-entropy + backward, train mode (dropout and stochastic depth on).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import format_table, machine_header, write_json  # noqa: E402

from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification  # noqa: E402
from transformers_videoswin.checkpoints.torchvision_swin3d import build_torchvision_model  # noqa: E402

IMPLEMENTATIONS = ("ours", "torchvision")
MODES = ("inference", "training")


class KernelCounter(TorchDispatchMode):
    """Counts the non-view aten operators dispatched inside the mode, by name."""

    def __init__(self):
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view:
            self.counts[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def count_step(module: torch.nn.Module, impl: str, mode: str, clip: torch.Tensor, num_labels: int) -> Counter[str]:
    """The non-view operators of one step of `module` on the meta `clip` (`[B, T, C, H, W]`)."""
    inputs = clip.permute(0, 2, 1, 3, 4) if impl == "torchvision" else clip

    def forward() -> torch.Tensor:
        return module(inputs) if impl == "torchvision" else module(pixel_values=inputs).logits

    labels = torch.zeros(clip.shape[0], dtype=torch.long, device=clip.device)
    with torch.inference_mode():  # warm-up: per-size caches (our shift masks) are built once, not per step
        module.eval()
        forward()
    if mode == "inference":
        module.eval()
        with torch.inference_mode(), KernelCounter() as counter:
            forward()
    else:
        module.train()
        with KernelCounter() as counter:
            loss = torch.nn.functional.cross_entropy(forward(), labels % num_labels)
            loss.backward()
        module.zero_grad(set_to_none=True)
    return counter.counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="tiny", help="tiny, small, base, ... (VideoSwinConfig.from_variant)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--top", type=int, default=0, help="also list the N most frequent operators of each row")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, config: VideoSwinConfig | None = None) -> dict:
    args = parse_args(argv)
    title = f"Kernel launches per step on the meta device ({args.variant if config is None else 'custom'} config)"
    config = config or VideoSwinConfig.from_variant(args.variant, num_labels=400)
    print(machine_header(title))
    torch.manual_seed(0)
    ours = VideoSwinForVideoClassification(config)
    torchvision = build_torchvision_model(ours)  # the same weights, converted before both move to meta
    models = {"ours": ours.to("meta"), "torchvision": torchvision.to("meta")}

    rows = []
    for mode in args.modes:
        for impl, module in models.items():
            row = {"mode": mode, "impl": impl}
            for batch in args.batch_sizes:
                clip = torch.empty(batch, args.frames, config.num_channels, args.image_size, args.image_size)
                counts = count_step(module, impl, mode, clip.to("meta"), config.num_labels)
                row[f"batch_{batch}"] = sum(counts.values())
                if args.top:
                    row[f"top_batch_{batch}"] = counts.most_common(args.top)
            first, last = args.batch_sizes[0], args.batch_sizes[-1]
            row["growth"] = row[f"batch_{last}"] / row[f"batch_{first}"]
            rows.append(row)
    for row in rows:
        peer = next(r for r in rows if r["mode"] == row["mode"] and r["impl"] == "torchvision")
        for batch in args.batch_sizes:
            row[f"vs_torchvision_{batch}"] = row[f"batch_{batch}"] / peer[f"batch_{batch}"]

    columns = [("mode", "mode", ""), ("impl", "implementation", "")]
    columns += [(f"batch_{b}", f"batch {b}", ",d") for b in args.batch_sizes]
    columns += [(f"vs_torchvision_{b}", f"x torchvision (batch {b})", ".2f") for b in args.batch_sizes]
    columns += [("growth", f"batch {args.batch_sizes[-1]} / batch {args.batch_sizes[0]}", ".2f")]
    print()
    print(f"{args.frames}x{args.image_size}x{args.image_size}; non-view aten operators per step (= kernel launches)")
    print(format_table(rows, columns))
    if args.top:
        for row in rows:
            for batch in args.batch_sizes:
                print(f"{row['mode']} {row['impl']} batch {batch}: {row[f'top_batch_{batch}']}")
    result = {"header": machine_header(title), "rows": rows}
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
