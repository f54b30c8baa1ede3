"""Score sampled cells of a benchmark table with training-free proxies and plot them.

    python src/plot_scores.py --space nb201 --ground-truth ../shared/data/nb201/nb201_cifar10.csv \
        --metric c10_test_200ep --n 200 --seed 0 --data-dir ../shared/data --out out/scores

Samples ``--n`` rows (with ``--seed``) of a CSV that has an ``arch_str`` column and the
``--metric`` column, scores their cells on one seeded batch of CIFAR-10 training images,
and writes to ``--out``:

* ``scores.csv``: ``arch_str``, one column per proxy, the metric;
* ``correlations.json``: ``{proxy: {"spearman", "kendall", "failed"}}`` plus ``combined``,
  the equal-weight rank aggregation of the ``--combine`` proxies (nothing fitted to the metric);
* ``timing.json``: cells scored, seconds, cells per second, device and backend;
* ``<proxy>.png`` per proxy (score against the metric, rho and tau in the title) and
  ``ntk_vs_grad_corr.png`` (the two proxies against each other, coloured by the metric).

Only this script and the benchmark read ground truth; the scorer never does.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from fne.evolution.dataset import load_cifar10, sample_batch
from fne.evolution.evaluator import add_evaluator_args, evaluator_for
from fne.evolution.fitness import (COMBINED_PROXIES, DEFAULT_PROXIES, Scorer, list_proxies,
                                   proxy_build_kwargs, resolve_device)
from fne.evolution.fitness.groundtruth import column, correlation_report, read_rows, sample_rows
from fne.evolution.fitness.plots import scatter_png
from fne.genotopheno import list_spaces

logger = logging.getLogger("plot_scores")


def build_arg(text: str) -> tuple:
    """Parse ``KEY=VALUE`` (VALUE as int, float or text) for ``--build-arg``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, value


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line (``argv``, or ``sys.argv`` when None)."""
    ap = argparse.ArgumentParser(description="Score benchmark cells with training-free proxies.")
    ap.add_argument("--space", default="nb201", choices=list_spaces())
    ap.add_argument("--ground-truth", type=Path, required=True, help="CSV with arch_str and --metric")
    ap.add_argument("--metric", required=True, help="ground-truth column, e.g. c10_test_200ep")
    ap.add_argument("--n", type=int, default=200, help="rows to sample")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample, batch and proxies")
    ap.add_argument("--data-dir", type=Path, required=True, help="folder holding CIFAR-10")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--proxies", nargs="+", default=list(DEFAULT_PROXIES), choices=list_proxies())
    ap.add_argument("--combine", nargs="+", default=list(COMBINED_PROXIES), choices=list_proxies(),
                    help="proxies of the combined ranking (scored too)")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--batch", type=int, default=64, help="images in the scoring batch")
    ap.add_argument("--build-arg", type=build_arg, action="append", default=None, metavar="KEY=VALUE",
                    help="proxy network build argument (repeatable; default: the library's)")
    ap.add_argument("--cache", type=Path, default=None, help="JSON score cache file")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    add_evaluator_args(ap)
    return ap.parse_args(argv)


def score_rows(args: argparse.Namespace, rows: List[Dict[str, str]],
               proxies: List[str]) -> List[Dict[str, float]]:
    """Scores of the rows' cells on a seeded CIFAR-10 training batch."""
    data = load_cifar10(args.data_dir)
    x, y = sample_batch(data.train, args.batch, torch.Generator().manual_seed(args.seed))
    build = dict(args.build_arg) if args.build_arg else proxy_build_kwargs(args.space)
    evaluator = evaluator_for(args.backend, args.workers, args.ray_address)
    try:
        scorer = Scorer(args.space, proxies, inputs=x, targets=y, device=args.device, seed=args.seed,
                        cache_file=args.cache, build_kwargs=build, evaluator=evaluator)
        return scorer.score_many([r["arch_str"] for r in rows], progress=True)
    finally:
        if evaluator is not None:
            evaluator.close()


def write_scores_csv(path: Path, rows: List[Dict[str, str]], scores: List[Dict[str, float]],
                     proxies: List[str], metric: str) -> None:
    """``arch_str``, one column per proxy (empty when failed), the metric."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str"] + proxies + [metric])
        for row, score in zip(rows, scores):
            values = ["" if not math.isfinite(score[p]) else repr(score[p]) for p in proxies]
            writer.writerow([row["arch_str"]] + values + [row[metric]])


def write_plots(out: Path, scores: List[Dict[str, float]], proxies: List[str], truth: np.ndarray,
                report: Dict[str, Dict[str, float]], metric: str) -> List[Path]:
    """One scatter plot per proxy against the metric, and NTK against grad_corr."""
    paths = []
    for name in proxies:
        values = np.array([s[name] for s in scores], dtype=float)
        entry = report[name]
        title = (f"{name}: rho={entry['spearman']:.3f} tau={entry['kendall']:.3f} "
                 f"(n={len(scores)}, failed={entry['failed']})")
        paths.append(scatter_png(out / f"{name}.png", values, truth, title=title, xlabel=name,
                                 ylabel=metric, log_x=name == "ntk"))
    if "ntk" in proxies and "grad_corr" in proxies:
        ntk = np.array([s["ntk"] for s in scores], dtype=float)
        gc = np.array([s["grad_corr"] for s in scores], dtype=float)
        paths.append(scatter_png(out / "ntk_vs_grad_corr.png", ntk, gc,
                                 title="NTK against gradient correlation",
                                 xlabel="ntk (condition number)", ylabel="grad_corr", color=truth,
                                 color_label=metric, log_x=True))
    return paths


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Sample, score, and write ``scores.csv``, ``correlations.json`` and the plots."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    rows = sample_rows(read_rows(args.ground_truth, ("arch_str", args.metric)), args.n, args.seed)
    proxies = list(dict.fromkeys(list(args.proxies) + list(args.combine)))
    start = time.perf_counter()
    scores = score_rows(args, rows, proxies)
    timing = {"cells": len(rows), "seconds": time.perf_counter() - start, "device": str(resolve_device(args.device)),
              "backend": args.backend or ("serial" if args.workers == 1 else "process"), "workers": args.workers}
    timing["cells_per_second"] = timing["cells"] / max(timing["seconds"], 1e-9)
    logger.info("scored %d cells in %.1f s: %.2f cells/s on %s", timing["cells"], timing["seconds"],
                timing["cells_per_second"], timing["device"])
    truth = column(rows, args.metric)
    report = correlation_report(scores, proxies, truth, args.combine)
    args.out.mkdir(parents=True, exist_ok=True)
    write_scores_csv(args.out / "scores.csv", rows, scores, proxies, args.metric)
    (args.out / "correlations.json").write_text(json.dumps(report, indent=2))
    (args.out / "timing.json").write_text(json.dumps(timing, indent=2))
    write_plots(args.out, scores, proxies, truth, report, args.metric)
    return report


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    report = run(args)
    for name, entry in report.items():
        logger.info("%-16s spearman %.3f  kendall %.3f", name, entry["spearman"], entry["kendall"])
    logger.info("wrote %s", args.out)
    return report


if __name__ == "__main__":
    main()
