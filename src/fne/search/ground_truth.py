"""Rank correlations of proxy scores with a ground-truth column (accuracy) of a benchmark table.

Used by ``fne score`` (:mod:`fne.scoring`) and ``benchmarks/bench_proxies.py`` only: the
scorer never reads ground truth. The tables are read by :mod:`fne.search.benchmark_table`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import kendalltau, spearmanr

from fne.evolution.fitness.objectives import to_objectives
from fne.evolution.fitness.registry import get_proxy


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
    scores: Sequence[Mapping[str, float]],
    proxies: Sequence[str],
    truth: np.ndarray,
    combine: Sequence[str],
    combined: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Rank correlations of every proxy and of the combined ranking with the truth.

    Args:
        scores: one ``{proxy: value}`` dict per cell.
        proxies: the proxies to report.
        truth: ground-truth value per cell (e.g. test accuracy).
        combine: proxies of the ``combined`` entry.
        combined: the combined ranking's value per cell, higher ranked better
            (:func:`fne.evolution.fitness.aggregate.aggregate` of ``combine``).

    Returns:
        ``{name: {"spearman", "kendall", "failed"}}``; failed cells count as the worst.
    """
    report: dict[str, dict[str, float]] = {}
    for name in proxies:
        entry = rank_correlations(filled_values(scores, name), truth)
        entry["failed"] = int(sum(not math.isfinite(s[name]) for s in scores))
        report[name] = entry
    report["combined"] = rank_correlations(combined, truth)
    report["combined"]["failed"] = int(sum(all(not math.isfinite(s[p]) for p in combine) for s in scores))
    return report
