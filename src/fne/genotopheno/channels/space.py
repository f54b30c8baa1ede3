"""The ``fne`` search space: cells as DAGs whose edges carry channel counts per op.

Encoding. A cell has nodes ``0..n-1``; node 0 is the cell input, nodes ``1..n-1`` are
computed and node ``n-1`` is the output. Each edge ``j -> i`` (``j < i``) carries one
channel count per op of the space (0: op absent). Node ``i`` concatenates, along the
channel axis, what every op on its incoming edges produces, so it has as many channels
as the sum of the counts on those edges (times the width multiplier ``channel_scale``
of :meth:`ChannelSpace.build`).

Text. One block per edge in triangular order (edge ``j -> i`` at index
``i * (i - 1) / 2 + j``), blocks separated by exactly two spaces, the ``len(ops)`` counts
of a block separated by ``|``. With the eight DARTS ops and three nodes::

    0|0|2|0|0|2|0|0  1|0|0|1|1|0|0|0  0|1|0|0|0|0|2|1

is the edge 0->1, then 0->2, then 1->2. Counts are written without sign or leading zeros.

Empty and dead nodes. Node 0 is *fed*; a computed node is fed when an edge from a fed
node carries a nonzero count. A node that is not fed has 0 channels, and whatever its
outgoing edges carry is ignored. A fed node is *live* when it reaches the output
through nonzero edges; other fed nodes are *dead*. Unfed and dead nodes are valid
(so a mutation that empties a node never makes a genotype invalid) but they are not
built and :meth:`ChannelSpace.canonical` drops them. The only structural requirement is that
the output node is fed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from fne.genotopheno.ops import DARTS_OPS, ReLUConvBN, create_op, list_ops
from fne.genotopheno.space import SearchSpace, check_ops_known, check_positive_ints, is_ascii_digits, register_space

logger = logging.getLogger(__name__)

BLOCK_SEP = "  "
COUNT_SEP = "|"
MAX_NODES_LIMIT = 12
"""Largest ``max_nodes`` of an :class:`ChannelSpace`; it keeps :meth:`ChannelSpace.canonical` fast."""


def edge_index(i: int, j: int) -> int:
    """Index of the block of edge ``j -> i`` (``0 <= j < i``) in the triangular order."""
    return i * (i - 1) // 2 + j


def edge_of_index(index: int) -> tuple[int, int]:
    """Inverse of :func:`edge_index`: the ``(i, j)`` of the edge ``j -> i`` at ``index``."""
    i = (1 + math.isqrt(1 + 8 * index)) // 2
    return i, index - edge_index(i, 0)


def nodes_for_blocks(num_blocks: int) -> int | None:
    """Number of nodes ``n`` with ``n (n - 1) / 2 == num_blocks``, or ``None`` if none."""
    if num_blocks < 1:
        return None
    n = edge_of_index(num_blocks)[0]
    return n if edge_index(n, 0) == num_blocks else None


def _where(block: int, position: int | None = None, ops: Sequence[str] = ()) -> str:
    """Human-readable location of a block (and a count inside it) for error messages."""
    i, j = edge_of_index(block)
    text = f"block {block + 1} (edge {j}->{i})"
    if position is not None:
        op = f" (op {ops[position]!r})" if position < len(ops) else ""
        text += f", count {position + 1}{op}"
    return text


@dataclass(frozen=True)
class ChannelGenotype:
    """An ``fne`` cell: per edge ``j -> i``, one channel count per op of the space.

    Attributes:
        edges: one tuple of counts per edge, in triangular order (see :func:`edge_index`).
            Lists are converted to tuples; the values are checked by
            :meth:`ChannelSpace.validate`, not here.
    """

    edges: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        try:
            edges = tuple(tuple(block) for block in self.edges)
        except TypeError:
            raise ValueError(f"edges must be a sequence of count sequences, got {self.edges!r}") from None
        object.__setattr__(self, "edges", edges)

    @property
    def num_nodes(self) -> int:
        """Number of nodes, input and output included; ``ValueError`` if not triangular."""
        n = nodes_for_blocks(len(self.edges))
        if n is None:
            raise ValueError(f"{len(self.edges)} edge blocks is not a triangular number (1, 3, 6, 10, ...)")
        return n

    def edge(self, i: int, j: int) -> tuple[int, ...]:
        """Counts on the edge ``j -> i`` (into node ``i`` from node ``j``, ``0 <= j < i``)."""
        if not 0 <= j < i < self.num_nodes:
            raise ValueError(f"no edge {j}->{i} in a cell of {self.num_nodes} nodes")
        return self.edges[edge_index(i, j)]

    def fed_nodes(self) -> tuple[bool, ...]:
        """Per node, whether it is fed (node 0, or a nonzero edge from a fed node)."""
        fed = [True]
        for i in range(1, self.num_nodes):
            fed.append(any(fed[j] and any(self.edge(i, j)) for j in range(i)))
        return tuple(fed)

    def live_nodes(self) -> tuple[bool, ...]:
        """Per node, whether it is fed and reaches the output through nonzero edges."""
        n, fed = self.num_nodes, self.fed_nodes()
        live = [False] * n
        live[n - 1] = fed[n - 1]
        for j in range(n - 2, -1, -1):
            live[j] = fed[j] and any(live[i] and any(self.edge(i, j)) for i in range(j + 1, n))
        return tuple(live)

    def node_channels(self, i: int) -> int:
        """Channel count of computed node ``i`` (sum of the counts it receives from fed nodes)."""
        if not 1 <= i < self.num_nodes:
            raise ValueError(f"node {i} is not a computed node of a cell of {self.num_nodes} nodes")
        fed = self.fed_nodes()
        if not fed[i]:
            return 0
        return sum(sum(self.edge(i, j)) for j in range(i) if fed[j])

    def pruned(self) -> ChannelGenotype:
        """The same cell with unfed and dead nodes removed (live nodes keep their order)."""
        keep = [k for k, alive in enumerate(self.live_nodes()) if alive]
        width = len(self.edges[0])
        if len(keep) < 2:
            return ChannelGenotype(((0,) * width,))
        return _induced(self, keep)


def _induced(g: ChannelGenotype, order: Sequence[int]) -> ChannelGenotype:
    """The cell on nodes ``order`` (old labels, new label = position in ``order``).

    ``order`` must be topological: a pair placed against the old labels has no edge.
    """
    zero = (0,) * len(g.edges[0])
    edges = []
    for b in range(1, len(order)):
        for a in range(b):
            edges.append(g.edge(order[b], order[a]) if order[a] < order[b] else zero)
    return ChannelGenotype(tuple(edges))


Block = tuple[int, ...]
Prefix = tuple[int, ...]
StateKey = tuple[tuple[tuple[Block, ...], ...], ...]


def _colours(into: list[list[Block]]) -> list[int]:
    """Isomorphism-invariant node colours: depth, refined by the coloured edges around each node.

    ``into[v][u]`` is the block of edge ``u -> v``. Colours start as the longest-path depth from
    node 0 and are refined until stable: a node's new colour is the rank of (its colour, the
    sorted (colour, block) pairs of its in-edges and of its out-edges). Ranks keep the order of
    the coarser colours, so sorting nodes by colour is a topological order (depth comes first).
    """
    n = len(into)
    edges = [(u, v, into[v][u]) for v in range(n) for u in range(v) if any(into[v][u])]
    colour = [0] * n
    for u, v, _ in edges:
        colour[v] = max(colour[v], colour[u] + 1)
    while True:
        sig = [
            (
                colour[v],
                tuple(sorted((colour[u], b) for u, w, b in edges if w == v)),
                tuple(sorted((colour[w], b) for u, w, b in edges if u == v)),
            )
            for v in range(n)
        ]
        ranks = {key: r for r, key in enumerate(sorted(set(sig)))}
        refined = [ranks[key] for key in sig]
        if len(set(refined)) == len(set(colour)):
            return refined
        colour = refined


class _OrderSearch:
    """The order of the canonical form: nodes sorted by colour, ties by the smallest tuple.

    Nodes are sorted by :func:`_colours`; nodes of one colour (same depth, so no edges between
    them) may come in any order, and the order kept is the one whose relabelled ``edges`` tuple
    is smallest. As colours and edges are invariant, isomorphic cells end up with equal tuples.

    Position ``b`` of an order contributes the row ``(edge(order[b], order[a]) for a < b)`` to
    the tuple, so the tuple compares row by row and a prefix of the order fixes a prefix of the
    tuple. Level by level, only the prefixes whose rows are smallest survive (ties all branch),
    which is exact. Two prunings keep ties from multiplying, both exact because they only drop
    prefixes whose best completion is no smaller than a kept one's:

    * of two next nodes with the same row and the same edges into the unplaced nodes and the
      output (twins: swapping them maps the cell onto itself), only one is tried;
    * prefixes placing the same set of nodes are compared by the edges each unplaced node
      receives from the placed positions, up to exchanges of twins of the unplaced part; a
      prefix no better than another for every unplaced node is dropped.

    Ties only remain among nodes the colours cannot tell apart, which in cells this small are
    almost always symmetric; the worst case is still exponential, hence :data:`MAX_NODES_LIMIT`.

    Args:
        g: a pruned cell (every node live), so node 0 comes first and the output last.
    """

    def __init__(self, g: ChannelGenotype) -> None:
        n = g.num_nodes
        zero = (0,) * len(g.edges[0])
        self.out = n - 1
        self.into = [[g.edge(v, u) if u < v else zero for u in range(n)] for v in range(n)]
        self.colour = _colours(self.into)
        self.inner = sorted(range(1, n - 1), key=lambda v: self.colour[v])
        self._classes: dict[frozenset[int], list[list[int]]] = {}

    def best_order(self) -> list[int]:
        """Node 0, the intermediate nodes in the order of the smallest tuple, the output."""
        states: list[Prefix] = [(0,)]
        for _ in self.inner:
            states = self._prune(self._extend(states))
        return list(states[0]) + [self.out]

    def _row(self, v: int, prefix: Prefix) -> tuple[Block, ...]:
        return tuple(self.into[v][p] for p in prefix)

    def _extend(self, states: list[Prefix]) -> list[Prefix]:
        """Every one-node extension of ``states`` whose new row is the smallest."""
        best: tuple[Block, ...] | None = None
        kept: list[Prefix] = []
        for prefix in states:
            for v in self._choices(prefix):
                row = self._row(v, prefix)
                if best is None or row < best:
                    best, kept = row, [prefix + (v,)]
                elif row == best:
                    kept.append(prefix + (v,))
        return kept

    def _choices(self, prefix: Prefix) -> list[int]:
        """The unplaced nodes of the first colour not yet placed, one per class of twins."""
        placed = set(prefix)
        targets = [v for v in self.inner if v not in placed] + [self.out]
        first = self.colour[targets[0]]
        seen, choices = set(), []
        for v in targets[:-1]:
            if self.colour[v] != first:
                break
            key = (self._row(v, prefix), tuple(self.into[w][v] for w in targets))
            if key not in seen:
                seen.add(key)
                choices.append(v)
        return choices

    def _prune(self, prefixes: list[Prefix]) -> list[Prefix]:
        """Drop the prefixes dominated by another prefix that placed the same nodes."""
        groups: dict[frozenset[int], list[Prefix]] = {}
        for prefix in prefixes:
            groups.setdefault(frozenset(prefix), []).append(prefix)
        kept: list[Prefix] = []
        for placed, members in groups.items():
            keyed: dict[StateKey, Prefix] = {}
            for prefix in members:
                keyed.setdefault(self._state_key(placed, prefix), prefix)
            keys = list(keyed)
            kept.extend(keyed[k] for k in keys if not any(o != k and _dominates(o, k) for o in keys))
        return kept

    def _state_key(self, placed: frozenset[int], prefix: Prefix) -> StateKey:
        """Per class of twins of the unplaced part, the sorted rows its nodes would get now."""
        return tuple(tuple(sorted(self._row(u, prefix) for u in members)) for members in self._twin_classes(placed))

    def _twin_classes(self, placed: frozenset[int]) -> list[list[int]]:
        """Unplaced nodes grouped by colour and edges from and to the unplaced part; output alone."""
        if placed not in self._classes:
            rest = [v for v in self.inner if v not in placed]
            classes: dict[tuple, list[int]] = {}
            for u in rest:
                signature = (
                    self.colour[u],
                    tuple(self.into[u][w] for w in rest),
                    tuple(self.into[w][u] for w in rest + [self.out]),
                )
                classes.setdefault(signature, []).append(u)
            self._classes[placed] = list(classes.values()) + [[self.out]]
        return self._classes[placed]


def _dominates(a: StateKey, b: StateKey) -> bool:
    """Whether every row of ``a`` is at most the matching row of ``b``."""
    return all(x <= y for ca, cb in zip(a, b, strict=False) for x, y in zip(ca, cb, strict=False))


@register_space("channels")
class ChannelSpace(SearchSpace[ChannelGenotype]):
    """Cells as DAGs whose edges carry one output-channel count per op.

    Args:
        ops: op names (registered with :func:`register_op`); default the DARTS ops.
        max_nodes: most nodes a cell may have, input and output included (2..MAX_NODES_LIMIT).
        max_channels: largest count an op may carry on an edge (>= 1).

    Raises:
        ValueError: for unknown or repeated ops, or bounds out of range.
    """

    presets = {
        "score": {"C": 8, "num_cells": 1, "channel_scale": 2},
        "tournament": {"C": 8, "num_cells": 1, "channel_scale": 2},
        "full": {},
    }
    """Scoring and tournaments on one cell a stage at half the width; full is the default
    network (C=16, three cells a stage, width multiplier 4)."""

    def __init__(self, ops: Sequence[str] | None = None, max_nodes: int = 6, max_channels: int = 8) -> None:
        ops = tuple(DARTS_OPS if ops is None else ops)
        if not ops:
            raise ValueError("ops must name at least one op")
        if len(set(ops)) != len(ops):
            raise ValueError(f"ops must be distinct, got {list(ops)}")
        check_ops_known(ops, list_ops())
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 2:
            raise ValueError(f"max_nodes must be an int >= 2, got {max_nodes!r}")
        if max_nodes > MAX_NODES_LIMIT:
            raise ValueError(
                f"max_nodes={max_nodes} is above the cap of {MAX_NODES_LIMIT} nodes "
                "(MAX_NODES_LIMIT): canonical() compares node orders, whose number "
                "grows factorially with the nodes"
            )
        if not isinstance(max_channels, int) or max_channels < 1:
            raise ValueError(f"max_channels must be an int >= 1, got {max_channels!r}")
        self._ops, self.max_nodes, self.max_channels = ops, max_nodes, max_channels

    @property
    def ops(self) -> tuple[str, ...]:
        """The op names, in the order of the counts inside a block."""
        return self._ops

    def __repr__(self) -> str:
        return f"ChannelSpace(ops={list(self.ops)}, max_nodes={self.max_nodes}, max_channels={self.max_channels})"

    # ------------------------------------------------------------------ text
    def parse(self, text: str) -> ChannelGenotype:
        """Parse genotype text (surrounding whitespace is ignored).

        Raises:
            ValueError: naming the offending token with its block, edge and op, or the
                block count when it is not triangular; also everything :meth:`validate` rejects.
        """
        if not isinstance(text, str):
            raise ValueError(f"expected genotype text (str), got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"empty fne genotype text: {text!r}")
        blocks = text.strip().split(BLOCK_SEP)
        edges = tuple(self._parse_block(block, b) for b, block in enumerate(blocks))
        if nodes_for_blocks(len(edges)) is None:
            raise ValueError(
                f"{len(edges)} blocks in {text!r}: the number of blocks must be "
                "triangular (1, 3, 6, 10, ...), one per edge j->i"
            )
        genotype = ChannelGenotype(edges)
        self.validate(genotype)
        return genotype

    def _parse_block(self, block: str, b: int) -> tuple[int, ...]:
        """Parse block ``b`` (0-based) into its counts."""
        if not block:
            raise ValueError(f"{_where(b)} is empty: blocks are separated by exactly two spaces")
        if any(ch.isspace() for ch in block):
            raise ValueError(
                f"{_where(b)} {block!r} contains whitespace: blocks are separated by "
                "exactly two spaces and counts by '|'"
            )
        tokens = block.split(COUNT_SEP)
        if len(tokens) != len(self.ops):
            raise ValueError(
                f"{_where(b)} {block!r} has {len(tokens)} counts, expected "
                f"{len(self.ops)} (one per op: {', '.join(self.ops)})"
            )
        return tuple(self._parse_count(tok, b, k) for k, tok in enumerate(tokens))

    def _parse_count(self, token: str, b: int, k: int) -> int:
        """Parse one count token at block ``b``, position ``k``."""
        where = _where(b, k, self.ops)
        if token.startswith("-") and is_ascii_digits(token[1:]):
            raise ValueError(f"{where}: count {token!r} is negative")
        if not is_ascii_digits(token):
            raise ValueError(f"{where}: token {token!r} is not a non-negative integer in ASCII digits 0-9")
        if len(token) > 1 and token[0] == "0":
            raise ValueError(f"{where}: count {token!r} has a leading zero")
        return int(token)

    def format(self, genotype: ChannelGenotype) -> str:
        """Write ``genotype`` as text (validated first); ``parse(format(g)) == g``."""
        self.validate(genotype)
        return BLOCK_SEP.join(COUNT_SEP.join(str(c) for c in block) for block in genotype.edges)

    # ------------------------------------------------------------ validation
    def validate(self, genotype: ChannelGenotype) -> None:
        """Check ``genotype`` against this space.

        Checks: an :class:`ChannelGenotype`; a triangular number of blocks with at most
        ``max_nodes`` nodes; ``len(ops)`` counts per block; counts are ints in
        ``0..max_channels``; the output node is fed. Unfed and dead nodes are allowed.

        Raises:
            ValueError: naming the offending block, op and value.
        """
        if not isinstance(genotype, ChannelGenotype):
            raise ValueError(f"expected an ChannelGenotype, got {type(genotype).__name__}")
        n = nodes_for_blocks(len(genotype.edges))
        if n is None:
            raise ValueError(f"{len(genotype.edges)} edge blocks is not a triangular number (1, 3, 6, ...)")
        if n > self.max_nodes:
            raise ValueError(f"cell has {n} nodes, more than max_nodes={self.max_nodes}")
        for b, block in enumerate(genotype.edges):
            self._validate_block(block, b)
        if not genotype.fed_nodes()[-1]:
            raise ValueError(f"output node {n - 1} receives nothing: no nonzero edge from a fed node")

    def _validate_block(self, block: tuple[int, ...], b: int) -> None:
        """Check the counts of block ``b``."""
        if len(block) != len(self.ops):
            raise ValueError(f"{_where(b)} has {len(block)} counts, expected {len(self.ops)}")
        for k, count in enumerate(block):
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
                raise ValueError(f"{_where(b, k, self.ops)}: count {count!r} is not an int")
            if not 0 <= count <= self.max_channels:
                raise ValueError(f"{_where(b, k, self.ops)}: count {count} outside 0..max_channels={self.max_channels}")

    # ------------------------------------------------------------- canonical
    def canonical_genotype(self, genotype: ChannelGenotype | str) -> ChannelGenotype:
        """The canonical representative of ``genotype``'s isomorphism class.

        Unfed and dead nodes are dropped, then the intermediate nodes are relabelled in
        the order of isomorphism-invariant colours (depth first, then the colours and
        blocks of the edges around each node, refined until stable); among the orders
        that leave nodes of one colour in any order, the one with the lexicographically
        smallest ``edges`` tuple is kept (branch and bound, see :class:`_OrderSearch`).
        Input and output nodes keep their roles. Counts and op identities are never changed.
        """
        pruned = self.coerce(genotype).pruned()
        return _induced(pruned, _OrderSearch(pruned).best_order())

    def canonical(self, genotype: ChannelGenotype | str) -> str:
        """Text of :meth:`canonical_genotype`; equal for isomorphic cells.

        Merged: relabellings of intermediate nodes consistent with a topological
        order; the order in which a node's parts are concatenated (channel order, which
        the following ops and the output projection absorb); unfed and dead nodes and
        their edges. Not merged: anything that changes counts or ops, e.g. splitting a
        count across parallel edges, or ``none`` ops (kept as zero-valued channels).
        Cost: about a millisecond for most cells of ``MAX_NODES_LIMIT`` nodes, under 10 ms
        for the most symmetric ones tried (the worst case is exponential, hence the cap).
        """
        return self.format(self.canonical_genotype(genotype))

    # --------------------------------------------------------------- sample
    def sample(self, rng: np.random.Generator) -> ChannelGenotype:
        """Draw a random valid genotype in which every node is live.

        The cell gets ``2..max_nodes-1`` computed nodes (fewer only if ``max_nodes``
        forces it). Each computed node gets one op from an earlier node, each
        intermediate node one op into a later node, plus a few (Poisson, mean 1)
        extra ops on random edges. Ops are drawn uniformly (``none`` only when it is the
        sole op) and counts uniformly from ``1..max_channels``.
        """
        n = int(rng.integers(min(3, self.max_nodes), self.max_nodes + 1))
        counts = np.zeros((n, n, len(self.ops)), dtype=np.int64)
        for i in range(1, n):
            self._add_random_op(counts, i, int(rng.integers(0, i)), rng)
        for j in range(1, n - 1):
            if not counts[j + 1 :, j].any():
                self._add_random_op(counts, int(rng.integers(j + 1, n)), j, rng)
        for _ in range(int(rng.poisson(1.0))):
            i = int(rng.integers(1, n))
            self._add_random_op(counts, i, int(rng.integers(0, i)), rng)
        edges = [tuple(int(c) for c in counts[i, j]) for i in range(1, n) for j in range(i)]
        return ChannelGenotype(tuple(edges))

    def _add_random_op(self, counts: np.ndarray, i: int, j: int, rng: np.random.Generator) -> None:
        """Put a random op with a random nonzero count on edge ``j -> i``."""
        choices = [k for k, op in enumerate(self.ops) if op != "none"] or [0]
        op = choices[int(rng.integers(0, len(choices)))]
        counts[i, j, op] = int(rng.integers(1, self.max_channels + 1))

    # ---------------------------------------------------------------- build
    def _build(
        self,
        genotype: ChannelGenotype,
        *,
        num_classes: int,
        in_channels: int,
        C: int = 16,
        num_cells: int = 3,
        num_stages: int = 3,
        channel_scale: int = 4,
        stem: nn.Module | None = None,
        affine: bool = True,
    ) -> ChannelNetwork:
        """The network of ``genotype`` (the same cell everywhere).

        Args:
            genotype: the cell.
            num_classes: outputs of the linear head.
            in_channels: channels of the input images.
            C: channels after the stem (doubled by each reduction cell).
            num_cells: normal cells per stage.
            num_stages: stages; a reduction cell (stride 2, channels x2) sits between stages.
            channel_scale: width multiplier: an op with count ``c`` outputs ``c * channel_scale`` channels.
            stem: module mapping ``(N, in_channels, H, W)`` to ``C`` channels; default 3x3 conv + BN.
            affine: affine batch norms in the cells.

        Raises:
            ValueError: for non-positive sizes.
        """
        sizes = dict(C=C, num_cells=num_cells, num_stages=num_stages, channel_scale=channel_scale)
        check_positive_ints(**sizes)
        text = self.format(genotype)
        return ChannelNetwork(
            genotype,
            self.ops,
            text=text,
            stem=stem,
            affine=affine,
            num_classes=num_classes,
            in_channels=in_channels,
            **sizes,
        )


class ChannelCell(nn.Module):
    """One ``fne`` cell mapping ``C_in`` to ``C_out`` channels (halving H, W if ``reduction``).

    Only live nodes are built. Op ``op`` with count ``c`` on edge ``j -> i`` becomes
    ``create_op(op, width_j, c * channel_scale, stride, affine)`` with stride 2 on the
    edges out of node 0 of a reduction cell. The output node is projected to ``C_out``
    by a 1x1 :class:`ReLUConvBN`.
    """

    def __init__(
        self,
        genotype: ChannelGenotype,
        ops: Sequence[str],
        C_in: int,
        C_out: int,
        reduction: bool,
        channel_scale: int,
        affine: bool = True,
    ) -> None:
        super().__init__()
        g = genotype.pruned()
        self.C_in, self.C_out, self.reduction = C_in, C_out, reduction
        self.node_widths = [C_in] + [channel_scale * g.node_channels(i) for i in range(1, g.num_nodes)]
        self.nodes = nn.ModuleList()
        self.sources: list[list[int]] = []
        for i in range(1, g.num_nodes):
            self._add_node(g, ops, i, channel_scale, affine)
        self.project = ReLUConvBN(self.node_widths[-1], C_out, 1, 1, 0, 1, affine)

    def _add_node(self, g: ChannelGenotype, ops: Sequence[str], i: int, scale: int, affine: bool) -> None:
        """Create the op modules feeding node ``i``."""
        modules, sources = nn.ModuleList(), []
        for j in range(i):
            stride = 2 if self.reduction and j == 0 else 1
            for op, count in zip(ops, g.edge(i, j), strict=False):
                if count:
                    modules.append(create_op(op, self.node_widths[j], count * scale, stride, affine))
                    sources.append(j)
        self.nodes.append(modules)
        self.sources.append(sources)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = [x]
        for modules, sources in zip(self.nodes, self.sources, strict=False):
            ops = cast(nn.ModuleList, modules)  # _add_node appends one ModuleList per node
            states.append(torch.cat([op(states[j]) for op, j in zip(ops, sources, strict=False)], dim=1))
        return self.project(states[-1])

    def extra_repr(self) -> str:
        return f"C_in={self.C_in}, C_out={self.C_out}, reduction={self.reduction}, node_widths={self.node_widths}"


class ChannelNetwork(nn.Module):
    """Stem, stages of :class:`ChannelCell`, BN-ReLU, global average pooling and a linear head.

    Stages hold ``num_cells`` normal cells each; between two stages a reduction cell
    halves the resolution and doubles the channels. ``forward`` returns logits.
    """

    def __init__(
        self,
        genotype: ChannelGenotype,
        ops: Sequence[str],
        *,
        text: str,
        num_classes: int,
        C: int,
        num_cells: int,
        num_stages: int,
        channel_scale: int,
        in_channels: int,
        stem: nn.Module | None = None,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.genotype, self.genotype_text = genotype, text
        self.stem = (
            stem
            if stem is not None
            else nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        )
        cells, channels = [], C
        for stage in range(num_stages):
            if stage > 0:
                cells.append(ChannelCell(genotype, ops, channels, 2 * channels, True, channel_scale, affine))
                channels *= 2
            cells.extend(
                ChannelCell(genotype, ops, channels, channels, False, channel_scale, affine) for _ in range(num_cells)
            )
        self.cells = nn.Sequential(*cells)
        self.head_act = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        logger.debug("built fne network with %d cells for %s", len(cells), text)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head_act(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(out), 1))

    def extra_repr(self) -> str:
        return f"genotype={self.genotype_text!r}"
