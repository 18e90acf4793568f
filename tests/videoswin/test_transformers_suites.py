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
import unittest

import pytest
import torch
from transformers import AutoConfig
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING
from transformers.testing_utils import torch_device
from transformers_suites import SuitesUnavailable, ensure_suites

from transformers_videoswin import (
    VideoSwinBackbone,
    VideoSwinConfig,
    VideoSwinForVideoClassification,
    VideoSwinModel,
    VideoSwinVideoProcessor,
)

try:
    sys.path.insert(0, str(ensure_suites()))
except SuitesUnavailable as error:  # no package index: fail loudly, never skip
    pytest.fail(
        f"transformers' common test suites are unavailable: {error}\n"
        "(`--ignore=tests/videoswin` runs the rest of the test suite without them.)",
        pytrace=False,
    )

from tests.test_backbone_common import BackboneTesterMixin  # noqa: E402
from tests.test_configuration_common import ConfigTester  # noqa: E402
from tests.test_image_processing_common import ImageProcessingTester, ImageProcessingTestMixin  # noqa: E402
from tests.test_image_processing_common import prepare_video_inputs as prepare_frame_list_videos  # noqa: E402
from tests.test_modeling_common import ModelTesterMixin, floats_tensor, ids_tensor  # noqa: E402
from tests.test_pipeline_mixin import PipelineTesterMixin  # noqa: E402
from tests.test_video_processing_common import VideoProcessingTestMixin, prepare_video_inputs  # noqa: E402

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
    pipeline_model_mapping = {"feature-extraction": VideoSwinModel, "video-classification": VideoSwinForVideoClassification}

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

    def _get_image_processing_classes(self):
        # transformers finds an in-tree model's processors in its `IMAGE_PROCESSOR_MAPPING_NAMES` by the test
        # folder's name; a model registered from outside transformers is in the Auto registry under the same name.
        found = super()._get_image_processing_classes()
        if not found:
            found = dict(IMAGE_PROCESSOR_MAPPING[type(AutoConfig.for_model("videoswin"))])
        self.parent.assertEqual(set(found), {"torchvision", "pil"}, "both image-processor backends are registered")
        return found

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
