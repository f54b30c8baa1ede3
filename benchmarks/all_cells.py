"""Every NB201 cell ranked: the all-cell protocol of ``bench_proxies.py --phase all``.

Every unique cell (one per canonical key, 6,466 of the 15,625) is scored once on its live
form, as the library's scorer does, and its scores stand for all its isomorphs. The per-cell
scores go to a JSON-lines file as they come, so an interrupted run resumes where it stopped.

Figures of a ranking over a set of cells (:func:`all_cell_figures`):

* ``spearman`` / ``kendall`` against the test accuracy;
* ``within_level_spearman``: the mean, over FLOPs levels holding at least
  :data:`MIN_LEVEL_CELLS` of the cells, of the Spearman correlation inside the level (a ranking
  that ties a whole level counts 0 there);
* ``level_regret`` / ``worst_level_regret``: over the same levels, the mean (largest) gap in
  test accuracy between the level's best cell and the cell ranked first in it;
* ``enumeration_igd`` / ``enumeration_hv``: the non-dominated cells in (ranking, FLOPs), held
  against the true front of test error vs FLOPs of every cell by ``bench_front``'s indicators
  (E-TF-MOENAS's protocol).

Settings are chosen on the seed-0 selection cells by :func:`choose_weights`: for each aggregator
of :data:`AGGREGATORS`, coordinate ascent over per-proxy weights in :data:`WEIGHT_GRID` (0 drops
a proxy), maximising :func:`selection_objective`; the aggregator whose weights reach the higher
objective is kept.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from scipy.stats import kendalltau, spearmanr

from bench_front import Indicators, front_points
from fne.compute import Failed, make_evaluator
from fne.evolution.fitness import aggregate as agg
from fne.evolution.fitness import score_genotype
from fne.genotopheno import get_space

logger = logging.getLogger(__name__)

MIN_LEVEL_CELLS = 10
"""Cells a FLOPs level must hold to count in the within-level figures."""

WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
"""Per-proxy weights the selection tries."""

AGGREGATORS = ("mean_rank", "log_rank")
"""Aggregators the selection tries (each with its own weights)."""

CHUNK = 256
"""Cells scored between two appends to the score file."""


# --------------------------------------------------------------------------- scoring


def _score_job(
    text: str,
    *,
    proxies: Sequence[str],
    x: torch.Tensor,
    y: torch.Tensor,
    build: dict[str, Any],
) -> dict[str, float]:
    return score_genotype("nb201", text, proxies, x, y, "cpu", 0, build)


def read_scores(path: Path) -> dict[str, dict[str, float]]:
    """The score file's scores by canonical key (empty when there is no file; a later line of a
    key replaces an earlier one)."""
    found: dict[str, dict[str, float]] = {}
    if not path.exists():
        return found
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {number} is not JSON ({err}); delete the file to score again") from err
        found[entry["key"]] = {k: (math.nan if v is None else float(v)) for k, v in entry["scores"].items()}
    return found


def score_every_cell(
    texts: Sequence[str],
    proxies: Sequence[str],
    x: torch.Tensor,
    y: torch.Tensor,
    build: dict[str, Any],
    workers: int,
    path: Path,
) -> dict[str, dict[str, float]]:
    """Scores of every cell of ``texts``, by canonical key, each key scored once.

    Args:
        texts: cell texts (isomorphs share one scoring).
        proxies: registered proxy names.
        x, y: the scoring batch.
        build: the scoring network's build arguments.
        workers: scoring processes (one torch thread each).
        path: the JSON-lines score file, read first and appended to chunk by chunk.

    A cell already in the file is scored only on the proxies it lacks (a later line of a key
    replaces an earlier one), so a proxy added to ``proxies`` costs only its own time.

    Returns:
        ``{canonical key: {proxy: value}}`` (NaN where a proxy failed).
    """
    space = get_space("nb201")
    keys = {space.canonical(t): t for t in reversed(texts)}  # the first text of each key
    done = read_scores(path)
    todo = [(k, t) for k, t in keys.items() if not set(proxies) <= set(done.get(k, {}))]
    missing = sorted({p for k, _ in todo for p in proxies if p not in done.get(k, {})}, key=list(proxies).index)
    logger.info("%d unique cells, %d to score (%s)", len(keys), len(todo), ", ".join(missing) or "none")
    path.parent.mkdir(parents=True, exist_ok=True)
    evaluator = make_evaluator("process" if workers > 1 else "serial", workers=workers)
    try:
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            lacking = [p for p in proxies if any(p not in done.get(k, {}) for k, _ in chunk)]
            job = functools.partial(_score_job, proxies=tuple(lacking), x=x, y=y, build=build)
            results = evaluator.map(job, [t for _, t in chunk], desc=f"all cells {start + len(chunk)}/{len(todo)}")
            with path.open("a", encoding="utf-8") as handle:
                for (key, text), scores in zip(chunk, results, strict=True):
                    if isinstance(scores, Failed):
                        raise RuntimeError(f"cell {text} failed to score: {scores}")
                    done[key] = {**done.get(key, {}), **scores}
                    clean = {p: (v if math.isfinite(v) else None) for p, v in done[key].items()}
                    handle.write(json.dumps({"key": key, "arch_str": text, "scores": clean}) + "\n")
    finally:
        evaluator.close()
    return {k: done[k] for k in keys}


# --------------------------------------------------------------------------- figures


def flops_levels(table: Mapping[str, Mapping[str, float]], texts: Sequence[str]) -> np.ndarray:
    """Each cell's FLOPs level: its true FLOPs rounded to a thousandth of a MFLOP."""
    return np.array([round(table[t]["flops"], 3) for t in texts])


def within_levels(values: np.ndarray, truth: np.ndarray, levels: np.ndarray) -> dict[str, float]:
    """Mean Spearman inside each FLOPs level, and the mean and largest regret of its first cell."""
    spearmans, regrets = [], []
    for level in np.unique(levels):
        inside = np.flatnonzero(levels == level)
        if len(inside) < MIN_LEVEL_CELLS:
            continue
        v, t = values[inside], truth[inside]
        spearmans.append(0.0 if np.ptp(v) == 0 else float(spearmanr(v, t)[0]))
        regrets.append(float(t.max() - t[np.argmax(v)]))
    return {
        "within_level_spearman": float(np.mean(spearmans)),
        "level_regret": float(np.mean(regrets)),
        "worst_level_regret": float(np.max(regrets)),
        "levels": len(spearmans),
    }


def enumeration_front(
    values: np.ndarray,
    texts: Sequence[str],
    table: Mapping[str, Mapping[str, float]],
    indicators: Indicators,
    *,
    cost: np.ndarray | None = None,
    judged: str = "flops",
) -> dict[str, float]:
    """IGD and hypervolume of the cells non-dominated in (ranking, cost) against the true front.

    Args:
        cost: the cost the front is chosen on, one per cell (default: the table's ``judged``
            column); a model's prediction, say.
        judged: the table column the front's cells are judged at (``indicators``' cost); cells
            at chance accuracy are left out, as ``bench_front`` leaves them out of every front.
    """
    chosen_on = np.array([table[t][judged] for t in texts]) if cost is None else np.asarray(cost, dtype=float)
    front = NonDominatedSorting().do(np.column_stack([-values, chosen_on]), only_non_dominated_front=True)
    points = front_points([texts[i] for i in front], table, judged)
    return {f"enumeration_{k}": v for k, v in indicators(points).items()} | {"enumeration_cells": len(front)}


def filled(values: np.ndarray) -> np.ndarray:
    """Higher-is-better values with NaN set below the worst finite value."""
    values = np.asarray(values, dtype=float).copy()
    finite = np.isfinite(values)
    values[~finite] = (values[finite].min() - 1.0) if finite.any() else 0.0
    return values


def all_cell_figures(
    values: np.ndarray,
    texts: Sequence[str],
    truth: np.ndarray,
    levels: np.ndarray,
    table: Mapping[str, Mapping[str, float]] | None = None,
    indicators: Indicators | None = None,
) -> dict[str, float]:
    """Overall, within-level and (with ``table`` and ``indicators``) enumeration-front figures."""
    values = filled(values)
    out = {
        "spearman": float(spearmanr(values, truth)[0]),
        "kendall": float(kendalltau(values, truth)[0]),
        **within_levels(values, truth, levels),
    }
    if table is not None and indicators is not None:
        out.update(enumeration_front(values, texts, table, indicators))
    return out


# --------------------------------------------------------------------------- selection


def ranking_values(
    scores: Sequence[Mapping[str, float]], weights: Mapping[str, float], aggregator: str = "mean_rank"
) -> np.ndarray:
    """The library's aggregate of the proxies weighted above 0."""
    used = [p for p, w in weights.items() if w > 0]
    return agg.aggregate(scores, used, aggregator, {p: weights[p] for p in used})


def selection_objective(figures: Mapping[str, float]) -> float:
    """What the selection maximises: overall plus within-level Spearman, the two ranking targets
    that need every proxy's help (size terms lift the first and cannot lift the second)."""
    return figures["spearman"] + figures["within_level_spearman"]


def choose_weights(
    scores: Sequence[Mapping[str, float]],
    texts: Sequence[str],
    truth: np.ndarray,
    levels: np.ndarray,
    start: Mapping[str, float],
    candidates: Sequence[str],
    aggregator: str = "mean_rank",
    cost: Callable[[Sequence[str]], float] | None = None,
    max_cost: float = math.inf,
    rounds: int = 3,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Coordinate ascent over per-proxy weights from ``start`` on the selection cells.

    Args:
        cost: forward+backward passes per cell of a set of proxies; a step to a set that
            costs more than ``max_cost`` is not taken (``start`` must be affordable).

    Returns:
        The chosen ``{proxy: weight}`` (zeros dropped) and the trail of accepted steps.
    """
    weights = {p: float(start.get(p, 0.0)) for p in candidates}

    def affordable(w: Mapping[str, float]) -> bool:
        return cost is None or cost([p for p, v in w.items() if v > 0]) <= max_cost

    def value(w: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        figs = all_cell_figures(ranking_values(scores, w, aggregator), texts, truth, levels)
        return selection_objective(figs), figs

    best, figs = value(weights)
    trail = [{"weights": dict(weights), **figs}]
    for _ in range(rounds):
        improved = False
        for proxy in candidates:
            for w in WEIGHT_GRID:
                if w == weights[proxy] or (w == 0 and sum(v > 0 for v in weights.values()) == 1):
                    continue
                trial = {**weights, proxy: w}
                if not affordable(trial):
                    continue
                score, trial_figs = value(trial)
                if score > best + 1e-6:
                    best, weights, figs, improved = score, trial, trial_figs, True
                    trail.append({"weights": dict(weights), **figs})
        if not improved:
            break
    return {p: w for p, w in weights.items() if w > 0}, trail


# --------------------------------------------------------------------------- the phase


def split_rows(
    rows: Sequence[Mapping[str, str]], select_n: int, seed: int
) -> tuple[list[Mapping[str, str]], list[Mapping[str, str]]]:
    """The seed-``seed`` selection sample of all rows and every other row whose cell is not an
    isomorph of a selection cell."""
    space = get_space("nb201")
    picks = np.random.default_rng(seed).choice(len(rows), size=select_n, replace=False)
    select = [rows[i] for i in picks]
    seen = {space.canonical(r["arch_str"]) for r in select}
    return select, [r for r in rows if space.canonical(r["arch_str"]) not in seen]


def all_cell_phase(
    rows: Sequence[Mapping[str, str]],
    table: Mapping[str, Mapping[str, float]],
    key_scores: Mapping[str, Mapping[str, float]],
    rankings: Mapping[str, tuple[Mapping[str, float], str]],
    *,
    metric: str,
    select_n: int,
    seed: int,
    start: Mapping[str, float],
    candidates: Sequence[str],
    cost: Callable[[Sequence[str]], float],
    max_cost: float,
) -> dict[str, Any]:
    """Choose weights on the selection sample and report every figure on the other cells.

    Args:
        rows: every row of the NB201 table.
        table: ``bench_front``'s table (error, FLOPs) by cell text.
        key_scores: every cell's scores by canonical key (:func:`score_every_cell`).
        rankings: other rankings to report, ``{label: ({proxy: weight}, aggregator)}``.
        metric: the accuracy column.
        select_n: selection cells (seed ``seed``).
        start: the weights the selection starts from.
        candidates: proxies the selection may weigh.
        cost: forward+backward passes per cell of a set of proxies.
        max_cost: the most a chosen set may cost.
    """
    space = get_space("nb201")
    select, report = split_rows(rows, select_n, seed)

    def columns(part: Sequence[Mapping[str, str]]) -> tuple[list[str], list[Mapping[str, float]], np.ndarray]:
        texts = [r["arch_str"] for r in part]
        scores = [key_scores[space.canonical(t)] for t in texts]
        return texts, scores, np.array([float(r[metric]) for r in part])

    s_texts, s_scores, s_truth = columns(select)
    s_levels = flops_levels(table, s_texts)
    tried = {
        method: choose_weights(s_scores, s_texts, s_truth, s_levels, start, candidates, method, cost, max_cost)
        for method in AGGREGATORS
    }
    method = max(tried, key=lambda m: selection_objective(tried[m][1][-1]))
    chosen, trail = tried[method]
    r_texts, r_scores, r_truth = columns(report)
    r_levels = flops_levels(table, r_texts)
    a_texts, a_scores, _ = columns(rows)
    indicators = Indicators(table, "flops")

    def report_figures(weights: Mapping[str, float], aggregator: str = "mean_rank") -> dict[str, Any]:
        values = ranking_values(r_scores, weights, aggregator)
        figs = all_cell_figures(values, r_texts, r_truth, r_levels)
        every = filled(ranking_values(a_scores, weights, aggregator))
        return figs | enumeration_front(every, a_texts, table, indicators)

    return {
        "selection_cells": len(select),
        "report_cells": len(report),
        "chosen": {
            "weights": chosen,
            "aggregator": method,
            "cost": cost(list(chosen)),
            "selection": trail[-1],
            "trail": trail,
            "per_aggregator": {m: {"weights": w, "selection": t[-1]} for m, (w, t) in tried.items()},
        },
        "rankings": {"chosen": report_figures(chosen, method)}
        | {k: report_figures(w, m) for k, (w, m) in rankings.items()},
        "proxies": {p: report_figures({p: 1.0}) for p in candidates},
        "true_front_hv": indicators(indicators.front)["hv"],
    }
