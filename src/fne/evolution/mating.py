"""Mating: parent choice, variation, dedup by canonical key, and self-adaptive rates.

One generation's children: parents are drawn by binary selection (lower rank, then larger
crowding distance, as the survival strategy gives them: :mod:`fne.evolution.survival`); each
child is a crossover with probability ``crossover_rate`` and is mutated with probability
``mutation_rate`` (always when it was not crossed, so that it differs from its parent);
children whose canonical key was already evaluated are mutated again, so nothing is scored
twice. With a budget, a cell that does not fit it (``accept`` returns False) is never a
child either; it is passed over like a duplicate. Every random draw comes from the generator
passed in::

    mating = Mating(space, get_variation(space), max_attempts=100)
    children, origins = mating.offspring(population, (rank, crowding), 16, rates, seen=archive, rng=rng)

Self-adaptive rates (:class:`AdaptiveRates`). After each generation a child counts as a
success when it survives. For each operator (crossover, mutation) let ``s_with`` be the
success fraction of the children it helped make and ``s_without`` that of the other
children; the rate becomes ``clip(rate * exp(speed * (s_with - s_without)), *bounds)``.
An operator that produces survivors more often than the rest is used more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fne.evolution.selection import binary_selection
from fne.genotopheno.space import SearchSpace
from fne.genotopheno.variation import VariationOperators

__all__ = ["AdaptiveRates", "Mating", "Origin"]

Origin = tuple[bool, bool]
"""How a child was made: ``(crossed, mutated)``; ``(False, False)`` for a random cell."""

_OPERATORS = ("crossover", "mutation")


@dataclass
class AdaptiveRates:
    """Crossover and mutation probabilities, adapted from the survival of children.

    Attributes:
        crossover: probability that a child is a crossover.
        mutation: probability that a crossed child is also mutated.
        adapt: whether :meth:`update` changes the rates.
        speed: step size of the adaptation.
        bounds: ``(low, high)`` limits of both rates.
    """

    crossover: float
    mutation: float
    adapt: bool = True
    speed: float = 1.0
    bounds: tuple[float, float] = (0.1, 0.9)

    def update(self, origins: Sequence[Origin], survived: np.ndarray) -> dict[str, float | None]:
        """Adapt the rates (see the module doc); returns each operator's success fraction.

        Args:
            origins: per child, whether crossover / mutation made it.
            survived: per child, whether it survived selection.
        """
        success: dict[str, float | None] = dict.fromkeys(_OPERATORS)
        if not origins or survived.size == 0:
            return success
        used = np.array(origins, dtype=bool).reshape(-1, 2)
        for col, name in enumerate(_OPERATORS):
            with_op, without = survived[used[:, col]], survived[~used[:, col]]
            if with_op.size:
                success[name] = float(with_op.mean())
            if self.adapt and with_op.size and without.size:
                step = math.exp(self.speed * (with_op.mean() - without.mean()))
                setattr(self, name, float(np.clip(getattr(self, name) * step, *self.bounds)))
        return success


class Mating:
    """Makes new, distinct genotypes: an initial population and each generation's children.

    Args:
        space: the search space.
        variation: its crossover and mutation operators.
        max_attempts: tries to find a new distinct child before drawing a random cell.
        accept: ``f(genotype) -> bool``, False for a cell that must never be a child (e.g. one
            over budget); None accepts every cell.
    """

    def __init__(
        self,
        space: SearchSpace,
        variation: VariationOperators,
        max_attempts: int,
        accept: Callable[[Any], bool] | None = None,
    ) -> None:
        self.space, self.variation, self.max_attempts = space, variation, int(max_attempts)
        self.accept = accept

    def _fresh(self, genotype: Any, seen: Container[str], taken: dict[str, None]) -> bool:
        key = self.space.canonical(genotype)
        return key not in seen and key not in taken and (self.accept is None or self.accept(genotype))

    def initial(self, size: int, seen: Container[str], rng: np.random.Generator) -> list[Any]:
        """Up to ``size`` random cells whose keys are neither in ``seen`` nor repeated."""
        batch: list[Any] = []
        taken: dict[str, None] = {}
        for _ in range(size * self.max_attempts):
            if len(batch) == size:
                break
            g = self.space.sample(rng)
            if self._fresh(g, seen, taken):
                taken[self.space.canonical(g)] = None
                batch.append(g)
        return batch

    def offspring(
        self,
        parents: Sequence[Any],
        fitness: tuple[np.ndarray, np.ndarray],
        size: int,
        rates: AdaptiveRates,
        seen: Container[str],
        rng: np.random.Generator,
    ) -> tuple[list[Any], list[Origin]]:
        """Up to ``size`` new children of ``parents`` (fewer when no new cell can be found).

        Args:
            parents: the population.
            fitness: per parent, ``(rank, crowding)`` for the binary selection (e.g.
                :func:`fne.evolution.selection.rank_and_crowding` of its objectives).
            size: children wanted.
            rates: the crossover and mutation probabilities.
            seen: canonical keys already evaluated.
            rng: the generator of every draw.

        Returns:
            The children and, per child, whether crossover / mutation made it.
        """
        rank, crowd = (np.asarray(part, dtype=float) for part in fitness)
        batch: list[Any] = []
        origins: list[Origin] = []
        taken: dict[str, None] = {}
        for _ in range(size):
            child, origin = self._child(parents, rank, crowd, rates, (seen, taken), rng)
            if child is None:
                break
            taken[self.space.canonical(child)] = None
            batch.append(child)
            origins.append(origin)
        return batch, origins

    def _child(
        self,
        parents: Sequence[Any],
        rank: np.ndarray,
        crowd: np.ndarray,
        rates: AdaptiveRates,
        known: tuple[Container[str], dict[str, None]],
        rng: np.random.Generator,
    ) -> tuple[Any, Origin]:
        """One new child and how it was made (``None`` when no new cell was found)."""
        for _ in range(self.max_attempts):
            a, b = binary_selection(rank, crowd, 2, rng)
            crossed = bool(rng.random() < rates.crossover)
            mutated = bool(rng.random() < rates.mutation) or not crossed
            child = parents[a]
            if crossed:
                child = self.variation.crossover(self.space, child, parents[b], rng)
            if mutated:
                child = self.variation.mutate(self.space, child, rng)
            for _ in range(3):
                if self._fresh(child, *known):
                    return child, (crossed, mutated)
                child, mutated = self.variation.mutate(self.space, child, rng), True
        return self._random(known, rng), (False, False)

    def _random(self, known: tuple[Container[str], dict[str, None]], rng: np.random.Generator) -> Any:
        for _ in range(self.max_attempts):
            child = self.space.sample(rng)
            if self._fresh(child, *known):
                return child
        return None
