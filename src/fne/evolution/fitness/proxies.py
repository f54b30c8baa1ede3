"""The built-in training-free proxies.

Every proxy leaves the network as it found it (changes are undone by
:func:`preserved`, or made on a :func:`scratch_copy`), removes its hooks in
``finally`` and may return a non-finite value for a cell it cannot score.
Randomness (the NTK re-initialisations) is drawn through a ``torch.Generator``
seeded from torch's global generator, which
:func:`fne.evolution.fitness.score_genotype` seeds before every proxy.
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
    preserved,
    reinitialise,
    relu_codes,
    scratch_copy,
)
from fne.evolution.fitness.registry import register_proxy

NTK_REINITS = 1
"""Initialisations the NTK condition number is averaged over (the given one and fresh ones).
On the seed-0 NB201 sample three gave Spearman 0.73 at 1.3 forward+backward passes, one 0.70
at 0.4: one, as the search scores every cell with it."""

JACOV_EPS = 1e-5
"""Eigenvalue offset of the gradient-correlation score (as in the jacov score)."""

NTK_BATCH = 32
"""Images (the first ones of the batch) the NTK is computed on."""

NTK_RESOLUTION = 16
"""Side the NTK's images are average-pooled to (when larger): 4x less work at 32 px,
with the same rank correlation on NB201."""

GRAD_CORR_INITS = 2
"""Initialisations the gradient-correlation score is averaged over (on the seed-0 NB201 sample
two ranked cells as well as eight, Spearman 0.79, at a quarter of the cost)."""

GRAD_CORR_RESOLUTION = 16
"""Side the gradient-correlation images are average-pooled to (when larger)."""

NASWOT_RESOLUTION = 16
"""Side NASWOT's images are average-pooled to (when larger): Spearman 0.82 at 32 px and 0.81
at 16 px on the seed-0 NB201 sample, at a quarter of the cost."""

REGION_PATCH = 4
"""Side of the image patches the linear-region count feeds through the network."""


# --------------------------------------------------------------------------- NTK


def _weight_layers(net: nn.Module) -> list[nn.Module]:
    return [
        m
        for m in net.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear, _BatchNorm)) and getattr(m, "weight", None) is not None
    ]


def _conv_sample_grads(conv: nn.Conv2d, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    pointwise = conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0)
    cols = x.flatten(2) if pointwise else F.unfold(x, conv.kernel_size, conv.dilation, conv.padding, conv.stride)
    n, groups = x.shape[0], conv.groups
    cols = cols.view(n, groups, -1, cols.shape[-1])
    g = g.flatten(2).view(n, groups, -1, cols.shape[-1])
    return torch.einsum("ngkl,ngol->ngok", cols, g).reshape(n, -1)


def _bn_sample_grads(bn: _BatchNorm, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    shape = (1, -1) + (1,) * (x.dim() - 2)
    x_hat = (x - bn.running_mean.view(shape)) * torch.rsqrt(bn.running_var.view(shape) + bn.eps)
    return (g * x_hat).flatten(2).sum(2) if x.dim() > 2 else g * x_hat


def _sample_grads(layer: nn.Module, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Per-sample gradient of the layer's weight, one row per sample."""
    if isinstance(layer, nn.Conv2d):
        return _conv_sample_grads(layer, x, g)
    if isinstance(layer, nn.Linear):
        return torch.einsum("n...o,n...i->noi", g, x).flatten(1)
    return _bn_sample_grads(layer, x, g)


def ntk_gram(net: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The empirical NTK ``G G^T`` of ``net`` on ``inputs`` (float64, ``B x B``).

    ``G[i]`` is the gradient of sample ``i``'s summed logits with respect to every
    ``weight`` of the convolutions, linear layers and batch norms (as in TE-NAS).

    Samples must not interact (batch norms in eval mode or under
    :func:`batch_statistics_as_constants`) and ReLUs must not work in place: one
    backward pass then gives every layer's per-sample output gradients, from which
    the per-sample weight gradients follow exactly.
    """
    records: list[tuple] = []

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        records.append((module, args[0].detach(), output))

    handles = [m.register_forward_hook(hook) for m in _weight_layers(net)]
    try:
        logits = net(inputs.detach())
    finally:
        for handle in handles:
            handle.remove()
    grads = torch.autograd.grad(logits.sum(), [out for _, _, out in records], allow_unused=True)
    per_layer: dict[nn.Module, torch.Tensor] = {}
    for (layer, x_in, _), g in zip(records, grads, strict=False):
        if g is not None:  # a layer called twice adds up its per-sample gradients
            rows = _sample_grads(layer, x_in, g.detach())
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


@register_proxy("ntk", higher_is_better=False)
def ntk(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """NTK condition number (TE-NAS): :func:`ntk_score` with the module defaults.

    Lower predicts better accuracy.
    """
    return ntk_score(net, inputs)


# --------------------------------------------------------------------------- ReLU codes


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


@register_proxy("naswot", higher_is_better=True)
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


@register_proxy("linear_regions", higher_is_better=True)
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


# --------------------------------------------------------------------------- input gradients


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


@register_proxy("grad_corr", higher_is_better=True)
def grad_corr(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Gradient correlation (the jacov idea) of the batch's input gradients.

    :func:`grad_corr_score` with the module defaults: the eigenvalue score of the
    correlation matrix of the per-sample input gradients, averaged over
    initialisations (one draw alone is noisy). Higher is better.
    """
    return grad_corr_score(net, inputs)


# --------------------------------------------------------------------------- cheap baselines


@register_proxy("params", higher_is_better=True)
def params(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Trainable parameters, in millions."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6


def _layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return output[0].numel() * per_output
    return output[0].numel() * module.in_features


@register_proxy("flops", higher_is_better=True)
def flops(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Multiply-accumulates of convolutions and linear layers for one image, in millions."""
    total = [0]

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        total[0] += _layer_macs(module, output)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with preserved(net), torch.no_grad():
            net.eval()(inputs[:1])
    finally:
        for handle in handles:
            handle.remove()
    return total[0] / 1e6


@register_proxy("synflow", higher_is_better=True)
def synflow(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """SynFlow: log of the synaptic flow ``sum |theta * dR/dtheta|``.

    ``R`` is the summed output of a float64 scratch copy with absolute weights on an
    all-ones image, batch norms at their initial statistics (nearly the identity).
    """
    work = scratch_copy(net).double().eval()
    with torch.no_grad():
        for p in work.parameters():
            p.abs_()
        for m in work.modules():
            if isinstance(m, _BatchNorm):
                m.reset_running_stats()
    ones = torch.ones((1,) + tuple(inputs.shape[1:]), dtype=torch.float64, device=inputs.device)
    weights = [p for p in work.parameters() if p.requires_grad]
    grads = torch.autograd.grad(work(ones).sum(), weights, allow_unused=True)
    total = sum((p * g).abs().sum() for p, g in zip(weights, grads, strict=False) if g is not None)
    total = float(total.detach()) if torch.is_tensor(total) else float(total)
    return math.log(total) if total > 0 else -math.inf
