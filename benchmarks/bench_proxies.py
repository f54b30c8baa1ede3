"""Correlation and speed of the training-free proxies on NAS-Bench-201 (CIFAR-10).

Samples ``--n`` cells (``--seed``) from the rows of the NB201 table that carry the
published zero-cost proxies, scores them on one batch of real CIFAR-10 training
images, and prints Spearman rho / Kendall tau against ``c10_test_200ep`` for every
proxy, the ``combined`` ranking, and the published ``c10_nwot``, ``c10_jacov``,
``c10_synflow``, ``c10_params`` on the same cells; then the seconds per cell of the
three mission proxies together (median), their ratio to one plain forward+backward
pass of the same batch on the same network, and the peak memory. A JSON copy of the
figures goes to ``--out``.

    PYTHONPATH=src python benchmarks/bench_proxies.py --n 1000 --seed 0
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

import torch
from tqdm import tqdm

from fne.evolution.dataset import load_cifar10, sample_batch
from fne.evolution.fitness import (COMBINED_PROXIES, DEFAULT_PROXIES, list_proxies,
                                   proxy_build_kwargs, resolve_device, score_genotype)
from fne.evolution.fitness.groundtruth import (column, correlation_report, rank_correlations,
                                               read_rows, sample_rows)
from fne.genotopheno import get_space

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
METRIC = "c10_test_200ep"
PUBLISHED = ("c10_nwot", "c10_jacov", "c10_synflow", "c10_params")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="cells to sample")
    ap.add_argument("--seed", type=int, default=0, help="seed of the cell sample, batch and proxies")
    ap.add_argument("--data-dir", type=Path, default=SHARED, help="folder holding cifar10/")
    ap.add_argument("--csv", type=Path, default=SHARED / "nb201" / "nb201_cifar10.csv")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--batch", type=int, default=64, help="images in the scoring batch")
    ap.add_argument("--C", type=int, default=None, help="proxy network channels (default: library's)")
    ap.add_argument("--N", type=int, default=None, help="proxy network cells per stage")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (0: torch's default); "
                         "one keeps timings steady on a shared machine")
    ap.add_argument("--others", nargs="*", default=None,
                    help="proxies scored besides the mission ones (default: all other registered)")
    ap.add_argument("--full-baseline-cells", type=int, default=30,
                    help="cells on which to time forward+backward of the full-size network too")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_proxies.json")
    return ap.parse_args(argv)


def forward_backward_seconds(space: Any, text: str, build_kwargs: Dict[str, Any], x: torch.Tensor,
                             y: torch.Tensor, seed: int) -> float:
    """Seconds of one plain forward+backward (cross-entropy) pass, after one warm-up pass."""
    torch.manual_seed(seed)
    net = space.build(space.parse(text), **build_kwargs).to(x.device)
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    _sync(x.device)
    start = time.perf_counter()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    _sync(x.device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_scores(space: Any, text: str, proxies: Sequence[str], x: torch.Tensor, y: torch.Tensor,
                 device: torch.device, seed: int, build_kwargs: Dict[str, Any]) -> tuple:
    """``score_genotype`` and the seconds it took (network build included)."""
    _sync(device)
    start = time.perf_counter()
    scores = score_genotype(space, text, proxies, x, y, device, seed, build_kwargs)
    _sync(device)
    return scores, time.perf_counter() - start


def score_cells(rows: List[Dict[str, str]], space: Any, others: List[str], x: torch.Tensor,
                y: torch.Tensor, device: torch.device, seed: int, build: Dict[str, Any]) -> tuple:
    """Scores of every row's cell, seconds of the mission proxies, and their ratio to a
    forward+backward pass, per cell."""
    scores: List[Dict[str, float]] = []
    seconds: List[float] = []
    ratios: List[float] = []
    for row in tqdm(rows, desc="bench", unit="cell"):
        text = row["arch_str"]
        mission, spent = timed_scores(space, text, DEFAULT_PROXIES, x, y, device, seed, build)
        rest = score_genotype(space, text, others, x, y, device, seed, build) if others else {}
        scores.append({**mission, **rest})
        seconds.append(spent)
        ratios.append(spent / forward_backward_seconds(space, text, build, x, y, seed))
    return scores, seconds, ratios


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Sample the cells, score and time them, and gather every figure in a dict."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    space = get_space("nb201")
    build = proxy_build_kwargs("nb201")
    build.update({k: v for k, v in (("C", args.C), ("N", args.N)) if v is not None})
    others = [p for p in list_proxies() if p not in DEFAULT_PROXIES] if args.others is None else args.others
    rows = sample_rows(read_rows(args.csv, ("arch_str", METRIC) + PUBLISHED), args.n, args.seed)
    data = load_cifar10(args.data_dir)
    x, y = sample_batch(data.train, args.batch, torch.Generator().manual_seed(args.seed), device)
    scores, seconds, ratios = score_cells(rows, space, others, x, y, device, args.seed, build)
    peak_scoring = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    full_fb = [forward_backward_seconds(space, r["arch_str"], {}, x, y, args.seed)
               for r in rows[: args.full_baseline_cells]]
    result = summarise(args, rows, scores, seconds, ratios, full_fb, build, others, device)
    result["speed"]["peak_rss_mib_while_scoring"] = peak_scoring
    return result


def summarise(args: argparse.Namespace, rows: List[Dict[str, str]], scores: List[Dict[str, float]],
              mission_s: List[float], ratios: List[float], full_fb: List[float],
              build: Dict[str, Any], others: List[str], device: torch.device) -> Dict[str, Any]:
    truth = column(rows, METRIC)
    proxies = list(DEFAULT_PROXIES) + list(others)
    report = correlation_report(scores, proxies, truth, COMBINED_PROXIES)
    mission_only = correlation_report(scores, [], truth, DEFAULT_PROXIES)["combined"]
    published = {name: rank_correlations(column(rows, name), truth) for name in PUBLISHED}
    peak_gpu = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {
        "settings": {"n": args.n, "seed": args.seed, "batch": args.batch, "build_kwargs": build,
                     "device": str(device), "threads": torch.get_num_threads(),
                     "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
                     "combined": list(COMBINED_PROXIES)},
        "proxies": report,
        "combined_mission_only": mission_only,
        "published": published,
        "speed": {"mission_seconds_median": statistics.median(mission_s),
                  "mission_seconds_mean": statistics.fmean(mission_s),
                  "ratio_to_forward_backward_median": statistics.median(ratios),
                  "full_network_forward_backward_median": statistics.median(full_fb) if full_fb else None,
                  "peak_gpu_mib": peak_gpu},
        "cells": [{"arch_str": r["arch_str"], METRIC: float(r[METRIC]),
                   **{p: (v if math.isfinite(v) else None) for p, v in s.items()}}
                  for r, s in zip(rows, scores)],
    }


def print_table(result: Dict[str, Any]) -> None:
    s = result["settings"]
    print(f"\nNB201 CIFAR-10, n={s['n']} cells (seed {s['seed']}), batch {s['batch']}, "
          f"network {s['build_kwargs']}, device {s['device']}, threads {s['threads']}")
    w = 42
    print(f"{'proxy':<{w}}{'spearman':>10}{'kendall':>10}{'failed':>8}")
    for name, entry in result["proxies"].items():
        label = f"combined ({'+'.join(s['combined'])})" if name == "combined" else name
        print(f"{label:<{w}}{entry['spearman']:>10.3f}{entry['kendall']:>10.3f}{entry['failed']:>8d}")
    m = result["combined_mission_only"]
    print(f"{'combined (ntk+naswot+grad_corr only)':<{w}}{m['spearman']:>10.3f}{m['kendall']:>10.3f}")
    for name, entry in result["published"].items():
        print(f"{'published ' + name:<{w}}{entry['spearman']:>10.3f}{entry['kendall']:>10.3f}")
    sp = result["speed"]
    print(f"\nmission proxies (ntk+naswot+grad_corr) per cell: median {sp['mission_seconds_median']:.3f} s, "
          f"mean {sp['mission_seconds_mean']:.3f} s")
    print(f"ratio to one forward+backward of the same batch on the same network: "
          f"median {sp['ratio_to_forward_backward_median']:.2f}x")
    if sp["full_network_forward_backward_median"] is not None:
        print(f"full-size network forward+backward of the batch: median "
              f"{sp['full_network_forward_backward_median']:.3f} s")
    print(f"peak memory while scoring: {sp['peak_rss_mib_while_scoring']:.0f} MiB RSS (whole process)"
          + (f", {sp['peak_gpu_mib']:.0f} MiB GPU" if sp["peak_gpu_mib"] is not None else ""))


def main(argv: Sequence[str] | None = None) -> Dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    result = run(args)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
