"""The pixel defaults shared by the image and the video processor: the official single-view evaluation of the
released models (RGB, shorter side 224 with bilinear resampling, centre crop 224, rescale 1/255, ImageNet
mean/std from transformers' constants)."""

from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling


class VideoSwinPixelDefaults:
    resample = PILImageResampling.BILINEAR
    image_mean = list(IMAGENET_DEFAULT_MEAN)
    image_std = list(IMAGENET_DEFAULT_STD)
    size = {"shortest_edge": 224}
    default_to_square = False
    crop_size = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = True
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    do_convert_rgb = True
    model_input_names = ["pixel_values"]
