"""Benchmark tables: CSV files of cells (``arch_str``, genotype text of a space) and their
accuracy or other measured columns.

Every reader of such a table goes through :func:`read_rows`: ``fne search --benchmark`` (the
pick's accuracy, looked up once the search is over; the search itself never sees it), ``fne
score --ground-truth`` and the benchmarks. It checks the whole table before any work is done,
so that a table of another space or a damaged one is refused with an error that names the
file, the row and the column. Rows are numbered as a spreadsheet shows them: the header is
row 1, the first cell row 2.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from fne.genotopheno.space import SearchSpace

__all__ = [
    "ARCH_COLUMN",
    "Row",
    "read_rows",
    "sample_rows",
    "column",
    "check_benchmark",
    "read_benchmark",
    "lookup_benchmark",
]

ARCH_COLUMN = "arch_str"
"""The column holding each cell's genotype text."""

Row = dict[str, str]


def read_rows(
    path: str | Path,
    required: Sequence[str] = (ARCH_COLUMN,),
    *,
    space: SearchSpace | None = None,
    flag: str = "",
    column_flags: Mapping[str, str] | None = None,
) -> list[Row]:
    """The rows of a table that hold a value in every ``required`` column, the whole table checked first.

    Every ``required`` column other than ``arch_str`` holds numbers. A row with an empty cell
    or a value that is not finite (``nan``, ``inf``) in a required column is left out as
    missing data; a value that is there but wrong is an error.

    Args:
        path: the CSV file.
        required: the columns a row needs.
        space: when given, every non-empty ``arch_str`` must parse as a genotype of it.
        flag: the command-line option that gave the file (e.g. ``--benchmark``), to name it
            in errors.
        column_flags: ``{column: option}`` for columns named by an option (e.g. ``{metric:
            "--metric"}``), shown beside a missing column.

    Returns:
        The usable rows, in the table's order.

    Raises:
        FileNotFoundError: ``path`` does not exist or is a folder.
        ValueError: the file is not a readable CSV table; a required column is missing (all
            missing ones named, with the file's columns); or a row holds an ``arch_str`` that
            is not a genotype of ``space`` or a value that is not a number (the first bad
            row and column named, with how many more there are).
    """
    path = Path(path)
    source = f"{flag} {path}" if flag else f"benchmark table {path}"
    if not path.is_file():
        what = "is a folder, not a CSV file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"{source} {what}")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            _check_header(source, header, required, column_flags or {})
            rows: list[Row] = []
            problems: list[str] = []
            for number, row in enumerate(reader, start=2):
                problems.extend(f"row {number}: {problem}" for problem in _row_problems(row, required, space))
                if all(_present(row[name]) for name in required):
                    rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{source} is not a readable CSV file ({err})") from None
    if problems:
        more = f" ({len(problems) - 1} more bad cells)" if len(problems) > 1 else ""
        raise ValueError(f"{source}, {problems[0]}{more}")
    return rows


def _check_header(source: str, header: Sequence[str], required: Sequence[str], column_flags: Mapping[str, str]) -> None:
    missing = [
        repr(name) + (f" ({column_flags[name]})" if name in column_flags else "")
        for name in dict.fromkeys(required)
        if name not in header
    ]
    if missing:
        raise ValueError(
            f"{source}: missing column(s) [{', '.join(missing)}]; its columns are {', '.join(header) or 'none'}"
        )


def _row_problems(row: Row, required: Sequence[str], space: SearchSpace | None) -> Iterator[str]:
    """What is wrong in one row's required cells (nothing for empty cells)."""
    for name in required:
        value = (row[name] or "").strip()
        if not value:
            continue
        if name != ARCH_COLUMN:
            try:
                float(value)
            except ValueError:
                yield f"{name} {value!r} is not a number"
        elif space is not None:
            try:
                space.parse(value)
            except ValueError as err:
                yield (
                    f"{ARCH_COLUMN} {value!r} is not a {space.name} genotype ({err}); "
                    f"is it a table of the {space.name} space?"
                )


def _present(value: str | None) -> bool:
    """A cell holds data: not empty, and a finite number if it is one."""
    if value is None or not value.strip():
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return True


def sample_rows(rows: Sequence[Row], n: int, seed: int) -> list[Row]:
    """``n`` distinct rows drawn with ``numpy.random.default_rng(seed)`` (in draw order).

    Raises:
        ValueError: ``n`` is not in ``1 .. len(rows)``.
    """
    if not 1 <= n <= len(rows):
        raise ValueError(f"cannot sample n={n} rows from a table of {len(rows)} usable rows")
    picks = np.random.default_rng(seed).choice(len(rows), size=n, replace=False)
    return [rows[i] for i in picks]


def column(rows: Sequence[Row], name: str) -> np.ndarray:
    """Column ``name`` of ``rows`` as floats (empty cells become NaN)."""
    return np.array([float(r[name]) if r[name].strip() else math.nan for r in rows])


def check_benchmark(path: str | Path, space: SearchSpace, metric: str) -> Path:
    """Check a search's ``--benchmark`` table before the search: every ``arch_str`` a
    genotype of ``space``, every ``metric`` value (``--benchmark-metric``) a number.

    Returns:
        The path.

    Raises:
        FileNotFoundError, ValueError: see :func:`read_rows`.
    """
    read_rows(path, (ARCH_COLUMN, metric), space=space, flag="--benchmark", column_flags={metric: "--benchmark-metric"})
    return Path(path)


def read_benchmark(path: str | Path, metric: str) -> dict[str, float]:
    """``arch_str -> metric`` of a benchmark table (rows without a finite value left out).

    Raises:
        FileNotFoundError, ValueError: see :func:`read_rows`.
    """
    return {row[ARCH_COLUMN]: float(row[metric]) for row in read_rows(path, (ARCH_COLUMN, metric))}


def lookup_benchmark(table: dict[str, float], space: SearchSpace, arch: str) -> float | None:
    """Accuracy of ``arch`` in ``table`` (see :func:`read_benchmark`): its own row, or else
    the mean over the rows of cells with the same canonical form; None if there is none."""
    if arch in table:
        return table[arch]
    key = space.canonical(space.parse(arch))
    same = [acc for text, acc in table.items() if space.canonical(space.parse(text)) == key]
    return float(np.mean(same)) if same else None
