"""The block-wise proxies on every space's scoring network (finite, seeded, network unchanged) and their units."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fne.evolution.fitness import get_proxy, list_proxies
from fne.evolution.fitness.units import proxy_label, proxy_unit, uses_log_scale
from fne.genotopheno import get_space

NEW_PROXIES = ("expressivity", "progressivity", "trainability", "meco", "zico", "kernel_depth", "shortcut_depth")


@pytest.fixture(scope="module")
def batch():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 32, 32, generator=gen), torch.randint(0, 10, (8,), generator=gen)


def _state(net):
    return (
        {k: v.clone() for k, v in net.state_dict().items()},
        [m.training for m in net.modules()],
        [getattr(m, "inplace", None) for m in net.modules()],
    )


@pytest.mark.parametrize("space_name", ["nb201", "darts", "channels"])
def test_new_proxies_on_the_score_preset(space_name, batch):
    x, y = batch
    torch.set_num_threads(1)
    space = get_space(space_name)
    torch.manual_seed(0)
    net = space.build(space.sample(np.random.default_rng(3)), **space.preset("score")).eval()
    before = _state(net)
    for name in NEW_PROXIES:
        torch.manual_seed(1)
        first = get_proxy(name)(net, x, y)
        torch.manual_seed(1)
        assert get_proxy(name)(net, x, y) == first and math.isfinite(first), (space_name, name)
        params, modes, inplace = _state(net)
        assert all(torch.equal(before[0][k], params[k]) for k in params), (space_name, name)
        assert modes == before[1] and inplace == before[2], (space_name, name)
        assert all(p.grad is None for p in net.parameters()), (space_name, name)
        assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


@pytest.mark.parametrize(
    "name, label",
    [
        ("expressivity", "expressivity (summed entropy, nats, higher is better)"),
        ("progressivity", "progressivity (entropy increase, nats, higher is better)"),
        ("trainability", "trainability (minus mean squared log gain, higher is better)"),
        ("meco", "meco (summed smallest eigenvalue, higher is better)"),
        ("zico", "zico (summed log gradient ratio, higher is better)"),
        ("kernel_depth", "kernel_depth (spatial convolutions, higher is better)"),
        ("shortcut_depth", "shortcut_depth (layers, lower is better)"),
    ],
)
def test_new_proxies_have_units_and_directions(name, label):
    assert proxy_label(name) == label
    assert proxy_unit(name) is not None and not uses_log_scale(name)


def test_every_registered_proxy_has_a_unit():
    assert [n for n in list_proxies() if proxy_unit(n) is None] == []
