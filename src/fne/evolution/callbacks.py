"""Observers of a search: logging, population files, checkpoints and plots.

Callbacks receive read-only :class:`~fne.evolution.evolution.Snapshot` copies and cannot
steer the search. Every file is written atomically (temporary file + rename)::

    callbacks = [LoggingCallback(), PopulationWriter(out / "population.json"),
                 CheckpointCallback(out / "checkpoint.json", config), PlotCallback(out / "plots", proxies)]
    Evolution(space=space, scorer=scorer, callbacks=callbacks).run()
"""

from __future__ import annotations

import io
import itertools
import logging
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .checkpoint import atomic_write_bytes, atomic_write_json, save_checkpoint
from .evolution import Callback, EvolutionResult, Snapshot

logger = logging.getLogger(__name__)

__all__ = ["LoggingCallback", "HistoryCallback", "PopulationWriter", "CheckpointCallback", "PlotCallback",
           "plot_history", "plot_front"]

PathLike = Union[str, Path]


class LoggingCallback(Callback):
    """Logs one line per generation (evaluations, front size, current pick, rates)."""

    def __init__(self, logger_: Optional[logging.Logger] = None, level: int = logging.INFO) -> None:
        self.logger, self.level = logger_ or logger, level

    def on_generation(self, snapshot: Snapshot) -> None:
        rec = snapshot.record
        self.logger.log(self.level, "generation %d: %d evaluated, front %d, pick %s, rates c=%.2f m=%.2f%s",
                        rec.get("generation"), rec.get("evaluations"), rec.get("front_size"),
                        rec.get("best", {}).get("arch"), rec.get("crossover_rate", 0.0),
                        rec.get("mutation_rate", 0.0), " (tournament)" if rec.get("tournament") else "")

    def on_end(self, result: EvolutionResult) -> None:
        self.logger.log(self.level, "search done: %d cells evaluated, pick %s", result.evaluations,
                        result.best["arch"])


class HistoryCallback(Callback):
    """Keeps a copy of every generation's record in :attr:`records`."""

    def __init__(self) -> None:
        self.records: List[Dict[str, Any]] = []

    def on_generation(self, snapshot: Snapshot) -> None:
        self.records.append(dict(snapshot.record))


class PopulationWriter(Callback):
    """Writes the population after every generation to one JSON file, atomically."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)

    def on_generation(self, snapshot: Snapshot) -> None:
        front = set(snapshot.front)
        atomic_write_json(self.path, {
            "generation": snapshot.generation,
            "population": [{"arch": arch, "scores": scores, "objectives": [float(v) for v in obj],
                            "front": i in front}
                           for i, (arch, scores, obj) in enumerate(zip(snapshot.population, snapshot.scores,
                                                                       snapshot.objectives))],
        })


class CheckpointCallback(Callback):
    """Saves a checkpoint (config + evolution state) after every generation."""

    def __init__(self, path: PathLike, config: Mapping[str, Any]) -> None:
        self.path, self.config = Path(path), dict(config)

    def on_generation(self, snapshot: Snapshot) -> None:
        save_checkpoint(self.path, config=self.config, state=snapshot.state_dict())


def _save_figure(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def plot_history(history: Sequence[Mapping[str, Any]], names: Sequence[str], path: PathLike) -> None:
    """Plot the best and mean of every objective per generation into a PNG file."""
    fig = Figure(figsize=(4 * len(names), 3.2))
    gens = [h["generation"] for h in history]
    for k, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), k + 1)
        ax.plot(gens, [h["objectives_min"][k] for h in history], label="best")
        ax.plot(gens, [h["objectives_mean"][k] for h in history], label="mean")
        ax.set_xlabel("generation")
        ax.set_title(f"{name} (minimised)")
        ax.legend()
    _save_figure(fig, Path(path))


def plot_front(objectives: np.ndarray, front: Sequence[int], names: Sequence[str], path: PathLike,
               best: Optional[int] = None) -> None:
    """Scatter the population for each pair of objectives, front and pick highlighted."""
    F = np.asarray(objectives, dtype=float)
    pairs = list(itertools.combinations(range(F.shape[1]), 2)) or [(0, 0)]
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows))
    mask = np.zeros(len(F), dtype=bool)
    mask[list(front)] = True
    for n, (a, b) in enumerate(pairs):
        ax = fig.add_subplot(rows, cols, n + 1)
        ax.scatter(F[~mask, a], F[~mask, b], s=12, c="0.6", label="population")
        ax.scatter(F[mask, a], F[mask, b], s=18, c="tab:red", label="Pareto front")
        if best is not None:
            ax.scatter(F[best, a], F[best, b], s=90, marker="*", c="k", label="pick")
        ax.set_xlabel(names[a])
        ax.set_ylabel(names[b])
        ax.legend(fontsize=7)
    fig.suptitle("objectives (minimised) of the population; front in red")
    fig.tight_layout()
    _save_figure(fig, Path(path))


class PlotCallback(Callback):
    """Redraws ``objectives.png`` (per generation) and ``pareto_front.png`` after each generation."""

    def __init__(self, folder: PathLike, names: Sequence[str]) -> None:
        self.folder, self.names = Path(folder), list(names)
        self.history: List[Dict[str, Any]] = []

    def on_start(self, snapshot: Optional[Snapshot]) -> None:
        if snapshot is not None:
            self.history = list(snapshot.state_dict()["history"])

    def on_generation(self, snapshot: Snapshot) -> None:
        self.history.append(dict(snapshot.record))
        plot_history(self.history, self.names, self.folder / "objectives.png")
        best = _index_of(snapshot.population, snapshot.record.get("best", {}).get("arch"))
        plot_front(snapshot.objectives, snapshot.front, self.names, self.folder / "pareto_front.png", best)


def _index_of(items: Sequence[str], value: Optional[str]) -> Optional[int]:
    return items.index(value) if value in items else None
