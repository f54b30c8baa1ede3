"""Variation for the ``fne`` space: cells as DAGs whose edges carry a channel count per op.

Operators work on a count array ``counts[i, j, k]`` (edge ``j -> i``, op ``k``). Blocks are
aligned by their triangular index (edge ``j -> i`` at ``i (i - 1) / 2 + j``) when parents of
different sizes are crossed; the child keeps the node count of one parent drawn at random.
An operator that would leave the output node without input repairs the child by adding
one random op on an edge from a fed node into the output.
"""

from __future__ import annotations

import numpy as np

from fne.genotopheno.channels.space import ChannelGenotype, ChannelSpace, edge_index, nodes_for_blocks
from fne.genotopheno.variation import VariationOperators

__all__ = [
    "OPERATORS",
    "uniform_crossover",
    "min_crossover",
    "mutate_op",
    "grow_channels",
    "shrink_channels",
    "swap_blocks",
    "add_node",
    "remove_node",
]


def to_counts(genotype: ChannelGenotype) -> np.ndarray:
    """The genotype as an int array ``(n, n, num_ops)``; ``[i, j]`` holds edge ``j -> i``."""
    n = nodes_for_blocks(len(genotype.edges))
    if n is None:
        raise ValueError(f"{len(genotype.edges)} edge blocks is not a triangular number")
    counts = np.zeros((n, n, len(genotype.edges[0])), dtype=np.int64)
    for i in range(1, n):
        for j in range(i):
            counts[i, j] = genotype.edges[edge_index(i, j)]
    return counts


def from_counts(counts: np.ndarray) -> ChannelGenotype:
    """Inverse of :func:`to_counts` (only the strictly lower triangle is read)."""
    n = counts.shape[0]
    return ChannelGenotype(tuple(tuple(int(c) for c in counts[i, j]) for i in range(1, n) for j in range(i)))


def _fed(counts: np.ndarray) -> list[bool]:
    fed = [True]
    for i in range(1, counts.shape[0]):
        fed.append(any(fed[j] and counts[i, j].any() for j in range(i)))
    return fed


def _op_choices(space: ChannelSpace) -> list[int]:
    """Op positions to draw new ops from: every op but ``none`` unless it is the only one."""
    return [k for k, op in enumerate(space.ops) if op != "none"] or list(range(len(space.ops)))


def _random_op(space: ChannelSpace, rng: np.random.Generator) -> tuple[int, int]:
    choices = _op_choices(space)
    return choices[int(rng.integers(len(choices)))], int(rng.integers(1, space.max_channels + 1))


def _repair(space: ChannelSpace, counts: np.ndarray, rng: np.random.Generator) -> ChannelGenotype:
    """Feed the output from a random fed node if it receives nothing; return the genotype."""
    fed, out = _fed(counts), counts.shape[0] - 1
    if not fed[out]:
        sources = [j for j in range(out) if fed[j]]
        k, c = _random_op(space, rng)
        counts[out, sources[int(rng.integers(len(sources)))], k] = c
    return from_counts(counts)


def _aligned(
    a: ChannelGenotype, b: ChannelGenotype, rng: np.random.Generator
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Blocks of a base parent drawn at random and the other parent's blocks (common prefix)."""
    base, other = (a, b) if rng.random() < 0.5 else (b, a)
    return list(base.edges), list(other.edges[: len(base.edges)])


def uniform_crossover(
    space: ChannelSpace, a: ChannelGenotype, b: ChannelGenotype, rng: np.random.Generator
) -> ChannelGenotype:
    """Each block present in both parents comes from either with probability 1/2."""
    blocks, other = _aligned(a, b, rng)
    for idx, block in enumerate(other):
        if rng.random() < 0.5:
            blocks[idx] = block
    return _repair(space, to_counts(ChannelGenotype(tuple(blocks))), rng)


def min_crossover(
    space: ChannelSpace, a: ChannelGenotype, b: ChannelGenotype, rng: np.random.Generator
) -> ChannelGenotype:
    """Element-wise minimum of the counts of the blocks present in both parents.

    The child keeps only what both parents share (the ops they agree on, at the smaller
    width); blocks beyond the smaller parent come from the base parent.
    """
    blocks, other = _aligned(a, b, rng)
    for idx, block in enumerate(other):
        blocks[idx] = tuple(min(x, y) for x, y in zip(blocks[idx], block, strict=False))
    return _repair(space, to_counts(ChannelGenotype(tuple(blocks))), rng)


def _nonzero(counts: np.ndarray) -> np.ndarray:
    """``(i, j, k)`` of every nonzero count in the lower triangle."""
    idx = np.argwhere(counts > 0)
    return idx[idx[:, 0] > idx[:, 1]]


def mutate_op(space: ChannelSpace, genotype: ChannelGenotype, rng: np.random.Generator) -> ChannelGenotype:
    """Move the channels of one op on an edge to another op of the same edge."""
    counts = to_counts(genotype)
    present = _nonzero(counts)
    if present.size == 0 or len(space.ops) < 2:
        return genotype
    i, j, k = present[int(rng.integers(len(present)))]
    others = [m for m in _op_choices(space) if m != k] or [m for m in range(len(space.ops)) if m != k]
    new = others[int(rng.integers(len(others)))]
    counts[i, j, new] = min(space.max_channels, counts[i, j, new] + counts[i, j, k])
    counts[i, j, k] = 0
    return _repair(space, counts, rng)


def grow_channels(space: ChannelSpace, genotype: ChannelGenotype, rng: np.random.Generator) -> ChannelGenotype:
    """Add one channel unit to an op already on an edge (or, if none can grow, a new op)."""
    counts = to_counts(genotype)
    present = [p for p in _nonzero(counts) if counts[tuple(p)] < space.max_channels]
    if present:
        i, j, k = present[int(rng.integers(len(present)))]
        counts[i, j, k] += 1
        return from_counts(counts)
    fed = _fed(counts)
    slots = [
        (i, j, k)
        for i in range(1, counts.shape[0])
        for j in range(i)
        if fed[j]
        for k in _op_choices(space)
        if counts[i, j, k] == 0
    ]
    if not slots:
        return genotype
    i, j, k = slots[int(rng.integers(len(slots)))]
    counts[i, j, k] = 1
    return from_counts(counts)


def shrink_channels(space: ChannelSpace, genotype: ChannelGenotype, rng: np.random.Generator) -> ChannelGenotype:
    """Remove one channel unit from an op on an edge (an op at one unit disappears).

    Positions whose removal would starve the output are skipped; with none left the
    parent is returned.
    """
    base = to_counts(genotype)
    present = _nonzero(base)
    for pos in rng.permutation(len(present)):
        counts = base.copy()
        counts[tuple(present[pos])] -= 1
        if _fed(counts)[-1]:
            return from_counts(counts)
    return genotype


def swap_blocks(space: ChannelSpace, genotype: ChannelGenotype, rng: np.random.Generator) -> ChannelGenotype:
    """Exchange the contents of two edges with different contents (rewiring their ops)."""
    blocks = list(genotype.edges)
    pairs = [(p, q) for p in range(len(blocks)) for q in range(p + 1, len(blocks)) if blocks[p] != blocks[q]]
    for idx in rng.permutation(len(pairs)):
        p, q = pairs[idx]
        swapped = list(blocks)
        swapped[p], swapped[q] = blocks[q], blocks[p]
        child = ChannelGenotype(tuple(swapped))
        if child.fed_nodes()[-1]:
            return child
    return genotype


def add_node(space: ChannelSpace, genotype: ChannelGenotype, rng: np.random.Generator) -> ChannelGenotype:
    """Insert a computed node fed by one random op from a fed earlier node, feeding a later node.

    Returns the parent when the cell already has ``max_nodes`` nodes.
    """
    old = to_counts(genotype)
    n = old.shape[0]
    if n >= space.max_nodes:
        return genotype
    pos = int(rng.integers(1, n))
    keep = [m for m in range(n + 1) if m != pos]
    counts = np.zeros((n + 1, n + 1, old.shape[2]), dtype=np.int64)
    counts[np.ix_(keep, keep)] = old
    fed = _fed(counts)
    sources = [j for j in range(pos) if fed[j]]
    k, c = _random_op(space, rng)
    counts[pos, sources[int(rng.integers(len(sources)))], k] = c
    k, c = _random_op(space, rng)
    counts[int(rng.integers(pos + 1, n + 1)), pos, k] = c
    return from_counts(counts)


def remove_node(space: ChannelSpace, genotype: ChannelGenotype, rng: np.random.Generator) -> ChannelGenotype:
    """Delete a random computed node that is not the output, with its edges.

    Returns the parent for a cell without such a node.
    """
    old = to_counts(genotype)
    n = old.shape[0]
    if n < 3:
        return genotype
    drop = int(rng.integers(1, n - 1))
    keep = [m for m in range(n) if m != drop]
    return _repair(space, old[np.ix_(keep, keep)].copy(), rng)


OPERATORS = VariationOperators.create(
    crossovers={"uniform": uniform_crossover, "min": min_crossover},
    mutations={
        "op": mutate_op,
        "grow": grow_channels,
        "shrink": shrink_channels,
        "swap": swap_blocks,
        "add_node": add_node,
        "remove_node": remove_node,
    },
    space_name="channels",
)
"""The crossovers and mutations of :class:`ChannelSpace`, its ``variation``."""
