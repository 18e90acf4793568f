"""transformers' own common test suites, run against Video Swin as transformers runs them against an in-tree model.

The mixins come from the sdist of the installed transformers version (see `transformers_suites.py`, run by
`make test`). They are wired as in-tree `tests/models/swin/test_modeling_swin.py` and `tests/models/videomae/*`
wire them. This module sits in a folder named after the model type (`videoswin`): the image-processing mixin finds
the processors by that name.

A common test is overridden only where in-tree Swin or VideoMAE override the same test (Swin's windowed attention
and per-stage hidden states have their own shapes), or where the official protocol needs other behaviour. Each
override says why, and keeps every other assertion of the test it replaces.
"""

from __future__ import annotations

import sys
import tempfile
import unittest

import numpy as np
import pytest
import torch
from PIL import Image
from transformers.dynamic_module_utils import get_class_from_dynamic_module
from transformers.models.auto import image_processing_auto, modeling_auto
from transformers.testing_utils import torch_device
from transformers_suites import SuitesUnavailable, ensure_suites

from transformers_videoswin import (
    VideoSwinBackbone,
    VideoSwinConfig,
    VideoSwinForVideoClassification,
    VideoSwinImageProcessor,
    VideoSwinImageProcessorPil,
    VideoSwinModel,
    VideoSwinVideoProcessor,
)
from transformers_videoswin.checkpoints.hub import save_hub_directory

try:
    SUITES_ROOT, SUITES_ERROR = ensure_suites(), None
except SuitesUnavailable as error:
    SUITES_ERROR = str(error)
if SUITES_ERROR is not None:  # no package index: fail loudly, never skip
    pytest.fail(
        f"transformers' common test suites are unavailable: {SUITES_ERROR}\n"
        "(`--ignore=tests/videoswin` runs the rest of the test suite without them.)",
        pytrace=False,
    )
sys.path.insert(0, str(SUITES_ROOT))

from tests.test_backbone_common import BackboneTesterMixin  # noqa: E402
from tests.test_configuration_common import ConfigTester  # noqa: E402
from tests.test_image_processing_common import ImageProcessingTester, ImageProcessingTestMixin  # noqa: E402
from tests.test_image_processing_common import prepare_video_inputs as prepare_frame_list_videos  # noqa: E402
from tests.test_modeling_common import ModelTesterMixin, floats_tensor, ids_tensor  # noqa: E402
from tests.test_pipeline_mixin import PipelineTesterMixin  # noqa: E402
from tests.test_video_processing_common import VideoProcessingTestMixin, prepare_video_inputs  # noqa: E402
from transformers.video_utils import VideoMetadata  # noqa: E402

# The mixins ask transformers' Auto name tables which task an in-tree class serves (a base model is not trained
# with labels, a video classifier gets `labels`, a backbone is left out of the loss tests) and find the image
# processors of the test folder's model type there. `AutoModel.register` and friends fill only the Auto classes'
# registry, so for the duration of this module VideoSwin is listed in those tables as an in-tree model would be.
NAME_TABLES = (
    (modeling_auto.MODEL_MAPPING_NAMES, VideoSwinModel.__name__),
    (modeling_auto.MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES, VideoSwinForVideoClassification.__name__),
    (modeling_auto.MODEL_FOR_BACKBONE_MAPPING_NAMES, VideoSwinBackbone.__name__),
    (
        image_processing_auto.IMAGE_PROCESSOR_MAPPING_NAMES,
        {"torchvision": VideoSwinImageProcessor.__name__, "pil": VideoSwinImageProcessorPil.__name__},
    ),
)


def setUpModule():
    for table, value in NAME_TABLES:
        table[VideoSwinConfig.model_type] = value


def tearDownModule():
    for table, _ in NAME_TABLES:
        table.pop(VideoSwinConfig.model_type, None)


def test_standin_config_common_kwargs_cover_every_base_field():
    """The stand-in `config_common_kwargs` must still give a non-default value for every public field of the
    installed `PreTrainedConfig` (upstream's own `test_config_common_kwargs_is_complete`, against our stand-in)."""
    from tests.utils.test_configuration_utils import config_common_kwargs
    from transformers import PreTrainedConfig

    base = PreTrainedConfig()
    fields = {key.lstrip("_") if key == "_output_attentions" else key for key in base.__dict__}
    missing = sorted(key for key in fields if not key.startswith("_") and key not in config_common_kwargs)
    assert missing == ["is_encoder_decoder", "transformers_version"]
    assert not [key for key, value in config_common_kwargs.items() if getattr(base, key, object()) == value]


# ------------------------------------------------------------------------------------------------------------------
# Model, configuration, backbone
# ------------------------------------------------------------------------------------------------------------------


class VideoSwinModelTester:
    """A tiny Video Swin: 4 stages, a shifted-window block in stage 1, time and space padding in later stages."""

    def __init__(
        self,
        parent,
        batch_size=2,
        num_frames=4,
        image_size=32,
        num_channels=3,
        patch_size=(2, 4, 4),
        window_size=(2, 4, 4),
        embed_dim=16,
        depths=(2, 2, 1, 1),
        num_heads=(1, 2, 2, 4),
        mlp_ratio=2.0,
        drop_path_rate=0.1,
        is_training=True,
        use_labels=True,
        type_sequence_label_size=5,
        out_features=("stage1", "stage2"),
        out_indices=(1, 2),
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.image_size = image_size
        self.num_channels = num_channels
        self.patch_size = patch_size
        self.window_size = window_size
        self.embed_dim = embed_dim
        self.depths = depths
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.drop_path_rate = drop_path_rate
        self.is_training = is_training
        self.use_labels = use_labels
        self.type_sequence_label_size = type_sequence_label_size
        self.out_features = list(out_features)
        self.out_indices = list(out_indices)

    def prepare_config_and_inputs(self):
        pixel_values = floats_tensor(
            [self.batch_size, self.num_frames, self.num_channels, self.image_size, self.image_size]
        )
        labels = ids_tensor([self.batch_size], self.type_sequence_label_size) if self.use_labels else None
        return self.get_config(), pixel_values, labels

    def get_config(self):
        return VideoSwinConfig(
            num_frames=self.num_frames,
            image_size=self.image_size,
            num_channels=self.num_channels,
            patch_size=self.patch_size,
            window_size=self.window_size,
            embed_dim=self.embed_dim,
            depths=self.depths,
            num_heads=self.num_heads,
            mlp_ratio=self.mlp_ratio,
            drop_path_rate=self.drop_path_rate,
            num_labels=self.type_sequence_label_size,
            out_features=self.out_features,
            out_indices=self.out_indices,
        )

    def token_grid(self, time=None, height=None, width=None):
        """Tokens per axis after the patch embedding (padded up to whole patches)."""
        sizes = (time or self.num_frames, height or self.image_size, width or self.image_size)
        return tuple(-(-s // p) for s, p in zip(sizes, self.patch_size))

    def create_and_check_model(self, config, pixel_values, labels):
        model = VideoSwinModel(config).to(torch_device).eval()
        result = model(pixel_values)
        t, h, w = self.token_grid()
        num_stages = len(self.depths)
        expected_tokens = t * -(-h // 2 ** (num_stages - 1)) * -(-w // 2 ** (num_stages - 1))
        expected_dim = self.embed_dim * 2 ** (num_stages - 1)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, expected_tokens, expected_dim))
        self.parent.assertEqual(result.pooler_output.shape, (self.batch_size, expected_dim))

    def create_and_check_for_video_classification(self, config, pixel_values, labels):
        model = VideoSwinForVideoClassification(config).to(torch_device).eval()
        result = model(pixel_values, labels=labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.type_sequence_label_size))

    def create_and_check_backbone(self, config, pixel_values, labels):
        model = VideoSwinBackbone(config).to(torch_device).eval()
        result = model(pixel_values)
        t, h, w = self.token_grid()
        self.parent.assertEqual(len(result.feature_maps), len(config.out_features))
        self.parent.assertListEqual(list(result.feature_maps[0].shape), [self.batch_size, model.channels[0], t, h, w])
        self.parent.assertEqual(len(model.channels), len(config.out_features))

        # out_features=None: the last stage only
        config.out_features = None
        model = VideoSwinBackbone(config).to(torch_device).eval()
        result = model(pixel_values)
        last = 2 ** (len(self.depths) - 1)
        self.parent.assertEqual(len(result.feature_maps), 1)
        self.parent.assertListEqual(
            list(result.feature_maps[0].shape), [self.batch_size, model.channels[-1], t, -(-h // last), -(-w // last)]
        )
        self.parent.assertEqual(len(model.channels), 1)

    def prepare_config_and_inputs_for_common(self):
        config, pixel_values, _ = self.prepare_config_and_inputs()
        return config, {"pixel_values": pixel_values}


class VideoSwinModelTest(ModelTesterMixin, PipelineTesterMixin, unittest.TestCase):
    all_model_classes = (VideoSwinModel, VideoSwinBackbone, VideoSwinForVideoClassification)
    pipeline_model_mapping = {
        "feature-extraction": VideoSwinModel,
        "video-classification": VideoSwinForVideoClassification,
    }

    test_resize_embeddings = False  # as Swin and VideoMAE: no token embeddings

    def setUp(self):
        self.model_tester = VideoSwinModelTester(self)
        self.config_tester = ConfigTester(
            self,
            config_class=VideoSwinConfig,
            embed_dim=24,
            has_text_modality=False,
            common_properties=["image_size", "patch_size", "num_channels", "num_frames"],
        )

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_for_video_classification(self):
        self.model_tester.create_and_check_for_video_classification(*self.model_tester.prepare_config_and_inputs())

    def test_backbone(self):
        self.model_tester.create_and_check_backbone(*self.model_tester.prepare_config_and_inputs())

    @unittest.skip(reason="As Swin and VideoMAE: the model takes pixel values, it has no inputs_embeds")
    def test_inputs_embeds(self):
        pass

    @unittest.skip(reason="As Swin: Swin Transformer does not use feed-forward chunking")
    def test_feed_forward_chunking(self):
        pass

    # As Swin and VideoMAE: the input embedding is the patch embedding (a Conv3d), and there is no output embedding.
    def test_model_get_set_embeddings(self):
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = model_class(config)
            self.assertIsInstance(model.get_input_embeddings(), torch.nn.Module)
            x = model.get_output_embeddings()
            self.assertTrue(x is None or isinstance(x, torch.nn.Linear))

    # As Swin: attention maps are per window, `[batch * windows, heads, N, N]` with N the window volume, one per
    # block; the common test expects `[batch, heads, seq, seq]`. The assertions are Swin's, in 3D.
    def test_attention_outputs(self):
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        config.return_dict = True
        expected_num_attentions = sum(self.model_tester.depths)
        window_volume = self.model_tester.window_size[0] * self.model_tester.window_size[1] ** 2

        for model_class in self.all_model_classes:
            inputs_dict["output_attentions"] = True
            inputs_dict["output_hidden_states"] = False
            config.return_dict = True
            model = model_class._from_config(config, attn_implementation="eager")
            config = model.config
            model.to(torch_device).eval()
            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs_dict, model_class))
            self.assertEqual(len(outputs.attentions), expected_num_attentions)

            # output_attentions from the config
            del inputs_dict["output_attentions"]
            config.output_attentions = True
            model = model_class(config).to(torch_device).eval()
            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs_dict, model_class))
            attentions = outputs.attentions
            self.assertEqual(len(attentions), expected_num_attentions)
            self.assertListEqual(
                list(attentions[0].shape[-3:]), [self.model_tester.num_heads[0], window_volume, window_volume]
            )
            out_len = len(outputs)

            # attentions stay last, hidden states are added before them
            inputs_dict["output_attentions"] = True
            inputs_dict["output_hidden_states"] = True
            model = model_class(config).to(torch_device).eval()
            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs_dict, model_class))
            added_hidden_states = 1 if model_class is VideoSwinBackbone else 2  # + reshaped_hidden_states
            self.assertEqual(out_len + added_hidden_states, len(outputs))
            self.assertEqual(len(outputs.attentions), expected_num_attentions)
            self.assertListEqual(
                list(outputs.attentions[0].shape[-3:]), [self.model_tester.num_heads[0], window_volume, window_volume]
            )

    def check_hidden_states_output(self, inputs_dict, config, model_class, grid):
        """Swin's check, in 3D: one hidden state per stage plus the embeddings, the first with `prod(grid)` tokens."""
        model = model_class(config).to(torch_device).eval()
        with torch.no_grad():
            outputs = model(**self._prepare_for_class(inputs_dict, model_class))
        hidden_states = outputs.hidden_states
        expected_num_layers = len(self.model_tester.depths) + 1
        self.assertEqual(len(hidden_states), expected_num_layers)
        num_patches = grid[0] * grid[1] * grid[2]
        if model_class is VideoSwinBackbone:  # the backbone returns feature-map layout `[B, C, T, H, W]`
            self.assertListEqual(list(hidden_states[0].shape[1:]), [self.model_tester.embed_dim, *grid])
        else:
            self.assertListEqual(list(hidden_states[0].shape[-2:]), [num_patches, self.model_tester.embed_dim])
            reshaped_hidden_states = outputs.reshaped_hidden_states
            self.assertEqual(len(reshaped_hidden_states), expected_num_layers)
            batch_size, num_channels, *sizes = reshaped_hidden_states[0].shape
            self.assertListEqual(sizes, list(grid))
            flattened = reshaped_hidden_states[0].view(batch_size, num_channels, -1).permute(0, 2, 1)
            self.assertListEqual(list(flattened.shape[-2:]), [num_patches, self.model_tester.embed_dim])
            torch.testing.assert_close(flattened, hidden_states[0])

    # As Swin: hidden states are per stage, with the stage's own token count and width.
    def test_hidden_states_output(self):
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        grid = self.model_tester.token_grid()
        for model_class in self.all_model_classes:
            inputs_dict["output_hidden_states"] = True
            self.check_hidden_states_output(inputs_dict, config, model_class, grid)
            del inputs_dict["output_hidden_states"]
            config.output_hidden_states = True
            self.check_hidden_states_output(inputs_dict, config, model_class, grid)

    # As Swin: an input that is not a multiple of the patch size is padded (here in time, height and width).
    def test_hidden_states_output_with_padding(self):
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        batch, time, channels, height, width = inputs_dict["pixel_values"].shape
        inputs_dict["pixel_values"] = floats_tensor([batch, time + 1, channels, height + 3, width + 1])
        grid = self.model_tester.token_grid(time + 1, height + 3, width + 1)
        for model_class in self.all_model_classes:
            inputs_dict["output_hidden_states"] = True
            self.check_hidden_states_output(inputs_dict, config, model_class, grid)
            del inputs_dict["output_hidden_states"]
            config.output_hidden_states = True
            self.check_hidden_states_output(inputs_dict, config, model_class, grid)


# The code files copied beside the weights (`save_hub_directory`, loaded with `trust_remote_code=True`) go through
# the same suite's save/load tests: they are what users of a Hub checkpoint run, without this package.
REMOTE_CODE_TESTS = (
    "test_save_load",
    "test_from_pretrained_no_checkpoint",
    "test_save_load_keys_to_ignore_on_save",
    "test_load_contiguous_weights",
    "test_torch_save_load",
    "test_can_use_safetensors",
    "test_load_save_without_tied_weights",
    "test_model_weights_reload_no_missing_tied_weights",
    "test_correct_missing_keys",
    "test_base_model_prefix_loads_base_weights",
    "test_load_with_mismatched_shapes",
    "test_can_load_ignoring_mismatched_shapes",
    "test_can_load_with_device_context_manager",
    "test_can_load_with_global_device_set",
    "test_cannot_load_with_meta_device_context_manager",
    "test_can_be_initialized_on_meta",
    "test_init_weights_can_init_buffers",
)


class VideoSwinRemoteCodeTest(VideoSwinModelTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._directory = tempfile.TemporaryDirectory()
        model = VideoSwinForVideoClassification(VideoSwinModelTester(None).get_config())
        save_hub_directory(model, cls._directory.name)
        cls.all_model_classes = tuple(
            get_class_from_dynamic_module(f"modeling_videoswin.{local.__name__}", cls._directory.name)
            for local in VideoSwinModelTest.all_model_classes
        )
        for remote, local in zip(cls.all_model_classes, VideoSwinModelTest.all_model_classes):
            assert remote is not local and remote.__module__.startswith("transformers_modules."), remote.__module__

    @classmethod
    def tearDownClass(cls):
        cls._directory.cleanup()
        super().tearDownClass()


for _name in dir(VideoSwinRemoteCodeTest):
    if (
        _name.startswith("test")
        and callable(getattr(VideoSwinRemoteCodeTest, _name))
        and _name not in REMOTE_CODE_TESTS
    ):
        setattr(VideoSwinRemoteCodeTest, _name, None)  # not callable: unittest does not collect it


class VideoSwinBackboneTest(BackboneTesterMixin, unittest.TestCase):
    all_model_classes = (VideoSwinBackbone,)
    config_class = VideoSwinConfig
    has_attentions = True

    def setUp(self):
        self.model_tester = VideoSwinModelTester(self)


# ------------------------------------------------------------------------------------------------------------------
# Processors
# ------------------------------------------------------------------------------------------------------------------


class VideoSwinVideoProcessingTester:
    """VideoMAE's video-processing tester, with Video Swin's official defaults (ImageNet default mean/std)."""

    def __init__(
        self,
        parent,
        batch_size=3,
        num_frames=8,
        num_channels=3,
        min_resolution=30,
        max_resolution=60,
        do_resize=True,
        size=None,
        do_center_crop=True,
        crop_size=None,
        do_normalize=True,
        image_mean=(0.485, 0.456, 0.406),
        image_std=(0.229, 0.224, 0.225),
        do_convert_rgb=True,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.num_channels = num_channels
        self.min_resolution = min_resolution
        self.max_resolution = max_resolution
        self.do_resize = do_resize
        self.size = size if size is not None else {"shortest_edge": 20}
        self.do_center_crop = do_center_crop
        self.crop_size = crop_size if crop_size is not None else {"height": 18, "width": 18}
        self.do_normalize = do_normalize
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.do_convert_rgb = do_convert_rgb

    def prepare_video_processor_dict(self):
        return {
            "do_resize": self.do_resize,
            "size": self.size,
            "do_center_crop": self.do_center_crop,
            "crop_size": self.crop_size,
            "do_normalize": self.do_normalize,
            "image_mean": self.image_mean,
            "image_std": self.image_std,
            "do_convert_rgb": self.do_convert_rgb,
        }

    def expected_output_video_shape(self, videos):
        return self.num_frames, self.num_channels, self.crop_size["height"], self.crop_size["width"]

    def prepare_video_inputs(self, equal_resolution=False, return_tensors="pil"):
        return prepare_video_inputs(
            batch_size=self.batch_size,
            num_frames=self.num_frames,
            num_channels=self.num_channels,
            min_resolution=self.min_resolution,
            max_resolution=self.max_resolution,
            equal_resolution=equal_resolution,
            return_tensors=return_tensors,
        )


class VideoSwinVideoProcessingTest(VideoProcessingTestMixin, unittest.TestCase):
    fast_video_processing_class = VideoSwinVideoProcessor
    input_name = "pixel_values"

    def setUp(self):
        super().setUp()
        self.video_processor_tester = VideoSwinVideoProcessingTester(self)

    @property
    def video_processor_dict(self):
        return self.video_processor_tester.prepare_video_processor_dict()

    # The official protocol: a video shorter than a clip loops (mmaction's SampleFrames wraps indices around), where
    # transformers' base sampler raises. The common test's last assertion expects the error; this one checks the
    # loop instead. Every other assertion of the common test is kept as it is.
    def test_call_sample_frames(self):
        for video_processing_class in self.video_processor_list:
            video_processing = video_processing_class(**self.video_processor_dict)
            prev_num_frames = self.video_processor_tester.num_frames
            self.video_processor_tester.num_frames = 8
            video_inputs = self.video_processor_tester.prepare_video_inputs(
                equal_resolution=False, return_tensors="torch"
            )

            video_processing.do_sample_frames = False
            encoded_videos = video_processing(video_inputs[0], return_tensors="pt", num_frames=3)[self.input_name]
            encoded_videos_batched = video_processing(video_inputs, return_tensors="pt", num_frames=3)[self.input_name]
            self.assertEqual(encoded_videos.shape[1], 8)
            self.assertEqual(encoded_videos_batched.shape[1], 8)

            video_processing.do_sample_frames = True
            encoded_videos = video_processing(video_inputs[0], return_tensors="pt", num_frames=3)[self.input_name]
            encoded_videos_batched = video_processing(video_inputs, return_tensors="pt", num_frames=3)[self.input_name]
            self.assertEqual(encoded_videos.shape[1], 3)
            self.assertEqual(encoded_videos_batched.shape[1], 3)

            with self.assertRaises(ValueError):
                metadata = VideoMetadata(**{"total_num_frames": 8})
                video_processing.sample_frames(metadata=metadata, fps=3)

            metadata = [[{"duration": 2.0, "total_num_frames": 8, "fps": 4}]]
            batched_metadata = metadata * len(video_inputs)
            encoded_videos = video_processing(video_inputs[0], return_tensors="pt", fps=3, video_metadata=metadata)[
                self.input_name
            ]
            encoded_videos_batched = video_processing(
                video_inputs, return_tensors="pt", fps=3, video_metadata=batched_metadata
            )[self.input_name]
            self.assertEqual(encoded_videos.shape[1], 6)
            self.assertEqual(encoded_videos_batched.shape[1], 6)

            # More frames than the video has: the clip loops over the video's frames.
            metadata = VideoMetadata(total_num_frames=8, fps=4)
            indices = video_processing.sample_frames(metadata=metadata, num_frames=10)
            self.assertEqual(len(indices), 10)
            self.assertTrue(((indices >= 0) & (indices < 8)).all())
            self.assertLess(len(set(indices.tolist())), 10)  # frames repeat
            encoded_videos = video_processing(video_inputs[0], return_tensors="pt", num_frames=10)[self.input_name]
            encoded_videos_batched = video_processing(video_inputs, return_tensors="pt", num_frames=10)[
                self.input_name
            ]
            self.assertEqual(encoded_videos.shape[1], 10)
            self.assertEqual(encoded_videos_batched.shape[1], 10)
            looped = video_processing(
                video_inputs[0][torch.as_tensor(indices)], return_tensors="pt", do_sample_frames=False
            )[self.input_name]
            torch.testing.assert_close(encoded_videos, looped)

            self.video_processor_tester.num_frames = prev_num_frames

    def test_video_processor_properties(self):  # as VideoMAE
        video_processing = self.fast_video_processing_class(**self.video_processor_dict)
        for name in ("do_resize", "size", "do_center_crop", "center_crop", "do_normalize", "image_mean", "image_std"):
            self.assertTrue(hasattr(video_processing, name), name)
        self.assertTrue(hasattr(video_processing, "do_convert_rgb"))
        self.assertIn("pixel_values", video_processing.model_input_names)


class VideoSwinImageProcessingTester(ImageProcessingTester):
    """VideoMAE's image-processing tester: a "batch" is a list of videos, each a list of frames."""

    def __init__(self, **kwargs):
        kwargs.setdefault("num_frames", 6)
        kwargs.setdefault("batch_size", 3)
        kwargs.setdefault("max_resolution", 80)
        kwargs.setdefault("size", {"shortest_edge": 18})
        kwargs.setdefault("crop_size", {"height": 18, "width": 18})
        super().__init__(**kwargs)

    def expected_output_image_shape(self, images):
        return self.num_frames, self.num_channels, self.crop_size["height"], self.crop_size["width"]

    def prepare_video_inputs(self, equal_resolution=False, numpify=False, torchify=False):
        return prepare_frame_list_videos(
            batch_size=self.batch_size,
            num_frames=self.num_frames,
            num_channels=self.num_channels,
            min_resolution=self.min_resolution,
            max_resolution=self.max_resolution,
            equal_resolution=equal_resolution,
            numpify=numpify,
            torchify=torchify,
        )


class VideoSwinImageProcessingTest(ImageProcessingTestMixin, unittest.TestCase):
    image_processor_tester_class = VideoSwinImageProcessingTester

    # As VideoMAE: the common `test_call_*` tests feed single images; a video image processor is called with videos
    # (lists of frames). VideoMAE's overrides, with the same assertions.
    def _check_call(self, video_inputs, frame_type, **kwargs):
        for image_processing_class in self.image_processing_classes.values():
            image_processing = image_processing_class(**self.image_processor_dict)
            for video in video_inputs:
                self.assertIsInstance(video, list)
                self.assertIsInstance(video[0], frame_type)
            encoded_videos = image_processing(video_inputs[0], return_tensors="pt", **kwargs).pixel_values
            expected_shape = self.image_processor_tester.expected_output_image_shape([encoded_videos[0]])
            self.assertEqual(tuple(encoded_videos.shape), (1, *expected_shape))
            encoded_videos = image_processing(video_inputs, return_tensors="pt", **kwargs).pixel_values
            expected_shape = self.image_processor_tester.expected_output_image_shape(encoded_videos)
            self.assertEqual(tuple(encoded_videos.shape), (self.image_processor_tester.batch_size, *expected_shape))

    def test_call_pil(self):
        self._check_call(self.image_processor_tester.prepare_video_inputs(equal_resolution=False), Image.Image)

    def test_call_numpy(self):
        video_inputs = self.image_processor_tester.prepare_video_inputs(equal_resolution=False, numpify=True)
        self._check_call(video_inputs, np.ndarray)

    def test_call_numpy_4_channels(self):
        self.image_processor_tester.num_channels = 4
        video_inputs = self.image_processor_tester.prepare_video_inputs(equal_resolution=False, numpify=True)
        self._check_call(
            video_inputs,
            np.ndarray,
            do_convert_rgb=False,  # as the common test: keep the 4 channels
            image_mean=(0.0, 0.0, 0.0, 0.0),
            image_std=(1.0, 1.0, 1.0, 1.0),
            input_data_format="channels_first",
        )
        self.image_processor_tester.num_channels = 3

    def test_call_pytorch(self):
        video_inputs = self.image_processor_tester.prepare_video_inputs(equal_resolution=False, torchify=True)
        self._check_call(video_inputs, torch.Tensor)

    def test_backends_equivalence_batched(self):  # as VideoMAE: a batch of videos
        video_inputs = self.image_processor_tester.prepare_video_inputs(equal_resolution=True, torchify=True)
        encodings = {
            name: cls(**self.image_processor_dict)(video_inputs, return_tensors="pt").pixel_values
            for name, cls in self.image_processing_classes.items()
        }
        self.assertEqual(len(encodings), 2)
        reference, *others = encodings.values()
        for other in others:
            self._assert_tensors_equivalence(reference, other)

    def test_both_backends_are_found(self):
        """The mixin finds the processors by the folder's name: both backends, or its tests would pass vacuously."""
        self.assertEqual(
            self.image_processing_classes, {"torchvision": VideoSwinImageProcessor, "pil": VideoSwinImageProcessorPil}
        )
