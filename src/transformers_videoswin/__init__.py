"""Video Swin Transformer for the Hugging Face ecosystem.

Importing the package registers every class with the transformers Auto classes.
"""

from transformers import (
    AutoBackbone,
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForVideoClassification,
    AutoVideoProcessor,
)

from .model.configuration_videoswin import VideoSwinConfig
from .model.modeling_videoswin import (
    VideoSwinBackbone,
    VideoSwinForVideoClassification,
    VideoSwinModel,
    VideoSwinPreTrainedModel,
)
from .processing.image_processing_pil_videoswin import VideoSwinImageProcessorPil
from .processing.image_processing_videoswin import VideoSwinImageProcessor
from .processing.video_processing_videoswin import VideoSwinVideoProcessor

__version__ = "0.1.0"

AutoConfig.register(VideoSwinConfig.model_type, VideoSwinConfig, exist_ok=True)
AutoModel.register(VideoSwinConfig, VideoSwinModel, exist_ok=True)
AutoModelForVideoClassification.register(VideoSwinConfig, VideoSwinForVideoClassification, exist_ok=True)
AutoBackbone.register(VideoSwinConfig, VideoSwinBackbone, exist_ok=True)
AutoImageProcessor.register(
    VideoSwinConfig,
    image_processor_classes={"torchvision": VideoSwinImageProcessor, "pil": VideoSwinImageProcessorPil},
    exist_ok=True,
)
AutoVideoProcessor.register(VideoSwinConfig, VideoSwinVideoProcessor, exist_ok=True)

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
