"""Cell operations and the registry that names them.

Every operation is created by a factory ``(C_in, C_out, stride, affine) -> nn.Module``
registered under a unique name::

    @register_op("my_conv")
    def my_conv(C_in, C_out, stride, affine):
        return nn.Sequential(nn.ReLU(), nn.Conv2d(C_in, C_out, 3, stride, 1, bias=False),
                             nn.BatchNorm2d(C_out, affine=affine))

A registered op can then be named in ``darts`` and ``fne`` genotypes. An op must map
``(N, C_in, H, W)`` to ``(N, C_out, ceil(H / stride), ceil(W / stride))``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fne.registry import Registry

OpFactory = Callable[[int, int, int, bool], nn.Module]

_REGISTRY: Registry[OpFactory] = Registry("op")

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
DARTS_OPS = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)


def register_op(name: str) -> Callable[[OpFactory], OpFactory]:
    """Register an op factory under ``name``.

    Args:
        name: the op's name as written in genotypes (letters, digits and ``_``).

    Returns:
        A decorator that registers the factory and returns it unchanged.

    Raises:
        ValueError: if ``name`` is taken or not a valid op name.
    """
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"op name {name!r} must be letters, digits and '_' only")

    def decorator(factory: OpFactory) -> OpFactory:
        return _REGISTRY.add(name, factory)

    return decorator


unregister_op = _REGISTRY.remove
"""``unregister_op(name)``: remove a registered op (mainly for tests); unknown names raise ``ValueError``."""

get_op = _REGISTRY.get
"""``get_op(name)``: the factory registered under ``name``; ``ValueError`` names the unknown op and the known ones."""

list_ops = _REGISTRY.names
"""``list_ops()``: names of all registered ops, in registration order."""


def create_op(name: str, C_in: int, C_out: int, stride: int = 1, affine: bool = True) -> nn.Module:
    """Instantiate the op ``name``; raises ``ValueError`` for unknown names or bad sizes."""
    if C_in < 1 or C_out < 1:
        raise ValueError(f"op {name!r}: channel counts must be positive, got C_in={C_in}, C_out={C_out}")
    if stride not in (1, 2):
        raise ValueError(f"op {name!r}: stride must be 1 or 2, got {stride}")
    return get_op(name)(C_in, C_out, stride, affine)


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution, batch norm (the NAS-Bench-201 / DARTS conv unit)."""

    def __init__(
        self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, dilation: int = 1, affine: bool = True
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel, stride, padding, dilation=dilation, bias=not affine),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU, depthwise (dilated) convolution, pointwise convolution, batch norm."""

    def __init__(
        self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool = True
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel, stride, padding, dilation=dilation, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable convolutions (DARTS ``sep_conv``)."""

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, affine: bool = True) -> None:
        super().__init__(
            DilConv(C_in, C_in, kernel, stride, padding, 1, affine),
            DilConv(C_in, C_out, kernel, 1, padding, 1, affine),
        )


class Zero(nn.Module):
    """The ``none`` op: zeros of the output shape (no parameters)."""

    def __init__(self, C_out: int, stride: int) -> None:
        super().__init__()
        self.C_out, self.stride = C_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        if x.shape[1] == self.C_out:
            return x.mul(0.0)
        return x.new_zeros(x.shape[0], self.C_out, x.shape[2], x.shape[3])


class FactorizedReduce(nn.Module):
    """Change channels (and halve resolution for stride 2) with 1x1 convolutions."""

    def __init__(self, C_in: int, C_out: int, stride: int, affine: bool = True) -> None:
        super().__init__()
        self.stride = stride
        self.relu = nn.ReLU(inplace=False)
        if stride == 2 and C_out >= 2:
            half = C_out // 2
            self.convs = nn.ModuleList(
                [nn.Conv2d(C_in, half, 1, 2, bias=False), nn.Conv2d(C_in, C_out - half, 1, 2, bias=False)]
            )
            self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0)
        else:
            self.convs = nn.ModuleList([nn.Conv2d(C_in, C_out, 1, stride, bias=False)])
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        if len(self.convs) == 2:
            y = self.pad(x)
            out = torch.cat([self.convs[0](x), self.convs[1](y[:, :, 1:, 1:])], dim=1)
        else:
            out = self.convs[0](x)
        return self.bn(out)


class Pooling(nn.Module):
    """3x3 pooling, preceded by a 1x1 ReLUConvBN when the channel count changes."""

    def __init__(self, C_in: int, C_out: int, stride: int, mode: str, affine: bool = True) -> None:
        super().__init__()
        self.preprocess = None if C_in == C_out else ReLUConvBN(C_in, C_out, 1, 1, 0, 1, affine)
        self.pool: nn.Module
        if mode == "avg":
            self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        else:
            self.pool = nn.MaxPool2d(3, stride=stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x if self.preprocess is None else self.preprocess(x))


def _skip(C_in: int, C_out: int, stride: int, affine: bool) -> nn.Module:
    if stride == 1 and C_in == C_out:
        return nn.Identity()
    return FactorizedReduce(C_in, C_out, stride, affine)


_BUILT_IN_OPS: dict[str, OpFactory] = {
    "none": lambda C_in, C_out, stride, affine: Zero(C_out, stride),
    "skip_connect": _skip,
    "nor_conv_1x1": lambda C_in, C_out, stride, affine: ReLUConvBN(C_in, C_out, 1, stride, 0, 1, affine),
    "nor_conv_3x3": lambda C_in, C_out, stride, affine: ReLUConvBN(C_in, C_out, 3, stride, 1, 1, affine),
    "avg_pool_3x3": lambda C_in, C_out, stride, affine: Pooling(C_in, C_out, stride, "avg", affine),
    "max_pool_3x3": lambda C_in, C_out, stride, affine: Pooling(C_in, C_out, stride, "max", affine),
    "sep_conv_3x3": lambda C_in, C_out, stride, affine: SepConv(C_in, C_out, 3, stride, 1, affine),
    "sep_conv_5x5": lambda C_in, C_out, stride, affine: SepConv(C_in, C_out, 5, stride, 2, affine),
    "dil_conv_3x3": lambda C_in, C_out, stride, affine: DilConv(C_in, C_out, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda C_in, C_out, stride, affine: DilConv(C_in, C_out, 5, stride, 4, 2, affine),
}
"""The ops of NAS-Bench-201 and DARTS, registered in this order."""

for _name, _factory in _BUILT_IN_OPS.items():
    register_op(_name)(_factory)
