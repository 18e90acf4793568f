"""Fixtures shared by the conversion tests, loaded as a plugin (`pytest_plugins = ["conversion_fixtures"]` in each
module): a conftest.py in this folder would shadow the top-level `conftest` module that other tests import from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def converted_dir(official_tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official fixture converted (and verified against golden.pt) into a Hub-ready directory."""
    from transformers_videoswin.checkpoints import convert_official_checkpoint, save_hub_directory

    result = convert_official_checkpoint(
        official_tiny_dir / "official_checkpoint.pth", expected_output=official_tiny_dir / "golden.pt"
    )
    result.report.require_ok()
    return save_hub_directory(result.model, tmp_path_factory.mktemp("converted"), sampling=result.sampling)


@pytest.fixture(scope="session")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-frame 72x96 mp4 of noise (PyAV), long enough for 32-frame sampling."""
    import av
    import numpy as np

    path = tmp_path_factory.mktemp("video") / "noise.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 96, 72, "yuv420p"
        for _ in range(40):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (72, 96, 3), dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture
def official_checkpoint(official_tiny_dir: Path) -> dict:
    return torch.load(official_tiny_dir / "official_checkpoint.pth", weights_only=True)


@pytest.fixture
def golden(official_tiny_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(official_tiny_dir / "golden.pt", weights_only=True)
