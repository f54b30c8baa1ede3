"""Score sampled cells of a benchmark table with training-free proxies and plot them.

    python src/plot_scores.py --space nb201 --ground-truth ../shared/data/nb201/nb201_cifar10.csv \
        --metric c10_test_200ep --n 200 --seed 0 --data-dir ../shared/data --out out/scores

The same as ``fne score``, with the same options; the files it writes are described in
:mod:`fne.scoring`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fne.cli import score_command


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run ``fne score`` as ``plot_scores.py``; returns the correlation report."""
    return score_command.main(argv, prog="plot_scores.py")


if __name__ == "__main__":
    main()
