"""Named search settings, declared once: ``fne search --preset NAME`` and ``SearchConfig(preset=NAME)``.

A preset sets the options of a search that are left at their defaults (an option given
explicitly, with a value other than its default, wins)::

    config = SearchConfig(preset="fne2021", seed=3)

* ``fne2021``: fne's original design: the NTK condition number, linear regions and the
  gradient correlation as objectives, Pareto non-dominance for survival and for the pick, and a
  DARTS tournament of 4 cells every third generation (no final tournament).
* ``front``: a quality-cost front rather than one pick: survival along the front, 40 cells for
  14 generations (600 evaluations), no tournament (chosen on NB201 seeds 10 and 11 by
  ``benchmarks/bench_front.py``: IGD 0.0052 and 0.0054 against 0.0083 and 0.0102 with 20 cells
  for 29 generations, and 0.0135 with the ranking's survival; IGD as measured until 0.8.0,
  against a true front that held some dominated cells of equal FLOPs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fne.registry import Registry

__all__ = ["SearchPreset", "register_preset", "get_preset", "list_presets"]


@dataclass(frozen=True)
class SearchPreset:
    """Search settings under a name.

    Attributes:
        name: the preset's name.
        help: one line on what it runs.
        values: ``{SearchConfig field: value}``.
    """

    name: str
    help: str
    values: Mapping[str, Any] = field(default_factory=dict)


_PRESETS: Registry[SearchPreset] = Registry("search preset")


def register_preset(preset: SearchPreset) -> SearchPreset:
    """Register ``preset`` under its name; ``ValueError`` when the name is taken."""
    return _PRESETS.add(preset.name, preset)


def get_preset(name: str) -> SearchPreset:
    """The preset registered as ``name``; ``ValueError`` naming the known ones otherwise."""
    return _PRESETS.get(name)


def list_presets() -> list[str]:
    """Names of the registered presets."""
    return _PRESETS.names()


register_preset(
    SearchPreset(
        "fne2021",
        "fne's original design: NTK, linear regions and gradient correlation, Pareto survival and pick, "
        "a tournament every third generation",
        {
            "proxies": ("ntk", "linear_regions", "grad_corr"),
            "ranking": "nondominated",
            "ranking_weights": {},
            "rank_scale": "cells",
            "survival": "nsga2",
            "tournament_every": 3,
            "final_tournament_size": 0,
        },
    )
)


register_preset(
    SearchPreset(
        "front",
        "a quality-cost front: survival along the front, 40 cells, 14 generations, no tournament",
        {
            "survival": "front",
            "pop_size": 40,
            "generations": 14,
            "final_tournament_size": 0,
        },
    )
)
