"""The search's defaults: what :class:`~fne.evolution.evolution.Evolution` runs when it is
given nothing else, which is exactly what ``fne search`` runs by default
(:class:`fne.search.config.SearchConfig` takes its defaults from here).

* objectives: the scorer's proxies; ``fne search`` scores :func:`search_proxies` of its space:
  the training-free ranking chosen for the space (``space.search_defaults``, chosen on the
  space's benchmark by ``benchmarks/bench_proxies.py``) plus fne's three heuristics (NTK
  condition number, NASWOT, gradient correlation);
* ranking (the pick, the tournaments' candidates and, with ``ranking`` survival, the
  population): the space's aggregator over the proxies' ranks on the :data:`RANK_SCALE`
  scale, each proxy weighted by :func:`search_weights` (:func:`search_ranking`);
* survival: :data:`SURVIVAL`;
* population: :data:`POP_SIZE` cells, :data:`GENERATIONS` generations after the first;
* no tournament during the search (``fne search`` adds a final one by default).

A space that declares no ranking of its own (a user's space, or ``channels``, which no
benchmark measures) uses the one chosen for :data:`FALLBACK_SPACE`.

::

    ranking = search_ranking(scorer.proxies, space)   # the ranking Evolution() uses by default
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from fne.evolution.fitness import DEFAULT_PROXIES
from fne.evolution.fitness.aggregate import named_weights
from fne.evolution.ranking import RankingLike, objective_ranking
from fne.genotopheno.space import SearchDefaults, SearchSpace, get_space_class, list_spaces

__all__ = [
    "AGGREGATORS_HELP",
    "FALLBACK_SPACE",
    "RANK_SCALE",
    "SURVIVAL",
    "POP_SIZE",
    "GENERATIONS",
    "space_defaults",
    "search_proxies",
    "search_weights",
    "search_ranking",
    "fill_search_defaults",
]

AGGREGATORS_HELP = (
    "nondominated (Pareto front, then rank sum), mean_rank or log_rank (sum of log ranks) over the proxies' ranks"
)
"""What the registered aggregators do, for the help of the options that choose one."""

FALLBACK_SPACE = "nb201"
"""The space whose chosen ranking a space without its own uses."""

RANK_SCALE = "reference"
"""Ranks are estimated in the whole space from the random initial population (:mod:`fne.evolution.ranking`)."""

SURVIVAL = "ranking"
"""The population keeps the cells the ranking puts first (:mod:`fne.evolution.survival`)."""

POP_SIZE = 20
"""Cells in the population."""

GENERATIONS = 12
"""Generations after the initial population."""

SpaceLike = SearchSpace | str


def space_defaults(space: SpaceLike) -> SearchDefaults:
    """The training-free ranking chosen for ``space`` (a space or its registered name).

    Raises:
        ValueError: an unknown space name.
    """
    cls = get_space_class(space) if isinstance(space, str) else type(space)
    chosen = cls.search_defaults or get_space_class(FALLBACK_SPACE).search_defaults
    assert chosen is not None, f"the {FALLBACK_SPACE} space declares its search defaults"
    return chosen


def search_proxies(space: SpaceLike) -> tuple[str, ...]:
    """The default objectives of a search of ``space``: its chosen ranking's proxies, then
    fne's heuristics (:data:`fne.evolution.fitness.DEFAULT_PROXIES`) it lacks."""
    return tuple(dict.fromkeys(space_defaults(space).proxies + DEFAULT_PROXIES))


def search_weights(space: SpaceLike) -> dict[str, float]:
    """The default ranking weights of :func:`search_proxies`: the chosen ranking's own weights,
    and a heuristic it lacks weighs as much as its typical member (the median weight)."""
    chosen = dict(space_defaults(space).weights)
    typical = statistics.median(chosen.values()) if chosen else 1.0
    return {proxy: chosen.get(proxy, typical) for proxy in search_proxies(space)}


def search_ranking(proxies: Sequence[str], space: SpaceLike) -> RankingLike:
    """The search's default ranking of cells of ``space`` scored on ``proxies`` (one column each).

    Args:
        proxies: the proxies, in the order of the objective columns.
        space: the searched space (or its name), whose chosen aggregator and weights it uses.

    Returns:
        The space's aggregator on the :data:`RANK_SCALE` scale, each column weighted by
        :func:`search_weights` (a proxy it does not name weighs 1).
    """
    weights = named_weights(search_weights(space), proxies, "search weights")
    return objective_ranking(space_defaults(space).ranking, weights, RANK_SCALE)


def fill_search_defaults(config: Any, *, proxies: str, ranking: str, weights: str) -> None:
    """Set the fields of a frozen configuration that are None to the defaults of a search of ``config.space``.

    Args:
        config: a frozen dataclass with a ``space`` field (left alone if the name is unknown,
            for its own validation to report).
        proxies: the field that takes :func:`search_proxies`.
        ranking: the field that takes the space's aggregator.
        weights: the field that takes :func:`search_weights`.
    """
    if config.space not in list_spaces():
        return
    defaults = {
        proxies: lambda: search_proxies(config.space),
        ranking: lambda: space_defaults(config.space).ranking,
        weights: lambda: search_weights(config.space),
    }
    for name, default in defaults.items():
        if getattr(config, name) is None:
            object.__setattr__(config, name, default())
