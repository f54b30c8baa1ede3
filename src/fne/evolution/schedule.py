"""When tournaments run, which cells compete, and how their results apply.

Every ``every`` generations (never after the initial population) the first
``tournament.size`` cells of the archive's pick order compete in ``tournament.run``; a
tournament therefore screens exactly the cells the final pick would choose. The losers
are eliminated from the archive and leave the population, the next cells in the survival
order of parents and children taking their places (:func:`surviving`).

An optional ``final_tournament`` takes the place of the tournament after the last
generation (it may be larger and train longer). Its losers are eliminated from the pick
but the final population stays as selected, and its winners head the pick order, so that
with one winner, that winner is the final pick::

    schedule = TournamentSchedule(tournament, every=3, final_tournament=final, generations=10)
    outcome = schedule.run(generation, archive, generator)
    keep = surviving(keep, order, pool_keys, outcome)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from fne.evolution.archive import Archive
from fne.evolution.tournament import Tournament

logger = logging.getLogger(__name__)

__all__ = ["TournamentOutcome", "TournamentSchedule", "surviving"]


@dataclass(frozen=True)
class TournamentOutcome:
    """What one tournament decided.

    Attributes:
        losers: canonical keys of the eliminated candidates.
        final: whether it was the final tournament.
        record: the history entry (candidate texts, weights, winners, ``final``, and
            ``steps`` / ``trace`` when the tournament reports them).
    """

    losers: frozenset[str]
    final: bool
    record: dict[str, Any]


class TournamentSchedule:
    """The tournament due after each generation, run on the archive's best cells.

    Args:
        tournament: the usual tournament, or ``None`` (none).
        every: the usual tournament runs after every this many generations.
        final_tournament: run after generation ``generations`` instead of ``tournament``.
        generations: the last generation of the search.
    """

    def __init__(
        self, tournament: Tournament | None, every: int, final_tournament: Tournament | None, generations: int
    ) -> None:
        self.tournament, self.every = tournament, int(every)
        self.final_tournament, self.generations = final_tournament, int(generations)

    def is_final(self, generation: int) -> bool:
        """Whether the final tournament replaces the usual one after ``generation``."""
        return self.final_tournament is not None and generation == self.generations

    def due(self, generation: int) -> Tournament | None:
        """The tournament to run after ``generation``, if any."""
        if self.is_final(generation):
            return self.final_tournament
        if self.tournament is not None and generation > 0 and generation % self.every == 0:
            return self.tournament
        return None

    def run(self, generation: int, archive: Archive, generator: torch.Generator) -> TournamentOutcome | None:
        """Run the tournament due after ``generation`` and apply it to ``archive``.

        The first ``size`` cells of the pick order compete; the losers are eliminated and,
        after the final tournament, the winners head the pick order.

        Returns:
            The outcome, or ``None`` when no tournament is due or fewer than two cells are
            eligible.
        """
        competition = self.due(generation)
        if competition is None:
            return None
        candidates = archive.pick_order()[: competition.size]
        if len(candidates) < 2:
            return None
        result = competition.run(archive.space, [archive.genotype(k) for k in candidates], generator)
        losers = frozenset(k for j, k in enumerate(candidates) if j not in result.winners)
        archive.eliminate(losers)
        final = self.is_final(generation)
        if final:
            archive.set_final_winners([candidates[j] for j in result.winners])
        logger.info("generation %d tournament: %d candidates, %d eliminated", generation, len(candidates), len(losers))
        return TournamentOutcome(losers, final, _record(archive, candidates, result, final))


def _record(archive: Archive, candidates: Sequence[str], result: Any, final: bool) -> dict[str, Any]:
    texts = [archive.entry(k)["arch"] for k in candidates]
    record = {
        "candidates": texts,
        "weights": [float(w) for w in result.weights],
        "winners": [texts[j] for j in result.winners],
        "final": final,
    }
    if getattr(result, "steps", 0):
        record["steps"] = int(result.steps)
    if getattr(result, "trace", ()):
        record["trace"] = [list(w) for w in result.trace]
    return record


def surviving(
    keep: list[int], order: Sequence[int], pool_keys: Sequence[str], outcome: TournamentOutcome | None
) -> list[int]:
    """The population after a tournament, as indices into the pool of parents and children.

    Args:
        keep: the indices the survival strategy selected.
        order: all pool indices in survival order (``keep`` is its head).
        pool_keys: canonical key of each pool cell.
        outcome: the tournament's outcome, or ``None``.

    Returns:
        ``keep`` without the losers, refilled from ``order``; ``keep`` itself when there
        was no tournament or it was the final one.
    """
    if outcome is None or outcome.final:
        return keep
    alive = [i for i in order if pool_keys[i] not in outcome.losers]
    kept = [i for i in keep if i in alive]
    return kept + [i for i in alive if i not in keep][: len(keep) - len(kept)]
