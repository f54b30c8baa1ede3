"""The search loop: (mu + lambda) evolution with Pareto selection and optional tournaments.

::

    scorer = Scorer(space, ("ntk", "naswot", "grad_corr"), inputs=x, targets=y)
    evo = Evolution(space=space, scorer=scorer, pop_size=16, generations=10, seed=0)
    result = evo.run()
    print(result.best["arch"])

or, scoring elsewhere, ``genotypes = evo.ask(); evo.tell(genotypes, my_scores(genotypes))``.

One generation: parents are drawn by binary tournament (front, then crowding distance);
each child is a crossover with probability ``crossover_rate`` and is mutated with
probability ``mutation_rate`` (always when it was not crossed, so that it differs from its
parent); children whose canonical key was already evaluated are mutated again, so nothing
is scored twice. Parents and children compete; NSGA-II keeps ``pop_size`` of them
(:func:`fne.evolution.selection.select_survivors`).

Self-adaptive rates. After each generation a child counts as a success when it survives.
For each operator (crossover, mutation) let ``s_with`` be the success fraction of the
children it helped make and ``s_without`` that of the other children; the rate becomes
``clip(rate * exp(adapt_speed * (s_with - s_without)), *rate_bounds)``. An operator that
produces survivors more often than the rest is used more.

Archive and final pick. Every scored cell enters the archive. Cells that lost a
tournament are *eliminated*; the others are *eligible*. The pick order sorts the eligible
cells by non-dominated front, then by the sum of their ranks (one rank per objective over
all eligible cells), then by evaluation order (:func:`fne.evolution.selection.pick_order`).
The final pick is the first cell: the non-dominated eligible cell with the smallest rank
sum (also the smallest rank sum overall, since a cell that dominates another has a
smaller one). Ranking against everything evaluated, rather than against the final
population alone, rewards cells that are good on every proxy rather than the extremes the
population spreads out to. Each history record's ``best`` is the pick at that generation.

Tournament. Every ``tournament_every`` generations the first ``tournament.size`` cells of
the pick order compete in ``tournament.run``; the losers are eliminated (and leave the
population, the next cells in NSGA-II order of parents and children taking their places).
A tournament therefore screens exactly the cells the final pick would choose. An optional
``final_tournament`` takes the place of the tournament after the last generation (it may
be larger and train longer); its losers are eliminated from the pick but the final
population stays as selected, and with one winner, that winner is the final pick.
"""

from __future__ import annotations

import base64
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from fne.progress import is_terminal, progress_bar

from fne.genotopheno.space import SearchSpace

from .fitness import to_objectives
from .selection import binary_tournament, pareto_front, pick_order, rank_and_crowding, select_survivors
from .tournament import Tournament
from .variation import VariationOperators, get_variation

logger = logging.getLogger(__name__)

__all__ = ["Evolution", "EvolutionResult", "Snapshot", "Callback"]

Scores = Mapping[str, float]
STATE_VERSION = 1


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
    """

    generation: int
    population: Tuple[str, ...]
    scores: Tuple[Dict[str, float], ...]
    objectives: np.ndarray
    front: Tuple[int, ...]
    record: Dict[str, Any]
    state: Callable[[], Dict[str, Any]] = field(repr=False)

    def state_dict(self) -> Dict[str, Any]:
        """The evolution's full state (a fresh copy), e.g. for a checkpoint."""
        return self.state()


class Callback:
    """Observes the search; override any of the hooks. Callbacks cannot steer it."""

    def on_start(self, snapshot: Optional[Snapshot]) -> None:
        """Called by :meth:`Evolution.run` first; ``None`` before the initial population."""

    def on_generation(self, snapshot: Snapshot) -> None:
        """Called after every generation."""

    def on_end(self, result: "EvolutionResult") -> None:
        """Called by :meth:`Evolution.run` with the result."""


@dataclass(frozen=True)
class EvolutionResult:
    """Outcome of a search.

    Attributes:
        best: ``{"arch": text, "scores": {...}}`` of the picked cell.
        front: the final non-dominated cells, same form, best pick first.
        history: one record per generation.
        evaluations: distinct cells scored.
        generations: generations completed (initial population excluded).
    """

    best: Dict[str, Any]
    front: List[Dict[str, Any]]
    history: List[Dict[str, Any]]
    evaluations: int
    generations: int

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict (JSON-ready apart from non-finite scores)."""
        return {"best": self.best, "front": self.front, "history": self.history,
                "evaluations": self.evaluations, "generations": self.generations}


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low


def _rate_ok(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


class Evolution:
    """Multi-objective evolution over a search space; see the module docstring.

    Args:
        space: the search space (variation operators are looked up by its name).
        scorer: object with ``score_many(genotypes, progress=...) -> list of score dicts``
            and ``proxies``; needed by :meth:`run`, not by :meth:`ask`/:meth:`tell`.
        proxies: proxy names turned into objectives; default ``scorer.proxies``.
        objectives: ``f(list of score dicts) -> (n, k) array`` to minimise; default
            ``fne.evolution.fitness.to_objectives(scores, proxies)``.
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

    Raises:
        ValueError: naming the first argument that is out of range.
    """

    def __init__(self, *, space: SearchSpace, scorer: Any = None, proxies: Optional[Sequence[str]] = None,
                 objectives: Optional[Callable[[List[Scores]], np.ndarray]] = None, pop_size: int = 16,
                 offspring_size: Optional[int] = None, generations: int = 10,
                 tournament: Optional[Tournament] = None, tournament_every: int = 3,
                 final_tournament: Optional[Tournament] = None,
                 crossover_rate: float = 0.5, mutation_rate: float = 0.5, adapt_rates: bool = True,
                 adapt_speed: float = 1.0, rate_bounds: Tuple[float, float] = (0.1, 0.9), seed: int = 0,
                 callbacks: Sequence[Callback] = (), max_attempts: int = 100) -> None:
        _require(isinstance(space, SearchSpace), f"space must be a SearchSpace, got {type(space).__name__}")
        self.variation: VariationOperators = get_variation(space)
        self.proxies = self._check_proxies(proxies, scorer)
        self._check_sizes(pop_size, offspring_size, generations, tournament_every, max_attempts, seed)
        self._check_rates(crossover_rate, mutation_rate, adapt_speed, rate_bounds)
        for name, t in (("tournament", tournament), ("final_tournament", final_tournament)):
            _require(t is None or (hasattr(t, "run") and _is_int(getattr(t, "size", 0), 2)),
                     f"{name} must have run() and an int size >= 2, got {t!r}")
        _require(all(isinstance(cb, Callback) for cb in callbacks), "callbacks must be Callback instances")
        self.space, self.scorer, self.tournament = space, scorer, tournament
        self.final_tournament = final_tournament
        self._objectives_fn = objectives
        self.pop_size, self.generations, self.seed = int(pop_size), int(generations), int(seed)
        self.offspring_size = int(pop_size if offspring_size is None else offspring_size)
        self.tournament_every, self.max_attempts = int(tournament_every), int(max_attempts)
        self.adapt_rates, self.adapt_speed, self.rate_bounds = bool(adapt_rates), float(adapt_speed), rate_bounds
        self.callbacks = list(callbacks)
        self._reset(float(crossover_rate), float(mutation_rate))

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_proxies(proxies: Optional[Sequence[str]], scorer: Any) -> Tuple[str, ...]:
        if proxies is None:
            proxies = getattr(scorer, "proxies", None)
        _require(proxies is not None and not isinstance(proxies, str) and len(proxies) > 0,
                 "give proxies (a non-empty sequence of names) or a scorer with a .proxies attribute")
        _require(all(isinstance(p, str) for p in proxies) and len(set(proxies)) == len(proxies),
                 f"proxies must be distinct names, got {list(proxies)}")
        return tuple(proxies)

    @staticmethod
    def _check_sizes(pop_size: Any, offspring_size: Any, generations: Any, every: Any,
                     attempts: Any, seed: Any) -> None:
        _require(_is_int(pop_size, 2), f"pop_size must be an int >= 2, got {pop_size!r}")
        _require(offspring_size is None or _is_int(offspring_size, 1),
                 f"offspring_size must be an int >= 1, got {offspring_size!r}")
        _require(_is_int(generations, 0), f"generations must be an int >= 0, got {generations!r}")
        _require(_is_int(every, 1), f"tournament_every must be an int >= 1, got {every!r}")
        _require(_is_int(attempts, 1), f"max_attempts must be an int >= 1, got {attempts!r}")
        _require(_is_int(seed, 0), f"seed must be an int >= 0, got {seed!r}")

    @staticmethod
    def _check_rates(crossover: Any, mutation: Any, speed: Any, bounds: Any) -> None:
        _require(_rate_ok(crossover), f"crossover_rate must be in [0, 1], got {crossover!r}")
        _require(_rate_ok(mutation), f"mutation_rate must be in [0, 1], got {mutation!r}")
        _require(isinstance(speed, (int, float)) and speed >= 0, f"adapt_speed must be >= 0, got {speed!r}")
        ok = (isinstance(bounds, (tuple, list)) and len(bounds) == 2 and all(_rate_ok(b) for b in bounds)
              and bounds[0] <= bounds[1])
        _require(ok, f"rate_bounds must be (low, high) with 0 <= low <= high <= 1, got {bounds!r}")

    def _reset(self, crossover_rate: float, mutation_rate: float) -> None:
        self.generation = -1
        self.population: List[Any] = []
        self.population_scores: List[Dict[str, float]] = []
        self.crossover_rate, self.mutation_rate = crossover_rate, mutation_rate
        self.history: List[Dict[str, Any]] = []
        self.num_evaluated = 0
        self._archive: Dict[str, Tuple[Any, Dict[str, float]]] = {}
        self._eliminated: Dict[str, None] = {}
        self._final_winners: List[str] = []
        self._pending: Optional[List[Any]] = None
        self._origins: List[Tuple[bool, bool]] = []
        self._rng = np.random.default_rng(self.seed)
        self._torch_rng = torch.Generator().manual_seed(self.seed)

    # ------------------------------------------------------------------ objectives
    def objectives(self, scores: Sequence[Scores]) -> np.ndarray:
        """Objectives (minimised) of ``scores``, shape ``(len(scores), len(proxies))``."""
        if not scores:
            return np.zeros((0, len(self.proxies)))
        if self._objectives_fn is not None:
            return np.asarray(self._objectives_fn(list(scores)), dtype=float)
        return np.asarray(to_objectives(list(scores), self.proxies), dtype=float)

    @property
    def done(self) -> bool:
        """Whether all generations have been run."""
        return self.generation >= self.generations

    # ------------------------------------------------------------------ ask
    def ask(self) -> List[Any]:
        """Genotypes to score next: the initial population, then each generation's children.

        Every returned genotype is valid and new (its canonical key was never asked before).
        Calling ``ask`` again before :meth:`tell` returns the same list.
        """
        if self._pending is not None:
            return list(self._pending)
        if self.generation < 0:
            batch, origins = self._initial(), None
        else:
            batch, origins = self._offspring()
        self._pending = batch
        self._origins = origins or [(False, False)] * len(batch)
        return list(batch)

    def _key(self, genotype: Any) -> str:
        return self.space.canonical(genotype)

    def _fresh(self, genotype: Any, taken: Dict[str, None]) -> bool:
        key = self._key(genotype)
        return key not in self._archive and key not in taken

    def _initial(self) -> List[Any]:
        batch: List[Any] = []
        taken: Dict[str, None] = {}
        for _ in range(self.pop_size * self.max_attempts):
            if len(batch) == self.pop_size:
                break
            g = self.space.sample(self._rng)
            if self._fresh(g, taken):
                taken[self._key(g)] = None
                batch.append(g)
        return batch

    def _offspring(self) -> Tuple[List[Any], List[Tuple[bool, bool]]]:
        rank, crowd = rank_and_crowding(self.objectives(self.population_scores))
        batch: List[Any] = []
        origins: List[Tuple[bool, bool]] = []
        taken: Dict[str, None] = {}
        for _ in range(self.offspring_size):
            child, origin = self._make_child(rank, crowd, taken)
            if child is None:
                break
            taken[self._key(child)] = None
            batch.append(child)
            origins.append(origin)
        return batch, origins

    def _make_child(self, rank: np.ndarray, crowd: np.ndarray,
                    taken: Dict[str, None]) -> Tuple[Any, Tuple[bool, bool]]:
        """One new child and whether crossover / mutation made it (``None`` if none found)."""
        for _ in range(self.max_attempts):
            a, b = binary_tournament(rank, crowd, 2, self._rng)
            crossed = bool(self._rng.random() < self.crossover_rate)
            mutated = bool(self._rng.random() < self.mutation_rate) or not crossed
            child = self.population[a]
            if crossed:
                child = self.variation.crossover(self.space, child, self.population[b], self._rng)
            if mutated:
                child = self.variation.mutate(self.space, child, self._rng)
            for _ in range(3):
                if self._fresh(child, taken):
                    return child, (crossed, mutated)
                child, mutated = self.variation.mutate(self.space, child, self._rng), True
        for _ in range(self.max_attempts):
            child = self.space.sample(self._rng)
            if self._fresh(child, taken):
                return child, (False, False)
        return None, (False, False)

    # ------------------------------------------------------------------ tell
    def tell(self, genotypes: Sequence[Any], scores: Sequence[Scores]) -> Dict[str, Any]:
        """Hand back the scores of the genotypes from :meth:`ask`; run selection.

        Returns:
            The history record of the generation.

        Raises:
            ValueError: when ``genotypes`` is not the last :meth:`ask` result or the
                lengths differ.
        """
        if self._pending is None:
            raise ValueError("tell() without a pending ask(): call ask() first")
        if len(genotypes) != len(self._pending) or any(g != p for g, p in zip(genotypes, self._pending)):
            raise ValueError("tell() must receive exactly the genotypes of the last ask(), in order")
        if len(scores) != len(genotypes):
            raise ValueError(f"got {len(scores)} scores for {len(genotypes)} genotypes")
        scores = [_clean_scores(s, self.proxies) for s in scores]
        for g, sc in zip(genotypes, scores):
            self._archive[self._key(g)] = (g, sc)
        self.num_evaluated += len(genotypes)
        record = self._select(list(genotypes), scores)
        self._pending, self._origins = None, []
        self._notify(record)
        return record

    def _select(self, children: List[Any], child_scores: List[Dict[str, float]]) -> Dict[str, Any]:
        pool = self.population + children
        pool_scores = self.population_scores + child_scores
        F = self.objectives(pool_scores)
        order = [int(i) for i in select_survivors(F, len(pool))]
        keep = order[:self.pop_size]
        survived = np.isin(np.arange(len(self.population), len(pool)), keep)
        rates = self._adapt(survived)
        self.generation += 1
        tournament, competition = None, self._scheduled_tournament()
        if competition is not None:
            kept, tournament = self._tournament(competition, pool, keep, order)
            if not self._final_due:
                keep = kept
        self.population = [pool[i] for i in keep]
        self.population_scores = [pool_scores[i] for i in keep]
        record = self._record(len(children), survived, rates, tournament or None)
        self.history.append(record)
        return record

    def _adapt(self, survived: np.ndarray) -> Dict[str, Optional[float]]:
        """Update the rates from the survival of this generation's children (see module doc)."""
        success: Dict[str, Optional[float]] = {"crossover": None, "mutation": None}
        if not self._origins or survived.size == 0:
            return success
        used = np.array(self._origins, dtype=bool).reshape(-1, 2)
        for col, name in enumerate(("crossover", "mutation")):
            with_op, without = survived[used[:, col]], survived[~used[:, col]]
            if with_op.size:
                success[name] = float(with_op.mean())
            if self.adapt_rates and with_op.size and without.size:
                step = math.exp(self.adapt_speed * (with_op.mean() - without.mean()))
                rate = getattr(self, f"{name}_rate") * step
                setattr(self, f"{name}_rate", float(np.clip(rate, *self.rate_bounds)))
        return success

    @property
    def _final_due(self) -> bool:
        """Whether the final tournament replaces this generation's tournament."""
        return self.final_tournament is not None and self.generation == self.generations

    def _scheduled_tournament(self) -> Optional[Tournament]:
        """The tournament due after this generation, if any."""
        if self._final_due:
            return self.final_tournament
        if self.tournament is not None and self.generation > 0 and self.generation % self.tournament_every == 0:
            return self.tournament
        return None

    def _tournament(self, competition: Tournament, pool: List[Any], keep: List[int],
                    order: List[int]) -> Tuple[List[int], Dict[str, Any]]:
        """Let the first ``competition.size`` eligible cells in pick order compete.

        Losers are eliminated; those in the new population are replaced by the next
        cells of ``order`` (NSGA-II order of ``pool``).
        """
        ranked = self.pick_ranking()
        candidates = ranked[:min(competition.size, len(ranked))]
        if len(candidates) < 2:
            return keep, {}
        result = competition.run(self.space, [self._archive[k][0] for k in candidates], self._torch_rng)
        losers = {candidates[j] for j in range(len(candidates)) if j not in result.winners}
        self._eliminated.update(dict.fromkeys(sorted(losers)))
        if self._final_due:
            self._final_winners = [candidates[j] for j in result.winners]
        alive = [i for i in order if self._key(pool[i]) not in losers]
        kept = [i for i in keep if i in alive]
        kept += [i for i in alive if i not in keep][:len(keep) - len(kept)]
        texts = [self.space.format(self._archive[k][0]) for k in candidates]
        logger.info("generation %d tournament: %d candidates, %d eliminated", self.generation,
                    len(candidates), len(losers))
        record = {"candidates": texts, "weights": [float(w) for w in result.weights],
                  "winners": [texts[j] for j in result.winners], "final": self._final_due}
        if getattr(result, "steps", 0):
            record["steps"] = int(result.steps)
        if getattr(result, "trace", ()):
            record["trace"] = [list(w) for w in result.trace]
        return kept, record

    def pick_ranking(self) -> List[str]:
        """Canonical keys of the eligible archived cells in final-pick order (module doc).

        After a final tournament its winners come first, in the order of their weights:
        removing the losers can bring cells that were not candidates onto the front, and
        they must not overtake the cells that won.
        """
        keys = [k for k in self._archive if k not in self._eliminated]
        if not keys:
            return []
        F = self.objectives([self._archive[k][1] for k in keys])
        ranked = [keys[int(i)] for i in pick_order(F)]
        winners = [k for k in self._final_winners if k in self._archive and k not in self._eliminated]
        return winners + [k for k in ranked if k not in winners]

    def _entry_of(self, key: str) -> Dict[str, Any]:
        genotype, scores = self._archive[key]
        return {"arch": self.space.format(genotype), "scores": dict(scores)}

    def _record(self, new: int, survived: np.ndarray, success: Dict[str, Optional[float]],
                tournament: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        F = self.objectives(self.population_scores)
        return {
            "generation": self.generation, "evaluations": self.num_evaluated, "new": new,
            "survived": int(survived.sum()), "front_size": int(len(pareto_front(F))),
            "objectives_min": [float(v) for v in F.min(axis=0)],
            "objectives_mean": [float(v) for v in F.mean(axis=0)],
            "best": self._entry_of(self.pick_ranking()[0]),
            "crossover_rate": self.crossover_rate, "mutation_rate": self.mutation_rate,
            "success": success, "tournament": tournament,
        }

    def _notify(self, record: Dict[str, Any]) -> None:
        if self.callbacks:
            snap = self.snapshot(record)
            for cb in self.callbacks:
                cb.on_generation(snap)

    # ------------------------------------------------------------------ results
    def snapshot(self, record: Optional[Dict[str, Any]] = None) -> Snapshot:
        """A read-only view of the current population for observers."""
        F = self.objectives(self.population_scores)
        F.setflags(write=False)
        return Snapshot(
            generation=self.generation, population=tuple(self.space.format(g) for g in self.population),
            scores=tuple(dict(s) for s in self.population_scores), objectives=F,
            front=tuple(int(i) for i in pareto_front(F)) if len(F) else (),
            record=dict(record if record is not None else (self.history[-1] if self.history else {})),
            state=self.state_dict)

    def result(self) -> EvolutionResult:
        """The final pick, the non-dominated cells and the history so far.

        Raises:
            ValueError: before the initial population was told.
        """
        if not self.population:
            raise ValueError("no population yet: nothing has been evaluated")
        ranking = self.pick_ranking()
        F = self.objectives([self._archive[k][1] for k in ranking])
        front = set(int(i) for i in pareto_front(F))
        return EvolutionResult(best=self._entry_of(ranking[0]),
                               front=[self._entry_of(k) for i, k in enumerate(ranking) if i in front],
                               history=[dict(h) for h in self.history], evaluations=self.num_evaluated,
                               generations=max(self.generation, 0))

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
        with progress_bar(self.generations - self.generation, "generations", unit="gen",
                          enabled=progress and is_terminal()) as bar:
            while not self.done:
                genotypes = self.ask()
                self.tell(genotypes, self.scorer.score_many(genotypes, progress=progress))
                bar.update(1)
        result = self.result()
        for cb in self.callbacks:
            cb.on_end(result)
        return result

    # ------------------------------------------------------------------ state
    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue the search, as JSON-ready values.

        Holds the population (as text) with its scores, the canonical keys already
        evaluated, the rates, the history and both random generators' states.
        """
        return {
            "version": STATE_VERSION, "space": self.space.name, "proxies": list(self.proxies),
            "pop_size": self.pop_size, "offspring_size": self.offspring_size, "seed": self.seed,
            "generation": self.generation, "num_evaluated": self.num_evaluated,
            "population": [self.space.format(g) for g in self.population],
            "population_scores": [dict(s) for s in self.population_scores],
            "archive": [[self.space.format(g), dict(sc)] for g, sc in self._archive.values()],
            "eliminated": list(self._eliminated), "final_winners": list(self._final_winners),
            "crossover_rate": self.crossover_rate,
            "mutation_rate": self.mutation_rate, "history": [dict(h) for h in self.history],
            "numpy_rng": self._rng.bit_generator.state,
            "torch_rng": base64.b64encode(self._torch_rng.get_state().numpy().tobytes()).decode("ascii"),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the search then continues where it stopped.

        Raises:
            ValueError: a state of another space, size, seed or version, or a malformed one
                (nothing is changed then).
        """
        for key, mine in (("version", STATE_VERSION), ("space", self.space.name),
                          ("proxies", list(self.proxies)), ("pop_size", self.pop_size),
                          ("offspring_size", self.offspring_size), ("seed", self.seed)):
            if state.get(key) != mine:
                raise ValueError(f"state mismatch for {key!r}: state has {state.get(key)!r}, "
                                 f"this evolution has {mine!r}")
        try:
            restored = self._parse_state(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:  # RuntimeError: a bad torch_rng
            raise ValueError(f"malformed evolution state: {type(err).__name__}: {err}") from None
        for name, value in restored.items():
            setattr(self, name, value)
        self._pending, self._origins = None, []

    def _parse_state(self, state: Mapping[str, Any]) -> Dict[str, Any]:
        population = [self.space.parse(text) for text in state["population"]]
        scores = [_clean_scores(s, self.proxies) for s in state["population_scores"]]
        if len(scores) != len(population):
            raise ValueError("population and population_scores differ in length")
        rng = np.random.default_rng()
        rng.bit_generator.state = dict(state["numpy_rng"])
        torch_rng = _torch_generator(state["torch_rng"])
        return {"population": population, "population_scores": scores, "generation": int(state["generation"]),
                "num_evaluated": int(state["num_evaluated"]), "_archive": self._parse_archive(state["archive"]),
                "_eliminated": dict.fromkeys(str(k) for k in state["eliminated"]),
                "_final_winners": [str(k) for k in state.get("final_winners", [])],
                "crossover_rate": float(state["crossover_rate"]), "mutation_rate": float(state["mutation_rate"]),
                "history": [dict(h) for h in state["history"]], "_rng": rng, "_torch_rng": torch_rng}


    def _parse_archive(self, entries: Sequence[Sequence[Any]]) -> Dict[str, Tuple[Any, Dict[str, float]]]:
        archive = {}
        for text, scores in entries:
            genotype = self.space.parse(text)
            archive[self._key(genotype)] = (genotype, _clean_scores(scores, self.proxies))
        return archive


def _torch_generator(text: Any) -> torch.Generator:
    """A CPU generator restored from its base64 state; ``ValueError`` when it is not one."""
    generator = torch.Generator()
    try:
        raw = np.frombuffer(base64.b64decode(text, validate=True), dtype=np.uint8).copy()
        generator.set_state(torch.from_numpy(raw))
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"torch_rng is not a saved torch generator state ({err})") from None
    return generator


def _clean_scores(scores: Scores, proxies: Sequence[str]) -> Dict[str, float]:
    """Scores as plain floats (None, as written for non-finite values in JSON, becomes NaN)."""
    if not isinstance(scores, Mapping):
        raise ValueError(f"scores must be a mapping of proxy name to value, got {type(scores).__name__}")
    missing = [p for p in proxies if p not in scores]
    if missing:
        raise ValueError(f"scores lack proxies {missing}: got {sorted(scores)}")
    return {str(k): (math.nan if v is None else float(v)) for k, v in scores.items()}
