"""Where a run's time goes, summed over the segments of an interrupted and resumed run.

A :class:`RunClock` counts the wall time of the current segment and its parts (scoring,
tournaments, training, testing); :meth:`RunClock.snapshot` adds them to the totals of
earlier segments, read back from the checkpoint, so ``result.json`` reports the whole
cost of a run however often it was resumed::

    clock = RunClock(previous=checkpoint.get("timing"))
    ...
    timing = clock.snapshot(scoring=scorer.seconds, tournaments=tournament.seconds)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

__all__ = ["RunClock", "PARTS"]

PARTS = ("scoring", "tournaments", "training", "testing")


class RunClock:
    """Wall time of this segment plus the totals of earlier ones.

    Args:
        previous: the ``timing`` record of earlier segments (``None`` for a new run).
        start: ``time.perf_counter()`` at the start of this segment (default: now).
    """

    def __init__(self, previous: Mapping[str, Any] | None = None, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else float(start)
        self.previous = _clean(previous or {})
        self.parts: dict[str, float] = {part: 0.0 for part in PARTS}

    def add(self, part: str, seconds: float) -> None:
        """Count ``seconds`` more of ``part`` in this segment."""
        self.parts[part] += float(seconds)

    def snapshot(self, **current: float) -> dict[str, Any]:
        """The totals so far: ``wall_s``, ``<part>_s`` and ``segments`` (this one included).

        Args:
            **current: this segment's seconds of parts counted elsewhere (e.g. ``scoring=``),
                added to what :meth:`add` counted.
        """
        record: dict[str, Any] = {"wall_s": self.previous["wall_s"] + time.perf_counter() - self.start}
        for part in PARTS:
            mine = self.parts[part] + float(current.get(part, 0.0))
            record[f"{part}_s"] = self.previous[f"{part}_s"] + mine
        record["other_s"] = max(0.0, record["wall_s"] - sum(record[f"{p}_s"] for p in PARTS))
        record["segments"] = int(self.previous["segments"]) + 1
        return record


def _clean(previous: Mapping[str, Any]) -> dict[str, float]:
    keys = ["wall_s", "segments"] + [f"{p}_s" for p in PARTS]
    out: dict[str, float] = {}
    for key in keys:
        value = previous.get(key, 0.0)
        out[key] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
    return out
