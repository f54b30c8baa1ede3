"""``fne search`` (and ``src/NAS_on_cifar10.py``): a resumable training-free search.

    fne search --data-dir ../shared/data --out runs/seed0 --seed 0
    fne search --out runs/seed0 --resume                      # continue an interrupted run
    fne search --dataset npz --data-dir ../shared/data/fashion_mnist --out runs/fm --train-epochs 1

The files written to ``--out`` are described in :mod:`fne.search.run`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from fne.cli.common import config_parser, resume_command, run_guarded
from fne.options import from_args
from fne.search.config import SearchConfig
from fne.search.run import run_search

__all__ = ["build_parser", "main", "summary"]

DESCRIPTION = "Search a cell with fne: training-free Pareto evolution plus DARTS tournaments."


def build_parser(prog: str | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of a search, generated from :class:`SearchConfig`."""
    return config_parser(SearchConfig, DESCRIPTION, prog, parser)


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """What the command prints: the pick, evaluations, time, and the after-search steps."""
    out = {
        "best": result["best"]["arch"],
        "evaluations": result["evaluations"],
        "wall_time_s": round(result["wall_time_s"], 1),
    }
    for key in ("train", "benchmark"):
        if key in result:
            out[key] = result[key]
    failed = result.get("failed_cells", {}).get("count", 0)
    if failed:
        out["failed_cells"] = failed
    return out


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Run the search the parsed options ask for and print its summary."""

    def work() -> dict[str, Any]:
        return run_search(from_args(SearchConfig, args))

    result = run_guarded(parser, work, resume=resume_command(parser.prog, argv))
    print(json.dumps(summary(result), indent=2))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv``, run the search, print the pick."""
    parser = build_parser(prog)
    return run(parser, parser.parse_args(argv), argv)
