"""A complete, resumable search on a dataset's images, as ``fne search`` and ``NAS_on_cifar10.py`` run it.

::

    config = SearchConfig(space="nb201", data_dir="../shared/data", out="runs/nas", seed=0)
    summary = run_search(config)          # writes result.json, population.json, checkpoint.json, plots/
    print(summary["best"]["arch"])

Files in ``config.out`` (all written atomically):

* ``checkpoint.json``: configuration and evolution state after every generation (and one
  before the first), which ``resume=True`` continues from;
* ``population.json``: the population after every generation;
* ``scores_cache.json``: proxy scores by canonical cell (so a resumed run rescoring the
  interrupted generation reads them back);
* ``plots/objectives.png``, ``plots/pareto_front.png`` and ``plots/front.png`` (quality
  against cost);
* ``result.json``: ``best`` (``{"arch", "scores", "costs"}``), the quality-cost ``front``
  (each cell with its ``costs`` and ``quality``), the ``budget`` (the cost axis, each cost's
  settings, the limits), per-generation ``history``, ``config``, ``evaluations``,
  ``wall_time_s`` and, on request, the trained network's test accuracy and the benchmark's
  accuracy of the pick;
* with ``train_epochs``: ``model.pt``, the trained pick (:func:`fne.load_model`), and while
  it trains ``train_state.pt``, from which an interrupted training resumes by epoch; with
  ``ensemble`` K > 1, the ensemble of the ranking's first K cells (``members/<i>/`` holds
  each member, :mod:`fne.training.ensemble`);
* ``report.html``: the run in one self-contained page (:mod:`fne.run_report`), written at the
  end.

The data (``data_dir``, ``dataset``) can be any classification dataset :func:`fne.data.load_dataset`
reads; its channels and classes size every network of the run.

Every cell is measured on the budget's costs (:mod:`fne.costs`) as the network it would be
trained as (the space's ``full`` preset at the data's channels, classes and image size)
before it is scored; a cell over a limit (``max_params``, ``max_flops``, ``max_latency_ms``,
``max_cost``) is never scored, picked nor on the front.

Nothing is written before the options, the data folder, the benchmark table (every row
parsed in the searched space) and the budget (some random cell fits it) have been checked.
A run holds an exclusive lock on ``out`` (``out/.lock``) for its lifetime: a second run into the same folder is refused
at once. ``result.json`` is written as soon as the search ends, before the pick is
trained or looked up, and again after each of those steps; a step that fails is recorded
in it (``{"error": ...}``) rather than losing the search. ``wall_time_s`` is the whole run,
summed over the segments of a resumed run, with a breakdown in ``timing``. Resuming a
finished run changes nothing.

Scoring and the tournaments' candidate training go through one evaluator (``workers``
processes, or this process when ``workers`` is 1), each worker with ``threads`` torch
threads (default 1): the result is the same for every backend and worker count.
Everything random derives from ``seed``, so a run killed at any moment and resumed ends
with the same result as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fne.compute import Evaluator, evaluator_for, resolve_device, torch_threads
from fne.costs import Budget, NetworkSpec
from fne.data import Dataset, Split, dataset_network_kwargs, load_dataset, sample_batch, split_tensors, train_val_split
from fne.evolution.callbacks import CheckpointCallback, LoggingCallback, PlotCallback, PopulationWriter
from fne.evolution.evolution import Evolution
from fne.evolution.fitness import Scorer
from fne.evolution.tournament import DartsTournament
from fne.files import atomic_write_json, check_out_folder
from fne.genotopheno import get_space
from fne.genotopheno.space import SearchSpace
from fne.run_report import write_run_report
from fne.search.benchmark_table import check_benchmark, lookup_benchmark, read_benchmark
from fne.search.checkpoint import read_checkpoint, save_checkpoint
from fne.search.clock import RunClock
from fne.search.config import SearchConfig
from fne.search.front import front_table
from fne.search.lock import FolderLock
from fne.training.ensemble import train_ensemble
from fne.training.train_cell import train_cell

logger = logging.getLogger(__name__)

__all__ = ["run_search", "build_scorer", "build_budget", "search_splits", "RESUME_IGNORED"]

CHECKPOINT = "checkpoint.json"
RESULT = "result.json"
RANKED = 10
"""Cells of the pick order ``result.json`` keeps as ``ranked`` (at least ``ensemble``)."""
POPULATION = "population.json"
SCORES_CACHE = "scores_cache.json"
RESUME_IGNORED = (
    "out",
    "resume",
    "device",
    "train_epochs",
    "ensemble",
    "training",
    "benchmark",
    "benchmark_metric",
    "generations",
    "data_dir",
    "download",
    "workers",
    "backend",
    "ray_address",
    "threads",
)
"""Configuration keys that may change when a run is resumed."""


def _check_out(config: SearchConfig) -> None:
    """Before anything is written: the output folder can hold this run."""
    out = Path(config.out)
    check_out_folder(out)
    if config.resume and not (out / CHECKPOINT).exists() and not (out / RESULT).exists():
        raise FileNotFoundError(f"--resume: no checkpoint {out / CHECKPOINT}; run without --resume to start")


def _prepare_out(config: SearchConfig) -> dict[str, Any] | None:
    """With the folder locked: the checkpoint document when resuming, None for a new run."""
    out = Path(config.out)
    if not config.resume:
        if (out / CHECKPOINT).exists() or (out / RESULT).exists():
            raise ValueError(
                f"--out {out} already holds a run; pass --resume to continue it or choose "
                "another --out (nothing was overwritten)"
            )
        return None
    return read_checkpoint(out / CHECKPOINT, config=config.to_dict(), ignore=RESUME_IGNORED)


def _finished_result(config: SearchConfig) -> dict[str, Any] | None:
    """The ``result.json`` of a finished run in ``out`` when resuming it, else None."""
    path = Path(config.out) / RESULT
    if not (config.resume and path.is_file()):
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is corrupt ({err}); move it away to finish the run from its checkpoint") from None
    if not isinstance(result, dict) or "best" not in result:
        raise ValueError(f"{path} is not a search result; move it away to finish the run from its checkpoint")
    return result


def search_splits(config: SearchConfig, data: Dataset) -> tuple[Split, Split]:
    """The seeded, stratified split of the training images into search-train and validation."""
    return train_val_split(data.train, config.val_fraction, np.random.default_rng(config.seed))


def build_scorer(
    config: SearchConfig,
    data: Dataset,
    space: SearchSpace,
    cache_file: Path | None = None,
    evaluator: Evaluator | None = None,
) -> Scorer:
    """The search's scorer: a fixed, class-balanced batch of search-train images, seeded by ``seed``."""
    train, _ = search_splits(config, data)
    inputs, targets = sample_batch(train, config.proxy_batch, torch.Generator().manual_seed(config.seed), balanced=True)
    return Scorer(
        space,
        config.proxies,
        inputs=inputs,
        targets=targets,
        device=str(resolve_device(config.device)),
        seed=config.seed,
        cache_file=cache_file,
        build_kwargs={**config.network_kwargs(), **dataset_network_kwargs(data)},
        evaluator=evaluator,
    )


def build_budget(config: SearchConfig, data: Dataset, space: SearchSpace) -> Budget:
    """The run's budget: its costs measured on the space's ``full`` network for ``data``."""
    channels, (height, width) = data.channels, data.image_size
    spec = NetworkSpec(space, {**space.preset("full"), **dataset_network_kwargs(data)}, (channels, height, width))
    return config.budget(spec)


def build_tournaments(
    config: SearchConfig, data: Dataset, evaluator: Evaluator | None
) -> tuple[DartsTournament | None, DartsTournament | None]:
    """The usual and the final tournament of a search (None when switched off)."""
    if config.tournament_every <= 0 and config.final_tournament_size <= 0:
        return None, None
    train, val = (split_tensors(split) for split in search_splits(config, data))

    shared: dict[str, Any] = {
        "warmup": config.tournament_warmup,
        "batch_size": config.tournament_batch,
        "build_kwargs": {**config.tournament_network_kwargs(), **dataset_network_kwargs(data)},
        "device": resolve_device(config.device),
        "evaluator": evaluator,
    }

    def darts_tournament(size: int, keep: int, steps: int, loss: str) -> DartsTournament:
        return DartsTournament(train=train, val=val, size=size, keep=keep, steps=steps, weight_loss=loss, **shared)

    tournament = final = None
    if config.tournament_every > 0:
        tournament = darts_tournament(
            config.tournament_size, config.tournament_keep, config.tournament_steps, config.tournament_weight_loss
        )
    if config.final_tournament_size > 0:
        final = darts_tournament(
            config.final_tournament_size, 1, config.final_tournament_steps, config.final_tournament_loss
        )
    return tournament, final


@dataclass
class _Run:
    """The parts of one run segment."""

    config: SearchConfig
    space: SearchSpace
    data: Dataset
    evaluator: Evaluator
    clock: RunClock
    budget: Budget
    scorer: Scorer | None = None
    tournaments: tuple[DartsTournament | None, ...] = ()

    def timing(self) -> dict[str, Any]:
        """The run's time so far, this segment included."""
        return self.clock.snapshot(
            scoring=self.scorer.seconds if self.scorer else 0.0,
            tournaments=sum(t.seconds for t in self.tournaments if t is not None),
        )


def _make_evolution(run: _Run) -> Evolution:
    """The library's :class:`Evolution` with the run's options (its defaults are the search's), its
    tournaments and the callbacks that write the run's files."""
    config, out = run.config, Path(run.config.out)
    tournament, final = run.tournaments
    callbacks = [
        LoggingCallback(),
        PopulationWriter(out / POPULATION),
        CheckpointCallback(out / CHECKPOINT, config.to_dict(), extra=lambda: {"timing": run.timing()}),
        PlotCallback(out / "plots", config.proxies),
    ]
    schedule: dict[str, Any] = {}
    if tournament is not None:
        schedule.update(tournament=tournament, tournament_every=config.tournament_every)
    return Evolution(
        space=run.space,
        scorer=run.scorer,
        pop_size=config.pop_size,
        generations=config.generations,
        seed=config.seed,
        ranking=config.ranking_rule(),
        survival=config.survival,
        budget=run.budget,
        final_tournament=final,
        callbacks=callbacks,
        **schedule,
    )


@contextlib.contextmanager
def _evaluator(config: SearchConfig) -> Iterator[Evaluator]:
    """The run's evaluator, closed at the end; its workers are stopped at once on an error or Ctrl-C."""
    evaluator = evaluator_for(config)
    try:
        yield evaluator
    except BaseException:
        getattr(evaluator, "terminate", evaluator.close)()
        raise
    evaluator.close()


def run_search(config: SearchConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a search and write its files; return the ``result.json`` content.

    Raises:
        ValueError: bad options, an output folder holding another run or in use by one, a
            benchmark table of another space, or a corrupt or mismatched checkpoint.
        FileNotFoundError: missing data folder, benchmark file or (resuming) checkpoint.
    """
    start = time.perf_counter()
    config.validate()
    space = get_space(config.space)
    _check_out(config)
    bench = check_benchmark(config.benchmark, space, config.benchmark_metric) if config.benchmark is not None else None
    data = load_dataset(config.data_dir, config.dataset, download=config.download)
    budget = build_budget(config, data, space)
    with FolderLock(config.out):
        finished = _finished_result(config)
        if finished is not None:
            return _complete(config, space, data, bench, finished, start)
        doc = _prepare_out(config)
        if doc is None:
            with torch_threads(config.threads):
                budget.check_reachable(np.random.default_rng(config.seed))
        with _evaluator(config) as evaluator:
            clock = RunClock(doc.get("timing") if doc else None, start)
            budget.evaluator = evaluator
            run = _Run(config, space, data, evaluator, clock, budget)
            result = _evolve(run, doc["state"] if doc else None, progress)
        _finish(run, bench, result)
    _write_report(Path(config.out))
    return result


def _write_report(out: Path) -> None:
    """Write ``report.html``; a report that fails is logged and the run's result stays."""
    try:
        path = write_run_report(out)
    except (OSError, ValueError) as err:
        logger.warning("report.html not written: %s", err)
        return
    logger.info("report: %s", path)


def _evolve(run: _Run, state: dict[str, Any] | None, progress: bool) -> dict[str, Any]:
    """Build the parts, restore or start the evolution, run it and write ``result.json``."""
    config = run.config
    run.scorer = build_scorer(config, run.data, run.space, Path(config.out) / SCORES_CACHE, run.evaluator)
    run.tournaments = build_tournaments(config, run.data, run.evaluator)
    for tournament in run.tournaments:
        if tournament is not None:
            tournament.progress = progress
    evo = _make_evolution(run)
    if state is not None:
        _restore(evo, state, Path(config.out) / CHECKPOINT)
        logger.info("resuming %s at generation %d", config.out, evo.generation)
    else:
        save_checkpoint(
            Path(config.out) / CHECKPOINT,
            config=config.to_dict(),
            state=evo.state_dict(),
            extra={"timing": run.timing()},
        )
    result = evo.run(progress=progress).to_dict()
    ranked = evo.archive.pick_order()[: max(config.ensemble, RANKED)]
    result.update(
        ranked=[evo.archive.entry(key)["arch"] for key in ranked],
        config=config.to_dict(),
        proxies=list(config.proxies),
        budget=run.budget.describe(),
        resumed=state is not None,
        failed_cells={"count": run.scorer.num_failed, "cells": list(run.scorer.failed)},
    )
    if run.scorer.num_failed:
        logger.warning(
            "%d cell(s) failed to score and got the worst score; see failed_cells in %s",
            run.scorer.num_failed,
            Path(config.out) / RESULT,
        )
    _write_result(run, result)
    logger.info("quality-cost front (%d cells):\n%s", len(result["front"]), front_table(result))
    return result


def _restore(evo: Evolution, state: dict[str, Any], path: Path) -> None:
    try:
        evo.load_state_dict(state)
    except ValueError as err:
        raise ValueError(
            f"checkpoint {path} cannot be resumed: {err}. Nothing was changed; start again "
            "with another --out (or move this folder away)"
        ) from None


def _write_result(run: _Run, result: dict[str, Any]) -> None:
    timing = run.timing()
    result.update(wall_time_s=timing["wall_s"], timing=timing)
    atomic_write_json(Path(run.config.out) / RESULT, result)


def _pending_steps(config: SearchConfig, bench: Path | None, result: dict[str, Any]) -> list[str]:
    """The after-search steps ``config`` asks for that ``result`` lacks or recorded as failed."""
    wanted = (["train"] if config.train_epochs > 0 else []) + (["benchmark"] if bench is not None else [])
    done = {key for key in wanted if isinstance(result.get(key), dict) and "error" not in result[key]}
    if "train" in done and (
        result["train"].get("epochs") != config.train_epochs or result["train"].get("ensemble", 1) != config.ensemble
    ):
        done.discard("train")
    return [key for key in wanted if key not in done]


def _complete(
    config: SearchConfig, space: SearchSpace, data: Dataset, bench: Path | None, result: dict[str, Any], start: float
) -> dict[str, Any]:
    """A finished search resumed: run the after-search steps still to do (an interrupted
    training continues by epoch), or change nothing when there are none."""
    steps = _pending_steps(config, bench, result)
    if not steps:
        logger.info("the run in %s is finished (result.json); nothing to do", config.out)
        return result
    logger.info("the search in %s is finished; running the %s step(s)", config.out, " and ".join(steps))
    with _evaluator(config) as evaluator:
        clock = RunClock(result.get("timing"), start)
        run = _Run(config, space, data, evaluator, clock, build_budget(config, data, space))
        _finish(run, bench, result, steps)
    _write_report(Path(config.out))
    return result


def _finish(run: _Run, bench: Path | None, result: dict[str, Any], only: list[str] | None = None) -> None:
    """Train/test the pick and look it up in the benchmark, when asked (``only``: these steps);
    each step that fails is recorded in ``result.json`` and logged, and the search result stays."""
    steps = []
    if run.config.train_epochs > 0 and run.config.ensemble > 1:
        steps.append(("train", lambda: _train_ensemble(run, result["ranked"][: run.config.ensemble])))
    elif run.config.train_epochs > 0:
        steps.append(("train", lambda: _train_pick(run, result["best"]["arch"])))
    if bench is not None:
        steps.append(("benchmark", lambda: _look_up(run, bench, result["best"]["arch"])))
    for key, step in [(k, f) for k, f in steps if only is None or k in only]:
        try:
            result[key] = step()
        except Exception as err:  # an after-search step must not lose the search's result
            logger.error("%s step failed: %s: %s", key, type(err).__name__, err)
            result[key] = {"error": f"{type(err).__name__}: {err}"}
        _write_result(run, result)


def _training(run: _Run) -> dict[str, Any]:
    """The arguments every training of the run's cells shares."""
    config = run.config
    return {
        "out": Path(config.out),
        "epochs": config.train_epochs,
        "seed": config.seed,
        "config": config.training,
        "device": resolve_device(config.device),
        "clock": run.clock,
    }


def _train_pick(run: _Run, arch: str) -> dict[str, Any]:
    """Train the pick's full-size network (alone: on every usable core), test it and save it as ``out/model.pt``."""
    return train_cell(run.space, arch, run.data, **_training(run))


def _train_ensemble(run: _Run, archs: list[str]) -> dict[str, Any]:
    """Train the ranking's first cells side by side in the workers; save their ensemble as ``out/model.pt``."""
    if len(archs) < run.config.ensemble:
        logger.warning("--ensemble %d: only %d cells were evaluated; training those", run.config.ensemble, len(archs))
    return train_ensemble(run.space, archs, run.data, evaluator=run.evaluator, progress=True, **_training(run))


def _look_up(run: _Run, bench: Path, arch: str) -> dict[str, Any]:
    metric = run.config.benchmark_metric
    acc = lookup_benchmark(read_benchmark(bench, metric), run.space, arch)
    logger.info("benchmark %s of the pick: %s", metric, acc)
    return {"csv": str(bench), metric: acc}
