"""transformers' common-model checklist for Video Swin, plus parity with the official implementation."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import textwrap
import weakref

import pytest
import torch
from reference_videoswin import reference_forward
from torch._dynamo.utils import counters
from transformers import AutoBackbone, AutoConfig, AutoModel, AutoModelForVideoClassification

from conftest import REPO_ROOT, tiny_config_kwargs
from transformers_videoswin import (
    VideoSwinBackbone,
    VideoSwinConfig,
    VideoSwinForVideoClassification,
    VideoSwinModel,
)
from transformers_videoswin.checkpoints import convert_official_state_dict
from transformers_videoswin.model import cpu_windows, modeling_videoswin
from transformers_videoswin.model.modeling_videoswin import (
    SHIFT_MASK_VALUE,
    effective_window_and_shift,
    relative_position_index,
    shift_window_mask,
    window_partition,
)

PARITY_ATOL = 1e-4  # the tolerance against the official code's outputs
SDPA_EAGER_ATOL = 1e-5


def make_model(cls=VideoSwinForVideoClassification, attn_implementation: str = "sdpa", **overrides):
    torch.manual_seed(0)
    config = VideoSwinConfig(**tiny_config_kwargs(**overrides))
    model = cls(config).eval()
    model.config._attn_implementation = attn_implementation
    return model


def forward_on(path: str):
    """`"cpu"`: the CPU forward of `cpu_windows.py` (the default on the CPU); `"reference"`: the model file's own."""
    return cpu_windows.reference_forward() if path == "reference" else contextlib.nullcontext()


PATHS = ["cpu", "reference"]


def clip(batch: int = 2, frames: int = 8, height: int = 64, width: int = 64) -> torch.Tensor:
    return torch.randn(batch, frames, 3, height, width, generator=torch.Generator().manual_seed(1))


# ------------------------------------------------------------------------------------------------------------
# Parity with the official implementation (golden outputs computed by the official code)
# ------------------------------------------------------------------------------------------------------------


def official_tiny(official_tiny_dir, cls, target, attn_implementation="sdpa"):
    fixture = json.loads((official_tiny_dir / "fixture.json").read_text())
    checkpoint = torch.load(official_tiny_dir / "official_checkpoint.pth", weights_only=True)
    config = VideoSwinConfig(
        embed_dim=fixture["embed_dim"],
        depths=fixture["depths"],
        num_heads=fixture["num_heads"],
        window_size=fixture["window_size"],
        patch_size=fixture["patch_size"],
        num_labels=fixture["num_classes"],
    )
    model = cls(config).eval()
    model.config._attn_implementation = attn_implementation
    state_dict = convert_official_state_dict(checkpoint["state_dict"], target=target)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    golden = torch.load(official_tiny_dir / "golden.pt", weights_only=True)
    return model, golden, golden["pixel_values_BCTHW"].permute(0, 2, 1, 3, 4)


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_golden_logits_match_official(official_tiny_dir, attn_implementation):
    model, golden, pixel_values = official_tiny(
        official_tiny_dir, VideoSwinForVideoClassification, "classification", attn_implementation
    )
    with torch.no_grad():
        logits = model(pixel_values).logits
    torch.testing.assert_close(logits, golden["logits"], atol=PARITY_ATOL, rtol=0)


def test_golden_backbone_features_match_official(official_tiny_dir):
    model, golden, pixel_values = official_tiny(official_tiny_dir, VideoSwinBackbone, "backbone")
    with torch.no_grad():
        (features,) = model(pixel_values).feature_maps
    assert features.shape == golden["backbone_features_BCTHW"].shape
    torch.testing.assert_close(features, golden["backbone_features_BCTHW"], atol=PARITY_ATOL, rtol=0)


# ------------------------------------------------------------------------------------------------------------
# Quirks of the official geometry, checked against a literal transcription of the official code
# ------------------------------------------------------------------------------------------------------------


def official_compute_mask(size, window, shift):
    """The official `compute_mask` (slices over the padded volume, -100 where labels differ)."""
    depth, height, width = size
    img_mask = torch.zeros((1, depth, height, width, 1))
    count = 0
    for d in slice(-window[0]), slice(-window[0], -shift[0]), slice(-shift[0], None):
        for h in slice(-window[1]), slice(-window[1], -shift[1]), slice(-shift[1], None):
            for w in slice(-window[2]), slice(-window[2], -shift[2]), slice(-shift[2], None):
                img_mask[:, d, h, w, :] = count
                count += 1
    windows = window_partition(img_mask, window)[0, ..., 0]
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


@pytest.mark.parametrize(
    "size, window, shift",
    [((16, 56, 56), (8, 7, 7), (4, 3, 3)), ((8, 14, 14), (2, 7, 7), (1, 3, 3)), ((16, 7, 7), (8, 7, 7), (4, 0, 0))],
)
def test_shift_mask_matches_official(size, window, shift):
    ours = shift_window_mask(size, window, shift, torch.device("cpu"))
    torch.testing.assert_close(ours, official_compute_mask(size, window, shift), atol=0, rtol=0)
    assert set(ours.unique().tolist()) <= {0.0, SHIFT_MASK_VALUE}


def test_effective_window_uses_less_or_equal():
    # An axis equal to the window is clipped and unshifted (official `<=`), a larger one keeps window and shift.
    assert effective_window_and_shift((8, 7, 14), (8, 7, 7), (4, 3, 3)) == ((8, 7, 7), (0, 0, 3))
    assert effective_window_and_shift((16, 7, 7), (8, 7, 7), (4, 3, 3)) == ((8, 7, 7), (4, 0, 0))


def test_relative_position_index_formula_and_slice_quirk():
    window = (2, 3, 3)
    index = relative_position_index(window)
    coords = [(d, h, w) for d in range(2) for h in range(3) for w in range(3)]
    for a, (da, ha, wa) in enumerate(coords):
        for b, (db, hb, wb) in enumerate(coords):
            expected = (da - db + 1) * 5 * 5 + (ha - hb + 2) * 5 + (wa - wb + 2)
            assert index[a, b] == expected

    model = make_model(window_size=(2, 3, 3))
    attention = model.videoswin.encoder.layers[0].blocks[0].attention
    small = (1, 2, 2)  # four tokens: the faithful bias is the top-left block of the full window's index
    faithful = attention.relative_position_bias(small)
    expected = attention.relative_position_bias_table[index[:4, :4].reshape(-1)].view(4, 4, -1).permute(2, 0, 1)
    torch.testing.assert_close(faithful, expected)

    model.config.use_exact_relative_position_index = True
    exact = attention.relative_position_bias(small)
    geometric = relative_position_index(small, table_window=window)
    expected = attention.relative_position_bias_table[geometric.reshape(-1)].view(4, 4, -1).permute(2, 0, 1)
    torch.testing.assert_close(exact, expected)
    assert not torch.equal(exact, faithful)
    # Only the time axis shrinking keeps the slice geometrically right, so both modes agree there.
    model.config.use_exact_relative_position_index = False
    torch.testing.assert_close(
        attention.relative_position_bias((1, 3, 3)),
        attention.relative_position_bias_table[relative_position_index((1, 3, 3), window).reshape(-1)]
        .view(9, 9, -1)
        .permute(2, 0, 1),
    )


def test_window_partition_order():
    """Windows in (d, h, w) order, tokens inside a window in (d, h, w) order, as the official `window_partition`."""
    volume = torch.arange(4 * 6 * 9).view(1, 4, 6, 9, 1)
    windows = window_partition(volume, (2, 3, 3))
    assert windows.shape == (1, 2 * 2 * 3, 18, 1)
    # Window (1, 0, 2) starts at token (2, 0, 6); its second token is (2, 0, 7), its fourth (2, 1, 6).
    window = windows[0, 1 * 6 + 0 * 3 + 2, :, 0]
    assert window[0] == volume[0, 2, 0, 6, 0] and window[1] == volume[0, 2, 0, 7, 0]
    assert window[3] == volume[0, 2, 1, 6, 0] and window[9] == volume[0, 3, 0, 6, 0]
    assert sorted(windows.flatten().tolist()) == list(range(4 * 6 * 9))


# ------------------------------------------------------------------------------------------------------------
# The optimised paths vs the plain official algorithm (tests/model/reference_videoswin.py)
# ------------------------------------------------------------------------------------------------------------

REFERENCE_ATOL = 1e-5  # the tolerance against the unoptimised eager path (float32)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("frames, height, width", [(8, 64, 64), (5, 50, 70), (3, 33, 97), (12, 96, 64)])
def test_inference_and_training_paths_match_plain_reference(path, attn_implementation, frames, height, width):
    """Both forwards, inference (CPU: in place) and autograd paths vs pad/roll/partition with full masks; padding,
    shifts on every axis and the effective-window rule are all exercised by these sizes."""
    model = make_model(VideoSwinModel, attn_implementation=attn_implementation, depths=(2, 2, 2, 2))
    pixel_values = clip(2, frames, height, width)
    with torch.no_grad():
        reference = reference_forward(model, pixel_values)
    with forward_on(path), torch.no_grad():
        inference = model(pixel_values).last_hidden_state
    with forward_on(path), torch.enable_grad():
        training_path = model(pixel_values).last_hidden_state
    torch.testing.assert_close(inference, reference, atol=REFERENCE_ATOL, rtol=REFERENCE_ATOL)
    torch.testing.assert_close(training_path.detach(), reference, atol=REFERENCE_ATOL, rtol=REFERENCE_ATOL)


def test_inference_path_chunks_and_leaves_inputs_untouched(monkeypatch):
    """With chunks of a few windows / tokens, and the patch embedding and merging run in slabs (clips, time slices),
    every stage's output stays the same and the embeddings are not modified in place."""
    model = make_model(VideoSwinModel)
    pixel_values = clip(2, 5, 50, 70)
    with torch.no_grad():
        whole = model(pixel_values, output_hidden_states=True)
        monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", 4096)
        chunked = model(pixel_values, output_hidden_states=True)
        with cpu_windows.reference_forward():
            embeddings = model.embeddings(pixel_values).flatten(1, 3)  # one call: no slabs
    # Smaller chunks change how the matmuls block their sums, so float32 rounding differs by a few ulps (1.4e-6 was
    # seen on outputs of magnitude ~0.3): the bar is the reference tolerance, not bit equality.
    torch.testing.assert_close(chunked.last_hidden_state, whole.last_hidden_state, atol=REFERENCE_ATOL, rtol=1e-5)
    for chunked_stage, whole_stage in zip(chunked.hidden_states, whole.hidden_states, strict=True):
        torch.testing.assert_close(chunked_stage, whole_stage, atol=REFERENCE_ATOL, rtol=1e-5)
    torch.testing.assert_close(chunked.hidden_states[0], embeddings, atol=REFERENCE_ATOL, rtol=1e-5)


@pytest.mark.parametrize("output_hidden_states", [False, True])
def test_stage_outputs_are_freed_once_read_at_inference(output_hidden_states):
    """Without hidden states, each stage's output is freed once the next stage has read it (at batch 8, Swin-T's
    first stage output is 154 MB); with them, all are kept. (The embeddings are the encoder's argument: they live as
    long as its call.)"""
    model = make_model(VideoSwinModel)
    produced = []

    def remember(module, args, output):
        produced.append(weakref.ref(output[1]))

    for stage in model.encoder.layers[:-1]:
        stage.register_forward_hook(remember)
    alive = []
    model.encoder.layers[-1].register_forward_pre_hook(lambda *_: alive.extend(ref() is not None for ref in produced))
    with torch.no_grad():
        model(clip(), output_hidden_states=output_hidden_states)
    assert alive == [output_hidden_states] * 3  # the first three stages' outputs


# ------------------------------------------------------------------------------------------------------------
# Outputs: shapes, counts, tuple vs dict, batching, odd sizes
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("frames, height, width", [(8, 64, 64), (5, 50, 70), (3, 33, 97)])
def test_any_size_works_and_shapes(frames, height, width):
    model = make_model(VideoSwinModel)
    with torch.no_grad():
        out = model(clip(2, frames, height, width), output_hidden_states=True)
    tokens = (math.ceil(frames / 2), math.ceil(height / 4), math.ceil(width / 4))
    grids = [tokens]
    for _ in range(3):
        grids.append((grids[-1][0], math.ceil(grids[-1][1] / 2), math.ceil(grids[-1][2] / 2)))
    widths = [16, 16, 32, 64, 128]
    assert out.last_hidden_state.shape == (2, math.prod(grids[-1]), 128)
    assert out.pooler_output.shape == (2, 128)
    assert len(out.hidden_states) == len(out.reshaped_hidden_states) == 5
    for index, (flat, spatial) in enumerate(zip(out.hidden_states, out.reshaped_hidden_states)):
        grid = grids[max(index - 1, 0)]
        assert spatial.shape == (2, widths[index], *grid)
        assert flat.shape == (2, math.prod(grid), widths[index])
    torch.testing.assert_close(out.pooler_output, out.last_hidden_state.mean(1))


def test_attentions_eager_counts_and_shapes():
    model = make_model(VideoSwinModel, attn_implementation="eager")
    with torch.no_grad():
        out = model(clip(2, 8, 64, 64), output_attentions=True)
    # One map per block; token grids 4x16x16 -> 4x8x8 -> 4x4x4 -> 4x2x2 with window 2x4x4.
    assert len(out.attentions) == sum(model.config.depths)
    expected = [(2 * 2 * 4 * 4, 1, 32, 32), (2 * 2 * 2 * 2, 2, 32, 32), (2 * 2 * 2 * 2, 2, 32, 32), (2 * 2, 2, 32, 32)]
    expected.append((2 * 2, 4, 2 * 2 * 2, 2 * 2 * 2))
    assert [tuple(a.shape) for a in out.attentions] == expected
    for attention in out.attentions:
        torch.testing.assert_close(attention.sum(-1), torch.ones(attention.shape[:-1]))


def test_sdpa_matches_eager():
    eager = make_model(attn_implementation="eager")
    sdpa = make_model(attn_implementation="sdpa")
    pixel_values = clip(2, 8, 64, 80)
    with torch.no_grad():
        torch.testing.assert_close(
            sdpa(pixel_values).logits, eager(pixel_values).logits, atol=SDPA_EAGER_ATOL, rtol=SDPA_EAGER_ATOL
        )


def test_tuple_and_dict_outputs_agree():
    model = make_model()
    pixel_values = clip()
    with torch.no_grad():
        as_dict = model(pixel_values, output_hidden_states=True)
        as_tuple = model(pixel_values, output_hidden_states=True, return_dict=False)
        model.config.return_dict = False
        from_config = model(pixel_values)
    assert isinstance(as_tuple, tuple) and isinstance(from_config, tuple)
    torch.testing.assert_close(as_tuple[0], as_dict.logits)
    torch.testing.assert_close(from_config[0], as_dict.logits)
    assert len(as_tuple[1]) == len(as_dict.hidden_states)


def test_batch_of_one_equals_batch_slice():
    model = make_model()
    pixel_values = clip(3)
    with torch.no_grad():
        batched = model(pixel_values).logits
        single = model(pixel_values[1:2]).logits
    torch.testing.assert_close(single, batched[1:2], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "problem_type, labels",
    [
        ("single_label_classification", torch.tensor([0, 2])),
        ("multi_label_classification", torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])),
        ("regression", torch.randn(2, 3)),
    ],
)
def test_loss_per_problem_type(problem_type, labels):
    model = make_model(problem_type=problem_type)
    out = model(clip(), labels=labels)
    logits = out.logits
    if problem_type == "single_label_classification":
        expected = torch.nn.functional.cross_entropy(logits, labels)
    elif problem_type == "multi_label_classification":
        expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    else:
        expected = torch.nn.functional.mse_loss(logits, labels)
    torch.testing.assert_close(out.loss, expected)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.randn(8, 3, 64, 64), "5D tensor"),
        (torch.randn(1, 3, 8, 64, 64), "official mmaction layout"),
        (torch.randn(1, 8, 4, 64, 64), "channels=3"),
    ],
)
def test_bad_pixel_values_raise(bad, message):
    model = make_model()
    with pytest.raises(ValueError, match=message):
        model(bad)
    with pytest.raises(ValueError, match="pixel_values"):
        model(None)


def test_backbone_feature_maps_and_channels():
    config = VideoSwinConfig(**tiny_config_kwargs(out_features=["stem", "stage1", "stage2", "stage3", "stage4"]))
    backbone = VideoSwinBackbone(config).eval()
    assert backbone.channels == [16, 16, 32, 64, 128]
    with torch.no_grad():
        out = backbone(clip(1, 8, 64, 96))
    shapes = [tuple(f.shape) for f in out.feature_maps]
    assert shapes == [(1, 16, 4, 16, 24), (1, 16, 4, 16, 24), (1, 32, 4, 8, 12), (1, 64, 4, 4, 6), (1, 128, 4, 2, 3)]
    for feature in out.feature_maps:  # each returned stage is layer-normalised over channels
        torch.testing.assert_close(feature.mean(1), torch.zeros_like(feature.mean(1)), atol=1e-5, rtol=0)


def test_backbone_without_last_stage_has_no_unused_parameters():
    config = VideoSwinConfig(**tiny_config_kwargs(out_features=["stage1", "stage2"]))
    backbone = VideoSwinBackbone(config)
    assert backbone.videoswin.layernorm is None
    sum(feature.sum() for feature in backbone(clip(1)).feature_maps).backward()
    unused = {n for n, p in backbone.named_parameters() if p.grad is None}
    later_stages = {
        n
        for n, _ in backbone.named_parameters()
        if n.startswith(
            ("videoswin.encoder.layers.2.", "videoswin.encoder.layers.3.", "videoswin.encoder.layers.1.downsample.")
        )
    }
    assert unused == later_stages  # the stages after stage2 are not run at all


# ------------------------------------------------------------------------------------------------------------
# Training: gradient checkpointing, bf16
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, granularity", [("cpu", "layer"), ("reference", "layer"), ("cpu", "chunk")])
@pytest.mark.parametrize("use_reentrant", [False, True])
def test_gradient_checkpointing_gives_identical_gradients(monkeypatch, use_reentrant, path, granularity):
    """Whole-layer recomputation (transformers' GradientCheckpointingLayer) on either forward, and chunk-level
    recomputation on the CPU forward (several chunks of windows and of tokens per layer), give the plain gradients."""
    monkeypatch.setattr(cpu_windows, "CHUNK_BYTES", 16384)
    pixel_values, labels = clip(2, 5, 50, 70), torch.tensor([0, 1])
    attention_forward, calls = modeling_videoswin.VideoSwinAttention.forward, []

    def counting_forward(*args, **kwargs):
        calls.append(1)
        return attention_forward(*args, **kwargs)

    monkeypatch.setattr(modeling_videoswin.VideoSwinAttention, "forward", counting_forward)
    grads, attention_calls = [], []
    for checkpointing in (False, True):
        model = make_model(drop_path_rate=0.2).train()
        calls.clear()
        if checkpointing:
            model.activation_checkpointing_enable({"use_reentrant": use_reentrant})
            layers = [layer for stage in model.videoswin.encoder.layers for layer in stage.blocks]
            if granularity == "chunk":
                cpu_windows.enable_chunk_checkpointing(model)
            assert all(layer.gradient_checkpointing == (granularity == "layer") for layer in layers)
        torch.manual_seed(3)
        with forward_on(path):
            model(pixel_values, labels=labels).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
        attention_calls.append(len(calls))
    assert attention_calls[1] > attention_calls[0]  # backward recomputed the attention: checkpointing is on
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-6, rtol=1e-5, msg=name)


def test_training_after_inference_mode_reuses_cached_layouts():
    """A pipeline runs under `torch.inference_mode`; the layouts it caches must still work for training afterwards."""
    model = make_model()
    pixel_values = clip()
    with torch.inference_mode():
        model(pixel_values)
    model.train()
    model(pixel_values, labels=torch.tensor([0, 1])).loss.backward()
    assert model.classifier.weight.grad is not None


def test_bf16_forward():
    model = make_model()
    reference = model(clip()).logits
    model = model.to(torch.bfloat16)
    with torch.no_grad():
        logits = model(clip()).logits
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), reference, atol=5e-2, rtol=5e-2)


# ------------------------------------------------------------------------------------------------------------
# Serialisation: save/load, meta-device loading, Auto classes
# ------------------------------------------------------------------------------------------------------------


def test_save_load_round_trip_twice(tmp_path):
    model = make_model()
    pixel_values = clip()
    with torch.no_grad():
        reference = model(pixel_values).logits
    for round_index in range(2):
        directory = tmp_path / f"round{round_index}"
        model.save_pretrained(directory)
        assert (directory / "model.safetensors").is_file()
        model = VideoSwinForVideoClassification.from_pretrained(directory).eval()
        with torch.no_grad():
            torch.testing.assert_close(model(pixel_values).logits, reference, atol=0, rtol=0)


def test_from_pretrained_on_meta_device_recomputes_buffers(tmp_path):
    """`from_pretrained` builds on the meta device: the non-persistent index must be recomputed by `_init_weights`."""
    make_model().save_pretrained(tmp_path)
    model = VideoSwinForVideoClassification.from_pretrained(tmp_path)
    for stage in model.videoswin.encoder.layers:
        for block in stage.blocks:
            index = block.attention.relative_position_index
            assert index.device.type == "cpu"
            assert torch.equal(index, relative_position_index(block.attention.window_size))


def test_head_reinitialised_for_new_labels(tmp_path):
    make_model().save_pretrained(tmp_path)
    model = VideoSwinForVideoClassification.from_pretrained(tmp_path, num_labels=7, ignore_mismatched_sizes=True)
    assert model.classifier.weight.shape == (7, 128)
    assert torch.isfinite(model.classifier.weight).all() and model.classifier.weight.std() > 0


def test_auto_classes_in_a_fresh_process(tmp_path):
    model = make_model()
    model.save_pretrained(tmp_path)
    torch.save(clip(), tmp_path / "clip.pt")
    with torch.no_grad():
        torch.save(model(clip()).logits, tmp_path / "logits.pt")
    script = textwrap.dedent(
        f"""
        import torch
        import transformers_videoswin  # registers the Auto classes
        from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, AutoBackbone
        path = {str(tmp_path)!r}
        config = AutoConfig.from_pretrained(path)
        assert type(config).__name__ == "VideoSwinConfig"
        model = AutoModelForVideoClassification.from_pretrained(path).eval()
        with torch.no_grad():
            logits = model(torch.load(path + "/clip.pt", weights_only=True)).logits
        torch.testing.assert_close(logits, torch.load(path + "/logits.pt", weights_only=True))
        assert type(AutoModel.from_pretrained(path)).__name__ == "VideoSwinModel"
        assert type(AutoBackbone.from_config(config)).__name__ == "VideoSwinBackbone"
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_auto_classes_registered_in_process():
    config = AutoConfig.for_model("videoswin", **tiny_config_kwargs())
    assert isinstance(config, VideoSwinConfig)
    assert isinstance(AutoModel.from_config(config), VideoSwinModel)
    assert isinstance(AutoModelForVideoClassification.from_config(config), VideoSwinForVideoClassification)
    assert isinstance(AutoBackbone.from_config(config), VideoSwinBackbone)


# ------------------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------------------


def test_torch_compile_inference_fullgraph_without_graph_breaks():
    """`fullgraph=True` raises on any graph break; the compiled model file's forward (the accelerators' path, here on
    the CPU inside `reference_forward()`) matches eager. (Dynamic sizes are covered by the export test below:
    `torch.compile(dynamic=True)` works too but takes minutes to trace.)"""
    model = make_model(depths=(2, 2, 2, 2))
    pixel_values = clip(2, 5, 50, 70)
    try:
        with torch.no_grad(), cpu_windows.reference_forward():
            reference = model(pixel_values).logits
            compiled = torch.compile(model, backend="eager", fullgraph=True)
            torch.testing.assert_close(compiled(pixel_values).logits, reference, atol=1e-5, rtol=1e-5)
    finally:
        torch._dynamo.reset()


def test_torch_compile_on_the_cpu_matches_eager():
    """`torch.compile(model)` (inductor) on a CPU input, where the CPU forward runs as eager islands: eager's logits."""
    model = make_model(depths=(2, 2, 2, 2))
    pixel_values = clip(2, 5, 50, 70)
    counters.clear()
    try:
        with torch.no_grad():
            expected = model(pixel_values).logits
            logits = torch.compile(model)(pixel_values).logits
    finally:
        torch._dynamo.reset()
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)
    breaks = counters["graph_break"]
    assert any("embeddings_forward" in reason for reason in breaks)
    assert any("encoder_forward" in reason for reason in breaks)  # the encoder is one island, not one per layer
    assert not any("layer_forward" in reason or "patch_merging_forward" in reason for reason in breaks)


def test_torch_compile_training_fullgraph_without_graph_breaks():
    model = make_model(depths=(2, 2, 2, 2)).train()
    pixel_values, labels = clip(2, 5, 50, 70), torch.tensor([0, 1])
    try:
        with cpu_windows.reference_forward():
            loss = torch.compile(model, backend="aot_eager", fullgraph=True)(pixel_values, labels=labels).loss
    finally:
        torch._dynamo.reset()
    loss.backward()
    assert model.videoswin.encoder.layers[1].blocks[1].attention.relative_position_bias_table.grad.abs().sum() > 0


def test_both_forwards_give_the_same_gradients():
    """The CPU forward and the model file's own train the same: every parameter gradient agrees (the bias table
    included)."""
    pixel_values, labels = clip(2, 5, 50, 70), torch.tensor([0, 1])
    grads = []
    for path in PATHS:
        model = make_model().train()
        with forward_on(path):
            model(pixel_values, labels=labels).loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, atol=1e-6, rtol=1e-5, msg=name)


def test_runtime_choices_of_old_config_files_are_dropped():
    """Version 0.1 saved the CPU strategy and the checkpointing granularity in config.json; they load, and are gone."""
    config = VideoSwinConfig(
        **tiny_config_kwargs(window_strategy="chunked", gradient_checkpointing_granularity="chunk")
    )
    saved = config.to_dict()
    assert "window_strategy" not in saved and "gradient_checkpointing_granularity" not in saved


@pytest.mark.parametrize("training", [False, True])
def test_accelerator_path_launches_a_constant_number_of_kernels(training):
    """On an accelerator (the meta device stands in) the count of non-view operators of a step does not depend on
    the batch or the clip size (sizes here with the same padding and shift pattern): no per-chunk or per-window
    work. (At batch 1 autograd skips the reductions over the batch that broadcasting needs, so counts start at 2.)"""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.total += not func.is_view
            return func(*args, **(kwargs or {}))

    model = make_model(depths=(2, 2, 2, 2)).to("meta").train(training)
    counts = {}
    for batch, frames, size in [(2, 8, 64), (8, 8, 64), (3, 16, 64)]:
        pixel_values = torch.empty(batch, frames, 3, size, size, device="meta")
        model(pixel_values)  # builds the cached shift masks of this size, once
        with torch.set_grad_enabled(training), Count() as counter:
            logits = model(pixel_values).logits
            if training:
                logits.sum().backward()
        model.zero_grad(set_to_none=True)  # else later steps also count the accumulation of gradients
        counts[(batch, frames, size)] = counter.total
    assert len(set(counts.values())) == 1, counts


def test_model_builds_on_the_meta_device():
    """Deferred-init tools and FSDP build under `torch.device("meta")`: nothing in `__init__` may read tensor data."""
    with torch.device("meta"):
        model = VideoSwinForVideoClassification(VideoSwinConfig(**tiny_config_kwargs(drop_path_rate=0.2)))
    assert all(p.device.type == "meta" for p in model.parameters())
    rates = [block.drop_path.drop_prob for stage in model.videoswin.encoder.layers for block in stage.blocks]
    expected = torch.linspace(0, 0.2, len(rates)).tolist()  # the official schedule
    assert rates == pytest.approx(expected, abs=1e-7)


def test_drop_path_drops_whole_samples_and_rescales():
    drop = modeling_videoswin.VideoSwinDropPath(0.5).train()
    torch.manual_seed(0)
    out = drop(torch.ones(64, 3, 4))
    per_sample = out.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()  # one decision per sample
    assert 0 < (per_sample[:, 0] == 0).sum() < 64
    assert torch.equal(drop.eval()(torch.ones(2, 3)), torch.ones(2, 3))


def test_gradient_checkpointing_every_n_layers_and_disable():
    model = make_model(depths=(2, 2, 2, 2)).train()
    model.activation_checkpointing_enable({"use_reentrant": False}, every_n_layers=2)
    blocks = [block for stage in model.videoswin.encoder.layers for block in stage.blocks]
    assert [block.gradient_checkpointing for block in blocks] == [True, False] * 4
    model(clip(), labels=torch.tensor([0, 1])).loss.backward()
    model.activation_checkpointing_disable()
    assert not any(block.gradient_checkpointing for block in blocks)
