"""The DARTS search space: its ops, the checks on genotypes, canonical keys, sampling and networks.

Node ``k`` of a cell sums two edges ``(op, input)`` whose inputs are two different nodes of
``0..k-1`` (a ``none`` edge reads nothing, so it may share its input with the other edge)::

    space = DartsSpace()
    g = space.parse("Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], "
                    "reduce=[...], reduce_concat=range(2, 6))")
    net = space.build(g)                            # 20 cells, C=36: the CIFAR-10 evaluation network
    small = space.build(g, **space.preset("score"))  # 8 cells, C=4: the network proxies score

``build``, ``canonical`` and ``canonical_genotype`` also take the text itself. Errors in the
text name the offending entry (or Python's reason) and its 0-based character position.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from fne.genotopheno.darts.genotype import (
    CELL_FIELDS,
    FIELDS,
    NODE_IDS,
    NUM_PAIRS,
    DartsGenotype,
    Field,
    Pair,
    RawPair,
    canonical_genotype,
    format_genotype,
    read_fields,
)
from fne.genotopheno.darts.network import DartsNetwork
from fne.genotopheno.ops import DARTS_OPS, list_ops
from fne.genotopheno.space import SearchDefaults, SearchSpace, check_ops_known, register_space

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- checks


def _op_error(op: str, ops: Sequence[str], where: str) -> str | None:
    if op in ops:
        return None
    return f"unknown op {op!r} {where}; this space allows: {', '.join(ops)}"


def _index_error(index: int, node: int, where: str) -> str | None:
    if index < 0:
        return f"negative input index {index} {where}"
    if index >= node:
        return f"input index {index} {where} out of range: node {node} takes inputs 0..{node - 1}"
    return None


def _concat_errors(values: Sequence[int], wheres: Sequence[str], name: str) -> str | None:
    if not values:
        return f"{name} is empty; it must list nodes from {NODE_IDS}"
    for j, (value, where) in enumerate(zip(values, wheres, strict=False)):
        if value not in NODE_IDS:
            return f"{name} node {value} {where} out of range {NODE_IDS[0]}..{NODE_IDS[-1]}"
        if value in values[:j]:
            return f"duplicate {name} node {value} {where}"
    return None


def _repeat_error(pairs: Sequence[tuple[str, int]], i: int, where: str) -> str | None:
    """Error if pair ``i`` (the second of its node) reads the same input as the first, both real."""
    (op_a, index_a), (op_b, index_b) = pairs[i - 1], pairs[i]
    if index_a != index_b or "none" in (op_a, op_b):
        return None
    return (
        f"input {index_b} {where} is also the input of the other edge of node {NODE_IDS[i // 2]}: "
        "the two edges of a node must read different nodes (unless one is 'none')"
    )


def _pair_errors(pairs: Sequence[tuple[str, int]], wheres: Sequence[tuple[str, str]], ops: Sequence[str]) -> str | None:
    for i, ((op, index), (op_where, index_where)) in enumerate(zip(pairs, wheres, strict=False)):
        node = NODE_IDS[i // 2]
        error = _op_error(op, ops, op_where) or _index_error(index, node, index_where)
        if not error and i % 2:
            error = _repeat_error(pairs, i, index_where)
        if error:
            return error
    return None


def _check_pair_types(name: str, pairs: Any) -> None:
    if not isinstance(pairs, tuple):
        raise ValueError(f"{name} must be a tuple of (op, input) pairs, got {type(pairs).__name__}")
    if len(pairs) != NUM_PAIRS:
        raise ValueError(f"{name} has {len(pairs)} pairs, expected {NUM_PAIRS} (2 per node 2..5)")
    for i, pair in enumerate(pairs):
        ok = isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
        if not ok or not isinstance(pair[1], int) or isinstance(pair[1], bool):
            raise ValueError(f"{name} pair {i + 1} is not an (op: str, input: int) tuple: {pair!r}")


def _check_concat_types(name: str, concat: Any) -> None:
    if not isinstance(concat, tuple) or not all(isinstance(n, int) and not isinstance(n, bool) for n in concat):
        raise ValueError(f"{name} must be a tuple of ints, got {concat!r}")


# ----------------------------------------------------------------------------- the space


@register_space("darts")
class DartsSpace(SearchSpace[DartsGenotype]):
    """The DARTS cell search space (Liu et al., 2019) over any registered ops.

    Args:
        ops: op names genotypes may use; defaults to ``fne.genotopheno.ops.DARTS_OPS``. Every
            name must be registered with ``register_op``.

    Raises:
        ValueError: for an empty or duplicated op list or an unregistered op.
    """

    search_defaults = SearchDefaults(
        proxies=("expressivity", "naswot", "fisher_entropy"),
        ranking="mean_rank",
        weights={"expressivity": 0.5, "naswot": 1.0, "fisher_entropy": 0.5},
    )
    """Chosen by ``benchmarks/bench_proxies.py`` with the NB201 rule on the seed-0 half of the
    NB301 table (362 cells) on the ``score`` preset, among expressivity, progressivity, MeCo,
    FLOPs, params, NASWOT, ZiCo and the Fisher spectrum's entropy (odds 1.0 for the Spearman
    target 0.60; seed-0 Spearman 0.698, about 1.3 forward+backward passes per cell; see
    ``report/results/bench_proxies_darts_select.json``). The Fisher entropy alone ranks these
    cells at -0.15 and lifts the pair expressivity + NASWOT from 0.630."""

    presets = {
        "score": {"C": 4, "layers": 8, "stem_multiplier": 1},
        "tournament": {"C": 8, "layers": 3, "stem_multiplier": 1},
        "full": {},
    }
    """Scoring on eight cells (six normal, two reduction) at C=4: on the seed-0 half of the
    NAS-Bench-301 table the proxies rank cells much better there than on three cells at C=8,
    at about the same cost; tournaments on three cells (normal, reduction, reduction) at C=8,
    fast on a CPU; full is the DARTS CIFAR evaluation network (C=36, 20 cells)."""

    def __init__(self, ops: Sequence[str] | None = None) -> None:
        ops = tuple(DARTS_OPS if ops is None else ops)
        if not ops or len(set(ops)) != len(ops):
            raise ValueError(f"ops must be a non-empty list of distinct names, got {list(ops)}")
        check_ops_known(ops, list_ops())
        self._ops = ops

    @property
    def ops(self) -> tuple[str, ...]:
        """The op names genotypes of this space may use."""
        return self._ops

    def parse(self, text: str) -> DartsGenotype:
        """Parse DARTS genotype text (lists or ``range(a, b)`` for concat, either quote style).

        Raises:
            ValueError: naming the offending entry (or, for text that is not a Python literal,
                Python's reason), its position and, for pairs, which pair.
        """
        if not isinstance(text, str):
            raise ValueError(f"genotype text must be a str, got {type(text).__name__}")
        fields = read_fields(text)
        for name in CELL_FIELDS:
            self._check_raw_cell(name, fields[name])
            _check_raw_concat(f"{name}_concat", fields[f"{name}_concat"])
        genotype = DartsGenotype(*(_raw_value(fields[name].items) for name in FIELDS))
        self.validate(genotype)
        return genotype

    def _check_raw_cell(self, name: str, field: Field) -> None:
        pairs: list[RawPair] = field.items
        if len(pairs) != NUM_PAIRS:
            raise ValueError(
                f"{name} has {len(pairs)} pairs, expected {NUM_PAIRS} (2 per node 2..5); "
                f"list ends with ']' at position {field.close}"
            )
        wheres = [
            (f"at position {p.op_pos} ({name} pair {i + 1})", f"at position {p.source_pos} ({name} pair {i + 1})")
            for i, p in enumerate(pairs)
        ]
        error = _pair_errors([(p.op, p.source) for p in pairs], wheres, self._ops)
        if error:
            raise ValueError(error)

    def format(self, genotype: DartsGenotype) -> str:
        """Canonical published text: ``Genotype(normal=[...], normal_concat=[2, 3, 4, 5], ...)``."""
        self.validate(genotype)
        return format_genotype(genotype)

    def validate(self, genotype: Any) -> None:
        """Check pair counts, ops, input ranges, distinct inputs per node and concat nodes.

        A node's two edges must read different nodes unless one of them is ``none`` (whose
        input :meth:`canonical` sets to 0), as in every published DARTS cell.

        Raises:
            ValueError: naming the cell, the pair and what is wrong.
        """
        if not isinstance(genotype, DartsGenotype):
            raise ValueError(f"expected a DartsGenotype, got {type(genotype).__name__}")
        for name in CELL_FIELDS:
            pairs, concat = getattr(genotype, name), getattr(genotype, f"{name}_concat")
            _check_pair_types(name, pairs)
            wheres = [(f"({name} pair {i + 1})",) * 2 for i in range(NUM_PAIRS)]
            error = _pair_errors(pairs, wheres, self._ops)
            _check_concat_types(f"{name}_concat", concat)
            error = error or _concat_errors(concat, [f"(entry {j + 1})" for j in range(len(concat))], f"{name}_concat")
            if error:
                raise ValueError(error)

    def canonical_genotype(self, genotype: DartsGenotype | str) -> DartsGenotype:
        """The genotype (or text) in canonical form (see :meth:`canonical`); itself a valid genotype."""
        return canonical_genotype(self.coerce(genotype))

    def canonical(self, genotype: DartsGenotype | str) -> str:
        """A key equal for genotypes (or their texts) that build the same network up to relabelling.

        Rule, applied to each cell: (1) a ``none`` edge outputs zeros whatever its input, so its
        input becomes 0; (2) the two edges of a node are a set, so they are sorted; (3) the
        intermediate nodes are relabelled in every order that keeps each edge's input below its
        node (another topological order of the same graph) and the lexicographically smallest
        result is kept; (4) concat nodes are sorted. Equal keys mean the built networks have the
        same ops and parameter count and compute the same functions up to a permutation of
        channels. The key is the canonical genotype's text, so ``parse(key)`` works.
        """
        return format_genotype(self.canonical_genotype(genotype))

    def sample(self, rng: np.random.Generator, *, include_none: bool = False) -> DartsGenotype:
        """Draw a uniform random genotype: two distinct inputs per node, uniform ops.

        Args:
            rng: the random generator.
            include_none: also draw the ``none`` op (DARTS excludes it from final cells).

        Raises:
            ValueError: if no op is left to draw from.
        """
        ops = [op for op in self._ops if include_none or op != "none"]
        if not ops:
            raise ValueError(f"no op to sample from ops {list(self._ops)} (include_none={include_none})")
        normal, reduce = _sample_cell(rng, ops), _sample_cell(rng, ops)
        return DartsGenotype(normal, NODE_IDS, reduce, NODE_IDS)

    def _build(
        self,
        genotype: DartsGenotype,
        *,
        num_classes: int,
        in_channels: int,
        C: int = 36,
        layers: int = 20,
        auxiliary: bool = False,
        drop_path_prob: float = 0.0,
        stem_multiplier: int = 3,
        generator: torch.Generator | None = None,
    ) -> DartsNetwork:
        """The DARTS CIFAR evaluation network for ``genotype``.

        Args:
            genotype: the genotype.
            num_classes: classifier outputs.
            in_channels: image channels.
            C: initial cell channels.
            layers: number of cells.
            auxiliary: add the auxiliary head after cell ``2 * layers // 3`` (expects 8x8
                maps there, as with 32x32 inputs).
            drop_path_prob: drop-path probability while training.
            stem_multiplier: the stem outputs ``stem_multiplier * C`` channels.
            generator: drop-path random generator (on the network's device); None uses torch's.

        Returns:
            The network; ``forward`` returns logits, ``net.aux_logits`` holds auxiliary logits.

        Raises:
            ValueError: for non-positive sizes or a ``drop_path_prob`` outside ``[0, 1)``.
        """
        net = DartsNetwork(
            genotype,
            C=C,
            num_classes=num_classes,
            layers=layers,
            auxiliary=auxiliary,
            drop_path_prob=drop_path_prob,
            stem_multiplier=stem_multiplier,
            in_channels=in_channels,
            generator=generator,
        )
        logger.debug(
            "built DARTS network C=%d layers=%d with %d parameters", C, layers, sum(p.numel() for p in net.parameters())
        )
        return net


def _check_raw_concat(name: str, field: Field) -> None:
    items: list[tuple[int, int]] = field.items
    error = _concat_errors([v for v, _ in items], [f"at position {pos}" for _, pos in items], name)
    if error:
        raise ValueError(error if items else f"{error} (list ends at position {field.close})")


def _raw_value(items: list[Any]) -> tuple[Any, ...]:
    if items and isinstance(items[0], RawPair):
        return tuple((p.op, p.source) for p in items)
    return tuple(v for v, _ in items)


def _sample_cell(rng: np.random.Generator, ops: Sequence[str]) -> tuple[Pair, ...]:
    pairs: list[Pair] = []
    for node in NODE_IDS:
        for idx in rng.choice(node, size=2, replace=False):
            pairs.append((ops[int(rng.integers(len(ops)))], int(idx)))
    return tuple(pairs)


DARTS_V1, DARTS_V2 = (
    DartsSpace().parse(text)
    for text in (
        "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
        "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], "
        "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
        "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], "
        "reduce_concat=[2, 3, 4, 5])",
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
        "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
        "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
        "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
        "reduce_concat=[2, 3, 4, 5])",
    )
)
"""The cells DARTS published (Liu et al., 2019): first order (V1) and second order (V2)."""
