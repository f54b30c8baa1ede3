"""The cost options of a search, declared once (``fne search --cost ... --max-...``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fne.costs.budget import Budget
from fne.costs.cost import Cost, NetworkSpec, get_cost, list_costs
from fne.options import option

if TYPE_CHECKING:
    from fne.compute import Evaluator

__all__ = ["LimitOptions", "CostOptions"]


@dataclass(frozen=True)
class LimitOptions:
    """Limits on the size and speed of a network.

    Attributes:
        max_params / max_flops / max_latency_ms: limits on those costs (None: no limit).
    """

    max_params: float | None = option(None, "largest network allowed, in M parameters", low=0.0, metavar="M")
    max_flops: float | None = option(None, "largest forward pass allowed, in M FLOPs per image", low=0.0, metavar="M")
    max_latency_ms: float | None = option(
        None, "slowest forward pass allowed on this machine, in ms (see --latency-*)", low=0.0, metavar="MS"
    )

    def limits(self) -> dict[str, float]:
        """``{cost name: limit}`` of every limit given."""
        given = {"params": self.max_params, "flops": self.max_flops, "latency": self.max_latency_ms}
        return {name: float(v) for name, v in given.items() if v is not None}


@dataclass(frozen=True)
class CostOptions(LimitOptions):
    """What a cell costs where it will run, and the limits the pick keeps to.

    Attributes (besides the limits of :class:`LimitOptions`):
        cost: the cost on the front's axis (a registered cost: ``flops``, ``params``, ``latency``, ...).
        max_cost: a limit on ``cost`` itself, in its unit (None: no limit).
        latency_batch / latency_threads / latency_warmup / latency_repeats: how ``latency`` is timed.
        cost_table / cost_column: the CSV of a device's measurements and its column, for
            ``--cost table`` (:class:`fne.costs.table.TableCost`).
    """

    cost: str = option("flops", "the cost on the front's axis", choices=list_costs)
    max_cost: float | None = option(None, "largest --cost allowed, in its unit", low=0.0, metavar="VALUE")
    latency_batch: int = option(1, "images per timed forward pass of the latency cost", low=1)
    latency_threads: int = option(1, "torch threads while timing the latency cost", low=1)
    latency_warmup: int = option(3, "untimed forward passes before timing", low=0)
    latency_repeats: int = option(10, "timed forward passes (the median is the latency)", low=1)
    cost_table: str | None = option(
        None, "CSV of cells measured on your device (fne export --sample writes the cells to measure)", metavar="CSV"
    )
    cost_column: str | None = option(None, "the --cost-table column measured, e.g. latency_ms", metavar="COLUMN")

    def limits(self) -> dict[str, float]:
        """``{cost name: limit}`` of every limit given (the tighter one where two name the same cost)."""
        limits = super().limits()
        if self.max_cost is not None:
            limits[self.cost] = min(float(self.max_cost), limits.get(self.cost, float("inf")))
        return limits

    def check_costs(self) -> None:
        """Raise ``ValueError`` for an unknown cost or a limit that is not positive."""
        for name, top in self.limits().items():
            if not top > 0:
                raise ValueError(f"the limit on {name} must be positive, got {top:g}")
        if self.cost == "table" and (self.cost_table is None or self.cost_column is None):
            raise ValueError("--cost table needs --cost-table CSV and --cost-column COLUMN (the measured values)")
        for name in dict.fromkeys([self.cost, *self.limits()]):
            self.make_cost(name)

    def cost_options(self) -> dict[str, Callable[[], dict[str, Any]]]:
        """Per cost name, the options it is made with (costs not named take their defaults)."""
        return {
            "latency": lambda: {
                "batch_size": self.latency_batch,
                "threads": self.latency_threads,
                "warmup": self.latency_warmup,
                "repeats": self.latency_repeats,
            },
            "table": lambda: {"path": self.cost_table, "column": self.cost_column},
        }

    def make_cost(self, name: str) -> Cost:
        """The cost ``name`` with its options from this configuration."""
        options = self.cost_options()
        return get_cost(name, **(options[name]() if name in options else {}))

    def budget(self, spec: NetworkSpec, evaluator: Evaluator | None = None) -> Budget:
        """The budget of these options for networks of ``spec`` (measured in ``evaluator``'s workers where it may).

        Raises:
            ValueError: an unknown cost or a limit that is not positive.
        """
        limits = self.limits()
        costs = {name: self.make_cost(name) for name in dict.fromkeys([self.cost, *limits])}
        return Budget(spec, costs[self.cost], limits, costs, evaluator)
