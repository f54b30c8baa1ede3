"""DARTS tournament: the supernet mixes the cells, alphas learn, results are reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fne.evolution.tournament import DartsTournament, Supernet, build_supernet
from fne.genotopheno import get_space
from fne.genotopheno.nb201.space import NB201Genotype

TINY = {"C": 4, "N": 1}


pytestmark = pytest.mark.usefixtures("one_thread")


def colour_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8x8 images whose class (0..2) is the brightest colour channel: easy to learn."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=gen)
    x = torch.randn(n, 3, 8, 8, generator=gen) * 0.5
    x[torch.arange(n), y] += 1.5
    return x, y


def cells(*ops: str) -> list:
    return [NB201Genotype.from_ops([op] * 6) for op in ops]


def test_supernet_mixes_the_candidates_logits() -> None:
    space = get_space("nb201")
    net = build_supernet(space, cells("nor_conv_3x3", "skip_connect", "avg_pool_3x3"), seed=0, build_kwargs=TINY)
    assert len(net.candidates) == 3 and net.alphas.shape == (3,)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        net.alphas.copy_(torch.tensor([0.0, 50.0, 0.0]))
        net.eval()
        np.testing.assert_allclose(net(x).numpy(), net.candidates[1](x).numpy(), rtol=1e-5, atol=1e-6)
        net.alphas.zero_()
    net.train()
    out = net(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert net.alphas.grad is not None and net.alphas.grad.abs().sum() > 0
    assert all(p is not net.alphas for p in net.weight_parameters())
    assert len(net.weight_parameters()) == sum(len(list(c.parameters())) for c in net.candidates)


def test_supernet_needs_two_candidates() -> None:
    space = get_space("nb201")
    with pytest.raises(ValueError, match="at least 2"):
        Supernet([space.build(cells("nor_conv_3x3")[0], **TINY)])


def tournament(**kw) -> DartsTournament:
    args = dict(
        train=colour_data(256, 1),
        val=colour_data(128, 2),
        size=2,
        keep=1,
        steps=25,
        batch_size=16,
        build_kwargs=dict(TINY, num_classes=3),
    )
    args.update(kw)
    return DartsTournament(**args)


@pytest.mark.parametrize("weight_loss", ["each", "mixture"])
def test_the_cell_that_can_learn_wins(weight_loss: str) -> None:
    space = get_space("nb201")
    candidates = cells("none", "nor_conv_3x3")  # an all-none cell cuts the input off
    result = tournament(weight_loss=weight_loss).run(space, candidates, torch.Generator().manual_seed(0))
    assert result.winners == (1,)
    assert result.weights[1] > 0.55 and abs(result.weights.sum() - 1) < 1e-6


def test_alpha_step_moves_only_the_alphas_and_weight_step_only_the_weights() -> None:
    space = get_space("nb201")
    net = build_supernet(space, cells("nor_conv_3x3", "skip_connect"), seed=0, build_kwargs=dict(TINY, num_classes=3))
    t = tournament()
    batch = colour_data(16, 3)
    before = [p.detach().clone() for p in net.weight_parameters()]
    t._alpha_step(net, torch.optim.Adam([net.alphas], lr=0.1), batch)
    assert net.alphas.abs().sum() > 0
    assert all(torch.equal(a, p) for a, p in zip(before, net.weight_parameters(), strict=False))
    alphas = net.alphas.detach().clone()
    opt = torch.optim.SGD(net.weight_parameters(), lr=0.1)
    t._weight_step(net, net.weight_parameters(), opt, batch)
    assert torch.equal(alphas, net.alphas)
    assert any(not torch.equal(a, p) for a, p in zip(before, net.weight_parameters(), strict=False))


def test_reproducible_and_leaves_global_rng_alone() -> None:
    space = get_space("nb201")
    candidates = cells("nor_conv_1x1", "avg_pool_3x3", "skip_connect")
    before = torch.get_rng_state()
    t = tournament(size=3, steps=5)
    a = t.run(space, candidates, torch.Generator().manual_seed(7))
    b = t.run(space, candidates, torch.Generator().manual_seed(7))
    assert torch.equal(before, torch.get_rng_state())
    np.testing.assert_array_equal(a.weights, b.weights)
    c = t.run(space, candidates, torch.Generator().manual_seed(8))
    assert not np.array_equal(a.weights, c.weights)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"size": 1}, "size must be an int >= 2"),
        ({"keep": 2}, "keep must be in 1..size-1"),
        ({"steps": 0}, "steps must be a positive int"),
        ({"alpha_lr": 0.0}, "alpha_lr must be positive"),
        ({"weight_loss": "sum"}, "weight_loss must be one of"),
        ({"train": (torch.zeros(3, 3, 8, 8), torch.zeros(2))}, "train must be images"),
    ],
)
def test_bad_arguments(kw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tournament(**kw)


def test_a_settled_each_tournament_stops_early_and_says_so() -> None:
    space = get_space("nb201")
    candidates = cells("none", "nor_conv_3x3")
    full = tournament(weight_loss="each", steps=40, chunk=5)
    result = full.run(space, candidates, torch.Generator().manual_seed(0))
    assert result.steps == 40 and len(result.trace) == 8
    settled = tournament(weight_loss="each", steps=40, chunk=5, settle=2, settle_weight=0.55)
    early = settled.run(space, candidates, torch.Generator().manual_seed(0))
    assert early.winners == (1,) and early.steps < 40
    assert list(early.trace) == list(result.trace[: len(early.trace)])  # the same run, cut short
