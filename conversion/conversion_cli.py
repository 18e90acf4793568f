"""What the conversion scripts share: their common options, and convert -> report -> save with one-line errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def conversion_parser(doc: str, source: str, source_help: str) -> argparse.ArgumentParser:
    """A parser with the script's docstring, its required `source` option, and the options every script has."""
    head, tail = doc.split("\n\n", 1)
    parser = argparse.ArgumentParser(
        description=head, epilog=tail, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(source, required=True, help=source_help)
    parser.add_argument("--output-dir", required=True, help="directory to write the converted model to")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the files of an earlier model directory at --output-dir (a non-empty one is refused otherwise)",
    )
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max abs difference allowed (default 1e-4)")
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow full unpickling (can run code from the file) when weights_only loading is not enough",
    )
    return parser


def run_conversion(
    args: argparse.Namespace,
    convert: Callable,
    source: str,
    options: tuple[str, ...],
    push_to_hub: str | None = None,
):
    """Check the output directory (before the long part) and `--expected-output`, run
    `convert(args.<source>, <option>=args.<option>, ...)` (a conversion result with `.report`, or `(model, report)`)
    and print its report. A ConversionError is one line on stderr that names the script's flags, and the result is
    then None."""
    from transformers_videoswin.checkpoints import ConversionError
    from transformers_videoswin.checkpoints.checkpoint_io import check_checkpoint_file
    from transformers_videoswin.checkpoints.hub import check_output_dir

    expected_output = getattr(args, "expected_output", None)
    kwargs = {name: tuple(value) if isinstance(value := getattr(args, name), list) else value for name in options}
    try:
        check_output_dir(args.output_dir, args.overwrite, push_to_hub, inputs=(getattr(args, source), expected_output))
        if expected_output:
            check_checkpoint_file(expected_output)
        result = convert(getattr(args, source), **kwargs)
        report = result[1] if isinstance(result, tuple) else result.report
        print("\n".join(report.lines()))
        report.require_ok()
    except ConversionError as error:
        print(f"error: {error.in_flags(vars(args))}", file=sys.stderr)
        return None
    return result
