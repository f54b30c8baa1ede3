"""The benchmark's selection rule: odds of meeting the targets on a new sample, and its shortlist."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import load_script

rule = load_script(Path(__file__).resolve().parents[1] / "benchmarks" / "selection_rule.py", "selection_rule")

TRUTH = np.linspace(80.0, 95.0, 400)
TARGETS = rule.Targets(spearman=0.9, top_k_mean=94.0, top_k=10, report_n=200)


def _figures(values: np.ndarray) -> dict:
    order = np.argsort(-values)
    return {
        "spearman": float(np.corrcoef(np.argsort(np.argsort(values)), np.arange(len(values)))[0, 1]),
        "top1pct_mean": float(TRUTH[order[:10]].mean()),
    }


def test_meets_checks_every_target() -> None:
    assert rule.meets(TRUTH, TRUTH, TARGETS)
    assert not rule.meets(-TRUTH, TRUTH, TARGETS)
    worst_first = TRUTH.copy()
    worst_first[:3] = 1e9  # the three worst cells ranked first: Spearman stays high, the top-10 fails
    assert rule._spearman(worst_first, TRUTH) >= 0.9
    assert not rule.meets(worst_first, TRUTH, TARGETS)
    assert rule.meets(worst_first, TRUTH, rule.Targets(0.9, None, 10, 200))


def test_odds_of_perfect_and_random_rankings() -> None:
    draws = rule.resamples(len(TRUTH), TARGETS, boots=50)
    assert draws.shape == (50, 200)
    assert rule.odds(TRUTH, TRUTH, TARGETS, draws) == 1.0
    noise = np.random.default_rng(1).normal(size=len(TRUTH))
    assert rule.odds(noise, TRUTH, TARGETS, draws) == 0.0


def test_best_odds_prefers_a_margin_to_a_thin_point_figure() -> None:
    steady = TRUTH + np.random.default_rng(0).normal(0.0, 0.5, len(TRUTH))  # Spearman ~0.99
    thin = TRUTH.copy()
    thin[-40:] = TRUTH[-40:][::-1]  # higher Spearman, but the best 40 cells in reverse order
    rows = [_figures(steady), _figures(thin)]
    assert rows[1]["spearman"] > rows[0]["spearman"]
    draws = rule.resamples(len(TRUTH), TARGETS, boots=100)
    chosen = rule.best_odds(rows, [steady, thin], TRUTH, TARGETS, draws)
    assert chosen["spearman"] == rows[0]["spearman"] and chosen["odds"] > 0.9
    assert rule.odds(thin, TRUTH, TARGETS, draws) < 0.5


def test_shortlist_keeps_the_first_fronts() -> None:
    rows = [{"spearman": s, "top1pct_mean": t} for s, t in [(0.9, 93.0), (0.8, 94.0), (0.7, 92.0), (0.85, 92.5)]]
    assert rule.shortlist(rows, size=2) == [0, 1]
    assert rule.shortlist(rows, size=3) == [0, 1, 3]
    assert rule.shortlist(rows, size=10) == [0, 1, 2, 3]


def test_no_candidates_is_an_error() -> None:
    with pytest.raises(ValueError, match="no candidate"):
        rule.best_odds([], [], TRUTH, TARGETS, rule.resamples(len(TRUTH), TARGETS, boots=2))
