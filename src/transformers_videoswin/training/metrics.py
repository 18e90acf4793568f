"""Classification metrics that work offline: top-k accuracy as an `evaluate.Metric`, per-class accuracy and the
confusion matrix.

`evaluate.load("accuracy")` downloads a script from the Hub; `TopKAccuracy` ships in this package instead. Being an
`evaluate.Metric`, it gathers predictions across processes when built with ``num_process``/``process_id`` (each
process calls ``add_batch``; process 0 returns the result of ``compute``).
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """Top-k accuracy: the fraction of examples whose reference label is among the k highest-scoring classes.
Predictions are per-class scores (logits or probabilities), references are integer labels."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): per-class scores, shape [N, num_classes].
    references (`list` of `int`): ground-truth labels, shape [N].
    top_k (`int` or `tuple` of `int`, defaults to (1, 5)): the k values to report; a k larger than the number of
        classes is clipped to it.
Returns:
    `top{k}_accuracy` for each k, as floats in [0, 1].
Examples:
    >>> metric = TopKAccuracy()
    >>> metric.compute(predictions=[[0.1, 0.9], [0.8, 0.2]], references=[1, 1], top_k=(1,))
    {'top1_accuracy': 0.5}
"""


class TopKAccuracy(evaluate.Metric):
    """Top-1/top-5 accuracy from class scores, usable offline and across processes."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float32")),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, predictions, references, top_k: int | Sequence[int] = (1, 5)) -> dict[str, float]:
        return top_k_accuracy(np.asarray(predictions), np.asarray(references), top_k)


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, top_k: int | Sequence[int] = (1, 5)) -> dict[str, float]:
    """Plain numpy top-k accuracy (what `TopKAccuracy` computes)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(f"Expected scores [N, C] and labels [N], got {scores.shape} and {labels.shape}.")
    ks = (top_k,) if isinstance(top_k, int) else tuple(top_k)
    num_classes = scores.shape[1]
    if len(labels) == 0:
        return {f"top{k}_accuracy": float("nan") for k in ks}
    # Rank of the reference among the classes, ties broken by class index as `argmax` does (so a constant score
    # does not count as correct for every class).
    reference_scores = scores[np.arange(len(labels)), labels][:, None]
    earlier = np.arange(num_classes)[None, :] < labels[:, None]
    rank = ((scores > reference_scores) | ((scores == reference_scores) & earlier)).sum(axis=1)
    return {f"top{k}_accuracy": float(np.mean(rank < min(k, num_classes))) for k in ks}


def confusion_matrix(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[num_classes, num_classes] counts: row = true class, column = predicted class."""
    predictions = np.asarray(predictions).astype(np.int64)
    labels = np.asarray(labels).astype(np.int64)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix (NaN for classes with no examples)."""
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(matrix) / np.maximum(support, 1), np.nan)


__all__ = [
    "TopKAccuracy",
    "confusion_matrix",
    "per_class_accuracy",
    "top_k_accuracy",
]
