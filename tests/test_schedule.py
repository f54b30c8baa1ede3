"""The tournament schedule: when it runs, who competes, how the outcome applies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

from fne.evolution.archive import Archive
from fne.evolution.evolution import Evolution
from fne.evolution.schedule import TournamentOutcome, TournamentSchedule, surviving
from fne.evolution.selection import pick_order
from fne.evolution.tournament import TournamentResult
from fne.genotopheno import get_space

PROXIES = ("conv", "live")


def objectives(scores: Sequence[dict]) -> np.ndarray:
    return -np.array([[s["conv"], s["live"]] for s in scores], dtype=float).reshape(-1, 2)


def score(g: Any) -> dict:
    return {"conv": float(sum(op == "nor_conv_3x3" for op in g.ops)), "live": float(sum(op != "none" for op in g.ops))}


class Fixed:
    """Keeps the candidates at ``winners`` and remembers what it was shown."""

    def __init__(self, size: int, winners: Sequence[int], steps: int = 0) -> None:
        self.size, self.winners, self.steps = size, tuple(winners), steps
        self.seen: list[list[Any]] = []

    def run(self, space: Any, genotypes: Sequence[Any], generator: torch.Generator) -> TournamentResult:
        self.seen.append(list(genotypes))
        weights = np.full(len(genotypes), 1.0 / len(genotypes))
        return TournamentResult(weights=weights, winners=self.winners, steps=self.steps)


def archive_of(n: int, ranking: Any = pick_order) -> Archive:
    space, rng = get_space("nb201"), np.random.default_rng(0)
    archive = Archive(space, PROXIES, objectives, ranking)
    while len(archive) < n:
        g = space.sample(rng)
        archive.add(g, score(g))
    return archive


def test_the_usual_tournament_runs_every_n_generations_and_the_final_one_last() -> None:
    usual, final = Fixed(3, (0,)), Fixed(4, (0,))
    schedule = TournamentSchedule(usual, 3, final, generations=7)
    assert [g for g in range(8) if schedule.due(g) is usual] == [3, 6]
    assert [g for g in range(8) if schedule.due(g) is final] == [7] and schedule.is_final(7)
    plain = TournamentSchedule(usual, 2, None, generations=4)
    assert [g for g in range(5) if plain.due(g) is usual] == [2, 4] and not plain.is_final(4)
    assert TournamentSchedule(None, 1, None, 3).due(2) is None


def test_the_first_cells_of_the_pick_order_compete_and_the_losers_are_eliminated() -> None:
    archive = archive_of(8)
    order = archive.pick_order()
    usual = Fixed(3, (1,), steps=5)
    outcome = TournamentSchedule(usual, 1, None, 4).run(1, archive, torch.Generator())
    assert outcome is not None and not outcome.final
    assert [archive.key(g) for g in usual.seen[0]] == order[:3]
    assert outcome.losers == {order[0], order[2]} and set(archive.eliminated) == {order[0], order[2]}
    assert outcome.record["winners"] == [archive.entry(order[1])["arch"]] and outcome.record["steps"] == 5
    assert outcome.record["candidates"] == [archive.entry(k)["arch"] for k in order[:3]]
    assert archive.final_winners == ()


def test_the_final_tournaments_winners_head_the_pick_order() -> None:
    archive = archive_of(8)
    order = archive.pick_order()
    outcome = TournamentSchedule(None, 1, Fixed(4, (3, 1)), 2).run(2, archive, torch.Generator())
    assert outcome is not None and outcome.final and outcome.record["final"]
    assert archive.final_winners == (order[3], order[1]) and archive.pick_order()[:2] == [order[3], order[1]]


def test_candidates_follow_the_ranking() -> None:
    reverse = archive_of(8, ranking=lambda F: pick_order(F)[::-1])
    usual, keys = Fixed(3, (0,)), reverse.eligible()
    TournamentSchedule(usual, 1, None, 4).run(1, reverse, torch.Generator())
    worst_first = [keys[i] for i in pick_order(objectives([reverse.entry(k)["scores"] for k in keys]))[::-1]]
    assert [reverse.key(g) for g in usual.seen[0]] == worst_first[:3]


def test_no_tournament_when_none_is_due_or_too_few_cells_are_eligible() -> None:
    schedule = TournamentSchedule(Fixed(3, (0,)), 2, None, 4)
    assert schedule.run(1, archive_of(5), torch.Generator()) is None
    one = archive_of(1)
    assert schedule.run(2, one, torch.Generator()) is None and one.eliminated == ()


@pytest.mark.parametrize("final, expected", [(False, [0, 3, 4, 5]), (True, [0, 1, 2, 3])])
def test_losers_leave_the_population_but_after_the_final_tournament(final: bool, expected: list[int]) -> None:
    keep, order = [0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6]
    keys = ["a", "b", "c", "d", "e", "f", "g"]
    outcome = TournamentOutcome(losers=frozenset({"b", "c"}), final=final, record={})
    assert surviving(keep, order, keys, outcome) == expected
    assert surviving(keep, order, keys, None) == keep


class Scorer:
    proxies = PROXIES

    def score_many(self, genotypes: Sequence[Any], progress: bool = True) -> list[dict]:
        return [score(g) for g in genotypes]


def test_evolution_records_what_the_schedule_decided() -> None:
    usual, final = Fixed(3, (0,)), Fixed(4, (2,))
    evo = Evolution(
        space=get_space("nb201"),
        scorer=Scorer(),
        objectives=objectives,
        pop_size=6,
        generations=4,
        seed=0,
        tournament=usual,
        tournament_every=2,
        final_tournament=final,
    )
    result = evo.run(progress=False)
    decided: list[bool | None] = [h["tournament"] and h["tournament"]["final"] for h in result.history]
    assert decided == [None, None, False, None, True]
    assert len(usual.seen) == len(final.seen) == 1
    assert result.best["arch"] == result.history[-1]["tournament"]["winners"][0]
    assert evo.schedule.tournament is usual and evo.schedule.final_tournament is final and evo.schedule.every == 2
