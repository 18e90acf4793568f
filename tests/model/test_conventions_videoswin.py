"""transformers' conventions that users rely on, checked here without the downloaded common suites
(tests/videoswin runs those): live recorded outputs, backbone indices and stages, attention maps under SDPA, input
validation, compile with recorded outputs."""

from __future__ import annotations

import pytest
import torch
from transformers.integrations import sdpa_attention
from transformers.testing_utils import CaptureLogger

from conftest import tiny_config_kwargs
from transformers_videoswin import (
    VideoSwinBackbone,
    VideoSwinConfig,
    VideoSwinForVideoClassification,
    VideoSwinModel,
)

NUM_BLOCKS = sum(tiny_config_kwargs()["depths"])


def make(cls, attn_implementation="eager", **overrides):
    torch.manual_seed(0)
    return cls._from_config(
        VideoSwinConfig(**tiny_config_kwargs(**overrides)), attn_implementation=attn_implementation
    )


def clip(batch=2, frames=8, size=64):
    return torch.randn(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(1))


# ------------------------------------------------------------------------------------------------------------------
# Recorded hidden states and attention maps are the tensors the forward pass computed with
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [VideoSwinModel, VideoSwinForVideoClassification])
def test_every_recorded_output_receives_gradients(cls):
    """Saliency and attribution call `retain_grad()` on the returned tensors: each must be the live one."""
    model = make(cls).train()
    outputs = model(clip(), output_hidden_states=True, output_attentions=True)
    assert len(outputs.hidden_states) == 5 and len(outputs.attentions) == NUM_BLOCKS
    for tensor in (*outputs.hidden_states, *outputs.attentions):
        tensor.retain_grad()
    outputs[0].sum().backward()
    for index, tensor in enumerate(outputs.hidden_states):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0, f"hidden_states[{index}]"
    for index, tensor in enumerate(outputs.attentions):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0, f"attentions[{index}]"


def test_recording_outputs_changes_nothing_else():
    model = make(VideoSwinForVideoClassification).eval()
    pixel_values = clip(2, 5, 50)
    with torch.no_grad():
        plain = model(pixel_values).logits
        recorded = model(pixel_values, output_hidden_states=True, output_attentions=True)
    torch.testing.assert_close(recorded.logits, plain, atol=1e-5, rtol=1e-5)
    # attention maps: [batch * windows, heads, N, N], rows summing to one, in the clip-major official order
    first = recorded.attentions[0]
    assert first.shape[1:] == (1, 32, 32)
    torch.testing.assert_close(first.sum(-1), torch.ones_like(first.sum(-1)))
    for hidden, reshaped in zip(recorded.hidden_states, recorded.reshaped_hidden_states):
        torch.testing.assert_close(reshaped.flatten(2).transpose(1, 2), hidden)


def test_selected_hidden_states_only():
    model = make(VideoSwinModel).eval()
    with torch.no_grad():
        every = model(clip(1), output_hidden_states=True)
        some = model(clip(1), output_hidden_states=[0, -1])
    assert [h is None for h in some.hidden_states] == [False, True, True, True, False]
    assert [h is None for h in some.reshaped_hidden_states] == [False, True, True, True, False]
    torch.testing.assert_close(some.hidden_states[-1], every.hidden_states[-1])


# ------------------------------------------------------------------------------------------------------------------
# Backbone: negative indices, every stage when hidden states or attentions are asked for, shortcut otherwise
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "out_indices, stages", [([-2, -1], ["stage3", "stage4"]), ([-1], ["stage4"]), ([1, -1], ["stage1", "stage4"])]
)
def test_negative_out_indices(out_indices, stages):
    backbone = make(VideoSwinBackbone, out_indices=out_indices).eval()
    assert backbone.out_features == stages
    with torch.no_grad():
        features = backbone(clip(1)).feature_maps
    widths = {"stem": 16, "stage1": 16, "stage2": 32, "stage3": 64, "stage4": 128}
    sides = {"stem": 16, "stage1": 16, "stage2": 8, "stage3": 4, "stage4": 2}
    assert [tuple(f.shape) for f in features] == [(1, widths[s], 4, sides[s], sides[s]) for s in stages]
    model = make(VideoSwinModel).eval()  # same seed: same weights
    with torch.no_grad():
        expected = model(clip(1)).last_hidden_state
    last = backbone.videoswin.layernorm  # the last stage's map is the model's normalised output
    assert last is not None
    torch.testing.assert_close(features[-1].flatten(2).transpose(1, 2), expected)


def _stages_run(backbone, **kwargs) -> list[int]:
    calls = []
    hooks = [
        stage.register_forward_hook(lambda module, args, output, index=index: calls.append(index))
        for index, stage in enumerate(backbone.videoswin.encoder.layers)
    ]
    with torch.no_grad():
        outputs = backbone(clip(1), **kwargs)
    for hook in hooks:
        hook.remove()
    return calls, outputs


def test_backbone_runs_only_the_stages_it_needs_unless_every_stage_is_asked_for():
    backbone = make(VideoSwinBackbone, out_features=["stage1", "stage2"]).eval()
    calls, outputs = _stages_run(backbone)
    assert calls == [0, 1] and outputs.hidden_states is None and outputs.attentions is None
    calls, outputs = _stages_run(backbone, output_hidden_states=True)
    assert calls == [0, 1, 2, 3] and len(outputs.hidden_states) == 5
    assert [h.shape[1] for h in outputs.hidden_states] == [16, 16, 32, 64, 128]  # [B, C, T, H, W] per stage
    calls, outputs = _stages_run(backbone, output_attentions=True)
    assert calls == [0, 1, 2, 3] and len(outputs.attentions) == NUM_BLOCKS
    assert len(outputs.feature_maps) == 2


# ------------------------------------------------------------------------------------------------------------------
# Attention maps under SDPA, bad inputs
# ------------------------------------------------------------------------------------------------------------------


def test_output_attentions_under_sdpa_warns():
    model = make(VideoSwinModel, attn_implementation="sdpa").eval()
    sdpa_logger = sdpa_attention.logger
    sdpa_logger.warning_once.cache_clear()
    with CaptureLogger(sdpa_logger) as captured, torch.no_grad():
        outputs = model(clip(1), output_attentions=True)
    assert "set your attention to `eager`" in captured.out
    assert outputs.attentions == ()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_integer_and_bool_pixel_values_raise(dtype):
    model = make(VideoSwinModel)
    with pytest.raises(ValueError, match=f"floating-point tensor of normalised frames, got dtype {dtype}"):
        model(torch.zeros(1, 8, 3, 32, 32, dtype=dtype))


@pytest.mark.parametrize("shape, axis", [((0, 8, 3, 32, 32), "batch"), ((1, 0, 3, 32, 32), "frames")])
def test_empty_pixel_values_raise(shape, axis):
    for cls in (VideoSwinModel, VideoSwinBackbone, VideoSwinForVideoClassification):
        with pytest.raises(ValueError, match=f"empty {axis} axis"):
            make(cls)(torch.zeros(shape))


def test_compile_fullgraph_with_recorded_outputs():
    """`_can_compile_fullgraph = True` is what this proves: no graph break, recorded outputs included."""
    assert VideoSwinModel._can_compile_fullgraph
    model = make(VideoSwinForVideoClassification).eval()
    pixel_values = clip(1, 4, 32)
    try:
        with torch.no_grad():
            expected = model(pixel_values, output_hidden_states=True, output_attentions=True)
            compiled = torch.compile(model, backend="eager", fullgraph=True)
            outputs = compiled(pixel_values, output_hidden_states=True, output_attentions=True)
    finally:
        torch._dynamo.reset()  # compiled code and guards of this test must not reach later compile tests
    torch.testing.assert_close(outputs.logits, expected.logits)
    assert len(outputs.hidden_states) == 5 and len(outputs.attentions) == NUM_BLOCKS
    torch.testing.assert_close(outputs.attentions[-1], expected.attentions[-1])
