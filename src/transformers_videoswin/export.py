"""Export a Video Swin classifier with `torch.export` and to ONNX (dynamo exporter).

Both exported models compute the right logits for every input they accept and reject every other input:

- `export_program` (`torch.export`): dynamic batch, and a dynamic time axis over the clip lengths that keep the
  traced clip's window geometry (padding, window clipping, shifts); the program's own shape guards reject other
  lengths (`AssertionError: Guard failed: ...`) and other frame sizes.
- `export_onnx`: dynamic batch; time, height and width fixed to the traced clip's. ONNX has no shape guards, and a
  graph traced at one length runs at others with the traced padding and windows baked in, giving wrong logits (at
  9 frames for a graph traced at 8, say); with fixed axes, onnxruntime refuses any other shape
  (`INVALID_ARGUMENT: Got invalid dimensions for input: pixel_values ... Got: 9 Expected: 8`). Export one graph per
  clip length you serve.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from .model.modeling_videoswin import VideoSwinForVideoClassification


def example_pixel_values(model: VideoSwinForVideoClassification, batch_size: int = 2) -> torch.Tensor:
    """A random `[batch, num_frames, channels, image_size, image_size]` clip of the size the model was trained on."""
    config = model.config
    return torch.randn(batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)


def dynamic_shapes(max_batch: int = 1024, dynamic_time: bool = True) -> dict:
    """Dynamic batch and, with `dynamic_time`, time: `torch.export` then keeps time dynamic over the clip lengths that
    keep the traced clip's window geometry, and guards the rest."""
    axes = {0: torch.export.Dim("batch", min=1, max=max_batch)}
    if dynamic_time:
        axes[1] = torch.export.Dim.AUTO
    return {"pixel_values": axes}


def _export_copy(model: VideoSwinForVideoClassification) -> VideoSwinForVideoClassification:
    """An eval-mode copy with eager attention and tuple outputs: SDPA's decomposition with symbolic shapes does not
    lower to ONNX in torch 2.15, while the eager path exports cleanly (both compute the same attention)."""
    export_model = copy.deepcopy(model).eval()
    export_model.config._attn_implementation = "eager"
    export_model.config.return_dict = False
    return export_model


def export_program(model: VideoSwinForVideoClassification, pixel_values: torch.Tensor | None = None):
    """`torch.export.ExportedProgram` of the classifier returning `(logits,)`."""
    pixel_values = example_pixel_values(model) if pixel_values is None else pixel_values
    return torch.export.export(_export_copy(model), (pixel_values,), dynamic_shapes=dynamic_shapes())


def export_onnx(
    model: VideoSwinForVideoClassification, path: str | Path, pixel_values: torch.Tensor | None = None
) -> Path:
    """Write `path` (ONNX, input `pixel_values`, output `logits`): dynamic batch; time and frame size those of
    `pixel_values` (default: the config's `num_frames` and `image_size`), which onnxruntime then enforces."""
    path = Path(path)
    pixel_values = example_pixel_values(model) if pixel_values is None else pixel_values
    torch.onnx.export(
        _export_copy(model),
        (pixel_values,),
        str(path),
        dynamo=True,
        dynamic_shapes=dynamic_shapes(dynamic_time=False),
        input_names=["pixel_values"],
        output_names=["logits"],
    )
    return path


__all__ = ["export_onnx", "export_program"]
