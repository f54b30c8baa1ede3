"""Ranks against the search space, estimated from a reference sample of random cells.

Ranking cells among themselves (:func:`fne.evolution.fitness.rank_matrix`) ranks them
against whatever happens to be ranked. A search's archive is no random sample of the
space: it crowds around the cells the search favours, and among those an aggregate of
ranks can order cells differently from the same aggregate over the whole space (a mean
rank depends on which other cells are ranked). On NB201 this turned a ranking whose first
cell in the space is the benchmark's best into a search that picked a 93.4% cell.

*Reference ranks* estimate each cell's rank in the space instead. Per objective column
(minimised), the values of a reference sample of random cells (a search's initial
population) give a mean ``m`` and a standard deviation ``s``; a value ``v`` is then beaten
by an estimated fraction ``u = Phi((v - m) / s)`` of the space (``Phi`` the standard normal
distribution function). On the ``1..n`` scale of ``rank_matrix`` that is ``1 + (n - 1) u``,
so every aggregator of :mod:`.aggregate` works on it unchanged::

    ranks = reference_ranks(F, F[:20])     # rows 0..19: the random initial population
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["reference_fractions", "reference_ranks", "MIN_REFERENCE"]

MIN_REFERENCE = 2
"""Fewest reference rows that give a spread; with fewer, ranks among the cells are used."""


def reference_fractions(F: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per cell and column, the estimated fraction of the space with a better (lower) value.

    Args:
        F: ``(n, k)`` objective matrix (minimised, finite).
        reference: ``(m, k)`` objective rows of random cells, ``m >= MIN_REFERENCE``.

    Returns:
        ``(n, k)`` values in ``[0, 1]``. A column constant over the reference gives 0.5 at
        its value, 0 below and 1 above it.

    Raises:
        ValueError: shapes that do not match, or fewer than ``MIN_REFERENCE`` reference rows.
    """
    F, reference = np.asarray(F, dtype=float), np.asarray(reference, dtype=float)
    if F.ndim != 2 or reference.ndim != 2 or reference.shape[1] != F.shape[1]:
        raise ValueError(f"objectives {F.shape} and reference {reference.shape} must be 2-D with the same columns")
    if reference.shape[0] < MIN_REFERENCE:
        raise ValueError(f"a reference needs at least {MIN_REFERENCE} rows, got {reference.shape[0]}")
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    flat = std <= 1e-12 * (1.0 + np.abs(mean))
    z = (F - mean) / np.where(flat, 1.0, std)
    return np.where(flat, 0.5 * (1.0 + np.sign(F - mean)), ndtr(z))


def reference_ranks(F: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """:func:`reference_fractions` on the ``1..n`` rank scale (1 = best; fractional values)."""
    F = np.asarray(F, dtype=float)
    return 1.0 + (max(F.shape[0], 1) - 1.0) * reference_fractions(F, reference)
