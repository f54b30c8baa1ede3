"""Every registered op: output shape for stride 1 and 2, finite values, working backward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fne.genotopheno import ops as co


@pytest.mark.parametrize("name", co.list_ops())
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("channels", [(4, 4), (4, 6), (3, 1)])
def test_op_shape_backward(name: str, stride: int, channels: tuple) -> None:
    C_in, C_out = channels
    torch.manual_seed(0)
    op = co.create_op(name, C_in, C_out, stride, affine=True)
    x = torch.randn(2, C_in, 9, 9, requires_grad=True)
    y = op(x)
    size = (9 + stride - 1) // stride
    assert y.shape == (2, C_out, size, size)
    assert torch.isfinite(y).all()
    (y.square().sum() + x.sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for p in op.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_builtin_ops_present() -> None:
    for name in set(co.NB201_OPS) | set(co.DARTS_OPS):
        assert name in co.list_ops()


def test_duplicate_registration_rejected() -> None:
    with pytest.raises(ValueError, match="already registered"):
        co.register_op("nor_conv_3x3")(lambda C_in, C_out, stride, affine: nn.Identity())


def test_unknown_op_named_in_error() -> None:
    with pytest.raises(ValueError, match="'conv_9x9'"):
        co.get_op("conv_9x9")


@pytest.mark.parametrize("bad", ["", "has space", "dash-op", 3])
def test_invalid_op_names_rejected(bad) -> None:
    with pytest.raises(ValueError):
        co.register_op(bad)


def test_bad_sizes_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        co.create_op("nor_conv_3x3", 0, 4, 1)
    with pytest.raises(ValueError, match="stride"):
        co.create_op("nor_conv_3x3", 4, 4, 3)


def test_user_op_register_and_unregister() -> None:
    @co.register_op("test_tmp_conv")
    def factory(C_in: int, C_out: int, stride: int, affine: bool) -> nn.Module:
        return nn.Conv2d(C_in, C_out, 3, stride, 1)

    try:
        assert "test_tmp_conv" in co.list_ops()
        assert co.create_op("test_tmp_conv", 3, 5, 2)(torch.zeros(1, 3, 8, 8)).shape == (1, 5, 4, 4)
    finally:
        co.unregister_op("test_tmp_conv")
    assert "test_tmp_conv" not in co.list_ops()
