"""Hub-ready directories: contents, loading with and without this package, the video-classification pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from conversion_helpers import TOLERANCE
from transformers import AutoModel, AutoModelForVideoClassification, AutoVideoProcessor, pipeline

from transformers_videoswin import VideoSwinForVideoClassification, VideoSwinModel, VideoSwinVideoProcessor
from transformers_videoswin.checkpoints.hub import AUTO_MAP

pytest_plugins = ["conversion_fixtures"]

# Runs in a fresh interpreter where `transformers_videoswin` cannot be imported (its path is removed and the name is
# blocked), so everything must come from the directory's own code files through `auto_map`.
_WITHOUT_PACKAGE = """
import json, sys
sys.path = [p for p in sys.path if not p.rstrip("/").endswith("/src")]
sys.modules["transformers_videoswin"] = None
import torch
from transformers import AutoModelForVideoClassification, pipeline

directory, golden_path, video = sys.argv[1:4]
model = AutoModelForVideoClassification.from_pretrained(directory, trust_remote_code=True).eval()
golden = torch.load(golden_path, weights_only=True)
with torch.no_grad():
    logits = model(pixel_values=golden["pixel_values_BCTHW"].permute(0, 2, 1, 3, 4)).logits
classifier = pipeline("video-classification", model=directory, trust_remote_code=True)
print(json.dumps({
    "model_module": type(model).__module__,
    "processor_module": type(classifier.video_processor).__module__,
    "max_abs_diff": (logits - golden["logits"]).abs().max().item(),
    "predictions": classifier(video, top_k=2),
}))
"""


def test_directory_contents(converted_dir):
    files = {path.name for path in converted_dir.iterdir()}
    assert {"model.safetensors", "config.json", "preprocessor_config.json", "video_preprocessor_config.json"} <= files
    assert {"configuration_videoswin.py", "modeling_videoswin.py", "video_processing_videoswin.py"} <= files
    config = json.loads((converted_dir / "config.json").read_text())
    assert config["auto_map"] == AUTO_MAP and config["model_type"] == "videoswin"
    video_config = json.loads((converted_dir / "video_preprocessor_config.json").read_text())
    assert video_config["auto_map"] == {"AutoVideoProcessor": "video_processing_videoswin.VideoSwinVideoProcessor"}
    assert "_auto_class" not in video_config
    # official test transform: 32 frames at stride 2, short side 224, centre crop 224, ImageNet mean/std
    assert (video_config["num_frames"], video_config["frame_interval"], video_config["sampling"]) == (
        32,
        2,
        "kinetics",
    )
    assert video_config["size"] == {"shortest_edge": 224} and video_config["crop_size"] == {
        "height": 224,
        "width": 224,
    }
    assert video_config["image_mean"] == [0.485, 0.456, 0.406] and video_config["image_std"] == [0.229, 0.224, 0.225]
    # saving registered nothing for later saves in this process
    assert VideoSwinForVideoClassification._auto_class is None and VideoSwinVideoProcessor._auto_class is None


def test_loads_with_the_auto_classes(converted_dir, golden):
    model = AutoModelForVideoClassification.from_pretrained(converted_dir).eval()
    assert isinstance(model, VideoSwinForVideoClassification)
    with torch.no_grad():
        logits = model(pixel_values=golden["pixel_values_BCTHW"].permute(0, 2, 1, 3, 4)).logits
    assert (logits - golden["logits"]).abs().max().item() < TOLERANCE
    assert isinstance(AutoModel.from_pretrained(converted_dir), VideoSwinModel)


def test_pipeline_matches_processor_plus_model(converted_dir, video_file):
    classifier = pipeline("video-classification", model=str(converted_dir))
    assert isinstance(classifier.video_processor, VideoSwinVideoProcessor)
    predictions = classifier(str(video_file), top_k=3)
    processor = AutoVideoProcessor.from_pretrained(converted_dir)
    inputs = processor(str(video_file), return_tensors="pt")
    assert inputs["pixel_values"].shape == (1, 32, 3, 224, 224)
    with torch.no_grad():
        probabilities = classifier.model(**inputs).logits.softmax(-1)[0]
    scores, ids = probabilities.topk(3)
    assert [p["label"] for p in predictions] == [classifier.model.config.id2label[i] for i in ids.tolist()]
    assert [p["score"] for p in predictions] == pytest.approx(scores.tolist(), abs=1e-6)


@pytest.mark.slow
def test_loads_and_runs_without_the_package(converted_dir, official_tiny_dir, video_file, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_WITHOUT_PACKAGE)]
        + [str(converted_dir), str(official_tiny_dir / "golden.pt"), str(video_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["model_module"].startswith("transformers_modules.")
    assert result["processor_module"].startswith("transformers_modules.")
    assert result["max_abs_diff"] < TOLERANCE
    assert len(result["predictions"]) == 2 and result["predictions"][0]["label"].startswith("LABEL_")
