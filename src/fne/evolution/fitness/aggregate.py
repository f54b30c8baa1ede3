"""Rank aggregation: one ranking of cells from several proxies' scores.

An aggregator turns the per-proxy ranks of ``n`` cells into one value per cell, higher
meaning ranked better. Ranks follow :func:`fne.evolution.fitness.rank_matrix`: per
proxy, 1 is the best cell, ties share their average rank and failed (NaN) cells come
last. The registered aggregators:

* ``mean_rank``: minus the (weighted) mean rank, i.e. the rank sum that breaks ties in
  ``selection.pick_order``;
* ``log_rank``: the (weighted) sum over proxies of ``log(r / n)``, ``r`` being the rank
  counted from the worst cell (the best cell has ``r = n``), as in AZ-NAS: a cell must be
  good on every proxy, one bad rank costs much more than under ``mean_rank``;
* ``nondominated``: minus the non-dominated front number (0 = Pareto front), ties broken
  by the mean rank.

Ranks can also be each cell's estimated rank in the whole space, from a reference sample of
random cells (:mod:`.reference_ranks`): ``aggregate(..., reference=...)`` and
:func:`objective_values` with a reference, which the search's rankings use
(:mod:`fne.evolution.ranking`).

Weights name proxies (``{proxy: weight}``) or follow their order; a proxy that named weights
leave out weighs 1, as it does under equal weights (:func:`named_weights`).

Example::

    values = aggregate(scores, ["expressivity", "trainability", "flops"], "log_rank")
    best_first = aggregation_order(scores, ['meco', 'naswot'], 'mean_rank', {'meco': 2.0})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from fne.evolution.fitness.objectives import non_dominated_ranks, rank_matrix, to_objectives
from fne.evolution.fitness.reference_ranks import reference_ranks
from fne.evolution.fitness.registry import check_proxy_names
from fne.registry import Registry

Aggregator = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(ranks (n, k), weights (k,)) -> values (n,)``, higher is better; ranks 1 = best."""

WeightsLike = Sequence[float] | Mapping[str, float] | None
"""Per-proxy weights: None (all 1), one weight per proxy in order, or ``{proxy: weight}``
(a proxy not named weighs 1, see :func:`named_weights`)."""

_AGGREGATORS: Registry[Aggregator] = Registry("aggregator")


def register_aggregator(name: str) -> Callable[[Aggregator], Aggregator]:
    """Register an aggregator ``(ranks, weights) -> values`` under ``name``.

    Raises:
        ValueError: ``name`` is taken or empty.
    """

    def decorator(fn: Aggregator) -> Aggregator:
        _AGGREGATORS.add(name, fn)
        return fn

    return decorator


def get_aggregator(name: str) -> Aggregator:
    """The aggregator registered as ``name``; ``ValueError`` naming the known ones otherwise."""
    return _AGGREGATORS.get(name)


def list_aggregators() -> list[str]:
    """Names of the registered aggregators, in registration order."""
    return _AGGREGATORS.names()


@register_aggregator("mean_rank")
def mean_rank(ranks: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Minus the weighted mean rank (1 = best)."""
    return -(ranks @ weights) / weights.sum()


@register_aggregator("log_rank")
def log_rank(ranks: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sum of ``log(r / n)``, ``r = n + 1 - rank`` (the best cell has ``r = n``)."""
    n = ranks.shape[0]
    return np.log((n + 1.0 - ranks) / n) @ weights


@register_aggregator("nondominated")
def nondominated(ranks: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Minus the front number of the proxies with a positive weight, ties by mean rank.

    The mean rank enters as a fraction in ``(0, 1)``, so it only orders cells of one front.
    """
    fronts = non_dominated_ranks(ranks[:, weights > 0])
    return -(fronts + (-mean_rank(ranks, weights)) / (ranks.shape[0] + 1.0))


def _weight_vector(weights: WeightsLike, proxies: Sequence[str]) -> np.ndarray:
    if weights is None:
        vector = np.ones(len(proxies))
    elif isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(proxies))
        if unknown:
            raise ValueError(f"weights name proxies {unknown} that are not among {list(proxies)}")
        vector = np.asarray(named_weights(weights, proxies, "weights"), dtype=float)
    else:
        vector = np.asarray(weights, dtype=float).reshape(-1)
        if vector.size != len(proxies):
            raise ValueError(f"{vector.size} weights given for {len(proxies)} proxies {list(proxies)}")
    if not np.isfinite(vector).all() or (vector < 0).any() or not (vector > 0).any():
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {vector.tolist()}")
    return vector


def named_weights(weights: Mapping[str, Any] | None, proxies: Sequence[str], flag: str) -> list[float] | None:
    """One weight per proxy of ``proxies`` from ``{proxy: weight}``: the rule of named weights.

    A proxy not named weighs 1 (as under equal weights); a named proxy that is not among
    ``proxies`` is left out, so one set of named weights suits any choice of proxies.

    Args:
        weights: the named weights, as an option gives them (None: equal weights).
        proxies: the proxies, in order.
        flag: the option that gave ``weights``, for the error message.

    Returns:
        The weights in ``proxies`` order, or None for ``weights`` None.

    Raises:
        ValueError: a weight that is negative or not a number, or all weights zero.
    """
    if weights is None:
        return None
    values = [weights.get(p, 1.0) for p in proxies]
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 for w in values) or not any(values):
        raise ValueError(f"{flag} values must be numbers >= 0, not all 0; got {weights}")
    return [float(w) for w in values]


def aggregate(
    scores: Sequence[Mapping[str, float]],
    proxies: Sequence[str],
    method: str = "mean_rank",
    weights: WeightsLike = None,
    reference: Sequence[Mapping[str, float]] | None = None,
) -> np.ndarray:
    """One value per cell, higher meaning ranked better, from the ranks on ``proxies``.

    Args:
        scores: one ``{proxy: value}`` dict per cell (e.g. ``Scorer.score_many``); NaN
            marks a failed value, ranked last on its proxy.
        proxies: the registered proxies to aggregate (at least one).
        method: a name from :func:`list_aggregators`.
        weights: per-proxy weights (see :data:`WeightsLike`); None weighs all equally.
        reference: score dicts of random cells; when given, each cell's rank is its rank in
            the space estimated from them (:mod:`.reference_ranks`) instead of its rank
            among ``scores``.

    Returns:
        Array of shape ``(n,)``; empty for no cells.

    Raises:
        ValueError: ``proxies`` not one or more distinct registered proxies, an unknown
            method, a row without a value for a proxy, or bad weights.
    """
    names = list(proxies)
    check_proxy_names(names, "proxies")
    fn = get_aggregator(method)
    vector = _weight_vector(weights, names)
    if len(scores) == 0:
        return np.zeros(0)
    if reference is None:
        return np.asarray(fn(rank_matrix(scores, names), vector), dtype=float)
    both = to_objectives(list(scores) + list(reference), names)
    return objective_values(both[: len(scores)], method, vector, both[len(scores) :])


def objective_values(
    objectives: np.ndarray, method: str, weights: np.ndarray, reference: np.ndarray | None = None
) -> np.ndarray:
    """One value per row of an objective matrix, higher meaning ranked better.

    Args:
        objectives: ``(n, k)`` matrix, every column minimised and finite
            (e.g. :func:`~fne.evolution.fitness.to_objectives`).
        method: a name from :func:`list_aggregators`.
        weights: one weight per column.
        reference: ``(m, k)`` objective rows of random cells (``m >= 2``); when given, the
            ranks are the rows' estimated ranks in the space (:func:`.reference_ranks`),
            otherwise their ranks among the rows.

    Returns:
        Array of shape ``(n,)``.

    Raises:
        ValueError: an unknown method, or a reference that does not fit ``objectives``.
    """
    fn = get_aggregator(method)
    ranks = rankdata(objectives, axis=0) if reference is None else reference_ranks(objectives, reference)
    return np.asarray(fn(ranks, weights), dtype=float)


def aggregation_order(
    scores: Sequence[Mapping[str, float]],
    proxies: Sequence[str],
    method: str = "mean_rank",
    weights: WeightsLike = None,
) -> np.ndarray:
    """Indices of the cells, best first by :func:`aggregate`; equal values keep index order."""
    values = aggregate(scores, proxies, method, weights)
    return np.lexsort((np.arange(len(values)), -values))
