"""Training-free fitness: proxies that rank cells without training them.

Registry (:func:`register_proxy`, :func:`get_proxy`, :func:`list_proxies`), the built-in
proxies, one module per idea (:data:`BUILTIN_PROXY_MODULES`: ``meco`` in
:mod:`.feature_correlation`, ``zico`` in :mod:`.gradient_statistics`, ``ntk`` in :mod:`.ntk`,
``naswot`` and ``linear_regions`` in :mod:`.activation_patterns`, ``grad_corr`` in
:mod:`.gradient_correlation`, ``params`` and ``flops`` in :mod:`.size`, ``synflow`` in
:mod:`.synflow`, ``expressivity``, ``progressivity`` and ``trainability`` in
:mod:`.spectra`, ``fisher_entropy`` in :mod:`.fisher`, ``kernel_depth`` and ``shortcut_depth`` in
:mod:`.path_depth`), the per-cell :func:`score_genotype`, the cached
:class:`Scorer`, the conversion of scores into objectives (:func:`to_objectives`) and
rankings, and rank aggregation (:mod:`.aggregate`: ``aggregate.aggregate``,
:func:`aggregation_order`, :func:`list_aggregators`). The ranking chosen for each space is
its ``search_defaults`` (:mod:`fne.evolution.defaults`).
"""

import importlib

from fne.evolution.fitness.aggregate import (
    aggregation_order,
    get_aggregator,
    list_aggregators,
    register_aggregator,
)
from fne.evolution.fitness.objectives import non_dominated_ranks, rank_matrix, to_objectives
from fne.evolution.fitness.registry import (
    Proxy,
    check_proxy_names,
    get_proxy,
    list_proxies,
    register_proxy,
    unregister_proxy,
)
from fne.evolution.fitness.score_cell import run_proxy, score_genotype
from fne.evolution.fitness.scorer import DEFAULT_PROXIES, FITNESS_VERSION, Scorer

BUILTIN_PROXY_MODULES = (
    "feature_correlation",
    "gradient_statistics",
    "ntk",
    "activation_patterns",
    "gradient_correlation",
    "size",
    "synflow",
    "spectra",
    "fisher",
    "path_depth",
)
"""The modules of the built-in proxies, imported (so registered) in this order, which is the
order of :func:`list_proxies`."""

for _module in BUILTIN_PROXY_MODULES:
    importlib.import_module(f"{__name__}.{_module}")
del _module

__all__ = [
    "Proxy",
    "BUILTIN_PROXY_MODULES",
    "register_proxy",
    "unregister_proxy",
    "get_proxy",
    "list_proxies",
    "check_proxy_names",
    "run_proxy",
    "score_genotype",
    "Scorer",
    "DEFAULT_PROXIES",
    "FITNESS_VERSION",
    "to_objectives",
    "rank_matrix",
    "non_dominated_ranks",
    "aggregation_order",
    "get_aggregator",
    "list_aggregators",
    "register_aggregator",
]
