"""Variation for the DARTS space: pairs crossed position by position, ops changed, inputs rewired."""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from fne.genotopheno.darts import CELL_FIELDS, NUM_INPUTS, DartsGenotype, DartsSpace

from . import register_variation

__all__ = ["uniform_crossover", "mutate_op", "mutate_input"]

Pair = Tuple[str, int]


def _pick(rng: np.random.Generator, items: Sequence) -> object:
    return items[int(rng.integers(len(items)))]


def _replace_cell(genotype: DartsGenotype, cell: str, pairs: Sequence[Pair]) -> DartsGenotype:
    return genotype._replace(**{cell: tuple(pairs)})


def uniform_crossover(space: DartsSpace, a: DartsGenotype, b: DartsGenotype,
                      rng: np.random.Generator) -> DartsGenotype:
    """Each ``(op, input)`` pair of both cells, and each cell's concat, from ``a`` or ``b``.

    Pair ``p`` always feeds node ``2 + p // 2`` in both parents, so every mix is valid.

    Args:
        space: the DARTS space.
        a: first parent.
        b: second parent.
        rng: random generator.
    """
    fields = {}
    for cell in CELL_FIELDS:
        pa, pb = getattr(a, cell), getattr(b, cell)
        take_a = rng.random(len(pa)) < 0.5
        fields[cell] = tuple(x if t else y for x, y, t in zip(pa, pb, take_a))
        concat = f"{cell}_concat"
        fields[concat] = getattr(a, concat) if rng.random() < 0.5 else getattr(b, concat)
    return DartsGenotype(**fields)


def mutate_op(space: DartsSpace, genotype: DartsGenotype, rng: np.random.Generator) -> DartsGenotype:
    """Give one random pair of one random cell a different op.

    ``none`` is only drawn when it is the sole alternative (as in ``DartsSpace.sample``).
    Returns the parent itself when the space has a single op.
    """
    cell = str(_pick(rng, CELL_FIELDS))
    pairs: List[Pair] = list(getattr(genotype, cell))
    pos = int(rng.integers(len(pairs)))
    op, src = pairs[pos]
    choices = [o for o in space.ops if o != op and o != "none"] or [o for o in space.ops if o != op]
    if not choices:
        return genotype
    pairs[pos] = (str(_pick(rng, choices)), src)
    return _replace_cell(genotype, cell, pairs)


def mutate_input(space: DartsSpace, genotype: DartsGenotype, rng: np.random.Generator) -> DartsGenotype:
    """Rewire one random pair of one random cell to another earlier node.

    The new input differs from the old one and, where possible, from the input of the
    other pair of the same node.
    """
    cell = str(_pick(rng, CELL_FIELDS))
    pairs: List[Pair] = list(getattr(genotype, cell))
    pos = int(rng.integers(len(pairs)))
    node = NUM_INPUTS + pos // 2
    op, src = pairs[pos]
    sibling = pairs[pos ^ 1][1]
    choices = [j for j in range(node) if j not in (src, sibling)] or [j for j in range(node) if j != src]
    pairs[pos] = (op, int(_pick(rng, choices)))
    return _replace_cell(genotype, cell, pairs)


register_variation("darts", crossovers={"uniform": uniform_crossover},
                   mutations={"op": mutate_op, "input": mutate_input})
