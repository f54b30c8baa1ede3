"""One ranking rule for the whole run: the search's pick order, the cells sent to tournaments
and the ``combined`` column of ``fne score`` all come from the same aggregator.

The archive hands its objective matrix (one row per cell, every column to minimise, failed
values already the worst) to a ranking function; :func:`objective_ranking` builds one from a
registered aggregator (:mod:`fne.evolution.fitness.aggregate`)::

    evo = Evolution(space=space, scorer=scorer, ranking=objective_ranking("log_rank"))

``nondominated`` is the Pareto rule (front first, then the rank sum, then the index), which is
exactly :func:`fne.evolution.selection.pick_order`.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
from scipy.stats import rankdata

from .fitness.aggregate import get_aggregator, list_aggregators
from .selection import check_objectives, pick_order

__all__ = ["Ranking", "objective_ranking", "DEFAULT_RANKING"]

Ranking = Callable[[np.ndarray], np.ndarray]
DEFAULT_RANKING = "nondominated"


def objective_ranking(method: str = DEFAULT_RANKING, weights: Optional[Sequence[float]] = None) -> Ranking:
    """A ranking ``(objective matrix) -> row indices, best first`` from the aggregator ``method``.

    Args:
        method: a registered aggregator (``nondominated``, ``mean_rank``, ``log_rank``, ...).
        weights: one weight per objective column (None: equal weights).

    Raises:
        ValueError: an unknown aggregator.
    """
    if method not in list_aggregators():
        raise ValueError(f"unknown ranking {method!r}; choose one of {', '.join(list_aggregators())}")
    if method == "nondominated" and weights is None:
        return pick_order
    aggregator = get_aggregator(method)

    def ranking(F: np.ndarray) -> np.ndarray:
        F = check_objectives(F)
        if len(F) == 0:
            return np.zeros(0, dtype=np.int64)
        w = np.ones(F.shape[1]) if weights is None else np.asarray(weights, dtype=float)
        values = np.asarray(aggregator(rankdata(F, axis=0), w), dtype=float)
        return np.lexsort((np.arange(len(values)), -values))

    ranking.__name__ = f"{method}_ranking"
    return ranking
