"""Variation operators: crossover and mutation as pure functions, belonging to their space.

Every operator takes the space, its parent genotype(s) and a ``numpy.random.Generator``
and returns a new genotype that ``space.validate`` accepts; parents are never changed
(genotypes are immutable). A space's operators are its class attribute
:attr:`~fne.genotopheno.space.SearchSpace.variation`; each built-in space's package sets it
from the space's ``variation`` module::

    ops = get_variation(space)                 # space.variation
    child = ops.crossover(space, a, b, rng)    # one of the space's crossovers, drawn at random
    child = ops.mutate(space, child, rng)      # one of its mutations, drawn at random

A user-defined space sets ``variation = VariationOperators.create(...)`` on its class, or
names its registered space in :func:`register_variation`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fne.genotopheno.space import SearchSpace, get_space_class, list_spaces

Crossover = Callable[[Any, Any, Any, np.random.Generator], Any]
"""``crossover(space, a, b, rng) -> child``."""
Mutation = Callable[[Any, Any, np.random.Generator], Any]
"""``mutation(space, genotype, rng) -> child``."""


@dataclass(frozen=True)
class VariationOperators:
    """The crossovers and mutations of one space.

    Attributes:
        crossovers: ``(name, function)`` pairs; ``function(space, a, b, rng) -> child``.
        mutations: ``(name, function)`` pairs; ``function(space, g, rng) -> child``.
    """

    crossovers: tuple[tuple[str, Crossover], ...]
    mutations: tuple[tuple[str, Mutation], ...]

    @classmethod
    def create(
        cls, *, crossovers: Mapping[str, Crossover], mutations: Mapping[str, Mutation], space_name: str = ""
    ) -> VariationOperators:
        """Operators from named crossover and mutation functions, in the order given.

        Args:
            crossovers: at least one named crossover function.
            mutations: at least one named mutation function.
            space_name: the space they are for, named in errors.

        Raises:
            ValueError: for an empty table or a value that is not callable.
        """
        for kind, table in (("crossover", crossovers), ("mutation", mutations)):
            if not table:
                raise ValueError(f"space {space_name!r}: at least one {kind} is required")
            bad = [name for name, fn in table.items() if not callable(fn)]
            if bad:
                raise ValueError(f"space {space_name!r}: {kind} {bad[0]!r} is not callable")
        return cls(tuple(crossovers.items()), tuple(mutations.items()))

    def crossover(self, space: SearchSpace[Any], a: Any, b: Any, rng: np.random.Generator) -> Any:
        """Apply one crossover drawn uniformly from :attr:`crossovers`; the child is validated."""
        _, fn = self.crossovers[int(rng.integers(len(self.crossovers)))]
        return _checked(space, fn(space, a, b, rng))

    def mutate(self, space: SearchSpace[Any], genotype: Any, rng: np.random.Generator) -> Any:
        """Apply one mutation drawn uniformly from :attr:`mutations`; the child is validated."""
        _, fn = self.mutations[int(rng.integers(len(self.mutations)))]
        return _checked(space, fn(space, genotype, rng))

    @property
    def names(self) -> list[str]:
        """Names of all operators, crossovers first."""
        return [name for name, _ in self.crossovers + self.mutations]


def _checked(space: SearchSpace[Any], child: Any) -> Any:
    space.validate(child)
    return child


def register_variation(
    space_name: str, *, crossovers: Mapping[str, Crossover], mutations: Mapping[str, Mutation], replace: bool = False
) -> VariationOperators:
    """Set the variation operators of the space registered as ``space_name``.

    Args:
        space_name: the name the space is registered under (``space.name``).
        crossovers: at least one named crossover function.
        mutations: at least one named mutation function.
        replace: allow replacing the operators the space has.

    Returns:
        The space's new :class:`VariationOperators`.

    Raises:
        ValueError: for an empty operator set, a non-callable, an unknown space, or a space
            that has operators already (unless ``replace``).
    """
    ops = VariationOperators.create(crossovers=crossovers, mutations=mutations, space_name=space_name)
    cls = get_space_class(space_name)
    if "variation" in vars(cls) and cls.variation is not None and not replace:
        raise ValueError(f"variation operators of space {space_name!r} are already registered")
    cls.variation = ops
    return ops


def get_variation(space: SearchSpace[Any]) -> VariationOperators:
    """The operators of ``space`` (its class's ``variation``).

    Raises:
        ValueError: when the space has no operators.
    """
    ops = getattr(space, "variation", None)
    if ops is None:
        raise ValueError(
            f"no variation operators registered for space {getattr(space, 'name', '')!r}; spaces with "
            f"operators: {', '.join(list_variations())} (set the space's `variation` or use register_variation)"
        )
    return ops


def list_variations() -> list[str]:
    """Names of the registered spaces that have variation operators."""
    return sorted(name for name in list_spaces() if get_space_class(name).variation is not None)


__all__ = ["Crossover", "Mutation", "VariationOperators", "get_variation", "list_variations", "register_variation"]
