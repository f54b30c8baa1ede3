"""The Evolution loop on a cheap, exact fitness: validation, ask/tell, resume, callbacks, tournaments."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

from fne.evolution.evolution import Callback, Evolution, Snapshot
from fne.evolution.selection import pick_order
from fne.evolution.tournament import TournamentResult
from fne.genotopheno import get_space
from fne.search.checkpoint import read_checkpoint, save_checkpoint

PROXIES = ("conv", "live")


class CountingScorer:
    """Scores NB201 cells by op counts and remembers every canonical key it scored."""

    proxies = PROXIES

    def __init__(self, space: Any) -> None:
        self.space = space
        self.keys: list[str] = []

    def score_many(self, genotypes: Sequence[Any], progress: bool = True) -> list[dict]:
        self.keys += [self.space.canonical(g) for g in genotypes]
        return [
            {
                "conv": float(sum(op == "nor_conv_3x3" for op in g.ops)),
                "live": sum(op != "none" for op in g.ops) + 0.1 * sum(op == "skip_connect" for op in g.ops),
            }
            for g in genotypes
        ]


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
    """A small search with the Pareto pick order and NSGA-II survival."""
    space = get_space("nb201")
    return Evolution(
        space=space,
        scorer=CountingScorer(space),
        objectives=objectives,
        pop_size=6,
        generations=generations,
        seed=seed,
        ranking=pick_order,
        survival="nsga2",
        **kw,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pop_size": 1}, "pop_size must be an int >= 2"),
        ({"generations": -1}, "generations must be an int >= 0"),
        ({"tournament_every": 0}, "tournament_every must be an int >= 1"),
        ({"crossover_rate": 1.5}, "crossover_rate must be in"),
        ({"rate_bounds": (0.9, 0.1)}, "rate_bounds"),
        ({"seed": -3}, "seed must be an int >= 0"),
        ({"tournament": object()}, "tournament must have run"),
    ],
)
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
        self.generations: list[int] = []
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

    scorer_log: list[Any] = []
    evo = make(seed=4, generations=4, tournament=RandomTournament(), tournament_every=2)
    original = evo.scorer.score_many

    def logging_scorer(genotypes: Sequence[Any], progress: bool = True) -> list[dict]:
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

    def score_many(self, genotypes: Sequence[Any], progress: bool = True) -> list[dict]:
        out = []
        for g in genotypes:
            rng = np.random.default_rng(zlib.crc32(self.space.canonical(g).encode()))
            a = float(rng.random())
            out.append({"conv": a, "live": float(1.0 - a + 0.3 * rng.random())})
        return out


@pytest.mark.parametrize("seed", range(6))
def test_the_final_tournaments_winner_is_the_pick_even_when_the_front_reshapes(seed: int) -> None:
    space = get_space("nb201")
    evo = Evolution(
        space=space,
        scorer=NoisyScorer(space),
        objectives=objectives,
        pop_size=12,
        generations=3,
        seed=seed,
        final_tournament=LastCandidateWins(6),
    )
    result = evo.run(progress=False)
    final = result.history[-1]["tournament"]
    assert final["final"] and result.best["arch"] == final["winners"][0]
    state = evo.state_dict()
    again = Evolution(
        space=space,
        scorer=NoisyScorer(space),
        objectives=objectives,
        pop_size=12,
        generations=3,
        seed=seed,
        final_tournament=LastCandidateWins(6),
    )
    again.load_state_dict(json.loads(json.dumps(state)))
    assert again.result().best["arch"] == final["winners"][0]


class CountedObjectives:
    """The test objectives, remembering how many cells each call was given."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, scores: Sequence[dict]) -> np.ndarray:
        self.calls.append(len(scores))
        return objectives(scores)


def test_the_objective_matrix_is_computed_once_per_tell() -> None:
    counted = CountedObjectives()
    space = get_space("nb201")
    evo = Evolution(
        space=space,
        scorer=CountingScorer(space),
        objectives=counted,
        pop_size=6,
        generations=4,
        seed=1,
        tournament=RandomTournament(),
        tournament_every=2,
        callbacks=[Recorder()],
    )
    for _ in range(5):
        genotypes = evo.ask()
        pool = len(evo.population) + len(genotypes)
        counted.calls.clear()
        evo.tell(genotypes, evo.scorer.score_many(genotypes))
        assert counted.calls == [evo.num_evaluated] and pool >= len(evo.population)
    counted.calls.clear()
    evo.ask()
    evo.result()
    assert counted.calls == []


V1_KEYS = [
    "version",
    "space",
    "proxies",
    "pop_size",
    "offspring_size",
    "seed",
    "generation",
    "num_evaluated",
    "population",
    "population_scores",
    "archive",
    "eliminated",
    "final_winners",
    "crossover_rate",
    "mutation_rate",
    "history",
    "numpy_rng",
    "torch_rng",
]


def make_v1(generations: int = 5) -> Evolution:
    """The search that wrote :data:`V1_STATE_AT_GENERATION_2`."""
    space = get_space("nb201")
    return Evolution(
        space=space,
        scorer=CountingScorer(space),
        objectives=objectives,
        pop_size=4,
        offspring_size=2,
        generations=generations,
        seed=7,
        tournament=LastCandidateWins(3),
        tournament_every=2,
        final_tournament=LastCandidateWins(4),
        ranking=pick_order,
        survival="nsga2",
    )


def v1_state() -> dict:
    """The saved state, with its torch generator: still the seeded one, as no tournament drew from it."""
    seeded = torch.Generator().manual_seed(7).get_state().numpy().tobytes()
    return dict(copy.deepcopy(V1_STATE_AT_GENERATION_2), torch_rng=base64.b64encode(seeded).decode("ascii"))


def without_reference(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "reference"}


def make_v1_reference() -> list[str]:
    """The initial population of :func:`make_v1`'s search, as canonical keys."""
    evo = make_v1()
    evo.tell(evo.ask(), evo.scorer.score_many(evo.ask()))
    return list(evo.archive.reference)


def test_state_dict_keeps_the_v1_layout_plus_the_reference() -> None:
    evo = make_v1()
    for _ in range(3):
        evo.tell(evo.ask(), evo.scorer.score_many(evo.ask()))
    state = evo.state_dict()
    assert [k for k in state if k != "reference"] == V1_KEYS
    assert json.loads(json.dumps(without_reference(state))) == v1_state()
    initial = [evo.archive.key(evo.space.parse(text)) for text, _ in state["archive"][: evo.pop_size]]
    assert state["reference"] == initial


def test_a_state_an_earlier_fne_wrote_is_refused_without_change(tmp_path: Any) -> None:
    save_checkpoint(tmp_path / "checkpoint.json", config={"seed": 7}, state=v1_state())
    resumed = make_v1()
    with pytest.raises(
        ValueError, match=r"written by an earlier fne \(state version 1, without reference .*start a new run"
    ):
        resumed.load_state_dict(read_checkpoint(tmp_path / "checkpoint.json", config={"seed": 7})["state"])
    with pytest.raises(ValueError, match=r"written by an earlier fne \(state version 0, with reference"):
        resumed.load_state_dict(dict(v1_state(), version=0, reference=make_v1_reference()))
    assert resumed.generation == -1 and resumed.population == [] and len(resumed.archive) == 0


def test_a_v1_checkpoint_resumes_to_the_result_it_had(tmp_path: Any) -> None:
    state = dict(v1_state(), reference=make_v1_reference())
    save_checkpoint(tmp_path / "checkpoint.json", config={"seed": 7}, state=state)
    resumed = make_v1()
    resumed.load_state_dict(read_checkpoint(tmp_path / "checkpoint.json", config={"seed": 7})["state"])
    assert without_reference(resumed.state_dict()) == v1_state()
    assert resumed.archive.reference == tuple(make_v1_reference())
    result = resumed.run(progress=False)
    assert result.best["arch"] == RECORDED_V1_BEST and result.evaluations == 14
    assert hashlib.sha256(json.dumps(result.to_dict(), sort_keys=True).encode()).hexdigest() == RECORDED_V1_RESULT
    assert result.to_dict() == make_v1().run(progress=False).to_dict()


def jsonable(value: Any) -> Any:
    """NaN as ``None``, the way checkpoints write it."""
    return json.loads(json.dumps(value).replace("NaN", "null"))


@pytest.mark.parametrize("stop", [1, 3, 4])
def test_a_run_resumed_from_a_checkpoint_file_matches_an_uninterrupted_one(stop: int, tmp_path: Any) -> None:
    def build() -> Evolution:
        space = get_space("nb201")
        return Evolution(
            space=space,
            scorer=NoisyFailingScorer(space),
            pop_size=6,
            generations=4,
            seed=3,
            tournament=RandomTournament(),
            tournament_every=2,
            final_tournament=SizedRandomTournament(4),
        )

    full = build()
    expected = full.run(progress=False)
    part = build()
    while part.generation < stop:
        part.tell(part.ask(), part.scorer.score_many(part.ask()))
    save_checkpoint(tmp_path / "c.json", config={}, state=part.state_dict())
    resumed = build()
    resumed.load_state_dict(read_checkpoint(tmp_path / "c.json")["state"])
    result = resumed.run(progress=False)
    assert jsonable(result.to_dict()) == jsonable(expected.to_dict())
    assert jsonable(resumed.state_dict()) == jsonable(full.state_dict())


class NoisyFailingScorer(NoisyScorer):
    """Registered proxies (default objectives), a failed score for every cell with a pooling op."""

    proxies = ("naswot", "params")

    def score_many(self, genotypes: Sequence[Any], progress: bool = True) -> list[dict]:
        rows = super().score_many(genotypes)
        return [
            {"naswot": float("nan") if "avg_pool_3x3" in g.ops else r["conv"], "params": r["live"]}
            for r, g in zip(rows, genotypes, strict=False)
        ]


RECORDED_V1_BEST = "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|"
RECORDED_V1_RESULT = "45c7b23641254d7556db113aaf774e922946a0c58a767690f97be25c2078c5bb"
"""What :func:`make_v1` finds from :data:`V1_STATE_AT_GENERATION_2`, as recorded with the code that wrote that state."""

# A checkpoint state of version 1 after generation 2 of :func:`make_v1`, as written before states held their
# ``reference`` cells (its ``torch_rng``, 6.7 kB of base64, is rebuilt by :func:`v1_state`). One tournament has
# eliminated two cells.
V1_STATE_AT_GENERATION_2 = {
    "version": 1,
    "space": "nb201",
    "proxies": ["conv", "live"],
    "pop_size": 4,
    "offspring_size": 2,
    "seed": 7,
    "generation": 2,
    "num_evaluated": 8,
    "population": [
        "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
        "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
        "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
        "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|skip_connect~1|avg_pool_3x3~2|",
    ],
    "population_scores": [
        {"conv": 2.0, "live": 6.0},
        {"conv": 2.0, "live": 6.0},
        {"conv": 1.0, "live": 6.0},
        {"conv": 0.0, "live": 5.3},
    ],
    "archive": [
        [
            "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
            {"conv": 3.0, "live": 6.0},
        ],
        [
            "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|skip_connect~1|avg_pool_3x3~2|",
            {"conv": 0.0, "live": 5.3},
        ],
        ["|avg_pool_3x3~0|+|none~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|", {"conv": 1.0, "live": 4.0}],
        [
            "|none~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
            {"conv": 0.0, "live": 5.3},
        ],
        [
            "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
            {"conv": 2.0, "live": 6.0},
        ],
        [
            "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|",
            {"conv": 1.0, "live": 6.1},
        ],
        [
            "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
            {"conv": 1.0, "live": 6.0},
        ],
        [
            "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
            {"conv": 2.0, "live": 6.0},
        ],
    ],
    "eliminated": [
        "(((0)@avg_pool_3x3)@nor_conv_3x3+(0)@nor_conv_3x3)@nor_conv_3x3+((0)@avg_pool_3x3)@nor_conv_1x1+(0)@avg_pool_3x3",
        "((0)@avg_pool_3x3)@nor_conv_1x1+((0)@avg_pool_3x3)@nor_conv_3x3+(0)@nor_conv_1x1+(0)@avg_pool_3x3",
    ],
    "final_winners": [],
    "crossover_rate": 0.5,
    "mutation_rate": 0.5,
    "history": [
        {
            "generation": 0,
            "evaluations": 4,
            "new": 4,
            "survived": 4,
            "front_size": 1,
            "objectives_min": [-3.0, -6.0],
            "objectives_mean": [-1.0, -5.15],
            "best": {
                "arch": "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
                "scores": {"conv": 3.0, "live": 6.0},
            },
            "crossover_rate": 0.5,
            "mutation_rate": 0.5,
            "success": {"crossover": None, "mutation": None},
            "tournament": None,
        },
        {
            "generation": 1,
            "evaluations": 6,
            "new": 2,
            "survived": 2,
            "front_size": 2,
            "objectives_min": [-3.0, -6.1],
            "objectives_mean": [-1.5, -5.8500000000000005],
            "best": {
                "arch": "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
                "scores": {"conv": 3.0, "live": 6.0},
            },
            "crossover_rate": 0.5,
            "mutation_rate": 0.5,
            "success": {"crossover": 1.0, "mutation": 1.0},
            "tournament": None,
        },
        {
            "generation": 2,
            "evaluations": 8,
            "new": 2,
            "survived": 1,
            "front_size": 2,
            "objectives_min": [-2.0, -6.0],
            "objectives_mean": [-1.25, -5.825],
            "best": {
                "arch": "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
                "scores": {"conv": 2.0, "live": 6.0},
            },
            "crossover_rate": 0.5,
            "mutation_rate": 0.5,
            "success": {"crossover": 0.5, "mutation": 0.5},
            "tournament": {
                "candidates": [
                    "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
                    "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|",
                    "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
                ],
                "weights": [0.05, 0.05, 0.9],
                "winners": [
                    "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|"
                ],
                "final": False,
            },
        },
    ],
    "numpy_rng": {
        "bit_generator": "PCG64",
        "state": {"state": 186322328066240541872994493084354753926, "inc": 261136684632268670825940853076396136793},
        "has_uint32": 0,
        "uinteger": 2844190644,
    },
}


def test_the_readme_library_example_runs_the_search_of_run_search(tmp_path: Any) -> None:
    from conftest import SHARED_DATA
    from fne import evolution as fe
    from fne.data import load_dataset
    from fne.search.config import SearchConfig
    from fne.search.run import build_budget, build_scorer, run_search

    data_dir = SHARED_DATA / "fashion_mnist"
    if not data_dir.is_dir():
        pytest.skip(f"shared Fashion-MNIST data not found at {data_dir}")
    config = SearchConfig(
        data_dir=str(data_dir),
        dataset="npz",
        out=str(tmp_path / "run"),
        pop_size=4,
        generations=2,
        seed=1,
        proxy_batch=16,
        final_tournament_size=0,
        workers=1,
        device="cpu",
    )
    searched = run_search(config, progress=False)
    space = get_space(config.space)
    data = load_dataset(config.data_dir, config.dataset)
    scorer = build_scorer(config, data, space)
    evo = fe.Evolution(
        space=space,
        scorer=scorer,
        pop_size=config.pop_size,
        generations=config.generations,
        seed=config.seed,
        budget=build_budget(config, data, space),
    )
    result = evo.run(progress=False)
    assert result.best == searched["best"] and result.evaluations == searched["evaluations"]
    assert jsonable(result.history) == jsonable(searched["history"])
