"""A search's budget: the cost on the front's axis and the limits every picked cell meets.

::

    budget = Budget(spec, axis=get_cost("latency"), limits={"params": 1.0})
    values = budget.measure(genotypes)          # [{"latency": 3.1, "params": 0.8}, ...]
    budget.feasible(values[0])                  # True: within every limit
    budget.check_reachable(rng)                 # ValueError at once when no cell fits

A limit names a registered cost; its cost is measured on every cell the search considers
(before it is scored: infeasible cells are never scored, picked nor on the front). With an
evaluator of several workers, the costs that allow it (:attr:`~fne.costs.cost.Cost.parallel`)
are measured side by side in the workers; the others (timings) in this process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fne.costs.cost import Cost, NetworkSpec, get_cost

if TYPE_CHECKING:
    from fne.compute import Evaluator

__all__ = ["Budget", "REACHABLE_SAMPLES"]

REACHABLE_SAMPLES = 500
"""Random cells :meth:`Budget.check_reachable` draws before it calls a budget unreachable."""


class Budget:
    """The costs of a search and its limits.

    Args:
        spec: the network cells become where they run (:class:`~fne.costs.cost.NetworkSpec`).
        axis: the cost on the front's axis (a :class:`~fne.costs.cost.Cost` or a registered name).
        limits: ``{cost name: largest value allowed}``.
        costs: the cost objects to use for limits by name (others are made by
            :func:`~fne.costs.cost.get_cost` with their defaults).
        evaluator: workers that measure the parallel costs of many cells at once (None: here).

    Raises:
        ValueError: an unknown cost name, or a limit that is not a positive number.
    """

    def __init__(
        self,
        spec: NetworkSpec,
        axis: Cost | str = "flops",
        limits: Mapping[str, float] | None = None,
        costs: Mapping[str, Cost] | None = None,
        evaluator: Evaluator | None = None,
    ) -> None:
        self.spec, self.evaluator = spec, evaluator
        self.axis: Cost = get_cost(axis) if isinstance(axis, str) else axis
        self.limits = {str(k): _limit(k, v) for k, v in (limits or {}).items()}
        given = dict(costs or {})
        given.setdefault(self.axis.name, self.axis)
        self.costs: dict[str, Cost] = {self.axis.name: given[self.axis.name]}
        for name in self.limits:
            self.costs[name] = given[name] if name in given else get_cost(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The costs measured on every cell, the axis first."""
        return tuple(self.costs)

    def measure(self, genotypes: Sequence[Any]) -> list[dict[str, float]]:
        """``{cost name: value}`` of each genotype (cached per cost by canonical key)."""
        self._measure_in_workers(genotypes)
        columns = {name: cost.measure(self.spec, genotypes) for name, cost in self.costs.items()}
        return [{name: columns[name][i] for name in self.costs} for i in range(len(genotypes))]

    def _measure_in_workers(self, genotypes: Sequence[Any]) -> None:
        """Measure the parallel costs of the cells not yet cached in the evaluator's workers;
        a chunk that fails is left to :meth:`measure` to measure here."""
        workers = getattr(self.evaluator, "workers", 1)
        costs = [cost for cost in self.costs.values() if cost.parallel]
        if self.evaluator is None or workers < 2 or not costs:
            return
        space = self.spec.space
        cells = list({space.canonical(g): g for g in map(space.coerce, genotypes)}.values())
        missing = [g for g in cells if not all(cost.cached(self.spec, g) for cost in costs)]
        if len(missing) < 2:
            return
        chunks = [missing[i::workers] for i in range(workers) if missing[i::workers]]
        results = self.evaluator.map(_measure_chunk, [(costs, self.spec, chunk) for chunk in chunks], progress=False)
        for chunk, values in zip(chunks, results, strict=True):
            if isinstance(values, list):
                for genotype, row in zip(chunk, values, strict=True):
                    for cost, value in zip(costs, row, strict=True):
                        cost.remember(self.spec, genotype, value)

    def excess(self, values: Mapping[str, float]) -> dict[str, float]:
        """The limits ``values`` exceed, with the value of each (empty when the cell fits)."""
        return {name: float(values[name]) for name, top in self.limits.items() if not values[name] <= top}

    def feasible(self, values: Mapping[str, float]) -> bool:
        """Whether ``values`` meet every limit."""
        return not self.excess(values)

    def fits(self, genotype: Any) -> bool:
        """Whether ``genotype``'s network meets every limit (its costs are measured and cached)."""
        return self.feasible(self.measure([genotype])[0])

    def check_reachable(self, rng: np.random.Generator, samples: int = REACHABLE_SAMPLES) -> None:
        """Raise at once when no cell seems to fit: none of ``samples`` random cells meets the limits.

        Raises:
            ValueError: naming each limit and the smallest value seen of its cost.
        """
        if not self.limits:
            return
        seen: dict[str, float] = {}
        for _ in range(samples):
            values = self.measure([self.spec.space.sample(rng)])[0]
            if self.feasible(values):
                return
            for name in self.limits:
                seen[name] = min(seen.get(name, np.inf), values[name])
        detail = "; ".join(
            f"--max-{name} {self.limits[name]:g} {self.costs[name].unit}, smallest seen {seen[name]:.4g}"
            for name in self.limits
        )
        raise ValueError(
            f"no cell of the {self.spec.space.name} space fits the budget: none of {samples} random cells "
            f"met it ({detail}); raise the limit"
        )

    def describe(self) -> dict[str, Any]:
        """JSON-ready: the axis, each cost's settings and the limits."""
        return {
            "axis": self.axis.name,
            "costs": {name: cost.describe() for name, cost in self.costs.items()},
            "limits": dict(self.limits),
            "network": self.spec.describe(),
        }


def _measure_chunk(task: tuple[list[Cost], NetworkSpec, list[Any]]) -> list[list[float]]:
    """In a worker: each cost of each cell of the chunk."""
    costs, spec, cells = task
    columns = [cost.measure(spec, cells) for cost in costs]
    return [list(row) for row in zip(*columns, strict=True)]


def _limit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"the limit on {name} must be a positive number, got {value!r}")
    return float(value)
