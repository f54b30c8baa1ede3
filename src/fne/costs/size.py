"""The size of a network: parameters and FLOPs.

FLOPs are counted as NAS-Bench-201 counts them (its published ``flops`` of every cell
follow from this rule up to a constant): a convolution or linear layer counts its
multiply-accumulates (plus one per output for a bias), a pooling window its size per output,
a batch norm two per output and a ReLU one per output. Both are in millions.

Both are counted on one CPU forward pass of one image (on the ``meta`` device the same count
takes several times longer); measuring both costs of a cell builds its network once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fne.costs.cost import Cost, NetworkSpec, register_cost

__all__ = ["count_params", "count_flops", "ParamsCost", "FlopsCost"]


def count_params(net: nn.Module) -> float:
    """Trainable parameters, in millions."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6


def _window(size: int | tuple[int, ...]) -> int:
    return size * size if isinstance(size, int) else int(torch.tensor(size).prod())


def _flops_of(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """FLOPs of one module's forward pass over the first image of the batch (0 for other modules)."""
    out = output[0].numel() if isinstance(output, torch.Tensor) else 0
    if isinstance(module, nn.Conv2d):
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return out * per_output + (out if module.bias is not None else 0)
    if isinstance(module, nn.Linear):
        return out * module.in_features + (out if module.bias is not None else 0)
    if isinstance(module, (nn.AvgPool2d, nn.MaxPool2d)):
        return out * _window(module.kernel_size)
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return inputs[0][0].numel()
    if isinstance(module, nn.BatchNorm2d):
        return 2 * out
    if isinstance(module, nn.ReLU):
        return out
    return 0


def count_flops(net: nn.Module, inputs: torch.Tensor) -> float:
    """FLOPs of one image's forward pass through ``net`` in eval mode, in millions (its training mode is restored)."""
    total = [0]

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        total[0] += _flops_of(module, args, output)

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    was_training = net.training
    try:
        with torch.no_grad():
            net.eval()(inputs[:1])
    finally:
        for handle in handles:
            handle.remove()
        net.train(was_training)
    return total[0] / 1e6


class _SizeCounter:
    """Parameters and FLOPs of the last cell counted, so that both costs build its network once."""

    def __init__(self) -> None:
        self._last: tuple[tuple[int, str], tuple[float, float]] | None = None

    def count(self, spec: NetworkSpec, genotype: Any) -> tuple[float, float]:
        key = (id(spec), spec.space.canonical(genotype))
        if self._last is None or self._last[0] != key:
            net = spec.build(genotype)
            self._last = (key, (count_params(net), count_flops(net, spec.inputs(1))))
        return self._last[1]


_COUNTER = _SizeCounter()


@register_cost("params")
class ParamsCost(Cost):
    """Trainable parameters of the network, in millions."""

    unit = "M parameters"
    label = "M params"
    parallel = True

    def measure_one(self, spec: NetworkSpec, genotype: Any) -> float:
        """Parameters of ``genotype``'s network."""
        return _COUNTER.count(spec, genotype)[0]


@register_cost("flops")
class FlopsCost(Cost):
    """FLOPs of one image's forward pass (see the module doc), in millions."""

    unit = "M FLOPs"
    label = "MFLOPs"
    parallel = True

    def measure_one(self, spec: NetworkSpec, genotype: Any) -> float:
        """FLOPs of ``genotype``'s network on one image."""
        return _COUNTER.count(spec, genotype)[1]
