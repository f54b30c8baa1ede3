"""The table cost: lookup of a full table, a model fitted to a few measured cells, and the tables it refuses."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from fne.costs import NetworkSpec, get_cost
from fne.costs.table import (
    MIN_FIT_CELLS,
    SHARED,
    TableCost,
    cell_features,
    edge_op_features,
    fit_cost_model,
    interaction_features,
)
from fne.genotopheno import get_space


@pytest.fixture(scope="module")
def nb201():
    return get_space("nb201")


def write_table(path: Path, rows: list[tuple[str, object]], header: tuple[str, str] = ("arch_str", "ms")) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def cells(space, n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    found: dict[str, object] = {}
    while len(found) < n:
        g = space.sample(rng)
        found.setdefault(space.canonical(g), g)
    return list(found.values())


def additive_truth(space, seed: int = 0):
    """A made-up device whose cost is exactly a constant plus one cost per op per edge."""
    rng = np.random.default_rng(seed)
    per_edge_op = rng.uniform(0.1, 2.0, size=(6, len(space.ops)))

    def cost(g) -> float:
        return float(1.5 + sum(per_edge_op[e, space.ops.index(op)] for e, op in enumerate(g.ops)))

    return cost


def test_the_model_is_exact_on_an_additive_table(tmp_path: Path, nb201) -> None:
    truth = additive_truth(nb201)
    measured = cells(nb201, 60, seed=1)
    path = write_table(tmp_path / "t.csv", [(nb201.format(g), repr(truth(g))) for g in measured])
    cost = get_cost("table", path=path, column="ms")
    fit = cost.fit(nb201)
    assert fit.mode == "model" and fit.rows == 60 and fit.cells == 60 and fit.not_measured == 0
    assert fit.leave_one_out["rmse"] < 1e-3 and fit.in_sample["spearman"] > 0.999
    others = [g for g in cells(nb201, 300, seed=2) if nb201.canonical(g) not in {nb201.canonical(m) for m in measured}]
    spec = NetworkSpec(nb201, {}, (3, 32, 32))
    predicted = np.array(cost.measure(spec, others))
    expected = np.array([truth(g) for g in others])
    np.testing.assert_allclose(predicted, expected, rtol=1e-3)
    described = cost.describe()
    assert described["name"] == "table" and described["column"] == "ms" and described["fit"]["mode"] == "model"
    json.dumps(described)


def test_measured_cells_keep_their_measured_value(tmp_path: Path, nb201) -> None:
    truth = additive_truth(nb201)
    measured = cells(nb201, 30, seed=3)
    noisy = {nb201.format(g): truth(g) + (0.5 if i == 0 else 0.0) for i, g in enumerate(measured)}
    path = write_table(tmp_path / "t.csv", [(text, value) for text, value in noisy.items()])
    cost = TableCost(path, "ms")
    spec = NetworkSpec(nb201, {}, (3, 32, 32))
    first = nb201.format(measured[0])
    assert cost.measure(spec, [first]) == [pytest.approx(noisy[first])]


def _live_edges(nb201, g) -> np.ndarray:
    """Per edge and op, 1 where the edge's input is computed and its output reaches the cell output."""
    flow = interaction_features(nb201, g)
    k = len(nb201.ops)
    from_fed = flow[k : k + 6 * k].reshape(6, k)
    to_output = flow[2 * k + 6 * k : 2 * k + 12 * k].reshape(6, k)
    return from_fed * to_output


def test_interactions_enter_when_the_measurements_justify_them(nb201) -> None:
    """A device that skips dead paths, where an op costs differently on each edge: the per-edge data flow."""
    rng = np.random.default_rng(4)
    per_edge_op = rng.uniform(0.5, 2.0, (6, len(nb201.ops)))
    per_edge_op[:, nb201.ops.index("none")] = 0.0

    def pruned(g) -> float:
        return 0.3 + float((per_edge_op * _live_edges(nb201, g)).sum())

    measured = cells(nb201, 150, seed=5)
    model, fit = fit_cost_model(nb201, measured, [pruned(g) for g in measured])
    assert fit.features == "additive+interactions" and fit.rule and "data flow" in fit.rule
    assert fit.candidates["additive+interactions"] < min(fit.candidates["additive"], fit.candidates[SHARED])
    others = cells(nb201, 400, seed=6)
    predicted = model.predict(others)
    assert np.corrcoef(predicted, [pruned(g) for g in others])[0, 1] > 0.95
    assert model.terms()["intercept"] == pytest.approx(model.ridge.y_mean - model.ridge.x_mean @ model.ridge.weights)


def test_a_cost_per_op_shared_by_the_edges_is_learnt_from_few_cells(nb201) -> None:
    """A device that skips dead paths, where an op costs the same on every edge: the shared design, with
    19 terms, explains 60 cells that the per-edge designs (35 and 106 terms) do not."""
    rng = np.random.default_rng(7)
    per_op = rng.uniform(0.5, 2.0, len(nb201.ops))
    per_op[nb201.ops.index("none")] = 0.0

    def pruned(g) -> float:
        return 1.5 + float((per_op * _live_edges(nb201, g)).sum())

    measured = cells(nb201, 60, seed=8)
    model, fit = fit_cost_model(nb201, measured, [pruned(g) for g in measured])
    assert fit.features == SHARED and "shared" in fit.rule
    assert fit.candidates[SHARED] < 0.5 * min(fit.candidates["additive"], fit.candidates["additive+interactions"])
    assert len(model.terms()) == 1 + len(cell_features(nb201).names(model.design)) == 20
    others = cells(nb201, 400, seed=9)
    live = [g for g in others if interaction_features(nb201, g)[-1] == 0.0]  # the output is computed
    errors = np.abs(model.predict(live) - [pruned(g) for g in live])
    assert np.median(errors) < 0.02 and np.corrcoef(model.predict(live), [pruned(g) for g in live])[0, 1] > 0.99


def test_a_full_table_is_a_lookup_by_canonical_key(tmp_path: Path) -> None:
    space = get_space("nb201", ops=("none", "skip_connect"))
    every = space.all_genotypes()
    values = {space.format(g): float(i) for i, g in enumerate(every)}
    path = write_table(tmp_path / "full.csv", list(values.items()), header=("arch_str", "energy"))
    cost = TableCost(path, "energy", unit="mJ")
    fit = cost.fit(space)
    assert fit.mode == "lookup" and fit.rows == len(every) and fit.cells == len({space.canonical(g) for g in every})
    assert cost.unit == "mJ" and cost.label == "energy (mJ)"
    spec = NetworkSpec(space, {}, (3, 32, 32))
    got = cost.measure(spec, every)
    for g, value in zip(every, got, strict=True):
        same = [values[space.format(h)] for h in every if space.canonical(h) == space.canonical(g)]
        assert value == pytest.approx(np.mean(same))
    assert cost.describe()["fit"] == {
        "space": "nb201",
        "mode": "lookup",
        "rows": 64,
        "cells": fit.cells,
        "not_measured": 0,
    }


def test_not_measured_rows_are_dropped_and_counted(tmp_path: Path, nb201, caplog) -> None:
    truth = additive_truth(nb201)
    measured = cells(nb201, 20, seed=7)
    rows = [(nb201.format(g), truth(g)) for g in measured] + [(nb201.format(g), -1) for g in cells(nb201, 3, seed=8)]
    rows.append((nb201.format(measured[0]), ""))
    with caplog.at_level(logging.INFO, logger="fne.costs.table"):
        cost = TableCost(write_table(tmp_path / "t.csv", rows), "ms")
    assert cost.table.not_measured == 4 and len(cost.table.texts) == 20
    assert "4 rows not measured" in caplog.text
    assert cost.fit(nb201).not_measured == 4 and cost.describe()["not_measured"] == 4


def test_refusals(tmp_path: Path, nb201) -> None:
    good = nb201.format(nb201.sample(np.random.default_rng(0)))
    with pytest.raises(FileNotFoundError, match="missing.csv does not exist"):
        TableCost(tmp_path / "missing.csv", "ms")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['latency'\]"):
        TableCost(write_table(tmp_path / "a.csv", [(good, 1.0)]), "latency")
    with pytest.raises(ValueError, match="no genotype column"):
        TableCost(write_table(tmp_path / "b.csv", [(good, 1.0)], header=("cell", "ms")), "ms")
    with pytest.raises(ValueError, match="missing genotype column 'cell'"):
        TableCost(write_table(tmp_path / "c.csv", [(good, 1.0)]), "ms", genotype_column="cell")
    with pytest.raises(ValueError, match="ms 'fast' is not a number"):
        TableCost(write_table(tmp_path / "d.csv", [(good, "fast")]), "ms")
    with pytest.raises(ValueError, match="ms -2 of cell .* is negative"):
        TableCost(write_table(tmp_path / "e.csv", [(good, "-2")]), "ms")
    with pytest.raises(ValueError, match="the table cost needs the name of its cost column"):
        TableCost(write_table(tmp_path / "f.csv", [(good, 1.0)]), "")
    unknown = TableCost(write_table(tmp_path / "g.csv", [(good, 1.0), ("|conv_7x7~0|+|none~0|", 2.0)]), "ms")
    with pytest.raises(ValueError, match=r"arch_str '\|conv_7x7~0\|\+\|none~0\|' is not a nb201 genotype"):
        unknown.fit(nb201)
    few = [(nb201.format(g), 1.0 + i) for i, g in enumerate(cells(nb201, MIN_FIT_CELLS - 1, seed=9))]
    with pytest.raises(ValueError, match=f"too few measured cells .*: {MIN_FIT_CELLS - 1} distinct cells"):
        TableCost(write_table(tmp_path / "h.csv", few), "ms").fit(nb201)
    unmeasured = TableCost(write_table(tmp_path / "i.csv", [(good, -1)]), "ms")
    with pytest.raises(ValueError, match=r"no measured ms \(1 rows not measured\)"):
        unmeasured.fit(nb201)


def test_a_space_without_features_is_refused_unless_the_table_covers_it(tmp_path: Path) -> None:
    channels = get_space("channels", max_nodes=3)
    measured = cells(channels, MIN_FIT_CELLS, seed=0)
    path = write_table(tmp_path / "c.csv", [(channels.format(g), 1.0 + i) for i, g in enumerate(measured)])
    with pytest.raises(ValueError, match="cannot model cells of the channels space"):
        TableCost(path, "ms").fit(channels)
    with pytest.raises(ValueError, match="cannot model cells of the channels space"):
        edge_op_features(channels, measured[0])


def test_features_of_each_modelled_space(nb201) -> None:
    g = nb201.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    additive = edge_op_features(nb201, g)
    k = len(nb201.ops)
    assert additive.shape == (k + 6 * k,) and additive[:k].sum() == 6 and additive[k:].sum() == 6
    flow = interaction_features(nb201, g)
    assert flow.shape == (2 * (k + 6 * k) + 1,) and flow[-1] == 0.0  # the output is computed
    features = cell_features(nb201)
    shared = dict(zip(features.columns, features.matrix([g])[0], strict=True))
    # node 1 is computed but reaches nothing, so its conv is held and fed but not live; the skip 0->3 is live
    assert shared["shared count:nor_conv_3x3"] == shared["input computed, count:nor_conv_3x3"] == 1.0
    assert shared["output used, count:nor_conv_3x3"] == shared["live, count:nor_conv_3x3"] == 0.0
    assert shared["live, count:skip_connect"] == 1.0
    assert shared["nodes computed"] == 0.0 and shared["nodes summing"] == 0.0
    g2 = nb201.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|")
    both = dict(zip(features.columns, features.matrix([g2])[0], strict=True))
    assert both["live, count:nor_conv_3x3"] == both["live, count:nor_conv_1x1"] == 1.0
    assert both["nodes computed"] == 2.0 and both["nodes summing"] == 1.0  # the output sums nodes 1 and 2
    dead = interaction_features(nb201, "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert dead[-1] == 1.0 and dead[:-1].sum() == 0.0
    darts = get_space("darts")
    d = darts.sample(np.random.default_rng(0))
    assert edge_op_features(darts, d).sum() == 2 * 8 * 2 + len(d.normal_concat) + len(d.reduce_concat)
    assert interaction_features(darts, d).size == 0
    sss = get_space("sss")
    one_hot = edge_op_features(sss, "8:16:32:64:64")
    assert one_hot.sum() == 5 and one_hot.size == 5 * len(sss.choices)
    assert interaction_features(sss, "64:64:64:64:64") == pytest.approx(np.ones(9))
