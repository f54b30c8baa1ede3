"""SynFlow (``synflow``): the synaptic flow through a copy of the network with absolute
weights; higher predicts better accuracy. The copy (:func:`scratch_copy`) is changed, the
network itself is not.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fne.evolution.fitness.network_probes import scratch_copy
from fne.evolution.fitness.registry import register_proxy


@register_proxy("synflow", higher_is_better=True, unit="log synaptic flow")
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
    flow = sum((p * g).abs().sum() for p, g in zip(weights, grads, strict=False) if g is not None)
    total = float(flow.detach()) if isinstance(flow, torch.Tensor) else float(flow)
    return math.log(total) if total > 0 else -math.inf
