"""Variation for the NAS-Bench-201 space: six edge ops, crossed and mutated position by position."""

from __future__ import annotations

import numpy as np

from fne.genotopheno.nb201.space import NB201Genotype, NB201Space
from fne.genotopheno.variation import VariationOperators

__all__ = ["OPERATORS", "uniform_crossover", "mutate_op"]


def uniform_crossover(space: NB201Space, a: NB201Genotype, b: NB201Genotype, rng: np.random.Generator) -> NB201Genotype:
    """Each of the six edge ops comes from ``a`` or ``b`` with probability 1/2.

    Args:
        space: the NB201 space (unused beyond validation by the caller).
        a: first parent.
        b: second parent.
        rng: random generator.

    Returns:
        The child genotype.
    """
    take_a = rng.random(6) < 0.5
    return NB201Genotype.from_ops([x if t else y for x, y, t in zip(a.ops, b.ops, take_a, strict=False)])


def mutate_op(space: NB201Space, genotype: NB201Genotype, rng: np.random.Generator) -> NB201Genotype:
    """Replace the op of one random edge by a different op of ``space``.

    Args:
        space: the NB201 space, whose ``ops`` are the choices.
        genotype: the parent.
        rng: random generator.

    Returns:
        The child; the parent itself when the space has a single op.
    """
    ops = list(genotype.ops)
    pos = int(rng.integers(len(ops)))
    choices = [op for op in space.ops if op != ops[pos]]
    if not choices:
        return genotype
    ops[pos] = choices[int(rng.integers(len(choices)))]
    return NB201Genotype.from_ops(ops)


OPERATORS = VariationOperators.create(
    crossovers={"uniform": uniform_crossover}, mutations={"op": mutate_op}, space_name="nb201"
)
"""The crossovers and mutations of :class:`NB201Space`, its ``variation``."""
