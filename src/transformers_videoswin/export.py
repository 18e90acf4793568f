"""Export a Video Swin classifier with `torch.export` and to ONNX (dynamo exporter) with dynamic batch and time axes."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from .model.modeling_videoswin import VideoSwinForVideoClassification


def example_pixel_values(model: VideoSwinForVideoClassification, batch_size: int = 2) -> torch.Tensor:
    """A random `[batch, num_frames, channels, image_size, image_size]` clip of the size the model was trained on."""
    config = model.config
    return torch.randn(batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size)


def dynamic_shapes(model: VideoSwinForVideoClassification, max_batch: int = 1024) -> dict:
    """Dynamic batch and time. Time stays dynamic over clip lengths whose token grid needs no temporal padding at
    the traced size (the traced graph keeps the window geometry of the example clip)."""
    return {"pixel_values": {0: torch.export.Dim("batch", min=1, max=max_batch), 1: torch.export.Dim.AUTO}}


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
    return torch.export.export(_export_copy(model), (pixel_values,), dynamic_shapes=dynamic_shapes(model))


def export_onnx(
    model: VideoSwinForVideoClassification, path: str | Path, pixel_values: torch.Tensor | None = None
) -> Path:
    """Write `path` (ONNX, input `pixel_values`, output `logits`) with dynamic batch and time axes."""
    path = Path(path)
    pixel_values = example_pixel_values(model) if pixel_values is None else pixel_values
    torch.onnx.export(
        _export_copy(model),
        (pixel_values,),
        str(path),
        dynamo=True,
        dynamic_shapes=dynamic_shapes(model),
        input_names=["pixel_values"],
        output_names=["logits"],
    )
    return path


__all__ = ["export_onnx", "export_program"]
