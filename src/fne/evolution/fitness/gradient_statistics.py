"""Gradient statistics (the ZiCo idea): large and steady weight gradients across batches.

The batch is split into :data:`ZICO_SPLITS` parts; each gives the cross-entropy gradient
of every convolution and linear weight. Per weight, ``mean|g| / std(g)`` over the parts
is high when the gradient is large compared with its batch-to-batch noise. Per layer
the ratios are averaged over the weights that have a gradient; the score is the sum
over layers of the log of that mean.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from fne.evolution.fitness.network_probes import preserved
from fne.evolution.fitness.registry import register_proxy

ZICO_SPLITS = 2
"""Parts the batch is split into (at least 2: the statistics are taken across them)."""

ZICO_REDUCE = "mean"
"""How a layer's per-weight ratios are combined before the log: ``"mean"`` or ``"sum"``."""


def _weights(net: nn.Module) -> list[torch.Tensor]:
    return [
        m.weight
        for m in net.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight is not None and m.weight.requires_grad
    ]


def split_gradients(
    net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, splits: int = ZICO_SPLITS
) -> list[torch.Tensor]:
    """Per weight tensor, the stacked ``(splits, ...)`` cross-entropy gradients of each part.

    The network runs in train mode; its state (``.grad`` included) is restored afterwards.

    Raises:
        ValueError: ``splits`` is below 2 or above the batch size.
    """
    if not 2 <= splits <= inputs.shape[0]:
        raise ValueError(f"splits must be in 2..{inputs.shape[0]} (the batch size), got {splits}")
    weights = _weights(net)
    per_part: list[list[torch.Tensor]] = []
    with preserved(net):
        net.train()
        for x, y in zip(inputs.chunk(splits), targets.chunk(splits), strict=False):
            loss = F.cross_entropy(net(x), y)
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
            per_part.append(
                [torch.zeros_like(w) if g is None else g.detach() for g, w in zip(grads, weights, strict=False)]
            )
    return [torch.stack(parts) for parts in zip(*per_part, strict=False)]


def layer_log_ratio(grads: torch.Tensor, reduce: str = ZICO_REDUCE) -> float:
    """Log of the mean (or sum) over weights of ``mean|g| / std(g)`` across the parts.

    ``grads`` is ``(parts, ...)``. Weights whose gradient does not vary (zero or equal in
    every part) are left out; NaN when no weight is left.

    Raises:
        ValueError: an unknown ``reduce``.
    """
    if reduce not in ("mean", "sum"):
        raise ValueError(f"unknown reduce {reduce!r}; use 'mean' or 'sum'")
    g = grads.double().flatten(1)
    std = g.std(dim=0, unbiased=False)
    keep = std > 1e-12 * (1.0 + g.abs().max())
    if not keep.any():
        return math.nan
    ratio = g.abs().mean(dim=0)[keep] / std[keep]
    value = ratio.mean() if reduce == "mean" else ratio.sum()
    return math.log(float(value))


def zico_score(
    net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, splits: int = ZICO_SPLITS, reduce: str = ZICO_REDUCE
) -> float:
    """Sum over layers of :func:`layer_log_ratio` (layers without gradient left out).

    NaN when no layer has a varying gradient.
    """
    values = [layer_log_ratio(g, reduce) for g in split_gradients(net, inputs, targets, splits)]
    kept = [v for v in values if math.isfinite(v)]
    return float(sum(kept)) if kept else math.nan


@register_proxy("zico", higher_is_better=True, unit="summed log gradient ratio")
def zico(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """ZiCo-like gradient statistics: :func:`zico_score` with the module defaults."""
    return zico_score(net, inputs, targets)
