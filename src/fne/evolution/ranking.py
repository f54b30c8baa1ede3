"""One ranking rule for the whole run: the search's pick order, the cells sent to tournaments
and the ``combined`` column of ``fne score`` all come from the same aggregator.

The archive hands its objective matrix (one row per cell, every column to minimise, failed
values already the worst) to a ranking function; :func:`objective_ranking` builds one from a
registered aggregator (:mod:`fne.evolution.fitness.aggregate`)::

    evo = Evolution(space=space, scorer=scorer, ranking=objective_ranking("log_rank"))

``nondominated`` is the Pareto rule (front first, then the rank sum, then the index), which is
exactly :func:`fne.evolution.selection.pick_order`.

The per-objective ranks come from one of two *scales* (:data:`RANK_SCALES`):

* ``cells``: each cell's rank among the cells being ranked;
* ``reference``: each cell's estimated rank in the whole space, from the spread of a
  reference sample of random cells (:mod:`fne.evolution.fitness.reference_ranks`). A
  ranking of this scale has ``uses_reference = True``; the archive hands it the rows of
  the search's random initial population as ``reference``. Cells tied on it are ordered by
  the same aggregator on their ranks among the cells; without a reference (fewer than two
  rows) it ranks as ``cells`` does.

::

    order = objective_ranking("mean_rank", scale="reference")(F, reference=F[:20])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import rankdata

from fne.evolution.fitness.aggregate import get_aggregator, list_aggregators
from fne.evolution.fitness.reference_ranks import MIN_REFERENCE, reference_ranks
from fne.evolution.selection import check_objectives, pick_order

__all__ = ["Ranking", "objective_ranking", "rank_rows", "DEFAULT_RANKING", "RANK_SCALES"]

Ranking = Callable[..., np.ndarray]
"""``ranking(F) -> row indices, best first``; one with ``uses_reference = True`` is called
``ranking(F, reference=R)`` with the objective rows ``R`` of random cells (or None)."""
DEFAULT_RANKING = "nondominated"
RANK_SCALES = ("cells", "reference")


def objective_ranking(
    method: str = DEFAULT_RANKING, weights: Sequence[float] | None = None, scale: str = "cells"
) -> Ranking:
    """A ranking ``(objective matrix) -> row indices, best first`` from the aggregator ``method``.

    Args:
        method: a registered aggregator (``nondominated``, ``mean_rank``, ``log_rank``, ...).
        weights: one weight per objective column (None: equal weights).
        scale: ``cells`` or ``reference`` (see the module doc).

    Raises:
        ValueError: an unknown aggregator or scale.
    """
    if method not in list_aggregators():
        raise ValueError(f"unknown ranking {method!r}; choose one of {', '.join(list_aggregators())}")
    if scale not in RANK_SCALES:
        raise ValueError(f"unknown rank scale {scale!r}; choose one of {', '.join(RANK_SCALES)}")
    if method == "nondominated" and weights is None and scale == "cells":
        return pick_order
    aggregator = get_aggregator(method)

    def ranking(F: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        F = check_objectives(F)
        if len(F) == 0:
            return np.zeros(0, dtype=np.int64)
        w = np.ones(F.shape[1]) if weights is None else np.asarray(weights, dtype=float)
        values = np.asarray(aggregator(rankdata(F, axis=0), w), dtype=float)
        if scale == "cells" or reference is None or len(reference) < MIN_REFERENCE:
            return np.lexsort((np.arange(len(values)), -values))
        estimated = np.asarray(aggregator(reference_ranks(F, check_objectives(reference)), w), dtype=float)
        return np.lexsort((np.arange(len(values)), -values, -estimated))

    ranking.__name__ = f"{method}_{scale}_ranking"
    ranking.uses_reference = scale == "reference"  # type: ignore[attr-defined]
    return ranking


def rank_rows(ranking: Ranking, F: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """``ranking(F)``, handing ``reference`` (objective rows of random cells) to a ranking that
    uses one (``uses_reference = True``); other rankings never see it."""
    if getattr(ranking, "uses_reference", False):
        return ranking(F, reference=reference)
    return ranking(F)
