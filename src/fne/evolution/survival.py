"""Survival: which of a generation's parents and children stay, and how parents are chosen.

A survival strategy orders the pool of parents and children best first (the population
is its head) and gives the population the ``(rank, crowding)`` pairs that the mating's
binary selection compares (lower rank wins, then larger crowding). Both read the rows of
the archive's objective matrix, which is computed once per generation:

* ``nsga2`` (:class:`ParetoSurvival`): NSGA-II, by non-dominated front, then crowding
  distance (pymoo), over the pool's own rows; it keeps a spread of trade-offs between
  the objectives.
* ``ranking`` (:class:`RankingSurvival`): by the archive's pick order, i.e. the search's
  ranking rule (:mod:`fne.evolution.ranking`); the population closes in on the cells the
  ranking puts first, which is where the pick is taken.
* ``front`` (:class:`FrontSurvival`): NSGA-II on two axes, the position in the pick order
  (quality) and the archive's cost axis (:mod:`fne.costs`); the population keeps a spread of
  cells along the quality-cost front, from the best cell to the cheapest.

::

    survival = get_survival("ranking")
    order = survival.order(pool_keys, archive)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from fne.evolution.archive import Archive
from fne.evolution.selection import rank_and_crowding, survival_order

__all__ = ["Survival", "ParetoSurvival", "RankingSurvival", "FrontSurvival", "SURVIVALS", "get_survival"]


class Survival(Protocol):
    """Orders a pool of archived cells and ranks a population for parent choice."""

    name: str

    def order(self, keys: Sequence[str], archive: Archive) -> np.ndarray:
        """Indices of ``keys`` (archived cells), best first."""

    def parent_fitness(self, keys: Sequence[str], archive: Archive) -> tuple[np.ndarray, np.ndarray]:
        """Per cell of ``keys``: ``(rank, crowding)`` for the binary selection."""


class ParetoSurvival:
    """NSGA-II survival: non-dominated front, then larger crowding distance, then index."""

    name = "nsga2"

    def order(self, keys: Sequence[str], archive: Archive) -> np.ndarray:
        """Pool indices by front, crowding distance and index."""
        return survival_order(archive.objectives_of(keys))

    def parent_fitness(self, keys: Sequence[str], archive: Archive) -> tuple[np.ndarray, np.ndarray]:
        """Front number and crowding distance of each cell among ``keys``."""
        return rank_and_crowding(archive.objectives_of(keys))


class RankingSurvival:
    """Survival by the archive's pick order; cells outside it (eliminated ones) come last."""

    name = "ranking"

    @staticmethod
    def _positions(keys: Sequence[str], archive: Archive) -> np.ndarray:
        position: dict[str, int] = {k: i for i, k in enumerate(archive.pick_order())}
        return np.array([position.get(k, len(position)) for k in keys], dtype=float)

    def order(self, keys: Sequence[str], archive: Archive) -> np.ndarray:
        """Pool indices by position in the pick order, then index."""
        return np.lexsort((np.arange(len(keys)), self._positions(keys, archive)))

    def parent_fitness(self, keys: Sequence[str], archive: Archive) -> tuple[np.ndarray, np.ndarray]:
        """Position in the pick order as the rank; no crowding."""
        return self._positions(keys, archive), np.zeros(len(keys))


class FrontSurvival:
    """NSGA-II on (position in the pick order, cost on the archive's cost axis).

    Raises:
        ValueError: from :meth:`order` when the archive has no cost axis.
    """

    name = "front"

    @staticmethod
    def _axes(keys: Sequence[str], archive: Archive) -> np.ndarray:
        quality = RankingSurvival._positions(keys, archive)
        return np.column_stack([quality, archive.axis_costs(keys)])

    def order(self, keys: Sequence[str], archive: Archive) -> np.ndarray:
        """Pool indices by quality-cost front, crowding distance and index."""
        return survival_order(self._axes(keys, archive))

    def parent_fitness(self, keys: Sequence[str], archive: Archive) -> tuple[np.ndarray, np.ndarray]:
        """Front number and crowding distance of each cell on the quality-cost axes."""
        return rank_and_crowding(self._axes(keys, archive))


SURVIVALS: dict[str, Callable[[], Survival]] = {
    "nsga2": ParetoSurvival,
    "ranking": RankingSurvival,
    "front": FrontSurvival,
}
"""The built-in strategies by name."""


def get_survival(survival: str | Survival) -> Survival:
    """The strategy named ``survival`` (or ``survival`` itself when it is a strategy).

    Raises:
        ValueError: an unknown name or an object without ``order`` and ``parent_fitness``.
    """
    if isinstance(survival, str):
        if survival not in SURVIVALS:
            raise ValueError(f"unknown survival {survival!r}; choose one of {', '.join(SURVIVALS)}")
        return SURVIVALS[survival]()
    if not (callable(getattr(survival, "order", None)) and callable(getattr(survival, "parent_fitness", None))):
        raise ValueError(
            f"survival must be one of {', '.join(SURVIVALS)} or have order() and parent_fitness(), got {survival!r}"
        )
    return survival
