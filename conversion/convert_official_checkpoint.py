r"""Convert an official Video Swin checkpoint (mmaction2 format) into a Hub-ready transformers directory.

Examples:
  python conversion/convert_official_checkpoint.py \
      --checkpoint https://github.com/SwinTransformer/storage/releases/download/v1.0.4/swin_tiny_patch244_window877_kinetics400_1k.pth \
      --output-dir swin-tiny-k400
  python conversion/convert_official_checkpoint.py --checkpoint my_run/epoch_30.pth --output-dir out \
      --label-set none --window-size 8 7 7

The architecture is inferred from the checkpoint. Nothing is written unless every tensor is used exactly once, the
converted weights map back to the original bit-exactly and (with --expected-output) the outputs match.
"""

from __future__ import annotations

import argparse
import sys

from conversion_cli import conversion_parser, run_conversion


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = conversion_parser(__doc__, "--checkpoint", "official .pth file: local path or http(s) URL")
    parser.add_argument("--window-size", type=int, nargs=3, metavar=("D", "H", "W"), help="override the window")
    parser.add_argument("--patch-size", type=int, nargs=3, metavar=("T", "H", "W"), help="override the patch size")
    parser.add_argument(
        "--num-frames", type=int, help="clip length stored in the config (default: from the checkpoint, else 32)"
    )
    parser.add_argument(
        "--label-set",
        help="class names for id2label: kinetics400, kinetics600, ssv2 or none (default: chosen by a released "
        "file's name, else none)",
    )
    parser.add_argument("--expected-output", help="golden .pt with pixel_values_BCTHW and logits to compare against")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the directory to this Hub repository")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported after parsing so that --help answers without loading torch and transformers.
    from transformers_videoswin.checkpoints import convert_official_checkpoint
    from transformers_videoswin.checkpoints.hub import push_to_hub, save_hub_directory
    from transformers_videoswin.checkpoints.model_cards import render_card

    options = ("window_size", "patch_size", "num_frames", "label_set", "expected_output", "tolerance")
    result = run_conversion(
        args, convert_official_checkpoint, "checkpoint", (*options, "trust_checkpoint"), push_to_hub=args.push_to_hub
    )
    if result is None:
        return 1
    card = render_card(result.released, args.push_to_hub) if result.released else None
    save_hub_directory(
        result.model, args.output_dir, sampling=result.sampling, model_card=card, overwrite=args.overwrite
    )
    print(f"wrote {args.output_dir}")
    if args.push_to_hub:
        try:
            print(f"uploaded: {push_to_hub(args.output_dir, args.push_to_hub)}")
        except Exception as error:  # noqa: BLE001 -- the converted model is saved; say so in one line
            print(
                f"error: the upload to {args.push_to_hub} failed ({type(error).__name__}: {error}); the converted "
                f"model is saved in {args.output_dir}: upload it later with `hf upload {args.push_to_hub} "
                f"{args.output_dir}`.",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
