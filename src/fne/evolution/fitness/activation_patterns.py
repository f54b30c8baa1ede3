"""Proxies of the binary ReLU activation patterns a batch produces at initialisation.

* ``naswot`` (NASWOT): the log-determinant of the Hamming kernel of the images' patterns;
  networks that tell the images apart score higher.
* ``linear_regions`` (TE-NAS): the number of distinct patterns over small image patches, i.e.
  the linear regions of the input space the network separates.

Both run the network in train mode (batch statistics) and leave it as it was found.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fne.evolution.fitness.network_probes import downsampled, preserved, relu_codes
from fne.evolution.fitness.registry import register_proxy

NASWOT_RESOLUTION = 16
"""Side NASWOT's images are average-pooled to (when larger): Spearman 0.82 at 32 px and 0.81
at 16 px on the seed-0 NB201 sample, at a quarter of the cost."""

REGION_PATCH = 4
"""Side of the image patches the linear-region count feeds through the network."""


def hamming_kernel(codes: list[torch.Tensor]) -> torch.Tensor:
    """``K[i, j]`` = number of ReLU units on which samples ``i`` and ``j`` agree (float64)."""
    n = codes[0].shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64, device=codes[0].device)
    for code in codes:
        c = code.float()
        ones = c.sum(1, keepdim=True)
        agree = 2 * (c @ c.T) + c.shape[1] - ones - ones.T
        kernel += agree.double()
    return kernel


@register_proxy("naswot", higher_is_better=True, unit="log-determinant")
def naswot(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """NASWOT: log-determinant of the Hamming kernel of the batch's binary ReLU codes.

    The images are pooled to :data:`NASWOT_RESOLUTION` pixels a side; the network runs in
    train mode (batch statistics); its state is restored.
    """
    with preserved(net), relu_codes(net) as codes, torch.no_grad():
        net.train()(downsampled(inputs, NASWOT_RESOLUTION))
    if not codes:
        return -math.inf
    sign, logdet = torch.linalg.slogdet(hamming_kernel(codes))
    return logdet.item() if sign.item() > 0 else -math.inf


def image_patches(inputs: torch.Tensor, size: int) -> torch.Tensor:
    """Every non-overlapping ``size x size`` patch of a batch, as a batch of small images."""
    n, c, _, _ = inputs.shape
    tiles = inputs.unfold(2, size, size).unfold(3, size, size)
    return tiles.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, size, size).contiguous()


@register_proxy("linear_regions", higher_is_better=True, unit="distinct patterns")
def linear_regions(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Distinct ReLU activation patterns (linear regions, TE-NAS) over small image patches.

    The inputs are cut into ``REGION_PATCH``-pixel patches (64 per CIFAR image) so
    that patterns can coincide; the network runs in train mode (state restored).
    """
    patches = image_patches(inputs, REGION_PATCH)
    with preserved(net), relu_codes(net) as codes, torch.no_grad():
        net.train()(patches)
    if not codes:
        return 1.0
    return float(torch.unique(torch.cat(codes, dim=1), dim=0).shape[0])
