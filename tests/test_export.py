"""Exported models (`transformers_videoswin.export`) compute the right logits for every input they accept, and
reject every other input: swept over clip lengths and frame sizes against the eager model."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification
from transformers_videoswin.export import export_onnx, export_program

# (batch, frames, height, width) of the traced clip; the tiny config has patch_t = window_t = 2.
TRACED = (2, 8, 64, 64)
LENGTHS = range(1, 18)
SIZES = [(64, 64), (56, 72)]


def tiny_model() -> VideoSwinForVideoClassification:
    """Two blocks in stage 2, so that shifted windows (and their masks) are in the traced graph."""
    torch.manual_seed(0)
    return VideoSwinForVideoClassification(VideoSwinConfig(**tiny_config_kwargs(depths=(1, 2, 1, 1)))).eval()


def clip(batch: int, frames: int, height: int, width: int) -> torch.Tensor:
    return torch.randn(batch, frames, 3, height, width)


def sweep(model, run, tolerance: float, sizes=SIZES) -> set[tuple[int, int, int]]:
    """Runs `run` over `LENGTHS x sizes`; every answer must match eager to `tolerance`. Returns the accepted shapes."""
    accepted = set()
    for height, width in sizes:
        for frames in LENGTHS:
            pixel_values = clip(1, frames, height, width)
            try:
                logits = run(pixel_values)
            except Exception:  # rejected: the other allowed outcome
                continue
            with torch.no_grad():
                expected = model(pixel_values).logits
            torch.testing.assert_close(logits, expected, atol=tolerance, rtol=tolerance, msg=f"{frames} frames")
            accepted.add((frames, height, width))
    return accepted


def test_exported_program_is_right_or_rejects_over_lengths_and_sizes():
    """`torch.export` keeps time dynamic over the lengths that keep the traced window geometry (8, 12, 16 frames
    here) and its guards reject the others, such as 9 frames (where a graph without guards is wrong)."""
    model = tiny_model()
    program = export_program(model, clip(*TRACED)).module()
    accepted = sweep(model, lambda pixel_values: program(pixel_values)[0], tolerance=1e-5)
    assert {(8, 64, 64), (12, 64, 64), (16, 64, 64)} <= accepted
    assert (9, 64, 64) not in accepted and all((height, width) == (64, 64) for _, height, width in accepted)
    with pytest.raises(AssertionError, match="Guard failed"):
        program(clip(1, 9, 64, 64))
    for batch in (1, 3):  # dynamic batch
        pixel_values = clip(batch, 12, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(program(pixel_values)[0], model(pixel_values).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("traced", [TRACED, (2, 5, 50, 70)], ids=["8x64x64", "5x50x70-padded"])
def test_onnx_model_is_right_or_rejects_over_lengths_and_sizes(tmp_path, traced):
    """ONNX has no shape guards: the graph serves the traced length and frame size only (any batch), and
    onnxruntime refuses every other shape with an error that names the expected dimension. The second traced clip
    needs padding in time, height and width."""
    import onnxruntime

    model = tiny_model()
    session = onnxruntime.InferenceSession(str(export_onnx(model, tmp_path / "videoswin.onnx", clip(*traced))))

    def run(pixel_values: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"pixel_values": pixel_values.numpy()})[0])

    _, frames, height, width = traced
    assert sweep(model, run, tolerance=1e-4, sizes=[(height, width), (56, 72)]) == {(frames, height, width)}
    with pytest.raises(Exception, match=f"Got: {frames + 1} Expected: {frames}"):
        run(clip(1, frames + 1, height, width))
    for batch in (1, 3):  # dynamic batch
        pixel_values = clip(batch, frames, height, width)
        with torch.no_grad():
            torch.testing.assert_close(run(pixel_values), model(pixel_values).logits, atol=1e-4, rtol=1e-4)


def test_onnx_model_runs_in_openvino_and_onnxruntime_with_the_same_logits(tmp_path):
    """A deployer's two CPU runtimes both run the ONNX export and agree with PyTorch to 1e-4, at the traced batch and
    another. OpenVINO is asked for float32: on CPUs with native bf16 it would otherwise compute in bf16."""
    openvino = pytest.importorskip("openvino")
    import onnxruntime

    model = tiny_model()
    path = export_onnx(model, tmp_path / "videoswin.onnx", clip(*TRACED))
    core = openvino.Core()
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        pixel_values = clip(batch, *TRACED[1:])
        with torch.no_grad():
            expected = model(pixel_values).logits
        for runtime, logits in (
            ("openvino", compiled({0: pixel_values.numpy()})[0]),
            ("onnxruntime", session.run(None, {"pixel_values": pixel_values.numpy()})[0]),
        ):
            difference = (torch.from_numpy(logits) - expected).abs().max().item()
            assert difference <= 1e-4, f"{runtime} logits differ from PyTorch's by {difference:.2e} at batch {batch}"
