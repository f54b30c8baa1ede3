"""Path depths of the computation graph: ``kernel_depth`` and ``shortcut_depth`` against counts
made by hand on the cell and on small networks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fne.evolution.fitness import get_proxy
from fne.genotopheno import get_space

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"

# cell -> (most 3x3 convolutions on one path through the cell, fewest convolutions or poolings)
CELLS = {
    ALL_SKIP: (0, 0),
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|": (3, 0),
    "|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|": (1, 1),
    "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|": (3, 3),
    "|nor_conv_1x1~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|": (0, 1),
}


def _depths(text: str, live: bool = True, N: int = 1) -> tuple[float, float]:
    space = get_space("nb201")
    genotype = space.parse(text)
    torch.manual_seed(0)
    net = space.build(space.live(genotype) if live else genotype, C=4, N=N)
    x, y = torch.randn(3, 3, 16, 16), torch.zeros(3, dtype=torch.long)
    return get_proxy("kernel_depth")(net, x, y), get_proxy("shortcut_depth")(net, x, y)


@pytest.mark.parametrize("N", [1, 2])
@pytest.mark.parametrize("text", list(CELLS))
def test_each_cell_adds_its_own_path_counts(text: str, N: int) -> None:
    """Every one of the 3N cells of the stack adds the cell's own counts to the network's."""
    kernel, shortcut = _depths(text, N=N)
    base_kernel, base_shortcut = _depths(ALL_SKIP, N=N)
    most, fewest = CELLS[text]
    assert kernel - base_kernel == 3 * N * most
    assert shortcut - base_shortcut == 3 * N * fewest


@pytest.mark.parametrize("text", list(CELLS))
def test_none_ops_end_paths(text: str) -> None:
    """A network built with its ``none`` ops (multiplications by zero) counts as its live form."""
    assert _depths(text, live=False) == _depths(text, live=True)


def test_small_networks_counted_by_hand() -> None:
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.body(x)

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 1), Residual(), nn.AvgPool2d(2), nn.Conv2d(4, 4, 5), nn.Flatten(), nn.LazyLinear(2)
    )
    x, y = torch.randn(2, 3, 12, 12), torch.zeros(2, dtype=torch.long)
    net(x)
    # longest: the two 3x3 of the residual body and the 5x5; shortest: 1x1, pool, 5x5, linear
    assert get_proxy("kernel_depth")(net, x, y) == 3
    assert get_proxy("shortcut_depth")(net, x, y) == 4


def test_output_without_input_scores_nan() -> None:
    class Constant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.bias.expand(x.shape[0], 2) * 1.0

    x, y = torch.randn(2, 3, 8, 8), torch.zeros(2, dtype=torch.long)
    assert math.isnan(get_proxy("kernel_depth")(Constant(), x, y))
    assert math.isnan(get_proxy("shortcut_depth")(Constant(), x, y))


def test_directions_and_units() -> None:
    assert get_proxy("kernel_depth").higher_is_better
    assert not get_proxy("shortcut_depth").higher_is_better
    assert get_proxy("kernel_depth").unit and get_proxy("shortcut_depth").unit


def test_the_two_depths_share_one_forward_pass_per_network_and_batch() -> None:
    """Scoring one cell with both proxies runs the network once; another batch or network runs it again."""
    calls = []

    class Counted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.head = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(1)
            return self.head(self.conv(x).mean((2, 3)))

    net, x, y = Counted(), torch.randn(2, 3, 8, 8), torch.tensor([0, 1])
    assert (get_proxy("kernel_depth")(net, x, y), get_proxy("shortcut_depth")(net, x, y)) == (1, 2)
    assert len(calls) == 1
    get_proxy("kernel_depth")(net, x.clone(), y)
    get_proxy("kernel_depth")(Counted(), x, y)
    assert len(calls) == 3
