"""The NTK condition number (``ntk``, TE-NAS): how well conditioned the empirical neural
tangent kernel of the batch is at initialisation; lower predicts better accuracy.

Randomness (the re-initialisations) is drawn through a ``torch.Generator`` seeded from
torch's global generator, which :func:`fne.evolution.fitness.score_genotype` seeds before
every proxy. The network is left as it was found (:func:`preserved`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fne.evolution.fitness.network_probes import (
    batch_statistics_as_constants,
    downsampled,
    layer_gradients,
    preserved,
    reinitialise,
)
from fne.evolution.fitness.registry import register_proxy

NTK_REINITS = 1
"""Initialisations the NTK condition number is averaged over (the given one and fresh ones).
On the seed-0 NB201 sample three gave Spearman 0.73 at 1.3 forward+backward passes, one 0.70
at 0.4: one, as the search scores every cell with it."""

NTK_BATCH = 32
"""Images (the first ones of the batch) the NTK is computed on."""

NTK_RESOLUTION = 16
"""Side the NTK's images are average-pooled to (when larger): 4x less work at 32 px,
with the same rank correlation on NB201."""


def _weight_layers(net: nn.Module) -> list[nn.Module]:
    return [
        m
        for m in net.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear, _BatchNorm)) and getattr(m, "weight", None) is not None
    ]


def _conv_sample_grads(conv: nn.Conv2d, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    if isinstance(conv.padding, str):
        raise ValueError(f"the NTK needs numeric convolution padding, got padding={conv.padding!r}")
    pointwise = conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0)
    cols = x.flatten(2) if pointwise else F.unfold(x, conv.kernel_size, conv.dilation, conv.padding, conv.stride)
    n, groups = x.shape[0], conv.groups
    cols = cols.view(n, groups, -1, cols.shape[-1])
    g = g.flatten(2).view(n, groups, -1, cols.shape[-1])
    return torch.einsum("ngkl,ngol->ngok", cols, g).reshape(n, -1)


def _bn_sample_grads(bn: _BatchNorm, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    mean, var = bn.running_mean, bn.running_var
    if mean is None or var is None:
        raise ValueError(f"the NTK needs batch norms with running statistics, got {bn}")
    shape = (1, -1) + (1,) * (x.dim() - 2)
    x_hat = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + bn.eps)
    return (g * x_hat).flatten(2).sum(2) if x.dim() > 2 else g * x_hat


def _sample_grads(layer: nn.Module, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Per-sample gradient of the layer's weight, one row per sample."""
    if isinstance(layer, nn.Conv2d):
        return _conv_sample_grads(layer, x, g)
    if isinstance(layer, nn.Linear):
        return torch.einsum("n...o,n...i->noi", g, x).flatten(1)
    if isinstance(layer, _BatchNorm):
        return _bn_sample_grads(layer, x, g)
    raise ValueError(f"no per-sample weight gradients for a {type(layer).__name__}")


def ntk_gram(net: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The empirical NTK ``G G^T`` of ``net`` on ``inputs`` (float64, ``B x B``).

    ``G[i]`` is the gradient of sample ``i``'s summed logits with respect to every
    ``weight`` of the convolutions, linear layers and batch norms (as in TE-NAS).

    Samples must not interact (batch norms in eval mode or under
    :func:`batch_statistics_as_constants`) and ReLUs must not work in place: one
    backward pass then gives every layer's per-sample output gradients, from which
    the per-sample weight gradients follow exactly.
    """
    per_layer: dict[nn.Module, torch.Tensor] = {}
    for layer, x_in, g in layer_gradients(net, inputs, _weight_layers(net), torch.sum):
        rows = _sample_grads(layer, x_in, g)  # a layer called twice adds up its per-sample gradients
        per_layer[layer] = per_layer[layer] + rows if layer in per_layer else rows
    gram = torch.zeros(inputs.shape[0], inputs.shape[0], dtype=torch.float64, device=inputs.device)
    for rows in per_layer.values():
        gram += (rows @ rows.T).double()
    return gram


def ntk_condition_number(net: nn.Module, inputs: torch.Tensor) -> float:
    """lambda_max / lambda_min of the empirical NTK ``G G^T`` of ``net`` on ``inputs``.

    The batch-norm statistics are those of ``inputs`` (as in train mode), held fixed
    while the per-sample gradients are taken, so each row of ``G`` depends on one
    sample. ``net`` is changed (statistics, mode, in-place flags): run it under
    :func:`preserved`.
    """
    for module in net.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    with batch_statistics_as_constants(net):
        gram = ntk_gram(net, inputs)
    eig = torch.linalg.eigvalsh(gram)
    if eig[0].item() <= 0.0:
        return math.inf
    return (eig[-1] / eig[0]).item()


def ntk_score(
    net: nn.Module,
    inputs: torch.Tensor,
    reinits: int = NTK_REINITS,
    batch: int = NTK_BATCH,
    resolution: int = NTK_RESOLUTION,
) -> float:
    """Geometric mean of the NTK condition number over ``reinits`` initialisations.

    Args:
        net: the network (restored afterwards).
        inputs: image batch; the first ``batch`` images are used.
        reinits: initialisations: the network's own, then Kaiming-normal re-draws from a
            generator seeded by torch's global generator.
        batch: images the NTK is computed on.
        resolution: images are average-pooled to at most this many pixels a side.

    Returns:
        The geometric mean (one badly conditioned draw does not dominate); infinite when
        a kernel is singular.
    """
    seed = int(torch.randint(0, 2**62, (1,)).item())
    generator = torch.Generator(device=inputs.device).manual_seed(seed)
    inputs = downsampled(inputs[:batch], resolution)
    values: list[float] = []
    with preserved(net):
        for rep in range(reinits):
            if rep:
                reinitialise(net, generator)
            values.append(math.log(ntk_condition_number(net, inputs)))
    return math.exp(sum(values) / len(values))


@register_proxy("ntk", higher_is_better=False, unit="condition number", log_scale=True)
def ntk(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """NTK condition number (TE-NAS): :func:`ntk_score` with the module defaults.

    Lower predicts better accuracy.
    """
    return ntk_score(net, inputs)
