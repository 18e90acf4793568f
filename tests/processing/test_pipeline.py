"""``pipeline("video-classification")`` with the video processor on real mp4 files."""

from __future__ import annotations

import logging

import pytest
import torch
from transformers import pipeline
from transformers.utils import logging as hf_logging

from conftest import REPO_ROOT, tiny_config_kwargs
from transformers_videoswin import (
    VideoSwinConfig,
    VideoSwinForVideoClassification,
    VideoSwinImageProcessor,
    VideoSwinVideoProcessor,
)
from transformers_videoswin.processing.input_forms import VideoSwinVideoClassificationPipeline
from transformers_videoswin.testing.utils import write_test_video

LABELS = {0: "archery", 1: "bowling", 2: "juggling", 3: "surfing"}
PROCESSOR_KWARGS = {"size": {"shortest_edge": 64}, "crop_size": {"height": 64, "width": 64}}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipe_model")
    torch.manual_seed(0)
    config = VideoSwinConfig(
        **tiny_config_kwargs(num_labels=4, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    )
    VideoSwinForVideoClassification(config).eval().save_pretrained(root)
    VideoSwinVideoProcessor(**PROCESSOR_KWARGS).save_pretrained(root)
    VideoSwinImageProcessor(**PROCESSOR_KWARGS).save_pretrained(root)  # present too: the video processor must win
    return root


@pytest.fixture(scope="module")
def classifier(model_dir):
    return pipeline("video-classification", model=str(model_dir))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipe_videos")
    return {
        "long": str(write_test_video(root / "long.mp4", 300, 72, 128)),
        "six": str(write_test_video(root / "six.mp4", 6, 64, 64)),
        "wide": str(write_test_video(root / "wide.mp4", 24, 40, 200)),
        "tall": str(write_test_video(root / "tall.mp4", 24, 180, 50)),
    }


@pytest.fixture(scope="module")
def direct(model_dir):
    """The same prediction without the pipeline: processor (model's num_frames, official sampling) -> softmax."""
    model = VideoSwinForVideoClassification.from_pretrained(model_dir).eval()
    processor = VideoSwinVideoProcessor.from_pretrained(model_dir)

    def predict(video):
        inputs = processor(video, num_frames=model.config.num_frames, return_tensors="pt")
        with torch.no_grad():
            return model(**inputs).logits.softmax(-1)[0]

    return predict


def test_pipeline_uses_the_video_processor(classifier):
    assert isinstance(classifier.video_processor, VideoSwinVideoProcessor)


@pytest.mark.parametrize("name", ["long", "six", "wide", "tall"])
def test_pipeline_matches_direct_computation(classifier, direct, videos, name):
    result = classifier(videos[name], top_k=4)
    probs = direct(videos[name])
    assert [r["label"] for r in result] == [LABELS[int(i)] for i in probs.argsort(descending=True)]
    for entry in result:
        label_id = {v: k for k, v in LABELS.items()}[entry["label"]]
        assert entry["score"] == pytest.approx(probs[label_id].item(), abs=1e-5)


def test_top_k(classifier, videos):
    result = classifier(videos["long"], top_k=2)
    assert len(result) == 2 and result[0]["score"] >= result[1]["score"]
    assert len(classifier(videos["long"], top_k=10)) == 4  # capped at num_labels
    assert len(classifier(videos["long"])) == 4  # default 5, capped


def test_batches_match_single_calls(classifier, videos):
    names = ["long", "six", "wide"]
    batched = classifier([videos[n] for n in names], batch_size=2, top_k=3)
    assert len(batched) == 3
    for name, result in zip(names, batched):
        single = classifier(videos[name], top_k=3)
        assert [r["label"] for r in result] == [r["label"] for r in single]
        assert [r["score"] for r in result] == pytest.approx([r["score"] for r in single], abs=1e-5)


def test_batch_size_2_with_only_a_video_processor_saved(tmp_path, model_dir, videos):
    for name in ("config.json", "model.safetensors", "video_preprocessor_config.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    classifier = pipeline(
        "video-classification", model=str(tmp_path), pipeline_class=VideoSwinVideoClassificationPipeline
    )
    batched = classifier([videos["long"], videos["six"], videos["wide"]], batch_size=2, top_k=2)
    assert [[r["label"] for r in result] for result in batched] == [
        [r["label"] for r in classifier(videos[name], top_k=2)] for name in ("long", "six", "wide")
    ]


def test_import_leaves_the_stock_pipeline_and_videomae_untouched(tmp_path):
    """Importing the package registers nothing for the task: `SUPPORTED_TASKS["video-classification"]` is the same
    before and after, and a VideoMAE model gets transformers' own pipeline. In a fresh interpreter, so that the
    import really happens here."""
    import subprocess
    import sys

    script = f"""
from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEVideoProcessor, pipeline
from transformers.pipelines import SUPPORTED_TASKS
from transformers.pipelines.video_classification import VideoClassificationPipeline
before = dict(SUPPORTED_TASKS["video-classification"])
import transformers_videoswin
assert SUPPORTED_TASKS["video-classification"] == before, (SUPPORTED_TASKS["video-classification"], before)
config = VideoMAEConfig(image_size=32, patch_size=16, num_frames=2, tubelet_size=2, hidden_size=32,
                        num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, num_labels=2)
VideoMAEForVideoClassification(config).save_pretrained({str(tmp_path)!r})
VideoMAEVideoProcessor(size={{"shortest_edge": 32}}, crop_size={{"height": 32, "width": 32}}).save_pretrained({str(tmp_path)!r})
classifier = pipeline("video-classification", model={str(tmp_path)!r})
assert type(classifier) is VideoClassificationPipeline, type(classifier)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def test_no_deprecated_image_processor_path(model_dir, videos, caplog):
    hf_logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            pipeline("video-classification", model=str(model_dir))(videos["six"])
        assert "deprecated" not in caplog.text
        # positive control: the pipeline module's warnings do reach caplog
        with caplog.at_level(logging.WARNING):
            hf_logging.get_logger("transformers.pipelines.video_classification").warning("control: deprecated")
        assert "control: deprecated" in caplog.text
    finally:
        hf_logging.disable_propagation()


def test_readme_example_batches_with_only_a_video_processor_saved(tmp_path, model_dir, videos, monkeypatch):
    """The README's first pipeline example, run as written on a directory with only the video processor."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Video input and inference") :]
    example = section[section.index("```python\n") + len("```python\n") : section.index("```\n", 10)]
    assert "batch_size=2" in example
    for name in ("config.json", "model.safetensors", "video_preprocessor_config.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    for name, video in (("archery.mp4", "long"), ("a.mp4", "six"), ("b.mp4", "wide")):
        (tmp_path / name).write_bytes(open(videos[video], "rb").read())
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(example.replace("path/to/videoswin-tiny-k400", str(tmp_path)), "README.md", "exec"), namespace)
    batched = namespace["classifier"](["a.mp4", "b.mp4"], batch_size=2, top_k=2)
    assert [[r["label"] for r in result] for result in batched] == [
        [r["label"] for r in namespace["classifier"](name, top_k=2)] for name in ("a.mp4", "b.mp4")
    ]
