"""Mating: new distinct cells from explicit generators, and the self-adaptive rates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from fne.evolution.mating import AdaptiveRates, Mating
from fne.evolution.selection import rank_and_crowding
from fne.genotopheno import get_space
from fne.genotopheno.variation import get_variation


def mating(max_attempts: int = 100) -> Mating:
    space = get_space("nb201")
    return Mating(space, get_variation(space), max_attempts)


def population(m: Mating, n: int = 6) -> list[Any]:
    return m.initial(n, set(), np.random.default_rng(0))


def objectives(cells: list[Any]) -> np.ndarray:
    return -np.array(
        [[sum(op == "nor_conv_3x3" for op in g.ops), sum(op != "none" for op in g.ops)] for g in cells], dtype=float
    )


class Everything:
    """A ``seen`` set that holds every key."""

    def __contains__(self, key: object) -> bool:
        return True


def test_initial_cells_are_distinct_and_unseen() -> None:
    m = mating()
    seen = {m.space.canonical(g) for g in population(m, 4)}
    cells = m.initial(10, seen, np.random.default_rng(0))
    keys = [m.space.canonical(g) for g in cells]
    assert len(cells) == 10 and len(set(keys)) == 10 and not seen & set(keys)
    assert m.initial(3, Everything(), np.random.default_rng(0)) == []


def test_offspring_are_new_valid_and_follow_the_generator() -> None:
    m = mating()
    parents = population(m)
    seen = {m.space.canonical(g) for g in parents}
    rates = AdaptiveRates(0.5, 0.5)
    kids, origins = m.offspring(
        parents, rank_and_crowding(objectives(parents)), 8, rates, seen, np.random.default_rng(1)
    )
    again, _ = m.offspring(parents, rank_and_crowding(objectives(parents)), 8, rates, seen, np.random.default_rng(1))
    other, _ = m.offspring(parents, rank_and_crowding(objectives(parents)), 8, rates, seen, np.random.default_rng(2))
    keys = [m.space.canonical(g) for g in kids]
    assert len(kids) == len(origins) == 8 and len(set(keys)) == 8 and not seen & set(keys)
    for g in kids:
        m.space.validate(g)
    assert again == kids and other != kids


@pytest.mark.parametrize("crossover, mutation", [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)])
def test_origins_follow_the_rates(crossover: float, mutation: float) -> None:
    m = mating()
    parents = population(m)
    seen = {m.space.canonical(g) for g in parents}
    _, origins = m.offspring(
        parents,
        rank_and_crowding(objectives(parents)),
        12,
        AdaptiveRates(crossover, mutation),
        seen,
        np.random.default_rng(3),
    )
    crossed = [c for c, _ in origins]
    assert all(crossed) if crossover == 1.0 else not any(crossed)
    assert all(mutated for c, mutated in origins if not c or mutation == 1.0)


def test_no_new_cell_means_fewer_children() -> None:
    m = mating(max_attempts=2)
    parents = population(m)
    kids, origins = m.offspring(
        parents,
        rank_and_crowding(objectives(parents)),
        5,
        AdaptiveRates(0.5, 0.5),
        Everything(),
        np.random.default_rng(0),
    )
    assert kids == [] and origins == []


def test_rates_move_toward_the_operator_whose_children_survive() -> None:
    rates = AdaptiveRates(0.5, 0.5, speed=1.0, bounds=(0.1, 0.9))
    origins = [(True, False), (True, True), (False, True), (False, True)]
    survived = np.array([True, True, False, True])
    success = rates.update(origins, survived)
    assert success == {"crossover": 1.0, "mutation": 2 / 3}
    assert rates.crossover == pytest.approx(0.5 * math.exp(1.0 - 0.5))
    assert rates.mutation == pytest.approx(0.5 * math.exp(2 / 3 - 1.0))


def test_rates_stay_within_bounds_or_fixed() -> None:
    rates = AdaptiveRates(0.85, 0.5, speed=5.0, bounds=(0.2, 0.9))
    rates.update([(True, True), (False, True)], np.array([True, False]))
    assert rates.crossover == 0.9 and rates.mutation == 0.5
    fixed = AdaptiveRates(0.5, 0.5, adapt=False)
    assert fixed.update([(True, True), (False, True)], np.array([True, False]))["crossover"] == 1.0
    assert (fixed.crossover, fixed.mutation) == (0.5, 0.5)
    assert AdaptiveRates(0.5, 0.5).update([], np.zeros(0, dtype=bool)) == {"crossover": None, "mutation": None}
