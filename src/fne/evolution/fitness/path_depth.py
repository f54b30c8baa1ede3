"""Path depths of the computation graph: ``kernel_depth`` and ``shortcut_depth``.

One forward pass of a single image records the network's autograd graph; every path from
the image to the output is a route the signal takes. Two counts over these paths see what
the other proxies miss among cells of equal size, where the same ops sit in different
places:

* ``kernel_depth``: the most spatial convolutions (kernel larger than 1x1) on one path, the
  depth over which the receptive field grows; higher predicts better accuracy.
* ``shortcut_depth``: the fewest convolution, linear or pooling layers on one path; an
  identity shortcut through a cell lowers it, and lower predicts better accuracy.

Multiplications by the constant zero (the ``none`` op) carry no signal and end a path. A
network whose output does not depend on its input this way scores NaN.
"""

from __future__ import annotations

import math
import weakref

import torch
from torch import nn

from fne.evolution.fitness.network_probes import preserved
from fne.evolution.fitness.registry import register_proxy

Node = object
"""An autograd graph node (``torch.autograd.graph.Node``)."""

_LAYER_PREFIXES = ("Convolution", "Addmm", "Mm", "AvgPool", "MaxPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
"""Names of the graph nodes ``shortcut_depth`` counts as layers (linear layers record as
``Addmm`` or ``Mm``)."""


def _is_spatial_convolution(node: Node) -> bool:
    if not type(node).__name__.startswith("Convolution"):
        return False
    weight = node._saved_weight  # type: ignore[attr-defined]
    return math.prod(weight.shape[2:]) > 1


def _is_layer(node: Node) -> bool:
    return type(node).__name__.startswith(_LAYER_PREFIXES)


def _is_zeroed(node: Node) -> bool:
    """A multiplication by the constant 0: no signal passes."""
    if not type(node).__name__.startswith("MulBackward"):
        return False
    other = getattr(node, "_saved_other", None)
    return isinstance(other, torch.Tensor) and other.numel() == 1 and float(other) == 0.0


_LAST: list[tuple[weakref.ref[nn.Module], weakref.ref[torch.Tensor], tuple[float, float]]] = []
"""The last network and batch walked, and their depths (one entry)."""


def path_depths(net: nn.Module, inputs: torch.Tensor) -> tuple[float, float]:
    """``(kernel_depth, shortcut_depth)`` of ``net`` from one forward pass and one walk of its graph.

    The result for the last network and batch is kept (while both live), so the two proxies
    scoring one cell share the pass: the counts depend on the network's structure only.

    Args:
        net: the network (left as it was).
        inputs: a batch; only its first image is used.

    Returns:
        The most spatial convolutions and the fewest layers on one path, both NaN when no path
        leads from the input to the output.
    """
    if _LAST and _LAST[0][0]() is net and _LAST[0][1]() is inputs:
        return _LAST[0][2]
    with preserved(net), torch.enable_grad():
        net.eval()
        x = inputs[:1].detach().clone().requires_grad_(True)
        out = net(x)
        out = out[0] if isinstance(out, tuple) else out
        depths = _walk(out.grad_fn, x)
    _LAST[:] = [(weakref.ref(net), weakref.ref(inputs), depths)]
    return depths


def _walk(root: Node | None, x: torch.Tensor) -> tuple[float, float]:
    """The most spatial convolutions and the fewest layers on a path from ``root`` down to the
    leaf of ``x`` (iterative DFS)."""
    if root is None:
        return math.nan, math.nan
    done: dict[Node, tuple[float, float] | None] = {}
    stack: list[tuple[Node, list[Node] | None]] = [(root, None)]  # children once the node is expanded
    while stack:
        node, children = stack.pop()
        if node in done:
            continue
        if children is None:
            children = [] if _is_zeroed(node) else [f for f, _ in node.next_functions if f is not None]  # type: ignore[attr-defined]
            stack.append((node, children))
            stack.extend((c, None) for c in children if c not in done)
            continue
        if getattr(node, "variable", None) is x:
            done[node] = (0.0, 0.0)
            continue
        below = [b for b in (done[c] for c in children) if b is not None]
        kernels, layers = float(_is_spatial_convolution(node)), float(_is_layer(node))
        done[node] = (kernels + max(b[0] for b in below), layers + min(b[1] for b in below)) if below else None
    found = done[root]
    return found if found is not None else (math.nan, math.nan)


@register_proxy("kernel_depth", higher_is_better=True, unit="spatial convolutions")
def kernel_depth(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The most spatial convolutions (kernel larger than 1x1) on one input-to-output path."""
    return path_depths(net, inputs)[0]


@register_proxy("shortcut_depth", higher_is_better=False, unit="layers")
def shortcut_depth(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The fewest convolution, linear or pooling layers on one input-to-output path."""
    return path_depths(net, inputs)[1]
