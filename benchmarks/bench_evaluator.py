"""Cells per second of the evaluator backends: serial against a pool of workers.

Scores the same ``--n`` NB201 cells (seed ``--seed``) with the three mission proxies on one
batch of real CIFAR-10 images, once per backend, checks that every backend gives the
serial scores, prints a table and writes JSON to ``--out``.

    PYTHONPATH=src python benchmarks/bench_evaluator.py --n 60 --workers 2
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from fne.evolution.dataset import load_cifar10, sample_batch
from fne.evolution.evaluator import make_evaluator, threads_per_worker
from fne.evolution.fitness import DEFAULT_PROXIES, Scorer
from fne.genotopheno import get_space

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=60, help="cells to score")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backends", nargs="+", default=["serial", "process", "ray"])
    ap.add_argument("--data-dir", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_evaluator.json")
    return ap.parse_args(argv)


def timed_run(space: Any, cells: List[Any], x: torch.Tensor, y: torch.Tensor, backend: str,
              workers: int, threads: int) -> Dict[str, Any]:
    """Score ``cells`` on ``backend``; the pool's start-up time is included.

    ``threads`` is torch's thread count in this process (what ``serial`` uses); pool
    workers use :func:`threads_per_worker` threads each, so a serial run with that many
    threads gives their exact scores."""
    torch.set_num_threads(threads)
    start = time.perf_counter()
    evaluator = None if backend == "serial" else make_evaluator(backend, workers)
    try:
        scorer = Scorer(space, DEFAULT_PROXIES, inputs=x, targets=y, device="cpu", evaluator=evaluator)
        scores = scorer.score_many(cells, progress=False)
    finally:
        if evaluator is not None:
            evaluator.close()
    seconds = time.perf_counter() - start
    return {"backend": backend, "workers": 1 if backend == "serial" else workers,
            "threads": threads if backend == "serial" else threads_per_worker(workers), "seconds": seconds,
            "cells_per_second": len(cells) / seconds, "failed": scorer.num_failed, "scores": scores}


def same_scores(a: List[Dict[str, float]], b: List[Dict[str, float]]) -> bool:
    """Equal up to float rounding of different thread counts (NaN equals NaN)."""
    return all(math.isclose(u[k], v[k], rel_tol=1e-5) or (math.isnan(u[k]) and math.isnan(v[k]))
               for u, v in zip(a, b) for k in u)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    space = get_space("nb201")
    rng = np.random.default_rng(args.seed)
    cells = [space.sample(rng) for _ in range(args.n)]
    data = load_cifar10(args.data_dir)
    x, y = sample_batch(data.train, 64, torch.Generator().manual_seed(args.seed))
    default_threads, pool_threads = torch.get_num_threads(), threads_per_worker(args.workers)
    runs = []
    if "serial" in args.backends and default_threads != pool_threads:
        runs.append(timed_run(space, cells, x, y, "serial", 1, default_threads))
    for backend in args.backends:
        if backend == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                print("ray not installed: skipped")
                continue
        runs.append(timed_run(space, cells, x, y, backend, args.workers, pool_threads))
    serial = next((r["scores"] for r in runs if r["backend"] == "serial" and r["threads"] == pool_threads), None)
    print(f"{'backend':10s} {'workers':>7s} {'threads':>7s} {'seconds':>8s} {'cells/s':>8s} {'failed':>6s}"
          f"  same as {pool_threads}-thread serial")
    for r in runs:
        same = "-" if serial is None else str(same_scores(serial, r.pop("scores")))
        print(f"{r['backend']:10s} {r['workers']:7d} {r['threads']:7d} {r['seconds']:8.1f} "
              f"{r['cells_per_second']:8.2f} {r['failed']:6d}  {same}")
        r["same_as_serial"] = same
    result = {"n": args.n, "seed": args.seed, "torch_threads_default": default_threads, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
