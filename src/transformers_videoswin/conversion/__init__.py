"""Checkpoint conversion: official Video Swin checkpoints, ImageNet Swin inflation, torchvision `swin3d_*`."""

from .checkpoint_io import ConversionError, load_checkpoint
from .official import (
    ConversionResult,
    config_from_official_state_dict,
    convert_official_checkpoint,
    convert_official_state_dict,
    infer_window_size,
    to_official_state_dict,
)

__all__ = [
    "ConversionError",
    "ConversionResult",
    "config_from_official_state_dict",
    "convert_official_checkpoint",
    "convert_official_state_dict",
    "infer_window_size",
    "load_checkpoint",
    "to_official_state_dict",
]
