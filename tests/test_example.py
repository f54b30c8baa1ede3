"""The custom-op example: a newly registered op is evolved like the built-in ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import load_script
from fne.genotopheno import get_space, list_ops

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_op_evolution.py"


pytestmark = pytest.mark.usefixtures("one_thread")


def load_example():
    return load_script(EXAMPLE, "custom_op_evolution")


def test_custom_op_is_registered_and_evolved() -> None:
    example = load_example()
    assert example.OP_NAME in list_ops()
    result = example.run_example(generations=2, pop_size=4, seed=1)
    space = get_space("channels", ops=("skip_connect", "sep_conv_3x3", example.OP_NAME), max_nodes=4, max_channels=4)
    cells = [space.parse(entry["arch"]) for entry in result.front]
    k = space.ops.index(example.OP_NAME)
    assert any(block[k] > 0 for cell in cells for block in cell.edges)
    assert result.evaluations == 4 + 2 * 4
    net = space.build(space.parse(result.best["arch"]), C=4, num_cells=1, num_stages=2, channel_scale=1)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_example_can_be_loaded_twice() -> None:
    load_example()
    load_example()
    assert list_ops().count(load_example().OP_NAME) == 1
