"""The interface every registered search space honours (a new space is tested for free)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fne.genotopheno import get_space, list_spaces

SMALL = {"nb201": {"C": 4, "N": 1}, "darts": {"C": 4, "layers": 3}, "channels": {"C": 4, "num_cells": 1}}


@pytest.fixture(params=list_spaces())
def space(request):
    return get_space(request.param)


def test_samples_round_trip_and_validate(space) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        g = space.sample(rng)
        space.validate(g)
        text = space.format(g)
        assert space.parse(text) == g
        assert space.format(space.parse(text)) == text
        assert space.canonical(g) == space.canonical(space.parse(text))
        hash(g)


def test_sampling_is_seeded(space) -> None:
    a = [space.sample(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]


def test_ops_are_registered(space) -> None:
    from fne.genotopheno import list_ops

    assert set(space.ops) <= set(list_ops())


def test_build_shows_genotype_and_runs(space) -> None:
    torch.manual_seed(0)
    g = space.sample(np.random.default_rng(1))
    net = space.build(g, num_classes=5, **SMALL.get(space.name, {}))
    assert space.format(g) in repr(net)
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 5) and torch.isfinite(out).all()
    out.sum().backward()


@pytest.mark.parametrize("text", ["", "   ", "garbage ~|~ text", "Genotype(", "1|2  3"])
def test_garbage_rejected(space, text: str) -> None:
    with pytest.raises(ValueError):
        space.parse(text)


def test_build_and_canonical_take_genotype_text(space) -> None:
    g = space.sample(np.random.default_rng(2))
    text = space.format(g)
    assert space.coerce(text) == g and space.coerce(g) is g
    assert space.canonical(text) == space.canonical(g)
    torch.manual_seed(0)
    from_value = space.build(g, num_classes=3, **SMALL.get(space.name, {}))
    torch.manual_seed(0)
    from_text = space.build(text, num_classes=3, **SMALL.get(space.name, {}))
    assert repr(from_text) == repr(from_value)
    x = torch.randn(2, 3, 32, 32)
    from_value.eval()
    from_text.eval()
    with torch.no_grad():
        assert torch.equal(from_text(x), from_value(x))
    with pytest.raises(ValueError):
        space.build("garbage ~|~ text", num_classes=3, **SMALL.get(space.name, {}))


def test_build_checks_the_shared_arguments_and_moves_to_the_device(space) -> None:
    g = space.sample(np.random.default_rng(3))
    small = SMALL.get(space.name, {})
    for name, value in [("num_classes", 0), ("num_classes", True), ("in_channels", -1), ("in_channels", 2.0)]:
        with pytest.raises(ValueError, match=f"{name} must be a positive int, got {value!r}"):
            space.build(g, **{name: value}, **small)
    with pytest.raises(ValueError, match=rf"unexpected build arguments for {space.name}: \['not_a_size'\]"):
        space.build(g, not_a_size=1, **small)
    net = space.build(g, num_classes=4, in_channels=1, device="cpu", **small)
    assert all(p.device.type == "cpu" for p in net.parameters())
    assert net(torch.randn(2, 1, 32, 32)).shape == (2, 4)


def test_every_space_declares_its_network_sizes(space) -> None:
    from fne.genotopheno.space import PRESETS

    g = space.sample(np.random.default_rng(1))
    params = {}
    for size in ("score", "tournament"):
        net = space.build(g, **space.preset(size))
        out = net(torch.randn(2, 3, 32, 32))
        assert out.shape == (2, 10)
        params[size] = sum(p.numel() for p in net.parameters())
    full = sum(p.numel() for p in space.build(g, **space.preset("full")).parameters())
    assert full >= params["tournament"] >= params["score"] > 0
    assert set(type(space).presets) == set(PRESETS)
    space.preset("score")["C"] = -1 if "C" in space.preset("score") else None
    assert space.preset("score") == dict(type(space).presets["score"])  # a copy each time
    with pytest.raises(ValueError, match="unknown network size 'huge'; sizes: score, tournament, full"):
        space.preset("huge")


def test_the_search_and_plot_scores_score_a_cell_on_the_same_network(space) -> None:
    from fne.evolution.fitness import Scorer
    from fne.genotopheno.space import get_space_class
    from fne.search.config import SearchConfig

    x, y = torch.randn(4, 3, 32, 32), torch.arange(4)
    config = SearchConfig(space=space.name)
    scorer = Scorer(space, ("params",), inputs=x, targets=y, device="cpu")
    assert (
        config.network_kwargs()
        == get_space_class(space.name).preset("score")
        == scorer.build_kwargs
        == space.preset("score")
    )
    assert config.tournament_network_kwargs() == space.preset("tournament")
