"""Evolution: data, training-free fitness, variation, selection and the search loop.

The public API is reachable from this package; each name is imported on first use, so
``import fne.evolution`` stays cheap and loads matplotlib or ray only when a callback or
evaluator that needs them is used::

    import fne.evolution as fe
    from fne.genotopheno import get_space

    space = get_space("nb201")
    scorer = fe.Scorer(space, ("ntk", "naswot", "grad_corr"), inputs=x, targets=y)
    result = fe.Evolution(space=space, scorer=scorer, pop_size=16, generations=6, seed=0).run()
    print(result.best["arch"])
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, list[str]] = {
    "evolution": ["Evolution", "EvolutionResult", "Snapshot", "Callback"],
    "fitness": [
        "Scorer",
        "register_proxy",
        "get_proxy",
        "list_proxies",
        "score_genotype",
        "to_objectives",
        "combined_score",
    ],
    "selection": ["select_survivors", "pareto_front", "pick_order", "rank_and_crowding"],
    "variation": ["VariationOperators", "get_variation", "register_variation", "list_variations"],
    "tournament": ["Tournament", "TournamentResult", "DartsTournament"],
    "callbacks": ["LoggingCallback", "HistoryCallback", "PopulationWriter", "CheckpointCallback", "PlotCallback"],
    "search": ["SearchConfig", "run_search"],
    "dataset": ["load_cifar10", "sample_batch", "train_val_split"],
    "evaluator": ["make_evaluator", "Failed"],
    "training": ["train_and_test"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first access."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
