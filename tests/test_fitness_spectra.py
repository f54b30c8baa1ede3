"""Blocks, expressivity, progressivity and trainability (the AZ-NAS ideas)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fne.evolution.fitness import get_proxy
from fne.evolution.fitness.block_recording import feature_blocks, recorded_blocks
from fne.evolution.fitness.spectra import (
    block_entropies,
    block_gains,
    expressivity_score,
    feature_entropy,
    progressivity_score,
    trainability_score,
)


class Scale(nn.Module):
    """Multiplies its input by a fixed factor (a block of known gain)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv2d(3, 3, 1)  # a parameter, unused by forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


class Toy(nn.Module):
    """A stem, a sequence of cells and a linear head, like the spaces' networks."""

    def __init__(self, cells: nn.Sequential, channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.cells = cells
        self.classifier = nn.Linear(channels, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.cells(self.stem(x)).mean((2, 3)))


def conv_cells(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(
        *[
            nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels))
            for _ in range(count)
        ]
    )


@pytest.fixture
def images():
    return torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def test_feature_entropy_constant_isotropic_and_rank_one():
    gen = torch.Generator().manual_seed(1)
    assert feature_entropy(torch.ones(4, 6, 5, 5)) == 0.0
    assert feature_entropy(torch.ones(4, 6, 5, 5), standardise=True) == 0.0
    isotropic = torch.randn(64, 6, 16, 16, generator=gen)
    assert feature_entropy(isotropic) == pytest.approx(math.log(6), abs=0.01)
    rank_one = torch.randn(64, 1, 8, 8, generator=gen) * torch.arange(1.0, 7.0).view(1, 6, 1, 1)
    assert feature_entropy(rank_one) == pytest.approx(0.0, abs=1e-6)
    assert feature_entropy(rank_one, standardise=True) == pytest.approx(0.0, abs=1e-6)
    scaled = isotropic * torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 100.0]).view(1, 6, 1, 1)
    assert feature_entropy(scaled) < 0.5 < math.log(6) - 0.01 < feature_entropy(scaled, standardise=True)
    assert math.isnan(feature_entropy(torch.full((2, 3, 2, 2), math.nan)))


def test_blocks_are_stem_and_cells_and_hooks_go_away(images):
    torch.manual_seed(0)
    net = Toy(conv_cells(3, 2))
    assert feature_blocks(net) == [net.stem, net.cells[0], net.cells[1]]
    with recorded_blocks(net, detach=True) as record:
        net(images)
    assert len(record.calls) == 3
    assert all(i.is_leaf and i.requires_grad for call in record.calls for i in call.inputs)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    plain = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU(), nn.Linear(8, 2))
    assert feature_blocks(plain) == [plain[0]]


def test_expressivity_of_constant_features_is_lower(images):
    torch.manual_seed(0)
    net = Toy(conv_cells(3, 2))
    random_value = get_proxy("expressivity")(net, images, None)
    with torch.no_grad():
        for cell in net.cells:
            cell[1].weight.zero_()
            cell[1].bias.zero_()
    assert get_proxy("expressivity")(net, images, None) == pytest.approx(0.0, abs=1e-9)
    assert random_value > 0.5


def test_progressivity_is_the_smallest_step_and_expressivity_sums_cells():
    assert progressivity_score([("stem", 1.0), ("cell", 2.0), ("block", 2.5), ("cell", 4.0)]) == pytest.approx(0.5)
    assert progressivity_score([("stem", 1.0), ("cell", 0.2), ("cell", 3.0)]) == pytest.approx(-0.8)
    assert math.isnan(progressivity_score([("stem", 1.0)]))
    values = [("stem", 5.0), ("cell", 1.0), ("block", 7.0), ("cell", 2.0)]
    assert expressivity_score(values) == pytest.approx(3.0)
    assert expressivity_score(values, ("cell", "block")) == pytest.approx(10.0)
    assert math.isnan(expressivity_score([("stem", 5.0)]))


def test_progressivity_drops_when_a_late_block_collapses(images):
    torch.manual_seed(0)
    net = Toy(conv_cells(3, 2))
    before = block_entropies(net, images)
    with torch.no_grad():
        net.cells[1][1].weight.zero_()
    after = block_entropies(net, images)
    assert [k for k, _ in after] == ["stem", "cell", "cell"]
    assert [v for _, v in after[:2]] == pytest.approx([v for _, v in before[:2]])
    assert after[2][1] == pytest.approx(0.0, abs=1e-9)
    assert progressivity_score(after) < progressivity_score(before)


def test_block_gains_of_known_linear_blocks(images):
    torch.manual_seed(0)
    net = Toy(nn.Sequential(Scale(1.0), Scale(2.0), Scale(0.5)))
    gains = block_gains(net, images, torch.Generator().manual_seed(0))
    assert [k for k, _ in gains] == ["stem", "cell", "cell", "cell"]
    assert [v for _, v in gains[1:]] == pytest.approx([1.0, 2.0, 0.5], rel=1e-5)
    assert trainability_score(gains) == pytest.approx(-2 * math.log(2) ** 2 / 3, rel=1e-5)
    assert trainability_score([("stem", 9.0), ("cell", 1.0), ("block", 1.0)]) == 0.0
    assert trainability_score([("cell", 1.0), ("cell", 0.0)]) == -math.inf
    assert math.isnan(trainability_score([("stem", 1.0)]))


def test_trainability_prefers_gains_near_one(images):
    torch.manual_seed(0)
    steady = Toy(nn.Sequential(Scale(1.0), Scale(1.1)))
    torch.manual_seed(0)
    exploding = Toy(nn.Sequential(Scale(3.0), Scale(3.0)))
    proxy = get_proxy("trainability")
    assert proxy(steady, images, None) > proxy(exploding, images, None)


def test_block_gain_is_local_to_the_block(images):
    """The second cell's gain must not include the first cell's factor."""
    torch.manual_seed(0)
    net = Toy(nn.Sequential(Scale(5.0), Scale(1.0)))
    gains = block_gains(net, images, torch.Generator().manual_seed(0))
    assert gains[2][1] == pytest.approx(1.0, rel=1e-5)


def test_grown_input_scale_shrinks_normalised_paths(images):
    """A batch-normalised block is scale invariant, so its gain falls as 1 / input scale."""
    torch.manual_seed(0)
    net = Toy(conv_cells(3, 1))
    at_one = block_gains(net, images, torch.Generator().manual_seed(0), input_scale=1.0)[1][1]
    at_four = block_gains(net, images, torch.Generator().manual_seed(0), input_scale=4.0)[1][1]
    assert at_four == pytest.approx(at_one / 4.0, rel=1e-4)
