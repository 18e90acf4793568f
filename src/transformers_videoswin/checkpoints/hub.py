"""Writing Hub-ready model directories: weights, config with `auto_map`, the code, and processor configs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from accelerate.utils import extract_model_from_parallel
from huggingface_hub import is_offline_mode
from transformers import PreTrainedModel

from ..file_utils import atomic_write
from ..processing.image_processing_videoswin import VideoSwinImageProcessor
from ..processing.video_processing_videoswin import VideoSwinVideoProcessor
from .checkpoint_io import ConversionError, is_url

# `trust_remote_code=True` finds every class through `auto_map`; the code files are saved beside the weights.
AUTO_MAP = {
    "AutoConfig": "configuration_videoswin.VideoSwinConfig",
    "AutoModel": "modeling_videoswin.VideoSwinModel",
    "AutoModelForVideoClassification": "modeling_videoswin.VideoSwinForVideoClassification",
    "AutoBackbone": "modeling_videoswin.VideoSwinBackbone",
}


@contextmanager
def _saved_as_remote_code(obj: Any, auto_class: str) -> Iterator[None]:
    """Make `save_pretrained` copy `obj`'s code and write its `auto_map` entry, without leaving the class
    registered afterwards (`register_for_auto_class` would affect every later save in the process)."""
    cls = type(obj)
    previous = cls.__dict__.get("_auto_class")
    cls._auto_class = auto_class
    try:
        yield
    finally:
        if previous is None:
            del cls._auto_class
        else:
            cls._auto_class = previous


def official_processors(
    image_size: int, num_frames: int, sampling: str
) -> tuple[VideoSwinImageProcessor, VideoSwinVideoProcessor]:
    """Processors for the official single-view test transform: `num_frames` frames sampled with `sampling`
    ("kinetics": stride 2, centre clip; "ssv2": uniform segments, middle frames), short side `image_size`, centre
    crop, ImageNet mean/std."""
    size = {"size": {"shortest_edge": image_size}, "crop_size": {"height": image_size, "width": image_size}}
    video_processor = VideoSwinVideoProcessor(num_frames=num_frames, sampling=sampling, frame_interval=2, **size)
    return VideoSwinImageProcessor(**size), video_processor


def save_processors(
    output_dir: str | os.PathLike, image_processor: VideoSwinImageProcessor, video_processor: VideoSwinVideoProcessor
) -> None:
    """Save both processor configs with their `auto_map` and code files."""
    with _saved_as_remote_code(video_processor, "AutoVideoProcessor"):
        video_processor.save_pretrained(output_dir)
    with _saved_as_remote_code(image_processor, "AutoImageProcessor"):
        image_processor.save_pretrained(output_dir)


def _not_an_earlier_output(output_dir: Path) -> str | None:
    """Why the non-empty `output_dir` is not a model directory that `overwrite` may clear, or None when it is one
    (a `config.json` and plain files beside it, as `save_hub_directory` writes)."""
    folders = sorted(entry.name + "/" for entry in output_dir.iterdir() if entry.is_dir())
    if folders:
        return f"it holds folders ({', '.join(folders[:3])})"
    if not (output_dir / "config.json").is_file():
        return "it has no config.json"
    return None


def check_output_dir(
    output_dir: str | os.PathLike,
    overwrite: bool = False,
    push_to_hub: str | None = None,
    inputs: tuple[str | os.PathLike | None, ...] = (),
) -> None:
    """The checks a conversion makes before its long part, so that it never fails after it: `output_dir` must be a
    directory this process can write to, empty or absent unless `overwrite` (the files of an earlier conversion
    would otherwise be left beside the new ones), and `overwrite` only clears a model directory, never a folder of
    something else, nor one holding one of the local `inputs` (the checkpoint being converted) or the working
    directory. `push_to_hub` needs the network and a Hugging Face token. Raises `ConversionError`."""
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ConversionError(f"`output_dir` {output_dir} is a file; give a directory (it is created if missing).")
    existing = output_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConversionError(
            f"`output_dir` {output_dir} cannot be created: {existing} is a file. Give a path under a directory."
        )
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ConversionError(
            f"`output_dir` {output_dir} is not writable ({existing}: {error.strerror}). Give a directory you can "
            "write to."
        ) from None
    if output_dir.is_dir() and any(output_dir.iterdir()):
        if not overwrite:
            raise ConversionError(
                f"`output_dir` {output_dir} exists and is not empty. Pass `overwrite` to replace its contents (every "
                "file in it is removed first), or give a new directory."
            )
        reason = _not_an_earlier_output(output_dir)
        if reason is not None:
            raise ConversionError(
                f"`output_dir` {output_dir} is not an earlier model directory ({reason}), and `overwrite` only "
                "replaces one (a config.json and the files beside it). Empty it yourself, or give a new directory."
            )
        for path in [Path(p) for p in inputs if p is not None and not is_url(p)] + [Path.cwd()]:
            if path.resolve().is_relative_to(output_dir.resolve()):
                raise ConversionError(
                    f"`output_dir` {output_dir} holds {path}, which `overwrite` would delete. Give a new directory."
                )
    if push_to_hub:
        if is_offline_mode():
            raise ConversionError(
                f"`push_to_hub` {push_to_hub} needs the network, but offline mode is on (HF_HUB_OFFLINE). Convert "
                "without `push_to_hub`, then upload the directory with `hf upload` when online."
            )
        from huggingface_hub import get_token

        if get_token() is None:
            raise ConversionError(
                f"`push_to_hub` {push_to_hub} needs a Hugging Face token, and none is set. Run `hf auth login` (or "
                "set HF_TOKEN) first, or convert without `push_to_hub` and upload the directory later."
            )


def save_hub_directory(
    model: PreTrainedModel,
    output_dir: str | os.PathLike,
    *,
    sampling: str = "kinetics",
    processors: tuple[VideoSwinImageProcessor, VideoSwinVideoProcessor] | None = None,
    model_card: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Save `model` (safetensors), its config with `auto_map`, the model and processor code, processor configs
    (`processors`, by default the official test transform for the model's input size and `sampling`) and optionally
    a README.md. The copied code files import each other with single-dot relative imports, so the directory loads
    with `trust_remote_code=True` where this package is not installed. With `overwrite`, an earlier model directory
    in `output_dir` is replaced: the new files are written into a hidden folder inside it, then the old files are
    removed and the new ones moved into place, so no stale file survives and a save that fails half-way leaves the
    earlier model as it was (any other non-empty directory is refused: see `check_output_dir`)."""
    output_dir = Path(output_dir)
    if overwrite and output_dir.is_dir() and any(output_dir.iterdir()):
        reason = _not_an_earlier_output(output_dir)
        if reason is not None:
            raise ConversionError(f"Not replacing {output_dir}: {reason}, so it is not an earlier model directory.")
        return atomic_write(
            output_dir,
            lambda staging: _write_hub_directory(model, staging, sampling, processors, model_card),
            replace_contents=True,
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    return _write_hub_directory(model, output_dir, sampling, processors, model_card)


def _write_hub_directory(
    model: PreTrainedModel,
    output_dir: Path,
    sampling: str,
    processors: tuple[VideoSwinImageProcessor, VideoSwinVideoProcessor] | None,
    model_card: str | None,
) -> Path:
    model = extract_model_from_parallel(model, keep_torch_compile=False)  # a wrapped model saves its original module
    model.config.auto_map = dict(AUTO_MAP)
    model.config.architectures = [type(model).__name__]
    with _saved_as_remote_code(model, "AutoModelForVideoClassification"):
        model.save_pretrained(output_dir)
    if processors is None:
        processors = official_processors(model.config.image_size, model.config.num_frames, sampling)
    save_processors(output_dir, *processors)
    if model_card is not None:
        (output_dir / "README.md").write_text(model_card, encoding="utf-8")
    return output_dir


def push_to_hub(output_dir: str | os.PathLike, repo_id: str, private: bool = False) -> str:
    """Upload a directory written by `save_hub_directory`; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    return str(api.upload_folder(folder_path=str(output_dir), repo_id=repo_id, commit_message="Upload Video Swin"))
