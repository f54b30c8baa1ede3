"""The search loop: (mu + lambda) evolution led by a ranking of the cells, with optional tournaments.

::

    scorer = Scorer(space, ("ntk", "naswot", "grad_corr"), inputs=x, targets=y)
    evo = Evolution(space=space, scorer=scorer, pop_size=20, generations=12, seed=0)
    result = evo.run()
    print(result.best["arch"])

or, scoring elsewhere, ``genotypes = evo.ask(); evo.tell(genotypes, my_scores(genotypes))``.

One generation: :meth:`Evolution.ask` returns new children (:mod:`fne.evolution.mating`:
binary selection, crossover and mutation at self-adaptive rates, nothing scored twice);
:meth:`Evolution.tell` archives their scores (:mod:`fne.evolution.archive`), lets parents
and children compete so that the survival strategy keeps ``pop_size`` of them
(:mod:`fne.evolution.survival`: the ranking's order by default, or NSGA-II), adapts the
rates from which children survived, and runs the tournament that is due
(:mod:`fne.evolution.schedule`), whose losers leave the pick order and, except after the
final tournament, the population.

The final pick is the first cell of the archive's pick order, which the ``ranking`` gives
over everything evaluated. By default it is the search's ranking
(:func:`fne.evolution.defaults.search_ranking`: the space's aggregator of the proxies'
weighted ranks, estimated in the whole space), so that ``Evolution(space=..., scorer=...)`` runs the
algorithm of ``fne search`` (:mod:`fne.evolution.defaults`); the Pareto rule is
:func:`fne.evolution.selection.pick_order`. The initial population, drawn at random, is the
archive's *reference* sample, against which a ranking of the ``reference`` scale estimates
ranks in the whole space (:mod:`fne.evolution.ranking`). Each history record's ``best`` is
the pick at that generation.

With a :class:`~fne.costs.Budget` (``budget=``), every cell the search considers is measured on
the budget's costs first: a cell over a limit is never scored, picked nor on the front, and
the result's ``front`` is the quality-cost front of everything evaluated
(:meth:`~fne.evolution.archive.Archive.front`), each cell with its costs and its ``quality``
(the share of the evaluated cells the ranking puts below it). ``survival="front"`` spreads the
population along that front.

Each ``tell`` computes the objective matrix once, over the archive; survival, parent
choice, the record and the pick order all read its rows. A failed score is the worst
value of that matrix's column (:func:`fne.evolution.fitness.to_objectives`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fne.costs.budget import Budget
from fne.evolution.archive import Archive, Scores, clean_scores
from fne.evolution.defaults import GENERATIONS, POP_SIZE, SURVIVAL, search_ranking
from fne.evolution.fitness import to_objectives
from fne.evolution.mating import AdaptiveRates, Mating, Origin
from fne.evolution.ranking import RankingLike
from fne.evolution.schedule import TournamentSchedule, surviving
from fne.evolution.selection import pareto_front
from fne.evolution.survival import Survival, get_survival
from fne.evolution.tournament import Tournament
from fne.genotopheno.space import SearchSpace
from fne.genotopheno.variation import VariationOperators, get_variation
from fne.progress import is_terminal, progress_bar

__all__ = ["Evolution", "EvolutionResult", "Snapshot", "Callback"]

STATE_VERSION = 1
"""The layout of :meth:`Evolution.state_dict`; a state of version 1 always holds ``reference``."""


@dataclass(frozen=True)
class Snapshot:
    """What callbacks see after a generation (a copy: changing it changes nothing).

    Attributes:
        generation: the generation just completed (0 = the initial population).
        population: the population's genotype texts.
        scores: their proxy scores.
        objectives: their objectives (minimised), read-only.
        front: indices of the non-dominated cells.
        record: this generation's history record.
        cost_front: with a budget, ``{"quality", "cost", "front", "limit", "label"}``: every
            evaluated cell's quality and cost (pick order), the front's positions among them,
            the limit on the cost axis (or None) and its axis label; None without a budget.
    """

    generation: int
    population: tuple[str, ...]
    scores: tuple[dict[str, float], ...]
    objectives: np.ndarray
    front: tuple[int, ...]
    record: dict[str, Any]
    state: Callable[[], dict[str, Any]] = field(repr=False)
    cost_front: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        """The evolution's full state (a fresh copy), e.g. for a checkpoint."""
        return self.state()


class Callback:
    """Observes the search; override any of the hooks. Callbacks cannot steer it."""

    def on_start(self, snapshot: Snapshot | None) -> None:
        """Called by :meth:`Evolution.run` first; ``None`` before the initial population."""

    def on_generation(self, snapshot: Snapshot) -> None:
        """Called after every generation."""

    def on_end(self, result: EvolutionResult) -> None:
        """Called by :meth:`Evolution.run` with the result."""


@dataclass(frozen=True)
class EvolutionResult:
    """Outcome of a search.

    Attributes:
        best: ``{"arch": text, "scores": {...}}`` of the picked cell.
        front: the final non-dominated cells, same form, best pick first (with a budget: the
            quality-cost front, each cell with ``costs`` and ``quality``).
        history: one record per generation.
        evaluations: distinct cells scored.
        generations: generations completed (initial population excluded).
    """

    best: dict[str, Any]
    front: list[dict[str, Any]]
    history: list[dict[str, Any]]
    evaluations: int
    generations: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready apart from non-finite scores)."""
        return {
            "best": self.best,
            "front": self.front,
            "history": self.history,
            "evaluations": self.evaluations,
            "generations": self.generations,
        }


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value >= low)


def _rate_ok(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


class Evolution:
    """Multi-objective evolution over a search space; see the module docstring.

    Its defaults are those of ``fne search`` (:mod:`fne.evolution.defaults`): the search's
    ranking, ``ranking`` survival, 20 cells, 12 generations and no tournament.

    Args:
        space: the search space (its crossovers and mutations are ``space.variation``; its
            ``search_defaults`` set the default ranking).
        scorer: object with ``score_many(genotypes, progress=...) -> list of score dicts``
            and ``proxies``; needed by :meth:`run`, not by :meth:`ask`/:meth:`tell`.
        proxies: proxy names turned into objectives; default ``scorer.proxies``.
        objectives: ``f(list of score dicts) -> (n, k) array`` to minimise; default
            ``fne.evolution.fitness.to_objectives(scores, proxies)``, one column per proxy.
        pop_size: population size mu (>= 2).
        offspring_size: children per generation lambda; default ``pop_size``.
        generations: generations after the initial population (>= 0).
        tournament: a :class:`~fne.evolution.tournament.Tournament` or ``None`` (off).
        tournament_every: run the tournament after every this many generations (>= 1).
        final_tournament: a tournament run after the last generation instead of
            ``tournament`` (``None``: the usual schedule).
        crossover_rate: initial crossover probability.
        mutation_rate: initial mutation probability.
        adapt_rates: adapt both rates from the survival of children.
        adapt_speed: step size of the adaptation.
        rate_bounds: ``(low, high)`` limits of both rates, inside ``[0, 1]``.
        seed: seed of the numpy and torch generators.
        callbacks: observers (see :class:`Callback`).
        max_attempts: tries to find a new distinct child before drawing a random cell.
        ranking: ``f(objective matrix of the eligible archived cells) -> their indices, best
            first``; orders the final pick and the tournament candidates. ``None``: the
            search's ranking, :func:`~fne.evolution.defaults.search_ranking` of ``proxies``,
            which weighs the objective columns as the proxies (give one when ``objectives``
            returns other columns); :func:`~fne.evolution.selection.pick_order` is the
            Pareto rule.
        survival: ``"ranking"`` (keep the cells the ranking puts first), ``"nsga2"``,
            ``"front"`` (a spread along the quality-cost front; needs ``budget``) or a
            :class:`~fne.evolution.survival.Survival`.
        budget: the costs every cell is measured on and the limits it must meet
            (:class:`~fne.costs.Budget`); None: no costs, no limits.

    Attributes:
        archive: every scored cell and the pick order (:class:`~fne.evolution.archive.Archive`).
        mating: makes each generation's children (:class:`~fne.evolution.mating.Mating`).
        rates: the crossover and mutation rates (:class:`~fne.evolution.mating.AdaptiveRates`).
        schedule: when tournaments run (:class:`~fne.evolution.schedule.TournamentSchedule`).

    Raises:
        ValueError: naming the first argument that is out of range.
    """

    def __init__(
        self,
        *,
        space: SearchSpace,
        scorer: Any = None,
        proxies: Sequence[str] | None = None,
        objectives: Callable[[list[Scores]], np.ndarray] | None = None,
        pop_size: int = POP_SIZE,
        offspring_size: int | None = None,
        generations: int = GENERATIONS,
        tournament: Tournament | None = None,
        tournament_every: int = 3,
        final_tournament: Tournament | None = None,
        crossover_rate: float = 0.5,
        mutation_rate: float = 0.5,
        adapt_rates: bool = True,
        adapt_speed: float = 1.0,
        rate_bounds: tuple[float, float] = (0.1, 0.9),
        seed: int = 0,
        callbacks: Sequence[Callback] = (),
        max_attempts: int = 100,
        ranking: RankingLike | None = None,
        survival: str | Survival = SURVIVAL,
        budget: Budget | None = None,
    ) -> None:
        _require(isinstance(space, SearchSpace), f"space must be a SearchSpace, got {type(space).__name__}")
        self.variation: VariationOperators = get_variation(space)
        self.proxies = self._check_proxies(proxies, scorer)
        self._check_sizes(pop_size, offspring_size, generations, tournament_every, max_attempts, seed)
        self._check_rates(crossover_rate, mutation_rate, adapt_speed, rate_bounds)
        self._check_components(tournament, final_tournament, callbacks, ranking)
        self.survival: Survival = get_survival(survival)
        _require(budget is None or isinstance(budget, Budget), f"budget must be a Budget, got {budget!r}")
        _require(
            budget is not None or getattr(self.survival, "name", "") != "front",
            "survival 'front' needs a budget (the cost axis of the front)",
        )
        self.budget = budget
        self.ranking: RankingLike = search_ranking(self.proxies, space) if ranking is None else ranking
        self._default_ranking = ranking is None
        self.space, self.scorer, self.callbacks = space, scorer, list(callbacks)
        self._objectives_fn = objectives
        self.pop_size, self.generations, self.seed = int(pop_size), int(generations), int(seed)
        self.offspring_size = int(pop_size if offspring_size is None else offspring_size)
        fits = budget.fits if budget is not None and budget.limits else None
        self.mating = Mating(space, self.variation, max_attempts, accept=fits)
        self.schedule = TournamentSchedule(tournament, tournament_every, final_tournament, self.generations)
        self.rates = AdaptiveRates(
            float(crossover_rate), float(mutation_rate), bool(adapt_rates), float(adapt_speed), rate_bounds
        )
        self._reset()

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_proxies(proxies: Sequence[str] | None, scorer: Any) -> tuple[str, ...]:
        names = getattr(scorer, "proxies", None) if proxies is None else proxies
        if names is None or isinstance(names, str) or len(names) == 0:
            raise ValueError("give proxies (a non-empty sequence of names) or a scorer with a .proxies attribute")
        _require(
            all(isinstance(p, str) for p in names) and len(set(names)) == len(names),
            f"proxies must be distinct names, got {list(names)}",
        )
        return tuple(names)

    @staticmethod
    def _check_sizes(
        pop_size: Any, offspring_size: Any, generations: Any, every: Any, attempts: Any, seed: Any
    ) -> None:
        _require(_is_int(pop_size, 2), f"pop_size must be an int >= 2, got {pop_size!r}")
        _require(
            offspring_size is None or _is_int(offspring_size, 1),
            f"offspring_size must be an int >= 1, got {offspring_size!r}",
        )
        _require(_is_int(generations, 0), f"generations must be an int >= 0, got {generations!r}")
        _require(_is_int(every, 1), f"tournament_every must be an int >= 1, got {every!r}")
        _require(_is_int(attempts, 1), f"max_attempts must be an int >= 1, got {attempts!r}")
        _require(_is_int(seed, 0), f"seed must be an int >= 0, got {seed!r}")

    @staticmethod
    def _check_rates(crossover: Any, mutation: Any, speed: Any, bounds: Any) -> None:
        _require(_rate_ok(crossover), f"crossover_rate must be in [0, 1], got {crossover!r}")
        _require(_rate_ok(mutation), f"mutation_rate must be in [0, 1], got {mutation!r}")
        _require(isinstance(speed, (int, float)) and speed >= 0, f"adapt_speed must be >= 0, got {speed!r}")
        ok = (
            isinstance(bounds, (tuple, list))
            and len(bounds) == 2
            and all(_rate_ok(b) for b in bounds)
            and bounds[0] <= bounds[1]
        )
        _require(ok, f"rate_bounds must be (low, high) with 0 <= low <= high <= 1, got {bounds!r}")

    @staticmethod
    def _check_components(tournament: Any, final_tournament: Any, callbacks: Sequence[Any], ranking: Any) -> None:
        for name, t in (("tournament", tournament), ("final_tournament", final_tournament)):
            _require(
                t is None or (hasattr(t, "run") and _is_int(getattr(t, "size", 0), 2)),
                f"{name} must have run() and an int size >= 2, got {t!r}",
            )
        _require(all(isinstance(cb, Callback) for cb in callbacks), "callbacks must be Callback instances")
        _require(
            ranking is None or callable(ranking),
            f"ranking must be callable (objective matrix -> indices), got {ranking!r}",
        )

    def _reset(self) -> None:
        self.generation = -1
        self.population: list[Any] = []
        self.population_scores: list[dict[str, float]] = []
        self.history: list[dict[str, Any]] = []
        self.num_evaluated = 0
        axis = self.budget.axis.name if self.budget is not None else None
        self.archive = Archive(self.space, self.proxies, self.objectives, self.ranking, cost_axis=axis)
        self._population_objectives: np.ndarray | None = None
        self._pending: list[Any] | None = None
        self._origins: list[Origin] = []
        self._rng = np.random.default_rng(self.seed)
        self._torch_rng = torch.Generator().manual_seed(self.seed)

    # ------------------------------------------------------------------ objectives
    def objectives(self, scores: Sequence[Scores]) -> np.ndarray:
        """Objectives (minimised) of ``scores``, one row per score dict.

        Raises:
            ValueError: when the ``objectives`` function does not return one row per cell.
        """
        if not scores:
            return np.zeros((0, len(self.proxies)))
        if self._objectives_fn is not None:
            F = np.asarray(self._objectives_fn(list(scores)), dtype=float)
        else:
            F = np.asarray(to_objectives(list(scores), self.proxies), dtype=float)
        _require(
            F.ndim == 2 and len(F) == len(scores),
            f"objectives must return an (n, k) array for {len(scores)} cells, got shape {F.shape}",
        )
        _require(
            not self._default_ranking or F.shape[1] == len(self.proxies),
            f"objectives returned {F.shape[1]} columns for {len(self.proxies)} proxies; the default "
            "ranking weighs one column per proxy: pass ranking= for other columns",
        )
        return F

    def _population_keys(self) -> list[str]:
        return [self.archive.key(g) for g in self.population]

    def _population_matrix(self) -> np.ndarray:
        """The population's rows of the archive's objective matrix."""
        if self._population_objectives is None:
            self._population_objectives = self.archive.objectives_of(self._population_keys())
        return self._population_objectives

    @property
    def done(self) -> bool:
        """Whether all generations have been run."""
        return self.generation >= self.generations

    def pick_ranking(self) -> list[str]:
        """Canonical keys of the eligible archived cells in final-pick order (see :class:`Archive`)."""
        return self.archive.pick_order()

    # ------------------------------------------------------------------ ask / tell
    def ask(self) -> list[Any]:
        """Genotypes to score next: the initial population, then each generation's children.

        Every returned genotype is valid and new (its canonical key was never asked before).
        Calling ``ask`` again before :meth:`tell` returns the same list.
        """
        if self._pending is not None:
            return list(self._pending)
        origins: list[Origin] = []
        if self.generation < 0:
            batch = self.mating.initial(self.pop_size, self.archive, self._rng)
            _require(bool(batch), f"no cell of the {self.space.name} space fits the budget: nothing to evaluate")
        else:
            fitness = self.survival.parent_fitness(self._population_keys(), self.archive)
            batch, origins = self.mating.offspring(
                self.population, fitness, self.offspring_size, self.rates, self.archive, self._rng
            )
        self._pending = batch
        self._origins = origins or [(False, False)] * len(batch)
        return list(batch)

    def tell(self, genotypes: Sequence[Any], scores: Sequence[Scores]) -> dict[str, Any]:
        """Hand back the scores of the genotypes from :meth:`ask`; run selection.

        Returns:
            The history record of the generation.

        Raises:
            ValueError: when ``genotypes`` is not the last :meth:`ask` result or the
                lengths differ.
        """
        if self._pending is None:
            raise ValueError("tell() without a pending ask(): call ask() first")
        if len(genotypes) != len(self._pending) or any(g != p for g, p in zip(genotypes, self._pending, strict=False)):
            raise ValueError("tell() must receive exactly the genotypes of the last ask(), in order")
        if len(scores) != len(genotypes):
            raise ValueError(f"got {len(scores)} scores for {len(genotypes)} genotypes")
        cleaned = [clean_scores(s, self.proxies) for s in scores]
        costs = self.budget.measure(list(genotypes)) if self.budget is not None else [None] * len(genotypes)
        keys = [self.archive.add(g, sc, c) for g, sc, c in zip(genotypes, cleaned, costs, strict=True)]
        if self.generation < 0:
            self.archive.set_reference(keys)
        self.num_evaluated += len(genotypes)
        record = self._select(list(genotypes), cleaned)
        self._pending, self._origins = None, []
        self._notify(record)
        return record

    def _select(self, children: list[Any], child_scores: list[dict[str, float]]) -> dict[str, Any]:
        """Survival of parents and children, rate adaptation, then the tournament due."""
        pool = self.population + children
        pool_scores = self.population_scores + child_scores
        pool_keys = [self.archive.key(g) for g in pool]
        order = [int(i) for i in self.survival.order(pool_keys, self.archive)]
        keep = order[: self.pop_size]
        survived = np.isin(np.arange(len(self.population), len(pool)), keep)
        success = self.rates.update(self._origins, survived)
        self.generation += 1
        outcome = self.schedule.run(self.generation, self.archive, self._torch_rng)
        if outcome is not None:
            keep = surviving(keep, order, pool_keys, outcome)
        self.population = [pool[i] for i in keep]
        self.population_scores = [pool_scores[i] for i in keep]
        self._population_objectives = None
        record = self._record(len(children), survived, success, outcome.record if outcome else None)
        self.history.append(record)
        return record

    def _record(
        self, new: int, survived: np.ndarray, success: dict[str, float | None], tournament: dict[str, Any] | None
    ) -> dict[str, Any]:
        F = self._population_matrix()
        return {
            "generation": self.generation,
            "evaluations": self.num_evaluated,
            "new": new,
            "survived": int(survived.sum()),
            "front_size": len(self.archive.front()) if self.budget is not None else int(len(pareto_front(F))),
            "objectives_min": [float(v) for v in F.min(axis=0)],
            "objectives_mean": [float(v) for v in F.mean(axis=0)],
            "best": self.archive.entry(self.archive.pick_order()[0]),
            "crossover_rate": self.rates.crossover,
            "mutation_rate": self.rates.mutation,
            "success": success,
            "tournament": tournament,
        }

    def _notify(self, record: dict[str, Any]) -> None:
        if self.callbacks:
            snap = self.snapshot(record)
            for cb in self.callbacks:
                cb.on_generation(snap)

    # ------------------------------------------------------------------ results
    def snapshot(self, record: dict[str, Any] | None = None) -> Snapshot:
        """A read-only view of the current population for observers."""
        F = self._population_matrix().copy()
        F.setflags(write=False)
        return Snapshot(
            generation=self.generation,
            population=tuple(self.space.format(g) for g in self.population),
            scores=tuple(dict(s) for s in self.population_scores),
            objectives=F,
            front=tuple(int(i) for i in pareto_front(F)) if len(F) else (),
            record=dict(record if record is not None else (self.history[-1] if self.history else {})),
            state=self.state_dict,
            cost_front=self._cost_front(),
        )

    def _cost_front(self) -> dict[str, Any] | None:
        if self.budget is None or not len(self.archive):
            return None
        order = self.archive.pick_order()
        positions = {k: i for i, k in enumerate(order)}
        return {
            "quality": quality_of(len(order)).tolist(),
            "cost": self.archive.axis_costs(order).tolist(),
            "front": [positions[k] for k in self.archive.front()],
            "limit": self.budget.limits.get(self.budget.axis.name),
            "label": self.budget.axis.label or self.budget.axis.name,
        }

    def result(self) -> EvolutionResult:
        """The final pick, the non-dominated cells and the history so far.

        Raises:
            ValueError: before the initial population was told.
        """
        if not self.population:
            raise ValueError("no population yet: nothing has been evaluated")
        ranking = self.archive.pick_order()
        entries = [self.archive.entry(k) for k in ranking]
        if self.budget is not None:
            quality = dict(zip(ranking, quality_of(len(ranking)).tolist(), strict=True))
            front_entries = [{**self.archive.entry(k), "quality": quality[k]} for k in self.archive.front()]
        else:
            front = set(int(i) for i in pareto_front(self.archive.objectives_of(ranking)))
            front_entries = [e for i, e in enumerate(entries) if i in front]
        return EvolutionResult(
            best=entries[0],
            front=front_entries,
            history=[dict(h) for h in self.history],
            evaluations=self.num_evaluated,
            generations=max(self.generation, 0),
        )

    def run(self, *, progress: bool = True) -> EvolutionResult:
        """Score and select until ``generations`` are done (continues a loaded state).

        Args:
            progress: show a progress bar over generations (and the scorer's own).

        Raises:
            ValueError: without a scorer.
        """
        if self.scorer is None:
            raise ValueError("run() needs a scorer; pass scorer= or use ask()/tell()")
        for cb in self.callbacks:
            cb.on_start(self.snapshot() if self.population else None)
        with progress_bar(
            self.generations - self.generation, "generations", unit="gen", enabled=progress and is_terminal()
        ) as bar:
            while not self.done:
                genotypes = self.ask()
                self.tell(genotypes, self.scorer.score_many(genotypes, progress=progress))
                bar.update(1)
        result = self.result()
        for cb in self.callbacks:
            cb.on_end(result)
        return result

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the search, as JSON-ready values.

        Holds the population (as text) with its scores, the archive (cells, eliminated
        keys, final winners), the rates, the history and both random generators' states.
        """
        return {
            "version": STATE_VERSION,
            "space": self.space.name,
            "proxies": list(self.proxies),
            "pop_size": self.pop_size,
            "offspring_size": self.offspring_size,
            "seed": self.seed,
            "generation": self.generation,
            "num_evaluated": self.num_evaluated,
            "population": [self.space.format(g) for g in self.population],
            "population_scores": [dict(s) for s in self.population_scores],
            **self.archive.state_dict(),
            "crossover_rate": self.rates.crossover,
            "mutation_rate": self.rates.mutation,
            "history": [dict(h) for h in self.history],
            "numpy_rng": self._rng.bit_generator.state,
            "torch_rng": base64.b64encode(self._torch_rng.get_state().numpy().tobytes()).decode("ascii"),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the search then continues where it stopped.

        Raises:
            ValueError: a state written by an earlier fne, a state of another space, size,
                seed or version, or a malformed one (nothing is changed then).
        """
        _refuse_earlier(state)
        for key, mine in (
            ("version", STATE_VERSION),
            ("space", self.space.name),
            ("proxies", list(self.proxies)),
            ("pop_size", self.pop_size),
            ("offspring_size", self.offspring_size),
            ("seed", self.seed),
        ):
            if state.get(key) != mine:
                raise ValueError(
                    f"state mismatch for {key!r}: state has {state.get(key)!r}, this evolution has {mine!r}"
                )
        try:
            restored = self._parse_state(state)
            self.archive.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:  # RuntimeError: a bad torch_rng
            raise ValueError(f"malformed evolution state: {type(err).__name__}: {err}") from None
        self.rates.crossover, self.rates.mutation = restored.pop("rates")
        for name, value in restored.items():
            setattr(self, name, value)
        self._population_objectives = None
        self._pending, self._origins = None, []

    def _parse_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The state's values by attribute name (the archive restores its own part)."""
        population = [self.space.parse(text) for text in state["population"]]
        scores = [clean_scores(s, self.proxies) for s in state["population_scores"]]
        if len(scores) != len(population):
            raise ValueError("population and population_scores differ in length")
        rng = np.random.default_rng()
        rng.bit_generator.state = dict(state["numpy_rng"])
        return {
            "population": population,
            "population_scores": scores,
            "generation": int(state["generation"]),
            "num_evaluated": int(state["num_evaluated"]),
            "history": [dict(h) for h in state["history"]],
            "rates": (float(state["crossover_rate"]), float(state["mutation_rate"])),
            "_rng": rng,
            "_torch_rng": _torch_generator(state["torch_rng"]),
        }


def quality_of(n: int) -> np.ndarray:
    """The quality of the cells at positions ``0 .. n-1`` of a pick order: the share of the
    other cells ranked below each (1 for the first, 0 for the last; 1 for a lone cell)."""
    if n <= 1:
        return np.ones(n)
    return 1.0 - np.arange(n) / (n - 1)


def _refuse_earlier(state: Mapping[str, Any]) -> None:
    """``ValueError`` for a state an earlier fne wrote: an earlier version, or one without ``reference``."""
    version = state.get("version")
    if isinstance(version, int) and (
        version < STATE_VERSION or (version == STATE_VERSION and "reference" not in state)
    ):
        raise ValueError(
            f"this evolution state was written by an earlier fne (state version {version}, "
            f"{'with' if 'reference' in state else 'without'} reference cells) and cannot be continued; "
            "start a new run"
        )


def _torch_generator(text: Any) -> torch.Generator:
    """A CPU generator restored from its base64 state; ``ValueError`` when it is not one."""
    generator = torch.Generator()
    try:
        raw = np.frombuffer(base64.b64decode(text, validate=True), dtype=np.uint8).copy()
        generator.set_state(torch.from_numpy(raw))
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"torch_rng is not a saved torch generator state ({err})") from None
    return generator
