"""Shared test fixtures: paths to ../shared, tiny configurations, determinism."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("VIDEOSWIN_SHARED_DIR", REPO_ROOT.parent / "shared"))
OFFICIAL_TINY_DIR = SHARED_DIR / "fixtures" / "official_tiny"
# The scripts' own modules (the demo's synthetic videos, the fine-tuning script's helpers, the conversion scripts'
# shared options) are not in the package; the tests import them from beside the scripts, as the scripts do.
sys.path[:0] = [str(REPO_ROOT / "examples"), str(REPO_ROOT / "conversion")]

# Nothing may reach a hub during the tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def official_tiny_dir() -> Path:
    if not OFFICIAL_TINY_DIR.is_dir():
        raise FileNotFoundError(
            f"The official fixtures are expected at {OFFICIAL_TINY_DIR} (../shared beside the checkout); "
            "set VIDEOSWIN_SHARED_DIR to point elsewhere."
        )
    return OFFICIAL_TINY_DIR


def tiny_config_kwargs(**overrides) -> dict:
    """A very small architecture that still exercises every stage, shift and padding path."""
    kwargs = dict(
        embed_dim=16,
        depths=(1, 2, 1, 1),
        num_heads=(1, 2, 2, 4),
        window_size=(2, 4, 4),
        patch_size=(2, 4, 4),
        num_frames=8,
        image_size=64,
        drop_path_rate=0.0,
        classifier_dropout_prob=0.0,
        num_labels=3,
    )
    kwargs.update(overrides)
    return kwargs


@pytest.fixture
def tiny_config():
    from transformers_videoswin import VideoSwinConfig

    return VideoSwinConfig(**tiny_config_kwargs())


# Stand-ins for files of transformers' own test tree, copied into the suites' cache (see tests/videoswin/).
collect_ignore_glob = ["videoswin/standins/*"]
