"""The DARTS search space: genotype text, checks, canonical keys, sampling and networks.

A genotype holds a normal cell and a reduction cell. Each cell has two input nodes
(0: output of the cell before the previous one, 1: output of the previous cell) and four
intermediate nodes 2..5; node ``k`` sums two edges ``(op, input)`` whose inputs are two
different nodes of ``0..k-1`` (a ``none`` edge reads nothing, so it may share its input with
the other edge). The cell output concatenates the nodes listed in ``normal_concat`` /
``reduce_concat``. Text is written exactly as published with DARTS::

    space = DartsSpace()
    g = space.parse("Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], "
                    "reduce=[...], reduce_concat=range(2, 6))")
    net = space.build(g)                # 20 cells, C=36: the CIFAR-10 evaluation network
    small = space.build(g, small=True)  # 5 cells, C=16: for fast scoring

``build``, ``canonical`` and ``canonical_genotype`` also take the text itself.
Parse errors name the offending token and its 0-based character position.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from fne.genotopheno.ops import DARTS_OPS, FactorizedReduce, ReLUConvBN, create_op, list_ops
from fne.genotopheno.space import SearchSpace, check_ops_known, register_space

logger = logging.getLogger(__name__)

Pair = tuple[str, int]
NUM_INPUTS = 2
NUM_NODES = 4
NUM_PAIRS = 2 * NUM_NODES
NODE_IDS = tuple(range(NUM_INPUTS, NUM_INPUTS + NUM_NODES))
CELL_FIELDS = ("normal", "reduce")
FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


class DartsGenotype(NamedTuple):
    """A DARTS genotype; hashable because every field is a tuple.

    Attributes:
        normal: eight ``(op, input)`` pairs, two per intermediate node 2..5.
        normal_concat: the nodes concatenated into the normal cell's output.
        reduce: eight ``(op, input)`` pairs of the reduction cell.
        reduce_concat: the nodes concatenated into the reduction cell's output.
    """

    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]

    def __str__(self) -> str:
        return format_genotype(self)


Genotype = DartsGenotype

_FULL_CONCAT = NODE_IDS
DARTS_V1 = DartsGenotype(
    normal=(
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("skip_connect", 2),
    ),
    normal_concat=_FULL_CONCAT,
    reduce=(
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("avg_pool_3x3", 0),
    ),
    reduce_concat=_FULL_CONCAT,
)
DARTS_V2 = DartsGenotype(
    normal=(
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ),
    normal_concat=_FULL_CONCAT,
    reduce=(
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ),
    reduce_concat=_FULL_CONCAT,
)


def format_genotype(genotype: DartsGenotype) -> str:
    """Write ``genotype`` in the published DARTS text form (lists, single quotes)."""

    def cell(pairs: Sequence[Pair]) -> str:
        return "[" + ", ".join(f"('{op}', {idx})" for op, idx in pairs) + "]"

    def concat(nodes: Sequence[int]) -> str:
        return "[" + ", ".join(str(n) for n in nodes) + "]"

    return (
        f"Genotype(normal={cell(genotype.normal)}, normal_concat={concat(genotype.normal_concat)}, "
        f"reduce={cell(genotype.reduce)}, reduce_concat={concat(genotype.reduce_concat)})"
    )


# ----------------------------------------------------------------------------- tokenizer / parser

_TOKEN_RE = re.compile(
    r"""(?P<str>'[^'\n]*'|"[^"\n]*")|(?P<int>[-+]?[0-9]+)"""
    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[()\[\],=])"""
)


class _Token(NamedTuple):
    kind: str  # "str", "int", "name", "punct" or "end"
    text: str
    pos: int


class _RawPair(NamedTuple):
    op: str
    op_pos: int
    index: int
    index_pos: int


def _describe(tok: _Token) -> str:
    return "end of text" if tok.kind == "end" else repr(tok.text)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            what = "unterminated string" if text[pos] in "'\"" else "unexpected character"
            raise ValueError(f"{what} {text[pos]!r} at position {pos}")
        tokens.append(_Token(match.lastgroup or "", match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive-descent parser producing raw fields that keep token positions."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def expect(self, text: str) -> _Token:
        tok = self.take()
        if tok.text != text or tok.kind == "str":
            raise ValueError(f"expected {text!r} at position {tok.pos}, got {_describe(tok)}")
        return tok

    def expect_kind(self, kind: str, what: str) -> _Token:
        tok = self.take()
        if tok.kind != kind:
            raise ValueError(f"expected {what} at position {tok.pos}, got {_describe(tok)}")
        return tok

    def separator(self, close: str) -> bool:
        """Consume ``,`` (returns False) or ``close`` (returns True)."""
        tok = self.take()
        if tok.kind == "punct" and tok.text in (",", close):
            return tok.text == close
        raise ValueError(f"expected ',' or {close!r} at position {tok.pos}, got {_describe(tok)}")

    def items(self, item: Any, close: str) -> tuple[list, _Token]:
        values = []
        if self.peek().text != close:
            while True:
                values.append(item())
                if self.separator(close):
                    break
        else:
            self.take()
        return values, self.tokens[self.i - 1]

    def pair(self) -> _RawPair:
        self.expect("(")
        op = self.expect_kind("str", "an op name in quotes")
        self.expect(",")
        idx = self.expect_kind("int", "an input index")
        self.expect(")")
        return _RawPair(op.text[1:-1], op.pos, int(idx.text), idx.pos)

    def int_item(self) -> tuple[int, int]:
        tok = self.expect_kind("int", "a node index")
        return int(tok.text), tok.pos

    def concat(self) -> tuple[list[tuple[int, int]], _Token]:
        if self.peek().text == "range":
            start = self.take()
            self.expect("(")
            lo, _ = self.int_item()
            self.expect(",")
            hi, _ = self.int_item()
            close = self.expect(")")
            return [(n, start.pos) for n in range(lo, hi)], close
        self.expect("[")
        return self.items(self.int_item, "]")

    def field(self, seen: dict[str, Any]) -> None:
        name = self.expect_kind("name", "a field name")
        if name.text not in FIELDS or name.text in seen:
            what = "duplicate" if name.text in seen else "unknown"
            raise ValueError(
                f"{what} field {name.text!r} at position {name.pos}; expected each of {', '.join(FIELDS)} once"
            )
        self.expect("=")
        if name.text in CELL_FIELDS:
            self.expect("[")
            seen[name.text] = self.items(self.pair, "]")
        else:
            seen[name.text] = self.concat()

    def genotype(self) -> dict[str, Any]:
        self.expect("Genotype")
        self.expect("(")
        fields: dict[str, Any] = {}
        _, close = self.items(lambda: self.field(fields), ")")
        end = self.take()
        if end.kind != "end":
            raise ValueError(f"unexpected {_describe(end)} at position {end.pos} after the closing ')'")
        missing = [f for f in FIELDS if f not in fields]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)} before ')' at position {close.pos}")
        return fields


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


# ----------------------------------------------------------------------------- canonical form

_Nodes = tuple[tuple[Pair, ...], ...]


def _relabel(nodes: _Nodes, concat: tuple[int, ...], order: tuple[int, ...]) -> tuple[_Nodes, tuple[int, ...]] | None:
    """Give old node ``NODE_IDS[j]`` the label ``order[j]``; None if that breaks input < node."""
    label = {0: 0, 1: 1, **dict(zip(NODE_IDS, order, strict=False))}
    new_nodes: list[tuple[Pair, ...]] = [()] * NUM_NODES
    for old, edges in zip(NODE_IDS, nodes, strict=False):
        new = label[old]
        if any(label[idx] >= new for _, idx in edges):
            return None
        new_nodes[new - NUM_INPUTS] = tuple(sorted((op, label[idx]) for op, idx in edges))
    return tuple(new_nodes), tuple(sorted(label[n] for n in concat))


def canonical_cell(pairs: Sequence[Pair], concat: Sequence[int]) -> tuple[tuple[Pair, ...], tuple[int, ...]]:
    """Canonical ``(pairs, concat)`` of one cell (see :meth:`DartsSpace.canonical`).

    The 4! orders of the intermediate nodes are few enough to try them all.
    """
    flat = [("none", 0) if op == "none" else (op, idx) for op, idx in pairs]
    nodes = tuple(tuple(flat[2 * j : 2 * j + 2]) for j in range(NUM_NODES))
    forms = (_relabel(nodes, tuple(concat), order) for order in itertools.permutations(NODE_IDS))
    best_nodes, best_concat = min(f for f in forms if f is not None)
    return tuple(p for node in best_nodes for p in node), best_concat


# ----------------------------------------------------------------------------- the space


@register_space("darts")
class DartsSpace(SearchSpace):
    """The DARTS cell search space (Liu et al., 2019) over any registered ops.

    Args:
        ops: op names genotypes may use; defaults to ``cell_operations.DARTS_OPS``. Every
            name must be registered with ``register_op``.

    Raises:
        ValueError: for an empty or duplicated op list or an unregistered op.
    """

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
            ValueError: naming the offending token, its position and, for pairs, which pair.
        """
        if not isinstance(text, str):
            raise ValueError(f"genotype text must be a str, got {type(text).__name__}")
        fields = _Parser(text).genotype()
        for name in CELL_FIELDS:
            self._check_raw_cell(name, *fields[name])
            _check_raw_concat(f"{name}_concat", *fields[f"{name}_concat"])
        genotype = DartsGenotype(*(_raw_value(fields[name][0]) for name in FIELDS))
        self.validate(genotype)
        return genotype

    def _check_raw_cell(self, name: str, pairs: list[_RawPair], close: _Token) -> None:
        if len(pairs) != NUM_PAIRS:
            raise ValueError(
                f"{name} has {len(pairs)} pairs, expected {NUM_PAIRS} (2 per node 2..5); "
                f"list ends with ']' at position {close.pos}"
            )
        wheres = [
            (f"at position {p.op_pos} ({name} pair {i + 1})", f"at position {p.index_pos} ({name} pair {i + 1})")
            for i, p in enumerate(pairs)
        ]
        error = _pair_errors([(p.op, p.index) for p in pairs], wheres, self._ops)
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
        genotype = self.coerce(genotype)
        normal, normal_concat = canonical_cell(genotype.normal, genotype.normal_concat)
        reduce, reduce_concat = canonical_cell(genotype.reduce, genotype.reduce_concat)
        return DartsGenotype(normal, normal_concat, reduce, reduce_concat)

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

    def build(
        self,
        genotype: DartsGenotype | str,
        *,
        num_classes: int = 10,
        C: int | None = None,
        layers: int | None = None,
        auxiliary: bool = False,
        drop_path_prob: float = 0.0,
        small: bool = False,
        stem_multiplier: int = 3,
        in_channels: int = 3,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> DartsNetwork:
        """Build the DARTS CIFAR evaluation network for ``genotype``.

        Args:
            genotype: the genotype (validated first) or its text (parsed).
            num_classes: classifier outputs.
            C: initial cell channels; None gives 36 (16 when ``small``).
            layers: number of cells; None gives 20 (5 when ``small``).
            auxiliary: add the auxiliary head after cell ``2 * layers // 3`` (expects 8x8
                maps there, as with 32x32 inputs).
            drop_path_prob: drop-path probability while training.
            small: the fast-scoring size (C=16, 5 cells) unless C/layers are given.
            stem_multiplier: the stem outputs ``stem_multiplier * C`` channels.
            in_channels: image channels.
            device: where to put the network; None leaves it on the CPU.
            generator: drop-path random generator (on the network's device); None uses torch's.

        Returns:
            The network; ``forward`` returns logits, ``net.aux_logits`` holds auxiliary logits.

        Raises:
            ValueError: for invalid genotype text or value, or non-positive sizes.
        """
        genotype = self.coerce(genotype)
        C = C if C is not None else (16 if small else 36)
        layers = layers if layers is not None else (5 if small else 20)
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
        return net if device is None else net.to(device)

    def build_small(self, genotype: DartsGenotype | str, **kwargs: Any) -> DartsNetwork:
        """``build(genotype, small=True, **kwargs)``: C=16, 5 cells."""
        return self.build(genotype, small=True, **kwargs)


def _check_raw_concat(name: str, items: list[tuple[int, int]], close: _Token) -> None:
    wheres = [f"at position {pos}" for _, pos in items]
    error = _concat_errors([v for v, _ in items], wheres, name)
    if error:
        raise ValueError(error if items else f"{error} (list ends at position {close.pos})")


def _raw_value(items: list) -> tuple:
    if items and isinstance(items[0], _RawPair):
        return tuple((p.op, p.index) for p in items)
    return tuple(v for v, _ in items)


def _sample_cell(rng: np.random.Generator, ops: Sequence[str]) -> tuple[Pair, ...]:
    pairs: list[Pair] = []
    for node in NODE_IDS:
        for idx in rng.choice(node, size=2, replace=False):
            pairs.append((ops[int(rng.integers(len(ops)))], int(idx)))
    return tuple(pairs)


# ----------------------------------------------------------------------------- network


def drop_path(x: torch.Tensor, drop_prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob`` and rescale the rest."""
    keep = 1.0 - drop_prob
    mask = torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device) < keep
    return x * mask.to(x.dtype) / keep


class DartsCell(nn.Module):
    """One DARTS cell: preprocess both inputs to ``C`` channels, sum edge pairs, concat nodes."""

    def __init__(
        self,
        pairs: Sequence[Pair],
        concat: Sequence[int],
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (
            FactorizedReduce(C_prev_prev, C, 2) if reduction_prev else ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        )
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        self.edges = nn.ModuleList(
            create_op(op, C, C, 2 if reduction and idx < NUM_INPUTS else 1, True) for op, idx in pairs
        )
        self.indices = tuple(idx for _, idx in pairs)
        self.concat = tuple(concat)
        self.multiplier = len(self.concat)

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(len(self.edges) // 2):
            total = None
            for e in (2 * node, 2 * node + 1):
                h = self.edges[e](states[self.indices[e]])
                if drop_prob > 0.0 and not isinstance(self.edges[e], nn.Identity):
                    h = drop_path(h, drop_prob, generator)
                total = h if total is None else total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """The DARTS CIFAR auxiliary classifier for 8x8 feature maps."""

    def __init__(self, C: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class DartsNetwork(nn.Module):
    """The DARTS CIFAR network: stem, ``layers`` cells (reductions at 1/3 and 2/3), pool, linear.

    ``drop_path_prob`` may be changed between epochs; drop path acts only in training mode.
    """

    def __init__(
        self,
        genotype: DartsGenotype,
        *,
        C: int,
        num_classes: int,
        layers: int,
        auxiliary: bool = False,
        drop_path_prob: float = 0.0,
        stem_multiplier: int = 3,
        in_channels: int = 3,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        _check_network_args(C, num_classes, layers, drop_path_prob, stem_multiplier)
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
        self.genotype, self.C, self.layers, self.num_classes = genotype, C, layers, num_classes
        self.drop_path_prob, self.generator = drop_path_prob, generator
        self.aux_logits: torch.Tensor | None = None
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        self.aux_index = 2 * layers // 3
        self.cells, C_prev, C_aux = self._make_cells(genotype, C_curr, C, layers)
        self.auxiliary_head = AuxiliaryHead(C_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def _make_cells(self, genotype: DartsGenotype, C_stem: int, C: int, layers: int) -> tuple[nn.ModuleList, int, int]:
        cells = nn.ModuleList()
        C_prev_prev, C_prev, C_curr, C_aux = C_stem, C_stem, C, C_stem
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            C_curr *= 2 if reduction else 1
            pairs, concat = (
                (genotype.reduce, genotype.reduce_concat) if reduction else (genotype.normal, genotype.normal_concat)
            )
            cell = DartsCell(pairs, concat, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            cells.append(cell)
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            C_aux = C_prev if i == self.aux_index else C_aux
        return cells, C_prev, C_aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for ``x`` of shape ``(N, 3, H, W)``; sets ``aux_logits`` when training."""
        self.aux_logits = None
        drop_prob = self.drop_path_prob if self.training else 0.0
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, drop_prob, self.generator)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                self.aux_logits = self.auxiliary_head(s1)
        return self.classifier(self.global_pooling(s1).flatten(1))

    def extra_repr(self) -> str:
        return (
            f"genotype={format_genotype(self.genotype)}, C={self.C}, layers={self.layers}, "
            f"num_classes={self.num_classes}, auxiliary={self.auxiliary_head is not None}, "
            f"drop_path_prob={self.drop_path_prob}"
        )


def _check_network_args(C: int, num_classes: int, layers: int, drop_path_prob: float, stem_multiplier: int) -> None:
    for name, value in (
        ("C", C),
        ("num_classes", num_classes),
        ("layers", layers),
        ("stem_multiplier", stem_multiplier),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not 0.0 <= drop_path_prob < 1.0:
        raise ValueError(f"drop_path_prob must be in [0, 1), got {drop_path_prob!r}")
