"""Feature correlation (the MeCo idea): how independent a layer's channels are at initialisation.

For one image, every convolution's output is a ``C x (H W)`` matrix; the Pearson
correlation matrix of its ``C`` channels has eigenvalues summing to ``C``. Its smallest
eigenvalue is near 0 when some channels are (nearly) linear combinations of others or
constant, and approaches 1 when they are uncorrelated. The ``meco`` score sums that
smallest eigenvalue over the convolutions, averaged over :data:`MECO_IMAGES` images, so
wider and deeper networks of independent channels score higher.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fne.evolution.fitness.network_probes import downsampled, preserved
from fne.evolution.fitness.registry import register_proxy

MECO_IMAGES = 4
"""Images (the first ones of the batch) the correlation is averaged over."""

MECO_RESOLUTION = 16
"""Side the images are average-pooled to (when larger) before the features are taken."""


def min_correlation_eigenvalues(features: torch.Tensor) -> torch.Tensor:
    """Per image, the smallest eigenvalue of the channel correlation matrix of ``(N, C, ...)`` features.

    A constant channel correlates with nothing (its row and column are zero), so it pulls
    the smallest eigenvalue to 0; a single channel or position gives 0.

    Returns:
        A float64 tensor of ``N`` values in ``[0, 1]``; NaN for an image whose features
        are not finite.
    """
    x = features.detach().double().reshape(features.shape[0], features.shape[1], -1)
    n, c, positions = x.shape
    if c < 2 or positions < 2:
        return torch.zeros(n, dtype=torch.float64, device=x.device)
    finite = torch.isfinite(x).flatten(1).all(dim=1)
    x = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
    x = x - x.mean(dim=2, keepdim=True)
    norms = x.norm(dim=2, keepdim=True)
    live = norms > 1e-12 * (1.0 + norms.amax(dim=1, keepdim=True))
    x = torch.where(live, x / norms.clamp_min(1e-300), torch.zeros_like(x))
    smallest = torch.linalg.eigvalsh(x @ x.transpose(1, 2))[:, 0].clamp(0.0, 1.0)
    return torch.where(finite, smallest, torch.full_like(smallest, math.nan))


def conv_features(net: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of every convolution for ``inputs`` (train mode; state restored; hooks removed)."""
    features: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        features.append(output.detach())

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with preserved(net), torch.no_grad():
            net.train()(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return features


def meco_score(net: nn.Module, inputs: torch.Tensor, images: int = MECO_IMAGES) -> float:
    """Sum over convolutions of the smallest channel-correlation eigenvalue, mean over images.

    Args:
        net: the network (restored afterwards).
        inputs: image batch; its first ``images`` images run as one batch (train mode),
            and each image's features are correlated on their own.
        images: how many images the score is averaged over.

    Returns:
        The score; NaN when a feature is not finite.
    """
    features = conv_features(net, inputs[:images])
    if not features:
        return math.nan
    per_layer = torch.stack([min_correlation_eigenvalues(f) for f in features])
    return float(per_layer.sum(dim=0).mean())


@register_proxy("meco", higher_is_better=True, unit="summed smallest eigenvalue")
def meco(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """MeCo-like feature correlation: :func:`meco_score` on images pooled to :data:`MECO_RESOLUTION`."""
    return meco_score(net, downsampled(inputs, MECO_RESOLUTION))
