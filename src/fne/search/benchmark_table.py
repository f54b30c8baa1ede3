"""A search's ``--benchmark`` table: checked against the space before the search, read after it.

The table is a CSV with an ``arch_str`` column (genotype text of the searched space) and an
accuracy column (``c10_test_200ep`` by default). It is only read once the search is over,
to report the pick's accuracy; the search itself never sees it. :func:`check_benchmark`
runs first, so that a table of another space or a damaged one is refused before any work
is done, naming the file and the row.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from fne.genotopheno.space import SearchSpace

__all__ = ["BENCHMARK_METRIC", "check_benchmark", "read_benchmark", "lookup_benchmark"]

BENCHMARK_METRIC = "c10_test_200ep"


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        yield reader.fieldnames or []
        yield from reader


def check_benchmark(path: str | Path, space: SearchSpace, metric: str = BENCHMARK_METRIC) -> Path:
    """Check that every row of the table holds a genotype of ``space`` and a number.

    Returns:
        The path.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing column, or a row (named by its line number) whose
            ``arch_str`` does not parse in ``space`` or whose ``metric`` is not a number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--benchmark file {path} does not exist")
    try:
        rows = _rows(path)
        header = next(rows)
        missing = [c for c in ("arch_str", metric) if c not in header]
        if missing:
            raise ValueError(f"--benchmark file {path} lacks column(s) {missing}; columns are {header}")
        for line, row in enumerate(rows, start=2):
            _check_row(path, line, row, space, metric)
    except UnicodeDecodeError as err:
        raise ValueError(f"--benchmark file {path} is not a UTF-8 CSV table ({err})") from None
    return path


def _check_row(path: Path, line: int, row: dict[str, str], space: SearchSpace, metric: str) -> None:
    try:
        space.parse(row["arch_str"] or "")
    except ValueError as err:
        raise ValueError(
            f"--benchmark file {path}, row {line}: arch_str {row['arch_str']!r} is not a "
            f"{space.name} genotype ({err}); give a table of the {space.name} space"
        ) from None
    value = (row.get(metric) or "").strip()
    try:
        float(value)
    except ValueError:
        raise ValueError(f"--benchmark file {path}, row {line}: {metric} {value!r} is not a number") from None


def read_benchmark(path: str | Path, metric: str = BENCHMARK_METRIC) -> dict[str, float]:
    """``arch_str -> metric`` of a benchmark CSV (rows with an empty value are left out)."""
    table = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            value = (row.get(metric) or "").strip()
            if value and math.isfinite(float(value)):
                table[row["arch_str"]] = float(value)
    return table


def lookup_benchmark(table: dict[str, float], space: SearchSpace, arch: str) -> float | None:
    """Accuracy of ``arch`` in ``table`` (see :func:`read_benchmark`): its own row, or else
    the mean over the rows of cells with the same canonical form; None if there is none."""
    if arch in table:
        return table[arch]
    key = space.canonical(space.parse(arch))
    same = [acc for text, acc in table.items() if space.canonical(space.parse(text)) == key]
    return float(np.mean(same)) if same else None
