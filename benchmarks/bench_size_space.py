"""Training-free ranking of the NATS-Bench size space (``sss``) against its 90-epoch CIFAR-10 accuracy.

Each configuration of ``../shared/data/nats_sss/nats_sss_cifar10.csv`` (32,768 channel
configurations of the best NB201 cell's network) is a cell of the ``sss`` space. Two samples
of the table are drawn:

* ``--n`` configurations at random, for the Spearman of the ranking over the space;
* ``--groups`` groups of configurations that share one parameter count (a group holds every
  configuration with that count; groups of at least ``--group-min`` are drawn), for the
  ranking among networks of equal size: the Spearman within each group, averaged over groups.

The selection sample is drawn with ``--seed``, the report sample with ``--report-seed`` from
the configurations the selection sample does not hold. Both are scored on one seeded batch of
CIFAR-10 training images with the proxies a search of ``sss`` or of NB201 scores
(:func:`fne.evolution.defaults.search_proxies`). Candidates: the default ranking of a search
of ``sss`` (the space's aggregator and weights), NB201's, and each proxy alone. The selection sample picks the candidate
with the best mean of the two Spearmans; the report sample gives every candidate's figures,
the pick's among them (nothing is chosen on it).

Prints both tables and writes them to ``--out`` (JSON). The full run (about 2 x 650 cells)::

    python benchmarks/bench_size_space.py --n 500 --groups 50 --workers 2 \\
        --out report/results/bench_size_space.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scipy.stats import spearmanr

from fne.compute import make_evaluator
from fne.data import dataset_network_kwargs, load_dataset, sample_batch
from fne.evolution.defaults import search_proxies, search_weights, space_defaults
from fne.evolution.fitness import Scorer
from fne.evolution.fitness.aggregate import aggregate
from fne.genotopheno import get_space
from fne.search.benchmark_table import Row, read_rows

SHARED = ROOT.parent / "shared" / "data"
TABLE = SHARED / "nats_sss" / "nats_sss_cifar10.csv"
GENOTYPE, PARAMS, METRIC = "channels", "c10_params", "c10_test_90ep"
DEFAULT = "default ranking"
NB201_RANKING = "NB201 search ranking"
REFERENCE = "params (reference)"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", type=Path, default=TABLE)
    ap.add_argument("--data-dir", type=Path, default=SHARED, help="folder holding cifar10/")
    ap.add_argument("--n", type=int, default=500, help="random configurations per sample")
    ap.add_argument("--groups", type=int, default=50, help="equal-parameter groups per sample")
    ap.add_argument("--group-min", type=int, default=3, help="fewest configurations of a group")
    ap.add_argument("--seed", type=int, default=0, help="seed of the selection sample")
    ap.add_argument("--report-seed", type=int, default=1, help="seed of the report sample")
    ap.add_argument("--batch", type=int, default=64, help="images in the scoring batch")
    ap.add_argument("--batch-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="scoring processes (1: in this process)")
    ap.add_argument("--out", type=Path, default=ROOT / "report" / "results" / "bench_size_space.json")
    return ap.parse_args(argv)


def draw(
    rows: Sequence[Row], taken: set[str], n: int, groups: int, group_min: int, seed: int
) -> tuple[list[Row], list[list[Row]]]:
    """``n`` random rows and ``groups`` equal-parameter groups, none of them in ``taken``."""
    rng = np.random.default_rng(seed)
    free = [r for r in rows if r[GENOTYPE] not in taken]
    by_params: dict[str, list[Row]] = defaultdict(list)
    for r in free:
        by_params[r[PARAMS]].append(r)
    eligible = sorted(k for k, members in by_params.items() if len(members) >= group_min)
    if len(eligible) < groups:
        raise ValueError(f"only {len(eligible)} parameter counts have {group_min} or more free configurations")
    chosen_groups = [by_params[eligible[i]] for i in rng.choice(len(eligible), size=groups, replace=False)]
    in_groups = {r[GENOTYPE] for g in chosen_groups for r in g}
    rest = [r for r in free if r[GENOTYPE] not in in_groups]
    picks = rng.choice(len(rest), size=n, replace=False)
    return [rest[i] for i in picks], chosen_groups


def rankings(scores: Sequence[dict[str, float]], proxies: Sequence[str]) -> dict[str, np.ndarray]:
    """Each candidate's value per cell (higher: ranked better)."""
    out = {}
    for label, space in ((DEFAULT, "sss"), (NB201_RANKING, "nb201")):
        weights = search_weights(space)
        members = list(search_proxies(space))
        out[label] = aggregate(scores, members, space_defaults(space).ranking, [weights[p] for p in members])
    for proxy in proxies:
        out[proxy] = aggregate(scores, [proxy], "mean_rank")
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b)[0])


def evaluate(scorer: Scorer, random_rows: list[Row], groups: list[list[Row]], proxies: Sequence[str]) -> dict[str, Any]:
    """Spearman of each candidate over the random rows, and its mean within the groups."""
    rows = random_rows + [r for g in groups for r in g]
    scores = scorer.score_many([r[GENOTYPE] for r in rows], progress=True)
    truth = np.array([float(r[METRIC]) for r in rows])
    values = rankings(scores, proxies)
    n = len(random_rows)
    bounds = np.cumsum([n] + [len(g) for g in groups])
    result = {}
    for name, value in values.items():
        overall = spearman(value[:n], truth[:n])
        within = [spearman(value[a:b], truth[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        defined = [w for w in within if w is not None]
        result[name] = {
            "spearman": overall,
            "within_equal_params": float(np.mean(defined)) if defined else None,
            "groups_defined": len(defined),
        }
    params = np.array([float(r[PARAMS]) for r in rows])
    result[REFERENCE] = {"spearman": spearman(params[:n], truth[:n]), "within_equal_params": None}
    return {"cells": len(rows), "random": n, "groups": len(groups), "candidates": result}


def merit(entry: dict[str, Any]) -> float:
    values = [v for v in (entry["spearman"], entry["within_equal_params"]) if v is not None]
    return float(np.mean(values)) if values else -np.inf


def print_table(title: str, doc: dict[str, Any], pick: str | None = None) -> None:
    print(f"\n{title} ({doc['random']} random configurations, {doc['groups']} equal-parameter groups)")
    print(f"{'candidate':22s} {'Spearman':>9s} {'within equal params':>20s}")
    for name, e in sorted(doc["candidates"].items(), key=lambda kv: -merit(kv[1])):
        rho = "n/a" if e["spearman"] is None else f"{e['spearman']:.3f}"
        within = "n/a" if e["within_equal_params"] is None else f"{e['within_equal_params']:.3f}"
        print(f"{name:22s} {rho:>9s} {within:>20s}{'   <- picked' if name == pick else ''}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    space = get_space("sss")
    rows = read_rows(args.table, (PARAMS, METRIC))
    for row in rows[:: max(1, len(rows) // 100)]:
        space.parse(row[GENOTYPE])
    data = load_dataset(args.data_dir, "cifar10")
    x, y = sample_batch(data.train, args.batch, torch.Generator().manual_seed(args.batch_seed))
    proxies = list(dict.fromkeys(search_proxies("nb201") + search_proxies("sss")))
    evaluator = make_evaluator("process" if args.workers > 1 else "serial", args.workers)
    try:
        scorer = Scorer(
            space,
            proxies,
            inputs=x,
            targets=y,
            device="cpu",
            seed=args.batch_seed,
            build_kwargs={**space.preset("score"), **dataset_network_kwargs(data)},
            evaluator=evaluator,
        )
        select_random, select_groups = draw(rows, set(), args.n, args.groups, args.group_min, args.seed)
        selection = evaluate(scorer, select_random, select_groups, proxies)
        candidates = {k: v for k, v in selection["candidates"].items() if k != REFERENCE}
        pick = max(candidates, key=lambda k: merit(candidates[k]))
        taken = {r[GENOTYPE] for r in select_random} | {r[GENOTYPE] for g in select_groups for r in g}
        report_random, report_groups = draw(rows, taken, args.n, args.groups, args.group_min, args.report_seed)
        report = evaluate(scorer, report_random, report_groups, proxies)
    finally:
        evaluator.close()
    print_table(f"selection sample (seed {args.seed})", selection, pick)
    print_table(f"report sample (seed {args.report_seed})", report, pick)
    result = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "proxies": proxies,
        "default_ranking": {"ranking": space_defaults("sss").ranking, "weights": search_weights("sss")},
        "picked": pick,
        "selection": selection,
        "report": report,
        "seconds": time.perf_counter() - start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out} ({result['seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
