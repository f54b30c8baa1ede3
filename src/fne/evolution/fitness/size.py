"""The size of the scoring network as proxies: ``params`` (M parameters) and ``flops`` (M FLOPs of
one image's forward pass), counted by the same rule as the costs of :mod:`fne.costs.size`;
cheap baselines for the other proxies.
"""

from __future__ import annotations

import torch
from torch import nn

from fne.costs.size import count_flops, count_params
from fne.evolution.fitness.network_probes import preserved
from fne.evolution.fitness.registry import register_proxy


@register_proxy("params", higher_is_better=True, unit="M parameters")
def params(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Trainable parameters, in millions."""
    return count_params(net)


@register_proxy("flops", higher_is_better=True, unit="M FLOPs")
def flops(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """FLOPs of one image's forward pass (:func:`fne.costs.size.count_flops`), in millions."""
    with preserved(net):
        return count_flops(net, inputs)
