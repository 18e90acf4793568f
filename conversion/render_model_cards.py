"""Render one model card per released Video Swin checkpoint from `templates/model_card.md`.

Example:
  python conversion/render_model_cards.py --output-dir model_cards --namespace my-org

Each card is `<checkpoint name>.md`; upload it as the README.md of the converted checkpoint's repository
(`convert_official_checkpoint.py` writes it there for released files).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    head, tail = __doc__.split("\n\n", 1)
    parser = argparse.ArgumentParser(
        description=head, epilog=tail, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output-dir", default="model_cards", help="where to write the cards (default model_cards)")
    parser.add_argument(
        "--namespace", default="videoswin", help="Hub user/org used in the snippets (default videoswin)"
    )
    args = parser.parse_args(argv)
    from transformers_videoswin.checkpoints.model_cards import write_model_cards  # after parsing: --help stays fast

    for path in write_model_cards(args.output_dir, args.namespace):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
