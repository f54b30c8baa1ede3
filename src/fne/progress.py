"""Progress reporting that keeps log lines and progress bars apart.

On a terminal, :func:`progress_bar` is a tqdm bar and :func:`configure_logging` routes
log records through ``tqdm.write``, so a log line never tears a bar. When standard error
is not a terminal (a file, a pipe, CI), bars are replaced by plain log lines, one per tenth of the
work at most and no closer than :data:`PLAIN_INTERVAL` seconds apart (short work logs
nothing): no cursor escapes, no doubled bars::

    with progress_bar(len(cells), "scoring", unit="cell") as bar:
        for cell in cells:
            ...
            bar.update(1)
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from tqdm.auto import tqdm

logger = logging.getLogger("fne.progress")

PLAIN_INTERVAL = 10.0
"""Seconds between two plain progress lines (and the least work worth reporting)."""

__all__ = ["progress_bar", "configure_logging", "is_terminal", "PlainProgress"]


def is_terminal(stream: Any = None) -> bool:
    """Whether ``stream`` (default: standard error) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class PlainProgress:
    """Progress as log lines: ``desc: done/total (pct) elapsed``, every ``step`` of the work.

    Args:
        total: units of work.
        desc: what is being done.
        unit: name of one unit.
        step: share of ``total`` between two lines.
        interval: least seconds between two lines (None: :data:`PLAIN_INTERVAL`).
    """

    def __init__(
        self, total: int, desc: str, unit: str = "it", step: float = 0.1, interval: float | None = None
    ) -> None:
        self.total, self.desc, self.unit = int(total), desc, unit
        self.n, self.postfix = 0, ""
        self.interval = PLAIN_INTERVAL if interval is None else float(interval)
        self._every = max(1, int(round(self.total * step)))
        self._next = self._every
        self._start = self._last = time.perf_counter()
        self._logged = False

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units; log a line when a step is reached and the interval has
        passed, and at the end when anything was logged or the work took an interval."""
        self.n += n
        now = time.perf_counter()
        end = self.n >= self.total
        due = self.n >= self._next and now - self._last >= self.interval
        if due or (end and (self._logged or now - self._start >= self.interval)):
            self._next = (self.n // self._every + 1) * self._every
            self._last, self._logged = now, True
            self._log()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """Text appended to the next line (e.g. the leading candidate)."""
        self.postfix = text

    def _log(self) -> None:
        pct = 100.0 * self.n / self.total if self.total else 100.0
        extra = f", {self.postfix}" if self.postfix else ""
        logger.info(
            "%s: %d/%d %s (%.0f%%), %.1f s%s",
            self.desc,
            self.n,
            self.total,
            self.unit,
            pct,
            time.perf_counter() - self._start,
            extra,
        )

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Silent(PlainProgress):
    def _log(self) -> None:
        return None


def progress_bar(total: int, desc: str, *, unit: str = "it", enabled: bool = True, leave: bool | None = None) -> Any:
    """A tqdm bar on a terminal, plain log lines elsewhere, nothing when not ``enabled``.

    Args:
        total: units of work.
        desc: label.
        unit: name of one unit.
        enabled: False gives a silent counter with the same interface.
        leave: keep the finished bar on screen (tqdm's ``leave``; default True).
    """
    if not enabled:
        return _Silent(total, desc, unit)
    if not is_terminal():
        return PlainProgress(total, desc, unit)
    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=True if leave is None else leave)


class _TqdmHandler(logging.StreamHandler):
    """Writes records with ``tqdm.write`` so that they appear above the bars."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except (OSError, ValueError):  # a closed or broken stream
            self.handleError(record)


def configure_logging(level: int = logging.INFO, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
    """Log to standard error for a command-line run, through tqdm on a terminal.

    Replaces handlers this function installed before; other handlers are left alone.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_fne", False):
            root.removeHandler(old)
    handler: logging.Handler = _TqdmHandler() if is_terminal() else logging.StreamHandler(sys.stderr)
    handler._fne = True  # type: ignore[attr-defined]  # marks the handlers fne added, to replace them
    handler.setFormatter(logging.Formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level)
