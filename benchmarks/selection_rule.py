"""The rule that chooses a training-free ranking on selection cells: the best odds of meeting the targets.

A candidate is a set of proxies with an aggregator and weights. A figure measured on the
selection cells is itself a sample: a set whose Spearman there is just above the target
is about as likely to miss it on new cells as to meet it. So the rule estimates, for every
shortlisted candidate, how often it meets every target of the space on a new sample the
size of the report, by drawing bootstrap resamples of that size (with replacement) from the
selection cells, and takes the candidate that meets them most often. The same resamples
serve every candidate, so that their odds differ only by their rankings.

Computing the odds of thousands of candidates is slow; the shortlist keeps the candidates
on the first non-dominated fronts of (Spearman, mean accuracy of the top 1%) measured on
all selection cells, which is where a candidate meeting both targets best must lie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from scipy.stats import rankdata

BOOTSTRAPS = 400
"""Resamples behind each candidate's odds."""

SHORTLIST = 100
"""Candidates whose odds are computed (whole non-dominated fronts, at least this many)."""

RULE = (
    "among sets within the cost limit, the one that meets every target of the space most often "
    f"on {BOOTSTRAPS} bootstrap resamples of the report's size drawn from the seed-0 cells "
    "(shortlist: the first non-dominated fronts of seed-0 Spearman and top-1% mean accuracy; "
    "ties: higher seed-0 Spearman)"
)


@dataclass(frozen=True)
class Targets:
    """What a ranking must reach on a report sample of ``report_n`` cells.

    Attributes:
        spearman: Spearman correlation with the accuracy, at least.
        top_k_mean: mean accuracy of the ``top_k`` cells ranked first, at least (None: no target).
        top_k: how many cells ``top_k_mean`` averages.
        report_n: cells in the report sample.
    """

    spearman: float
    top_k_mean: float | None
    top_k: int
    report_n: int


def resamples(n_cells: int, targets: Targets, boots: int = BOOTSTRAPS, seed: int = 0) -> np.ndarray:
    """``boots`` rows of ``targets.report_n`` cell indices drawn with replacement from ``n_cells``."""
    return np.random.default_rng(seed).integers(0, n_cells, size=(boots, targets.report_n))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def _top_mean(values: np.ndarray, truth: np.ndarray, k: int) -> float:
    order = np.lexsort((np.arange(len(values)), -values))
    return float(truth[order[:k]].mean())


def meets(values: np.ndarray, truth: np.ndarray, targets: Targets) -> bool:
    """Whether a ranking (higher = better) reaches every target on these cells."""
    if _spearman(values, truth) < targets.spearman:
        return False
    return targets.top_k_mean is None or _top_mean(values, truth, targets.top_k) >= targets.top_k_mean


def odds(values: np.ndarray, truth: np.ndarray, targets: Targets, draws: np.ndarray) -> float:
    """Share of the resamples ``draws`` on which the ranking ``values`` meets every target."""
    values = np.asarray(values, dtype=float)
    return float(np.mean([meets(values[idx], truth[idx], targets) for idx in draws]))


def shortlist(rows: Sequence[dict[str, Any]], size: int = SHORTLIST) -> list[int]:
    """Indices of the rows on the first non-dominated fronts of (spearman, top1pct_mean)."""
    if len(rows) <= size:
        return list(range(len(rows)))
    objectives = -np.array([[r["spearman"], r["top1pct_mean"]] for r in rows])
    fronts = NonDominatedSorting().do(objectives, n_stop_if_ranked=size)
    return sorted(int(i) for front in fronts for i in front)


def preference(row: dict[str, Any]) -> tuple:
    """The rule's sort key for a row with its ``odds``: better odds, then higher Spearman."""
    return row["odds"], row["spearman"]


def best_odds(
    rows: Sequence[dict[str, Any]], values: Sequence[np.ndarray], truth: np.ndarray, targets: Targets, draws: np.ndarray
) -> dict[str, Any]:
    """The shortlisted row with the best odds (ties: higher Spearman), with its ``odds`` added.

    Args:
        rows: candidates' figures on the selection cells (``spearman``, ``top1pct_mean``, ...).
        values: each candidate's ranking of the selection cells, higher = better.
        truth: the selection cells' accuracies.
        targets: what the report must reach.
        draws: resamples from :func:`resamples`, shared by every candidate.
    """
    if not rows:
        raise ValueError("no candidate ranking to choose from")
    scored = [{**rows[i], "odds": odds(values[i], truth, targets, draws)} for i in shortlist(rows)]
    return max(scored, key=preference)
