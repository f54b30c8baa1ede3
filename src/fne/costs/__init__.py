"""What a cell's network costs where it will run, and the budget a search keeps to.

* :mod:`.cost`: the :class:`Cost` interface, :class:`NetworkSpec` (the network as it will be
  trained) and the cost registry (``register_cost``, ``get_cost``, ``list_costs``);
* :mod:`.size`: ``params`` and ``flops`` (counted without allocating the network);
* :mod:`.latency`: ``latency`` measured on this machine;
* :mod:`.table`: ``table``, a device's measurements of some cells (a lookup, or a model fitted
  to them for the other cells);
* :mod:`.sample_export`: the cells to measure on a device, exported with a timing script;
* :mod:`.budget`: :class:`Budget`, the front's cost and the limits a search keeps to.
"""

from fne.costs.budget import Budget
from fne.costs.cost import Cost, NetworkSpec, get_cost, get_cost_class, list_costs, register_cost
from fne.costs.latency import LatencyCost
from fne.costs.size import FlopsCost, ParamsCost, count_flops, count_params
from fne.costs.table import TableCost

__all__ = [
    "Budget",
    "Cost",
    "NetworkSpec",
    "get_cost",
    "get_cost_class",
    "list_costs",
    "register_cost",
    "LatencyCost",
    "FlopsCost",
    "ParamsCost",
    "TableCost",
    "count_flops",
    "count_params",
]
