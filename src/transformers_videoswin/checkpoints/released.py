"""The checkpoints released by the official Video Swin repository (spec: "Released checkpoints")."""

from __future__ import annotations

from dataclasses import dataclass
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


RELEASED_CHECKPOINTS: tuple[ReleasedCheckpoint, ...] = (
    ReleasedCheckpoint(
        filename="swin_tiny_patch244_window877_kinetics400_1k.pth",
        variant="tiny",
        label_set="kinetics400",
        pretrain="ImageNet-1K",
        top1=78.8,
        top5=93.6,
        params_m=28,
        gflops=87.9,
        clips=4,
        crops=3,
        description="Swin-T trained on Kinetics-400 from an ImageNet-1K initialisation.",
    ),
    ReleasedCheckpoint(
        filename="swin_small_patch244_window877_kinetics400_1k.pth",
        variant="small",
        label_set="kinetics400",
        pretrain="ImageNet-1K",
        top1=80.6,
        top5=94.5,
        params_m=50,
        gflops=165.9,
        clips=4,
        crops=3,
        description="Swin-S trained on Kinetics-400 from an ImageNet-1K initialisation.",
    ),
    ReleasedCheckpoint(
        filename="swin_base_patch244_window877_kinetics400_1k.pth",
        variant="base",
        label_set="kinetics400",
        pretrain="ImageNet-1K",
        top1=80.6,
        top5=94.6,
        params_m=88,
        gflops=281.6,
        clips=4,
        crops=3,
        description="Swin-B trained on Kinetics-400 from an ImageNet-1K initialisation.",
    ),
    ReleasedCheckpoint(
        filename="swin_base_patch244_window877_kinetics400_22k.pth",
        variant="base-in22k",
        label_set="kinetics400",
        pretrain="ImageNet-22K",
        top1=82.7,
        top5=95.5,
        params_m=88,
        gflops=281.6,
        clips=4,
        crops=3,
        description="Swin-B trained on Kinetics-400 from an ImageNet-22K initialisation.",
    ),
    ReleasedCheckpoint(
        filename="swin_base_patch244_window877_kinetics600_22k.pth",
        variant="base-in22k",
        label_set="kinetics600",
        pretrain="ImageNet-22K",
        top1=84.0,
        top5=96.5,
        params_m=88,
        gflops=281.6,
        clips=4,
        crops=3,
        description="Swin-B trained on Kinetics-600 from an ImageNet-22K initialisation.",
    ),
    ReleasedCheckpoint(
        filename="swin_base_patch244_window1677_sthv2.pth",
        variant="base-ssv2",
        label_set="ssv2",
        pretrain="Kinetics-400 (16x7x7 window)",
        top1=69.6,
        top5=92.7,
        params_m=89,
        gflops=320.6,
        clips=1,
        crops=3,
        description="Swin-B with a 16x7x7 window trained on Something-Something v2, initialised from the Kinetics-400 16x7x7 model.",
    ),
    ReleasedCheckpoint(
        filename="swin_base_patch244_window1677_kinetics400_22k.pth",
        variant="base-in22k",
        label_set="kinetics400",
        pretrain="ImageNet-22K",
        top1=None,
        top5=None,
        params_m=89,
        gflops=None,
        clips=4,
        crops=3,
        description="Swin-B with a 16x7x7 window trained on Kinetics-400 (ImageNet-22K initialisation), released as the initialisation of the Something-Something v2 model; no accuracy was reported for it.",
    ),
)


def find_released(path_or_url: str) -> ReleasedCheckpoint | None:
    """The released checkpoint a path or URL names (by file name), if any."""
    name = PurePosixPath(urlparse(str(path_or_url)).path).name
    return next((ckpt for ckpt in RELEASED_CHECKPOINTS if ckpt.filename == name), None)
