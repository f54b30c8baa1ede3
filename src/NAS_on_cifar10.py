"""Search a CIFAR-10 cell with fne: training-free Pareto evolution plus DARTS tournaments.

Usage::

    python src/NAS_on_cifar10.py --space nb201 --data-dir ../shared/data --out runs/seed0 --seed 0
    python src/NAS_on_cifar10.py --out runs/seed0 --resume          # continue an interrupted run
    python src/NAS_on_cifar10.py --benchmark ../shared/data/nb201/nb201_cifar10.csv

The files written to ``--out`` are described in :mod:`fne.evolution.search`.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from typing import List, Optional, Tuple

from fne.evolution.evaluator import add_evaluator_args
from fne.evolution.search import SearchConfig, run_search
from fne.evolution.tournament import WEIGHT_LOSSES
from fne.progress import configure_logging

DEFAULTS = SearchConfig()


def _names(text: str) -> Tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--space", choices=("nb201", "darts", "fne"), default=DEFAULTS.space, help="search space")
    p.add_argument("--data-dir", default=DEFAULTS.data_dir, help="folder holding CIFAR-10 (npz or official)")
    p.add_argument("--pop-size", type=int, default=DEFAULTS.pop_size, help="population size")
    p.add_argument("--generations", type=int, default=DEFAULTS.generations, help="generations after the first")
    p.add_argument("--tournament-every", type=int, default=DEFAULTS.tournament_every,
                   help="DARTS tournament every N generations (0: never)")
    p.add_argument("--tournament-size", type=int, default=DEFAULTS.tournament_size,
                   help="candidate cells per tournament")
    p.add_argument("--tournament-keep", type=int, default=DEFAULTS.tournament_keep,
                   help="winners per tournament")
    p.add_argument("--tournament-steps", type=int, default=DEFAULTS.tournament_steps,
                   help="training steps per tournament")
    p.add_argument("--tournament-batch", type=int, default=DEFAULTS.tournament_batch,
                   help="images per tournament step")
    p.add_argument("--tournament-loss", choices=WEIGHT_LOSSES, default=DEFAULTS.tournament_weight_loss,
                   help="how tournaments train the candidates' weights: each on its own loss, or the mixture")
    p.add_argument("--final-tournament-size", type=int, default=DEFAULTS.final_tournament_size,
                   help="candidates of a longer tournament after the last generation whose winner is the "
                        "pick (0: none)")
    p.add_argument("--final-tournament-steps", type=int, default=DEFAULTS.final_tournament_steps,
                   help="training steps of the final tournament")
    p.add_argument("--proxies", type=_names, default=",".join(DEFAULTS.proxies),
                   help="comma-separated proxies used as objectives (default: %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help="random seed")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=DEFAULTS.device)
    p.add_argument("--out", default=DEFAULTS.out, help="output folder")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.json")
    p.add_argument("--train-epochs", type=int, default=DEFAULTS.train_epochs,
                   help="train the picked cell N epochs and report test accuracy (0: no training)")
    p.add_argument("--benchmark", default=None, metavar="CSV",
                   help="look up the pick's c10_test_200ep in this CSV after the search")
    add_evaluator_args(p)
    return p


def resume_command(argv: Optional[List[str]] = None) -> str:
    """The command line that continues this run: the same options plus ``--resume``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(["python", sys.argv[0] if argv is None else "src/NAS_on_cifar10.py", *args])


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the options, run the search, print the pick."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(logging.INFO)
    config = SearchConfig(space=args.space, data_dir=args.data_dir, pop_size=args.pop_size,
                          generations=args.generations, tournament_every=args.tournament_every,
                          tournament_size=args.tournament_size, tournament_keep=args.tournament_keep,
                          tournament_steps=args.tournament_steps, tournament_batch=args.tournament_batch,
                          tournament_weight_loss=args.tournament_loss, proxies=args.proxies,
                          final_tournament_size=args.final_tournament_size,
                          final_tournament_steps=args.final_tournament_steps,
                          seed=args.seed, device=args.device, out=args.out, resume=args.resume,
                          train_epochs=args.train_epochs, benchmark=args.benchmark, workers=args.workers,
                          backend=args.backend, ray_address=args.ray_address, threads=args.threads)
    try:
        result = run_search(config)
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"\ninterrupted; continue with: {resume_command(argv)}\n")
    summary = {"best": result["best"]["arch"], "evaluations": result["evaluations"],
               "wall_time_s": round(result["wall_time_s"], 1)}
    for key in ("train", "benchmark"):
        if key in result:
            summary[key] = result[key]
    failed = result.get("failed_cells", {}).get("count", 0)
    if failed:
        summary["failed_cells"] = failed
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
