"""From proxy scores to objectives and rankings.

Failure rule (the only one): a score that is NaN or infinite, i.e. a failed or
degenerate cell, becomes the *worst* value of its column. In an objective column
(minimised) that is ``max + span`` of the column's finite values, ``span`` being
their range, or 1 when all finite values are equal (0 when none is finite); in a
ranking it is the last rank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import rankdata

from fne.evolution.fitness.registry import get_proxy
from fne.evolution.selection import nondominated_fronts

__all__ = ["to_objectives", "rank_matrix", "non_dominated_ranks"]


def _oriented(scores: Sequence[Mapping[str, float]], proxies: Sequence[str]) -> np.ndarray:
    """Raw ``(n, k)`` matrix with higher-is-better columns negated (to minimise); NaN kept."""
    matrix = np.full((len(scores), len(proxies)), np.nan)
    for j, name in enumerate(proxies):
        sign = -1.0 if get_proxy(name).higher_is_better else 1.0
        for i, row in enumerate(scores):
            if name not in row:
                raise ValueError(f"scores row {i} has no value for proxy {name!r}")
            matrix[i, j] = sign * float(row[name])
    matrix[~np.isfinite(matrix)] = np.nan
    return matrix


def _fill_worst(column: np.ndarray) -> np.ndarray:
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return np.zeros_like(column)
    span = float(finite.max() - finite.min())
    worst = float(finite.max()) + (span if span > 0 else 1.0)
    return np.where(np.isfinite(column), column, worst)


def to_objectives(scores: Sequence[Mapping[str, float]], proxies: Sequence[str]) -> np.ndarray:
    """Objective matrix to minimise, shape ``(n, k)``, finite everywhere.

    Args:
        scores: one ``{proxy: value}`` dict per cell (as returned by ``Scorer.score_many``).
        proxies: the columns, in order.

    Returns:
        Higher-is-better proxies negated; failed values replaced by the column's worst
        value (see the module doc).

    Raises:
        ValueError: a row lacks one of ``proxies``, or a proxy is unknown.
    """
    matrix = _oriented(scores, proxies)
    if matrix.size == 0:
        return matrix
    return np.column_stack([_fill_worst(matrix[:, j]) for j in range(matrix.shape[1])])


def rank_matrix(scores: Sequence[Mapping[str, float]], proxies: Sequence[str]) -> np.ndarray:
    """Per proxy, the rank of each cell (1 = best; ties averaged; failed cells last)."""
    objectives = to_objectives(scores, proxies)
    if objectives.size == 0:
        return objectives
    return np.column_stack([rankdata(objectives[:, j]) for j in range(objectives.shape[1])])


def non_dominated_ranks(objectives: np.ndarray) -> np.ndarray:
    """Front number of each row of a minimisation matrix (0 = the non-dominated front).

    The fronts are :func:`fne.evolution.selection.nondominated_fronts` (pymoo's
    non-dominated sorting); equal rows share a front.

    Raises:
        ValueError: ``objectives`` is not a finite 2-D array.
    """
    objectives = np.asarray(objectives, dtype=float)
    fronts = np.zeros(objectives.shape[0], dtype=np.int64)
    for number, front in enumerate(nondominated_fronts(objectives)):
        fronts[front] = number
    return fronts
