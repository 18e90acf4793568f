"""Video Swin Transformer for the Hugging Face ecosystem.

Importing the package registers every class with the transformers Auto classes.
"""

from transformers import AutoBackbone, AutoConfig, AutoModel, AutoModelForVideoClassification

from .configuration_videoswin import VideoSwinConfig
from .modeling_videoswin import (
    VideoSwinBackbone,
    VideoSwinForVideoClassification,
    VideoSwinModel,
    VideoSwinPreTrainedModel,
)

__version__ = "0.1.0"

AutoConfig.register(VideoSwinConfig.model_type, VideoSwinConfig, exist_ok=True)
AutoModel.register(VideoSwinConfig, VideoSwinModel, exist_ok=True)
AutoModelForVideoClassification.register(VideoSwinConfig, VideoSwinForVideoClassification, exist_ok=True)
AutoBackbone.register(VideoSwinConfig, VideoSwinBackbone, exist_ok=True)

# --- processors (owned by the video-input work; keep this block self-contained) ---
from transformers import AutoImageProcessor, AutoVideoProcessor  # noqa: E402

from .image_processing_videoswin import VideoSwinImageProcessor, VideoSwinImageProcessorPil  # noqa: E402
from .video_processing_videoswin import VideoSwinVideoProcessor  # noqa: E402

AutoImageProcessor.register(
    VideoSwinConfig,
    image_processor_classes={"torchvision": VideoSwinImageProcessor, "pil": VideoSwinImageProcessorPil},
    exist_ok=True,
)
AutoVideoProcessor.register(VideoSwinConfig, VideoSwinVideoProcessor, exist_ok=True)
# --- end processors ---

__all__ = [
    "VideoSwinBackbone",
    "VideoSwinConfig",
    "VideoSwinForVideoClassification",
    "VideoSwinImageProcessor",
    "VideoSwinImageProcessorPil",
    "VideoSwinModel",
    "VideoSwinPreTrainedModel",
    "VideoSwinVideoProcessor",
]
