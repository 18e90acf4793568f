r"""Inflate a 2D (ImageNet) Swin into a Video Swin, exactly as the official `inflate_weights` does.

Examples:
  python conversion/inflate_image_swin.py \
      --image-checkpoint https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth \
      --output-dir swin-tiny-inflated --num-labels 400
  python conversion/inflate_image_swin.py --image-checkpoint path/to/swin-tiny-patch4-window7-224 \
      --output-dir out --window-size 8 7 7 --num-labels 10

The source is an official ImageNet .pth ({'model': ...}) or a transformers SwinModel / SwinForImageClassification
directory. The temporal patch kernel is the 2D kernel repeated and divided by the temporal patch size; bias tables are
bicubic-resized when the 2D window differs from the spatial window, then tiled over time. The classifier is new.
"""

from __future__ import annotations

import argparse
import sys

from conversion_cli import conversion_parser, run_conversion


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = conversion_parser(
        __doc__, "--image-checkpoint", "official 2D .pth (path or URL) or transformers directory"
    )
    parser.add_argument("--window-size", type=int, nargs=3, default=(8, 7, 7), metavar=("D", "H", "W"))
    parser.add_argument("--patch-size", type=int, nargs=3, default=(2, 4, 4), metavar=("T", "H", "W"))
    parser.add_argument("--num-labels", type=int, default=400, help="classes of the new head (default 400)")
    parser.add_argument("--num-frames", type=int, default=32, help="clip length stored in the config (default 32)")
    parser.add_argument("--drop-path-rate", type=float, default=0.1, help="stochastic depth for fine-tuning")
    parser.add_argument("--expected-output", help="golden .pt with pixel_values_BCTHW and backbone_features_BCTHW")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported after parsing so that --help answers without loading torch and transformers.
    from transformers_videoswin.checkpoints import inflate_and_verify
    from transformers_videoswin.checkpoints.hub import save_hub_directory

    options = ("window_size", "patch_size", "num_labels", "num_frames", "drop_path_rate", "expected_output")
    result = run_conversion(args, inflate_and_verify, "image_checkpoint", (*options, "tolerance", "trust_checkpoint"))
    if result is None:
        return 1
    save_hub_directory(result[0], args.output_dir, overwrite=args.overwrite)
    print(f"wrote {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
