"""Search plots: raw proxy values with units and directions, integer generations, legible
ticks, the pick's star at its own scores, and failed cells."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import fne.plots as plots
from fne.evolution.callbacks import PlotCallback
from fne.evolution.evolution import Snapshot
from fne.evolution.fitness import register_proxy, unregister_proxy
from fne.evolution.fitness.units import objectives_to_raw, pick_values, proxy_label, scores_to_raw
from fne.plots import front_figure, front_pairs, history_figure, plot_front, plot_history

PNG = b"\x89PNG\r\n\x1a\n"


def _history(raw_best: list[list[float]], raw_mean: list[list[float]], names: list[str]) -> list[dict[str, Any]]:
    """Records holding objectives (minimised) of the given raw values."""
    signs = np.array([-1.0 if n in ("params", "synflow", "naswot") else 1.0 for n in names])
    return [
        {"generation": g, "objectives_min": list(signs * np.array(b)), "objectives_mean": list(signs * np.array(m))}
        for g, (b, m) in enumerate(zip(raw_best, raw_mean, strict=False))
    ]


def _collection(ax: Any, label: str) -> Any:
    found = [c for c in ax.collections if c.get_label() == label]
    assert len(found) == 1, [c.get_label() for c in ax.collections]
    return found[0]


def _draw(fig: Any) -> Any:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


@pytest.mark.parametrize(
    "name, label",
    [
        ("params", "params (M parameters, higher is better)"),
        ("synflow", "synflow (log synaptic flow, higher is better)"),
        ("ntk", "ntk (condition number, lower is better; log scale)"),
        ("naswot", "naswot (log-determinant, higher is better)"),
        ("flops", "flops (M FLOPs, higher is better)"),
        ("grad_corr", "grad_corr (score, higher is better)"),
        ("linear_regions", "linear_regions (distinct patterns, higher is better)"),
    ],
)
def test_builtin_proxy_labels_name_unit_and_direction(name: str, label: str) -> None:
    assert proxy_label(name) == label


def test_user_proxy_labels_name_and_direction() -> None:
    register_proxy("test_plots_mean", higher_is_better=False)(lambda net, x, y: 0.0)
    try:
        assert proxy_label("test_plots_mean") == "test_plots_mean (lower is better)"
        assert proxy_label("ntk", log_scale=False) == "ntk (condition number, lower is better)"
    finally:
        unregister_proxy("test_plots_mean")
    assert proxy_label("test_plots_mean") == "test_plots_mean (objective, minimised)"


def test_objectives_back_to_raw_values() -> None:
    raw = objectives_to_raw(np.array([[-1.5, 30.0, -60.0], [-0.5, np.inf, np.nan]]), ["params", "ntk", "synflow"])
    np.testing.assert_array_equal(raw[0], [1.5, 30.0, 60.0])
    assert raw[1, 0] == 0.5 and np.isnan(raw[1, 1:]).all()
    assert np.isnan(scores_to_raw([{"params": math.inf}], ["params", "ntk"])).all()
    np.testing.assert_array_equal(pick_values({"ntk": 3.0, "params": 2.0}, ["params", "ntk"]), [2.0, 3.0])
    with pytest.raises(ValueError, match="2 proxies"):
        pick_values([1.0, 2.0, 3.0], ["params", "ntk"])


def test_history_shows_raw_best_and_mean_in_each_direction() -> None:
    names = ["params", "ntk"]
    history = _history([[1.0, 50.0], [1.2, 40.0], [1.4, 30.0]], [[0.5, 500.0], [0.7, 400.0], [0.9, 300.0]], names)
    fig = history_figure(history, names)
    params_ax, ntk_ax = fig.axes
    best, mean = params_ax.get_lines()
    np.testing.assert_allclose(best.get_ydata(), [1.0, 1.2, 1.4])
    np.testing.assert_allclose(mean.get_ydata(), [0.5, 0.7, 0.9])
    np.testing.assert_allclose(ntk_ax.get_lines()[0].get_ydata(), [50.0, 40.0, 30.0])
    assert " ".join(params_ax.get_ylabel().split()) == "params (M parameters, higher is better)"
    assert " ".join(ntk_ax.get_ylabel().split()) == "ntk (condition number, lower is better; log scale)"
    assert ntk_ax.get_yscale() == "log" and params_ax.get_yscale() == "linear"
    assert "minimised" not in fig.get_suptitle() and all("minimised" not in ax.get_title() for ax in fig.axes)


def test_history_generation_ticks_are_integers() -> None:
    names = ["params", "synflow"]
    history = _history([[1.0, 50.0], [1.1, 51.0], [1.3, 52.0]], [[0.5, 40.0]] * 3, names)
    fig = history_figure(history, names)
    _draw(fig)
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_front_star_is_at_the_pick_even_outside_the_population() -> None:
    names = ["params", "synflow"]
    values = np.array([[0.4, 40.0], [0.9, 45.0], [1.1, 42.0], [0.6, 50.0]])
    fig = front_figure(values, [1, 2, 3], names, {"params": 1.6, "synflow": 55.5, "ntk": 9.0}, generation=12)
    ax = fig.axes[0]
    np.testing.assert_allclose(_collection(ax, "pick").get_offsets(), [[1.6, 55.5]])
    np.testing.assert_allclose(_collection(ax, "Pareto front").get_offsets(), values[1:])
    np.testing.assert_allclose(_collection(ax, "population").get_offsets(), values[:1])
    assert " ".join(ax.get_xlabel().split()) == "params (M parameters, higher is better)"
    assert " ".join(ax.get_ylabel().split()) == "synflow (log synaptic flow, higher is better)"
    assert "generation 12" in fig.get_suptitle() and "minimised" not in fig.get_suptitle()


def test_plot_front_converts_objectives_and_takes_raw_pick(tmp_path: Path, monkeypatch) -> None:
    figures = []
    monkeypatch.setattr(plots, "_save_figure", lambda fig, path: figures.append(fig))
    plot_front(np.array([[-0.5, 30.0], [-1.0, 10.0]]), [1], ["params", "ntk"], tmp_path / "f.png", pick=[2.0, 5.0])
    ax = figures[0].axes[0]
    np.testing.assert_allclose(_collection(ax, "Pareto front").get_offsets(), [[1.0, 10.0]])
    np.testing.assert_allclose(_collection(ax, "pick").get_offsets(), [[2.0, 5.0]])
    assert ax.get_yscale() == "log" and "lower is better; log scale" in " ".join(ax.get_ylabel().split())


def _overlaps(boxes: list[Any]) -> list[Any]:
    return [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]


def test_front_tick_labels_do_not_overlap() -> None:
    names = ["naswot", "grad_corr", "ntk"]
    rng = np.random.default_rng(0)
    values = np.column_stack(
        [1234.5678 + rng.random(30) * 0.9, -1500.123 + rng.random(30) * 0.02, 10 ** (1 + 3 * rng.random(30))]
    )
    fig = front_figure(values, [0, 1], names, list(values[5]))
    renderer = _draw(fig)
    for ax in fig.axes:
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = [t.get_window_extent(renderer) for t in labels if t.get_visible() and t.get_text()]
            assert 2 <= len(boxes) <= 8 and not _overlaps(boxes), [t.get_text() for t in labels]
        assert ax.xaxis.get_major_formatter().get_offset() == ""


def test_non_finite_values_do_not_break_the_plots(tmp_path: Path) -> None:
    names = ["params", "ntk"]
    values = np.array([[0.5, np.nan], [np.inf, 3.0], [0.8, 20.0], [np.nan, np.nan]])
    fig = front_figure(values, [2], names, {"params": math.nan, "ntk": 4.0})
    assert "3 failed (not shown)" in fig.get_suptitle() and "pick" in fig.get_suptitle()
    assert not [c for c in fig.axes[0].collections if c.get_label() == "pick"]
    np.testing.assert_allclose(_collection(fig.axes[0], "population").get_offsets(), np.empty((0, 2)))
    history = [
        {"generation": 0, "objectives_min": [math.nan, math.inf], "objectives_mean": [math.nan, math.nan]},
        {"generation": 1, "objectives_min": [-1.0, 5.0], "objectives_mean": [-0.5, 9.0]},
    ]
    plot_history(history, names, tmp_path / "h.png")
    plot_front(values, [2], names, tmp_path / "f.png", pick={"params": 0.7, "ntk": 8.0})
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG and (tmp_path / "f.png").read_bytes()[:8] == PNG


def test_plot_callback_stars_the_pick_from_its_scores(tmp_path: Path, monkeypatch) -> None:
    names = ["params", "synflow"]
    figures: dict[str, Any] = {}
    saved = plots._save_figure

    def keep(fig: Any, path: Path) -> None:
        figures[path.name] = fig
        saved(fig, path)

    monkeypatch.setattr(plots, "_save_figure", keep)
    scores = ({"params": 0.4, "synflow": 40.0}, {"params": 0.9, "synflow": math.nan}, {"params": 1.1, "synflow": 48.0})
    record = {
        "generation": 3,
        "objectives_min": [-1.1, -48.0],
        "objectives_mean": [-0.8, -44.0],
        "best": {"arch": "not in the population", "scores": {"params": 1.5, "synflow": 60.0}},
    }
    snapshot = Snapshot(
        generation=3,
        population=("a", "b", "c"),
        scores=scores,
        objectives=np.array([[-0.4, -40.0], [-0.9, -46.0], [-1.1, -48.0]]),
        front=(2,),
        record=record,
        state=lambda: {"history": []},
    )
    PlotCallback(tmp_path, names, every_s=0).on_generation(snapshot)
    ax = figures["pareto_front.png"].axes[0]
    np.testing.assert_allclose(_collection(ax, "pick").get_offsets(), [[1.5, 60.0]])
    np.testing.assert_allclose(_collection(ax, "population").get_offsets(), [[0.4, 40.0]])
    assert "1 failed" in figures["pareto_front.png"].get_suptitle()
    np.testing.assert_allclose(figures["objectives.png"].axes[0].get_lines()[0].get_ydata(), [1.1])
    for name in ("pareto_front.png", "objectives.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_the_front_plot_stays_legible_with_many_objectives() -> None:
    assert front_pairs(2) == [(0, 1)] and len(front_pairs(4)) == 6
    assert front_pairs(8) == [(i, i + 1) for i in range(7)]
    names = ["params", "synflow", "ntk", "naswot", "grad_corr", "flops"]
    values = np.random.default_rng(0).uniform(1.0, 2.0, (10, len(names)))
    fig = front_figure(values, [0, 1], names)
    assert len([ax for ax in fig.axes if ax.get_xlabel()]) == len(names) - 1


def test_plot_callback_draws_at_most_every_interval_and_at_the_end(tmp_path: Path) -> None:
    names = ["params", "synflow"]
    scores = ({"params": 0.4, "synflow": 40.0}, {"params": 1.1, "synflow": 48.0})
    record = {
        "generation": 0,
        "objectives_min": [-1.1, -48.0],
        "objectives_mean": [-0.8, -44.0],
        "best": {"arch": "b", "scores": scores[1]},
    }
    snapshot = Snapshot(
        generation=0,
        population=("a", "b"),
        scores=scores,
        objectives=np.array([[-0.4, -40.0], [-1.1, -48.0]]),
        front=(1,),
        record=record,
        state=lambda: {"history": []},
    )
    callback = PlotCallback(tmp_path, names, every_s=3600)
    callback.on_start(None)
    callback.on_generation(snapshot)
    assert not (tmp_path / "pareto_front.png").exists()
    callback.on_end(None)
    for name in ("pareto_front.png", "objectives.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
