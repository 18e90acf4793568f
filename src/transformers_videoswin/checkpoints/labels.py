"""Class names of the datasets the released checkpoints were trained on, shipped as `data/<set>.txt`.

One class per line in index order, as in mmaction2's label maps (`tools/data/kinetics/label_map_k400.txt`,
`label_map_k600.txt`, `tools/data/sthv2/label_map.txt`).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from .checkpoint_io import ConversionError

LABEL_SETS: dict[str, int] = {"kinetics400": 400, "kinetics600": 600, "ssv2": 174}


@cache
def load_labels(label_set: str) -> tuple[str, ...]:
    """The class names of `label_set` (one of `LABEL_SETS`), in index order."""
    if label_set not in LABEL_SETS:
        raise ValueError(f"Unknown label set {label_set!r}; expected one of {sorted(LABEL_SETS)} or 'none'.")
    text = files("transformers_videoswin.checkpoints").joinpath("data", f"{label_set}.txt").read_text(encoding="utf-8")
    labels = tuple(line for line in text.splitlines() if line)
    if len(labels) != LABEL_SETS[label_set]:
        raise RuntimeError(f"data/{label_set}.txt holds {len(labels)} names, expected {LABEL_SETS[label_set]}.")
    return labels


def id2label(label_set: str) -> dict[int, str]:
    return dict(enumerate(load_labels(label_set)))


def label_set_from_name(name: str) -> str | None:
    """The label set a released file name implies (`..._kinetics400_...`, `..._kinetics600_...`, `..._sthv2`)."""
    for marker, label_set in (("kinetics400", "kinetics400"), ("kinetics600", "kinetics600"), ("sthv2", "ssv2")):
        if marker in name:
            return label_set
    return None


def labels_for_head(label_set: str, num_classes: int | None) -> dict[int, str] | None:
    """`id2label` for a head of `num_classes` outputs (None for `label_set="none"`); ConversionError on a mismatch."""
    if label_set == "none":
        return None
    if label_set not in LABEL_SETS:
        raise ConversionError(f"Unknown label set {label_set!r}; expected one of {sorted(LABEL_SETS)} or 'none'.")
    names = id2label(label_set)
    if num_classes is not None and num_classes != len(names):
        raise ConversionError(
            f"The head has {num_classes} classes but the label set {label_set!r} has {len(names)}; pass "
            "`label_set` none (or the right set)."
        )
    return names
