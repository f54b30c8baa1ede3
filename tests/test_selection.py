"""Pareto selection: fronts, crowding, (mu + lambda) truncation, the final-pick order."""

from __future__ import annotations

import numpy as np
import pytest

from fne.evolution.selection import (
    binary_selection,
    check_objectives,
    nondominated_fronts,
    pareto_front,
    pick_order,
    rank_and_crowding,
    rank_sum,
    select_survivors,
)


def _brute_force_front(F: np.ndarray) -> list:
    front = []
    for i in range(len(F)):
        dominated = any((F[j] <= F[i]).all() and (F[j] < F[i]).any() for j in range(len(F)))
        if not dominated:
            front.append(i)
    return front


def test_fronts_on_a_hand_made_set() -> None:
    F = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [6, 6], [4, 4]], dtype=float)
    fronts = nondominated_fronts(F)
    assert [f.tolist() for f in fronts] == [[0, 1, 2], [3], [5], [4]]


def test_pareto_front_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        F = rng.integers(0, 6, size=(40, 3)).astype(float)
        assert pareto_front(F).tolist() == _brute_force_front(F)


def test_crowding_marks_the_extremes_infinite() -> None:
    F = np.array([[0, 4], [1, 3], [1.5, 2.5], [3, 1], [4, 0]], dtype=float)
    rank, crowd = rank_and_crowding(F)
    assert (rank == 0).all()
    assert np.isinf(crowd[[0, 4]]).all() and np.isfinite(crowd[1:4]).all()
    assert crowd[3] > crowd[2]


def test_survivors_fill_by_front_then_crowding() -> None:
    F = np.array([[0, 4], [1, 3], [1.5, 2.5], [3, 1], [4, 0], [5, 5], [6, 6]], dtype=float)
    keep = select_survivors(F, 4)
    # crowding inside the front: 1 -> 0.375, 2 -> 0.5, 3 -> 0.625 (extremes infinite)
    assert set(keep.tolist()) == {0, 2, 3, 4}
    keep6 = select_survivors(F, 6)
    assert set(keep6.tolist()) == set(range(6))
    with pytest.raises(ValueError, match="cannot select 8 survivors from 7"):
        select_survivors(F, 8)


def test_pick_order_prefers_balanced_front_members() -> None:
    F = np.array([[0, 10], [5, 5], [10, 0], [6, 6], [11, 11]], dtype=float)
    order = pick_order(F)
    assert order[0] == 1
    assert set(order[:3].tolist()) == {0, 1, 2}
    assert rank_sum(F).tolist() == [5.0, 4.0, 5.0, 6.0, 10.0]


def test_binary_selection_prefers_the_better_front() -> None:
    rank = np.array([0, 1])
    crowd = np.array([1.0, 1.0])
    picks = binary_selection(rank, crowd, 400, np.random.default_rng(1))
    share = (picks == 0).mean()
    assert 0.7 < share < 0.8  # 0 wins unless both draws are 1 (probability 1/4)


def test_bad_objectives_are_rejected() -> None:
    with pytest.raises(ValueError, match="2-D"):
        check_objectives(np.zeros(3))
    with pytest.raises(ValueError, match="row 1"):
        check_objectives(np.array([[0.0, 1.0], [np.nan, 2.0]]))
