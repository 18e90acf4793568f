"""Model cards of the released checkpoints: metadata parses and carries the official figures; snippets are valid."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from transformers_videoswin.checkpoints.model_cards import DEFAULT_NAMESPACE, render_card
from transformers_videoswin.checkpoints.released import RELEASED_CHECKPOINTS

CARDS_DIR = Path(__file__).resolve().parents[2] / "model_cards"

# The spec's table (top-1, top-5, dataset id, views), typed in independently of `released.py`.
EXPECTED = {
    "swin_tiny_patch244_window877_kinetics400_1k": (78.8, 93.6, "kinetics-400", "4 clips x 3 crops"),
    "swin_small_patch244_window877_kinetics400_1k": (80.6, 94.5, "kinetics-400", "4 clips x 3 crops"),
    "swin_base_patch244_window877_kinetics400_1k": (80.6, 94.6, "kinetics-400", "4 clips x 3 crops"),
    "swin_base_patch244_window877_kinetics400_22k": (82.7, 95.5, "kinetics-400", "4 clips x 3 crops"),
    "swin_base_patch244_window877_kinetics600_22k": (84.0, 96.5, "kinetics-600", "4 clips x 3 crops"),
    "swin_base_patch244_window1677_sthv2": (69.6, 92.7, "something-something-v2", "1 clip x 3 crops"),
    "swin_base_patch244_window1677_kinetics400_22k": (None, None, "kinetics-400", None),
}


def split_card(text: str) -> tuple[dict, str]:
    match = re.fullmatch(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, "a card starts with a YAML block between --- lines"
    return yaml.safe_load(match.group(1)), match.group(2)


def python_blocks(body: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", body, re.S)


def test_one_card_per_released_checkpoint_and_up_to_date():
    assert {c.name for c in RELEASED_CHECKPOINTS} == set(EXPECTED)
    assert {p.stem for p in CARDS_DIR.glob("*.md")} == set(EXPECTED)
    for checkpoint in RELEASED_CHECKPOINTS:
        written = (CARDS_DIR / f"{checkpoint.name}.md").read_text(encoding="utf-8")
        assert written == render_card(checkpoint), (
            f"{checkpoint.name}.md is stale: run conversion/render_model_cards.py"
        )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metadata_and_snippets(name):
    metadata, body = split_card((CARDS_DIR / f"{name}.md").read_text(encoding="utf-8"))
    top1, top5, dataset_id, views = EXPECTED[name]
    assert metadata["license"] == "apache-2.0" and metadata["library_name"] == "transformers"
    assert metadata["pipeline_tag"] == "video-classification" and metadata["datasets"] == [dataset_id]
    if top1 is None:
        assert "model-index" not in metadata
    else:
        (result,) = metadata["model-index"][0]["results"]
        assert result["task"]["type"] == "video-classification" and result["dataset"]["type"] == dataset_id
        metrics = {m["type"]: m for m in result["metrics"]}
        assert metrics["accuracy"]["value"] == top1 and metrics["top-5-accuracy"]["value"] == top5
        assert all(views in m["config"] for m in metrics.values())
    blocks = python_blocks(body)
    assert len(blocks) == 2
    for block in blocks:
        ast.parse(block)
        assert f'"{DEFAULT_NAMESPACE}/{name}"' in block
    assert "@article{liu2021video" in body and "## Preprocessing" in body


def test_usage_snippet_runs(official_tiny_dir, tmp_path, monkeypatch):
    """The first snippet, pointed at a converted copy of the official fixture, runs and prints a class name."""
    from transformers_videoswin.checkpoints import convert_official_checkpoint, save_hub_directory

    result = convert_official_checkpoint(official_tiny_dir / "official_checkpoint.pth")
    directory = save_hub_directory(result.model, tmp_path / "model")
    _, body = split_card(render_card(RELEASED_CHECKPOINTS[0], repo_id=str(directory)))
    printed = []
    monkeypatch.setattr("builtins.print", lambda *args: printed.append(args))
    exec(compile(python_blocks(body)[0], "model_card_snippet", "exec"), {})
    assert printed and printed[-1][0] in result.model.config.id2label.values()
