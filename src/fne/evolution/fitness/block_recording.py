"""The blocks of a network and their features, as the block-wise proxies see them.

A *block* is a stage of the network's computation whose output feeds the next one: the
stem and every cell of ``net.cells`` (the NB201, DARTS and channel-count networks all hold
their cells there). A network without ``cells`` is split into its direct children that have
parameters. Blocks of the type of the first cell are the *cells* (built from the
genotype); NB201's fixed residual reductions between stages are other blocks.

:func:`recorded_blocks` runs a forward pass and keeps, per block call, its inputs and
output; with ``detach=True`` every block receives fresh leaf copies of its inputs, so that
the gradient of a block's output reaches its own inputs only (the block-local Jacobian)
and one backward pass serves every block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class BlockCall:
    """One call of a block: its kind, its tensor inputs (in call order) and its output.

    ``kind`` is ``"stem"``, ``"cell"`` (a block of the type of the network's first cell,
    i.e. one built from the genotype) or ``"block"`` (any other block, e.g. NB201's fixed
    residual reductions between stages).
    """

    kind: str
    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor


@dataclass
class BlockRecord:
    """The calls recorded by :func:`recorded_blocks`, in execution order."""

    calls: list[BlockCall] = field(default_factory=list)

    def outputs(self) -> list[torch.Tensor]:
        """The output of every call, in order."""
        return [call.output for call in self.calls]

    def kinds(self) -> list[str]:
        """The kind of every call, in order."""
        return [call.kind for call in self.calls]


def feature_blocks(net: nn.Module) -> list[nn.Module]:
    """The blocks of ``net``: its ``stem`` (if any) and each of its ``cells``.

    Without a ``cells`` container the blocks are the direct children holding parameters,
    the last one (the classifier head) excepted when there are several.
    """
    cells = getattr(net, "cells", None)
    if isinstance(cells, (nn.Sequential, nn.ModuleList)) and len(cells):
        stem = getattr(net, "stem", None)
        return ([stem] if isinstance(stem, nn.Module) else []) + list(cells)
    children = [m for m in net.children() if any(True for _ in m.parameters())]
    return children[:-1] if len(children) > 1 else children


def block_kinds(net: nn.Module) -> dict[nn.Module, str]:
    """The kind (see :class:`BlockCall`) of every block of :func:`feature_blocks`."""
    blocks = feature_blocks(net)
    cells = getattr(net, "cells", None)
    first = cells[0] if isinstance(cells, (nn.Sequential, nn.ModuleList)) and len(cells) > 0 else None
    has_cells = first is not None
    cell_type = type(first) if first is not None else None
    stem = getattr(net, "stem", None) if has_cells else None
    return {b: "stem" if b is stem else ("cell" if type(b) is cell_type or not has_cells else "block") for b in blocks}


def _leaf(value: object, scale: float) -> object:
    if torch.is_tensor(value) and value.is_floating_point():
        value = value.detach()
        return (value * scale if scale != 1.0 else value).requires_grad_(True)
    return value


@contextmanager
def recorded_blocks(net: nn.Module, detach: bool = False, input_scale: float = 1.0) -> Iterator[BlockRecord]:
    """Record the inputs and output of every block call of the forward passes in the block.

    Args:
        net: the network; its hooks are removed when the block ends, also on error.
        detach: give each block leaf copies (``requires_grad``) of its floating-point
            inputs, cutting the graph between blocks.
        input_scale: with ``detach``, the leaf inputs of every block but the stem are
            multiplied by this factor (the growth of a signal along a deep residual stack).

    Yields:
        The :class:`BlockRecord` the forward passes fill.
    """
    record = BlockRecord()
    pending: list[tuple[torch.Tensor, ...]] = []
    kinds = block_kinds(net)

    def pre_hook(module: nn.Module, args: tuple) -> tuple:
        scale = 1.0 if kinds[module] == "stem" else input_scale
        new_args = tuple(_leaf(a, scale) for a in args) if detach else args
        pending.append(tuple(a for a in new_args if torch.is_tensor(a)))
        return new_args

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        record.calls.append(BlockCall(kinds[module], pending.pop(), output))

    handles = []
    try:
        for block in kinds:
            handles.append(block.register_forward_pre_hook(pre_hook))
            handles.append(block.register_forward_hook(hook))
        yield record
    finally:
        for handle in handles:
            handle.remove()
