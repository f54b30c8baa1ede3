"""Scoring one cell: devices, CUDA out-of-memory retries and :func:`score_genotype`.

:func:`score_genotype` is a pure top-level function of picklable arguments, so that
scoring can be spread over processes; :class:`fne.evolution.fitness.Scorer` calls it
and caches the results.

Failed cells. A cell whose network output does not depend on its input (e.g. an
NB201 cell of ``none`` edges) is degenerate: every proxy is recorded as NaN. A proxy
that returns a non-finite value, hits a linear-algebra failure, or runs out of CUDA
memory even at the smallest batch is recorded as NaN too. NaN is the only failure
mark; :func:`fne.evolution.fitness.to_objectives` turns it into the worst score.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from fne.compute import resolve_device
from fne.evolution.fitness.network_probes import finite_or_nan, output_depends_on_input
from fne.evolution.fitness.registry import Proxy, get_proxy
from fne.genotopheno import SearchSpace, get_space

logger = logging.getLogger(__name__)

MIN_OOM_BATCH = 2
"""Smallest batch tried after CUDA out-of-memory errors before a proxy is marked failed."""

Scores = dict[str, float]
SpaceLike = str | SearchSpace


def _release_cuda_memory(device: torch.device) -> None:
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_proxy(
    proxy: Proxy, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, min_batch: int = MIN_OOM_BATCH
) -> float:
    """Run one proxy, halving the batch after each CUDA out-of-memory error.

    Args:
        proxy: the registered proxy.
        net: the network to score.
        inputs: image batch; a retry uses its first half, then quarter, ...
        targets: labels, cut like ``inputs``.
        min_batch: the smallest batch tried.

    Returns:
        The proxy's value, or NaN when it is not finite, when linear algebra fails, or
        when memory runs out even at ``min_batch`` images.
    """
    batch = inputs.shape[0]
    while True:
        try:
            return finite_or_nan(proxy(net, inputs[:batch], targets[:batch]))
        except torch.cuda.OutOfMemoryError:
            _release_cuda_memory(inputs.device)
            if batch // 2 < min_batch:
                logger.warning("proxy %s: out of memory at batch %d; marked failed", proxy.name, batch)
                return math.nan
            batch //= 2
            logger.info("proxy %s: out of memory, retrying with batch %d", proxy.name, batch)
        except torch.linalg.LinAlgError as err:
            logger.warning("proxy %s: linear algebra failed (%s); marked failed", proxy.name, err)
            return math.nan


def _rng_devices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def score_genotype(
    space_name: SpaceLike,
    genotype_text: str,
    proxies: Sequence[str],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    device: str | torch.device,
    seed: int,
    build_kwargs: Mapping[str, Any] | None = None,
) -> Scores:
    """Build one cell's network (its :meth:`~fne.genotopheno.SearchSpace.live` form) and score it
    with each proxy.

    Args:
        space_name: a registered space name (or a space instance, for configured spaces).
        genotype_text: the genotype as text (``space.format(g)``).
        proxies: registered proxy names.
        inputs: image batch ``(B, C, H, W)``.
        targets: labels ``(B,)``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        seed: seeds torch's generator before the network is built and before each proxy,
            inside ``torch.random.fork_rng`` (the caller's random state is untouched).
        build_kwargs: extra arguments of ``space.build`` (e.g. ``{"C": 8, "N": 1}``); None
            takes the space's ``score`` preset, ``{}`` its full network.

    Returns:
        ``{proxy: value}``, NaN marking a failed or degenerate cell (see the module doc).
    """
    space = get_space(space_name) if isinstance(space_name, str) else space_name
    genotype = space.live(space.parse(genotype_text))
    dev = resolve_device(device)
    inputs, targets = inputs.to(dev), targets.to(dev)
    with torch.random.fork_rng(devices=_rng_devices(dev)):
        torch.manual_seed(seed)
        kwargs = space.preset("score") if build_kwargs is None else dict(build_kwargs)
        net = space.build(genotype, **kwargs).to(dev)
        if not output_depends_on_input(net, inputs):
            logger.info("degenerate cell (output independent of input): %s", genotype_text)
            return {name: math.nan for name in proxies}
        scores = {}
        for name in proxies:
            torch.manual_seed(seed)
            scores[name] = run_proxy(get_proxy(name), net, inputs, targets)
    return scores
