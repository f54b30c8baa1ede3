"""A complete, resumable search on CIFAR-10 images, as ``NAS_on_cifar10.py`` runs it.

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
* ``plots/objectives.png`` and ``plots/pareto_front.png``;
* ``result.json``: ``best`` (``{"arch", "scores"}``), the Pareto ``front``, per-generation
  ``history``, ``config``, ``evaluations``, ``wall_time_s`` and, on request, the trained
  network's test accuracy and the benchmark's accuracy of the pick.

Nothing is written before the options, the data folder, the benchmark file and (when
resuming) the checkpoint have been checked. Everything random derives from ``seed``, so a
run killed at any moment and resumed ends with the same result as an uninterrupted one.
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

from fne.genotopheno import get_space, list_spaces
from fne.genotopheno.space import SearchSpace

from .callbacks import CheckpointCallback, LoggingCallback, PlotCallback, PopulationWriter
from .checkpoint import atomic_write_json, load_checkpoint, save_checkpoint
from .dataset import CIFAR10Data, Split, load_cifar10, sample_batch, split_tensors, train_val_split
from .evaluator import Evaluator, evaluator_for, resolve_backend
from .evolution import Evolution
from .fitness import Scorer, list_proxies, resolve_device
from .tournament import SMALL_BUILD_KWARGS, TOURNAMENT_BUILD_KWARGS, WEIGHT_LOSSES, DartsTournament
from .training import train_and_test

logger = logging.getLogger(__name__)

__all__ = ["SearchConfig", "run_search", "build_scorer", "search_splits", "read_benchmark", "lookup_benchmark",
           "RESUME_IGNORED"]

CHECKPOINT = "checkpoint.json"
RESULT = "result.json"
POPULATION = "population.json"
SCORES_CACHE = "scores_cache.json"
RESUME_IGNORED = ("out", "resume", "device", "train_epochs", "benchmark", "generations", "data_dir",
                  "workers", "backend", "ray_address")
"""Configuration keys that may change when a run is resumed."""


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search run. The CLI sets the first group of fields.

    Attributes:
        space: registered search space name.
        data_dir: folder holding CIFAR-10 (see :func:`fne.evolution.dataset.load_cifar10`).
        pop_size: population size.
        generations: generations after the initial population.
        tournament_every: a DARTS tournament every this many generations (0: none).
        seed: seed of everything random.
        device: ``auto``, ``cpu`` or ``cuda``.
        out: output folder.
        resume: continue from ``out/checkpoint.json``.
        train_epochs: train the picked cell's network this many epochs and test it (0: no).
        benchmark: CSV with ``arch_str`` and ``c10_test_200ep`` to look the pick up in, after the search.
        proxies: proxies turned into objectives. The default pairs the parameter count with
            SynFlow: on NB201 the two rank cells near the top of the benchmark first, while the
            NTK condition number and the gradient correlation, which track accuracy over the
            whole space, do not among the cells the proxies rank highest.
        proxy_batch: images each cell is scored on.
        val_fraction: share of the training images held out for the tournament's alpha updates.
        tournament_size: candidates per tournament.
        tournament_keep: winners per tournament. With 1, every tournament's winner heads the
            pick order (the cells ranked above it lost), so the tournaments decide the pick
            among the cells the proxies rank highest.
        tournament_steps: alternating alpha/weight steps per tournament.
        tournament_warmup: share of the tournament steps that train the weights only.
        tournament_batch: images per tournament step.
        tournament_weight_loss: how the tournament trains the network weights (``each`` or
            ``mixture``, see :mod:`fne.evolution.tournament`).
        final_tournament_size: candidates of a tournament after the last generation, in
            place of the usual one, whose single winner is the final pick (0: none).
        final_tournament_steps: training steps of the final tournament.
        final_tournament_loss: weight loss of the final tournament (``each`` or ``mixture``).
        build_kwargs: network size for scoring (None: the space's small size).
        tournament_build_kwargs: network size for tournaments (None: the space's
            tournament size, :data:`~fne.evolution.tournament.TOURNAMENT_BUILD_KWARGS`).
        workers: parallel scoring workers.
        backend: ``serial``, ``process`` or ``ray`` (None: serial for one worker, else process).
        ray_address: address of a running Ray cluster (None: a local instance).
    """

    space: str = "nb201"
    data_dir: str = "../shared/data"
    pop_size: int = 20
    generations: int = 12
    tournament_every: int = 3
    seed: int = 0
    device: str = "auto"
    out: str = "runs/nas_cifar10"
    resume: bool = False
    train_epochs: int = 0
    benchmark: Optional[str] = None
    proxies: Tuple[str, ...] = ("params", "synflow")
    proxy_batch: int = 64
    val_fraction: float = 0.2
    tournament_size: int = 4
    tournament_keep: int = 2
    tournament_steps: int = 60
    tournament_warmup: float = 0.0
    tournament_batch: int = 32
    tournament_weight_loss: str = "mixture"
    final_tournament_size: int = 8
    final_tournament_steps: int = 150
    final_tournament_loss: str = "each"
    build_kwargs: Optional[Dict[str, Any]] = field(default=None)
    tournament_build_kwargs: Optional[Dict[str, Any]] = field(default=None)
    workers: int = 1
    backend: Optional[str] = None
    ray_address: Optional[str] = None

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first option out of range."""
        if self.space not in list_spaces():
            raise ValueError(f"--space {self.space!r} is not a registered space: {', '.join(list_spaces())}")
        for name, low in (("pop_size", 2), ("generations", 0), ("tournament_every", 0), ("seed", 0),
                          ("train_epochs", 0), ("proxy_batch", 2), ("tournament_size", 2),
                          ("tournament_keep", 1), ("tournament_steps", 1), ("tournament_batch", 2),
                          ("final_tournament_size", 0), ("final_tournament_steps", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"--{name.replace('_', '-')} must be an integer >= {low}, got {value!r}")
        if not (isinstance(self.val_fraction, float) and 0.0 < self.val_fraction < 1.0):
            raise ValueError(f"val_fraction must be a float in (0, 1), got {self.val_fraction!r}")
        unknown = [p for p in self.proxies if p not in list_proxies()]
        if not self.proxies or unknown or len(set(self.proxies)) != len(self.proxies):
            raise ValueError(f"--proxies must be distinct registered proxies ({', '.join(list_proxies())}), "
                             f"got {list(self.proxies)}")
        if self.tournament_keep >= self.tournament_size:
            raise ValueError(f"tournament_keep ({self.tournament_keep}) must be below tournament_size "
                             f"({self.tournament_size})")
        resolve_device(self.device)
        resolve_backend(self.backend, self.workers, self.ray_address)
        if self.final_tournament_size == 1:
            raise ValueError("--final-tournament-size must be 0 (none) or >= 2, got 1")
        for name in ("tournament_weight_loss", "final_tournament_loss"):
            if getattr(self, name) not in WEIGHT_LOSSES:
                raise ValueError(f"{name} must be one of {WEIGHT_LOSSES}, got {getattr(self, name)!r}")
        if not self.out:
            raise ValueError("--out must name a folder")

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready dict of every field."""
        d = asdict(self)
        d["proxies"] = list(self.proxies)
        return d

    def network_kwargs(self) -> Dict[str, Any]:
        """Build arguments used for scoring."""
        if self.build_kwargs is not None:
            return dict(self.build_kwargs)
        return dict(SMALL_BUILD_KWARGS.get(self.space, {}))

    def tournament_network_kwargs(self) -> Dict[str, Any]:
        """Build arguments used for tournaments."""
        if self.tournament_build_kwargs is not None:
            return dict(self.tournament_build_kwargs)
        return dict(TOURNAMENT_BUILD_KWARGS.get(self.space, {}))


def _prepare_out(config: SearchConfig) -> Optional[Dict[str, Any]]:
    """Check the output folder; return the checkpoint state when resuming."""
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    ckpt = out / CHECKPOINT
    if not config.resume:
        if ckpt.exists() or (out / RESULT).exists():
            raise ValueError(f"--out {out} already holds a run; pass --resume to continue it or choose "
                             "another --out (nothing was overwritten)")
        return None
    if not ckpt.exists():
        raise FileNotFoundError(f"--resume: no checkpoint {ckpt}; run without --resume to start")
    return load_checkpoint(ckpt, config=config.to_dict(), ignore=RESUME_IGNORED)


def read_benchmark(csv_path: Path) -> Dict[str, float]:
    """``arch_str -> c10_test_200ep`` of a benchmark CSV."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        return {row["arch_str"]: float(row["c10_test_200ep"]) for row in csv.DictReader(fh)}


def lookup_benchmark(table: Dict[str, float], space: SearchSpace, arch: str) -> Optional[float]:
    """Accuracy of ``arch`` in ``table`` (see :func:`read_benchmark`): its own row, or else
    the mean over the rows of cells with the same canonical form; None if there is none."""
    if arch in table:
        return table[arch]
    key = space.canonical(space.parse(arch))
    same = [acc for text, acc in table.items() if space.canonical(space.parse(text)) == key]
    return float(np.mean(same)) if same else None


def _check_benchmark(config: SearchConfig) -> Optional[Path]:
    if config.benchmark is None:
        return None
    path = Path(config.benchmark)
    if not path.is_file():
        raise FileNotFoundError(f"--benchmark file {path} does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    missing = [c for c in ("arch_str", "c10_test_200ep") if c not in header]
    if missing:
        raise ValueError(f"--benchmark file {path} lacks column(s) {missing}")
    return path


def search_splits(config: SearchConfig, data: CIFAR10Data) -> Tuple[Split, Split]:
    """The seeded, stratified split of the training images into search-train and validation."""
    return train_val_split(data.train, config.val_fraction, np.random.default_rng(config.seed))


def build_scorer(config: SearchConfig, data: CIFAR10Data, space: SearchSpace,
                 cache_file: Optional[Path] = None, evaluator: Optional[Evaluator] = None) -> Scorer:
    """The search's scorer: a fixed, class-balanced batch of search-train images, seeded by ``seed``."""
    train, _ = search_splits(config, data)
    inputs, targets = sample_batch(train, config.proxy_batch, torch.Generator().manual_seed(config.seed),
                                   balanced=True)
    return Scorer(space, config.proxies, inputs=inputs, targets=targets, device=str(resolve_device(config.device)),
                  seed=config.seed, cache_file=cache_file, build_kwargs=config.network_kwargs(),
                  evaluator=evaluator)


def _build_parts(config: SearchConfig, data: CIFAR10Data, space: SearchSpace,
                 evaluator: Optional[Evaluator]) -> Tuple[Scorer, Any, Any]:
    """The scorer (cached in ``out``), the tournament and the final tournament (None when off)."""
    scorer = build_scorer(config, data, space, Path(config.out) / SCORES_CACHE, evaluator)
    if config.tournament_every <= 0 and config.final_tournament_size <= 0:
        return scorer, None, None
    train, val = (split_tensors(split) for split in search_splits(config, data))

    def darts_tournament(size: int, keep: int, steps: int, loss: str) -> DartsTournament:
        return DartsTournament(train=train, val=val, size=size, keep=keep, steps=steps,
                               warmup=config.tournament_warmup, batch_size=config.tournament_batch,
                               weight_loss=loss, build_kwargs=config.tournament_network_kwargs(),
                               device=resolve_device(config.device))

    tournament = final = None
    if config.tournament_every > 0:
        tournament = darts_tournament(config.tournament_size, config.tournament_keep, config.tournament_steps,
                                      config.tournament_weight_loss)
    if config.final_tournament_size > 0:
        final = darts_tournament(config.final_tournament_size, 1, config.final_tournament_steps,
                                 config.final_tournament_loss)
    return scorer, tournament, final


def _make_evolution(config: SearchConfig, space: SearchSpace, scorer: Scorer, tournament: Any,
                    final: Any = None) -> Evolution:
    out = Path(config.out)
    callbacks = [LoggingCallback(), PopulationWriter(out / POPULATION),
                 CheckpointCallback(out / CHECKPOINT, config.to_dict()),
                 PlotCallback(out / "plots", config.proxies)]
    return Evolution(space=space, scorer=scorer, pop_size=config.pop_size, generations=config.generations,
                     tournament=tournament, tournament_every=max(config.tournament_every, 1),
                     final_tournament=final,
                     seed=config.seed, callbacks=callbacks)


def run_search(config: SearchConfig, *, progress: bool = True) -> Dict[str, Any]:
    """Run (or resume) a search and write its files; return the ``result.json`` content.

    Raises:
        ValueError: bad options, an output folder holding another run, or a corrupt or
            mismatched checkpoint.
        FileNotFoundError: missing data folder, benchmark file or (resuming) checkpoint.
    """
    start = time.perf_counter()
    config.validate()
    space = get_space(config.space)
    state = _prepare_out(config)
    bench = _check_benchmark(config)
    data = load_cifar10(config.data_dir)
    evaluator = evaluator_for(config.backend, config.workers, config.ray_address)
    try:
        result = _evolve(config, space, data, state, evaluator, progress)
    finally:
        if evaluator is not None:
            evaluator.close()
    result.update(config=config.to_dict(), wall_time_s=time.perf_counter() - start,
                  proxies=list(config.proxies), resumed=state is not None)
    _finish(config, space, data, bench, result)
    atomic_write_json(Path(config.out) / RESULT, result)
    return result


def _evolve(config: SearchConfig, space: SearchSpace, data: CIFAR10Data, state: Optional[Dict[str, Any]],
            evaluator: Optional[Evaluator], progress: bool) -> Dict[str, Any]:
    """Build the parts, restore or start the evolution, and run it."""
    scorer, tournament, final = _build_parts(config, data, space, evaluator)
    evo = _make_evolution(config, space, scorer, tournament, final)
    if state is not None:
        evo.load_state_dict(state)
        logger.info("resuming %s at generation %d", config.out, evo.generation)
    else:
        save_checkpoint(Path(config.out) / CHECKPOINT, config=config.to_dict(), state=evo.state_dict())
    result = evo.run(progress=progress).to_dict()
    if scorer.num_failed:
        logger.warning("%d cell(s) failed to score and got the worst score", scorer.num_failed)
    return result


def _finish(config: SearchConfig, space: SearchSpace, data: CIFAR10Data, bench: Optional[Path],
            result: Dict[str, Any]) -> None:
    """Train/test the pick and look it up in the benchmark, when asked."""
    arch = result["best"]["arch"]
    if config.train_epochs > 0:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            net = space.build(space.parse(arch))
        acc = train_and_test(net, data.train, data.test, epochs=config.train_epochs,
                             device=resolve_device(config.device),
                             generator=torch.Generator().manual_seed(config.seed))
        result["train"] = {"epochs": config.train_epochs, "test_accuracy": acc}
        logger.info("trained %d epochs: test accuracy %.2f%%", config.train_epochs, acc)
    if bench is not None:
        acc = lookup_benchmark(read_benchmark(bench), space, arch)
        result["benchmark"] = {"csv": str(bench), "c10_test_200ep": acc}
        logger.info("benchmark accuracy of the pick: %s", acc)
