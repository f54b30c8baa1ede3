"""Variation for the DARTS space: nodes crossed over whole, ops changed, inputs rewired.

Every operator keeps the two inputs of a node distinct, as ``DartsSpace.validate`` requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from fne.genotopheno.darts.genotype import CELL_FIELDS, NUM_INPUTS, DartsGenotype, Pair
from fne.genotopheno.darts.space import DartsSpace
from fne.genotopheno.variation import VariationOperators

__all__ = ["OPERATORS", "uniform_crossover", "mutate_op", "mutate_input"]

T = TypeVar("T")


def _pick(rng: np.random.Generator, items: Sequence[T]) -> T:
    return items[int(rng.integers(len(items)))]


def _replace_cell(genotype: DartsGenotype, cell: str, pairs: Sequence[Pair]) -> DartsGenotype:
    if cell == "normal":
        return genotype._replace(normal=tuple(pairs))
    return genotype._replace(reduce=tuple(pairs))


def uniform_crossover(space: DartsSpace, a: DartsGenotype, b: DartsGenotype, rng: np.random.Generator) -> DartsGenotype:
    """Each node of both cells (its two pairs together), and each cell's concat, from ``a`` or ``b``.

    A node's pairs stay together, so its two inputs stay as distinct as in the parent.

    Args:
        space: the DARTS space.
        a: first parent.
        b: second parent.
        rng: random generator.
    """
    fields = {}
    for cell in CELL_FIELDS:
        pa, pb = getattr(a, cell), getattr(b, cell)
        take_a = np.repeat(rng.random(len(pa) // 2) < 0.5, 2)
        fields[cell] = tuple(x if t else y for x, y, t in zip(pa, pb, take_a, strict=False))
        concat = f"{cell}_concat"
        fields[concat] = getattr(a, concat) if rng.random() < 0.5 else getattr(b, concat)
    return DartsGenotype(**fields)


def mutate_op(space: DartsSpace, genotype: DartsGenotype, rng: np.random.Generator) -> DartsGenotype:
    """Give one random pair of one random cell a different op.

    ``none`` is only drawn when it is the sole alternative (as in ``DartsSpace.sample``). A
    ``none`` pair sharing its input with the other pair of its node (as canonical genotypes
    have) that gets a real op is also rewired to an input of its own. Returns the parent
    itself when the space has a single op.
    """
    cell = _pick(rng, CELL_FIELDS)
    pairs: list[Pair] = list(getattr(genotype, cell))
    pos = int(rng.integers(len(pairs)))
    op, src = pairs[pos]
    choices = [o for o in space.ops if o != op and o != "none"] or [o for o in space.ops if o != op]
    if not choices:
        return genotype
    new_op = _pick(rng, choices)
    sibling_op, sibling = pairs[pos ^ 1]
    if src == sibling and "none" not in (new_op, sibling_op):
        src = _pick(rng, _other_inputs(pos, src, sibling))
    pairs[pos] = (new_op, src)
    return _replace_cell(genotype, cell, pairs)


def mutate_input(space: DartsSpace, genotype: DartsGenotype, rng: np.random.Generator) -> DartsGenotype:
    """Rewire one random pair of nodes 3..5 of one random cell to another earlier node.

    The new input differs from the old one and from the input of the other pair of the
    same node, so a node's two inputs stay distinct. Node 2 is left alone: its inputs
    are nodes 0 and 1 in some order, and exchanging them gives the same cell.
    """
    cell = _pick(rng, CELL_FIELDS)
    pairs: list[Pair] = list(getattr(genotype, cell))
    pos = int(rng.integers(2, len(pairs)))
    op, src = pairs[pos]
    pairs[pos] = (op, _pick(rng, _other_inputs(pos, src, pairs[pos ^ 1][1])))
    return _replace_cell(genotype, cell, pairs)


def _other_inputs(pos: int, *taken: int) -> list[int]:
    """Inputs the node of pair ``pos`` may read other than ``taken`` (callers leave at least one)."""
    return [j for j in range(NUM_INPUTS + pos // 2) if j not in taken]


OPERATORS = VariationOperators.create(
    crossovers={"uniform": uniform_crossover}, mutations={"op": mutate_op, "input": mutate_input}, space_name="darts"
)
"""The crossovers and mutations of :class:`DartsSpace`, its ``variation``."""
