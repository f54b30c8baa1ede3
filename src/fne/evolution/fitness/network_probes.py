"""What the proxies do to a network to probe it, without changing it for good.

Scratch copies (:func:`scratch_copy`) and state restored on exit (:func:`preserved`), the
binary ReLU codes of a forward pass (:func:`relu_codes`), seeded re-initialisation
(:func:`reinitialise`), batch statistics held fixed (:func:`batch_statistics_as_constants`),
each layer's input and output gradient of one backward pass (:func:`layer_gradients`),
smaller images (:func:`downsampled`), and the checks that tell a degenerate cell
(:func:`output_depends_on_input`, :func:`finite_or_nan`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def scratch_copy(net: nn.Module) -> nn.Module:
    """A deep copy of ``net`` without hooks, so a proxy can change it freely."""
    work = copy.deepcopy(net)
    for module in work.modules():
        module._forward_hooks.clear()
        module._forward_pre_hooks.clear()
        module._backward_hooks.clear()
    for param in work.parameters():
        param.grad = None
    return work


@contextmanager
def preserved(net: nn.Module) -> Iterator[nn.Module]:
    """Run a block that may change ``net`` in place, then put everything back.

    Restored when the block ends (also on error): parameter and buffer values, every
    module's train/eval mode and ``inplace`` flag, and the parameters' ``.grad``.
    Hooks are not touched (a proxy removes its own). Cheaper than a deep copy.
    """
    tensors = dict(net.state_dict(keep_vars=True))
    saved = {name: t.detach().clone() for name, t in tensors.items()}
    modes = [(m, m.training, getattr(m, "inplace", None)) for m in net.modules()]
    grads = [(p, p.grad) for p in net.parameters()]
    try:
        yield net
    finally:
        with torch.no_grad():
            for name, tensor in tensors.items():
                tensor.copy_(saved[name])
        for module, training, inplace in modes:
            module.training = training
            if inplace is not None:
                module.inplace = inplace
        for param, grad in grads:
            param.grad = grad


@contextmanager
def relu_codes(net: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect, per ``nn.ReLU`` call, the boolean code ``output > 0`` flattened per sample.

    Yields the list that the forward passes run inside the block fill; the hooks are
    removed when the block ends, also on error.
    """
    codes: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        codes.append((output.detach() > 0).flatten(1))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        yield codes
    finally:
        for handle in handles:
            handle.remove()


def reinitialise(net: nn.Module, generator: torch.Generator, scheme: str = "kaiming_normal") -> None:
    """Draw fresh weights for every convolution and linear layer; reset batch norms.

    Args:
        net: the network, changed in place.
        generator: the random source (on the network's device).
        scheme: ``"kaiming_normal"`` (fan-in, ReLU gain, zero biases) or ``"default"``
            (PyTorch's own layer initialisation: Kaiming-uniform with ``a = sqrt(5)``,
            biases uniform in ``+-1/sqrt(fan_in)``).

    Batch norms get unit scale, zero shift and fresh running statistics.
    """
    if scheme not in ("kaiming_normal", "default"):
        raise ValueError(f"unknown initialisation scheme {scheme!r}; use 'kaiming_normal' or 'default'")
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                _draw_layer(module, generator, scheme)
            elif isinstance(module, _NORMS):
                module.reset_parameters()


def _draw_layer(layer: nn.Conv2d | nn.Linear, generator: torch.Generator, scheme: str) -> None:
    if scheme == "kaiming_normal":
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()
        return
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(max(1, layer.weight[0].numel()))
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


@contextmanager
def batch_statistics_as_constants(net: nn.Module) -> Iterator[None]:
    """Normalise with each batch's own statistics, held as constants.

    Inside the block, a pre-hook stores the statistics of the batch a batch norm
    receives as its running statistics (variance unbiased), and the network runs in
    eval mode: the normalisation matches train mode, but autograd sees constants, so
    samples do not interact. ``net`` keeps the new statistics and eval mode: run the
    block under :func:`preserved`. Batch norms without running statistics are left
    as they are. The pre-hooks are removed when the block ends.
    """

    def hook(module: _BatchNorm, args: tuple) -> None:
        with torch.no_grad():  # momentum 1: the running statistics become the batch's
            F.batch_norm(
                args[0].detach(), module.running_mean, module.running_var, training=True, momentum=1.0, eps=module.eps
            )

    net.eval()
    handles = [
        m.register_forward_pre_hook(hook) for m in net.modules() if isinstance(m, _NORMS) and m.running_mean is not None
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def layer_gradients(
    net: nn.Module,
    inputs: torch.Tensor,
    layers: Sequence[nn.Module],
    objective: Callable[[torch.Tensor], torch.Tensor],
) -> list[tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    """Each call of ``layers`` in one forward pass of ``inputs``: the layer, its input and the
    gradient of ``objective(outputs)`` with respect to its output (all detached).

    Calls whose output the objective does not depend on are left out; a layer called twice
    appears twice. With samples that do not interact (batch norms in eval mode or under
    :func:`batch_statistics_as_constants`) and no ReLU working in place, row ``i`` of each
    gradient is sample ``i``'s alone, which gives per-sample weight gradients exactly.
    """
    records: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        records.append((module, args[0].detach(), output))

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        outputs = net(inputs.detach())
    finally:
        for handle in handles:
            handle.remove()
    grads = torch.autograd.grad(objective(outputs), [out for _, _, out in records], allow_unused=True)
    return [(layer, x, g.detach()) for (layer, x, _), g in zip(records, grads, strict=True) if g is not None]


def output_depends_on_input(net: nn.Module, inputs: torch.Tensor, samples: int = 8) -> bool:
    """Whether the network's outputs differ between (up to ``samples``) different inputs.

    Runs the network in train mode, with batch statistics as the proxies see it (eval
    mode with initial statistics can shrink deep networks' signals to nothing); its
    state is restored. A network whose output is the same for every input (e.g. an
    NB201 cell made only of ``none`` edges) is degenerate.
    """
    with preserved(net), torch.no_grad():
        out = net.train()(inputs[:samples]).double()
    if not torch.isfinite(out).all():
        return False
    spread = (out - out[:1]).abs().max().item()
    return spread > 1e-9 * (1.0 + out.abs().max().item())


def downsampled(inputs: torch.Tensor, side: int) -> torch.Tensor:
    """``inputs`` average-pooled to at most ``side`` pixels a side (unchanged when not larger)."""
    if max(inputs.shape[-2:]) > side:
        return F.adaptive_avg_pool2d(inputs, side)
    return inputs


def finite_or_nan(value: float) -> float:
    """``value`` as a float, or NaN when it is infinite or NaN."""
    value = float(value)
    return value if math.isfinite(value) else math.nan
