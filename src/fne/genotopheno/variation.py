"""Variation operators per search space: crossover and mutation as pure functions.

Every operator takes the space, its parent genotype(s) and a ``numpy.random.Generator``
and returns a new genotype that ``space.validate`` accepts; parents are never changed
(genotypes are immutable). Operators are grouped per space name in a registry::

    ops = get_variation(space)                 # dispatches on ``space.name``
    child = ops.crossover(space, a, b, rng)    # one registered crossover, drawn at random
    child = ops.mutate(space, child, rng)      # one registered mutation, drawn at random

A user-defined space registers its own operators with :func:`register_variation`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fne.genotopheno.space import SearchSpace
from fne.registry import Registry

Crossover = Callable[[SearchSpace, Any, Any, np.random.Generator], Any]
Mutation = Callable[[SearchSpace, Any, np.random.Generator], Any]

_VARIATIONS: Registry[VariationOperators] = Registry("variation set")


@dataclass(frozen=True)
class VariationOperators:
    """The crossovers and mutations of one space.

    Attributes:
        crossovers: ``(name, function)`` pairs; ``function(space, a, b, rng) -> child``.
        mutations: ``(name, function)`` pairs; ``function(space, g, rng) -> child``.
    """

    crossovers: tuple[tuple[str, Crossover], ...]
    mutations: tuple[tuple[str, Mutation], ...]

    def crossover(self, space: SearchSpace, a: Any, b: Any, rng: np.random.Generator) -> Any:
        """Apply one crossover drawn uniformly from :attr:`crossovers`; the child is validated."""
        _, fn = self.crossovers[int(rng.integers(len(self.crossovers)))]
        return _checked(space, fn(space, a, b, rng))

    def mutate(self, space: SearchSpace, genotype: Any, rng: np.random.Generator) -> Any:
        """Apply one mutation drawn uniformly from :attr:`mutations`; the child is validated."""
        _, fn = self.mutations[int(rng.integers(len(self.mutations)))]
        return _checked(space, fn(space, genotype, rng))

    @property
    def names(self) -> list[str]:
        """Names of all operators, crossovers first."""
        return [name for name, _ in self.crossovers + self.mutations]


def _checked(space: SearchSpace, child: Any) -> Any:
    space.validate(child)
    return child


def register_variation(
    space_name: str, *, crossovers: Mapping[str, Crossover], mutations: Mapping[str, Mutation], replace: bool = False
) -> VariationOperators:
    """Register the variation operators of the space named ``space_name``.

    Args:
        space_name: the name the space is registered under (``space.name``).
        crossovers: at least one named crossover function.
        mutations: at least one named mutation function.
        replace: allow replacing operators registered before.

    Returns:
        The registered :class:`VariationOperators`.

    Raises:
        ValueError: for an empty operator set, a non-callable, or a name already taken.
    """
    for kind, table in (("crossover", crossovers), ("mutation", mutations)):
        if not table:
            raise ValueError(f"space {space_name!r}: at least one {kind} is required")
        bad = [name for name, fn in table.items() if not callable(fn)]
        if bad:
            raise ValueError(f"space {space_name!r}: {kind} {bad[0]!r} is not callable")
    ops = VariationOperators(tuple(crossovers.items()), tuple(mutations.items()))
    return _VARIATIONS.add(space_name, ops, replace=replace)


def get_variation(space: SearchSpace) -> VariationOperators:
    """The operators registered for ``space`` (looked up by ``space.name``).

    Raises:
        ValueError: when no operators are registered for that space.
    """
    name = getattr(space, "name", "")
    if name not in _VARIATIONS:
        raise ValueError(
            f"no variation operators registered for space {name!r}; registered: "
            f"{', '.join(list_variations())} (use register_variation)"
        )
    return _VARIATIONS.get(name)


def list_variations() -> list[str]:
    """Space names that have registered variation operators."""
    return sorted(_VARIATIONS.names())


__all__ = ["Crossover", "Mutation", "VariationOperators", "get_variation", "list_variations", "register_variation"]
