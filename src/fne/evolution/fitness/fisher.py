"""The Fisher information of a network at initialisation, seen through one weight per tensor
(the VKDNW idea): a network whose weights are all about equally hard to estimate from data
has an even Fisher spectrum, and the entropy of that spectrum ranks cells of equal size.

For a classifier with softmax output ``p(x)`` and logits ``f(x; theta)``, the Fisher
information is ``F = E_x[J(x)^T C(x) J(x)]`` with ``J`` the Jacobian of the logits and
``C = diag(p) - p p^T`` the covariance of a one-hot label drawn from ``p``. Over all weights
it is far too large, so ``theta`` is the first element of every parameter tensor: ``F`` is
then ``L x L`` for a network of ``L`` tensors. With ``S`` the symmetric square root of ``C``,
``J^T C J = sum_k (J^T s_k)(J^T s_k)^T``, and each ``J^T s_k`` is the gradient of the scalar
``s_k . f(x)``: each image is repeated ``K`` times, one backward pass of ``sum_k s_k . f``
runs through the batch (:func:`~fne.evolution.fitness.network_probes.layer_gradients`), and
each copy's gradient of the first element of every convolution, linear and batch-norm tensor
follows from the layer's input and output gradient.

The score is the entropy of the spectrum's deciles: the nine eigenvalues at the 10th to 90th
percentiles, scaled to sum to one. The network runs in eval mode (each image on its own).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fne.evolution.fitness.network_probes import downsampled, layer_gradients, preserved
from fne.evolution.fitness.registry import register_proxy

FISHER_IMAGES = 16
"""Images of the batch that enter the Fisher matrix (each gives ``classes`` gradients)."""

FISHER_RESOLUTION = 16
"""Side the images are average-pooled to (when larger). Chosen on 350 cells of ten FLOPs levels
of the seed-0 NB201 sample: added to NB201's 0.6.0 front ranking at weight 0.25, the mean Spearman
inside a level went from 0.721 to 0.753 with 16 images at 16 px, 0.757 at 32 px (four times
the cost) and 0.751 with 8 images at 32 px."""

FISHER_SMOOTHING = 0.05
"""Share of the predicted distribution replaced by the uniform one, so that a network that is
certain at initialisation still has a Fisher matrix of full rank."""


def _label_covariance_roots(logits: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Per image, the symmetric square root of ``diag(p) - p p^T`` (``(n, K, K)``)."""
    classes = logits.shape[1]
    p = torch.softmax(logits.double(), dim=1) * (1.0 - smoothing) + smoothing / classes
    covariance = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
    values, vectors = torch.linalg.eigh(covariance)
    return (vectors * values.clamp(min=0.0).sqrt().unsqueeze(1)) @ vectors.transpose(1, 2)


def _padded_tap(a: torch.Tensor, conv: nn.Conv2d, out_size: Sequence[int]) -> torch.Tensor:
    """Per image, the input values that weight ``[0, 0, 0, 0]`` of ``conv`` multiplies at each
    output position (``(n, H_out, W_out)``)."""
    ph, pw = (int(p) for p in conv.padding)  # ints: _supported leaves out string padding
    sh, sw = conv.stride
    padded = F.pad(a[:, 0], (pw, pw, ph, ph))
    return padded[:, : sh * out_size[0] : sh, : sw * out_size[1] : sw]


def _supported(module: nn.Module) -> bool:
    """Modules whose first weights' per-image gradients :func:`_first_element_gradients` knows."""
    if isinstance(module, nn.Conv2d):
        return module.padding_mode == "zeros" and not isinstance(module.padding, str)
    if isinstance(module, _BatchNorm):
        return module.track_running_stats and module.running_mean is not None
    return isinstance(module, nn.Linear)


def _first_element_gradients(module: nn.Module, a: torch.Tensor, d: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image, the gradient of the first element of each of ``module``'s own parameters,
    from its input ``a`` and the gradient ``d`` of its output."""
    if isinstance(module, nn.Linear):
        out = {
            "weight": (d[..., 0] * a[..., 0]).reshape(len(d), -1).sum(1),
            "bias": d[..., 0].reshape(len(d), -1).sum(1),
        }
    else:
        if isinstance(module, nn.Conv2d):
            multiplied = _padded_tap(a, module, d.shape[-2:])
        else:
            assert isinstance(module, _BatchNorm)  # with running statistics: _supported
            mean, var = module.running_mean, module.running_var
            assert mean is not None and var is not None
            multiplied = (a[:, 0] - mean[0]) / torch.sqrt(var[0] + module.eps)
        out = {"weight": (d[:, 0] * multiplied).flatten(1).sum(1), "bias": d[:, 0].flatten(1).sum(1)}
    return {name: value for name, value in out.items() if getattr(module, name, None) is not None}


def fisher_spectrum(
    net: nn.Module, inputs: torch.Tensor, images: int = FISHER_IMAGES, smoothing: float = FISHER_SMOOTHING
) -> torch.Tensor:
    """Eigenvalues (ascending) of the Fisher information of the first weight of each tensor.

    The tensors are those of the network's convolutions, linear layers and batch norms with
    running statistics (whose per-image gradients one batched backward pass gives: in eval
    mode each image passes on its own); other parameters are left out.

    Args:
        net: the classifier (left as it was found).
        inputs: a batch of images; the first ``images`` are used.
        images: images entering the matrix.
        smoothing: see :data:`FISHER_SMOOTHING`.

    Returns:
        The ``L`` eigenvalues, ``L`` the number of tensors taken.
    """
    x = inputs[:images]
    layers = [m for m in net.modules() if _supported(m) and any(p.requires_grad for p in m.parameters(recurse=False))]
    with preserved(net):
        net.eval()
        for module in net.modules():
            if isinstance(module, nn.ReLU):
                module.inplace = False  # an in-place op would change a recorded output
        with torch.no_grad():
            roots = _label_covariance_roots(net(x), smoothing).to(x.dtype)
        classes = roots.shape[1]
        repeated = x.repeat_interleave(classes, dim=0)
        directions = roots.transpose(1, 2).reshape(-1, classes)  # row (i, k): column k of image i's root
        recorded = layer_gradients(net, repeated, layers, lambda logits: (logits * directions).sum())
    columns: dict[tuple[nn.Module, str], torch.Tensor] = {}
    for layer, a, d in recorded:  # a layer called twice adds up its gradients
        for param, grad in _first_element_gradients(layer, a, d).items():
            key = (layer, param)
            columns[key] = columns[key] + grad if key in columns else grad
    g = torch.stack(list(columns.values()), dim=1).double()
    fisher = g.T @ g / len(x)
    return torch.linalg.eigvalsh(fisher)


def spectrum_entropy(eigenvalues: torch.Tensor) -> float:
    """Entropy (nats) of the deciles of ``eigenvalues`` scaled to sum to one; NaN when they
    are all zero or not finite."""
    values = eigenvalues.double().clamp(min=0.0)
    deciles = torch.quantile(values, torch.arange(1, 10, dtype=values.dtype) / 10)
    total = float(deciles.sum())
    if not math.isfinite(total) or total <= 0.0:
        return math.nan
    q = deciles / total
    return float(-(q * torch.log(q.clamp(min=1e-300))).sum())


@register_proxy("fisher_entropy", higher_is_better=True, unit="entropy of Fisher eigenvalue deciles, nats")
def fisher_entropy(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Entropy of the deciles of the Fisher spectrum of one weight per tensor."""
    return spectrum_entropy(fisher_spectrum(net, downsampled(inputs, FISHER_RESOLUTION)))
