"""torchvision swin3d <-> ours: logits parity with torchvision's own model, bit-exact weights both ways, errors."""

from __future__ import annotations

import pytest
import torch
from conversion_helpers import TOLERANCE
from torchvision.models.video import swin3d_t
from torchvision.models.video.swin_transformer import SwinTransformer3d

from transformers_videoswin import VideoSwinForVideoClassification
from transformers_videoswin.checkpoints import (
    ConversionError,
    config_from_official_state_dict,
    convert_torchvision_checkpoint,
    convert_torchvision_state_dict,
    to_torchvision_state_dict,
)
from transformers_videoswin.checkpoints.torchvision_swin3d import torchvision_to_official

pytest_plugins = ["conversion_fixtures"]


def _randomize(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial norms and bias tables (default init leaves them at 1/0/tiny) so that mapping mistakes show."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name or "bias_table" in name:
                parameter.add_(torch.randn_like(parameter) * 0.3)
    return model.eval()


@pytest.fixture(scope="module")
def torchvision_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return _randomize(swin3d_t())


@pytest.fixture(scope="module")
def ours(torchvision_model) -> VideoSwinForVideoClassification:
    state_dict = torchvision_model.state_dict()
    config = config_from_official_state_dict(torchvision_to_official(state_dict))
    assert config.window_size == (8, 7, 7) and config.depths == (2, 2, 6, 2) and config.num_labels == 400
    model = VideoSwinForVideoClassification(config).eval()
    model.load_state_dict(convert_torchvision_state_dict(state_dict), strict=True)
    return model


@pytest.mark.parametrize("size", [(16, 224, 224), (10, 100, 130)])
def test_logits_match_torchvision(torchvision_model, ours, size):
    torch.manual_seed(1)
    clip = torch.randn(1, 3, *size)  # torchvision's layout [B, C, T, H, W]
    with torch.no_grad():
        expected = torchvision_model(clip)
        logits = ours(pixel_values=clip.permute(0, 2, 1, 3, 4)).logits
    assert (logits - expected).abs().max().item() < TOLERANCE


def test_reverse_direction_is_bit_exact(torchvision_model, ours):
    original = torchvision_model.state_dict()
    back = to_torchvision_state_dict(ours)
    assert set(back) == set(original)
    assert all(torch.equal(back[k], original[k]) for k in original)


def test_checkpoint_conversion_reports_the_figures(tmp_path):
    torch.manual_seed(0)
    tiny = _randomize(
        SwinTransformer3d(
            patch_size=[2, 4, 4], embed_dim=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4], window_size=[2, 4, 4]
        )
    )
    torch.save(tiny.state_dict(), tmp_path / "tiny_swin3d.pth")
    result = convert_torchvision_checkpoint(tmp_path / "tiny_swin3d.pth", check_input_shape=(6, 70, 90))
    report = result.report  # the logits check runs torchvision's model rebuilt by `build_torchvision_model`
    assert report.ok and report.round_trip_exact and report.round_trip_max_abs_diff == 0.0
    assert report.output_max_abs_diff["logits vs torchvision's model"] < TOLERANCE
    assert report.dropped_tensors == 5  # one relative_position_index per block
    assert result.model.config.id2label[0] == "abseiling"  # 400 classes: Kinetics-400 names by default


def test_errors_name_the_problem(official_checkpoint):
    with pytest.raises(ConversionError, match="convert_official_checkpoint.py"):
        convert_torchvision_state_dict(official_checkpoint["state_dict"])
    with pytest.raises(ConversionError, match="features.1 is a patch-merging layer"):
        torchvision_to_official({"features.1.0.norm1.weight": torch.ones(1)})
    with pytest.raises(ConversionError, match="no place in a torchvision swin3d"):
        torchvision_to_official({"features.0.0.norm1.weight": torch.ones(1), "avgpool.scale": torch.ones(1)})
