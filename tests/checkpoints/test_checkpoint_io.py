"""Safe checkpoint loading: weights_only by default, full unpickling only when trusted, clear errors."""

from __future__ import annotations

import argparse

import pytest
import torch

from transformers_videoswin.checkpoints import ConversionError, convert_official_checkpoint, load_checkpoint
from transformers_videoswin.checkpoints.checkpoint_io import is_url, official_state_dict, resolve

pytest_plugins = ["conversion_fixtures"]


@pytest.fixture
def pickled_checkpoint(official_checkpoint, tmp_path):
    """The official fixture with a Python object in its meta (as mmcv training runs sometimes store)."""
    path = tmp_path / "with_namespace.pth"
    meta = dict(official_checkpoint["meta"], args=argparse.Namespace(lr=1e-3))
    torch.save({"meta": meta, "state_dict": official_checkpoint["state_dict"]}, path)
    return path


def test_objects_beyond_tensors_require_trust(pickled_checkpoint):
    with pytest.raises(
        ConversionError, match=r"--trust-checkpoint.*arbitrary code|arbitrary code.*--trust-checkpoint"
    ):
        load_checkpoint(pickled_checkpoint)
    assert isinstance(load_checkpoint(pickled_checkpoint, trust_checkpoint=True)["meta"]["args"], argparse.Namespace)


def test_converter_refuses_untrusted_pickles_and_converts_trusted_ones(pickled_checkpoint):
    with pytest.raises(ConversionError, match="--trust-checkpoint"):
        convert_official_checkpoint(pickled_checkpoint)
    result = convert_official_checkpoint(pickled_checkpoint, trust_checkpoint=True)
    assert result.report.ok and result.report.round_trip_exact


def test_layouts_and_paths(official_checkpoint, tmp_path):
    state_dict, meta = official_state_dict(official_checkpoint)
    assert state_dict is official_checkpoint["state_dict"] and "config" in meta
    assert official_state_dict(state_dict) == (state_dict, {})
    with pytest.raises(ConversionError, match="Unrecognised checkpoint layout"):
        official_state_dict({"epoch": 3})
    with pytest.raises(ConversionError, match="No such checkpoint"):
        resolve(tmp_path / "missing.pth")
    assert is_url("https://github.com/x/y.pth") and not is_url(tmp_path / "y.pth")
