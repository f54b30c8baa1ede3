"""Training-free ranking of cells: choose the settings on seed-0 cells, report on unseen cells.

Protocol (nothing is ever tuned on the report cells):

* **NB201** (``--space nb201``): the rows of the NB201 table that carry the published
  zero-cost proxies. Selection cells: the seed-0 sample of ``--select-n`` rows. Report
  cells: ``--n`` rows drawn with ``--report-seed`` (1) from the same rows after removing
  every cell of every seed-0 sample the settings were looked at on
  (:data:`SEED0_SAMPLE_SIZES`), isomorphic cells included. A report seed above 1 also
  removes the report samples of every lower seed, so each report sample is new.
* **DARTS** (``--space darts``): the 725 NB301 cells, shuffled with seed 0; the first half
  is the selection half, the second half (minus isomorphs of selection cells) the report.

``--phase select`` scores every candidate proxy (and design variants of the new proxies)
on the selection cells, evaluates every subset of up to ``--max-set`` proxies under every
aggregator, and picks the set, aggregator and weights by :data:`SELECTION_RULE` (the best
odds of meeting the space's targets on a new sample of the report's size; see
``selection_rule.py``), within ``--max-cost`` forward+backward passes per cell. ``--phase report`` scores the report
cells with the library's chosen ranking (the space's ``search_defaults``), the mission
proxies and today's combined ranking, and prints Spearman, Kendall, the mean accuracy of
the 10 cells ranked first, the rank of the truly best cell, the published proxies on the
same cells, and the cost (seconds per cell of the chosen set against one plain
forward+backward of the scoring network on the same batch). ``--phase both`` runs both.
A JSON copy of every figure goes to ``--out``.

    PYTHONPATH=src python benchmarks/bench_proxies.py --space nb201 --workers 2
    PYTHONPATH=src python benchmarks/bench_proxies.py --space darts --workers 2
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import logging
import math
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import kendalltau, rankdata, spearmanr

import all_cells
from bench_front import read_table
from fne.compute import Failed, make_evaluator
from fne.data import load_dataset, sample_batch
from fne.evolution.defaults import space_defaults
from fne.evolution.fitness import DEFAULT_PROXIES, get_proxy, score_genotype
from fne.evolution.fitness import aggregate as agg
from fne.evolution.fitness.feature_correlation import conv_features, min_correlation_eigenvalues
from fne.evolution.fitness.gradient_statistics import layer_log_ratio, split_gradients
from fne.evolution.fitness.network_probes import downsampled, output_depends_on_input
from fne.evolution.fitness.spectra import (
    BLOCK_RESOLUTION,
    block_entropies,
    block_gains,
    expressivity_score,
    progressivity_score,
    trainability_score,
)
from fne.genotopheno import get_space
from fne.search.benchmark_table import ARCH_COLUMN, read_rows, sample_rows
from selection_rule import RULE, Targets, best_odds, odds, preference, resamples

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

COMBINED_PROXIES = ("ntk", "naswot", "grad_corr", "params")
"""The proxies of fne's earlier ``combined`` ranking (the three mission proxies and the
parameter count, equal weights), reported beside the chosen ranking for comparison."""

CANDIDATES = (
    "expressivity",
    "progressivity",
    "trainability",
    "meco",
    "zico",
    "flops",
    "params",
    "naswot",
    "ntk",
    "grad_corr",
    "synflow",
    "linear_regions",
    "fisher_entropy",
    "kernel_depth",
    "shortcut_depth",
)
"""Registered proxies the selection may combine."""

SEED0_SAMPLE_SIZES = (1000, 400, 3000)
"""Sizes of the seed-0 NB201 samples the settings and proxy designs were looked at on;
every cell of each is kept out of the report."""

SELECTION_RULE = RULE

PAST_RANKINGS: dict[str, dict[str, tuple[dict[str, float], str]]] = {
    "nb201": {
        "previous ranking": (
            {"trainability": 1.0, "meco": 1.0, "flops": 1.0, "naswot": 1.0, "grad_corr": 1.0, "linear_regions": 0.5},
            "mean_rank",
        ),
        "searches until 0.6.0": (
            {"expressivity": 0.5, "trainability": 0.5, "meco": 1.0, "flops": 0.5, "naswot": 0.5, "grad_corr": 0.5},
            "mean_rank",
        ),
        "fronts until 0.6.0": (
            {
                "expressivity": 1.0,
                "progressivity": 0.5,
                "trainability": 0.25,
                "meco": 0.5,
                "flops": 0.5,
                "params": 0.25,
                "naswot": 0.5,
                "grad_corr": 1.0,
            },
            "log_rank",
        ),
    }
}
"""Rankings the library used before, per space, reported beside today's: ``{label: ({proxy: weight},
aggregator)}``. NB201's: the ranking before the odds rule (chosen on the same seed-0 cells by the
highest top-1% mean among the sets reaching the Spearman target; ``--phase report`` and ``--phase
all``), and until 0.6.0 the search's, chosen by the odds rule, where ``--phase all``'s ascent
starts, and the fronts', chosen by ``--phase all`` before the path depths were candidates."""

PREVIOUS = "previous ranking"
"""The label of the ranking before the odds rule, the one ``--phase report`` scores beside the chosen."""

ASCENT_START = "searches until 0.6.0"
"""The label of the NB201 ranking ``--phase all``'s weight ascent starts from."""

TOP_K = 10
"""The report's top-k: the mean accuracy of the 10 cells ranked first."""


def top_share(n: int) -> int:
    """Cells in the top 1% of ``n`` (at least :data:`TOP_K`): the selection's top-k."""
    return max(TOP_K, n // 100)


@dataclass(frozen=True)
class SpaceSetup:
    """Where a space's cells and accuracies come from and what its targets are."""

    name: str
    csv: Path
    metric: str
    published: tuple[str, ...]
    spearman_target: float
    top10_target: float | None
    select_n: int

    def targets(self, report_n: int) -> Targets:
        return Targets(self.spearman_target, self.top10_target, TOP_K, report_n)


SETUPS = {
    "nb201": SpaceSetup(
        "nb201",
        SHARED / "nb201" / "nb201_cifar10.csv",
        "c10_test_200ep",
        ("c10_nwot", "c10_jacov", "c10_synflow", "c10_params", "c10_flops"),
        0.91,
        93.8,
        3000,
    ),
    "darts": SpaceSetup(
        "darts",
        SHARED / "nb301" / "nb301_cifar10_725.csv",
        "val_accuracy",
        ("nwot", "jacov", "synflow", "snip", "grad_norm", "params", "flops"),
        0.60,
        None,
        0,
    ),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", choices=sorted(SETUPS), default="nb201")
    ap.add_argument(
        "--phase",
        choices=("select", "report", "both", "cost", "all"),
        default="both",
        help="cost: only time the chosen set against forward+backward, serially, on the "
        "first --cost-cells report cells; all: score every NB201 cell, choose the weights on the "
        "seed-0 sample of all cells and report on every other cell (see all_cells.py)",
    )
    ap.add_argument(
        "--scores",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "nb201_all_cell_scores.jsonl",
        help="with --phase all: the per-cell score file (resumed when present)",
    )
    ap.add_argument("--cost-cells", type=int, default=100, help="cells the cost phase times")
    ap.add_argument(
        "--n", type=int, default=1000, help="report cells (NB201: sample size; DARTS: at most this many of its half)"
    )
    ap.add_argument(
        "--select-n",
        type=int,
        default=None,
        help="seed-0 selection cells (NB201: sample size; DARTS: first cells of the half)",
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the selection sample")
    ap.add_argument("--report-seed", type=int, default=1, help="seed of the report sample")
    ap.add_argument("--data-dir", type=Path, default=SHARED, help="folder holding cifar10/")
    ap.add_argument("--csv", type=Path, default=None, help="benchmark table (default: the space's)")
    ap.add_argument("--batch", type=int, default=64, help="images in the scoring batch")
    ap.add_argument("--batch-seed", type=int, default=0, help="seed of the scoring batch")
    ap.add_argument("--workers", type=int, default=2, help="scoring processes (one torch thread each)")
    ap.add_argument("--max-set", type=int, default=6, help="largest proxy set the selection tries")
    ap.add_argument(
        "--candidates",
        nargs="*",
        default=None,
        help=f"proxies the selection may combine (default: {' '.join(CANDIDATES)})",
    )
    ap.add_argument(
        "--networks",
        nargs="*",
        default=None,
        help="scoring networks the selection compares, as JSON build arguments (default: the space's score preset)",
    )
    ap.add_argument(
        "--no-variants", action="store_true", help="skip the design variants of the new proxies in the selection"
    )
    ap.add_argument(
        "--max-cost", type=float, default=3.0, help="most forward+backward passes per cell a chosen set may cost"
    )
    ap.add_argument(
        "--full-baseline-cells",
        type=int,
        default=20,
        help="report cells on which to time forward+backward of the full-size network",
    )
    ap.add_argument(
        "--selection-from",
        type=Path,
        default=None,
        help="with --phase report: copy the selection figures from this earlier JSON output",
    )
    ap.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="with --phase select: take the per-cell scores of a network from this earlier "
        "selection output when it scored the same cells on the same network",
    )
    ap.add_argument("--out", type=Path, default=None, help="JSON output (default under benchmarks/results)")
    args = ap.parse_args(argv)
    setup = SETUPS[args.space]
    args.csv = args.csv or setup.csv
    args.select_n = args.select_n or setup.select_n
    args.out = args.out or ROOT / "benchmarks" / "results" / f"bench_proxies_{args.space}.json"
    args.candidates = tuple(args.candidates) if args.candidates else CANDIDATES
    preset = get_space(args.space).preset("score")
    args.networks = [json.loads(n) for n in args.networks] if args.networks else [preset]
    return args


# --------------------------------------------------------------------------- cells


def canonical_keys(space_name: str, rows: Sequence[Mapping[str, str]]) -> list[str]:
    space = get_space(space_name)
    return [space.canonical(r["arch_str"]) for r in rows]


def nb201_split(args: argparse.Namespace, setup: SpaceSetup) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Seed-0 selection rows and the report rows drawn from the rest (isomorphs excluded)."""
    rows = read_rows(args.csv, (ARCH_COLUMN, setup.metric) + setup.published, space=get_space("nb201"), flag="--csv")
    select = sample_rows(rows, args.select_n, args.seed)
    seen = set()
    for size in set(SEED0_SAMPLE_SIZES) | {args.select_n}:
        seen.update(canonical_keys("nb201", sample_rows(rows, size, args.seed)))
    rest = [r for r, key in zip(rows, canonical_keys("nb201", rows), strict=False) if key not in seen]
    for earlier in range(1, args.report_seed):  # every earlier report sample stays out too
        seen.update(canonical_keys("nb201", sample_rows(rest, args.n, earlier)))
        rest = [r for r, key in zip(rest, canonical_keys("nb201", rest), strict=False) if key not in seen]
    return select, sample_rows(rest, args.n, args.report_seed)


def darts_split(args: argparse.Namespace, setup: SpaceSetup) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The seed-0 shuffled halves of the NB301 table; report isomorphs of selection cells dropped."""
    rows = read_rows(args.csv, (ARCH_COLUMN, setup.metric), space=get_space("darts"), flag="--csv")
    order = np.random.default_rng(args.seed).permutation(len(rows))
    half = len(rows) // 2
    select = [rows[i] for i in order[:half]]
    seen = set(canonical_keys("darts", select))
    select = select[: args.select_n] if args.select_n else select
    report = [rows[i] for i in order[half:]]
    return select, [r for r, key in zip(report, canonical_keys("darts", report), strict=False) if key not in seen][
        : args.n
    ]


# --------------------------------------------------------------------------- scoring jobs


def _seeded_net(space: Any, text: str, build: dict[str, Any], seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return space.build(space.parse(text), **build)


def forward_backward_seconds(
    space: Any, text: str, build: dict[str, Any], x: torch.Tensor, y: torch.Tensor, seed: int
) -> float:
    """Seconds of one plain forward+backward (cross-entropy) pass, after one warm-up pass."""
    net = _seeded_net(space, text, build, seed)
    torch.nn.functional.cross_entropy(net(x), y).backward()
    start = time.perf_counter()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    return time.perf_counter() - start


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def design_variants(
    space: Any, text: str, build: dict[str, Any], x: torch.Tensor, y: torch.Tensor, seed: int
) -> dict[str, float]:
    """Alternative designs of the new proxies (library functions with other arguments)."""
    net = _seeded_net(space, text, build, seed)
    if not output_depends_on_input(net, x):
        return {}
    out: dict[str, float] = {}
    small = downsampled(x, BLOCK_RESOLUTION)
    for images, tag in ((x, "32px"), (small, f"{BLOCK_RESOLUTION}px")):
        for standardise in (True, False):
            torch.manual_seed(seed)
            ent = block_entropies(net, images, standardise=standardise)
            kind = f"{'corr' if standardise else 'cov'},{tag}"
            out[f"expressivity[{kind},cells]"] = expressivity_score(ent)
            out[f"expressivity[{kind},all]"] = expressivity_score(ent, ("cell", "block"))
            out[f"progressivity[{kind}]"] = progressivity_score(ent)
    for scale in (1.0, 2.0, 3.0, 5.0):
        torch.manual_seed(seed)
        gains = block_gains(net, small, torch.Generator().manual_seed(seed), input_scale=scale)
        out[f"trainability[scale={scale:g},all]"] = trainability_score(gains)
        out[f"trainability[scale={scale:g},cells]"] = trainability_score(gains, ("cell",))
    features = conv_features(net, small[:8])
    per_image = torch.stack([min_correlation_eigenvalues(f) for f in features]).sum(dim=0)
    for images in (1, 4, 8):
        out[f"meco[images={images}]"] = float(per_image[:images].mean())
    grads = split_gradients(net, x, y, 2)
    for reduce in ("mean", "sum"):
        values = [layer_log_ratio(g, reduce) for g in grads]
        out[f"zico[{reduce}]"] = float(sum(v for v in values if math.isfinite(v)))
    return {k: (v if math.isfinite(v) else math.nan) for k, v in out.items()}


def select_job(
    text: str,
    *,
    space_name: str,
    proxies: Sequence[str],
    x: torch.Tensor,
    y: torch.Tensor,
    seed: int,
    build: dict[str, Any],
    variants: bool,
) -> dict[str, Any]:
    """One selection cell: every proxy on its own (timed), the overhead, the variants, f+b."""
    space = get_space(space_name)
    _, overhead = _timed(lambda: score_genotype(space, text, [], x, y, "cpu", seed, build))
    scores, seconds = {}, {}
    for name in proxies:
        value, spent = _timed(lambda name=name: score_genotype(space, text, [name], x, y, "cpu", seed, build))
        scores[name], seconds[name] = value[name], max(0.0, spent - overhead)
    found = design_variants(space, text, build, x, y, seed) if variants else {}
    return {
        "scores": scores,
        "seconds": seconds,
        "overhead": overhead,
        "variants": found,
        "fb": forward_backward_seconds(space, text, build, x, y, seed),
    }


def report_job(
    text: str,
    *,
    space_name: str,
    chosen: Sequence[str],
    others: Sequence[str],
    x: torch.Tensor,
    y: torch.Tensor,
    seed: int,
    build: dict[str, Any],
) -> dict[str, Any]:
    """One report cell: the chosen set (timed as one call), the mission set (timed), the rest, f+b."""
    space = get_space(space_name)
    scores, chosen_s = _timed(lambda: score_genotype(space, text, chosen, x, y, "cpu", seed, build))
    mission, mission_s = _timed(lambda: score_genotype(space, text, DEFAULT_PROXIES, x, y, "cpu", seed, build))
    rest = [p for p in others if p not in scores and p not in mission]
    extra = score_genotype(space, text, rest, x, y, "cpu", seed, build) if rest else {}
    return {
        "scores": {**mission, **extra, **scores},
        "chosen_seconds": chosen_s,
        "mission_seconds": mission_s,
        "fb": forward_backward_seconds(space, text, build, x, y, seed),
    }


def run_jobs(
    job: Callable[..., dict[str, Any]], texts: Sequence[str], workers: int, desc: str, **kwargs: Any
) -> list[dict[str, Any]]:
    evaluator = make_evaluator("process" if workers > 1 else "serial", workers=workers)
    try:
        results = evaluator.map(functools.partial(job, **kwargs), list(texts), desc=desc)
    finally:
        evaluator.close()
    failed = [t for t, r in zip(texts, results, strict=False) if isinstance(r, Failed)]
    if failed:
        raise RuntimeError(f"{len(failed)} cells failed to score, e.g. {failed[0]}: {results[0]}")
    return results


# --------------------------------------------------------------------------- figures


def figures(values: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Spearman, Kendall, mean truth of the TOP_K and of the top 1% ranked first, rank of the truly
    best (1 = first)."""
    failed = int((~np.isfinite(np.asarray(values, dtype=float))).sum())
    values = all_cells.filled(values)
    order = np.lexsort((np.arange(len(values)), -values))
    best = int(np.argmax(truth))
    return {
        "spearman": float(spearmanr(values, truth)[0]),
        "kendall": float(kendalltau(values, truth)[0]),
        f"top{TOP_K}_mean": float(truth[order[:TOP_K]].mean()),
        "top1pct_mean": float(truth[order[: top_share(len(truth))]].mean()),
        "best_position": int(np.flatnonzero(order == best)[0]) + 1,
        "failed": failed,
    }


def oriented(scores: Sequence[Mapping[str, float]], name: str) -> np.ndarray:
    """Values of a registered proxy, higher meaning predicted better (NaN kept)."""
    sign = 1.0 if get_proxy(name).higher_is_better else -1.0
    return sign * np.array([s[name] for s in scores], dtype=float)


def truth_column(rows: Sequence[Mapping[str, str]], metric: str) -> np.ndarray:
    return np.array([float(r[metric]) for r in rows])


def published_figures(rows: Sequence[Mapping[str, str]], names: Sequence[str], truth: np.ndarray) -> dict[str, Any]:
    out = {}
    for name in names:
        if name in rows[0]:
            column = np.array([float(r[name]) if r[name].strip() else math.nan for r in rows])
            out[name] = figures(column, truth)
    return out


# --------------------------------------------------------------------------- selection


def rank_columns(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per column, ranks 1 = best (higher value), ties averaged, NaN last."""
    return {k: rankdata(-all_cells.filled(v)) for k, v in table.items()}


def set_cost(results: Sequence[dict[str, Any]], names: Sequence[str]) -> float:
    """Median over cells of (overhead + the set's proxy seconds) / forward+backward."""
    return float(np.median([(r["overhead"] + sum(r["seconds"][n] for n in names)) / r["fb"] for r in results]))


def evaluate_sets(
    ranks: dict[str, np.ndarray],
    truth: np.ndarray,
    results: Sequence[dict[str, Any]],
    names: Sequence[str],
    max_set: int,
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Figures of every subset of ``names`` (1..max_set) under every aggregator, equal weights,
    and each one's ranking of the cells."""
    rows, rankings = [], []
    for size in range(1, max_set + 1):
        for subset in itertools.combinations(names, size):
            matrix = np.column_stack([ranks[n] for n in subset])
            cost = set_cost(results, subset)
            for method in agg.list_aggregators():
                if size == 1 and method != "mean_rank":
                    continue
                values = agg.get_aggregator(method)(matrix, np.ones(size))
                rows.append(
                    {
                        "proxies": list(subset),
                        "aggregator": method,
                        "weights": [1.0] * size,
                        "cost": cost,
                        **figures(values, truth),
                    }
                )
                rankings.append(values)
    return rows, rankings


def pick(
    rows: Sequence[dict[str, Any]], rankings: Sequence[np.ndarray], truth: np.ndarray, targets: Targets, max_cost: float
) -> dict[str, Any]:
    """The row :data:`SELECTION_RULE` picks, with its ``odds``."""
    affordable = [i for i, r in enumerate(rows) if r["cost"] <= max_cost]
    draws = resamples(len(truth), targets)
    return best_odds([rows[i] for i in affordable], [rankings[i] for i in affordable], truth, targets, draws)


def weight_sweep(
    ranks: dict[str, np.ndarray], truth: np.ndarray, base: dict[str, Any], grid: Sequence[float] = (0.5, 1.0, 2.0)
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """The chosen set and aggregator under every combination of per-proxy weights in ``grid``,
    and each one's ranking of the cells."""
    matrix = np.column_stack([ranks[n] for n in base["proxies"]])
    fn = agg.get_aggregator(base["aggregator"])
    out, rankings = [], []
    for weights in itertools.product(grid, repeat=len(base["proxies"])):
        if max(weights) != 1.0:
            continue  # a common factor does not change the ranking
        values = fn(matrix, np.array(weights))
        out.append({**base, "weights": list(weights), **figures(values, truth)})
        rankings.append(values)
    return out, rankings


def variant_swaps(ranks: dict[str, np.ndarray], truth: np.ndarray, chosen: dict[str, Any]) -> list[dict[str, Any]]:
    """The chosen ranking with one member replaced by each of its design variants."""
    fn = agg.get_aggregator(chosen["aggregator"])
    out = []
    for i, name in enumerate(chosen["proxies"]):
        for variant in (k for k in ranks if k.startswith(name + "[")):
            members = list(chosen["proxies"])
            members[i] = variant
            matrix = np.column_stack([ranks[m] for m in members])
            out.append({"replaced": name, "by": variant, **figures(fn(matrix, np.array(chosen["weights"])), truth)})
    return out


def reused_results(
    path: Path | None, texts: Sequence[str], build: dict[str, Any], candidates: Sequence[str]
) -> list[dict[str, Any]] | None:
    """The per-cell selection results of ``build`` saved in ``path`` for exactly ``texts``, else None."""
    if path is None:
        return None
    for net in json.loads(path.read_text()).get("selection", {}).get("networks", []):
        cells = net.get("cells") or []
        if (
            net.get("build_kwargs") == build
            and [c["arch_str"] for c in cells] == list(texts)
            and all(set(candidates) <= set(c["scores"]) for c in cells)
        ):
            return [{k: v for k, v in c.items() if k != "arch_str"} for c in cells]
    return None


def _stored(results: Sequence[dict[str, Any]], texts: Sequence[str]) -> list[dict[str, Any]]:
    """Per-cell results as JSON (non-finite values as None), so that a selection can be redone."""

    def clean(values: Mapping[str, float]) -> dict[str, float | None]:
        return {k: (float(v) if v is not None and math.isfinite(v) else None) for k, v in values.items()}

    return [
        {
            "arch_str": t,
            "scores": clean(r["scores"]),
            "seconds": r["seconds"],
            "overhead": r["overhead"],
            "variants": clean(r["variants"]),
            "fb": r["fb"],
        }
        for t, r in zip(texts, results, strict=False)
    ]


def _restored(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def nan(values: Mapping[str, float | None]) -> dict[str, float]:
        return {k: (math.nan if v is None else float(v)) for k, v in values.items()}

    return [{**r, "scores": nan(r["scores"]), "variants": nan(r["variants"])} for r in results]


def library_ranking_odds(
    setup: SpaceSetup, ranks: dict[str, np.ndarray], truth: np.ndarray, targets: Targets
) -> dict[str, Any] | None:
    """Figures and odds of the library's ranking at the time of the run, when its proxies were scored."""
    proxies, method = library_choice(setup.name)
    if not set(proxies) <= set(ranks):
        return None
    named = library_weights(setup.name) or {}
    weights = np.array([named.get(p, 1.0) for p in proxies])
    values = agg.get_aggregator(method)(np.column_stack([ranks[p] for p in proxies]), weights)
    return {
        "proxies": list(proxies),
        "aggregator": method,
        "weights": weights.tolist(),
        **figures(values, truth),
        "odds": odds(values, truth, targets, resamples(len(truth), targets)),
    }


def select_on_network(
    args: argparse.Namespace,
    setup: SpaceSetup,
    rows: list[dict[str, str]],
    x: torch.Tensor,
    y: torch.Tensor,
    build: dict[str, Any],
) -> dict[str, Any]:
    """Score the selection cells on one network and choose the ranking; figures on these cells."""
    texts = [r["arch_str"] for r in rows]
    results = reused_results(args.reuse, texts, build, args.candidates)
    if results is None:
        results = run_jobs(
            select_job,
            texts,
            args.workers,
            f"select {build}",
            space_name=setup.name,
            proxies=args.candidates,
            x=x,
            y=y,
            seed=0,
            build=build,
            variants=not args.no_variants,
        )
    else:
        results = _restored(results)
    truth = truth_column(rows, setup.metric)
    table = {n: oriented([r["scores"] for r in results], n) for n in args.candidates}
    variant_names = sorted({k for r in results for k in r["variants"]})
    variants = {k: np.array([r["variants"].get(k, math.nan) for r in results]) for k in variant_names}
    ranks = rank_columns({**table, **variants})
    sets, rankings = evaluate_sets(ranks, truth, results, args.candidates, args.max_set)
    targets = setup.targets(args.report_n)
    chosen = pick(sets, rankings, truth, targets, args.max_cost)
    weighted = pick(*weight_sweep(ranks, truth, chosen), truth, targets, args.max_cost)
    return {
        "build_kwargs": build,
        "proxies": {n: {**figures(table[n], truth), "cost": set_cost(results, [n])} for n in args.candidates},
        "variants": {k: figures(v, truth) for k, v in variants.items()},
        "best_by_spearman": sorted(sets, key=lambda r: -r["spearman"])[:20],
        "chosen_equal_weights": chosen,
        "chosen": {**weighted, "build_kwargs": build},
        "library_ranking": library_ranking_odds(setup, ranks, truth, targets),
        "variant_swaps": variant_swaps(ranks, truth, weighted),
        "forward_backward_seconds_median": float(np.median([r["fb"] for r in results])),
        "cells": _stored(results, texts),
    }


def selection(
    args: argparse.Namespace, setup: SpaceSetup, rows: list[dict[str, str]], x: torch.Tensor, y: torch.Tensor
) -> dict[str, Any]:
    """The selection on every network of ``--networks``, and the overall choice."""
    per_network = [select_on_network(args, setup, rows, x, y, build) for build in args.networks]
    chosen = max((n["chosen"] for n in per_network), key=preference)
    truth = truth_column(rows, setup.metric)
    return {
        "cells": len(rows),
        "rule": SELECTION_RULE,
        "spearman_target": setup.spearman_target,
        "max_cost": args.max_cost,
        "candidates": list(args.candidates),
        "networks": per_network,
        "chosen": chosen,
        "published": published_figures(rows, setup.published, truth),
    }


# --------------------------------------------------------------------------- report


def library_choice(space_name: str) -> tuple[tuple[str, ...], str]:
    chosen = space_defaults(space_name)
    return tuple(chosen.proxies), chosen.ranking


def library_weights(space_name: str) -> dict[str, float] | None:
    return dict(space_defaults(space_name).weights)


def library_build(space_name: str) -> dict[str, Any]:
    """The network the library's ranking scores on: the space's ``score`` preset."""
    return get_space(space_name).preset("score")


def report(
    args: argparse.Namespace, setup: SpaceSetup, rows: list[dict[str, str]], x: torch.Tensor, y: torch.Tensor
) -> dict[str, Any]:
    """Score the report cells with the library's chosen ranking and gather every figure."""
    proxies, method = library_choice(setup.name)
    build = library_build(setup.name)
    weights = library_weights(setup.name)
    others = sorted((set(CANDIDATES) | set(COMBINED_PROXIES) | set(DEFAULT_PROXIES)) - set(proxies))
    results = run_jobs(
        report_job,
        [r["arch_str"] for r in rows],
        args.workers,
        "report",
        space_name=setup.name,
        chosen=proxies,
        others=others,
        x=x,
        y=y,
        seed=0,
        build=build,
    )
    truth = truth_column(rows, setup.metric)
    scores = [r["scores"] for r in results]
    names = list(dict.fromkeys(list(proxies) + others))
    rankings = {f"chosen ({method}{', weighted' if weights else ''})": agg.aggregate(scores, proxies, method, weights)}
    for other in agg.list_aggregators():
        rankings[f"chosen set, {other}, equal weights"] = agg.aggregate(scores, proxies, other)
    rankings["today's combined (" + "+".join(COMBINED_PROXIES) + ", mean_rank)"] = agg.aggregate(
        scores, COMBINED_PROXIES, "mean_rank"
    )
    rankings["mission only (" + "+".join(DEFAULT_PROXIES) + ", mean_rank)"] = agg.aggregate(
        scores, DEFAULT_PROXIES, "mean_rank"
    )
    if PREVIOUS in PAST_RANKINGS.get(setup.name, {}):
        weights_before, method_before = PAST_RANKINGS[setup.name][PREVIOUS]
        members = tuple(weights_before)
        rankings[f"{PREVIOUS} ({'+'.join(members)}, {method_before})"] = agg.aggregate(
            scores, members, method_before, weights_before
        )
    ratios = [r["chosen_seconds"] / r["fb"] for r in results]
    full_fb = [
        forward_backward_seconds(get_space(setup.name), r["arch_str"], {}, x, y, 0)
        for r in rows[: args.full_baseline_cells]
    ]
    return {
        "cells": len(rows),
        "ranking": {"proxies": list(proxies), "aggregator": method, "weights": weights, "build_kwargs": build},
        "proxies": {n: figures(oriented(scores, n), truth) for n in names},
        "rankings": {k: figures(v, truth) for k, v in rankings.items()},
        "published": published_figures(rows, setup.published, truth),
        "cost": {
            "chosen_seconds_median": statistics.median(r["chosen_seconds"] for r in results),
            "forward_backward_seconds_median": statistics.median(r["fb"] for r in results),
            "ratio_median": statistics.median(ratios),
            "ratio_mean": statistics.fmean(ratios),
            "mission_seconds_median": statistics.median(r["mission_seconds"] for r in results),
            "mission_ratio_median": statistics.median(r["mission_seconds"] / r["fb"] for r in results),
            "full_network_forward_backward_median": statistics.median(full_fb) if full_fb else None,
        },
        "cell_scores": [
            {
                "arch_str": r["arch_str"],
                setup.metric: float(r[setup.metric]),
                **{p: (v if math.isfinite(v) else None) for p, v in s.items()},
            }
            for r, s in zip(rows, scores, strict=False)
        ],
    }


def cost_only(
    args: argparse.Namespace, setup: SpaceSetup, rows: list[dict[str, str]], x: torch.Tensor, y: torch.Tensor
) -> dict[str, Any]:
    """Seconds of the chosen set and of one forward+backward, cell by cell in this process."""
    proxies, _ = library_choice(setup.name)
    build = library_build(setup.name)
    space = get_space(setup.name)
    load_before = os.getloadavg()
    chosen, fb = [], []
    for row in rows[: args.cost_cells]:
        text = row["arch_str"]
        chosen.append(_timed(lambda text=text: score_genotype(space, text, proxies, x, y, "cpu", 0, build))[1])
        fb.append(forward_backward_seconds(space, text, build, x, y, 0))
    ratios = [c / f for c, f in zip(chosen, fb, strict=False)]
    return {
        "cells": len(chosen),
        "build_kwargs": build,
        "proxies": list(proxies),
        "chosen_seconds_median": statistics.median(chosen),
        "forward_backward_seconds_median": statistics.median(fb),
        "ratio_median": statistics.median(ratios),
        "ratio_mean": statistics.fmean(ratios),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    }


def legacy_keys(result: dict[str, Any], setup: SpaceSetup) -> dict[str, Any]:
    """The keys ``report/make_report.py`` reads, from the report figures."""
    rep = result["report"]
    combined = rep["rankings"]["today's combined (" + "+".join(COMBINED_PROXIES) + ", mean_rank)"]
    mission = rep["rankings"]["mission only (" + "+".join(DEFAULT_PROXIES) + ", mean_rank)"]
    cost = rep["cost"]
    return {
        "proxies": {**rep["proxies"], "combined": combined},
        "combined_mission_only": mission,
        "published": rep["published"],
        "cells": rep["cell_scores"],
        "speed": {
            "mission_seconds_median": cost["mission_seconds_median"],
            "mission_seconds_mean": None,
            "ratio_to_forward_backward_median": cost["mission_ratio_median"],
            "full_network_forward_backward_median": cost["full_network_forward_backward_median"],
            "peak_gpu_mib": None,
            "peak_rss_mib_while_scoring": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        },
    }


# --------------------------------------------------------------------------- output


def _line(label: str, f: Mapping[str, Any], width: int = 64) -> str:
    return (
        f"{label[:width]:<{width}}{f['spearman']:>9.3f}{f['kendall']:>9.3f}"
        f"{f[f'top{TOP_K}_mean']:>9.2f}{f.get('top1pct_mean', math.nan):>9.2f}{f['best_position']:>7d}"
    )


def _header(title: str, width: int = 64) -> None:
    print(f"\n{title}\n{'':<{width}}{'spearman':>9}{'kendall':>9}{'top10':>9}{'top1%':>9}{'best@':>7}")


def print_selection(sel: dict[str, Any]) -> None:
    for net in sel["networks"]:
        _header(
            f"SELECTION (seed 0, {sel['cells']} cells), network {net['build_kwargs']}: "
            "single proxies (cost in forward+backward passes)"
        )
        for name, f in net["proxies"].items():
            print(_line(f"{name} (cost {f['cost']:.2f})", f))
        if net["variants"]:
            _header("design variants of the new proxies")
            for name, f in net["variants"].items():
                print(_line(name, f))
        _header("best sets by Spearman")
        for r in net["best_by_spearman"][:10]:
            print(_line(f"{'+'.join(r['proxies'])} [{r['aggregator']}] cost {r['cost']:.2f}", r))
        for key in ("chosen_equal_weights", "chosen", "library_ranking"):
            r = net.get(key)
            if r:
                print(
                    _line(
                        f"{key}: {'+'.join(r['proxies'])} [{r['aggregator']}] w={r['weights']} odds {r['odds']:.2f}", r
                    )
                )
    r = sel["chosen"]
    print(
        _line(
            f"CHOSEN: {'+'.join(r['proxies'])} [{r['aggregator']}] w={r['weights']} "
            f"{r['build_kwargs']} odds {r['odds']:.2f}",
            r,
        )
    )
    for name, f in sel["published"].items():
        print(_line(f"published {name}", f))


def print_report(rep: dict[str, Any]) -> None:
    _header(f"REPORT ({rep['cells']} unseen cells): proxies")
    for name, f in rep["proxies"].items():
        print(_line(name, f))
    _header("rankings")
    for name, f in rep["rankings"].items():
        print(_line(name, f))
    _header("published proxies on the same cells")
    for name, f in rep["published"].items():
        print(_line(name, f))
    c = rep["cost"]
    print(f"\nscoring network {rep['ranking']['build_kwargs']}")
    print(
        f"chosen set per cell: median {c['chosen_seconds_median']:.3f} s; one forward+backward: "
        f"median {c['forward_backward_seconds_median']:.3f} s; ratio median {c['ratio_median']:.2f}x "
        f"(mean {c['ratio_mean']:.2f}x)"
    )
    print(
        f"mission proxies (ntk+naswot+grad_corr) per cell: median {c['mission_seconds_median']:.3f} s, "
        f"ratio median {c['mission_ratio_median']:.2f}x"
    )


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "space": args.space,
        "phase": args.phase,
        "select_seed": args.seed,
        "report_seed": args.report_seed,
        "select_n": args.select_n,
        "n": args.n,
        "seed0_sample_sizes_excluded": list(SEED0_SAMPLE_SIZES),
        "batch": args.batch,
        "batch_seed": args.batch_seed,
        "build_kwargs": library_build(args.space),
        "networks_compared": args.networks,
        "workers": args.workers,
        "threads_per_worker": 1,
        "device": "cpu",
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "combined": list(COMBINED_PROXIES),
        "max_cost": args.max_cost,
    }


ALL_CELL_PROXIES = tuple(p for p in CANDIDATES if p != "zico") + ("jacov",)
"""Proxies scored on every NB201 cell by ``--phase all`` (the selection may weigh each): the
candidates but ZiCo (which ranked cells of one FLOPs level at 0.00 on the seed-0 sample), and JacCov."""


def all_phase(args: argparse.Namespace, setup: SpaceSetup, x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """Score every NB201 cell, choose weights on the seed-0 sample, report on every other cell."""
    rows = read_rows(args.csv, (ARCH_COLUMN, setup.metric), space=get_space("nb201"), flag="--csv")
    build = library_build("nb201")
    scores = all_cells.score_every_cell(
        [r["arch_str"] for r in rows], ALL_CELL_PROXIES, x, y, build, args.workers, args.scores
    )
    select, _ = all_cells.split_rows(rows, args.select_n, args.seed)
    timed = [r["arch_str"] for r in select[: args.cost_cells]]
    times = [
        select_job(t, space_name="nb201", proxies=ALL_CELL_PROXIES, x=x, y=y, seed=0, build=build, variants=False)
        for t in timed
    ]
    library = space_defaults("nb201")
    rankings = {
        f"search_defaults ({'+'.join(library.proxies)}, {library.ranking})": (
            dict(library.weights) | {p: 1.0 for p in library.proxies if p not in library.weights},
            library.ranking,
        )
    }
    for label, (w, m) in PAST_RANKINGS["nb201"].items():
        rankings[f"{label} ({'+'.join(w)})" if label == PREVIOUS else f"{label} ({'+'.join(w)}, {m})"] = (w, m)
    rankings["combined (" + "+".join(COMBINED_PROXIES) + ")"] = (dict.fromkeys(COMBINED_PROXIES, 1.0), "mean_rank")
    rankings["mission only (" + "+".join(DEFAULT_PROXIES) + ")"] = (dict.fromkeys(DEFAULT_PROXIES, 1.0), "mean_rank")
    result = all_cells.all_cell_phase(
        rows,
        read_table(args.csv),
        scores,
        rankings,
        metric=setup.metric,
        select_n=args.select_n,
        seed=args.seed,
        start=PAST_RANKINGS["nb201"][ASCENT_START][0],
        candidates=ALL_CELL_PROXIES,
        cost=lambda names: set_cost(times, names),
        max_cost=args.max_cost,
    )
    per_proxy = {p: set_cost(times, [p]) for p in ALL_CELL_PROXIES}
    return {
        "build_kwargs": build,
        "scored_cells": len(scores),
        "cost_cells": len(times),
        "proxy_cost": per_proxy,
        **result,
    }


def print_all(result: dict[str, Any]) -> None:
    keys = ("spearman", "kendall", "within_level_spearman", "level_regret", "worst_level_regret")
    keys += ("enumeration_igd", "enumeration_hv")
    print(
        f"\nALL CELLS: weights chosen on {result['selection_cells']} seed-0 cells, figures on the other "
        f"{result['report_cells']} (enumeration front: every cell; true front HV {result['true_front_hv']:.4f})"
    )
    chosen = result["chosen"]
    print(
        f"chosen: {chosen['aggregator']}, weights {chosen['weights']}, {chosen['cost']:.2f} forward+backward "
        f"passes per cell (median over {result['cost_cells']} cells timed serially)"
    )
    print(f"{'':<60}" + "".join(f"{k[:11]:>12}" for k in keys))
    for label, figs in list(result["rankings"].items()) + list(result["proxies"].items()):
        print(f"{label[:60]:<60}" + "".join(f"{figs[k]:>12.4f}" for k in keys))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    torch.set_num_threads(1)
    setup = SETUPS[args.space]
    if args.phase == "all":
        if setup.name != "nb201":
            raise SystemExit("--phase all is for --space nb201")
        data = load_dataset(args.data_dir, "cifar10")
        x, y = sample_batch(data.train, args.batch, torch.Generator().manual_seed(args.batch_seed))
        result = {"settings": settings(args), "all_cells": all_phase(args, setup, x, y)}
        print_all(result["all_cells"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"\nwrote {args.out}")
        return result
    select_rows, report_rows = (darts_split if setup.name == "darts" else nb201_split)(args, setup)
    args.report_n = len(report_rows)  # the sample size the selection's odds are for
    data = load_dataset(args.data_dir, "cifar10")
    x, y = sample_batch(data.train, args.batch, torch.Generator().manual_seed(args.batch_seed))
    result: dict[str, Any] = {"settings": settings(args)}
    if args.phase in ("select", "both"):
        result["selection"] = selection(args, setup, select_rows, x, y)
        print_selection(result["selection"])
    elif args.phase == "cost":
        result["cost"] = cost_only(args, setup, report_rows, x, y)
        c = result["cost"]
        print(
            f"chosen set {c['chosen_seconds_median']:.3f} s, forward+backward "
            f"{c['forward_backward_seconds_median']:.3f} s per cell (medians over {c['cells']} cells); "
            f"ratio median {c['ratio_median']:.2f}x, mean {c['ratio_mean']:.2f}x; load average "
            f"{c['load_average_before'][0]:.2f} -> {c['load_average_after'][0]:.2f}"
        )
    if args.phase in ("report", "cost") and args.selection_from is not None:
        earlier = json.loads(args.selection_from.read_text())
        result["selection"] = earlier["selection"]
        result["settings"]["selection_settings"] = earlier["settings"]
    if args.phase in ("report", "both"):
        load_before = os.getloadavg()
        result["report"] = report(args, setup, report_rows, x, y)
        result["report"]["cost"]["load_average_before_after"] = [load_before[0], os.getloadavg()[0]]
        result.update(legacy_keys(result, setup))
        print_report(result["report"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
