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

COMBINED_PROXIES = ("ntk", "naswot", "grad_corr", "params")
"""Proxies of the default ``combined`` ranking: the three mission proxies and the
parameter count, each with the same weight (nothing is fitted to accuracies)."""


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


def combined_score(scores: Sequence[Mapping[str, float]], proxies: Sequence[str] | None = None) -> np.ndarray:
    """Rank aggregation: minus the mean rank over ``proxies`` (higher is better).

    Args:
        scores: one ``{proxy: value}`` dict per cell.
        proxies: the proxies to aggregate, equally weighted; :data:`COMBINED_PROXIES` by default.

    Returns:
        Array of shape ``(n,)``; a cell failed on every proxy gets the lowest value.
    """
    ranks = rank_matrix(scores, COMBINED_PROXIES if proxies is None else proxies)
    if ranks.size == 0:
        return np.zeros(len(scores))
    return -ranks.mean(axis=1)


def non_dominated_ranks(objectives: np.ndarray) -> np.ndarray:
    """Front index of each row of a minimisation matrix (0 = non-dominated front).

    A simple ``O(n^2 k)`` non-dominated sort, for evaluation and small populations.
    """
    objectives = np.asarray(objectives, dtype=float)
    n = objectives.shape[0]
    le = (objectives[:, None, :] <= objectives[None, :, :]).all(axis=2)
    lt = (objectives[:, None, :] < objectives[None, :, :]).any(axis=2)
    dominates = le & lt
    fronts = np.full(n, -1)
    remaining = np.ones(n, dtype=bool)
    front = 0
    while remaining.any():
        dominated = (dominates[remaining][:, remaining]).any(axis=0)
        current = np.flatnonzero(remaining)[~dominated]
        fronts[current] = front
        remaining[current] = False
        front += 1
    return fronts
