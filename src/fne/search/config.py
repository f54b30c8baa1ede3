"""The options of a search run, declared once: the dataclasses below generate the parsers of
``fne search`` and ``NAS_on_cifar10.py`` and check every value (:mod:`fne.options`)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from fne.compute import ComputeOptions, default_workers, resolve_backend
from fne.evolution.fitness import (
    DEFAULT_PROXIES,
    RANKING_AGGREGATOR,
    RANKING_PROXIES,
    RANKING_WEIGHTS,
    list_proxies,
    resolve_device,
)
from fne.evolution.fitness.aggregate import list_aggregators, named_weights
from fne.evolution.ranking import RANK_SCALES
from fne.evolution.survival import SURVIVALS
from fne.evolution.tournament import WEIGHT_LOSSES
from fne.genotopheno import list_spaces
from fne.genotopheno.space import space_preset
from fne.options import check_options, option
from fne.training.recipe import TrainConfig

__all__ = ["DataOptions", "SearchConfig", "DATASET_KINDS", "SEARCH_PROXIES", "SEARCH_WEIGHTS", "PREVIOUS_DEFAULTS"]

DATASET_KINDS = ("cifar10", "cifar100", "npz", "folder")
SEARCH_PROXIES: tuple[str, ...] = tuple(dict.fromkeys(RANKING_PROXIES + DEFAULT_PROXIES))
"""The default objectives: the training-free ranking chosen by ``benchmarks/bench_proxies.py``
on seed-0 NB201 samples (:data:`fne.evolution.fitness.RANKING_PROXIES`), with fne's three
heuristics (NTK condition number, NASWOT, gradient correlation) added where it lacks them."""

_RANKING_WEIGHTS: dict[str, float] = dict(RANKING_WEIGHTS or {})
SEARCH_WEIGHTS: dict[str, float] = {
    p: _RANKING_WEIGHTS.get(p, statistics.median(_RANKING_WEIGHTS.values()) if _RANKING_WEIGHTS else 1.0)
    for p in SEARCH_PROXIES
}
"""The default ranking weights of :data:`SEARCH_PROXIES`: the ranking's own weights, and a
heuristic the ranking lacks weighs as much as its typical member (the median weight)."""

PREVIOUS_DEFAULTS: dict[str, Any] = {
    "proxies": ("params", "synflow"),
    "ranking": "nondominated",
    "ranking_weights": None,
    "rank_scale": "cells",
    "survival": "nsga2",
    "final_tournament_size": 8,
    "final_tournament_steps": 75,
    "build_kwargs": {"C": 8, "N": 1},
}
"""The defaults of the search before the training-free ranking led it (parameter count and
SynFlow, Pareto survival, a final tournament of 8 cells and 75 steps on its scoring network of
one cell a stage), for comparison (``SearchConfig(**PREVIOUS_DEFAULTS)``)."""


@dataclass(frozen=True)
class DataOptions:
    """Where the images are and in which format (a base of the run configurations)."""

    data_dir: str = option(
        "../shared/data", "folder holding the images (CIFAR-10/100 archives, npz files or train/<class>/ image folders)"
    )
    dataset: str | None = option(None, "cifar10, cifar100, npz or folder (default: detected)", choices=DATASET_KINDS)
    download: bool = option(False, "download CIFAR-10 or CIFAR-100 into --data-dir when it is not there")


@dataclass(frozen=True)
class SearchConfig(DataOptions, ComputeOptions):
    """Everything that defines a search run.

    Attributes (besides the data and compute options of the bases):
        space: registered search space name.
        pop_size: population size.
        generations: generations after the initial population.
        tournament_every: a DARTS tournament every this many generations (0: none; the final
            tournament alone decides among the proxies' best cells).
        seed: seed of everything random.
        out: output folder.
        resume: continue from ``out/checkpoint.json``.
        train_epochs: train the picked cell's network this many epochs, test it and save it as
            ``out/model.pt`` (0: no).
        training: the training recipe (:class:`fne.training.recipe.TrainConfig`).
        benchmark: CSV with ``arch_str`` and ``c10_test_200ep`` to look the pick up in.
        proxies: proxies turned into objectives (default :data:`SEARCH_PROXIES`).
        ranking: the aggregator that orders the scored cells for survival, tournaments and the pick.
        ranking_weights: ``{proxy: weight}`` of that aggregator (None: equal weights).
        rank_scale: ``cells`` (ranks among the scored cells) or ``reference`` (ranks in the
            space, estimated from the random initial population; :mod:`fne.evolution.ranking`).
        survival: ``nsga2`` (Pareto fronts and crowding) or ``ranking`` (the ranking's order)
            decides which cells stay in the population (:mod:`fne.evolution.survival`).
        proxy_batch: images each cell is scored on.
        val_fraction: share of the training images held out for the tournaments' alpha updates.
        tournament_size / tournament_keep / tournament_steps / tournament_warmup /
        tournament_batch / tournament_weight_loss: the usual tournament (see
            :mod:`fne.evolution.tournament`); with ``keep`` 1 each winner heads the pick order.
        final_tournament_size / final_tournament_steps / final_tournament_loss: a tournament
            after the last generation whose winner is the pick (size 0: none); its candidates
            train side by side in the workers. By default the ranking's first two cells train
            75 steps each: the tournament checks whether the runner-up learns faster than the
            ranking's pick.
        build_kwargs / tournament_build_kwargs: network sizes for scoring and tournaments (None:
            the space's ``score`` and ``tournament`` presets).
    """

    space: str = option("nb201", "search space", choices=list_spaces)
    pop_size: int = option(20, "population size", low=2)
    generations: int = option(12, "generations after the first", low=0)
    seed: int = option(0, "seed of everything random", low=0)
    out: str = option("runs/nas_cifar10", "output folder")
    resume: bool = option(False, "continue the run in --out from its checkpoint")
    train_epochs: int = option(0, "train the pick N epochs, test it and save out/model.pt (0: no training)", low=0)
    training: TrainConfig = option(help="training of the pick", default_factory=TrainConfig)
    benchmark: str | None = option(None, "look the pick's c10_test_200ep up in this CSV", metavar="CSV")
    proxies: tuple[str, ...] = option(SEARCH_PROXIES, "comma-separated proxies used as objectives")
    ranking: str = option(
        RANKING_AGGREGATOR,
        "how the scored cells are ordered for the tournaments and the pick: "
        "nondominated (Pareto front, then rank sum), mean_rank or log_rank "
        "(sum of log ranks) over the proxies",
        choices=list_aggregators,
    )
    ranking_weights: dict[str, Any] | None = option(
        default_factory=lambda: dict(SEARCH_WEIGHTS),
        help="weight of a proxy in --ranking (repeatable PROXY=WEIGHT; objectives not named weigh 1)",
        flag="ranking-weight",
    )
    rank_scale: str = option(
        "reference",
        "ranks the ranking aggregates: cells (among the scored cells) or "
        "reference (in the whole space, estimated from the random initial "
        "population)",
        choices=RANK_SCALES,
    )
    survival: str = option(
        "ranking",
        "which cells stay in the population: nsga2 (Pareto fronts and crowding "
        "distance) or ranking (the --ranking order)",
        choices=tuple(SURVIVALS),
    )
    proxy_batch: int = option(64, "images each cell is scored on", low=2)
    val_fraction: float = option(
        0.2, "share of the training images held out for the tournaments' alpha updates", low=0.0, high=1.0
    )
    tournament_every: int = option(0, "DARTS tournament every N generations (0: never)", low=0)
    tournament_size: int = option(4, "candidate cells per tournament", low=2)
    tournament_keep: int = option(2, "winners per tournament", low=1)
    tournament_steps: int = option(60, "training steps per tournament", low=1)
    tournament_warmup: float = option(
        0.0, "share of the tournament steps that train the weights only", low=0.0, high=1.0
    )
    tournament_batch: int = option(32, "images per tournament step", low=2)
    tournament_weight_loss: str = option(
        "mixture",
        "how tournaments train the candidates' weights: each on its own loss, or the mixture",
        choices=WEIGHT_LOSSES,
        flag="tournament-loss",
    )
    final_tournament_size: int = option(
        2, "candidates of a tournament after the last generation whose winner is the pick (0: none)", low=0
    )
    final_tournament_steps: int = option(75, "training steps of the final tournament", low=1)
    final_tournament_loss: str = option(
        "each", "how the final tournament trains the candidates' weights", choices=WEIGHT_LOSSES
    )
    build_kwargs: dict[str, Any] | None = option(
        None, "scoring network size (repeatable; default: the space's score preset)", flag="build-arg"
    )
    tournament_build_kwargs: dict[str, Any] | None = option(
        None,
        "tournament network size (repeatable; default: the space's tournament preset)",
        flag="tournament-build-arg",
    )

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first option out of range."""
        check_options(self)
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"--val-fraction must be in (0, 1), got {self.val_fraction!r}")
        unknown = [p for p in self.proxies if p not in list_proxies()]
        if not self.proxies or unknown or len(set(self.proxies)) != len(self.proxies):
            raise ValueError(
                f"--proxies must be distinct registered proxies ({', '.join(list_proxies())}), got {list(self.proxies)}"
            )
        self.objective_weights()
        if self.tournament_keep >= self.tournament_size:
            raise ValueError(
                f"tournament_keep ({self.tournament_keep}) must be below tournament_size ({self.tournament_size})"
            )
        if self.final_tournament_size == 1:
            raise ValueError("--final-tournament-size must be 0 (none) or >= 2, got 1")
        resolve_device(self.device)
        resolve_backend(self.backend, self.resolved_workers(), self.ray_address)
        if not self.out:
            raise ValueError("--out must name a folder")

    def objective_weights(self) -> list[float] | None:
        """The ranking weight of each objective, in ``proxies`` order (None: all equal).

        An objective that ``ranking_weights`` does not name weighs 1; a named proxy that is
        not an objective is left out (so the default weights suit any ``--proxies``).

        Raises:
            ValueError: a name that is not a registered proxy, or weights that are negative,
                not numbers or all zero.
        """
        if self.ranking_weights is None:
            return None
        unknown = sorted(set(self.ranking_weights) - set(list_proxies()))
        if unknown:
            raise ValueError(f"--ranking-weight names {unknown}, which are not registered proxies")
        return named_weights(self.ranking_weights, self.proxies, "--ranking-weight")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        d = asdict(self)
        d["proxies"] = list(self.proxies)
        return d

    def resolved_workers(self) -> int:
        """``workers``, or the default for the device and backend when it is None."""
        if self.workers is not None:
            return self.workers
        return 1 if self.backend == "serial" else default_workers(str(resolve_device(self.device)))

    def network_kwargs(self) -> dict[str, Any]:
        """Build arguments used for scoring (without the data's channels and classes)."""
        if self.build_kwargs is not None:
            return dict(self.build_kwargs)
        return space_preset(self.space, "score")

    def tournament_network_kwargs(self) -> dict[str, Any]:
        """Build arguments used for tournaments (without the data's channels and classes)."""
        if self.tournament_build_kwargs is not None:
            return dict(self.tournament_build_kwargs)
        return space_preset(self.space, "tournament")
