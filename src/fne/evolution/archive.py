"""The archive of a search: every scored cell, which ones are eliminated, and the pick order.

Every cell the search scores enters the archive under its canonical key, with its
genotype and its scores. Cells that lost a tournament are *eliminated*; the others are
*eligible*. The pick order lists the eligible cells best first; its first cell is the
final pick. It comes from a ``ranking`` of the eligible cells' objective matrix
(:mod:`fne.evolution.ranking`), by default :func:`fne.evolution.selection.pick_order`
(non-dominated front, then the sum of the per-objective ranks over all eligible cells, then
evaluation order)::

    archive = Archive(space, proxies, objectives, ranking=my_rank_aggregator)
    archive.add(genotype, scores)
    best_key = archive.pick_order()[0]

Ranking against everything evaluated, rather than against the final population alone,
rewards cells that are good on every proxy rather than the extremes the population
spreads out to. After a final tournament its winners head the pick order, in the order
the tournament gave them: removing the losers can bring cells that were not candidates
onto the front, and they must not overtake the cells that won.

A ranking whose :attr:`~fne.evolution.ranking.Ranking.uses_reference` is true
(:func:`fne.evolution.ranking.objective_ranking` with ``scale="reference"``) also receives
the rows of the archive's *reference* cells, a random sample of the space (the search's
initial population, :meth:`Archive.set_reference`), from which it estimates each cell's
rank in the whole space.

The objective matrix is computed once over all archived cells (in evaluation order) and
kept until a cell is added; the eligible cells are rows of it. The failure rule of
:func:`fne.evolution.fitness.to_objectives` puts a failed value past every finite value
of the rows it sees, so the default ranking, which only compares values, orders the
eligible rows of the whole matrix exactly as it would order their own matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from fne.evolution.ranking import Ranking, RankingLike, rank_rows
from fne.evolution.selection import pick_order
from fne.genotopheno.space import SearchSpace

__all__ = ["Archive", "Ranking", "Scores", "clean_scores"]

Scores = Mapping[str, float]
Objectives = Callable[[Sequence[Scores]], np.ndarray]


class Archive:
    """Scored cells by canonical key, the eliminated ones and the final pick order.

    Args:
        space: the search space (keys are ``space.canonical``, texts ``space.format``).
        proxies: proxy names every score dict must hold.
        objectives: ``f(score dicts) -> (n, k)`` objective matrix, minimised.
        ranking: ``f(objective matrix of the eligible cells) -> their indices, best first``.

    Raises:
        ValueError: when ``ranking`` is not callable.
    """

    def __init__(
        self, space: SearchSpace, proxies: Sequence[str], objectives: Objectives, ranking: RankingLike = pick_order
    ) -> None:
        if not callable(ranking):
            raise ValueError(f"ranking must be callable (objective matrix -> indices), got {ranking!r}")
        self.space, self.proxies, self.ranking = space, tuple(proxies), ranking
        self._objectives = objectives
        self._entries: dict[str, tuple[Any, dict[str, float]]] = {}
        self._eliminated: dict[str, None] = {}
        self._final_winners: list[str] = []
        self._reference: list[str] = []
        self._matrix: np.ndarray | None = None
        self._order: list[str] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def key(self, genotype: Any) -> str:
        """The canonical key of ``genotype``."""
        return self.space.canonical(genotype)

    def add(self, genotype: Any, scores: Scores) -> str:
        """Archive a scored cell (replacing an entry of the same key); returns its key."""
        key = self.key(genotype)
        self._entries[key] = (genotype, clean_scores(scores, self.proxies))
        self._matrix = self._order = None
        return key

    def genotype(self, key: str) -> Any:
        """The genotype archived under ``key``."""
        return self._entries[key][0]

    def entry(self, key: str) -> dict[str, Any]:
        """``{"arch": text, "scores": {...}}`` of the cell archived under ``key``."""
        genotype, scores = self._entries[key]
        return {"arch": self.space.format(genotype), "scores": dict(scores)}

    @property
    def eliminated(self) -> tuple[str, ...]:
        """Keys of the eliminated cells, in order of elimination."""
        return tuple(self._eliminated)

    @property
    def final_winners(self) -> tuple[str, ...]:
        """Keys of the final tournament's winners (empty before it)."""
        return tuple(self._final_winners)

    def eliminate(self, keys: Iterable[str]) -> None:
        """Mark cells as eliminated (sorted, so that the state is reproducible)."""
        self._eliminated.update(dict.fromkeys(sorted(keys)))
        self._order = None

    @property
    def reference(self) -> tuple[str, ...]:
        """Keys of the reference cells (random cells the ranking may compare against)."""
        return tuple(self._reference)

    def set_reference(self, keys: Sequence[str]) -> None:
        """Make these archived cells the reference sample.

        Raises:
            ValueError: a key that is not archived.
        """
        missing = [k for k in keys if k not in self._entries]
        if missing:
            raise ValueError(f"reference cells must be archived; {len(missing)} are not, e.g. {missing[0]!r}")
        self._reference = list(dict.fromkeys(keys))
        self._order = None

    def set_final_winners(self, keys: Sequence[str]) -> None:
        """Put these cells at the head of the pick order, in this order."""
        self._final_winners = list(keys)
        self._order = None

    def objective_matrix(self) -> np.ndarray:
        """Objectives of all archived cells in evaluation order, eliminated ones included."""
        if self._matrix is None:
            self._matrix = np.asarray(self._objectives([s for _, s in self._entries.values()]), dtype=float)
        return self._matrix

    def eligible(self) -> list[str]:
        """Keys of the cells not eliminated, in evaluation order."""
        return [k for k in self._entries if k not in self._eliminated]

    def pick_order(self) -> list[str]:
        """Keys of the eligible cells in final-pick order (see the module doc)."""
        if self._order is None:
            self._order = self._rank()
        return list(self._order)

    def _rank(self) -> list[str]:
        keys = list(self._entries)
        rows = [i for i, k in enumerate(keys) if k not in self._eliminated]
        if not rows:
            return []
        reference = self.objectives_of(self._reference) if self._reference else None
        order = _checked_order(rank_rows(self.ranking, self.objective_matrix()[rows], reference), len(rows))
        ranked = [keys[rows[i]] for i in order]
        winners = [k for k in self._final_winners if k in self._entries and k not in self._eliminated]
        return winners + [k for k in ranked if k not in winners]

    def objectives_of(self, keys: Sequence[str]) -> np.ndarray:
        """Rows of :meth:`objective_matrix` for ``keys``, in that order."""
        index = {k: i for i, k in enumerate(self._entries)}
        matrix = self.objective_matrix()
        return matrix[[index[k] for k in keys]] if keys else matrix[:0]

    def state_dict(self) -> dict[str, Any]:
        """``archive`` (``[text, scores]`` pairs), ``eliminated``, ``final_winners`` and ``reference`` (keys)."""
        return {
            "archive": [[self.space.format(g), dict(sc)] for g, sc in self._entries.values()],
            "eliminated": list(self._eliminated),
            "final_winners": list(self._final_winners),
            "reference": list(self._reference),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (``final_winners`` and ``reference`` may be absent); unchanged on error.

        Raises:
            ValueError, KeyError, TypeError: for a malformed state.
        """
        entries: dict[str, tuple[Any, dict[str, float]]] = {}
        for text, scores in state["archive"]:
            genotype = self.space.parse(text)
            entries[self.key(genotype)] = (genotype, clean_scores(scores, self.proxies))
        eliminated = dict.fromkeys(str(k) for k in state["eliminated"])
        winners = [str(k) for k in state.get("final_winners", [])]
        reference = [str(k) for k in state.get("reference", [])]
        if any(k not in entries for k in reference):
            raise ValueError("reference names cells that are not in the archive")
        self._entries, self._eliminated, self._final_winners = entries, eliminated, winners
        self._reference = reference
        self._matrix = self._order = None


def _checked_order(order: Any, n: int) -> list[int]:
    """``order`` as a list of ints; ``ValueError`` unless it is a permutation of ``range(n)``."""
    flat = np.asarray(order).reshape(-1)
    if flat.dtype.kind not in "iu" or sorted(flat.tolist()) != list(range(n)):
        raise ValueError(f"ranking must return a permutation of the {n} row indices, got {flat.tolist()!r}")
    return [int(i) for i in flat]


def clean_scores(scores: Scores, proxies: Sequence[str]) -> dict[str, float]:
    """Scores as plain floats (None, as written for non-finite values in JSON, becomes NaN).

    Raises:
        ValueError: when ``scores`` is not a mapping or lacks one of ``proxies``.
    """
    if not isinstance(scores, Mapping):
        raise ValueError(f"scores must be a mapping of proxy name to value, got {type(scores).__name__}")
    missing = [p for p in proxies if p not in scores]
    if missing:
        raise ValueError(f"scores lack proxies {missing}: got {sorted(scores)}")
    return {str(k): (math.nan if v is None else float(v)) for k, v in scores.items()}
