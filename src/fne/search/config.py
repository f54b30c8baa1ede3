"""The options of a search run, declared once: the dataclasses below generate the parsers of
``fne search`` and ``NAS_on_cifar10.py`` and check every value (:mod:`fne.options`)."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from fne.compute import ComputeOptions, resolve_backend, resolve_device
from fne.costs.options import CostOptions
from fne.data import DataOptions
from fne.evolution.defaults import (
    AGGREGATORS_HELP,
    GENERATIONS,
    POP_SIZE,
    RANK_SCALE,
    SURVIVAL,
    fill_search_defaults,
)
from fne.evolution.fitness import check_proxy_names
from fne.evolution.fitness.aggregate import list_aggregators, named_weights
from fne.evolution.ranking import RANK_SCALES, RankingLike, objective_ranking
from fne.evolution.survival import SURVIVALS
from fne.evolution.tournament import WEIGHT_LOSSES
from fne.genotopheno import list_spaces
from fne.genotopheno.space import get_space_class
from fne.options import check_options, option
from fne.search.presets import get_preset, list_presets
from fne.training.recipe import TrainConfig

__all__ = ["SearchConfig"]


@dataclass(frozen=True)
class SearchConfig(DataOptions, ComputeOptions, CostOptions):
    """Everything that defines a search run.

    Attributes (besides the data, compute and cost options of the bases):
        preset: a named set of settings (:mod:`fne.search.presets`) for the options left at
            their defaults.
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
        ensemble: train the ranking's first ``ensemble`` cells (within the budget) side by side
            and save the ensemble that averages their probabilities as ``model.pt`` (1: the pick
            alone).
        training: the training recipe (:class:`fne.training.recipe.TrainConfig`).
        benchmark: CSV with ``arch_str`` and the ``benchmark_metric`` column to look the pick up in.
        benchmark_metric: the ``benchmark`` column that ``result.json`` reports for the pick.
        proxies: proxies turned into objectives (None: the space's,
            :func:`fne.evolution.defaults.search_proxies`).
        ranking: the aggregator that orders the scored cells for survival, tournaments and the
            pick (None: the space's, ``space.search_defaults.ranking``).
        ranking_weights: ``{proxy: weight}`` of that aggregator; an objective not named weighs 1,
            so ``{}`` weighs all equally (None: the space's,
            :func:`fne.evolution.defaults.search_weights`).
        rank_scale: ``cells`` (ranks among the scored cells) or ``reference`` (ranks in the
            space, estimated from the random initial population; :mod:`fne.evolution.ranking`).
        survival: ``nsga2`` (Pareto fronts and crowding), ``ranking`` (the ranking's order) or
            ``front`` (a spread along the quality-cost front) decides which cells stay in the
            population (:mod:`fne.evolution.survival`).
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

    preset: str | None = option(
        None,
        "named settings for the options left at their defaults (fne2021: the original design)",
        choices=list_presets,
    )
    space: str = option("nb201", "search space", choices=list_spaces)
    pop_size: int = option(POP_SIZE, "population size", low=2)
    generations: int = option(GENERATIONS, "generations after the first", low=0)
    seed: int = option(0, "seed of everything random", low=0)
    out: str = option("runs/nas_cifar10", "output folder")
    resume: bool = option(False, "continue the run in --out from its checkpoint")
    train_epochs: int = option(0, "train the pick N epochs, test it and save out/model.pt (0: no training)", low=0)
    ensemble: int = option(
        1,
        "train the K cells the ranking puts first (within the budget) side by side and save their ensemble "
        "as model.pt (1: the pick alone)",
        low=1,
    )
    training: TrainConfig = option(help="training of the pick", default_factory=TrainConfig)
    benchmark: str | None = option(None, "look the pick's --benchmark-metric up in this CSV", metavar="CSV")
    benchmark_metric: str = option("c10_test_200ep", "the --benchmark column to report for the pick", metavar="COLUMN")
    proxies: tuple[str, ...] = option(
        None, "comma-separated proxies used as objectives (default: the space's search proxies)"
    )
    ranking: str = option(
        None,
        f"the order of the scored cells for the pick, tournaments and survival: {AGGREGATORS_HELP} "
        "(default: the space's)",
        choices=list_aggregators,
    )
    ranking_weights: dict[str, Any] = option(
        None,
        "weight of a proxy in --ranking (repeatable PROXY=WEIGHT; objectives not named weigh 1; default: the space's)",
        flag="ranking-weight",
    )
    rank_scale: str = option(
        RANK_SCALE,
        "ranks the ranking aggregates: cells (among the scored cells) or "
        "reference (in the whole space, estimated from the random initial "
        "population)",
        choices=RANK_SCALES,
    )
    survival: str = option(
        SURVIVAL,
        "which cells stay in the population: nsga2 (Pareto fronts and crowding "
        "distance), ranking (the --ranking order) or front (a spread along the quality-cost front)",
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

    def __post_init__(self) -> None:
        """Apply the preset to the options left at their defaults, then fill ``proxies``, ``ranking``
        and ``ranking_weights`` still None with the space's search defaults."""
        if self.preset is not None:
            defaults = {f.name: _field_default(f) for f in dataclasses.fields(self)}
            for name, value in get_preset(self.preset).values.items():
                if getattr(self, name) == defaults[name]:
                    object.__setattr__(self, name, value)
        fill_search_defaults(self, proxies="proxies", ranking="ranking", weights="ranking_weights")

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first option out of range."""
        check_options(self)
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"--val-fraction must be in (0, 1), got {self.val_fraction!r}")
        check_proxy_names(self.proxies, "--proxies")
        self.check_costs()
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
        """The ranking weight of each objective, in ``proxies`` order (``ranking_weights={}``: all equal).

        An objective that ``ranking_weights`` does not name weighs 1; a named proxy that is
        not an objective is left out (so the default weights suit any ``--proxies``).

        Raises:
            ValueError: a name that is not a registered proxy, or weights that are negative,
                not numbers or all zero.
        """
        if not self.ranking_weights:
            return None
        check_proxy_names(self.ranking_weights, "--ranking-weight")
        return named_weights(self.ranking_weights, self.proxies, "--ranking-weight")

    def ranking_rule(self) -> RankingLike:
        """The ranking of the run: ``ranking`` on the ``rank_scale`` scale with :meth:`objective_weights`.

        With the default options it is :func:`fne.evolution.defaults.search_ranking` of ``proxies``.
        """
        return objective_ranking(self.ranking, self.objective_weights(), self.rank_scale)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        d = asdict(self)
        d["proxies"] = list(self.proxies)
        return d

    def network_kwargs(self) -> dict[str, Any]:
        """Build arguments used for scoring (without the data's channels and classes)."""
        if self.build_kwargs is not None:
            return dict(self.build_kwargs)
        return get_space_class(self.space).preset("score")

    def tournament_network_kwargs(self) -> dict[str, Any]:
        """Build arguments used for tournaments (without the data's channels and classes)."""
        if self.tournament_build_kwargs is not None:
            return dict(self.tournament_build_kwargs)
        return get_space_class(self.space).preset("tournament")


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default
