"""The NAS-Bench-201 search space: strings, canonical keys and the benchmark's network.

A cell has four nodes; node ``i`` (1..3) sums one op applied to every earlier node.
Text form: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from fne.genotopheno.ops import NB201_OPS, ReLUConvBN, create_op
from fne.genotopheno.space import SearchDefaults, SearchSpace, is_ascii_digits, register_space

Edge = tuple[str, int]
NUM_NODES = 4


@dataclass(frozen=True)
class NB201Genotype:
    """An NB201 cell: ``nodes[i - 1]`` holds the ``(op, input)`` edges into node ``i``."""

    nodes: tuple[tuple[Edge, ...], ...]

    @property
    def ops(self) -> tuple[str, ...]:
        """The six edge ops in text order."""
        return tuple(op for node in self.nodes for op, _ in node)

    @classmethod
    def from_ops(cls, ops: Sequence[str]) -> NB201Genotype:
        """Build a genotype from six ops in text order (edges 0->1, 0->2, 1->2, 0->3, 1->3, 2->3)."""
        if len(ops) != 6:
            raise ValueError(f"an NB201 cell has 6 edges, got {len(ops)} ops")
        it = iter(ops)
        return cls(tuple(tuple((next(it), j) for j in range(i)) for i in range(1, NUM_NODES)))

    def __str__(self) -> str:
        return "+".join("|" + "|".join(f"{op}~{j}" for op, j in node) + "|" for node in self.nodes)


def _parse_edge(token: str, pos: int, ops: Sequence[str]) -> Edge:
    op, sep, src = token.partition("~")
    if not sep or not is_ascii_digits(src):
        raise ValueError(
            f"malformed edge {token!r} at position {pos}: expected 'op~input' with the input node in ASCII digits 0-9"
        )
    if op not in ops:
        raise ValueError(f"unknown op {op!r} at position {pos}; NB201 ops: {', '.join(ops)}")
    return op, int(src)


def _parse_node(segment: str, pos: int, ops: Sequence[str]) -> tuple[Edge, ...]:
    if len(segment) < 2 or segment[0] != "|" or segment[-1] != "|":
        raise ValueError(f"malformed node {segment!r} at position {pos}: expected '|op~i|...|'")
    edges, offset = [], pos + 1
    for token in segment[1:-1].split("|"):
        edges.append(_parse_edge(token, offset, ops))
        offset += len(token) + 1
    return tuple(edges)


def _node_expr(edges: tuple[Edge, ...], exprs: list[str]) -> str:
    """Symbolic sum of a node's input terms, sorted; ``#`` marks a zero term."""
    terms = []
    for op, src in edges:
        if op == "none" or exprs[src] == "#":
            terms.append("#")
        elif op == "skip_connect":
            terms.append(exprs[src])
        else:
            terms.append(f"({exprs[src]})@{op}")
    return "+".join(sorted(terms))


@register_space("nb201")
class NB201Space(SearchSpace[NB201Genotype]):
    """NAS-Bench-201: 5 ops on the 6 edges of a 4-node cell (15,625 cells)."""

    search_defaults = SearchDefaults(
        proxies=(
            "expressivity",
            "flops",
            "params",
            "naswot",
            "ntk",
            "grad_corr",
            "kernel_depth",
            "shortcut_depth",
        ),
        ranking="log_rank",
        weights={
            "expressivity": 1.0,
            "flops": 0.5,
            "params": 0.5,
            "naswot": 1.0,
            "ntk": 0.25,
            "grad_corr": 1.0,
            "kernel_depth": 1.0,
            "shortcut_depth": 1.0,
        },
    )
    """The ranking of searches, fronts and ``fne score``. Chosen on 3,000 seed-0 cells of all
    15,625 by ``benchmarks/bench_proxies.py --phase all`` (``score`` preset) for the highest overall
    plus within-FLOPs-level Spearman with at most 1.6 forward+backward passes per cell (1.51), the
    path depths of the computation graph among the candidates. On the 5,858 other cells: Spearman
    0.958, Kendall 0.821, mean Spearman within FLOPs levels 0.733; every cell ranked by it gives a
    front of IGD 0.0064 and hypervolume 0.8925 against the true FLOPs front
    (``report/results/bench_proxies_all_fast.json``). The default search led by it picked 94.27% on
    seeds 0-4, as the ranking before it did (94.26%)."""

    presets = {"score": {"C": 8, "N": 2}, "tournament": {"C": 8, "N": 3}, "full": {}}
    """Scoring on two cells a stage at 8/16/32 channels: on the seed-0 NB201 samples the
    feature-based proxies (expressivity, MeCo, gradient correlation) rank cells better there
    than on one cell a stage, and no better on three; tournaments use three cells a stage,
    deep enough for a cell whose skip connection keeps the stack trainable to show it; full is
    the benchmark's network (16/32/64 channels, five cells a stage)."""

    def __init__(self, ops: Sequence[str] = NB201_OPS) -> None:
        unknown = [op for op in ops if op not in NB201_OPS]
        if unknown:
            raise ValueError(f"ops {unknown} are not NB201 ops; NB201 ops: {', '.join(NB201_OPS)}")
        self._ops = tuple(ops)

    @property
    def ops(self) -> tuple[str, ...]:
        return self._ops

    def parse(self, text: str) -> NB201Genotype:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"empty or non-string NB201 genotype: {text!r}")
        text = text.strip()
        nodes, pos = [], 0
        for segment in text.split("+"):
            nodes.append(_parse_node(segment, pos, self._ops))
            pos += len(segment) + 1
        genotype = NB201Genotype(tuple(nodes))
        self.validate(genotype)
        return genotype

    def format(self, genotype: NB201Genotype) -> str:
        self.validate(genotype)
        return str(genotype)

    def validate(self, genotype: Any) -> None:
        if not isinstance(genotype, NB201Genotype):
            raise ValueError(f"expected an NB201Genotype, got {type(genotype).__name__}")
        if len(genotype.nodes) != NUM_NODES - 1:
            raise ValueError(f"an NB201 cell has {NUM_NODES - 1} nodes, got {len(genotype.nodes)}")
        for i, node in enumerate(genotype.nodes, start=1):
            inputs = [src for _, src in node]
            if inputs != list(range(i)):
                raise ValueError(f"node {i} must take inputs {list(range(i))} in order, got {inputs}")
            for op, _ in node:
                if op not in self._ops:
                    raise ValueError(f"unknown op {op!r} at node {i}; ops: {', '.join(self._ops)}")

    def canonical(self, genotype: NB201Genotype | str) -> str:
        """Key shared by isomorphic cells, the benchmark's notion of a unique cell.

        ``genotype`` is a genotype or its text.

        Node 0 is ``0``; every edge into node ``i`` becomes a term: ``#`` for a
        ``none`` edge or an edge out of a zero node (a node that is exactly ``#``),
        the input's own expression for ``skip_connect``, ``(input)@op`` otherwise.
        A node is its terms, sorted and joined by ``+``. Over the 15,625 cells this
        gives the 6,466 unique cells NAS-Bench-201 counts.
        """
        exprs = ["0"]
        for node in self.coerce(genotype).nodes:
            exprs.append(_node_expr(node, exprs))
        return exprs[-1]

    def live(self, genotype: NB201Genotype) -> NB201Genotype:
        """``genotype`` with ``none`` on every edge off the input-to-output paths.

        An edge is live when its op is not ``none``, its source is reached from the input
        through live edges and its target reaches the output; the others only add zeros
        (or a node nothing reads) and become ``none``, as :meth:`canonical` treats them.
        """
        edges = list(
            zip([(j, i) for i in range(1, NUM_NODES) for j in range(i)], self.coerce(genotype).ops, strict=True)
        )
        reached = {0}
        for i in range(1, NUM_NODES):
            if any(src in reached and op != "none" for (src, dst), op in edges if dst == i):
                reached.add(i)
        reaching = {NUM_NODES - 1}
        for i in range(NUM_NODES - 2, -1, -1):
            if any(dst in reaching and op != "none" for (src, dst), op in edges if src == i):
                reaching.add(i)
        return NB201Genotype.from_ops(
            [op if src in reached and dst in reaching else "none" for (src, dst), op in edges]
        )

    def computes(self, genotype: NB201Genotype) -> bool:
        """False when every edge of the cell's :meth:`live` form is ``none`` (nothing reaches
        the output from the input: 341 of the 15,625 cells)."""
        return any(op != "none" for op in self.live(genotype).ops)

    def sample(self, rng: np.random.Generator) -> NB201Genotype:
        return NB201Genotype.from_ops([self._ops[i] for i in rng.integers(len(self._ops), size=6)])

    def all_genotypes(self) -> list[NB201Genotype]:
        """Every cell of the space, in lexicographic op order."""
        return [NB201Genotype.from_ops(ops) for ops in itertools.product(self._ops, repeat=6)]

    def _build(
        self, genotype: NB201Genotype, *, num_classes: int, in_channels: int, C: int = 16, N: int = 5
    ) -> NB201Network:
        """The NB201 macro network: 3 stages of ``N`` cells at C, 2C, 4C channels.

        Args:
            genotype: the cell.
            num_classes: width of the linear head.
            in_channels: image channels.
            C: channels of the first stage (16 in the benchmark).
            N: cells per stage (5 in the benchmark).
        """
        return NB201Network(genotype, C=C, N=N, num_classes=num_classes, in_channels=in_channels)


class NB201Cell(nn.Module):
    """One NB201 cell: node ``i`` sums an op applied to each earlier node; output is node 3."""

    def __init__(self, genotype: NB201Genotype, C: int, affine: bool = True) -> None:
        super().__init__()
        self.edges = nn.ModuleList(
            create_op(op, C, C, 1, affine) for op, _ in (e for node in genotype.nodes for e in node)
        )
        self.sources = [[src for _, src in node] for node in genotype.nodes]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes, k = [x], 0
        for sources in self.sources:
            total: torch.Tensor | int = 0
            for src in sources:
                total = total + self.edges[k](nodes[src])
                k += 1
            nodes.append(cast(torch.Tensor, total))  # a sum of at least one edge (node i has i inputs)
        return nodes[-1]


class ResidualReduction(nn.Module):
    """The NB201 stride-2 residual block between stages."""

    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """Stem, three stages of cells joined by residual reductions, BN-ReLU, pooling, linear."""

    def __init__(
        self, genotype: NB201Genotype, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3
    ) -> None:
        super().__init__()
        self.genotype = genotype
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        cells: list[nn.Module] = []
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage:
                cells.append(ResidualReduction(width // 2, width))
            cells.extend(NB201Cell(genotype, width) for _ in range(N))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, num_classes)

    def extra_repr(self) -> str:
        return f"genotype={self.genotype}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(out).flatten(1))
