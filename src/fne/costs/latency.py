"""Latency measured on this machine: the median time of the network's forward pass.

Each cell's full network is built once (real weights, eval mode), run ``warmup`` times,
then timed ``repeats`` times at ``batch_size`` images with ``threads`` torch threads; the
cost is the median in milliseconds, and the spread (the interquartile range relative to the
median) is kept per cell. The clock is injectable, so the rule is tested without timing
anything.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fne.compute import torch_threads
from fne.costs.cost import Cost, NetworkSpec, register_cost

__all__ = ["LatencyCost"]


@register_cost("latency")
class LatencyCost(Cost):
    """Median forward time of the network on this machine, in milliseconds.

    Args:
        batch_size: images per forward pass.
        threads: torch threads while timing.
        warmup: untimed passes first.
        repeats: timed passes (the median is the cost).
        device: where the network runs (``"cpu"``, ``"cuda"``, ...).
        clock: seconds as a float (default ``time.perf_counter``).

    Raises:
        ValueError: a count below 1 (``warmup`` below 0).
    """

    unit = "ms"
    label = "latency (ms)"

    def __init__(
        self,
        batch_size: int = 1,
        threads: int = 1,
        warmup: int = 3,
        repeats: int = 10,
        device: str = "cpu",
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        for name, value, low in (("batch_size", batch_size, 1), ("threads", threads, 1), ("repeats", repeats, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"latency {name} must be an int >= {low}, got {value!r}")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"latency warmup must be an int >= 0, got {warmup!r}")
        self.batch_size, self.threads, self.warmup, self.repeats = batch_size, threads, warmup, repeats
        self.device = torch.device(device)
        self.clock = clock or time.perf_counter
        self.spread: dict[str, float] = {}

    def measure_one(self, spec: NetworkSpec, genotype: Any) -> float:
        """Median forward time of ``genotype``'s network in ms; its relative spread goes to :attr:`spread`."""
        net = spec.build(genotype, device=self.device).eval()
        x = spec.inputs(self.batch_size, device=self.device)
        times = []
        with torch_threads(self.threads), torch.inference_mode():
            for _ in range(self.warmup):
                net(x)
            for _ in range(self.repeats):
                self._sync()
                start = self.clock()
                net(x)
                self._sync()
                times.append((self.clock() - start) * 1e3)
        median = statistics.median(times)
        q1, q3 = np.percentile(times, [25, 75])
        self.spread[spec.space.canonical(genotype)] = float((q3 - q1) / median) if median > 0 else 0.0
        return float(median)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def describe(self) -> dict[str, Any]:
        """Settings, and the median relative spread (interquartile range over median) of the cells timed."""
        spread = statistics.median(self.spread.values()) if self.spread else None
        return {
            **super().describe(),
            "batch_size": self.batch_size,
            "threads": self.threads,
            "warmup": self.warmup,
            "repeats": self.repeats,
            "device": str(self.device),
            "median_relative_spread": spread,
        }
