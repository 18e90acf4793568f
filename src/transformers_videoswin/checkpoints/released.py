"""The checkpoints released by the official Video Swin repository (spec: "Released checkpoints")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import PurePosixPath
from urllib.parse import urlparse

BASE_URL = "https://github.com/SwinTransformer/storage/releases/download/v1.0.4/"
IMAGENET_BASE_URL = "https://github.com/SwinTransformer/storage/releases/download/v1.0.0/"


@dataclass(frozen=True)
class ReleasedCheckpoint:
    """One released file with the facts a model card needs."""

    filename: str
    variant: str  # a `VideoSwinConfig.from_variant` name (the window comes from the file name)
    label_set: str
    pretrain: str
    top1: float | None
    top5: float | None
    params_m: int
    gflops: float | None
    clips: int
    crops: int
    description: str

    @property
    def url(self) -> str:
        return BASE_URL + self.filename

    @property
    def name(self) -> str:
        """The file name without `.pth`: the suggested Hub repository name."""
        return self.filename.removesuffix(".pth")

    @property
    def dataset(self) -> str:
        return {"kinetics400": "Kinetics-400", "kinetics600": "Kinetics-600", "ssv2": "Something-Something v2"}[
            self.label_set
        ]


# The table of the official repository's README, one record per file (`data/released_checkpoints.json`).
RELEASED_CHECKPOINTS: tuple[ReleasedCheckpoint, ...] = tuple(
    ReleasedCheckpoint(**record)
    for record in json.loads(
        files("transformers_videoswin.checkpoints").joinpath("data", "released_checkpoints.json").read_text("utf-8")
    )
)


def find_released(path_or_url: str) -> ReleasedCheckpoint | None:
    """The released checkpoint a path or URL names (by file name), if any."""
    name = PurePosixPath(urlparse(str(path_or_url)).path).name
    return next((ckpt for ckpt in RELEASED_CHECKPOINTS if ckpt.filename == name), None)
