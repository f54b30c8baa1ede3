"""Plots of a search and of proxy scores, in each proxy's own units (matplotlib, PNG files).

* :func:`history_figure` / :func:`plot_history`: the best and mean value of every proxy per
  generation;
* :func:`front_figure` / :func:`plot_front`: the population for
  each pair of proxies, its Pareto front and the pick;
* :func:`quality_cost_figure` / :func:`plot_quality_cost`: every evaluated cell's training-free
  quality against its cost in real units, the quality-cost front, the limit and the pick;
* :func:`scatter_png`: one scatter plot of proxy scores (``fne score``).

Values are raw proxy values (:mod:`fne.evolution.fitness.units`): objectives, which are
minimised, are turned back into them, higher-is-better proxies read upwards, and a proxy drawn
on a log scale says so in its label. Every file is written atomically (:mod:`fne.files`)::

    plot_history(result.history, proxies, "plots/objectives.png")
    plot_front(objectives, front, proxies, "plots/pareto_front.png", pick=result.best["scores"])
"""

from __future__ import annotations

import io
import itertools
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator, ScalarFormatter

from fne.evolution.fitness.units import (
    PickLike,
    objectives_to_raw,
    pick_values,
    proxy_label,
    uses_log_scale,
)
from fne.files import atomic_write_bytes

__all__ = [
    "history_figure",
    "plot_history",
    "front_figure",
    "front_pairs",
    "plot_front",
    "quality_cost_figure",
    "plot_quality_cost",
    "scatter_png",
]

PathLike = str | Path


def _save_figure(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def _positive_log(name: str, values: np.ndarray) -> bool:
    """Whether ``name`` is drawn on a log axis: its default, and only positive finite values."""
    finite = values[np.isfinite(values)]
    return uses_log_scale(name) and finite.size > 0 and bool((finite > 0).all())


def _style_value_axis(axis: Axis, log: bool) -> None:
    """About 5 plain (offset-free) ticks, or decade ticks on a log axis."""
    if log:
        axis.set_major_locator(LogLocator(numticks=6))
        return
    axis.set_major_locator(MaxNLocator(nbins=5))
    axis.set_major_formatter(ScalarFormatter(useOffset=False))


def _set_scale(ax: Axes, which: str, name: str, values: np.ndarray) -> bool:
    log = _positive_log(name, values)
    if log:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    _style_value_axis(ax.xaxis if which == "x" else ax.yaxis, log)
    return log


def _wrap(label: str, width: int = 34) -> str:
    return textwrap.fill(label, width=width, break_long_words=False)


def _history_series(history: Sequence[Mapping[str, Any]], names: Sequence[str], key: str) -> np.ndarray:
    """``(generations, k)`` raw proxy values of one objective statistic of the records."""
    rows = []
    for h in history:
        values = list(h[key])
        if len(values) != len(names):
            raise ValueError(
                f"generation {h.get('generation')}: {key} has {len(values)} values "
                f"but {len(names)} proxies were given: {list(names)}"
            )
        rows.append(values)
    return objectives_to_raw(np.array(rows, dtype=float).reshape(len(history), len(names)), names)


def _grid(panels: int, max_cols: int) -> tuple[int, int]:
    """Rows and columns of a grid of ``panels`` panels, at most ``max_cols`` to a row (1 x 1 for none)."""
    cols = max(1, min(max_cols, panels))
    return -(-max(panels, 1) // cols), cols


def history_figure(history: Sequence[Mapping[str, Any]], names: Sequence[str]) -> Figure:
    """Figure of the best and mean raw value of every proxy per generation.

    Args:
        history: per-generation records holding ``generation``, ``objectives_min`` and
            ``objectives_mean`` (objective values, minimised).
        names: the proxies, in the order of the objective columns.

    Returns:
        One panel per proxy, values in the proxy's unit; "best" is the maximum of a
        higher-is-better proxy and the minimum of a lower-is-better one.

    Raises:
        ValueError: a record does not hold one value per proxy.
    """
    gens = [int(h["generation"]) for h in history]
    best = _history_series(history, names, "objectives_min")
    mean = _history_series(history, names, "objectives_mean")
    rows, cols = _grid(len(names), 4)
    fig = Figure(figsize=(4.8 * cols, 4.0 * rows), layout="constrained")
    for k, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.plot(gens, best[:, k], marker="o", ms=3, label="best of the generation")
        ax.plot(gens, mean[:, k], marker="o", ms=3, ls="--", label="population mean")
        log = _set_scale(ax, "y", name, np.concatenate([best[:, k], mean[:, k]]))
        ax.set_ylabel(_wrap(proxy_label(name, log)), fontsize=9)
        ax.set_xlabel("generation")
        ax.set_title(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if names:
        fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2)
    fig.suptitle("proxy values per generation (best in each proxy's own direction)")
    return fig


def plot_history(history: Sequence[Mapping[str, Any]], names: Sequence[str], path: PathLike) -> None:
    """Write :func:`history_figure` to a PNG file."""
    _save_figure(history_figure(history, names), Path(path))


def _scatter_pair(
    ax: Axes, V: np.ndarray, on_front: np.ndarray, pick: np.ndarray | None, names: Sequence[str], a: int, b: int
) -> None:
    shown = np.isfinite(V[:, a]) & np.isfinite(V[:, b])
    rest, front = shown & ~on_front, shown & on_front
    ax.scatter(V[rest, a], V[rest, b], s=14, c="0.6", label="population")
    ax.scatter(V[front, a], V[front, b], s=22, c="tab:red", label="Pareto front")
    if pick is not None and np.isfinite(pick[[a, b]]).all():
        ax.scatter(
            [pick[a]], [pick[b]], s=200, marker="*", c="k", edgecolors="w", linewidths=0.8, zorder=5, label="pick"
        )
    log_x = _set_scale(ax, "x", names[a], np.append(V[shown, a], [] if pick is None else pick[a]))
    log_y = _set_scale(ax, "y", names[b], np.append(V[shown, b], [] if pick is None else pick[b]))
    ax.set_xlabel(_wrap(proxy_label(names[a], log_x), 60), fontsize=9)
    ax.set_ylabel(_wrap(proxy_label(names[b], log_y)), fontsize=9)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(alpha=0.3)


def _front_title(V: np.ndarray, front: Sequence[int], pick: np.ndarray | None, generation: int | None) -> str:
    head = "population" if generation is None else f"population of generation {generation}"
    text = f"{head}: {len(V)} cells, {len(set(front))} on the Pareto front"
    failed = int((~np.isfinite(V).all(axis=1)).sum()) if V.size else 0
    if failed:
        text += f", {failed} failed (not shown)"
    if pick is not None and not np.isfinite(pick).all():
        text += "; the pick has no finite value to mark"
    return text


def front_figure(
    values: np.ndarray,
    front: Sequence[int],
    names: Sequence[str],
    pick: PickLike | None = None,
    generation: int | None = None,
) -> Figure:
    """Figure scattering raw proxy values for each pair of proxies, front and pick highlighted.

    Args:
        values: ``(n, k)`` raw proxy values of the population (NaN for failed cells,
            which are left out).
        front: row indices of the non-dominated cells.
        names: the proxies, one per column.
        pick: the picked cell's ``{proxy: value}`` scores or raw values; its star is drawn
            at those values whether or not the cell is in ``values``.
        generation: shown in the title when given.

    Raises:
        ValueError: ``values``, ``pick`` or ``front`` do not fit ``names`` and the population.
    """
    V = _as_matrix(values, names)
    if any(not 0 <= int(i) < len(V) for i in front):
        raise ValueError(f"front indices {list(front)} are outside the population of {len(V)} cells")
    pick_raw = pick_values(pick, names)
    pairs = front_pairs(len(names))
    rows, cols = _grid(len(pairs), 3)
    fig = Figure(figsize=(5.4 * cols, 4.6 * rows), layout="constrained")
    on_front = np.zeros(len(V), dtype=bool)
    on_front[[int(i) for i in front]] = True
    for n, (a, b) in enumerate(pairs):
        _scatter_pair(fig.add_subplot(rows, cols, n + 1), V, on_front, pick_raw, names, a, b)
    handles = {label: h for ax in fig.axes for h, label in zip(*ax.get_legend_handles_labels(), strict=False)}
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=len(handles))
    fig.suptitle(_front_title(V, front, pick_raw, generation), fontsize=11)
    return fig


MAX_ALL_PAIRS = 4
"""Up to this many proxies the front plot shows every pair; beyond, each proxy against the next."""


def front_pairs(k: int) -> list[tuple[int, int]]:
    """The proxy pairs of the front plot: all of them for a few proxies, else a chain, so that
    eight objectives give 7 legible panels instead of 28."""
    if k <= 1:
        return [(0, 0)]
    if k <= MAX_ALL_PAIRS:
        return list(itertools.combinations(range(k), 2))
    return [(i, i + 1) for i in range(k - 1)]


def _as_matrix(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``values`` as an ``(n, k)`` float matrix with NaN for non-finite entries.

    Raises:
        ValueError: ``values`` does not have one column per name.
    """
    V = np.array(values, dtype=float)
    V = V.reshape(0, len(names)) if V.size == 0 else V.reshape(len(V), -1)
    if V.shape[1] != len(names):
        raise ValueError(f"values have {V.shape[1]} columns but {len(names)} proxies were given: {list(names)}")
    V[~np.isfinite(V)] = np.nan
    return V


def plot_front(
    values: np.ndarray,
    front: Sequence[int],
    names: Sequence[str],
    path: PathLike,
    pick: PickLike | None = None,
    generation: int | None = None,
    *,
    raw: bool = False,
) -> None:
    """Write :func:`front_figure` of a population to a PNG file.

    Args:
        values: ``(n, k)`` objectives (minimised), shown as raw proxy values
            (:func:`~fne.evolution.fitness.units.objectives_to_raw`); with ``raw``, the raw
            values themselves (a NaN leaves the cell out).
        front: row indices of the non-dominated cells.
        names: the proxies, one per column.
        path: the PNG file.
        pick: the picked cell's ``{proxy: value}`` scores or raw values.
        generation: shown in the title when given.
        raw: ``values`` are raw proxy values, not objectives.
    """
    shown = values if raw else objectives_to_raw(values, names)
    _save_figure(front_figure(shown, front, names, pick, generation), Path(path))


def quality_cost_figure(
    quality: Sequence[float],
    cost: Sequence[float],
    front: Sequence[int],
    label: str,
    limit: float | None = None,
    pick: int = 0,
    title: str = "",
) -> Figure:
    """Quality (up) against cost (right): every cell, the front as a staircase, the limit and the pick.

    Args:
        quality: per cell, its training-free quality in [0, 1] (1 = ranked first).
        cost: per cell, its cost (a log axis when all are positive and span more than 10x).
        front: indices of the front's cells.
        label: the cost axis label with its unit.
        limit: the largest cost allowed (a dashed line), or None.
        pick: index of the picked cell (starred).
        title: the figure title.
    """
    q, c = np.asarray(quality, float), np.asarray(cost, float)
    keep = np.isfinite(q) & np.isfinite(c)
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.subplots()
    ax.scatter(c[keep], q[keep], s=10, color="0.65", label=f"evaluated ({int(keep.sum())})")
    shown = [i for i in front if keep[i]]
    if shown:
        order = sorted(shown, key=lambda i: c[i])
        ax.step(c[order], q[order], where="post", color="tab:red", linewidth=1.2)
        ax.scatter(c[order], q[order], s=22, color="tab:red", zorder=3, label=f"front ({len(order)})")
    if 0 <= pick < len(q) and keep[pick]:
        ax.scatter([c[pick]], [q[pick]], marker="*", s=180, color="gold", edgecolor="black", zorder=4, label="pick")
    if limit is not None:
        ax.axvline(limit, color="black", linestyle="--", linewidth=1.0, label=f"limit {limit:g}")
    positive = c[keep][c[keep] > 0]
    if positive.size == keep.sum() and positive.size and positive.max() > 10 * positive.min():
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("training-free quality (share of evaluated cells ranked below)")
    ax.set_ylim(-0.03, 1.05)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "quality against cost", fontsize=10)
    fig.tight_layout()
    return fig


def plot_quality_cost(
    quality: Sequence[float],
    cost: Sequence[float],
    front: Sequence[int],
    label: str,
    path: PathLike,
    limit: float | None = None,
    pick: int = 0,
    title: str = "",
) -> None:
    """Write :func:`quality_cost_figure` to a PNG file (same arguments, and ``path``)."""
    _save_figure(quality_cost_figure(quality, cost, front, label, limit, pick, title), Path(path))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scatter_png(
    path: str | Path,
    x: np.ndarray,
    y: np.ndarray,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    color: np.ndarray | None = None,
    color_label: str = "",
    log_x: bool = False,
) -> Path:
    """Write a scatter plot of the finite points of ``(x, y)`` to ``path`` (PNG).

    Args:
        path: output file.
        x: horizontal values.
        y: vertical values.
        title: plot title.
        xlabel: horizontal axis label.
        ylabel: vertical axis label.
        color: optional values colouring the points (with a colour bar).
        color_label: label of the colour bar.
        log_x: logarithmic horizontal axis (used when all finite x are positive).
    """
    plt = _pyplot()
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    fig, ax = plt.subplots(figsize=(5.0, 4.0), dpi=110)
    try:
        points = ax.scatter(
            x[keep], y[keep], s=8, alpha=0.7, c=None if color is None else np.asarray(color, float)[keep]
        )
        if color is not None:
            fig.colorbar(points, ax=ax, label=color_label)
        if log_x and keep.any() and (x[keep] > 0).all():
            ax.set_xscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
