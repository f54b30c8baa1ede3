"""One ranking rule for the whole run: the search's pick order, the cells sent to tournaments
and the ``combined`` column of ``fne score`` all come from the same aggregator.

A ranking orders the rows of an objective matrix (one row per cell, every column to minimise,
failed values already the worst), best first. It is a :class:`Ranking`, or any plain function
``objective matrix -> row indices`` such as :func:`fne.evolution.selection.pick_order`, which
is a ranking that uses no reference. :func:`rank_rows` is how the archive asks a ranking for
its order. :func:`objective_ranking` builds one from a registered aggregator
(:mod:`fne.evolution.fitness.aggregate`)::

    evo = Evolution(space=space, scorer=scorer, ranking=objective_ranking("log_rank"))

``nondominated`` is the Pareto rule (front first, then the rank sum, then the index), which is
exactly :func:`fne.evolution.selection.pick_order`.

The per-objective ranks come from one of two *scales* (:data:`RANK_SCALES`):

* ``cells``: each cell's rank among the cells being ranked;
* ``reference``: each cell's estimated rank in the whole space, from the spread of a
  reference sample of random cells (:mod:`fne.evolution.fitness.reference_ranks`). A
  ranking of this scale has :attr:`Ranking.uses_reference` true; the archive hands it the
  rows of the search's random initial population as ``reference``. Cells tied on it are
  ordered by the same aggregator on their ranks among the cells; without a reference (fewer
  than two rows) it ranks as ``cells`` does.

::

    order = rank_rows(objective_ranking("mean_rank", scale="reference"), F, reference=F[:20])

A ranking of one's own subclasses :class:`Ranking`::

    class FirstColumn(Ranking):
        def order(self, objectives, reference=None):
            return np.argsort(objectives[:, 0], kind="stable")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from fne.evolution.fitness.aggregate import list_aggregators, objective_values
from fne.evolution.fitness.reference_ranks import MIN_REFERENCE
from fne.evolution.selection import check_objectives, pick_order

__all__ = [
    "Ranking",
    "RankingLike",
    "AggregateRanking",
    "objective_ranking",
    "rank_rows",
    "DEFAULT_RANKING",
    "RANK_SCALES",
]

DEFAULT_RANKING = "nondominated"
RANK_SCALES = ("cells", "reference")


class Ranking(ABC):
    """A rule that orders the rows of an objective matrix, best first.

    Subclasses implement :meth:`order`; one that estimates ranks in the whole space also
    returns True from :attr:`uses_reference`. Calling a ranking orders without a reference,
    as a plain ranking function does.
    """

    @property
    def uses_reference(self) -> bool:
        """Whether :meth:`order` is handed the objective rows of random cells (a reference)."""
        return False

    @abstractmethod
    def order(self, objectives: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Row indices of ``objectives``, best first.

        Args:
            objectives: ``(n, k)`` matrix, every column minimised.
            reference: ``(m, k)`` objective rows of random cells, or None; given only to a
                ranking whose :attr:`uses_reference` is true (see :func:`rank_rows`).

        Returns:
            A permutation of ``0 .. n-1``.
        """

    def __call__(self, objectives: np.ndarray) -> np.ndarray:
        return self.order(objectives)


RankingLike = Ranking | Callable[[np.ndarray], np.ndarray]
"""A :class:`Ranking`, or a plain function ``objective matrix -> row indices, best first``
(a ranking that uses no reference)."""


class AggregateRanking(Ranking):
    """The order of a registered aggregator's values, ties by row index.

    Args:
        method: a registered aggregator (``nondominated``, ``mean_rank``, ``log_rank``, ...).
        weights: one weight per objective column (None: equal weights).
        scale: ``cells`` or ``reference`` (see the module doc).

    Raises:
        ValueError: an unknown aggregator or scale.
    """

    def __init__(
        self, method: str = DEFAULT_RANKING, weights: Sequence[float] | None = None, scale: str = "cells"
    ) -> None:
        if method not in list_aggregators():
            raise ValueError(f"unknown ranking {method!r}; choose one of {', '.join(list_aggregators())}")
        if scale not in RANK_SCALES:
            raise ValueError(f"unknown rank scale {scale!r}; choose one of {', '.join(RANK_SCALES)}")
        self.method, self.scale = method, scale
        self.weights = None if weights is None else tuple(float(w) for w in weights)

    @property
    def uses_reference(self) -> bool:
        """True on the ``reference`` scale."""
        return self.scale == "reference"

    def order(self, objectives: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Rows by the aggregator's value, best first; on the ``reference`` scale with a
        reference of at least two rows, by the value on estimated ranks in the space first."""
        F = check_objectives(objectives)
        if len(F) == 0:
            return np.zeros(0, dtype=np.int64)
        w = np.ones(F.shape[1]) if self.weights is None else np.asarray(self.weights, dtype=float)
        values = objective_values(F, self.method, w)
        if not self.uses_reference or reference is None or len(reference) < MIN_REFERENCE:
            return np.lexsort((np.arange(len(values)), -values))
        estimated = objective_values(F, self.method, w, check_objectives(reference))
        return np.lexsort((np.arange(len(values)), -values, -estimated))

    def __repr__(self) -> str:
        return f"AggregateRanking({self.method!r}, weights={self.weights}, scale={self.scale!r})"


def objective_ranking(
    method: str = DEFAULT_RANKING, weights: Sequence[float] | None = None, scale: str = "cells"
) -> RankingLike:
    """The ranking of the aggregator ``method``: an :class:`AggregateRanking` (same arguments
    and errors), or :func:`~fne.evolution.selection.pick_order` itself for unweighted
    ``nondominated`` on the ``cells`` scale (the same order, without floating-point values)."""
    if method == "nondominated" and weights is None and scale == "cells":
        return pick_order
    return AggregateRanking(method, weights, scale)


def rank_rows(ranking: RankingLike, objectives: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """The order ``ranking`` gives the rows of ``objectives``, best first.

    ``reference`` (objective rows of random cells) is handed to a :class:`Ranking` whose
    :attr:`~Ranking.uses_reference` is true; other rankings, and plain ranking functions,
    never see it.
    """
    if isinstance(ranking, Ranking):
        return ranking.order(objectives, reference if ranking.uses_reference else None)
    return ranking(objectives)
