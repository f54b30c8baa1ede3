"""``fne score`` (and ``src/plot_scores.py``): score benchmark cells with training-free proxies.

    fne score --space nb201 --ground-truth ../shared/data/nb201/nb201_cifar10.csv \\
        --metric c10_test_200ep --n 200 --seed 0 --data-dir ../shared/data --out out/scores

The files written to ``--out`` are described in :mod:`fne.scoring`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from fne.cli.common import config_parser, run_guarded
from fne.options import from_args
from fne.scoring import ScoreConfig, run_scoring

__all__ = ["build_parser", "main", "run"]

DESCRIPTION = "Score benchmark cells with training-free proxies."


def build_parser(prog: str | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``fne score``, generated from :class:`ScoreConfig`."""
    return config_parser(ScoreConfig, DESCRIPTION, prog, parser)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Score as the parsed options ask; return the correlation report."""
    return run_guarded(parser, lambda: run_scoring(from_args(ScoreConfig, args)))


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> dict[str, Any]:
    """Parse ``argv`` and score; returns the correlation report (exit status 2 on a usage error)."""
    parser = build_parser(prog)
    return run(parser, parser.parse_args(argv), argv)
