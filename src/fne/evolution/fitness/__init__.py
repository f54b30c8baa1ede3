"""Training-free fitness: proxies that rank cells without training them.

Registry (:func:`register_proxy`, :func:`get_proxy`, :func:`list_proxies`), the built-in
proxies (``ntk``, ``naswot``, ``linear_regions``, ``grad_corr``, ``params``, ``flops``,
``synflow``) and the block-wise ones (``expressivity``, ``progressivity`` and
``trainability`` in :mod:`.spectra`, ``meco`` in :mod:`.feature_correlation`, ``zico`` in
:mod:`.gradient_statistics`), the per-cell :func:`score_genotype`, the cached
:class:`Scorer`, the conversion of scores into objectives (:func:`to_objectives`) and
rankings, and rank aggregation (:mod:`.aggregate`: ``aggregate.aggregate``,
:func:`aggregation_order`, :func:`list_aggregators`, and the chosen training-free ranking
:data:`RANKING_PROXIES` with :data:`RANKING_AGGREGATOR`).
"""

from fne.evolution.fitness import feature_correlation, gradient_statistics, proxies, spectra  # noqa: F401  (register the built-in proxies)
from fne.evolution.fitness.aggregate import (
    DARTS_RANKING_AGGREGATOR,
    DARTS_RANKING_PROXIES,
    DARTS_RANKING_WEIGHTS,
    RANKING_AGGREGATOR,
    RANKING_PROXIES,
    RANKING_WEIGHTS,
    aggregation_order,
    get_aggregator,
    list_aggregators,
    register_aggregator,
)
from fne.evolution.fitness.objectives import (
    COMBINED_PROXIES,
    combined_score,
    non_dominated_ranks,
    rank_matrix,
    to_objectives,
)
from fne.evolution.fitness.registry import Proxy, get_proxy, list_proxies, register_proxy, unregister_proxy
from fne.evolution.fitness.score_cell import proxy_build_kwargs, resolve_device, run_proxy, score_genotype
from fne.evolution.fitness.scorer import DEFAULT_PROXIES, FITNESS_VERSION, Scorer

__all__ = [
    "Proxy",
    "register_proxy",
    "unregister_proxy",
    "get_proxy",
    "list_proxies",
    "resolve_device",
    "run_proxy",
    "score_genotype",
    "Scorer",
    "DEFAULT_PROXIES",
    "FITNESS_VERSION",
    "proxy_build_kwargs",
    "to_objectives",
    "rank_matrix",
    "combined_score",
    "non_dominated_ranks",
    "COMBINED_PROXIES",
    "aggregation_order",
    "get_aggregator",
    "list_aggregators",
    "register_aggregator",
    "RANKING_PROXIES",
    "RANKING_AGGREGATOR",
    "RANKING_WEIGHTS",
    "DARTS_RANKING_PROXIES",
    "DARTS_RANKING_AGGREGATOR",
    "DARTS_RANKING_WEIGHTS",
]
