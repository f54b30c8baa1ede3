"""Pareto selection: non-dominated sorting and crowding distance (NSGA-II), all minimised.

Objectives form an array ``F`` of shape ``(n, k)``; smaller is better in every column.
Survivors of a ``(mu + lambda)`` step are the first ``mu`` entries of
:func:`survival_order`: by front (pymoo's non-dominated sorting), then by decreasing
crowding distance inside a front, then by index (so ties are reproducible).
"""

from __future__ import annotations

import numpy as np
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from scipy.stats import rankdata

__all__ = [
    "check_objectives",
    "nondominated_fronts",
    "rank_and_crowding",
    "survival_order",
    "select_survivors",
    "pareto_front",
    "binary_selection",
    "rank_sum",
    "pick_order",
]


def check_objectives(F: np.ndarray) -> np.ndarray:
    """Return ``F`` as a float ``(n, k)`` array; ``ValueError`` if it is not finite 2-D."""
    F = np.asarray(F, dtype=float)
    if F.ndim != 2 or F.shape[1] < 1:
        raise ValueError(f"objectives must be a 2-D array (n, k) with k >= 1, got shape {F.shape}")
    if not np.isfinite(F).all():
        row = int(np.argwhere(~np.isfinite(F))[0, 0])
        raise ValueError(f"objectives must be finite; row {row} is {F[row].tolist()}")
    return F


def nondominated_fronts(F: np.ndarray) -> list[np.ndarray]:
    """Indices of each non-dominated front, best front first (pymoo ``NonDominatedSorting``)."""
    F = check_objectives(F)
    if len(F) == 0:
        return []
    return [np.sort(np.asarray(front, dtype=int)) for front in NonDominatedSorting().do(F)]


def _crowding(F: np.ndarray) -> np.ndarray:
    """Crowding distance inside one front; the extremes (and fronts of <= 2) get ``inf``."""
    if len(F) <= 2:
        return np.full(len(F), np.inf)
    return np.asarray(calc_crowding_distance(F), dtype=float)


def rank_and_crowding(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: its front number (0 = non-dominated) and its crowding distance in that front."""
    F = check_objectives(F)
    rank = np.zeros(len(F), dtype=int)
    crowd = np.zeros(len(F), dtype=float)
    for r, front in enumerate(nondominated_fronts(F)):
        rank[front] = r
        crowd[front] = _crowding(F[front])
    return rank, crowd


def survival_order(F: np.ndarray) -> np.ndarray:
    """All row indices, best first: by front, then larger crowding distance, then index."""
    rank, crowd = rank_and_crowding(F)
    return np.lexsort((np.arange(len(rank)), -crowd, rank))


def select_survivors(F: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` rows kept by NSGA-II truncation (see :func:`survival_order`).

    Raises:
        ValueError: if ``n`` is not in ``0..len(F)``.
    """
    F = check_objectives(F)
    if not 0 <= n <= len(F):
        raise ValueError(f"cannot select {n} survivors from {len(F)} candidates")
    return survival_order(F)[:n]


def pareto_front(F: np.ndarray) -> np.ndarray:
    """Sorted indices of the non-dominated rows of ``F``."""
    fronts = nondominated_fronts(F)
    return fronts[0] if fronts else np.zeros(0, dtype=int)


def binary_selection(rank: np.ndarray, crowd: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n`` parents, each the better of two random rows (lower rank, then more crowding).

    The parent choice of :mod:`fne.evolution.mating` (often called a binary tournament; fne's
    tournaments are the training contests of :mod:`fne.evolution.tournament`). A full tie is
    decided by a fair coin.

    Raises:
        ValueError: no rows to choose from.
    """
    size = len(rank)
    if size < 1:
        raise ValueError("binary selection needs at least one candidate")
    a, b = rng.integers(size, size=n), rng.integers(size, size=n)
    coin = rng.random(n) < 0.5
    a_wins = (rank[a] < rank[b]) | ((rank[a] == rank[b]) & (crowd[a] > crowd[b]))
    tie = (rank[a] == rank[b]) & (crowd[a] == crowd[b])
    return np.where(a_wins | (tie & coin), a, b)


def rank_sum(F: np.ndarray) -> np.ndarray:
    """Per row, the sum over objectives of its rank among all rows (1 = best, ties averaged)."""
    F = check_objectives(F)
    return rankdata(F, axis=0).sum(axis=1) if len(F) else np.zeros(0)


def pick_order(F: np.ndarray) -> np.ndarray:
    """Rows in final-pick order; the first one is the final pick.

    Rule: by front (non-dominated rows first), then by :func:`rank_sum` (a cell that is
    good on every objective beats one that excels on a single objective), then by index.
    """
    rank, _ = rank_and_crowding(F)
    return np.lexsort((np.arange(len(rank)), rank_sum(F), rank))
