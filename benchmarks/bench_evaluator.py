"""Cells per second of the evaluator backends, and whether they all give the same bits.

Scores the same ``--n`` NB201 cells (seed ``--seed``) with the search's proxies on one batch
of real CIFAR-10 images, once per backend and worker count (each worker with ``--threads``
torch threads, the library default being 1), checks that every run gives bit-identical
scores to the serial run, prints a table and writes JSON to ``--out``. Start-up of the
pool is included in the time.

    python benchmarks/bench_evaluator.py --n 60 --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fne.compute import make_evaluator, usable_cpus
from fne.data import load_dataset, sample_batch
from fne.evolution.fitness import Scorer
from fne.genotopheno import get_space
from fne.search.config import SearchConfig

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=60, help="cells to score")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts of the pools")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    ap.add_argument("--proxies", default=",".join(SearchConfig().proxies), help="comma-separated proxies")
    ap.add_argument("--backends", nargs="+", default=["serial", "process", "ray"])
    ap.add_argument("--data-dir", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_evaluator.json")
    return ap.parse_args(argv)


def timed_run(
    space: Any,
    cells: list[Any],
    x: torch.Tensor,
    y: torch.Tensor,
    proxies: Sequence[str],
    backend: str,
    workers: int,
    threads: int,
) -> dict[str, Any]:
    """Score ``cells`` on ``backend`` with ``workers`` workers (pool start-up included)."""
    start = time.perf_counter()
    evaluator = make_evaluator(backend, workers, threads=threads)
    try:
        scorer = Scorer(space, proxies, inputs=x, targets=y, device="cpu", evaluator=evaluator)
        scores = scorer.score_many(cells, progress=False)
    finally:
        evaluator.close()
    seconds = time.perf_counter() - start
    return {
        "backend": backend,
        "workers": evaluator.workers,
        "threads": threads,
        "seconds": seconds,
        "cells_per_second": len(cells) / seconds,
        "failed": scorer.num_failed,
        "bits": [[float(v).hex() for v in s.values()] for s in scores],
    }


def plan(backends: Sequence[str], workers: Sequence[int]) -> list[tuple]:
    """``(backend, workers)`` pairs to time: serial once, each pool at each worker count."""
    runs = [("serial", 1)] if "serial" in backends else []
    return runs + [(b, w) for b in backends if b != "serial" for w in workers]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    proxies = tuple(p for p in args.proxies.split(",") if p)
    space = get_space("nb201")
    rng = np.random.default_rng(args.seed)
    cells = [space.sample(rng) for _ in range(args.n)]
    x, y = sample_batch(load_dataset(args.data_dir, "cifar10").train, 64, torch.Generator().manual_seed(args.seed))
    runs = []
    for backend, workers in plan(args.backends, args.workers):
        if backend == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                print("ray not installed: skipped")
                continue
        runs.append(timed_run(space, cells, x, y, proxies, backend, workers, args.threads))
    reference = runs[0]["bits"]
    print(
        f"{args.n} NB201 cells, proxies {','.join(proxies)}, {args.threads} torch thread(s) per worker, "
        f"{usable_cpus()} usable cores"
    )
    print(
        f"{'backend':10s} {'workers':>7s} {'seconds':>8s} {'cells/s':>8s} {'failed':>6s}  bit-identical to "
        f"{runs[0]['backend']}"
    )
    for r in runs:
        r["identical_to_first"] = r.pop("bits") == reference
        print(
            f"{r['backend']:10s} {r['workers']:7d} {r['seconds']:8.1f} {r['cells_per_second']:8.2f} "
            f"{r['failed']:6d}  {r['identical_to_first']}"
        )
    result = {
        "n": args.n,
        "seed": args.seed,
        "proxies": list(proxies),
        "threads": args.threads,
        "usable_cpus": usable_cpus(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
