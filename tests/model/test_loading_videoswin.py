"""Loading paths users take: `device_map`, `dtype="auto"`, `low_cpu_mem_usage`, for every head.

Each path builds the model on the meta device first, so the non-persistent buffers (the relative position index)
must be recomputed and every parameter must come back with the saved values.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoBackbone, AutoModel, AutoModelForVideoClassification

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification
from transformers_videoswin.model import cpu_windows

LOADING_OPTIONS = [
    {"device_map": "cpu"},
    {"dtype": "auto"},
    {"low_cpu_mem_usage": True},
    {"device_map": "cpu", "dtype": "auto", "low_cpu_mem_usage": True},
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny classifier saved in float32 and in bfloat16, with its logits on one clip."""
    torch.manual_seed(0)
    model = VideoSwinForVideoClassification(
        VideoSwinConfig(**tiny_config_kwargs(out_features=["stage1", "stage4"]))
    ).eval()
    pixel_values = torch.randn(1, 8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    directories = {}
    for dtype in (torch.float32, torch.bfloat16):
        directory = tmp_path_factory.mktemp(str(dtype).split(".")[-1])
        copy.deepcopy(model).to(dtype).save_pretrained(directory)
        directories[dtype] = directory
    return model, pixel_values, directories


@pytest.mark.parametrize("options", LOADING_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_classifier_loads_with_every_option(saved, options, dtype):
    reference, pixel_values, directories = saved
    reference = copy.deepcopy(reference).to(dtype)
    model = AutoModelForVideoClassification.from_pretrained(directories[dtype], **options).eval()
    state = model.state_dict()
    for name, tensor in reference.state_dict().items():
        assert state[name].device.type == "cpu", name
        torch.testing.assert_close(state[name], tensor, atol=0, rtol=0, msg=name)
    # dtype "auto" (the transformers 5 default) keeps the saved dtype
    assert {p.dtype for p in model.parameters()} == {dtype}
    # the index buffers are rebuilt on the real device, not left as meta or uninitialised memory
    with torch.no_grad():
        expected = reference(pixel_values.to(dtype)).logits
        torch.testing.assert_close(model(pixel_values.to(dtype)).logits, expected, atol=0, rtol=0)


@pytest.mark.parametrize("options", LOADING_OPTIONS[::3], ids=["device_map", "all"])
def test_base_model_and_backbone_load_from_a_classifier(saved, options):
    reference, pixel_values, directories = saved
    base = AutoModel.from_pretrained(directories[torch.float32], **options).eval()
    backbone = AutoBackbone.from_config(reference.config)  # AutoBackbone.from_pretrained asks the Hub (README)
    backbone = type(backbone).from_pretrained(directories[torch.float32], **options).eval()
    with torch.no_grad():
        expected = reference.videoswin(pixel_values)
        torch.testing.assert_close(base(pixel_values).last_hidden_state, expected.last_hidden_state, atol=0, rtol=0)
        features = backbone(pixel_values).feature_maps
    assert [f.shape[1] for f in features] == [16, 128]
    assert all(torch.isfinite(f).all() for f in features)


SAVED_V0_1 = Path(__file__).resolve().parents[1] / "fixtures" / "saved_v0_1"


@pytest.mark.parametrize("path", ["cpu", "reference"])
def test_directory_saved_by_version_0_1_loads_with_the_same_logits(path):
    """A directory saved before the in-tree refactor (checkpoint keys, and config.json keys that are runtime choices
    now) loads with every weight used and gives the logits that version computed, on both forwards."""
    model, info = VideoSwinForVideoClassification.from_pretrained(SAVED_V0_1, output_loading_info=True)
    assert not any(info.values()), info  # no missing, unexpected or mismatched key
    assert not hasattr(model.config, "window_strategy")
    expected = load_file(SAVED_V0_1 / "expected.safetensors")
    context = cpu_windows.reference_forward() if path == "reference" else contextlib.nullcontext()
    with context, torch.no_grad():
        logits = model.eval()(expected["pixel_values"]).logits
    torch.testing.assert_close(logits, expected["logits"], atol=1e-6, rtol=1e-5)
