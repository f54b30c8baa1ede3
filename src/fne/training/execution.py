"""How one training runs fast on its machine: torch threads kept at their fastest count while
other work shares the cores (:class:`ThreadTuner`), mixed precision (:func:`resolve_precision`,
:func:`autocast`) and the channels-last memory format.

A training that runs alone uses every usable core. Threads of one operation wait for each other
at its end, so when another busy process takes a core away, the thread that lost it holds all
the others up and the training slows down far more than its share of the cores would say (on
two cores beside other busy processes, one epoch of 2,000 Fashion-MNIST images took 316 s at two
threads and 12 s at one). The tuner therefore times a few steps at every candidate count (all
cores, then halves down to one) at the start and again now and then, and keeps the fastest:
alone, that is all the cores::

    tuner = ThreadTuner(usable_cpus())
    for x, y in batches:
        with tuner.timed():
            step(x, y)
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

__all__ = [
    "PRECISIONS",
    "MEMORY_FORMAT",
    "ThreadTuner",
    "resolve_precision",
    "autocast",
    "grad_scaler",
    "cpu_has_bf16_units",
    "set_memory_format",
]

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MEMORY_FORMAT = torch.channels_last
"""Layout of networks and batches while training and testing: faster convolutions on CPUs
(oneDNN) and on GPUs with mixed precision."""

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def set_memory_format(net: nn.Module, memory_format: torch.memory_format) -> nn.Module:
    """``net`` with its 4-d weights in ``memory_format`` (in place)."""
    return net.to(memory_format=memory_format)  # type: ignore[call-overload]  # torch takes it; its stubs omit it


def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX tiles), where bf16 pays."""
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if check is None:
        return False
    try:
        return bool(check())
    except RuntimeError:  # a build without the CPU feature query
        return False


def resolve_precision(choice: str, device: torch.device | str) -> str:
    """The precision ``choice`` means on ``device``: ``fp32``, ``bf16`` or ``fp16``.

    ``auto`` is bf16 on a GPU that has it (else fp16, with loss scaling) and on a CPU with
    bf16 matrix units; fp32 elsewhere (bf16 without such units is slower than fp32).

    Raises:
        ValueError: an unknown ``choice``.
    """
    if choice not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {choice!r}")
    if choice != "auto":
        return choice
    kind = torch.device(device).type
    if kind == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if kind == "cpu" and cpu_has_bf16_units():
        return "bf16"
    return "fp32"


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision for a forward pass on ``device`` (nothing for ``fp32``)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=_DTYPES[precision])


def grad_scaler(device: torch.device | str, precision: str) -> torch.amp.GradScaler:
    """Loss scaling, switched on for fp16 only (bf16 has fp32's range)."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=precision == "fp16")


def _candidates(threads: int) -> list[int]:
    """``threads``, then halved down to one: ``8 -> [8, 4, 2, 1]``, ``6 -> [6, 3, 1]``."""
    counts = [threads]
    while counts[-1] > 1:
        counts.append(max(1, counts[-1] // 2))
    return counts


class ThreadTuner:
    """Keeps a training's torch thread count at the fastest of ``threads`` and its halves.

    A round of timing runs ``probe_steps`` steps at the count in use, then at each other count
    (after one step to settle there); a count whose step takes :data:`ABANDON` times the best
    median so far is dropped at once, so a round costs little when many threads collapse. The
    fastest count is kept until the next round, ``interval`` seconds later; each round that
    keeps the same count doubles that wait (up to ``longest``), a change resets it.

    Args:
        threads: the most threads (and the first count used).
        tune: False keeps ``threads`` throughout (an explicit ``--threads``).
        probe_steps: steps timed at each count.
        interval: seconds between two rounds at first, and after a change.
        longest: the longest wait between two rounds, in seconds.
        clock: the time source.
    """

    ABANDON = 2.0

    def __init__(
        self,
        threads: int,
        *,
        tune: bool = True,
        probe_steps: int = 3,
        interval: float = 30.0,
        longest: float = 480.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self.most = threads
        self.tune = tune and threads > 1
        self.probe_steps, self.interval, self.longest, self.clock = probe_steps, interval, longest, clock
        self.current = self._held = threads
        self.steps_at: dict[int, int] = {}
        self._queue: list[int] = []
        self._times: dict[int, list[float]] = {}
        self._settle = 2  # the first steps build kernels and caches: not timed
        self._wait = interval
        self._next_round = clock()
        torch.set_num_threads(threads)

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        """Time one training step and move the thread count on as the timings say."""
        start = self.clock()
        yield
        self.steps_at[self.current] = self.steps_at.get(self.current, 0) + 1
        if self.tune:
            self._record(self.clock() - start)

    def _best_so_far(self) -> float | None:
        done = [statistics.median(t) for n, t in self._times.items() if t and n not in self._queue]
        return min(done) if done else None

    def _record(self, seconds: float) -> None:
        if not self._queue:
            if self._settle:
                self._settle -= 1
                return
            if self.clock() < self._next_round:
                return
            self._queue = sorted(_candidates(self.most), key=lambda n: n != self.current)
            self._times = {}
        best = self._best_so_far()
        too_slow = best is not None and seconds > self.ABANDON * best
        times = self._times.setdefault(self._queue[0], [])
        if self._settle and not too_slow:
            self._settle -= 1
            return
        times.append(seconds)
        if len(times) < self.probe_steps and not too_slow:
            return
        self._queue.pop(0)
        if self._queue:
            self._switch(self._queue[0])
        else:
            self._choose()

    def _switch(self, threads: int) -> None:
        if threads != self.current:
            self.current = threads
            torch.set_num_threads(threads)
            self._settle = 1

    def _choose(self) -> None:
        medians = {n: statistics.median(t) for n, t in self._times.items()}
        best = min(medians, key=lambda n: (medians[n], -n))
        logger.log(
            logging.INFO if best != self._held else logging.DEBUG,
            "training with %d torch thread(s) (%s)",
            best,
            ", ".join(f"{n}: {1000 * m:.0f} ms a step" for n, m in sorted(medians.items(), reverse=True)),
        )
        self._wait = min(2 * self._wait, self.longest) if best == self._held else self.interval
        self._switch(best)
        self._held, self._settle = best, 0
        self._next_round = self.clock() + self._wait

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the most threads, whether they were tuned, and the steps run at each count."""
        return {"threads": self.most, "tuned": self.tune, "steps_at": {str(n): k for n, k in self.steps_at.items()}}
