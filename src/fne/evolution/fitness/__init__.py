"""Training-free fitness: proxies that rank cells without training them.

Registry (:func:`register_proxy`, :func:`get_proxy`, :func:`list_proxies`), the built-in
proxies (``ntk``, ``naswot``, ``linear_regions``, ``grad_corr``, ``params``, ``flops``,
``synflow``), the per-cell :func:`score_genotype`, the cached :class:`Scorer`, and the
conversion of scores into objectives (:func:`to_objectives`) and rankings.
"""

from . import proxies  # noqa: F401  (registers the built-in proxies)
from .evaluate import proxy_build_kwargs, resolve_device, run_proxy, score_genotype
from .objectives import (COMBINED_PROXIES, combined_score, non_dominated_ranks, rank_matrix,
                         to_objectives)
from .registry import Proxy, get_proxy, list_proxies, register_proxy, unregister_proxy
from .scorer import DEFAULT_PROXIES, FITNESS_VERSION, Scorer

__all__ = [
    "Proxy", "register_proxy", "unregister_proxy", "get_proxy", "list_proxies",
    "resolve_device", "run_proxy", "score_genotype", "Scorer", "DEFAULT_PROXIES", "FITNESS_VERSION",
    "proxy_build_kwargs",
    "to_objectives", "rank_matrix", "combined_score", "non_dominated_ranks", "COMBINED_PROXIES",
]
