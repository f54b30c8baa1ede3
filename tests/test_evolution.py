"""The Evolution loop on a cheap, exact fitness: validation, ask/tell, resume, callbacks, tournaments."""

from __future__ import annotations

import json
import zlib
from typing import Any, List, Sequence

import numpy as np
import pytest
import torch

from fne.genotopheno import get_space
from fne.evolution.evolution import Callback, Evolution, Snapshot
from fne.evolution.tournament import TournamentResult

PROXIES = ("conv", "live")


class CountingScorer:
    """Scores NB201 cells by op counts and remembers every canonical key it scored."""

    proxies = PROXIES

    def __init__(self, space: Any) -> None:
        self.space = space
        self.keys: List[str] = []

    def score_many(self, genotypes: Sequence[Any], progress: bool = True) -> List[dict]:
        self.keys += [self.space.canonical(g) for g in genotypes]
        return [{"conv": float(sum(op == "nor_conv_3x3" for op in g.ops)),
                 "live": sum(op != "none" for op in g.ops) + 0.1 * sum(op == "skip_connect" for op in g.ops)}
                for g in genotypes]


def objectives(scores: Sequence[dict]) -> np.ndarray:
    return -np.array([[s["conv"], s["live"]] for s in scores], dtype=float)


class RandomTournament:
    """Keeps one candidate, chosen with the evolution's torch generator."""

    size = 3

    def __init__(self) -> None:
        self.calls = 0

    def run(self, space: Any, genotypes: Sequence[Any], generator: torch.Generator) -> TournamentResult:
        self.calls += 1
        weights = torch.rand(len(genotypes), generator=generator).double().numpy()
        weights /= weights.sum()
        return TournamentResult(weights=weights, winners=(int(np.argmax(weights)),))


def make(seed: int = 0, generations: int = 4, **kw: Any) -> Evolution:
    space = get_space("nb201")
    return Evolution(space=space, scorer=CountingScorer(space), objectives=objectives, pop_size=6,
                     generations=generations, seed=seed, **kw)


@pytest.mark.parametrize("kwargs, message", [
    ({"pop_size": 1}, "pop_size must be an int >= 2"),
    ({"generations": -1}, "generations must be an int >= 0"),
    ({"tournament_every": 0}, "tournament_every must be an int >= 1"),
    ({"crossover_rate": 1.5}, "crossover_rate must be in"),
    ({"rate_bounds": (0.9, 0.1)}, "rate_bounds"),
    ({"seed": -3}, "seed must be an int >= 0"),
    ({"tournament": object()}, "tournament must have run"),
])
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    base = {"space": get_space("nb201"), "proxies": PROXIES, "objectives": objectives}
    with pytest.raises(ValueError, match=message):
        Evolution(**{**base, **kwargs})


def test_arguments_are_keyword_only_and_proxies_required() -> None:
    with pytest.raises(TypeError):
        Evolution(get_space("nb201"))  # type: ignore[misc]
    with pytest.raises(ValueError, match="give proxies"):
        Evolution(space=get_space("nb201"))


def test_ask_tell_protocol() -> None:
    evo = make()
    first = evo.ask()
    assert len(first) == 6 and evo.ask() == first
    keys = {evo.space.canonical(g) for g in first}
    assert len(keys) == 6
    with pytest.raises(ValueError, match="exactly the genotypes of the last ask"):
        evo.tell(first[::-1], evo.scorer.score_many(first[::-1]))
    record = evo.tell(first, evo.scorer.score_many(first))
    assert record["generation"] == 0 and evo.generation == 0
    with pytest.raises(ValueError, match="without a pending ask"):
        evo.tell(first, evo.scorer.score_many(first))
    children = evo.ask()
    assert children and not keys & {evo.space.canonical(g) for g in children}


def test_run_never_scores_a_cell_twice_and_is_elitist() -> None:
    evo = make(generations=6)
    result = evo.run(progress=False)
    keys = evo.scorer.keys
    assert len(keys) == len(set(keys)) == result.evaluations
    mins = np.array([h["objectives_min"] for h in result.history])
    assert (np.diff(mins, axis=0) <= 0).all()
    assert mins[-1, 0] < mins[0, 0]
    assert len(evo.population) == 6


def test_same_seed_same_search_other_seed_other_search() -> None:
    a = make(seed=5).run(progress=False)
    b = make(seed=5).run(progress=False)
    c = make(seed=6).run(progress=False)
    assert a.history == b.history and a.best == b.best
    assert a.history != c.history


def test_state_dict_resume_matches_uninterrupted_run() -> None:
    full = make(seed=2, generations=6, tournament=RandomTournament(), tournament_every=2).run(progress=False)
    part = make(seed=2, generations=6, tournament=RandomTournament(), tournament_every=2)
    while part.generation < 3:
        part.tell(part.ask(), part.scorer.score_many(part.ask()))
    state = json.loads(json.dumps(part.state_dict()))
    resumed = make(seed=2, generations=6, tournament=RandomTournament(), tournament_every=2)
    resumed.load_state_dict(state)
    result = resumed.run(progress=False)
    assert result.history == full.history
    assert result.best == full.best and result.evaluations == full.evaluations


def test_mismatched_state_is_refused_without_change() -> None:
    evo = make(seed=1)
    state = evo.state_dict()
    other = make(seed=9)
    with pytest.raises(ValueError, match="state mismatch for 'seed'"):
        other.load_state_dict(state)
    broken = dict(state, population=["|bogus~0|"], population_scores=[{"conv": 0, "live": 0}])
    with pytest.raises(ValueError, match="malformed evolution state"):
        evo.load_state_dict(broken)
    assert evo.generation == -1 and evo.population == []


def test_tournament_removes_losers_and_is_recorded() -> None:
    tournament = RandomTournament()
    evo = make(generations=4, tournament=tournament, tournament_every=2)
    result = evo.run(progress=False)
    assert tournament.calls == 2
    records = [h for h in result.history if h["tournament"]]
    assert [h["generation"] for h in records] == [2, 4]
    for h in records:
        info = h["tournament"]
        assert len(info["candidates"]) == 3 and len(info["winners"]) == 1
        assert abs(sum(info["weights"]) - 1) < 1e-9
    final = {evo.space.format(g) for g in evo.population}
    losers = set(records[-1]["tournament"]["candidates"]) - set(records[-1]["tournament"]["winners"])
    assert not final & losers and len(final) == 6


class SizedRandomTournament(RandomTournament):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size


def test_final_tournament_replaces_the_last_one_and_its_winner_is_the_pick() -> None:
    usual, final = RandomTournament(), SizedRandomTournament(5)
    evo = make(generations=4, tournament=usual, tournament_every=2, final_tournament=final)
    result = evo.run(progress=False)
    assert usual.calls == 1 and final.calls == 1
    records = {h["generation"]: h["tournament"] for h in result.history if h["tournament"]}
    assert sorted(records) == [2, 4] and not records[2]["final"] and records[4]["final"]
    assert len(records[4]["candidates"]) == 5 and result.best["arch"] == records[4]["winners"][0]
    with pytest.raises(ValueError, match="final_tournament must have run"):
        make(final_tournament=object())


def test_rates_adapt_within_bounds_or_stay_fixed() -> None:
    adaptive = make(generations=5, rate_bounds=(0.2, 0.8)).run(progress=False).history
    rates = [(h["crossover_rate"], h["mutation_rate"]) for h in adaptive]
    assert len(set(rates)) > 1
    assert all(0.2 <= r <= 0.8 for pair in rates for r in pair)
    fixed = make(generations=5, adapt_rates=False).run(progress=False).history
    assert {(h["crossover_rate"], h["mutation_rate"]) for h in fixed} == {(0.5, 0.5)}


class Recorder(Callback):
    def __init__(self) -> None:
        self.generations: List[int] = []
        self.ended = False

    def on_generation(self, snapshot: Snapshot) -> None:
        self.generations.append(snapshot.generation)
        with pytest.raises(ValueError):
            snapshot.objectives[0, 0] = 1e9
        snapshot.record["best"] = None

    def on_end(self, result: Any) -> None:
        self.ended = True


def test_callbacks_observe_without_steering() -> None:
    rec = Recorder()
    observed = make(seed=3, callbacks=[rec]).run(progress=False)
    plain = make(seed=3).run(progress=False)
    assert rec.generations == [0, 1, 2, 3, 4] and rec.ended
    assert observed.history == plain.history


def test_final_pick_rule() -> None:
    from fne.evolution.selection import pareto_front, rank_sum

    scorer_log: List[Any] = []
    evo = make(seed=4, generations=4, tournament=RandomTournament(), tournament_every=2)
    original = evo.scorer.score_many

    def logging_scorer(genotypes: Sequence[Any], progress: bool = True) -> List[dict]:
        scorer_log.extend(genotypes)
        return original(genotypes, progress)

    evo.scorer.score_many = logging_scorer  # type: ignore[method-assign]
    result = evo.run(progress=False)
    losers = set()
    for h in result.history:
        if h["tournament"]:
            losers |= set(h["tournament"]["candidates"]) - set(h["tournament"]["winners"])
    assert len(losers) == 4
    texts = [evo.space.format(g) for g in scorer_log]
    eligible = [t for t in texts if t not in losers]
    scores = evo.scorer.score_many([evo.space.parse(t) for t in eligible])
    F = objectives(scores)
    sums = rank_sum(F)
    assert result.best["arch"] == eligible[int(np.argmin(sums))]
    assert {e["arch"] for e in result.front} == {eligible[i] for i in pareto_front(F)}
    assert not losers & {evo.space.format(g) for g in evo.population}
    last = result.history[-1]["tournament"]
    assert result.best["arch"] in last["winners"]


class LastCandidateWins:
    """A final tournament won by the candidate the proxies rank lowest of those it sees."""

    def __init__(self, size: int) -> None:
        self.size = size

    def run(self, space: Any, genotypes: Sequence[Any], generator: torch.Generator) -> TournamentResult:
        weights = np.full(len(genotypes), 0.1 / max(1, len(genotypes) - 1))
        weights[-1] = 0.9
        return TournamentResult(weights=weights, winners=(len(genotypes) - 1,))


class NoisyScorer(CountingScorer):
    """Two conflicting objectives drawn at random per cell, so the front reshapes when cells leave."""

    def score_many(self, genotypes: Sequence[Any], progress: bool = True) -> List[dict]:
        out = []
        for g in genotypes:
            rng = np.random.default_rng(zlib.crc32(self.space.canonical(g).encode()))
            a = float(rng.random())
            out.append({"conv": a, "live": float(1.0 - a + 0.3 * rng.random())})
        return out


@pytest.mark.parametrize("seed", range(6))
def test_the_final_tournaments_winner_is_the_pick_even_when_the_front_reshapes(seed: int) -> None:
    space = get_space("nb201")
    evo = Evolution(space=space, scorer=NoisyScorer(space), objectives=objectives, pop_size=12,
                    generations=3, seed=seed, final_tournament=LastCandidateWins(6))
    result = evo.run(progress=False)
    final = result.history[-1]["tournament"]
    assert final["final"] and result.best["arch"] == final["winners"][0]
    state = evo.state_dict()
    again = Evolution(space=space, scorer=NoisyScorer(space), objectives=objectives, pop_size=12,
                      generations=3, seed=seed, final_tournament=LastCandidateWins(6))
    again.load_state_dict(json.loads(json.dumps(state)))
    assert again.result().best["arch"] == final["winners"][0]
