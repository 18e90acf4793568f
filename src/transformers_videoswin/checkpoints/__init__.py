"""Checkpoint conversion: official Video Swin checkpoints, ImageNet Swin inflation, torchvision `swin3d_*`.

Command-line wrappers live in the repository's `conversion/` folder.
"""

from .checkpoint_io import ConversionError, load_checkpoint
from .hub import save_hub_directory
from .inflate import inflate_and_verify, inflate_image_swin
from .official import (
    ConversionResult,
    config_from_official_state_dict,
    convert_official_checkpoint,
    convert_official_state_dict,
    infer_window_size,
    to_official_state_dict,
)
from .torchvision_swin3d import (
    build_torchvision_model,
    convert_torchvision_checkpoint,
    convert_torchvision_state_dict,
    to_torchvision_state_dict,
)

__all__ = [
    "ConversionError",
    "ConversionResult",
    "build_torchvision_model",
    "config_from_official_state_dict",
    "convert_official_checkpoint",
    "convert_official_state_dict",
    "convert_torchvision_checkpoint",
    "convert_torchvision_state_dict",
    "infer_window_size",
    "inflate_and_verify",
    "inflate_image_swin",
    "load_checkpoint",
    "save_hub_directory",
    "to_official_state_dict",
    "to_torchvision_state_dict",
]
