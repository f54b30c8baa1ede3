"""Costs: sizes counted as NAS-Bench-201 counts them, latency by its rule, the registry, budgets."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from fne.compute import make_evaluator
from fne.costs import Budget, Cost, NetworkSpec, get_cost, list_costs, register_cost
from fne.costs.latency import LatencyCost
from fne.costs.options import CostOptions
from fne.genotopheno import get_space

pytestmark = pytest.mark.usefixtures("one_thread")

OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def spec() -> NetworkSpec:
    return NetworkSpec.full(get_space("nb201"))


def test_the_builtin_costs_are_registered_with_units() -> None:
    assert {"params", "flops", "latency"} <= set(list_costs())
    for name in ("params", "flops", "latency"):
        cost = get_cost(name)
        assert cost.name == name and cost.unit and cost.label


def test_sizes_match_the_published_nb201_counts(spec: NetworkSpec, nb201_csv: Path) -> None:
    with nb201_csv.open(newline="") as handle:
        rows = [r for r in itertools.islice(csv.DictReader(handle), 400) if r["c10_flops"]][:12]
    archs = [r["arch_str"] for r in rows]
    params = get_cost("params").measure(spec, archs)
    flops = get_cost("flops").measure(spec, archs)
    assert params == pytest.approx([float(r["c10_params"]) for r in rows], abs=1e-9)
    # NAS-Bench-201's FLOPs follow the same rule up to a constant of about 0.001 M
    offsets = np.array([float(r["c10_flops"]) for r in rows]) - np.array(flops)
    assert offsets.max() - offsets.min() < 1e-6 and abs(offsets.mean()) < 0.01


def test_sizes_grow_with_the_ops_and_are_cached(spec: NetworkSpec) -> None:
    flops = get_cost("flops")
    small, large = flops.measure(spec, [EMPTY, OPTIMUM])
    assert 0 < small < large
    assert flops.cached(spec, get_space("nb201").parse(OPTIMUM))
    wider = NetworkSpec.full(get_space("nb201"), in_channels=1, num_classes=3, image_size=(16, 16))
    assert get_cost("flops").measure(wider, [OPTIMUM])[0] < large / 3


def test_latency_is_the_median_of_the_timed_passes_after_warm_up(spec: NetworkSpec) -> None:
    readings = iter([0.0, 0.001, 1.0, 1.004, 2.0, 2.002, 3.0, 3.003, 4.0, 4.005])  # 5 passes: 1, 4, 2, 3, 5 ms
    calls = []

    def clock() -> float:
        calls.append(1)
        return next(readings)

    latency = LatencyCost(warmup=2, repeats=5, clock=clock)
    assert latency.measure(spec, [EMPTY]) == [pytest.approx(3.0)]
    assert latency.spread[get_space("nb201").canonical(EMPTY)] == pytest.approx((4.0 - 2.0) / 3.0)
    assert latency.measure(spec, [EMPTY]) == [pytest.approx(3.0)] and len(calls) == 10  # cached: not timed again
    assert latency.describe()["median_relative_spread"] == pytest.approx(2.0 / 3.0)


def test_latency_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="repeats"):
        LatencyCost(repeats=0)
    with pytest.raises(ValueError, match="unknown cost"):
        get_cost("energy")
    with pytest.raises(ValueError, match="cost 'latency'"):
        get_cost("latency", batch=4)


def test_a_registered_cost_of_ones_own_is_measured_like_the_others(spec: NetworkSpec) -> None:
    @register_cost("conv_edges_test")
    class ConvEdges(Cost):
        unit = "edges"

        def measure_one(self, spec: NetworkSpec, genotype: object) -> float:
            return float(spec.space.format(genotype).count("conv"))

    assert get_cost("conv_edges_test").measure(spec, [OPTIMUM, EMPTY]) == [5.0, 0.0]


def test_a_budget_measures_its_axis_and_limits_and_says_what_fits(spec: NetworkSpec) -> None:
    budget = Budget(spec, "flops", {"params": 0.5})
    small, large = budget.measure([EMPTY, OPTIMUM])
    assert set(small) == {"flops", "params"} and budget.feasible(small)
    assert not budget.feasible(large) and set(budget.excess(large)) == {"params"}
    assert budget.fits(EMPTY) and not budget.fits(OPTIMUM)
    budget.check_reachable(np.random.default_rng(0), samples=50)


def test_a_budget_nothing_meets_is_refused_naming_the_limit(spec: NetworkSpec) -> None:
    budget = Budget(spec, "flops", {"params": 0.01})
    with pytest.raises(
        ValueError, match=r"no cell of the nb201 space fits the budget.*--max-params 0.01.*smallest seen"
    ):
        budget.check_reachable(np.random.default_rng(0), samples=20)
    with pytest.raises(ValueError, match="positive"):
        Budget(spec, "flops", {"params": 0})


def test_workers_measure_the_same_sizes_as_this_process(spec: NetworkSpec) -> None:
    space = get_space("nb201")
    cells = [space.sample(np.random.default_rng(i)) for i in range(6)]
    evaluator = make_evaluator("process", workers=2)
    try:
        parallel = Budget(spec, "flops", {"params": 1.0}, evaluator=evaluator).measure(cells)
    finally:
        evaluator.close()
    assert parallel == Budget(spec, "flops", {"params": 1.0}).measure(cells)


def test_cost_options_give_limits_and_the_budget() -> None:
    options = CostOptions(cost="latency", max_params=1.0, max_cost=5.0, max_latency_ms=8.0, latency_repeats=3)
    assert options.limits() == {"params": 1.0, "latency": 5.0}
    budget = options.budget(NetworkSpec.full(get_space("nb201")))
    assert budget.axis.name == "latency" and budget.costs["latency"].repeats == 3
    assert budget.describe()["limits"] == {"params": 1.0, "latency": 5.0}
    with pytest.raises(ValueError, match="positive"):
        CostOptions(max_flops=0.0).check_costs()
