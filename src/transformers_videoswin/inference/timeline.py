"""A picture of a long video: class probabilities of sliding windows over time (``videoswin timeline``).

The top panel is a band coloured by each window's top-1 class; below, one line per shown class gives its
probability at the centre of every window. Shown classes: every class that is top-1 somewhere, then the classes
with the highest mean probability, up to ``top_k`` (and at least the top-1 classes, at most 10 in all).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..file_utils import atomic_write


def choose_classes(probs: np.ndarray, top_k: int = 4, limit: int = 10) -> list[int]:
    """Class ids to plot: the top-1 classes in order of first appearance, then by mean probability."""
    chosen = list(dict.fromkeys(int(i) for i in probs.argmax(axis=1)))
    for index in np.argsort(-probs.mean(axis=0), kind="stable"):
        if len(chosen) >= top_k:
            break
        if int(index) not in chosen:
            chosen.append(int(index))
    return chosen[:limit]


def plot_timeline(
    probs,
    start_time,
    end_time,
    labels: list[str],
    out: str | os.PathLike,
    top_k: int = 4,
    title: str | None = None,
    truth: list[tuple[float, float, str]] | None = None,
) -> Path:
    """Write the timeline PNG of ``probs`` ``[num_windows, num_labels]`` for windows ``[start_time, end_time)``.

    ``truth``: optional ``(start, end, label)`` segments drawn as a second band (the demo knows them). ``out`` must
    end in ``.png`` (:func:`check_png_path`); the file is written atomically.
    """
    check_png_path(out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    probs = np.asarray(probs, dtype=np.float64)
    start, end = np.asarray(start_time, dtype=np.float64), np.asarray(end_time, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != start.shape[0] or probs.shape[1] != len(labels):
        raise ValueError(f"Expected probs [num_windows, {len(labels)}] with one row per window, got {probs.shape}.")
    centers = (start + end) / 2
    classes = choose_classes(probs, top_k)
    colors = {c: matplotlib.colormaps["tab10"](i % 10) for i, c in enumerate(classes)}
    # each window owns the time from the midpoint with its left neighbour to the midpoint with its right one
    bounds = np.concatenate([[start[0]], (centers[1:] + centers[:-1]) / 2, [end[-1]]])

    bands = 2 if truth else 1
    fig, axes = plt.subplots(
        bands + 1, 1, sharex=True, figsize=(11, 2.2 + 0.5 * bands + 2.8),
        gridspec_kw={"height_ratios": [0.6] * bands + [4]},
    )  # fmt: skip
    band_axes, ax = axes[:bands], axes[-1]
    top1 = probs.argmax(axis=1)
    for i, label_id in enumerate(top1):
        band_axes[0].axvspan(bounds[i], bounds[i + 1], color=colors.get(int(label_id), "0.6"), lw=0)
    band_axes[0].set_yticks([0.5], ["predicted"])
    if truth:
        label_ids = {name: i for i, name in enumerate(labels)}
        for seg_start, seg_end, name in truth:
            band_axes[1].axvspan(seg_start, seg_end, color=colors.get(label_ids.get(name), "0.6"), lw=0)
            band_axes[1].text((seg_start + seg_end) / 2, 0.5, name, ha="center", va="center", fontsize=8)
        band_axes[1].set_yticks([0.5], ["true"])
    for band in band_axes:
        band.set_ylim(0, 1)
        band.tick_params(axis="y", length=0)
    for label_id in classes:
        ax.plot(centers, probs[:, label_id], marker="o", markersize=3, lw=1.8, color=colors[label_id])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(start[0], end[-1])
    ax.set_xlabel("time (s): each point is a window, at its centre")
    ax.set_ylabel("probability")
    ax.grid(alpha=0.3)
    handles = [Patch(color=colors[c], label=labels[c]) for c in classes]
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), frameon=False,
               bbox_to_anchor=(0.5, 0.95))  # fmt: skip
    if title:
        fig.suptitle(title, y=1.03, fontsize=11)
    try:
        atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return Path(out)


def check_png_path(out: str | os.PathLike) -> None:
    """Raise ``ValueError`` unless ``out`` names a ``.png`` file (the timeline is a PNG: another suffix, or none,
    would be written as ``X.png`` or as a PNG named ``.txt``)."""
    if Path(out).suffix.lower() != ".png":
        raise ValueError(f"The timeline is a PNG image: `out` must end in .png, got {os.fspath(out)!r}.")


__all__ = ["check_png_path", "choose_classes", "plot_timeline"]
