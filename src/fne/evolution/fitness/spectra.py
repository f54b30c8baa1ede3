"""Expressivity, progressivity and trainability of a network's blocks (the AZ-NAS ideas).

Blocks are the stem and the cells of ``net.cells`` (see :mod:`.blocks`).

* **expressivity**: for every cell, the entropy of the normalised eigenvalues of the
  correlation matrix (the PCA spectrum of the standardised channels) of its output
  features, one sample per image and pixel; features spread over many independent
  directions give a high entropy. The score sums the entropies of the cells.
* **progressivity**: the smallest increase of the covariance-spectrum entropy from one
  block to the next (stem and fixed blocks included): how steadily features grow richer
  with depth.
* **trainability**: per block after the stem, the gain ``sigma = ||J^T v|| / ||v||`` of its
  Jacobian for one Gaussian random vector ``v`` at its output, with the block's input
  scaled by :data:`TRAINABILITY_INPUT_SCALE` as the signal of a deep residual stack has
  grown; batch-normalised paths then shrink and paths that pass the signal through
  unnormalised (skips, pooling) dominate. The score is ``-mean((log sigma)^2)``, highest
  when every block passes gradients with gain 1. One backward pass serves every block:
  each runs on leaf copies of its inputs.

Each proxy runs the network in train mode (batch statistics) on the first images of the
batch, average-pooled to :data:`BLOCK_RESOLUTION` pixels a side, and restores its state.
The random vectors come from a ``torch.Generator`` seeded from torch's global generator,
which :func:`fne.evolution.fitness.score_genotype` seeds before every proxy. The defaults
(correlation vs covariance spectra, which blocks, batch sizes, input scale) were chosen on
the seed-0 NB201 sample of ``benchmarks/bench_proxies.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from fne.evolution.fitness.block_recording import BlockCall, recorded_blocks
from fne.evolution.fitness.network_probes import downsampled, preserved
from fne.evolution.fitness.registry import register_proxy

ENTROPY_BATCH = 32
"""Images (the first ones of the batch) the feature entropies are computed on."""

GAIN_BATCH = 16
"""Images the Jacobian gains are computed on."""

BLOCK_RESOLUTION = 16
"""Side the images are average-pooled to (when larger) for the three block-wise proxies: on
the seed-0 NB201 sample they rank cells about as well as at 32 px, at half the cost."""

TRAINABILITY_INPUT_SCALE = 5.0
"""Factor on every block's input (the stem's excepted) when its gain is measured; 5 put the
best cells of the seed-0 NB201 samples first more often than 1, 2 or 3."""

KindValues = list[tuple[str, float]]
"""``(block kind, value)`` per block call, in execution order."""


def feature_entropy(features: torch.Tensor, standardise: bool = False) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance of ``features``.

    Args:
        features: ``(N, C, ...)``; every image and position is one sample of ``C`` channels.
        standardise: use the correlation matrix (channels scaled to unit variance;
            constant channels dropped) instead of the covariance.

    Returns:
        ``-sum(p log p)`` with ``p`` the eigenvalues over their sum (natural log, between
        0 and ``log C``); 0 when the features are constant; NaN when they are not finite.
    """
    x = features.detach().double().transpose(0, 1).reshape(features.shape[1], -1)
    if not torch.isfinite(x).all():
        return math.nan
    x = x - x.mean(dim=1, keepdim=True)
    if standardise:
        norms = x.norm(dim=1, keepdim=True)
        x = x[(norms > 1e-12 * (1.0 + norms.max())).squeeze(1)]
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-300)
    if x.shape[0] == 0:
        return 0.0
    eig = torch.linalg.eigvalsh(x @ x.T).clamp_min(0.0)
    total = eig.sum()
    if total.item() <= 0.0:
        return 0.0
    p = eig[eig > 0] / total
    return float(-(p * p.log()).sum())


def block_entropies(
    net: nn.Module, inputs: torch.Tensor, batch: int = ENTROPY_BATCH, standardise: bool = False
) -> KindValues:
    """:func:`feature_entropy` of every block's output with its kind (train mode).

    The network's state is restored afterwards.
    """
    with preserved(net), recorded_blocks(net) as record, torch.no_grad():
        net.train()(inputs[:batch])
    return [(call.kind, feature_entropy(call.output, standardise)) for call in record.calls]


def expressivity_score(entropies: KindValues, kinds: Sequence[str] = ("cell",)) -> float:
    """Sum of the entropies of the blocks of the given kinds (NaN when there are none)."""
    kept = [value for kind, value in entropies if kind in kinds]
    return float(sum(kept)) if kept else math.nan


def progressivity_score(entropies: KindValues) -> float:
    """Smallest increase of the entropy from one block to the next (NaN for < 2 blocks)."""
    values = [value for _, value in entropies]
    if len(values) < 2:
        return math.nan
    return float(min(b - a for a, b in zip(values[:-1], values[1:], strict=False)))


def _call_gain(call: BlockCall, generator: torch.Generator) -> float:
    output = call.output
    if not output.requires_grad or not call.inputs:
        return 0.0
    v = torch.randn(output.shape, generator=generator, device=output.device, dtype=output.dtype)
    grads = torch.autograd.grad(output, list(call.inputs), v, allow_unused=True)
    squared = sum(float(g.double().pow(2).sum()) for g in grads if g is not None)
    return math.sqrt(squared) / max(float(v.double().norm()), 1e-30)


def block_gains(
    net: nn.Module,
    inputs: torch.Tensor,
    generator: torch.Generator,
    batch: int = GAIN_BATCH,
    input_scale: float = TRAINABILITY_INPUT_SCALE,
) -> KindValues:
    """Per block, its kind and ``||J^T v|| / ||v||`` for a Gaussian ``v`` (train mode).

    Every block runs on leaf copies of its inputs, multiplied by ``input_scale`` except
    for the stem, so each gain is that of the block alone. A block whose output does not
    depend on its inputs gets gain 0. The network's state (parameters, buffers, mode,
    gradients) is restored afterwards.
    """
    with preserved(net):
        with recorded_blocks(net, detach=True, input_scale=input_scale) as record:
            net.train()(inputs[:batch])
        return [(call.kind, _call_gain(call, generator)) for call in record.calls]


def trainability_score(gains: KindValues, kinds: Sequence[str] = ("cell", "block")) -> float:
    """``-mean((log sigma)^2)`` over the gains of the blocks of the given kinds.

    A zero gain (a block that blocks gradients) gives ``-inf``; NaN without such blocks.
    """
    kept = [value for kind, value in gains if kind in kinds]
    if not kept:
        return math.nan
    if min(kept) <= 0.0:
        return -math.inf
    return -float(sum(math.log(g) ** 2 for g in kept)) / len(kept)


def _generator(inputs: torch.Tensor) -> torch.Generator:
    seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator(device=inputs.device).manual_seed(seed)


@register_proxy("expressivity", higher_is_better=True, unit="summed entropy, nats")
def expressivity(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Sum over the cells of the correlation-spectrum entropy of their features."""
    return expressivity_score(block_entropies(net, downsampled(inputs, BLOCK_RESOLUTION), standardise=True))


@register_proxy("progressivity", higher_is_better=True, unit="entropy increase, nats")
def progressivity(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Smallest block-to-block increase of the covariance-spectrum entropy."""
    return progressivity_score(block_entropies(net, downsampled(inputs, BLOCK_RESOLUTION), standardise=False))


@register_proxy("trainability", higher_is_better=True, unit="minus mean squared log gain")
def trainability(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """``-mean((log sigma)^2)`` of the blocks' Jacobian gains at a grown input scale."""
    return trainability_score(block_gains(net, downsampled(inputs, BLOCK_RESOLUTION), _generator(inputs)))
