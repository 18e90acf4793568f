r"""Convert torchvision `swin3d_t` / `swin3d_s` / `swin3d_b` weights into a Hub-ready transformers directory.

Examples:
  python -c "import torch, torchvision; torch.save(torchvision.models.video.swin3d_t(weights='KINETICS400_V1').state_dict(), 'swin3d_t.pth')"
  python conversion/convert_torchvision_swin3d.py --checkpoint swin3d_t.pth --output-dir swin3d-t-k400

Nothing is written unless every tensor is used exactly once, the weights map back bit-exactly and the logits agree
with torchvision's own model on a random clip. (The reverse direction is a library call:
`transformers_videoswin.checkpoints.torchvision_swin3d.build_torchvision_model(model)`.)
"""

from __future__ import annotations

import argparse
import sys

from conversion_cli import conversion_parser, run_conversion


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = conversion_parser(__doc__, "--checkpoint", "torchvision swin3d state dict (.pth): path or URL")
    parser.add_argument(
        "--label-set", help="kinetics400, kinetics600, ssv2 or none (default: kinetics400 for 400-class heads)"
    )
    parser.add_argument("--num-frames", type=int, help="clip length stored in the config (default 32)")
    parser.add_argument(
        "--check-input-shape",
        type=int,
        nargs=3,
        default=(4, 96, 96),
        metavar=("T", "H", "W"),
        help="random clip on which the logits are compared with torchvision's model (default 4 96 96)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported after parsing so that --help answers without loading torch and transformers.
    from transformers_videoswin.checkpoints import convert_torchvision_checkpoint
    from transformers_videoswin.checkpoints.hub import save_hub_directory

    options = ("label_set", "num_frames", "check_input_shape", "tolerance", "trust_checkpoint")
    result = run_conversion(args, convert_torchvision_checkpoint, "checkpoint", options)
    if result is None:
        return 1
    save_hub_directory(result.model, args.output_dir, overwrite=args.overwrite)
    print(f"wrote {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
