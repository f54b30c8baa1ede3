"""NB201 search benchmark on CIFAR-10 images: fne against baselines with equal evaluations.

For every seed, with the default settings of ``src/NAS_on_cifar10.py``:

* ``fne``: the default search (the training-free ranking leads the evolution and picks; a
  final tournament of its first two cells checks the pick);
* ``fne, no tournament``: the same search with tournaments switched off (the training-free
  ranking alone picks);
* ``previous default``: the search's defaults before the ranking led it
  (:data:`PREVIOUS_DEFAULTS`: parameter count and SynFlow, Pareto
  survival, a final tournament of 8 cells and 75 steps);
* ``fne2021``: fne's original design (``--preset fne2021``: NTK, linear regions and gradient
  correlation, Pareto survival and pick, a tournament every third generation);
* ``random``: as many distinct random cells as ``fne`` evaluated, scored by the same
  proxies, picked by the same ranking rule (``SearchConfig.ranking``);
* ``naswot``: the same random cells, picked by the NASWOT score alone.

Only after every search has finished is each pick's ``c10_test_200ep`` looked up in the
benchmark CSV (``--methods`` runs a subset, e.g. ``--methods fne`` to compare settings).
Prints a table (mean, std, min, max of that accuracy, evaluations and wall
time per seed) and writes everything to ``benchmarks/results/bench_<time>.json``.
Every method scores its cells from scratch (no score cache is shared between methods: a
cache holds one score per canonical cell, from the first equivalent genotype scored, so a
shared cache would make a method's result depend on what ran before it), and every wall
time is the full cost of that method. On a machine shared with other
jobs, ``OMP_NUM_THREADS=1`` avoids slowdowns from oversubscribed threads::

    python benchmarks/bench_search.py --seeds 5 --jobs 2 --data-dir ../shared/data \\
        --csv ../shared/data/nb201/nb201_cifar10.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fne.data import load_dataset
from fne.evolution.fitness import to_objectives
from fne.evolution.ranking import rank_rows
from fne.genotopheno import get_space
from fne.options import json_fields
from fne.search.benchmark_table import lookup_benchmark, read_benchmark
from fne.search.config import SearchConfig
from fne.search.run import build_scorer, run_search

PREVIOUS_DEFAULTS: dict[str, Any] = {
    "proxies": ("params", "synflow"),
    "ranking": "nondominated",
    "ranking_weights": {},
    "rank_scale": "cells",
    "survival": "nsga2",
    "final_tournament_size": 8,
    "final_tournament_steps": 75,
    "build_kwargs": {"C": 8, "N": 1},
}
"""The defaults of the search before the training-free ranking led it (parameter count and
SynFlow, Pareto survival, a final tournament of 8 cells and 75 steps on its scoring network of
one cell a stage), for comparison (``SearchConfig(**PREVIOUS_DEFAULTS)``)."""

METHODS = ("fne", "fne, no tournament", "previous default", "fne2021", "random", "naswot")
SLUGS = {
    "fne": "fne",
    "fne-no-tournament": "fne, no tournament",
    "previous": "previous default",
    "fne2021": "fne2021",
    "random": "random",
    "naswot": "naswot",
}
VARIANTS = (
    ("fne", {}),
    ("fne, no tournament", {"tournament_every": 0, "final_tournament_size": 0}),
    ("previous default", PREVIOUS_DEFAULTS),
    ("fne2021", {"preset": "fne2021"}),
)
"""``--methods`` names of the methods."""


def sample_distinct(space: Any, n: int, seed: int) -> list[Any]:
    """``n`` random cells with distinct canonical forms."""
    rng = np.random.default_rng(10_000 + seed)
    cells, keys = [], set()
    while len(cells) < n:
        g = space.sample(rng)
        key = space.canonical(g)
        if key not in keys:
            keys.add(key)
            cells.append(g)
    return cells


def run_seed(
    seed: int,
    data_dir: str,
    out: Path,
    threads: int = 0,
    overrides: dict[str, Any] | None = None,
    methods: Sequence[str] = METHODS,
    keep_runs: bool = False,
) -> dict[str, dict[str, Any]]:
    """``methods`` for one seed; returns ``{method: {"arch", "evaluations", "wall_time_s"}}``.

    ``threads`` > 0 sets torch's CPU threads first (for seeds run side by side);
    ``overrides`` are :class:`SearchConfig` fields changed from their defaults in every method.
    ``random`` and ``naswot`` get as many cells as the first fne method evaluated. With
    ``keep_runs`` a search whose folder already holds a finished run of the same
    configuration is not run again: its recorded result (and wall time) is used."""
    if threads > 0:
        torch.set_num_threads(threads)
    picks: dict[str, dict[str, Any]] = {}
    for method, changes in VARIANTS:
        if method in methods:
            picks[method] = _search(method, seed, data_dir, out, {**(overrides or {}), **changes}, keep_runs)
    if "random" in methods or "naswot" in methods:
        n = next(p["evaluations"] for p in picks.values())
        baselines = _baselines(seed, data_dir, n, overrides or {})
        picks.update({m: baselines[m] for m in ("random", "naswot") if m in methods})
    return picks


def _search(
    method: str, seed: int, data_dir: str, out: Path, changes: dict[str, Any], keep_runs: bool = False
) -> dict[str, Any]:
    folder = out / f"{method.replace(', ', '_').replace(' ', '_')}_seed{seed}"
    config = SearchConfig(**{**changes, "data_dir": data_dir, "seed": seed, "out": str(folder)})
    result = _finished_run(folder, config) if keep_runs else None
    if result is None:
        if folder.exists():
            shutil.rmtree(folder)
        result = run_search(config, progress=False)
    return {
        "arch": result["best"]["arch"],
        "evaluations": result["evaluations"],
        "wall_time_s": result["wall_time_s"],
        "candidate_steps": candidate_steps(result),
    }


def candidate_steps(result: dict[str, Any]) -> int:
    """Tournament training a search spent: candidates times steps, summed over its tournaments."""
    records = [h["tournament"] for h in result.get("history", []) if h.get("tournament")]
    return int(sum(len(r.get("candidates", [])) * int(r.get("steps", 0)) for r in records))


def _finished_run(folder: Path, config: SearchConfig) -> dict[str, Any] | None:
    """The ``result.json`` of a finished run of ``config`` in ``folder`` (moved or not), else None."""
    try:
        result = json.loads((folder / "result.json").read_text())
    except (OSError, ValueError):
        return None
    recorded = dict(result.get("config") or {}, out=config.out)
    return result if recorded == config.to_dict() else None


def _baselines(seed: int, data_dir: str, n: int, overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``n`` distinct random cells scored once, picked by the fne rule and by NASWOT alone."""
    start = time.perf_counter()
    space = get_space("nb201")
    config = SearchConfig(**dict(overrides, data_dir=data_dir, seed=seed))
    proxies = config.proxies + tuple(p for p in ("naswot",) if p not in config.proxies)
    scorer = build_scorer(dataclasses.replace(config, proxies=proxies), load_dataset(data_dir), space)
    cells = sample_distinct(space, n, seed)
    scores = scorer.score_many(cells, progress=False)
    elapsed = time.perf_counter() - start
    ranking = config.ranking_rule()
    objectives = to_objectives(scores, config.proxies)
    order = rank_rows(ranking, objectives, reference=objectives)
    best = int(order[0])
    naswot = np.nan_to_num(np.array([s["naswot"] for s in scores], dtype=float), nan=-np.inf)
    return {
        "random": {"arch": space.format(cells[best]), "evaluations": n, "wall_time_s": elapsed},
        "naswot": {"arch": space.format(cells[int(np.argmax(naswot))]), "evaluations": n, "wall_time_s": elapsed},
    }


def summarise(runs: dict[int, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per method: accuracy statistics, evaluations and wall time per seed."""
    rows = []
    for method in [m for m in METHODS if m in next(iter(runs.values()))]:
        accs = np.array([runs[s][method]["accuracy"] for s in runs], dtype=float)
        rows.append(
            {
                "method": method,
                "mean": float(np.mean(accs)),
                "std": float(np.std(accs)),
                "min": float(np.min(accs)),
                "max": float(np.max(accs)),
                "evaluations": float(np.mean([runs[s][method]["evaluations"] for s in runs])),
                "wall_time_s": float(np.mean([runs[s][method]["wall_time_s"] for s in runs])),
                "candidate_steps": float(np.mean([runs[s][method].get("candidate_steps", 0) for s in runs])),
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]], seeds: int) -> str:
    """The printed table."""
    lines = [
        f"NB201 CIFAR-10, c10_test_200ep of the picked cell over {seeds} seed(s)",
        f"{'method':<22} {'mean':>7} {'std':>6} {'min':>7} {'max':>7} {'evals':>6} {'s/seed':>8} {'cand-steps':>10}",
    ]
    for r in rows:
        lines.append(
            f"{r['method']:<22} {r['mean']:7.2f} {r['std']:6.2f} {r['min']:7.2f} {r['max']:7.2f} "
            f"{r['evaluations']:6.0f} {r['wall_time_s']:8.1f} {r['candidate_steps']:10.0f}"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    """The command-line options (checked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--csv", default=str(ROOT.parent / "shared" / "data" / "nb201" / "nb201_cifar10.csv"))
    parser.add_argument(
        "--jobs", type=int, default=1, help="seeds run side by side, each in its own process with one torch thread"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON file for the figures (default: benchmarks/results/bench_<time>.json); "
        "the runs go to a folder of the same name without .json",
    )
    parser.add_argument(
        "--methods",
        default=",".join(SLUGS),
        help=f"comma-separated methods to run, of {','.join(SLUGS)} (random and naswot "
        "need one of the other methods, whose evaluation count they match)",
    )
    parser.add_argument(
        "--keep-runs",
        action="store_true",
        help="reuse the finished searches of the same configuration already in the runs "
        "folder (e.g. after an interrupted benchmark), with their recorded wall times; "
        "by default the folder is cleared first",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="change a SearchConfig field in every method, e.g. "
        '--set \'tournament_build_kwargs={"C": 8, "N": 3}\' (repeatable)',
    )
    args = parser.parse_args()
    try:
        args.overrides = parse_overrides(args.set)
    except ValueError as err:
        parser.error(str(err))
    args.methods = parse_methods(args.methods, parser)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if not Path(args.csv).is_file():
        parser.error(f"--csv {args.csv} does not exist")
    return args


def parse_methods(text: str, parser: argparse.ArgumentParser) -> tuple[str, ...]:
    """``--methods`` as method names in table order."""
    slugs = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in slugs if s not in SLUGS]
    if unknown or not slugs:
        parser.error(f"--methods {text!r}: expected a comma-separated list of {', '.join(SLUGS)}")
    if {"random", "naswot"} & set(slugs) and not {"fne", "fne-no-tournament", "previous"} & set(slugs):
        parser.error("--methods: random and naswot need an fne method (for the evaluation count)")
    return tuple(m for slug, m in SLUGS.items() if slug in slugs)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["field=json", ...]`` as a dict of :class:`SearchConfig` fields, checked."""
    names = sorted({f.name for f in dataclasses.fields(SearchConfig)} - {"data_dir", "seed", "out"})
    overrides = json_fields(items, names)
    if "proxies" in overrides:
        overrides["proxies"] = tuple(overrides["proxies"])
    SearchConfig(**overrides).validate()
    return overrides


def run_seeds(
    seeds: list[int],
    data_dir: str,
    out: Path,
    jobs: int,
    overrides: dict[str, Any],
    methods: Sequence[str] = METHODS,
    keep_runs: bool = False,
) -> dict[int, dict[str, dict[str, Any]]]:
    """Every seed, one after the other or ``jobs`` at a time in worker processes."""
    runs: dict[int, dict[str, dict[str, Any]]] = {}
    if jobs == 1:
        for seed in seeds:
            runs[seed] = _report(seed, run_seed(seed, data_dir, out, 0, overrides, methods, keep_runs))
        return runs
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(run_seed, seed, data_dir, out, 1, overrides, methods, keep_runs): seed for seed in seeds}
        for future in as_completed(futures):
            runs[futures[future]] = _report(futures[future], future.result())
    return {seed: runs[seed] for seed in seeds}


def _report(seed: int, picks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    print(f"seed {seed}: " + "; ".join(f"{m}: {p['wall_time_s']:.0f}s" for m, p in picks.items()), flush=True)
    return picks


def look_up(runs: dict[int, dict[str, dict[str, Any]]], csv_path: str) -> None:
    """Add each pick's ``c10_test_200ep`` (read only now, after every search)."""
    table = read_benchmark(Path(csv_path), SearchConfig().benchmark_metric)
    space = get_space("nb201")
    for picks in runs.values():
        for pick in picks.values():
            pick["accuracy"] = lookup_benchmark(table, space, pick["arch"])


def main() -> None:
    """Run every seed, look the picks up, print and save the table."""
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"_seeds{seeds[0]}-{seeds[-1]}"
    path = args.out or ROOT / "benchmarks" / "results" / f"bench_{stamp}.json"
    out = path.with_suffix("")
    if out.exists() and not args.keep_runs:
        shutil.rmtree(out)  # scratch runs of an earlier call with the same --out
    if args.jobs > 1:  # seeds side by side: one worker each, so that they share the cores
        args.overrides.setdefault("workers", 1)
    runs = run_seeds(seeds, args.data_dir, out, args.jobs, args.overrides, args.methods, args.keep_runs)
    look_up(runs, args.csv)
    rows = summarise(runs)
    print(format_table(rows, len(seeds)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "seeds": seeds,
                "jobs": args.jobs,
                "config_overrides": args.overrides,
                "methods": list(args.methods),
                "torch_threads_per_seed": 1 if args.jobs > 1 else torch.get_num_threads(),
                "summary": rows,
                "runs": {str(s): r for s, r in runs.items()},
            },
            indent=2,
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
