"""Feature correlation (MeCo-like) and gradient statistics (ZiCo-like)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fne.evolution.fitness import get_proxy
from fne.evolution.fitness.feature_correlation import meco_score, min_correlation_eigenvalues
from fne.evolution.fitness.gradient_statistics import layer_log_ratio, split_gradients, zico_score


def small_net(duplicate: bool = False) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 6, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 10),
    )
    if duplicate:  # every output channel of the first convolution is the same
        with torch.no_grad():
            net[0].weight.copy_(net[0].weight[:1].expand_as(net[0].weight))
            net[0].bias.fill_(0.0)
    return net


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 8, 8, generator=gen), torch.randint(0, 10, (8,), generator=gen)


def test_min_correlation_eigenvalue_of_known_features():
    orthogonal = torch.tensor([[[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]]])
    assert min_correlation_eigenvalues(orthogonal).item() == pytest.approx(1.0)
    summing_to_zero = torch.eye(4).view(1, 4, 2, 2) - 0.25  # dependent channels
    assert min_correlation_eigenvalues(summing_to_zero).item() == pytest.approx(0.0, abs=1e-9)
    gen = torch.Generator().manual_seed(0)
    independent = torch.randn(2, 3, 4096, generator=gen)
    assert (min_correlation_eigenvalues(independent) > 0.9).all()
    duplicated = independent.clone()
    duplicated[:, 2] = 2.0 * duplicated[:, 0]
    assert min_correlation_eigenvalues(duplicated).max().item() == pytest.approx(0.0, abs=1e-9)
    constant = independent.clone()
    constant[1, 1] = 5.0
    values = min_correlation_eigenvalues(constant)
    assert values[0] > 0.9 and values[1].item() == pytest.approx(0.0, abs=1e-12)
    broken = independent.clone()
    broken[0, 0, 0] = math.nan
    values = min_correlation_eigenvalues(broken)
    assert math.isnan(values[0].item()) and values[1] > 0.9


def test_meco_is_lower_for_duplicated_channels(batch):
    x, y = batch
    assert meco_score(small_net(duplicate=True), x) < meco_score(small_net(), x) - 0.1
    assert get_proxy("meco")(small_net(), x, y) == pytest.approx(meco_score(small_net(), x))


def test_layer_log_ratio_of_known_gradients():
    grads = torch.tensor([[1.0, 1.0, 0.0], [3.0, 3.0, 0.0]])  # last weight never varies
    assert layer_log_ratio(grads) == pytest.approx(math.log(2.0))
    assert layer_log_ratio(grads, "sum") == pytest.approx(math.log(4.0))
    assert math.isnan(layer_log_ratio(torch.ones(2, 3)))
    with pytest.raises(ValueError, match="unknown reduce 'max'"):
        layer_log_ratio(grads, "max")


def test_split_gradients_match_each_part(batch):
    x, y = batch
    net = small_net()
    grads = split_gradients(net, x, y, splits=2)
    assert len(grads) == 3 and grads[0].shape == (2,) + tuple(net[0].weight.shape)
    expected = torch.autograd.grad(F.cross_entropy(net.train()(x[4:]), y[4:]), net[3].weight)[0]
    torch.testing.assert_close(grads[1][1], expected)
    assert all(p.grad is None for p in net.parameters())
    with pytest.raises(ValueError, match="splits must be in 2..8"):
        split_gradients(net, x, y, splits=1)


def test_zico_needs_gradients_that_vary(batch):
    """Two identical parts give the same gradients: no weight varies, so no score."""
    x, y = batch
    net = small_net()
    twice = torch.cat([x[:4], x[:4]]), torch.cat([y[:4], y[:4]])
    assert math.isnan(zico_score(net, *twice))
    assert math.isfinite(zico_score(net, x, y))
    assert get_proxy("zico")(net, x, y) == pytest.approx(zico_score(net, x, y))
