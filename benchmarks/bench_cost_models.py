"""Device cost models from a few measured cells, checked on HW-NAS-Bench's six devices.

``../shared/data/nb201/nb201_device_costs.csv`` holds the measured latency (ms) and energy (mJ)
of every NB201 CIFAR-10 network on an edge GPU (Jetson TX2), a Raspberry Pi 4, an Edge TPU
(-1: not measured), a Pixel 3, Eyeriss and an FPGA. Each column is treated as a device:

* for each sample size (``--sizes``, default 20, 50 and 100) and seed, the cells ``fne export
  --sample N`` would export (:func:`fne.costs.sample_export.choose_cells` on the full NB201
  network, the same seed) are "measured": their rows of the column are the table
  (cells the device did not measure, -1, are dropped as a user's table drops them);
* the table cost's model (:func:`fne.costs.table.fit_cost_model`: additive per op per edge,
  with the data-flow interactions, or one cost per op shared by the edges with the data flow,
  chosen by leave-one-out error) is fitted to them and
  predicts every other row of the column (the measured rows of cells not in the sample);
* reported: Spearman and the mean (and median) relative error of those predictions, the
  feature set chosen, and the model's own leave-one-out Spearman. The JSON also holds the mean
  relative error over the cells whose output is computed: the 341 cells whose output is zero
  (every path to it holds ``none``) run in 0.01 to 34 ms on the Raspberry Pi and the Pixel 3,
  and their relative errors dominate the mean there;
* what the model does to a front (with ``--scores``, the all-cell score file of
  ``bench_proxies.py --phase all``): every measured cell ranked by NB201's search ranking
  (``NB201Space.search_defaults``), the cells non-dominated in (ranking, cost) looked up in the
  device's column and held against its true front by ``bench_front``'s IGD and hypervolume.
  With the true cost of every cell this is the best front the ranking allows on that device;
  with the model's cost (measured cells keep their measurement, as the table cost serves them)
  it is the front a search that evaluated every cell would return. A search's front
  (``bench_front.py``) adds what its evaluations miss.

The baseline is FLOPs: Spearman of each cell's FLOPs against each device's column over every
measured row. NB201 FLOPs are linear in the op of each edge, so the published ``c10_flops``
(9,445 cells of ``nb201_cifar10.csv``) give every cell's through the additive model (its
largest residual is printed).

Prints one table (mean and standard deviation over seeds) and writes every figure to
``--out`` (JSON)::

    python benchmarks/bench_cost_models.py --seeds 5 --out report/results/bench_cost_models.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scipy.stats import spearmanr

from all_cells import enumeration_front, filled, ranking_values, read_scores
from bench_front import Indicators, add_devices, read_table
from fne.costs import NetworkSpec, count_params
from fne.costs.sample_export import choose_cells
from fne.costs.table import ADDITIVE, INTERACTIONS, NOT_MEASURED, cell_features, fit_cost_model
from fne.costs.table import SHARED as SHARED_OPS
from fne.genotopheno import get_space
from fne.search.benchmark_table import ARCH_COLUMN, read_rows

SHARED = ROOT.parent / "shared" / "data" / "nb201"
SCORES = ROOT / "report" / "results" / "nb201_all_cell_scores.jsonl"
logger = logging.getLogger(__name__)
DEVICES = (
    "edgegpu_latency",
    "edgegpu_energy",
    "raspi4_latency",
    "edgetpu_latency",
    "pixel3_latency",
    "eyeriss_latency",
    "eyeriss_energy",
    "fpga_latency",
    "fpga_energy",
)
"""The device columns of the cost table."""
SIZES = (20, 50, 100)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--costs", type=Path, default=SHARED / "nb201_device_costs.csv", help="the device cost table")
    ap.add_argument("--accuracy", type=Path, default=SHARED / "nb201_cifar10.csv", help="the table with c10_flops")
    ap.add_argument("--devices", nargs="+", default=list(DEVICES), help="device columns to check")
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES), help="measured cells per fit")
    ap.add_argument("--seeds", type=int, default=5, help="samples per size (seeds first-seed, first-seed+1, ...)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--scores", type=Path, default=SCORES, help="all-cell score file for the fronts ('': none)")
    ap.add_argument("--out", type=Path, default=ROOT / "report" / "results" / "bench_cost_models.json")
    return ap.parse_args(argv)


def relative_errors(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    positive = truth > 0
    return np.abs(predicted[positive] - truth[positive]) / truth[positive]


def flops_of_every_cell(texts: Sequence[str], additive: np.ndarray, path: Path) -> tuple[np.ndarray, float]:
    """Each cell's FLOPs from the published ones, by least squares on the additive features (one
    term per op per edge: NB201 FLOPs are exactly that), and the fit's largest residual."""
    rows = read_rows(path, (ARCH_COLUMN, "c10_flops"))
    published = {row[ARCH_COLUMN]: float(row["c10_flops"]) for row in rows}
    known = [i for i, t in enumerate(texts) if t in published]
    x = np.column_stack([additive, np.ones(len(texts))])
    y = np.array([published[texts[i]] for i in known])
    coef, *_ = np.linalg.lstsq(x[known], y, rcond=None)
    flops = x @ coef
    return flops, float(np.abs(flops[known] - y).max())


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b)[0])


def library_ranking(texts: Sequence[str], path: Path | None) -> np.ndarray | None:
    """Every cell's value under NB201's search ranking (higher is better) from the all-cell score
    file, or None (logged) when the file is missing or lacks a cell."""
    if path is None:
        return None
    if not path.is_file():
        logger.warning("no all-cell score file at %s: fronts left out", path)
        return None
    space = get_space("nb201")
    chosen = type(space).search_defaults
    assert chosen is not None, "the nb201 space declares its search ranking"
    scores = read_scores(path)
    keys = [space.canonical(t) for t in texts]
    missing = sorted({k for k in keys if k not in scores or any(p not in scores[k] for p in chosen.weights)})
    if missing:
        logger.warning("%s lacks %d cells (e.g. %s): fronts left out", path, len(missing), missing[0])
        return None
    return filled(ranking_values([scores[k] for k in keys], dict(chosen.weights), chosen.ranking))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("fne.costs.table").setLevel(logging.ERROR)  # features no sampled cell holds: counted per run
    args = parse_args(argv)
    start = time.perf_counter()
    space = get_space("nb201")
    spec = NetworkSpec.full(space)
    rows = read_rows(args.costs, (ARCH_COLUMN, *args.devices), space=space)
    texts = [row[ARCH_COLUMN] for row in rows]
    genotypes = [space.parse(t) for t in texts]
    index = {t: i for i, t in enumerate(texts)}
    described = cell_features(space)
    features = described.matrix(genotypes)
    zero_cell = described.columns.index("zero cell")
    values = {d: np.array([float(row[d]) for row in rows]) for d in args.devices}
    flops, residual = flops_of_every_cell(texts, features[:, list(described.additive.columns)], args.accuracy)
    print(f"{len(texts)} cells; FLOPs from the published c10_flops, largest residual {residual:.2e} MFLOPs")
    ranking = library_ranking(texts, args.scores)
    table: dict[str, dict[str, float]] = {}
    if ranking is not None:
        table = read_table(args.accuracy)
        add_devices(table, args.costs, args.devices)

    sizes: dict[str, float] = {}

    def params(cells: Sequence[Any]) -> list[float]:
        for g in cells:
            key = space.format(g)
            if key not in sizes:
                sizes[key] = count_params(spec.build(g, device="meta"))
        return [sizes[space.format(g)] for g in cells]

    samples = {
        (n, seed): [space.format(g) for g in choose_cells(spec, n, seed=seed, size=params)]
        for n in args.sizes
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    }
    result: dict[str, Any] = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "flops_residual": residual,
        "devices": {},
    }
    for device in args.devices:
        y = values[device]
        measured = y != NOT_MEASURED
        entry: dict[str, Any] = {
            "measured_cells": int(measured.sum()),
            "flops_spearman": spearman(flops[measured], y[measured]),
            "sizes": {},
        }
        kept = np.flatnonzero(measured)
        kept_texts = [texts[i] for i in kept]
        if ranking is not None:
            indicators = Indicators(table, device)
            entry["true_cost"] = enumeration_front(ranking[kept], kept_texts, table, indicators, judged=device)
        for n in args.sizes:
            runs = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                picked = [index[t] for t in samples[(n, seed)]]
                train = [i for i in picked if measured[i]]
                model, fit = fit_cost_model(
                    space, [genotypes[i] for i in train], y[train], not_measured=len(picked) - len(train)
                )
                rest = measured.copy()
                rest[picked] = False
                predicted = model.predict_features(features[rest])
                errors = relative_errors(predicted, y[rest])
                computed = features[rest, zero_cell] == 0.0  # nothing reaches the output
                fronts: dict[str, float] = {}
                if ranking is not None:
                    served = y.copy()
                    served[rest] = predicted
                    fronts = enumeration_front(
                        ranking[kept], kept_texts, table, indicators, cost=served[kept], judged=device
                    )
                runs.append(
                    {
                        "seed": seed,
                        "measured": len(train),
                        "features": fit.features,
                        "ridge": fit.ridge,
                        "unseen_features": len(fit.unseen),
                        "loo_spearman": fit.leave_one_out["spearman"],
                        "spearman": spearman(predicted, y[rest]),
                        "mean_relative_error": float(errors.mean()),
                        "median_relative_error": float(np.median(errors)),
                        "mean_relative_error_computed_output": float(
                            relative_errors(predicted[computed], y[rest][computed]).mean()
                        ),
                        "cells_predicted": int(rest.sum()),
                        **fronts,
                    }
                )
            entry["sizes"][str(n)] = {
                "runs": runs,
                **{
                    f"{key}_{stat}": float(fn([r[key] for r in runs]))
                    for key in (
                        "spearman",
                        "mean_relative_error",
                        "median_relative_error",
                        "mean_relative_error_computed_output",
                        *(("enumeration_igd", "enumeration_hv") if ranking is not None else ()),
                    )
                    for stat, fn in (("mean", np.mean), ("std", np.std))
                },
                "designs": {d: sum(r["features"] == d for r in runs) for d in sorted({r["features"] for r in runs})},
            }
        result["devices"][device] = entry
    result["seconds"] = time.perf_counter() - start
    print_table(result, args.sizes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out} ({result['seconds']:.0f} s)")
    return result


def print_table(result: dict[str, Any], sizes: Sequence[int]) -> None:
    devices = result["devices"]
    _print_rows(
        devices,
        sizes,
        f"{'device':18s} {'FLOPs rho':>9s}",
        f"{'rho':>11s} {'mean rel':>13s} {'med rel':>7s} {'designs':>7s}",
        lambda entry: f"{entry['flops_spearman']:9.3f}",
        lambda s: (
            f"{s['spearman_mean']:.3f}±{s['spearman_std']:.3f}"
            f" {100 * s['mean_relative_error_mean']:6.1f}±{100 * s['mean_relative_error_std']:4.1f}%"
            f" {100 * s['median_relative_error_mean']:6.1f}% {_designs(s['designs']):>7s}"
        ),
    )
    print("rho: Spearman of the predictions on every other measured cell; rel: relative error; designs: how many")
    print("fits chose the additive (a), additive+interactions (i) and shared ops+data flow (s) designs; mean and std")
    print("over seeds")
    if not all("true_cost" in entry for entry in devices.values()):
        return
    print()
    _print_rows(
        devices,
        sizes,
        f"{'device':18s} {'true cost: IGD':>14s} {'HV':>6s}",
        f"{'IGD':>15s} {'HV':>6s}",
        lambda entry: f"{entry['true_cost']['enumeration_igd']:14.4f} {entry['true_cost']['enumeration_hv']:6.4f}",
        lambda s: f"{s['enumeration_igd_mean']:.4f}±{s['enumeration_igd_std']:.4f} {s['enumeration_hv_mean']:6.4f}",
    )
    print("fronts of every measured cell ranked by NB201's search ranking, costed by the device (true cost) or by")
    print("the model fitted to n cells, judged at the true cost against the device's true front (mean, std over seeds)")


def _print_rows(
    devices: dict[str, Any],
    sizes: Sequence[int],
    head: str,
    size_head: str,
    first: Callable[[dict[str, Any]], str],
    cell: Callable[[dict[str, Any]], str],
) -> None:
    """One line per device: its ``first`` columns, then ``cell`` of each sample size's figures."""
    head += "".join(f" | n={n}: {size_head}" for n in sizes)
    print(head)
    print("-" * len(head))
    for device, entry in devices.items():
        line = f"{device:18s} {first(entry)}"
        for n in sizes:
            line += f" | {' ' * (len(str(n)) + 3)}{cell(entry['sizes'][str(n)])}"
        print(line)


def _designs(chosen: dict[str, int]) -> str:
    """How many fits chose each design, as ``a/i/s`` counts."""
    return "/".join(str(chosen.get(n, 0)) for n in (ADDITIVE, INTERACTIONS, SHARED_OPS))


if __name__ == "__main__":
    main()
