"""examples/demo.py plumbing on a very small budget: data generation, both runs, the pipeline, the final line.
(The full demo's accuracy numbers are measured by `make demo`, which takes a few minutes.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end_on_a_tiny_budget(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    command = [sys.executable, str(REPO / "examples" / "demo.py"), "--output-dir", str(tmp_path / "demo")]
    command += ["--num-train", "8", "--num-test", "8", "--max-steps", "2", "--batch-size", "4"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("eval accuracy: ")
    accuracy = float(lines[-1].split(": ")[1])
    assert 0.0 <= accuracy <= 1.0
    assert any("frames shuffled per clip" in line for line in lines)
    assert sum("-> " in line for line in lines) == 4  # four held-out videos through the pipeline
    model_dir = tmp_path / "demo" / "model_ordered"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "confusion_matrix.png").is_file()
    assert (tmp_path / "demo" / "data" / "data" / "train-00000-of-00001.parquet").is_file()
    timeline = tmp_path / "demo" / "timeline.png"  # the long video's sliding-window classification
    assert timeline.read_bytes()[:4] == b"\x89PNG" and (tmp_path / "demo" / "long_video.mp4").is_file()
    assert any("windows inside one motion with the right top-1 class" in line for line in lines)
