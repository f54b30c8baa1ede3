"""The test figures of a classifier, from its predicted class probabilities.

Plain accuracy hides what imbalanced data does to a network (always answering the largest
class can score well), so a trained network is also described by figures that weigh every
class alike::

    figures = classification_metrics(labels, probabilities)
    figures["balanced_accuracy"]      # mean of the per-class recalls, in percent
    figures["confusion_matrix"][i][j] # images of class i predicted as class j
    figures["roc_auc"]                # two classes: area under the ROC curve, in [0, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["classification_metrics", "confusion_matrix", "roc_auc"]


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: row = true class, column = predicted class.

    Raises:
        ValueError: ``labels`` and ``predicted`` differ in length, or a class is outside
            ``0 .. num_classes - 1``.
    """
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and predictions {predicted.shape} must be two equal 1-D arrays")
    for name, values in (("label", labels), ("prediction", predicted)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"a {name} lies outside 0..{num_classes - 1}")
    return np.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` for the positive class ``labels == 1``.

    The probability that a random positive image scores above a random negative one (ties
    count one half): the Mann-Whitney statistic from the average ranks of the scores.

    Returns:
        A fraction in ``[0, 1]``, or None when ``labels`` hold only one of the two classes.
    """
    labels = np.asarray(labels) == 1
    scores = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], scores.size]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0  # ranks start at 1; ties share their mean
    rank_sum = float(ranks[labels].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Accuracy and the figures of imbalanced data for ``probabilities`` of shape ``(N, K)``.

    Args:
        labels: true classes, ``N`` integers in ``0 .. K - 1``.
        probabilities: predicted class probabilities (or any scores ordered like them).

    Returns:
        ``accuracy`` and ``balanced_accuracy`` (the mean recall over the classes present in
        ``labels``) in percent; ``per_class_recall`` (percent, one per class, None for a class
        without test images); ``confusion_matrix`` (rows: true class, columns: predicted); and
        ``roc_auc``, a fraction in ``[0, 1]`` for two classes (the second is the positive one),
        None for more classes or when one class is missing.

    Raises:
        ValueError: the shapes do not match or there are no images.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or labels.shape != (probabilities.shape[0],) or labels.size == 0:
        raise ValueError(
            f"need labels (N,) and probabilities (N, K) for N >= 1 images, got {labels.shape} and {probabilities.shape}"
        )
    num_classes = probabilities.shape[1]
    matrix = confusion_matrix(labels, probabilities.argmax(1), num_classes)
    support = matrix.sum(1)
    recall = [100.0 * matrix[k, k] / support[k] if support[k] else None for k in range(num_classes)]
    present = [r for r in recall if r is not None]
    return {
        "accuracy": 100.0 * float(np.trace(matrix)) / labels.size,
        "balanced_accuracy": float(np.mean(present)),
        "per_class_recall": recall,
        "confusion_matrix": matrix.tolist(),
        "roc_auc": roc_auc(labels, probabilities[:, 1]) if num_classes == 2 else None,
    }
