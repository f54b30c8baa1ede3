"""The DARTS genotype: its value, its published text (read and written) and its canonical form.

A genotype holds a normal cell and a reduction cell. Each cell has two input nodes
(0: output of the cell before the previous one, 1: output of the previous cell) and four
intermediate nodes 2..5; node ``k`` sums two edges ``(op, input)``. The cell output
concatenates the nodes listed in ``normal_concat`` / ``reduce_concat``. Text is written
exactly as published with DARTS::

    Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=range(2, 6))

:func:`read_fields` reads such text as the Python literal it is, without evaluating it;
:class:`~fne.genotopheno.darts.space.DartsSpace` checks what it reads.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeGuard

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


# ----------------------------------------------------------------------------- reading text

_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_INT = re.compile(r"[-+]?[0-9]+")
_NEXT = re.compile(r"\s*(\w+|\S)")
_INVALID = "DARTS genotype text is not a valid literal"


class RawPair(NamedTuple):
    """An ``(op, input)`` pair as read, with the positions of its op and its input."""

    op: str
    op_pos: int
    source: int
    source_pos: int


class Field(NamedTuple):
    """A field as read: pairs (or ``(node, position)`` entries) and the position of its closing bracket."""

    items: list[Any]
    close: int


def read_fields(text: str) -> dict[str, Field]:
    """The four fields of DARTS genotype text, read with :func:`ast.parse` and never evaluated.

    Only ``Genotype(...)`` with keyword fields, lists, pairs, quoted op names, decimal ints
    and ``range(a, b)`` are accepted; any whitespace separates them. Positions are 0-based
    character offsets in ``text``.

    Raises:
        ValueError: for text that is not a Python literal (naming the position and Python's
            reason), or for an entry out of place (naming it and its position).
    """
    return _Reader(text).fields()


def _is_call(node: ast.AST, name: str) -> TypeGuard[ast.Call]:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        body = text.lstrip()
        self.shift = len(text) - len(body)
        # one line, so that offsets are columns; Python's tokenizer would take only ASCII blanks
        self.body = "".join(" " if c.isspace() else c for c in body)
        self.utf8 = self.body.encode()

    def fields(self) -> dict[str, Field]:
        if "\0" in self.text:
            raise ValueError(f"{_INVALID} at position {self.text.index(chr(0))}: null byte")
        try:
            call = self._genotype_call(ast.parse(self.body, mode="eval").body)
        except SyntaxError as err:
            pos = min(self.shift + max((err.offset or 1) - 1, 0), len(self.text))
            raise ValueError(f"{_INVALID} at position {pos}: {err.msg}") from None
        except (MemoryError, RecursionError):
            raise ValueError("DARTS genotype text nested too deeply to read") from None
        if call.args:
            raise self._expected("a field name", call.args[0])
        fields: dict[str, Field] = {}
        for keyword in call.keywords:
            if keyword.arg is None:
                raise self._expected("a field name", keyword)
            if keyword.arg not in FIELDS or keyword.arg in fields:
                raise ValueError(
                    f"{'duplicate' if keyword.arg in fields else 'unknown'} field {keyword.arg!r} at position "
                    f"{self._pos(keyword)}; expected each of {', '.join(FIELDS)} once"
                )
            read = self._cell if keyword.arg in CELL_FIELDS else self._concat
            fields[keyword.arg] = read(keyword.value)
        missing = [f for f in FIELDS if f not in fields]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)} before ')' at position {self._end(call) - 1}")
        return fields

    def _pos(self, node: ast.expr | ast.keyword) -> int:
        """The offset in the text of ``node``, whose column counts UTF-8 bytes."""
        return self.shift + len(self.utf8[: node.col_offset].decode())

    def _end(self, node: ast.expr | ast.keyword) -> int:
        return self.shift + len(self.utf8[: node.end_col_offset].decode())

    def _source(self, node: ast.expr | ast.keyword) -> str:
        return self.text[self._pos(node) : self._end(node)]

    def _expected(self, what: str, node: ast.expr | ast.keyword) -> ValueError:
        got = self._source(node).split("\n")[0]
        got = got if len(got) <= 24 else got[:24] + "..."
        return ValueError(f"expected {what} at position {self._pos(node)}, got {got!r}")

    def _genotype_call(self, tree: ast.expr) -> ast.Call:
        if _is_call(tree, "Genotype"):
            return tree
        for node in ast.walk(tree):  # a Genotype(...) call that starts the text and has more after it
            if _is_call(node, "Genotype") and node.col_offset == tree.col_offset:
                after = _NEXT.match(self.text, self._end(node))
                if after:
                    raise ValueError(f"unexpected {after[1]!r} at position {after.start(1)} after the closing ')'")
        raise self._expected("'Genotype('", tree)

    def _cell(self, node: ast.expr) -> Field:
        if not isinstance(node, ast.List):
            raise self._expected("'['", node)
        return Field([self._pair(item) for item in node.elts], self._end(node) - 1)

    def _pair(self, node: ast.expr) -> RawPair:
        if not isinstance(node, ast.Tuple):
            raise self._expected("'(' opening an (op, input) pair", node)
        if len(node.elts) != 2:
            raise self._expected("an (op, input) pair", node)
        op, index = node.elts
        if not (isinstance(op, ast.Constant) and _QUOTED.fullmatch(self._source(op))):
            raise self._expected("an op name in quotes", op)
        return RawPair(self._source(op)[1:-1], self._pos(op), self._int(index, "an input index"), self._pos(index))

    def _int(self, node: ast.expr, what: str) -> int:
        if not (isinstance(node, (ast.Constant, ast.UnaryOp)) and _INT.fullmatch(self._source(node))):
            raise self._expected(what, node)
        return int(self._source(node))

    def _concat(self, node: ast.expr) -> Field:
        if _is_call(node, "range"):
            if len(node.args) != 2 or node.keywords:
                raise self._expected("range(start, stop)", node)
            lo, hi = (self._int(arg, "a node index") for arg in node.args)
            # a longer range holds a node out of range among its first NUM_NODES + 1 entries
            nodes = range(lo, min(hi, lo + NUM_NODES + 1))
            return Field([(n, self._pos(node)) for n in nodes], self._end(node) - 1)
        if not isinstance(node, ast.List):
            raise self._expected("'[' or 'range('", node)
        return Field([(self._int(n, "a node index"), self._pos(n)) for n in node.elts], self._end(node) - 1)


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


def canonical_genotype(genotype: DartsGenotype) -> DartsGenotype:
    """``genotype`` in canonical form, cell by cell (see :meth:`DartsSpace.canonical`)."""
    normal, normal_concat = canonical_cell(genotype.normal, genotype.normal_concat)
    reduce, reduce_concat = canonical_cell(genotype.reduce, genotype.reduce_concat)
    return DartsGenotype(normal, normal_concat, reduce, reduce_concat)
