"""The size of a network: trainable parameters (``params``) and multiply-accumulates of one
image's forward pass (``flops``), both in millions; cheap baselines for the other proxies.
"""

from __future__ import annotations

import torch
from torch import nn

from fne.evolution.fitness.network_probes import preserved
from fne.evolution.fitness.registry import register_proxy


@register_proxy("params", higher_is_better=True, unit="M parameters")
def params(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Trainable parameters, in millions."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6


def _layer_macs(module: nn.Conv2d | nn.Linear, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return output[0].numel() * per_output
    return output[0].numel() * module.in_features


@register_proxy("flops", higher_is_better=True, unit="M multiply-accumulates")
def flops(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Multiply-accumulates of convolutions and linear layers for one image, in millions."""
    total = [0]

    def hook(module: nn.Conv2d | nn.Linear, args: tuple, output: torch.Tensor) -> None:
        total[0] += _layer_macs(module, output)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with preserved(net), torch.no_grad():
            net.eval()(inputs[:1])
    finally:
        for handle in handles:
            handle.remove()
    return total[0] / 1e6
