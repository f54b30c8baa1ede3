"""Evolution: the search loop, its parts and the training-free fitness it is driven by.

The public API is reachable from this package; each name is imported on first use, so
``import fne.evolution`` stays cheap and loads matplotlib or ray only when a callback or
evaluator that needs them is used::

    import fne.evolution as fe
    from fne.genotopheno import get_space

    space = get_space("nb201")
    scorer = fe.Scorer(space, ("ntk", "naswot", "grad_corr"), inputs=x, targets=y)
    result = fe.Evolution(space=space, scorer=scorer, pop_size=16, generations=6, seed=0).run()
    print(result.best["arch"])

A whole run on a dataset's images, with its files, is :mod:`fne.search`.
"""

from __future__ import annotations

from fne.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "evolution": ["Evolution", "EvolutionResult", "Snapshot", "Callback"],
        "defaults": ["search_proxies", "search_weights", "search_ranking"],
        "fitness": [
            "Scorer",
            "register_proxy",
            "get_proxy",
            "list_proxies",
            "score_genotype",
            "to_objectives",
        ],
        "selection": ["select_survivors", "pareto_front", "pick_order", "rank_and_crowding"],
        "tournament": ["Tournament", "TournamentResult", "DartsTournament"],
        "callbacks": ["LoggingCallback", "PopulationWriter", "CheckpointCallback", "PlotCallback"],
    },
)
