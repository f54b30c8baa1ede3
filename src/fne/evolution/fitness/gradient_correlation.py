"""Gradient correlation (``grad_corr``, the jacov idea): how uncorrelated the per-sample
input gradients of a batch are at initialisation; higher predicts better accuracy.

Randomness (the re-initialisations) is drawn through a ``torch.Generator`` seeded from
torch's global generator, which :func:`fne.evolution.fitness.score_genotype` seeds before
every proxy. The network is left as it was found (:func:`preserved`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fne.evolution.fitness.network_probes import downsampled, preserved, reinitialise
from fne.evolution.fitness.registry import register_proxy

JACOV_EPS = 1e-5
"""Eigenvalue offset of the gradient-correlation score (as in the jacov score)."""

GRAD_CORR_INITS = 2
"""Initialisations the gradient-correlation score is averaged over (on the seed-0 NB201 sample
two ranked cells as well as eight, Spearman 0.79, at a quarter of the cost)."""

GRAD_CORR_RESOLUTION = 16
"""Side the gradient-correlation images are average-pooled to (when larger)."""


def correlation_score(jacobians: torch.Tensor, eps: float = JACOV_EPS) -> float:
    """Score of the correlation matrix of per-sample Jacobians: ``-sum(log(v+eps) + 1/(v+eps))``.

    ``v`` are its eigenvalues; the score is highest when the samples' Jacobians are
    uncorrelated (``v`` all near 1). NaN when a Jacobian is constant.
    """
    corr = torch.corrcoef(jacobians.double())
    if not torch.isfinite(corr).all():
        return math.nan
    v = torch.linalg.eigvalsh(corr).clamp_min(0.0) + eps
    return -(torch.log(v) + 1.0 / v).sum().item()


def input_gradients(net: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Per-sample gradients of the summed logits w.r.t. the inputs, flattened (train mode)."""
    x = inputs.detach().clone().requires_grad_(True)
    (jac,) = torch.autograd.grad(net.train()(x).sum(), x)
    return jac.flatten(1)


def grad_corr_score(
    net: nn.Module,
    inputs: torch.Tensor,
    inits: int = GRAD_CORR_INITS,
    resolution: int = GRAD_CORR_RESOLUTION,
    scheme: str = "default",
) -> float:
    """Mean :func:`correlation_score` of the input gradients over ``inits`` initialisations.

    Args:
        net: the network (restored afterwards).
        inputs: image batch.
        inits: initialisations: the network's own, then re-draws from a generator seeded
            by torch's global generator.
        resolution: images are average-pooled to at most this many pixels a side.
        scheme: distribution of the re-draws (see :func:`reinitialise`); ``"default"``
            draws like the network's own initialisation.
    """
    seed = int(torch.randint(0, 2**62, (1,)).item())
    generator = torch.Generator(device=inputs.device).manual_seed(seed)
    inputs = downsampled(inputs, resolution)
    values: list[float] = []
    with preserved(net):
        for rep in range(inits):
            if rep:
                reinitialise(net, generator, scheme)
            values.append(correlation_score(input_gradients(net, inputs)))
    return sum(values) / len(values)


@register_proxy("grad_corr", higher_is_better=True, unit="score")
def grad_corr(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Gradient correlation (the jacov idea) of the batch's input gradients.

    :func:`grad_corr_score` with the module defaults: the eigenvalue score of the
    correlation matrix of the per-sample input gradients, averaged over
    initialisations (one draw alone is noisy). Higher is better.
    """
    return grad_corr_score(net, inputs)


@register_proxy("jacov", higher_is_better=True, unit="score")
def jacov(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The Jacobian covariance score as first published: :func:`correlation_score` of the input
    gradients of the network's own initialisation, at the images' full resolution. Higher is better."""
    return grad_corr_score(net, inputs, inits=1, resolution=max(inputs.shape[-2:]))
