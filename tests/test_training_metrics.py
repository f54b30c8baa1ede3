"""The test figures: confusion matrix, per-class recall, balanced accuracy and ROC AUC."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fne.training.metrics import classification_metrics, confusion_matrix, roc_auc


def test_the_confusion_matrix_counts_true_classes_by_row() -> None:
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(np.array([0, 3]), np.array([0, 0]), 3)
    with pytest.raises(ValueError, match="equal 1-D arrays"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


def test_balanced_accuracy_weighs_every_class_alike() -> None:
    labels = np.array([0] * 9 + [1])
    always_zero = np.tile([0.9, 0.1], (10, 1))
    figures = classification_metrics(labels, always_zero)
    assert figures["accuracy"] == pytest.approx(90.0)
    assert figures["per_class_recall"] == pytest.approx([100.0, 0.0])
    assert figures["balanced_accuracy"] == pytest.approx(50.0)
    assert figures["confusion_matrix"] == [[9, 0], [1, 0]]
    assert figures["roc_auc"] == pytest.approx(0.5)  # one score for everything ranks nothing


def test_a_class_without_test_images_has_no_recall() -> None:
    probabilities = np.eye(3)[[0, 1, 1, 0]]
    figures = classification_metrics(np.array([0, 1, 1, 1]), probabilities)
    assert figures["per_class_recall"][2] is None
    assert figures["per_class_recall"][:2] == pytest.approx([100.0, 200 / 3])
    assert figures["balanced_accuracy"] == pytest.approx((100.0 + 200 / 3) / 2)
    assert figures["roc_auc"] is None  # three classes


def _pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_is_the_chance_that_a_positive_outscores_a_negative() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) + 0.3 * labels, 1)  # rounded: many ties
    assert roc_auc(labels, scores) == pytest.approx(_pairwise_auc(labels, scores))
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(1.0)
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])) == pytest.approx(0.0)
    assert roc_auc(np.array([1, 1]), np.array([0.2, 0.4])) is None
    probabilities = np.stack([1 - scores / 2, scores / 2], 1)
    assert classification_metrics(labels, probabilities)["roc_auc"] == pytest.approx(_pairwise_auc(labels, scores))


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="need labels"):
        classification_metrics(np.array([0, 1]), np.array([0.2, 0.8]))
    with pytest.raises(ValueError, match="need labels"):
        classification_metrics(np.array([], dtype=int), np.zeros((0, 2)))
