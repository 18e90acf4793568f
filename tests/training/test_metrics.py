"""Offline top-k accuracy as an evaluate.Metric (also across processes), per-class accuracy, the confusion matrix."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from transformers_videoswin.training.metrics import (
    TopKAccuracy,
    confusion_matrix,
    per_class_accuracy,
    top_k_accuracy,
)


def reference_top_k(scores, labels, k):
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean([label in row for row, label in zip(order, labels)]))


def test_matches_a_reference():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(200, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=200)
    metric = TopKAccuracy()
    result = metric.compute(predictions=scores, references=labels)
    assert result["top1_accuracy"] == pytest.approx(reference_top_k(scores, labels, 1))
    assert result["top5_accuracy"] == pytest.approx(reference_top_k(scores, labels, 5))
    assert result["top1_accuracy"] == pytest.approx(float(np.mean(scores.argmax(1) == labels)))


def test_add_batch_accumulates():
    metric = TopKAccuracy()
    metric.add_batch(predictions=[[0.9, 0.1, 0.0]], references=[0])
    metric.add_batch(predictions=[[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]], references=[1, 1])
    result = metric.compute(top_k=(1, 2))
    assert result == pytest.approx({"top1_accuracy": 1 / 3, "top2_accuracy": 1.0})


def test_ties_do_not_count_for_every_class():
    scores = np.zeros((4, 3))
    result = top_k_accuracy(scores, np.array([0, 1, 2, 0]), top_k=(1, 2, 5))
    # constant scores behave like argmax (class 0 first): only the class-0 examples count at k=1
    assert result["top1_accuracy"] == pytest.approx(0.5)
    assert result["top2_accuracy"] == pytest.approx(0.75)
    assert result["top5_accuracy"] == pytest.approx(1.0)  # k beyond the class count is clipped


def _metric_worker(process_id, cache_dir, scores, labels, queue):
    metric = TopKAccuracy(
        num_process=2, process_id=process_id, experiment_id="gather-test", cache_dir=cache_dir, timeout=60
    )
    half = slice(0, 20) if process_id == 0 else slice(20, 40)
    metric.add_batch(predictions=scores[half], references=labels[half])
    queue.put((process_id, metric.compute()))


def test_gathers_across_processes(tmp_path):
    """Two processes each add half of the examples; process 0 computes over both halves, the other returns None."""
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(40, 6)).astype(np.float32)
    # process 0's half is all right, process 1's all wrong: only the gathered result is 0.5
    labels = np.concatenate([scores[:20].argmax(1), scores[20:].argmin(1)])
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [
        context.Process(target=_metric_worker, args=(i, str(tmp_path), scores, labels, queue)) for i in range(2)
    ]
    for worker in workers:
        worker.start()
    results = dict(queue.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert results[1] is None
    assert results[0]["top1_accuracy"] == pytest.approx(reference_top_k(scores, labels, 1))
    assert results[0]["top5_accuracy"] == pytest.approx(reference_top_k(scores, labels, 5))
    assert results[0]["top1_accuracy"] == pytest.approx(0.5)


def test_confusion_matrix_and_per_class_accuracy():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predictions = np.array([0, 1, 1, 1, 0, 2])
    matrix = confusion_matrix(predictions, labels, num_classes=4)
    assert matrix.tolist() == [[1, 1, 0, 0], [1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    accuracy = per_class_accuracy(matrix)
    assert accuracy[:3] == pytest.approx([0.5, 2 / 3, 1.0])
    assert np.isnan(accuracy[3])


def test_shape_errors_are_reported():
    with pytest.raises(ValueError, match="scores"):
        top_k_accuracy(np.zeros((3, 2)), np.zeros(4))
