"""The ranking rule shared by the search's pick order, its tournaments and ``fne score``."""

from __future__ import annotations

import numpy as np
import pytest

from fne.evolution.fitness.aggregate import list_aggregators
from fne.evolution.ranking import objective_ranking
from fne.evolution.selection import pick_order


def test_nondominated_is_the_pareto_pick_order() -> None:
    rng = np.random.default_rng(0)
    F = rng.normal(size=(30, 3))
    assert objective_ranking("nondominated") is pick_order
    assert np.array_equal(objective_ranking("nondominated")(F), pick_order(F))


@pytest.mark.parametrize("method", list_aggregators())
def test_every_aggregator_orders_every_row_once(method: str) -> None:
    F = np.random.default_rng(1).normal(size=(12, 4))
    order = objective_ranking(method)(F)
    assert sorted(order.tolist()) == list(range(12))


def test_log_rank_punishes_one_bad_objective_more_than_mean_rank() -> None:
    # columns are minimised; rows 0, 1 and 2 share the mean rank 3, but row 0 is best on one
    # objective and worst on the other while row 1 is third on both
    F = np.array([[0.0, 4.0], [2.0, 2.0], [1.0, 3.0], [3.0, 0.0], [4.0, 1.0]])
    assert objective_ranking("mean_rank")(F).tolist() == [3, 0, 1, 2, 4]
    assert objective_ranking("log_rank")(F).tolist() == [3, 1, 2, 0, 4]


def test_weights_and_unknown_methods() -> None:
    F = np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]])
    assert objective_ranking("mean_rank", weights=[1.0, 0.0])(F)[0] == 0
    assert objective_ranking("mean_rank", weights=[0.0, 1.0])(F)[0] == 2
    with pytest.raises(ValueError, match="unknown ranking 'median'"):
        objective_ranking("median")


def test_the_search_config_names_a_bad_ranking() -> None:
    from fne.search.config import SearchConfig

    with pytest.raises(ValueError, match="--ranking must be one of"):
        SearchConfig(ranking="median").validate()


def test_ranking_weights_are_checked_against_the_objectives() -> None:
    from fne.search.config import SearchConfig

    config = SearchConfig(proxies=("params", "synflow"), ranking_weights={"synflow": 2})
    assert config.objective_weights() == [1.0, 2.0]
    assert SearchConfig(proxies=("params", "synflow"), ranking_weights={"ntk": 3.0}).objective_weights() == [1.0, 1.0]
    from fne.evolution.defaults import search_weights
    from fne.genotopheno import NB201Space

    assert SearchConfig(proxies=("params", "synflow"), ranking_weights={}).objective_weights() is None
    default = SearchConfig()
    weights = search_weights("nb201")
    assert default.objective_weights() == [weights[p] for p in default.proxies]
    chosen = dict(NB201Space.search_defaults.weights) if NB201Space.search_defaults else {}
    typical = float(np.median(list(chosen.values())))
    for proxy in default.proxies:  # the ranking's own weights; a heuristic it lacks weighs as its median
        assert weights[proxy] == chosen.get(proxy, typical)
    with pytest.raises(ValueError, match=r"--ranking-weight names \['bogus'\]"):
        SearchConfig(ranking_weights={"bogus": 1.0}).validate()
    with pytest.raises(ValueError, match="not all 0"):
        SearchConfig(proxies=("params", "synflow"), ranking_weights={"params": 0.0, "synflow": 0}).validate()


def test_each_space_searches_with_its_own_ranking() -> None:
    from fne.evolution.defaults import search_proxies, search_weights, space_defaults
    from fne.genotopheno import DartsSpace, NB201Space, get_space
    from fne.scoring import ScoreConfig
    from fne.search.config import SearchConfig

    darts = SearchConfig(space="darts")
    assert DartsSpace.search_defaults is not None and NB201Space.search_defaults is not None
    assert darts.proxies[: len(DartsSpace.search_defaults.proxies)] == DartsSpace.search_defaults.proxies
    assert darts.proxies == search_proxies("darts") != search_proxies("nb201")
    assert darts.ranking == DartsSpace.search_defaults.ranking == "mean_rank"
    assert darts.ranking_weights == search_weights("darts")
    score = ScoreConfig(space="darts", ground_truth="t.csv", metric="acc", out="o")
    assert score.combine == darts.proxies and score.aggregate == darts.ranking
    assert score.combine_weight_list() == darts.objective_weights()
    # a space without a ranking of its own uses the NB201 choice; options given win
    assert space_defaults("channels") == NB201Space.search_defaults
    assert SearchConfig(space="channels").proxies == search_proxies("nb201")
    given = SearchConfig(space="darts", proxies=("params", "synflow"), ranking="log_rank", ranking_weights={})
    assert given.proxies == ("params", "synflow") and given.ranking == "log_rank" and given.objective_weights() is None
    assert repr(SearchConfig(space="darts").ranking_rule()).startswith("AggregateRanking('mean_rank'")
    assert get_space("darts").search_defaults == DartsSpace.search_defaults
    from fne.evolution import Evolution

    evo = Evolution(space=get_space("darts"), proxies=darts.proxies)
    assert repr(evo.ranking) == repr(darts.ranking_rule())
