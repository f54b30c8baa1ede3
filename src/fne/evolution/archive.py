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

With a cost axis (``cost_axis``: the name of a cost each cell was measured on, see
:mod:`fne.costs`), :meth:`Archive.front` is the quality-cost front: the eligible cells that no
cell ahead of them in the pick order matches or beats on that cost, among the cells whose
network computes something from its input (:meth:`~fne.genotopheno.space.SearchSpace.computes`).

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

__all__ = ["Archive", "Ranking", "Scores", "clean_scores", "clean_costs"]

Scores = Mapping[str, float]
Objectives = Callable[[Sequence[Scores]], np.ndarray]


class Archive:
    """Scored cells by canonical key, the eliminated ones and the final pick order.

    Args:
        space: the search space (keys are ``space.canonical``, texts ``space.format``).
        proxies: proxy names every score dict must hold.
        objectives: ``f(score dicts) -> (n, k)`` objective matrix, minimised.
        ranking: ``f(objective matrix of the eligible cells) -> their indices, best first``.
        cost_axis: the cost of :meth:`front` (every cell is added with it among its costs), or None.

    Raises:
        ValueError: when ``ranking`` is not callable.
    """

    def __init__(
        self,
        space: SearchSpace,
        proxies: Sequence[str],
        objectives: Objectives,
        ranking: RankingLike = pick_order,
        cost_axis: str | None = None,
    ) -> None:
        if not callable(ranking):
            raise ValueError(f"ranking must be callable (objective matrix -> indices), got {ranking!r}")
        self.space, self.proxies, self.ranking = space, tuple(proxies), ranking
        self._objectives = objectives
        self.cost_axis = cost_axis
        self._entries: dict[str, tuple[Any, dict[str, float]]] = {}
        self._costs: dict[str, dict[str, float]] = {}
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

    def add(self, genotype: Any, scores: Scores, costs: Mapping[str, float] | None = None) -> str:
        """Archive a scored cell with its costs (replacing an entry of the same key); returns its key.

        Raises:
            ValueError: scores without one of the proxies, or costs without the cost axis.
        """
        key = self.key(genotype)
        cleaned = clean_costs(costs, self.cost_axis)
        self._entries[key] = (genotype, clean_scores(scores, self.proxies))
        if cleaned:
            self._costs[key] = cleaned
        self._matrix = self._order = None
        return key

    def genotype(self, key: str) -> Any:
        """The genotype archived under ``key``."""
        return self._entries[key][0]

    def entry(self, key: str) -> dict[str, Any]:
        """``{"arch": text, "scores": {...}}`` of the cell archived under ``key``."""
        genotype, scores = self._entries[key]
        entry: dict[str, Any] = {"arch": self.space.format(genotype), "scores": dict(scores)}
        if key in self._costs:
            entry["costs"] = dict(self._costs[key])
        return entry

    def costs(self, key: str) -> dict[str, float]:
        """The costs the cell archived under ``key`` was added with (empty when none)."""
        return dict(self._costs.get(key, {}))

    def axis_costs(self, keys: Sequence[str]) -> np.ndarray:
        """The :attr:`cost_axis` cost of each of ``keys``.

        Raises:
            ValueError: an archive without a cost axis.
        """
        if self.cost_axis is None:
            raise ValueError("this archive has no cost axis")
        return np.array([self._costs[k][self.cost_axis] for k in keys], dtype=float)

    def front(self) -> list[str]:
        """Keys of the quality-cost front, best first: the eligible cells whose :attr:`cost_axis`
        cost is below that of every cell ahead of them in the pick order, leaving out cells
        whose network computes nothing from its input (``space.computes``).

        Raises:
            ValueError: an archive without a cost axis.
        """
        order = [k for k in self.pick_order() if self.space.computes(self.genotype(k))]
        front: list[str] = []
        cheapest = math.inf
        for key, cost in zip(order, self.axis_costs(order), strict=True):
            if cost < cheapest:
                front.append(key)
                cheapest = float(cost)
        return front

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
        """``archive`` (``[text, scores]`` pairs, ``[text, scores, costs]`` with costs), ``eliminated``,
        ``final_winners`` and ``reference`` (keys)."""
        rows = []
        for key, (g, sc) in self._entries.items():
            row: list[Any] = [self.space.format(g), dict(sc)]
            if key in self._costs:
                row.append(dict(self._costs[key]))
            rows.append(row)
        return {
            "archive": rows,
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
        costs: dict[str, dict[str, float]] = {}
        for text, scores, *rest in state["archive"]:
            genotype = self.space.parse(text)
            key = self.key(genotype)
            entries[key] = (genotype, clean_scores(scores, self.proxies))
            cleaned = clean_costs(rest[0] if rest else None, self.cost_axis)
            if cleaned:
                costs[key] = cleaned
        eliminated = dict.fromkeys(str(k) for k in state["eliminated"])
        winners = [str(k) for k in state.get("final_winners", [])]
        reference = [str(k) for k in state.get("reference", [])]
        if any(k not in entries for k in reference):
            raise ValueError("reference names cells that are not in the archive")
        self._entries, self._eliminated, self._final_winners = entries, eliminated, winners
        self._costs, self._reference = costs, reference
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


def clean_costs(costs: Mapping[str, float] | None, axis: str | None) -> dict[str, float]:
    """Costs as plain floats (None, as JSON writes a non-finite value, becomes infinity).

    Raises:
        ValueError: costs that are not a mapping, or that lack ``axis`` (when ``axis`` is given).
    """
    if costs is None:
        if axis is not None:
            raise ValueError(f"every cell needs its {axis!r} cost: this archive's front is drawn on it")
        return {}
    if not isinstance(costs, Mapping):
        raise ValueError(f"costs must be a mapping of cost name to value, got {type(costs).__name__}")
    if axis is not None and axis not in costs:
        raise ValueError(f"costs lack the cost axis {axis!r}: got {sorted(costs)}")
    return {str(k): (math.inf if v is None else float(v)) for k, v in costs.items()}
