"""Ranks against the space (from a random reference sample) and survival by the ranking."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from fne.evolution.archive import Archive
from fne.evolution.defaults import search_proxies
from fne.evolution.evolution import Evolution
from fne.evolution.fitness import DEFAULT_PROXIES, to_objectives
from fne.evolution.fitness.aggregate import aggregate
from fne.evolution.fitness.reference_ranks import reference_fractions, reference_ranks
from fne.evolution.ranking import AggregateRanking, Ranking, objective_ranking, rank_rows
from fne.evolution.selection import pick_order, survival_order
from fne.evolution.survival import ParetoSurvival, RankingSurvival, get_survival
from fne.genotopheno import NB201Space, get_space
from fne.search.config import SearchConfig


def test_fractions_follow_the_normal_distribution_of_the_reference() -> None:
    reference = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    F = np.array([[2.0, 5.0], [-100.0, 4.0], [100.0, 6.0]])
    u = reference_fractions(F, reference)
    assert u[0, 0] == pytest.approx(0.5) and u[1, 0] < 1e-12 and u[2, 0] > 1 - 1e-12
    assert u[:, 1].tolist() == [0.5, 0.0, 1.0]  # a constant reference column is a step
    ranks = reference_ranks(F, reference)
    assert ranks[0, 0] == pytest.approx(2.0) and ranks.min() >= 1.0 and ranks.max() <= 3.0
    with pytest.raises(ValueError, match="at least 2 rows"):
        reference_fractions(F, reference[:1])
    with pytest.raises(ValueError, match="same columns"):
        reference_fractions(F, reference[:, :1])


def crowded_archive() -> np.ndarray:
    """Objectives (minimised) of an archive: two cells, 20 random ones, and a crowd.

    Cell 0 is extreme on column 0 and fair on column 1; cell 1 is very good on both. The crowd
    lies just behind cell 0 on column 0 and is poor on column 1, so among the archive cell 0
    ranks first on column 0 and second on column 1, while cell 1 ranks behind the whole crowd
    on column 0.
    """
    random_cells = np.random.default_rng(0).normal(0.0, 1.0, size=(20, 2))
    crowd = np.column_stack([np.linspace(-2.9, -2.1, 30), np.linspace(-0.5, 0.0, 30)])
    return np.vstack([[[-3.0, -1.0], [-2.0, -2.0]], random_cells, crowd])


def test_reference_ranks_judge_cells_against_the_space_not_the_crowd() -> None:
    F = crowded_archive()
    by_cells = rank_rows(objective_ranking("mean_rank", scale="cells"), F)
    ranking = AggregateRanking("mean_rank", scale="reference")
    assert ranking.uses_reference and not AggregateRanking("mean_rank").uses_reference
    by_reference = rank_rows(ranking, F, reference=F[2:22])
    assert by_cells[0] == 0 and by_reference[0] == 1
    assert by_reference[0] == int(np.argmin(reference_ranks(F, F[2:22]).mean(axis=1)))
    np.testing.assert_array_equal(rank_rows(ranking, F), by_cells)  # no reference: ranks among the cells
    np.testing.assert_array_equal(rank_rows(ranking, F, reference=F[:1]), by_cells)


class Spy(Ranking):
    """Rows in index order; records the reference each call is handed."""

    def __init__(self, uses_reference: bool) -> None:
        self._uses_reference = uses_reference
        self.seen: list[Any] = []

    @property
    def uses_reference(self) -> bool:
        return self._uses_reference

    def order(self, objectives: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        self.seen.append(reference)
        return np.arange(len(objectives))


def test_rank_rows_hands_the_reference_only_to_rankings_that_use_one() -> None:
    F = crowded_archive()
    reference = F[2:22]
    np.testing.assert_array_equal(
        rank_rows(AggregateRanking("mean_rank", scale="reference"), F, reference),
        AggregateRanking("mean_rank", scale="reference").order(F, reference=reference),
    )
    np.testing.assert_array_equal(rank_rows(pick_order, F, reference), pick_order(F))
    np.testing.assert_array_equal(
        rank_rows(AggregateRanking("mean_rank"), F, reference), AggregateRanking("mean_rank").order(F)
    )
    with_reference, without = Spy(uses_reference=True), Spy(uses_reference=False)
    rank_rows(with_reference, F, reference)
    rank_rows(without, F, reference)
    assert with_reference.seen[0] is reference and without.seen == [None]
    np.testing.assert_array_equal(with_reference(F), np.arange(len(F)))  # calling a ranking: no reference
    assert with_reference.seen[-1] is None


def test_cells_tied_on_the_reference_scale_keep_the_cells_order() -> None:
    F = np.array([[60.0, 50.0], [50.0, 50.0], [0.0, 0.5], [1.0, 0.5]])
    reference = np.array([[0.0, 0.0], [1.0, 1.0]])
    order = rank_rows(objective_ranking("mean_rank", scale="reference"), F, reference=reference)
    assert order.tolist()[-2:] == [1, 0]  # both are beaten by all the space; the cells' ranks decide


def test_aggregate_with_a_reference_matches_the_ranking() -> None:
    rng = np.random.default_rng(1)
    scores = [{"params": float(a), "ntk": float(b)} for a, b in rng.normal(size=(12, 2))]
    reference = [{"params": float(a), "ntk": float(b)} for a, b in rng.normal(size=(8, 2))]
    values = aggregate(scores, ["params", "ntk"], "log_rank", reference=reference)
    F = to_objectives(scores + reference, ["params", "ntk"])
    order = rank_rows(objective_ranking("log_rank", scale="reference"), F[:12], reference=F[12:])
    assert int(np.argmax(values)) == int(order[0])
    failed = [dict(scores[0], params=math.nan)] + scores[1:]
    assert int(np.argmin(aggregate(failed, ["params", "ntk"], "mean_rank", reference=reference))) == 0


def test_unknown_scales_and_survivals_are_named() -> None:
    with pytest.raises(ValueError, match="unknown rank scale 'space'"):
        objective_ranking("mean_rank", scale="space")
    with pytest.raises(ValueError, match="unknown survival 'fittest'; choose one of nsga2, ranking"):
        get_survival("fittest")
    with pytest.raises(ValueError, match="have order"):
        get_survival(object())  # type: ignore[arg-type]
    assert isinstance(get_survival("nsga2"), ParetoSurvival)


def archive_of(n: int, ranking: Any) -> Archive:
    space, rng = get_space("nb201"), np.random.default_rng(3)
    archive = Archive(space, ("params", "naswot"), lambda s: to_objectives(s, ("params", "naswot")), ranking)
    while len(archive) < n:
        archive.add(space.sample(rng), {"params": float(rng.random()), "naswot": float(rng.normal())})
    return archive


def test_ranking_survival_follows_the_pick_order_and_puts_the_eliminated_last() -> None:
    archive = archive_of(10, objective_ranking("mean_rank"))
    keys = archive.eligible()
    pool = keys[::-1]
    order = RankingSurvival().order(pool, archive)
    picks = archive.pick_order()
    assert [pool[i] for i in order] == picks[: len(pool)]
    archive.eliminate([picks[0]])
    order = RankingSurvival().order(pool, archive)
    assert pool[order[-1]] == picks[0]
    rank, crowd = RankingSurvival().parent_fitness(pool, archive)
    assert rank[pool.index(picks[1])] == 0 and not crowd.any()
    np.testing.assert_array_equal(ParetoSurvival().order(pool, archive), survival_order(archive.objectives_of(pool)))


class TableScorer:
    """Deterministic scores from the cell's text (no network is built)."""

    proxies = ("params", "naswot")

    def score_many(self, genotypes: list[Any], progress: bool = False) -> list[dict]:
        space = get_space("nb201")
        out = []
        for g in genotypes:
            ops = space.format(g)
            out.append({"params": float(ops.count("conv")), "naswot": float(ops.count("skip") - ops.count("none"))})
        return out


def test_a_search_led_by_reference_ranks_keeps_the_initial_population_as_reference() -> None:
    space = get_space("nb201")

    def build() -> Evolution:
        return Evolution(
            space=space,
            scorer=TableScorer(),
            pop_size=6,
            generations=3,
            seed=4,
            ranking=objective_ranking("mean_rank", scale="reference"),
            survival="ranking",
        )

    evo = build()
    initial = evo.ask()
    evo.tell(initial, evo.scorer.score_many(initial))
    assert evo.archive.reference == tuple(evo.archive.key(g) for g in initial)
    result = evo.run(progress=False)
    picks = evo.archive.pick_order()
    population = [evo.archive.key(g) for g in evo.population]
    assert population == [k for k in picks if k in population]
    again = build().run(progress=False)
    assert again.to_dict() == result.to_dict()
    resumed = build()
    resumed.load_state_dict(evo.state_dict())
    assert resumed.archive.reference == evo.archive.reference


def test_the_default_search_scores_the_ranking_and_fnes_three_heuristics() -> None:
    config = SearchConfig()
    chosen = NB201Space.search_defaults.proxies if NB201Space.search_defaults else ()
    assert set(DEFAULT_PROXIES) <= set(config.proxies) and set(chosen) <= set(config.proxies)
    assert config.proxies == search_proxies("nb201") and len(set(config.proxies)) == len(config.proxies)
    assert config.rank_scale == "reference" and config.survival == "ranking"
    config.validate()
    with pytest.raises(ValueError, match="survival"):
        SearchConfig(survival="fittest").validate()
    with pytest.raises(ValueError, match="rank-scale"):
        SearchConfig(rank_scale="space").validate()
