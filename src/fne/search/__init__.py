"""A complete, resumable search run: its configuration (:mod:`.config`), the run itself
(:mod:`.run`), and what a run keeps on disk: checkpoint, clock, lock and benchmark tables."""

from fne.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {"config": ["SearchConfig"], "run": ["run_search"]})
