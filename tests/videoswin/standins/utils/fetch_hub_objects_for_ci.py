"""Stand-in for transformers' `utils/fetch_hub_objects_for_ci.py` (a repository script, not in the sdist).

In transformers' CI that script downloads the photos and videos the tests read, and `url_to_local_path(url)` maps a
URL to the downloaded copy. Tests here must not download anything, and the image-processing suite only needs *a*
natural-looking photo (it compares the PIL and torchvision backends on it). So every URL maps to one local stand-in:
a 640x480 RGB JPEG, the size of the COCO photo it replaces, made of smooth colour gradients, soft shapes and mild
noise, written once next to this file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PHOTO = Path(__file__).resolve().parent / "stand_in_photo.jpg"


def _write_photo(path: Path) -> None:
    rng = np.random.default_rng(39769)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    image = np.stack([xx / 639 * 180 + 40, yy / 479 * 160 + 50, 200 - xx / 639 * 120], -1)
    for cx, cy, radius, colour in ((200, 260, 110, (230, 160, 90)), (450, 220, 90, (90, 120, 200))):
        inside = np.clip(1 - ((xx - cx) ** 2 + (yy - cy) ** 2) ** 0.5 / radius, 0, 1)[..., None] ** 0.5
        image = image * (1 - inside) + np.array(colour, np.float32) * inside
    image += rng.normal(0, 4, image.shape)
    tmp = path.with_suffix(".tmp.jpg")
    Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(tmp, quality=92)
    tmp.replace(path)


def url_to_local_path(url: str, return_url_if_not_found: bool = True) -> str:
    if not PHOTO.exists():
        _write_photo(PHOTO)
    return str(PHOTO)
