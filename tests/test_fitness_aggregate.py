"""Rank aggregation: mean rank, log rank (AZ-NAS style) and non-dominated fronts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fne.evolution.fitness import list_proxies, rank_matrix
from fne.evolution.fitness.aggregate import (
    aggregate,
    aggregation_order,
    get_aggregator,
    list_aggregators,
    register_aggregator,
)
from fne.genotopheno import DartsSpace, NB201Space
from fne.registry import Registry

# params and naswot are higher-is-better, ntk lower-is-better.
SCORES = [
    {"params": 3.0, "naswot": 1.0, "ntk": 10.0},  # best on params only
    {"params": 2.0, "naswot": 2.0, "ntk": 20.0},  # second everywhere but ntk
    {"params": 1.0, "naswot": 3.0, "ntk": 30.0},  # best on naswot only
    {"params": 0.5, "naswot": 0.5, "ntk": 40.0},  # worst everywhere
]
NAMES = ["params", "naswot"]


def test_registered_methods_and_lookup_errors():
    assert list_aggregators()[:3] == ["mean_rank", "log_rank", "nondominated"]
    with pytest.raises(ValueError, match="unknown aggregator 'nope'; registered aggregators: mean_rank"):
        get_aggregator("nope")
    with pytest.raises(ValueError, match="unknown aggregator 'nope'"):
        aggregate(SCORES, NAMES, "nope")


def test_mean_rank_is_minus_the_mean_rank():
    values = aggregate(SCORES, ["params", "naswot", "ntk"], "mean_rank")
    np.testing.assert_allclose(values, -rank_matrix(SCORES, ["params", "naswot", "ntk"]).mean(axis=1))
    np.testing.assert_allclose(aggregate(SCORES, NAMES, "mean_rank"), [-2.0, -2.0, -2.0, -4.0])


def test_log_rank_prefers_cells_good_on_every_proxy():
    values = aggregate(SCORES, NAMES, "log_rank")
    n = 4.0
    expected_middle = 2 * math.log(3 / n)
    np.testing.assert_allclose(values[1], expected_middle)
    np.testing.assert_allclose(values[0], math.log(4 / n) + math.log(2 / n))
    assert values[1] > values[0] and values[1] > values[2] and values.argmin() == 3
    assert aggregation_order(SCORES, NAMES, "log_rank").tolist() == [1, 0, 2, 3]


def test_nondominated_orders_fronts_then_mean_rank():
    scores = SCORES + [{"params": 2.5, "naswot": 1.5, "ntk": 0.0}]  # a fifth cell on the front
    values = aggregate(scores, NAMES, "nondominated")
    order = aggregation_order(scores, NAMES, "nondominated")
    assert set(order[:4].tolist()) == {0, 1, 2, 4} and order[-1] == 3
    assert -2.0 < values[3] < -1.0 and (values[[0, 1, 2, 4]] > -1.0).all()
    dominated = [{"params": 1.0, "naswot": 1.0}, {"params": 2.0, "naswot": 2.0}, {"params": 0.0, "naswot": 3.0}]
    assert aggregation_order(dominated, NAMES, "nondominated").tolist() == [1, 2, 0]


def test_failed_values_rank_last():
    scores = [{"params": 1.0, "naswot": math.nan}, {"params": 0.5, "naswot": 1.0}, {"params": 0.2, "naswot": 0.5}]
    for method in list_aggregators():
        order = aggregation_order(scores, NAMES, method)
        assert order[0] == 1, method


def test_weights_change_the_ranking_and_are_checked():
    assert aggregation_order(SCORES, NAMES, "mean_rank", [1.0, 3.0]).tolist()[0] == 2
    assert aggregation_order(SCORES, NAMES, "mean_rank", {"params": 1.0}).tolist()[0] == 0
    # a proxy the named weights leave out weighs 1, as under equal weights and in the search's options
    np.testing.assert_array_equal(
        aggregate(SCORES, NAMES, "mean_rank", {"params": 3.0}), aggregate(SCORES, NAMES, "mean_rank", [3.0, 1.0])
    )
    np.testing.assert_array_equal(aggregate(SCORES, NAMES, "log_rank", {}), aggregate(SCORES, NAMES, "log_rank"))
    np.testing.assert_allclose(
        aggregate(SCORES, NAMES, "log_rank", [2.0, 2.0]), 2 * aggregate(SCORES, NAMES, "log_rank")
    )
    for bad, message in (
        ([1.0], "1 weights given for 2 proxies"),
        ([1.0, -1.0], "non-negative"),
        ([0.0, 0.0], "not all zero"),
        ({"ntk": 1.0}, r"name proxies \['ntk'\]"),
        ([1.0, math.nan], "finite"),
    ):
        with pytest.raises(ValueError, match=message):
            aggregate(SCORES, NAMES, "mean_rank", bad)


def test_order_ties_keep_index_order_and_empty_inputs():
    same = [{"params": 1.0, "naswot": 1.0}] * 3
    for method in list_aggregators():
        assert aggregation_order(same, NAMES, method).tolist() == [0, 1, 2]
    assert aggregate([], NAMES).shape == (0,)
    with pytest.raises(ValueError, match="at least one proxy"):
        aggregate(SCORES, [])
    with pytest.raises(ValueError, match=r"proxies names \['nope'\], which are not registered"):
        aggregate(SCORES, ["params", "nope"])
    with pytest.raises(ValueError, match="no value for proxy 'ntk'"):
        aggregate([{"params": 1.0}], ["params", "ntk"])


def test_a_registered_aggregator_is_used(monkeypatch):
    monkeypatch.setattr("fne.evolution.fitness.aggregate._AGGREGATORS", Registry("aggregator"))
    register_aggregator("first_column")(lambda ranks, weights: -ranks[:, 0])
    assert list_aggregators() == ["first_column"]
    assert aggregation_order(SCORES, ["naswot", "params"], "first_column").tolist() == [2, 1, 0, 3]
    with pytest.raises(ValueError, match="already registered"):
        register_aggregator("first_column")(lambda ranks, weights: ranks[:, 0])


def test_ranking_constants_name_registered_things():
    chosen = [space.search_defaults for space in (NB201Space, DartsSpace)]
    rankings = [(c.proxies, c.ranking, c.weights) for c in chosen if c is not None]
    assert len(rankings) == 2
    for proxies, method, weights in rankings:
        assert set(proxies) <= set(list_proxies()) and len(set(proxies)) == len(proxies)
        assert method in list_aggregators()
        assert weights is None or set(weights) == set(proxies)
        scores = [{p: float(i + j) for j, p in enumerate(proxies)} for i in range(3)]
        assert aggregate(scores, proxies, method, weights).shape == (3,)
