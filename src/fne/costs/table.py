"""A cost read from a table of measured cells: a lookup where the table covers the space, a model elsewhere.

A user times a few networks on the device (``fne export --sample``, then the exported
``time_cells.py`` on the device) and gets a CSV of one row per cell::

    cost = get_cost("table", path="measured.csv", column="latency_ms")
    cost.fit(space).describe()        # how well the model explains the measured cells
    cost.measure(spec, genotypes)     # measured where measured, predicted everywhere else

The table holds the genotype text in ``arch_str`` (or ``genotype``, or ``channels`` as the
NATS-Bench size table writes it; ``genotype_column`` names another) and the cost in
``column``. A value of -1 (or an empty cell) marks a cell that was not measured: such rows
are dropped and counted. Any other negative value, a value that is not a number, a missing
column and a genotype the space rejects are refused with a ``ValueError`` naming it.

**Lookup.** When the measured cells cover every cell of the space (every canonical key of the
space's ``all_genotypes()``), the cost of a cell is the mean of the measured rows that share
its canonical key.

**Model.** Otherwise the cost is a linear model of the cell's features (:func:`cell_features`),
fitted by ridge regression (the intercept unpenalised) on the measured cells:

* *additive*: one term per op per edge. NB201: which op each of the six edges holds, and how
  many edges hold each op (so that an op seen on one edge informs the others); DARTS: per cell
  type, the ops read from a cell input and from a node, the ops of each node, and the nodes
  concatenated; ``sss``: each layer's channel count;
* *additive + interactions*: the space's interactions on top. For NB201 they are the cell's
  data flow, which a device's compiler acts on: the per-op-per-edge terms again, counted only
  where the edge's input is computed (its source node is reached from the cell input through
  edges other than ``none``), again counted only where the edge's output reaches the cell
  output, and whether the cell's output is zero (nothing reaches it; every data-flow term is
  then zero). For ``sss`` they are the products of adjacent layers' channel counts and each
  layer's squared count (a convolution's cost). DARTS has none;
* *shared ops + data flow* (NB201): one cost per op shared by the six edges instead of one per
  edge, with the same data flow: how many edges hold each op, how many of those have a
  computed input, reach the output, or both (the edge is live), how many intermediate nodes
  are computed and how many live nodes sum two or more inputs, and the zero-cell indicator.
  It has 19 terms where the per-edge designs have 35 and 106, so it extrapolates from a few
  dozen cells to the rest of the space where the device's cost of an op does not depend on
  its edge (chosen on HW-NAS-Bench's Raspberry Pi 4, Pixel 3 and Edge TPU samples, seeds
  10-13, by ``benchmarks/bench_cost_models.py``).

The design (:attr:`CellFeatures.designs`) and the ridge strength are chosen by leave-one-out
error on the measured cells (computed exactly from the ridge's hat matrix), so terms enter
only where the measurements justify them. Predictions are clipped at 0. Measured cells keep
their measured value (the mean of their canonical key's rows).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from fne.costs.cost import Cost, NetworkSpec, register_cost
from fne.genotopheno.darts.genotype import CELL_FIELDS, NODE_IDS, NUM_INPUTS
from fne.genotopheno.darts.space import DartsSpace
from fne.genotopheno.nb201.space import NB201Space
from fne.genotopheno.space import SearchSpace
from fne.genotopheno.sss.space import NUM_LAYERS, SizeSpace
from fne.search.benchmark_table import read_rows

logger = logging.getLogger(__name__)

__all__ = [
    "GENOTYPE_COLUMNS",
    "NOT_MEASURED",
    "MIN_FIT_CELLS",
    "RIDGE_GRID",
    "Design",
    "CellFeatures",
    "cell_features",
    "edge_op_features",
    "interaction_features",
    "Measurements",
    "read_measurements",
    "CostModel",
    "TableFit",
    "fit_cost_model",
    "TableCost",
]

GENOTYPE_COLUMNS = ("arch_str", "genotype", "channels")
"""The columns a table's genotype text is looked for in, in this order."""

NOT_MEASURED = -1.0
"""The value that marks a cell that was not measured."""

MIN_FIT_CELLS = 10
"""The fewest measured cells a model is fitted from."""

RIDGE_GRID = tuple(float(10.0**e) for e in np.arange(-6.0, 4.01, 0.5))
"""The ridge strengths the leave-one-out error chooses from."""

ADDITIVE = "additive"
INTERACTIONS = "additive+interactions"
SHARED = "shared ops+data flow"


# ----------------------------------------------------------------------------- features


@dataclass(frozen=True)
class Design:
    """One candidate feature set of a cost model: a subset of the space's feature columns.

    Attributes:
        name: the design's name (``additive``, ``additive+interactions``, ...).
        columns: indices of its features in :attr:`CellFeatures.columns`.
        rule: what it models beyond one term per op per edge, in words (empty for the additive design).
    """

    name: str
    columns: tuple[int, ...]
    rule: str = ""


@dataclass(frozen=True)
class CellFeatures:
    """How the cells of one space become the features of a cost model.

    Attributes:
        columns: the name of every feature, in the order :attr:`encode` writes them.
        designs: the candidate models, each a subset of the columns; the first is the
            additive one (one term per op per edge).
        encode: ``encode(genotype) -> row`` of every feature of a valid genotype.
    """

    columns: tuple[str, ...]
    designs: tuple[Design, ...]
    encode: Callable[[Any], np.ndarray]

    @property
    def additive(self) -> Design:
        """The additive design (the first)."""
        return self.designs[0]

    def names(self, design: Design) -> list[str]:
        """The feature names of ``design``."""
        return [self.columns[i] for i in design.columns]

    def matrix(self, genotypes: Sequence[Any], design: Design | None = None) -> np.ndarray:
        """One row per genotype: every feature, or those of ``design``."""
        rows = np.array([self.encode(g) for g in genotypes], dtype=float).reshape(len(genotypes), len(self.columns))
        return rows if design is None else rows[:, list(design.columns)]


def _designs(
    blocks: Sequence[tuple[str, Sequence[str]]], designs: Sequence[tuple[str, str, Sequence[str]]]
) -> tuple[tuple[str, ...], tuple[Design, ...]]:
    """The columns of named feature blocks (in order), and designs that are unions of blocks."""
    columns: list[str] = []
    where: dict[str, list[int]] = {}
    for block, names in blocks:
        where[block] = list(range(len(columns), len(columns) + len(names)))
        columns.extend(names)
    made = tuple(Design(name, tuple(i for b in parts for i in where[b]), rule) for name, rule, parts in designs)
    return tuple(columns), made


NB201_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""The NB201 edges ``(source, target)`` in the genotype's text order."""


def _nb201_flow(ops: Sequence[str]) -> tuple[list[bool], list[bool]]:
    """Per node, whether it is computed (fed from the input) and whether it reaches the output."""
    fed = [True, False, False, False]
    for (src, dst), op in zip(NB201_EDGES, ops, strict=True):
        if op != "none" and fed[src]:
            fed[dst] = True
    reach = [False, False, False, True]
    for (src, dst), op in reversed(list(zip(NB201_EDGES, ops, strict=True))):
        if op != "none" and reach[dst]:
            reach[src] = True
    return fed, reach


FLOW_KINDS = ("input computed", "output used", "live")
"""The data-flow counts of the NB201 shared-op design, per op."""


def _nb201_nodes(ops: Sequence[str], fed: Sequence[bool], reach: Sequence[bool]) -> list[float]:
    """How many intermediate nodes are computed and used, and how many used nodes sum two or more inputs."""
    inputs = [0] * 4
    for (src, dst), op in zip(NB201_EDGES, ops, strict=True):
        inputs[dst] += op != "none" and fed[src]
    working = [n for n in (1, 2, 3) if fed[n] and reach[n]]
    return [float(sum(n < 3 for n in working)), float(sum(inputs[n] > 1 for n in working))]


def _nb201_features(space: NB201Space) -> CellFeatures:
    ops = space.ops
    edges = [f"{src}->{dst}" for src, dst in NB201_EDGES]
    counts = [f"count:{op}" for op in ops]
    block = counts + [f"edge {e}:{op}" for e in edges for op in ops]
    real = [op for op in ops if op != "none"]
    columns, designs = _designs(
        [
            ("additive", block),
            ("input computed", [f"input computed, {name}" for name in block]),
            ("output used", [f"output used, {name}" for name in block]),
            ("zero cell", ["zero cell"]),
            ("shared", [f"shared count:{op}" for op in real]),
            ("shared flow", [f"{kind}, count:{op}" for kind in FLOW_KINDS for op in real]),
            ("nodes", ["nodes computed", "nodes summing"]),
        ],
        [
            (ADDITIVE, "", ["additive"]),
            (
                INTERACTIONS,
                "data flow: each op-edge term again where the edge's input node is computed, again where the "
                "edge reaches the cell output, and a zero-cell indicator (nothing reaches the output)",
                ["additive", "input computed", "output used", "zero cell"],
            ),
            (
                SHARED,
                "one cost per op, shared by the edges: how many edges hold it, how many of those have a computed "
                "input, reach the output, or both (live), the intermediate nodes computed and summing two or more "
                "inputs, and a zero-cell indicator",
                ["shared", "shared flow", "nodes", "zero cell"],
            ),
        ],
    )
    position = {op: i for i, op in enumerate(ops)}

    def encode(genotype: Any) -> np.ndarray:
        onehot = np.zeros((len(NB201_EDGES), len(ops)))
        for e, op in enumerate(genotype.ops):
            onehot[e, position[op]] = 1.0
        fed, reach = _nb201_flow(genotype.ops)
        live = float(fed[-1])
        source = np.array([[fed[src]] for src, _ in NB201_EDGES], dtype=float)
        target = np.array([[reach[dst]] for _, dst in NB201_EDGES], dtype=float)
        from_fed, to_output = onehot * source * live, onehot * target * live
        additive = np.concatenate([onehot.sum(0), onehot.ravel()])
        flow = np.concatenate([from_fed.sum(0), from_fed.ravel(), to_output.sum(0), to_output.ravel(), [1.0 - live]])
        keep = [position[op] for op in real]
        shared_flow = np.concatenate([from_fed.sum(0)[keep], to_output.sum(0)[keep], (from_fed * target).sum(0)[keep]])
        nodes = _nb201_nodes(genotype.ops, fed, reach)
        return np.concatenate([additive, flow, onehot.sum(0)[keep], shared_flow, nodes])

    return CellFeatures(columns, designs, encode)


def _darts_features(space: DartsSpace) -> CellFeatures:
    ops = space.ops
    sources = ("cell input", "node")
    names = (
        [f"{cell} {kind}:{op}" for cell in CELL_FIELDS for kind in sources for op in ops]
        + [f"{cell} node {node}:{op}" for cell in CELL_FIELDS for node in NODE_IDS for op in ops]
        + [f"{cell} concat {node}" for cell in CELL_FIELDS for node in NODE_IDS]
    )

    def encode(genotype: Any) -> np.ndarray:
        by_source = np.zeros((len(CELL_FIELDS), len(sources), len(ops)))
        by_node = np.zeros((len(CELL_FIELDS), len(NODE_IDS), len(ops)))
        concat = np.zeros((len(CELL_FIELDS), len(NODE_IDS)))
        cells = ((genotype.normal, genotype.normal_concat), (genotype.reduce, genotype.reduce_concat))
        for c, (pairs, nodes) in enumerate(cells):
            for i, (op, src) in enumerate(pairs):
                k = ops.index(op)
                by_source[c, int(src >= NUM_INPUTS), k] += 1.0
                by_node[c, i // 2, k] += 1.0
            for node in nodes:
                concat[c, node - NODE_IDS[0]] = 1.0
        return np.concatenate([by_source.ravel(), by_node.ravel(), concat.ravel()])

    columns, designs = _designs([("additive", names)], [(ADDITIVE, "", ["additive"])])
    return CellFeatures(columns, designs, encode)


def _size_features(space: SizeSpace) -> CellFeatures:
    choices = space.choices
    widest = float(max(choices))
    layers = range(NUM_LAYERS)
    names = [f"layer {layer}:{c}" for layer in layers for c in choices]
    products = [f"layer {layer} x layer {layer + 1}" for layer in range(NUM_LAYERS - 1)]
    squares = [f"layer {layer} squared" for layer in layers]

    def encode(genotype: Any) -> np.ndarray:
        onehot = np.zeros((NUM_LAYERS, len(choices)))
        for layer, c in enumerate(genotype.channels):
            onehot[layer, choices.index(c)] = 1.0
        w = np.array(genotype.channels, dtype=float) / widest
        return np.concatenate([onehot.ravel(), w[:-1] * w[1:], w * w])

    columns, designs = _designs(
        [("additive", names), ("interactions", products + squares)],
        [
            (ADDITIVE, "", ["additive"]),
            (
                INTERACTIONS,
                "products of adjacent layers' channel counts and each layer's squared count",
                ["additive", "interactions"],
            ),
        ],
    )
    return CellFeatures(columns, designs, encode)


_FEATURES: tuple[tuple[type[SearchSpace[Any]], Callable[[Any], CellFeatures]], ...] = (
    (NB201Space, _nb201_features),
    (DartsSpace, _darts_features),
    (SizeSpace, _size_features),
)


def cell_features(space: SearchSpace[Any]) -> CellFeatures:
    """The cost-model features of ``space``'s cells.

    Raises:
        ValueError: a space the model cannot describe (only nb201, darts and sss, and their
            subclasses, are modelled; a table covering every cell of another space with an
            ``all_genotypes()`` is still used as a lookup).
    """
    for cls, make in _FEATURES:
        if isinstance(space, cls):
            return make(space)
    known = ", ".join(cls.name for cls, _ in _FEATURES)
    raise ValueError(
        f"the table cost cannot model cells of the {space.name or type(space).__name__} space "
        f"(it models {known}); give a table that measures every cell of the space"
    )


def edge_op_features(space: SearchSpace[Any], genotype: Any) -> np.ndarray:
    """The additive (per-op-per-edge) features of ``genotype`` (a value or its text) in ``space``.

    Raises:
        ValueError: a space :func:`cell_features` cannot model, or a genotype the space rejects.
    """
    features = cell_features(space)
    return features.matrix([space.coerce(genotype)], features.additive)[0]


def interaction_features(space: SearchSpace[Any], genotype: Any) -> np.ndarray:
    """The interaction features of ``genotype`` in ``space``: those of the ``additive+interactions``
    design beyond the additive ones (empty for a space without it).

    Raises:
        ValueError: a space :func:`cell_features` cannot model, or a genotype the space rejects.
    """
    features = cell_features(space)
    row = features.matrix([space.coerce(genotype)])[0]
    design = next((d for d in features.designs if d.name == INTERACTIONS), None)
    additive = set(features.additive.columns)
    return np.array([row[i] for i in (design.columns if design else ()) if i not in additive])


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Measurements:
    """The measured rows of a cost table.

    Attributes:
        source: the file, as named in errors.
        column: the cost column.
        genotype_column: the column holding genotype text.
        texts: each measured row's genotype text.
        values: each measured row's cost.
        not_measured: rows dropped as not measured (-1 or empty).
    """

    source: str
    column: str
    genotype_column: str
    texts: tuple[str, ...]
    values: np.ndarray
    not_measured: int

    def genotypes(self, space: SearchSpace[Any]) -> list[Any]:
        """Each row's genotype in ``space``.

        Raises:
            ValueError: naming the first text the space rejects (and how many more there are).
        """
        cells, bad = [], []
        for text in self.texts:
            try:
                cells.append(space.parse(text))
            except ValueError as err:
                bad.append(f"{self.genotype_column} {text!r} is not a {space.name} genotype ({err})")
        if bad:
            more = f" ({len(bad) - 1} more)" if len(bad) > 1 else ""
            raise ValueError(f"{self.source}: {bad[0]}{more}; is it a table of the {space.name} space?")
        return cells


def read_measurements(path: str | Path, column: str, genotype_column: str | None = None) -> Measurements:
    """The measured rows of the cost table ``path``.

    Args:
        path: the CSV file.
        column: the cost column (numbers; -1 or empty: not measured).
        genotype_column: the genotype column (default: the first of :data:`GENOTYPE_COLUMNS` present).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an unreadable table, a missing column, a value that is not a number or is
            negative (other than -1).
    """
    source = f"cost table {path}"
    rows = read_rows(path, (column,), flag="cost table")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        total = sum(1 for row in reader if any(cell.strip() for cell in row))
    if genotype_column is None:
        genotype_column = next((name for name in GENOTYPE_COLUMNS if name in header), None)
        if genotype_column is None:
            raise ValueError(
                f"{source}: no genotype column (one of {', '.join(GENOTYPE_COLUMNS)}); "
                f"its columns are {', '.join(header)}"
            )
    elif genotype_column not in header:
        raise ValueError(f"{source}: missing genotype column {genotype_column!r}; its columns are {', '.join(header)}")
    texts, values, unmeasured = [], [], total - len(rows)
    for row in rows:
        value = float(row[column])
        if value == NOT_MEASURED:
            unmeasured += 1
            continue
        text = (row[genotype_column] or "").strip()
        if value < 0:
            raise ValueError(
                f"{source}: {column} {row[column].strip()} of cell {text!r} is negative "
                f"({NOT_MEASURED:g} marks a cell that was not measured)"
            )
        texts.append(text)
        values.append(value)
    if unmeasured:
        logger.info("%s: %d rows not measured (%g or empty) dropped", source, unmeasured, NOT_MEASURED)
    return Measurements(source, column, genotype_column, tuple(texts), np.array(values, dtype=float), unmeasured)


# ----------------------------------------------------------------------------- the model


def _errors(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float | None]:
    """RMSE, mean relative error (over cells whose cost is above 0) and Spearman of predictions."""
    positive = truth > 0
    relative = np.abs(predicted[positive] - truth[positive]) / truth[positive]
    rho = None
    if len(truth) > 2 and np.ptp(truth) > 0 and np.ptp(predicted) > 0:
        rho = float(spearmanr(predicted, truth)[0])
    return {
        "rmse": float(np.sqrt(np.mean((predicted - truth) ** 2))),
        "mean_relative_error": float(relative.mean()) if relative.size else None,
        "spearman": rho,
    }


@dataclass(frozen=True)
class _Ridge:
    """A ridge fit with an unpenalised intercept, and its exact leave-one-out predictions."""

    strength: float
    weights: np.ndarray
    x_mean: np.ndarray
    y_mean: float
    fitted: np.ndarray
    left_out: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (x - self.x_mean) @ self.weights + self.y_mean


def _ridge(x: np.ndarray, y: np.ndarray) -> tuple[_Ridge, float]:
    """The ridge fit of the strength in :data:`RIDGE_GRID` with the lowest leave-one-out RMSE, and that RMSE."""
    n = len(y)
    x_mean, y_mean = x.mean(0), float(y.mean())
    u, s, vt = np.linalg.svd(x - x_mean, full_matrices=False)
    uy = u.T @ (y - y_mean)
    best: tuple[float, _Ridge] | None = None
    for strength in RIDGE_GRID:
        shrink = s**2 / (s**2 + strength)
        fitted = u @ (shrink * uy) + y_mean
        leverage = 1.0 / n + (u**2) @ shrink
        left_out = y - (y - fitted) / np.maximum(1.0 - leverage, 1e-12)
        rmse = float(np.sqrt(np.mean((left_out - y) ** 2)))
        if best is None or rmse < best[0]:
            weights = vt.T @ (s / (s**2 + strength) * uy)
            best = (rmse, _Ridge(strength, weights, x_mean, y_mean, fitted, left_out))
    assert best is not None  # the grid is not empty
    return best[1], best[0]


@dataclass(frozen=True)
class CostModel:
    """A fitted linear cost model of one space's cells.

    Attributes:
        features: the space's :class:`CellFeatures`.
        design: the feature set the model uses (one of ``features.designs``).
        ridge: the fit (weights on the centred features, intercept).
    """

    features: CellFeatures
    design: Design
    ridge: _Ridge

    def predict(self, genotypes: Sequence[Any]) -> np.ndarray:
        """The predicted cost of each valid genotype (at least 0)."""
        return self.predict_features(self.features.matrix(genotypes))

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        """The predicted cost of rows of every feature (:meth:`CellFeatures.matrix`), at least 0."""
        return np.maximum(self.ridge.predict(np.asarray(x, dtype=float)[:, list(self.design.columns)]), 0.0)

    def terms(self) -> dict[str, float]:
        """``{feature: weight}`` of the model (the intercept under ``"intercept"``)."""
        names = self.features.names(self.design)
        intercept = self.ridge.y_mean - float(self.ridge.x_mean @ self.ridge.weights)
        return {"intercept": intercept, **{n: float(w) for n, w in zip(names, self.ridge.weights, strict=True)}}


@dataclass(frozen=True)
class TableFit:
    """How a table cost serves a space: a lookup, or a model and how well it fits.

    Attributes:
        space: the space's name.
        mode: ``"lookup"`` (the table covers every cell) or ``"model"``.
        rows: measured rows used.
        cells: distinct cells (canonical keys) among them.
        not_measured: rows dropped as not measured.
        features: the name of the design chosen (model only): ``"additive"``, or one that
            models more (``"additive+interactions"``, ``"shared ops+data flow"``).
        rule: what the chosen design models beyond one term per op per edge, in words (model only).
        ridge: the ridge strength chosen (model only).
        in_sample: RMSE, mean relative error and Spearman of the fit on the measured rows.
        leave_one_out: the same of each row predicted by the model fitted without it.
        candidates: leave-one-out RMSE of each feature set tried.
        unseen: additive features no measured cell has (the model knows them only through
            the features they share).
    """

    space: str
    mode: str
    rows: int
    cells: int
    not_measured: int
    features: str | None = None
    rule: str | None = None
    ridge: float | None = None
    in_sample: dict[str, float | None] = field(default_factory=dict)
    leave_one_out: dict[str, float | None] = field(default_factory=dict)
    candidates: dict[str, float] = field(default_factory=dict)
    unseen: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        """JSON-ready: every field (the unseen features counted, the first few named)."""
        doc: dict[str, Any] = {
            "space": self.space,
            "mode": self.mode,
            "rows": self.rows,
            "cells": self.cells,
            "not_measured": self.not_measured,
        }
        if self.mode == "model":
            doc.update(
                features=self.features,
                rule=self.rule,
                ridge=self.ridge,
                in_sample=dict(self.in_sample),
                leave_one_out=dict(self.leave_one_out),
                candidates=dict(self.candidates),
                unseen=len(self.unseen),
                unseen_examples=list(self.unseen[:5]),
            )
        return doc

    def summary(self) -> str:
        """One line for the log."""
        head = f"{self.rows} measured rows ({self.cells} cells, {self.not_measured} not measured)"
        if self.mode == "lookup":
            return f"{head}: every {self.space} cell measured, looked up"
        rho_value, mre_value = self.leave_one_out.get("spearman"), self.leave_one_out.get("mean_relative_error")
        rho = "n/a" if rho_value is None else f"{rho_value:.3f}"
        mre = "n/a" if mre_value is None else f"{100 * mre_value:.1f}%"
        return (
            f"{head}: {self.features} model of {self.space} cells (ridge {self.ridge:g}); "
            f"leave-one-out Spearman {rho}, mean relative error {mre}"
        )


def fit_cost_model(
    space: SearchSpace[Any], genotypes: Sequence[Any], values: Sequence[float] | np.ndarray, *, not_measured: int = 0
) -> tuple[CostModel, TableFit]:
    """Fit the cost model of ``space`` to measured ``values`` of ``genotypes``.

    Each design of the space (:attr:`CellFeatures.designs`) is fitted by ridge regression over
    :data:`RIDGE_GRID`; the one with the lowest exact leave-one-out RMSE is kept.

    Args:
        space: the space (one :func:`cell_features` models).
        genotypes: the measured cells (values or text).
        values: their costs (finite, at least 0).
        not_measured: rows dropped before (reported in the fit).

    Returns:
        The model and its :class:`TableFit`.

    Raises:
        ValueError: a space the model cannot describe, a genotype the space rejects, values
            that are not finite or are negative, a length mismatch, or fewer than
            :data:`MIN_FIT_CELLS` distinct cells.
    """
    features = cell_features(space)
    cells = [space.coerce(g) for g in genotypes]
    y = np.asarray(values, dtype=float)
    if y.shape != (len(cells),):
        raise ValueError(f"{len(cells)} genotypes but {y.size} values")
    if not np.isfinite(y).all() or (y < 0).any():
        raise ValueError("measured costs must be finite numbers of at least 0")
    distinct = len({space.canonical(g) for g in cells})
    if distinct < MIN_FIT_CELLS:
        raise ValueError(
            f"too few measured cells to fit a cost model of the {space.name} space: {distinct} distinct cells, "
            f"at least {MIN_FIT_CELLS} needed"
        )
    x = features.matrix(cells)
    fits = {d.name: (d, *_ridge(x[:, list(d.columns)], y)) for d in features.designs}
    design, ridge, _ = min(fits.values(), key=lambda fit: fit[2])
    model = CostModel(features, design, ridge)
    additive = features.additive
    held = np.asarray(x[:, list(additive.columns)].any(axis=0))
    unseen = tuple(name for name, h in zip(features.names(additive), held, strict=True) if not h)
    fit = TableFit(
        space=space.name,
        mode="model",
        rows=len(cells),
        cells=distinct,
        not_measured=not_measured,
        features=design.name,
        rule=design.rule or None,
        ridge=ridge.strength,
        in_sample=_errors(np.maximum(ridge.fitted, 0.0), y),
        leave_one_out=_errors(np.maximum(ridge.left_out, 0.0), y),
        candidates={name: rmse for name, (_, _, rmse) in fits.items()},
        unseen=unseen,
    )
    if unseen:
        logger.warning(
            "cost model of %s: %d features appear in no measured cell (e.g. %s); measure cells that hold them",
            space.name,
            len(unseen),
            ", ".join(unseen[:3]),
        )
    return model, fit


# ----------------------------------------------------------------------------- the cost


@dataclass
class _Served:
    """What a table cost holds for one space: the measured mean per canonical key, and the model."""

    fit: TableFit
    measured: dict[str, float]
    model: CostModel | None


def _space_keys(space: SearchSpace[Any]) -> set[str] | None:
    """Every canonical key of ``space``, or None when the space cannot list its cells."""
    every = getattr(space, "all_genotypes", None)
    if not callable(every):
        return None
    return {space.canonical(g) for g in every()}


@register_cost("table")
class TableCost(Cost):
    """A cost measured elsewhere (on a device) for some cells, read from a CSV table.

    A lookup when the table covers every cell of the space, otherwise a model fitted to the
    measured cells predicts the others (see the module doc).

    Args:
        path: the CSV table.
        column: the cost column.
        genotype_column: the genotype column (default: the first of :data:`GENOTYPE_COLUMNS` present).
        unit: the cost's unit (default: the column's name).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an unreadable table, a missing column, a value that is not a number or is
            negative (other than -1, not measured). Genotypes are checked against the space
            when it is first known (:meth:`fit`).
    """

    unit = ""
    label = ""

    def __init__(
        self, path: str | Path, column: str, genotype_column: str | None = None, unit: str | None = None
    ) -> None:
        super().__init__()
        if not isinstance(column, str) or not column:
            raise ValueError(f"the table cost needs the name of its cost column, got {column!r}")
        self.path = Path(path)
        self.table = read_measurements(self.path, column, genotype_column)
        self.unit = unit or column
        self.label = f"{column} ({unit})" if unit else column
        self._served: dict[tuple[str, str], _Served] = {}
        self._last: TableFit | None = None

    def fit(self, space: SearchSpace[Any]) -> TableFit:
        """How this table serves ``space`` (fitted once per space): a lookup or a fitted model.

        Raises:
            ValueError: a genotype the space rejects, no measured row, or (when the table does not
                cover the space) a space the model cannot describe or too few measured cells.
        """
        return self._serve(space).fit

    def _serve(self, space: SearchSpace[Any]) -> _Served:
        key = (space.name, repr(space))
        if key not in self._served:
            self._served[key] = self._prepare(space)
            self._last = self._served[key].fit
            logger.info("table cost %s of %s: %s", self.table.column, self.path, self._last.summary())
        return self._served[key]

    def _prepare(self, space: SearchSpace[Any]) -> _Served:
        table = self.table
        cells = table.genotypes(space)
        if not cells:
            raise ValueError(f"{table.source}: no measured {table.column} ({table.not_measured} rows not measured)")
        groups: dict[str, list[float]] = {}
        for cell, value in zip(cells, table.values, strict=True):
            groups.setdefault(space.canonical(cell), []).append(float(value))
        measured = {k: float(np.mean(v)) for k, v in groups.items()}
        every = _space_keys(space)
        if every is not None and every <= measured.keys():
            fit = TableFit(space.name, "lookup", len(cells), len(measured), table.not_measured)
            return _Served(fit, measured, None)
        try:
            model, fit = fit_cost_model(space, cells, table.values, not_measured=table.not_measured)
        except ValueError as err:
            raise ValueError(f"{table.source}: {err}") from None
        return _Served(fit, measured, model)

    def measure_many(self, spec: NetworkSpec, genotypes: Sequence[Any]) -> list[float]:
        """The measured cost of each measured cell, the model's prediction of every other one."""
        served = self._serve(spec.space)
        keys = [spec.space.canonical(g) for g in genotypes]
        todo = [i for i, k in enumerate(keys) if k not in served.measured]
        values = [served.measured.get(k, math.nan) for k in keys]
        if todo:
            assert served.model is not None  # a lookup covers every cell
            for i, v in zip(todo, served.model.predict([genotypes[i] for i in todo]), strict=True):
                values[i] = float(v)
        return values

    def measure_one(self, spec: NetworkSpec, genotype: Any) -> float:
        """The cost of one valid genotype (see :meth:`measure_many`)."""
        return self.measure_many(spec, [genotype])[0]

    def describe(self) -> dict[str, Any]:
        """Settings, and the fit of the space served last (once a space was served)."""
        doc = {
            **super().describe(),
            "path": str(self.path),
            "column": self.table.column,
            "genotype_column": self.table.genotype_column,
            "rows": len(self.table.texts),
            "not_measured": self.table.not_measured,
        }
        if self._last is not None:
            doc["fit"] = self._last.describe()
        return doc
