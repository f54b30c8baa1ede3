"""Reading benchmark tables and correlating proxy scores with accuracy.

Used by ``src/plot_scores.py`` and ``benchmarks/bench_proxies.py`` only: the scorer
never reads ground truth.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from fne.evolution.fitness.objectives import combined_score, to_objectives
from fne.evolution.fitness.registry import get_proxy

Row = dict[str, str]


def read_rows(path: str | Path, required: Sequence[str] = ("arch_str",)) -> list[Row]:
    """Rows of a CSV file with a value in every ``required`` column (numbers must be finite).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a ``required`` column is missing from the header (all missing ones named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth table {path} does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; columns are {header}")
        return [row for row in reader if all(_present(row[c]) for c in required)]


def _present(value: str | None) -> bool:
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


def filled_values(scores: Sequence[Mapping[str, float]], proxy: str) -> np.ndarray:
    """Values of ``proxy`` in their own orientation, failed ones set to the worst value
    by the rule of :func:`fne.evolution.fitness.to_objectives`."""
    objective = to_objectives(scores, [proxy])[:, 0]
    return -objective if get_proxy(proxy).higher_is_better else objective


def rank_correlations(values: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Spearman rho and Kendall tau (tau-b) between ``values`` and ``truth``."""
    rho = spearmanr(values, truth)[0]
    tau = kendalltau(values, truth)[0]
    return {"spearman": float(rho), "kendall": float(tau)}


def correlation_report(
    scores: Sequence[Mapping[str, float]], proxies: Sequence[str], truth: np.ndarray, combine: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Rank correlations of every proxy and of the combined ranking with the truth.

    Args:
        scores: one ``{proxy: value}`` dict per cell.
        proxies: the proxies to report.
        truth: ground-truth value per cell (e.g. test accuracy).
        combine: proxies of the ``combined`` entry
            (:func:`fne.evolution.fitness.combined_score`).

    Returns:
        ``{name: {"spearman", "kendall", "failed"}}``; failed cells count as the worst.
    """
    report: dict[str, dict[str, float]] = {}
    for name in proxies:
        entry = rank_correlations(filled_values(scores, name), truth)
        entry["failed"] = int(sum(not math.isfinite(s[name]) for s in scores))
        report[name] = entry
    report["combined"] = rank_correlations(combined_score(scores, combine), truth)
    report["combined"]["failed"] = int(sum(all(not math.isfinite(s[p]) for p in combine) for s in scores))
    return report
