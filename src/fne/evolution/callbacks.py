"""Observers of a search: logging, population files, checkpoints and plots.

Callbacks receive read-only :class:`~fne.evolution.evolution.Snapshot` copies and cannot
steer the search. Every file is written atomically (temporary file + rename)::

    callbacks = [LoggingCallback(), PopulationWriter(out / "population.json"),
                 CheckpointCallback(out / "checkpoint.json", config), PlotCallback(out / "plots", proxies)]
    Evolution(space=space, scorer=scorer, callbacks=callbacks).run()
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fne.evolution.evolution import Callback, EvolutionResult, Snapshot
from fne.evolution.fitness.units import scores_to_raw
from fne.files import atomic_write_json
from fne.plots import plot_front, plot_history, plot_quality_cost
from fne.search.checkpoint import save_checkpoint

logger = logging.getLogger(__name__)

__all__ = ["LoggingCallback", "PopulationWriter", "CheckpointCallback", "PlotCallback"]

PathLike = str | Path


class LoggingCallback(Callback):
    """Logs one line per generation (evaluations, front size, current pick, rates)."""

    def __init__(self, logger_: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.logger, self.level = logger_ or logger, level

    def on_generation(self, snapshot: Snapshot) -> None:
        rec = snapshot.record
        self.logger.log(
            self.level,
            "generation %d: %d evaluated, front %d, pick %s, rates c=%.2f m=%.2f%s",
            rec.get("generation"),
            rec.get("evaluations"),
            rec.get("front_size"),
            rec.get("best", {}).get("arch"),
            rec.get("crossover_rate", 0.0),
            rec.get("mutation_rate", 0.0),
            " (tournament)" if rec.get("tournament") else "",
        )

    def on_end(self, result: EvolutionResult) -> None:
        self.logger.log(self.level, "search done: %d cells evaluated, pick %s", result.evaluations, result.best["arch"])


class PopulationWriter(Callback):
    """Writes the population after every generation to one JSON file, atomically."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)

    def on_generation(self, snapshot: Snapshot) -> None:
        front = set(snapshot.front)
        atomic_write_json(
            self.path,
            {
                "generation": snapshot.generation,
                "population": [
                    {"arch": arch, "scores": scores, "objectives": [float(v) for v in obj], "front": i in front}
                    for i, (arch, scores, obj) in enumerate(
                        zip(snapshot.population, snapshot.scores, snapshot.objectives, strict=False)
                    )
                ],
            },
        )


class CheckpointCallback(Callback):
    """Saves a checkpoint (config + evolution state) after every generation.

    Args:
        path: the checkpoint file.
        config: the run's configuration.
        extra: called at each save; its keys are stored beside the state (e.g. timings).
    """

    def __init__(
        self, path: PathLike, config: Mapping[str, Any], extra: Callable[[], Mapping[str, Any]] | None = None
    ) -> None:
        self.path, self.config, self.extra = Path(path), dict(config), extra

    def on_generation(self, snapshot: Snapshot) -> None:
        save_checkpoint(
            self.path, config=self.config, state=snapshot.state_dict(), extra=self.extra() if self.extra else None
        )


class PlotCallback(Callback):
    """Draws ``objectives.png`` (per generation), ``pareto_front.png`` and, with a budget,
    ``front.png`` (quality against cost, :func:`fne.plots.plot_quality_cost`) as a run goes.

    Both show raw proxy values in their units; failed cells are left out of the front plot
    and the pick is starred at its own scores. Drawing takes about a second per figure, so a
    generation redraws them only when ``every_s`` seconds have passed since the last drawing
    (or the start); the run's end always draws the last generation.

    Args:
        folder: where the PNG files go.
        names: the proxies, one per objective.
        every_s: least seconds between two drawings during the run (0: every generation).
    """

    def __init__(self, folder: PathLike, names: Sequence[str], every_s: float = 60.0) -> None:
        self.folder, self.names, self.every_s = Path(folder), list(names), float(every_s)
        self.history: list[dict[str, Any]] = []
        self._last_drawn = -math.inf
        self._pending: Snapshot | None = None

    def on_start(self, snapshot: Snapshot | None) -> None:
        self._last_drawn = time.monotonic()
        if snapshot is not None:
            self.history = list(snapshot.state_dict()["history"])

    def on_generation(self, snapshot: Snapshot) -> None:
        self.history.append(dict(snapshot.record))
        self._pending = snapshot
        if time.monotonic() - self._last_drawn >= self.every_s:
            self._draw()

    def on_end(self, result: EvolutionResult) -> None:
        if self._pending is not None:
            self._draw()

    def _draw(self) -> None:
        """Draw the history and the last pending generation's population (nothing when none is pending)."""
        snapshot, self._pending = self._pending, None
        if snapshot is None:
            return
        plot_history(self.history, self.names, self.folder / "objectives.png")
        pick = snapshot.record.get("best", {}).get("scores")
        values = scores_to_raw(snapshot.scores, self.names)
        path = self.folder / "pareto_front.png"
        plot_front(values, snapshot.front, self.names, path, pick, snapshot.generation, raw=True)
        if snapshot.cost_front is not None:
            view = snapshot.cost_front
            title = f"generation {snapshot.generation}: quality against {view['label']}"
            plot_quality_cost(
                view["quality"],
                view["cost"],
                view["front"],
                view["label"],
                self.folder / "front.png",
                view["limit"],
                title=title,
            )
        self._last_drawn = time.monotonic()
