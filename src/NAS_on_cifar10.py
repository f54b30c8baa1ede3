"""Search a CIFAR-10 cell with fne: training-free Pareto evolution plus DARTS tournaments.

Usage::

    python src/NAS_on_cifar10.py --space nb201 --data-dir ../shared/data --out runs/seed0 --seed 0
    python src/NAS_on_cifar10.py --out runs/seed0 --resume          # continue an interrupted run
    python src/NAS_on_cifar10.py --benchmark ../shared/data/nb201/nb201_cifar10.csv

The same as ``fne search``, with the same options (``--dataset`` reads other images too).
The files written to ``--out`` are described in :mod:`fne.search.run`.
"""

from __future__ import annotations

import sys

from fne.cli.search_command import main

if __name__ == "__main__":
    sys.exit(main(prog=f"python {sys.argv[0]}"))
