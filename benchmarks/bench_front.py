"""Quality-cost fronts against the true NB201 front: IGD and hypervolume per cost, method and seed.

For each cost and seed, on the CIFAR-10 images of ``--data-dir``. Costs: ``flops``, ``params``
and each device of HW-NAS-Bench's measurements (``--devices``, e.g. ``edgegpu_latency``): a
device is searched as a user would search it, with ``--cost table`` fitted to the cells
``fne export --sample 50`` would choose (their measured values only), and judged against
the device's measurements of every cell (cells it did not measure, -1, are left out of both
the true front and the fronts). ``--space sss`` runs the NATS-Bench size space instead, cost
``params``, against its table's 90-epoch CIFAR-10 test accuracy of all 32,768 networks.

* ``fne``: ``fne search --cost COST --preset front`` (:data:`FNE_FRONT`: survival along the
  quality-cost front); its ``front`` (the quality-cost front of every evaluated cell);
* ``random``: as many random cells as ``fne`` evaluated, scored on the same proxies; the
  quality-cost front of the same ranking;
* ``nsga2 tf``: pymoo's NSGA-II on (SynFlow, JacCov, cost) for the same number of
  evaluations, as E-TF-MOENAS does; its front is the non-dominated set of every evaluated cell
  on those three objectives.

The cells of each front are then looked up in the benchmark table (never before): test error
as a fraction (``1 - c10_test_200ep / 100``) and the cell's true cost. NB201's FLOPs and
parameter counts are linear in the op of each edge, so the published ``c10_flops`` and
``c10_params`` (9,445 cells) give every cell's exactly (checked: the fit's largest residual is
printed). Indicators follow E-TF-MOENAS's protocol for FLOPs: IGD on (error, cost scaled to
[0, 1] by the space's min and max) against the true front of all 15,625 cells; hypervolume on
(error, cost) with reference point (0.9001, 220.12 MFLOPs), divided by the reference box
(for ``params`` the reference cost is the space's largest). Indicators come from pymoo. Cells at
chance accuracy (10% on CIFAR-10: the 341 NB201 cells with no path from input to output, whose
network computes nothing from the image) are left out of the true front and of the fronts: on
devices that skip dead operations they are the fastest networks, and no one deploys them (fne's
fronts leave them out themselves). Each run records ``judged``, the front's cells the indicators
see: those the table measures (on the Edge TPU 4,699 cells are not) and not at chance.

``--rescore JSON`` recomputes the indicators of a results file from the fronts it recorded.

Prints one table (mean and std over seeds of IGD, hypervolume, front size, judged cells,
evaluations and seconds per seed) and writes everything to ``--out`` (JSON)::

    python benchmarks/bench_front.py --seeds 5 --first-seed 0 --costs flops params \\
        --out report/results/bench_front.json
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pymoo.indicators.hv import HV  # noqa: E402
from pymoo.indicators.igd import IGD  # noqa: E402
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting  # noqa: E402

from fne.genotopheno import get_space  # noqa: E402
from fne.options import json_fields  # noqa: E402
from fne.search.config import SearchConfig  # noqa: E402
from fne.search.run import build_budget, build_scorer, run_search  # noqa: E402

logger = logging.getLogger("bench_front")

FNE_FRONT: dict[str, Any] = {"preset": "front"}
"""The search's settings for a front: ``--preset front`` (:mod:`fne.search.presets`: survival along
the quality-cost front, 40 cells, 14 generations, no tournament; 600 evaluations)."""

METHODS = ("fne", "random", "nsga2 tf")
SLUGS = {"fne": "fne", "random": "random", "nsga2": "nsga2 tf"}
HV_REFERENCE = {"flops": (0.9001, 220.12)}
"""E-TF-MOENAS's reference point (error, MFLOPs); other costs use (0.9001, the space's largest)."""
TABLE_COSTS = {"flops": "c10_flops", "params": "c10_params"}
DEVICES = (
    "edgegpu_latency",
    "raspi4_latency",
    "edgetpu_latency",
    "pixel3_latency",
    "eyeriss_latency",
    "fpga_latency",
)
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
SSS_WIDTHS = (8, 16, 24, 32, 40, 48, 56, 64)
PUBLISHED_DECIMALS = 6
"""Decimals of the table's published ``c10_flops`` and ``c10_params``."""
CHANCE_ERROR = 0.9
"""Test error of a CIFAR-10 network that computes nothing from the image (10 classes)."""


def edge_ops(arch: str) -> list[str]:
    """The op of each of the 6 edges of an NB201 cell text, in order."""
    return re.findall(r"\|([a-z_0-9]+)~\d", arch)


def one_hot(arch: str) -> np.ndarray:
    """Per edge, one column per op but ``none`` (which costs nothing), then a constant."""
    x = np.zeros(6 * (len(NB201_OPS) - 1) + 1)
    for edge, op in enumerate(edge_ops(arch)):
        if op != "none":
            x[edge * (len(NB201_OPS) - 1) + NB201_OPS.index(op) - 1] = 1.0
    x[-1] = 1.0
    return x


def read_table(path: Path) -> dict[str, dict[str, float]]:
    """Every cell's test error (fraction) and true FLOPs and params, by cell text.

    Costs are rounded to the table's published precision, so cells of equal cost tie exactly
    (unrounded, the fit's last bits would order them and a front could hold several of them)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table = {r["arch_str"]: {"error": 1.0 - float(r["c10_test_200ep"]) / 100.0} for r in rows}
    X = np.array([one_hot(r["arch_str"]) for r in rows])
    for cost, column in TABLE_COSTS.items():
        known = [i for i, r in enumerate(rows) if r.get(column)]
        y = np.array([float(rows[i][column]) for i in known])
        coef, *_ = np.linalg.lstsq(X[known], y, rcond=None)
        residual = float(np.abs(X[known] @ coef - y).max())
        logger.info("%s: linear in the op of each edge, largest residual %.2e on %d cells", cost, residual, len(y))
        if residual > 1e-6:
            raise ValueError(f"{column} is not linear in the edges' ops (residual {residual:g})")
        for r, value in zip(rows, X @ coef, strict=True):
            table[r["arch_str"]][cost] = round(float(value), PUBLISHED_DECIMALS)
    return table


def read_size_table(path: Path) -> dict[str, dict[str, float]]:
    """Every size-space network's 90-epoch test error (fraction) and parameters (M), by its channels."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        r["channels"]: {"error": 1.0 - float(r["c10_test_90ep"]) / 100.0, "params": float(r["c10_params"]) / 1e6}
        for r in rows
    }


def add_devices(table: dict[str, dict[str, float]], path: Path, devices: Sequence[str]) -> None:
    """Each device's measurement of each cell (left out where not measured: -1)."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for device in devices:
                value = float(row[device])
                if value >= 0 and row["arch_str"] in table:
                    table[row["arch_str"]][device] = value


def device_sample(table: dict[str, dict[str, float]], device: str, n: int, seed: int, folder: Path) -> Path:
    """The CSV a user would write after timing the ``n`` cells ``fne export --sample`` chooses."""
    from fne.costs import NetworkSpec
    from fne.costs.sample_export import choose_cells

    space = get_space("nb201")
    cells = [space.format(g) for g in choose_cells(NetworkSpec.full(space), n, seed=seed)]
    rows = [f"{a},{table[a][device]}" for a in cells if device in table[a]]
    path = folder / f"{device}_{n}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("arch_str,measured\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def true_front(table: dict[str, dict[str, float]], cost: str) -> np.ndarray:
    """The non-dominated (error, cost) points of every cell."""
    points = np.array([[v["error"], v[cost]] for v in table.values() if cost in v and v["error"] < CHANCE_ERROR])
    return np.unique(points[NonDominatedSorting().do(points, only_non_dominated_front=True)], axis=0)


class Indicators:
    """IGD and normalised hypervolume of fronts of one cost (see the module doc)."""

    def __init__(self, table: dict[str, dict[str, float]], cost: str) -> None:
        costs = np.array([v[cost] for v in table.values() if cost in v])
        self.low, self.high = float(costs.min()), float(costs.max())
        self.reference = np.array(HV_REFERENCE.get(cost, (0.9001, self.high)))
        self.front = true_front(table, cost)
        self._igd = IGD(self._scaled(self.front))
        self._hv = HV(ref_point=self.reference)

    def _scaled(self, points: np.ndarray) -> np.ndarray:
        return np.column_stack([points[:, 0], (points[:, 1] - self.low) / (self.high - self.low)])

    def __call__(self, points: np.ndarray) -> dict[str, float]:
        return {
            "igd": float(self._igd(self._scaled(points))),
            "hv": float(self._hv(points)) / float(np.prod(self.reference)),
        }


def front_points(archs: Sequence[str], table: dict[str, dict[str, float]], cost: str) -> np.ndarray:
    """(error, cost) of each cell the table holds the cost of, looked up in the table (cells at chance left out)."""
    rows = [table[a] for a in archs if cost in table[a] and table[a]["error"] < CHANCE_ERROR]
    return np.array([[r["error"], r[cost]] for r in rows]).reshape(-1, 2)


def search_config(args: argparse.Namespace, seed: int, cost: str, out: Path, **values: Any) -> SearchConfig:
    fields = {**FNE_FRONT, **json_fields(args.set, [f.name for f in SearchConfig.__dataclass_fields__.values()])}
    fields.update(values)
    if cost in DEVICES:
        sample = device_sample(args.table, cost, args.device_sample, seed, out.parent / "device")
        fields.update(cost="table", cost_table=str(sample), cost_column="measured")
    else:
        fields["cost"] = cost
    fields.setdefault("space", args.space)
    return SearchConfig(data_dir=args.data_dir, out=str(out), seed=seed, workers=args.workers, **fields)


def run_fne(args: argparse.Namespace, seed: int, cost: str, work: Path, evaluations: int) -> dict[str, Any]:
    result = run_search(search_config(args, seed, cost, work / "fne"), progress=False)
    return {"front": [e["arch"] for e in result["front"]], "evaluations": result["evaluations"]}


def run_random(args: argparse.Namespace, seed: int, cost: str, work: Path, evaluations: int) -> dict[str, Any]:
    config = search_config(args, seed, cost, work / "random", pop_size=evaluations, generations=0)
    result = run_search(config, progress=False)
    return {"front": [e["arch"] for e in result["front"]], "evaluations": result["evaluations"]}


def run_nsga2_tf(args: argparse.Namespace, seed: int, cost: str, work: Path, evaluations: int) -> dict[str, Any]:
    """NSGA-II (pymoo) on (SynFlow, JacCov, cost) over the six edges' ops; the non-dominated evaluated cells."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.pntx import TwoPointCrossover
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    from fne.compute import evaluator_for
    from fne.data import load_dataset

    config = search_config(args, seed, cost, work / "nsga2", proxies=("synflow", "jacov"))
    space = get_space(args.space)
    data = load_dataset(config.data_dir)
    budget = build_budget(config, data, space)
    evaluator = evaluator_for(config)
    scorer = build_scorer(config, data, space, evaluator=evaluator)

    def cells(X: np.ndarray) -> list[str]:
        rows = np.asarray(X).round().astype(int)
        if args.space == "sss":
            return [":".join(str(SSS_WIDTHS[int(v)]) for v in row) for row in rows]
        return ["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*(NB201_OPS[int(v)] for v in row)) for row in rows]

    choices = SSS_WIDTHS if args.space == "sss" else NB201_OPS
    problem = Problem(n_var=5 if args.space == "sss" else 6, n_obj=3, xl=0, xu=len(choices) - 1, vtype=int)
    algorithm = NSGA2(
        pop_size=50,
        sampling=IntegerRandomSampling(),
        crossover=TwoPointCrossover(),
        mutation=PM(eta=3.0, vtype=float, repair=RoundingRepair()),
        eliminate_duplicates=True,
    )
    algorithm.setup(problem, seed=seed)
    archs: list[str] = []
    objectives: list[list[float]] = []
    try:
        while len(archs) < evaluations:  # scored here, so pymoo's own evaluation count stays 0
            pop = algorithm.ask()
            pop = pop[: evaluations - len(archs)]
            batch = cells(pop.get("X"))
            scores = scorer.score_many(batch, progress=False)
            costs = budget.measure(batch)
            axis = budget.axis.name
            F = np.array([[-s["synflow"], -s["jacov"], c[axis]] for s, c in zip(scores, costs, strict=True)])
            F[~np.isfinite(F)] = np.inf
            pop.set("F", F)
            algorithm.tell(infills=pop)
            archs += batch
            objectives += F.tolist()
    finally:
        evaluator.close()
    F = np.array(objectives)
    front = NonDominatedSorting().do(F, only_non_dominated_front=True)
    return {"front": [archs[i] for i in front], "evaluations": len(archs)}


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {"fne": run_fne, "random": run_random, "nsga2 tf": run_nsga2_tf}


def run_seed(args: argparse.Namespace, seed: int, cost: str, table: dict, indicators: Indicators) -> dict[str, Any]:
    results: dict[str, Any] = {}
    evaluations = args.evaluations
    with tempfile.TemporaryDirectory(prefix="bench_front_") as tmp:
        for method in args.methods:
            start = time.perf_counter()
            out = RUNNERS[method](args, seed, cost, Path(tmp) / method.replace(" ", "_"), evaluations)
            seconds = time.perf_counter() - start
            if method == "fne":
                evaluations = out["evaluations"]
            shutil.rmtree(Path(tmp) / method.replace(" ", "_"), ignore_errors=True)
            points = front_points(out["front"], table, cost)
            figures = indicators(points)
            results[method] = {
                **figures,
                "front_size": len(out["front"]),
                "judged": len(points),
                "seconds": seconds,
                **out,
            }
            logger.info(
                "%s seed %d %s: IGD %.4f HV %.4f, %d cells on the front, %d evaluations, %.0f s",
                cost,
                seed,
                method,
                figures["igd"],
                figures["hv"],
                len(out["front"]),
                out["evaluations"],
                seconds,
            )
    return results


def summarise(runs: dict[str, dict[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for cost, by_seed in runs.items():
        methods = list(next(iter(by_seed.values())))
        for method in methods:
            values = {
                k: np.array([by_seed[s][method][k] for s in by_seed], float)
                for k in ("igd", "hv", "front_size", "judged", "evaluations", "seconds")
            }
            rows.append(
                {
                    "cost": cost,
                    "method": method,
                    **{
                        f"{k}_{stat}": float(getattr(np, stat)(v))
                        for k, v in values.items()
                        for stat in ("mean", "std")
                    },
                }
            )
    return rows


def print_table(rows: list[dict[str, Any]], true_hv: dict[str, float]) -> None:
    print(f"{'cost':8} {'method':10} {'IGD':>16} {'HV':>16} {'front':>6} {'judged':>6} {'evals':>6} {'s/seed':>7}")
    for r in rows:
        print(
            f"{r['cost']:8} {r['method']:10} {r['igd_mean']:.4f} ± {r['igd_std']:.4f}  "
            f"{r['hv_mean']:.4f} ± {r['hv_std']:.4f} {r['front_size_mean']:6.1f} {r['judged_mean']:6.1f} "
            f"{r['evaluations_mean']:6.0f} {r['seconds_mean']:7.1f}"
        )
    print("judged: the front's cells the table measures and that are not at chance accuracy, which the indicators see")
    for cost, hv in true_hv.items():
        print(f"true front of {cost}: hypervolume {hv:.4f}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed")
    parser.add_argument("--space", choices=("nb201", "sss"), default="nb201", help="sss: the size space, cost params")
    parser.add_argument("--sss-csv", default=str(ROOT.parent / "shared" / "data" / "nats_sss" / "nats_sss_cifar10.csv"))
    parser.add_argument("--costs", nargs="+", default=["flops", "params"], choices=[*TABLE_COSTS, *DEVICES])
    parser.add_argument(
        "--devices-csv", default=str(ROOT.parent / "shared" / "data" / "nb201" / "nb201_device_costs.csv")
    )
    parser.add_argument("--device-sample", type=int, default=50, help="cells measured on a device for its cost model")
    parser.add_argument("--methods", nargs="+", default=list(SLUGS), choices=list(SLUGS))
    parser.add_argument("--evaluations", type=int, default=600, help="evaluations of the baselines without fne")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--csv", default=str(ROOT.parent / "shared" / "data" / "nb201" / "nb201_cifar10.csv"))
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", help="a search setting of fne")
    parser.add_argument("--out", default=None, help="JSON file of the results")
    parser.add_argument("--rescore", default=None, metavar="JSON", help="recompute a results file's indicators")
    args = parser.parse_args(argv)
    args.methods = [SLUGS[m] for m in args.methods]
    return args


def rescore(path: Path, table: dict[str, dict[str, float]]) -> None:
    """Recompute the indicators of the results file ``path`` from its recorded fronts; rewrite it and print it."""
    document = json.loads(path.read_text(encoding="utf-8"))
    true_hv = {}
    for cost, by_seed in document["runs"].items():
        indicators = Indicators(table, cost)
        true_hv[cost] = indicators(indicators.front)["hv"]
        for runs in by_seed.values():
            for run in runs.values():
                points = front_points(run["front"], table, cost)
                run.update(indicators(points), judged=len(points))
    document["true_hv"], document["summary"] = true_hv, summarise(document["runs"])
    path.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
    print_table(document["summary"], true_hv)


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("fne",):
        logging.getLogger(name).setLevel(logging.WARNING)
    args = parse_args(argv)
    if args.space == "sss":
        table = read_size_table(Path(args.sss_csv))
        args.costs = ["params"]
    else:
        table = read_table(Path(args.csv))
        add_devices(table, Path(args.devices_csv), [c for c in args.costs if c in DEVICES])
    args.table = table
    if args.rescore:
        add_devices(table, Path(args.devices_csv), DEVICES)
        rescore(Path(args.rescore), table)
        return
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    true_hv = {}
    for cost in args.costs:
        indicators = Indicators(table, cost)
        true_hv[cost] = indicators(indicators.front)["hv"]
        logger.info("%s: true front of %d cells, hypervolume %.4f", cost, len(indicators.front), true_hv[cost])
        runs[cost] = {}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs[cost][seed] = run_seed(args, seed, cost, table, indicators)
    rows = summarise(runs)
    print_table(rows, true_hv)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        settings = {k: v for k, v in vars(args).items() if k != "table"}
        document = {"settings": {**settings, "fne": FNE_FRONT}, "true_hv": true_hv, "summary": rows, "runs": runs}
        Path(args.out).write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
