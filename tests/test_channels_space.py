"""Tests of the ``fne`` search space (channel-count encoding of cells)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from fne.genotopheno import ops as cell_operations
from fne.genotopheno.channels.space import (
    MAX_NODES_LIMIT,
    ChannelCell,
    ChannelGenotype,
    ChannelSpace,
    edge_index,
    edge_of_index,
    nodes_for_blocks,
)
from fne.genotopheno.space import get_space

EXAMPLE = "0|0|2|0|0|2|0|0  1|0|0|1|1|0|0|0  0|1|0|0|0|0|2|1"
SMALL = dict(C=4, num_cells=1, num_stages=2, channel_scale=2)


@pytest.fixture
def space() -> ChannelSpace:
    return ChannelSpace()


def _block(k: int, **counts: int) -> tuple:
    """A block of ``k`` zeros with ``counts`` at the given DARTS op names."""
    block = [0] * k
    for op, c in counts.items():
        block[cell_operations.DARTS_OPS.index(op)] = c
    return tuple(block)


def _cell(n: int, edges: dict) -> ChannelGenotype:
    """Genotype of ``n`` nodes from ``{(j, i): {op: count}}`` over the DARTS ops."""
    blocks = [_block(8, **edges.get((j, i), {})) for i in range(1, n) for j in range(i)]
    return ChannelGenotype(tuple(blocks))


def _random_relabel(g: ChannelGenotype, rng: np.random.Generator) -> ChannelGenotype:
    """Relabel intermediate nodes of ``g`` with a random topological order."""
    n = g.num_nodes
    order: list[int] = [0]
    remaining = set(range(1, n - 1))
    while remaining:
        ready = sorted(v for v in remaining if all(u in order for u in range(1, v) if any(g.edge(v, u))))
        pick = ready[int(rng.integers(0, len(ready)))]
        order.append(pick)
        remaining.remove(pick)
    order.append(n - 1)
    pos = {old: new for new, old in enumerate(order)}
    blocks = [(0,) * len(g.edges[0])] * len(g.edges)
    for i in range(1, n):
        for j in range(i):
            if any(g.edge(i, j)):
                assert pos[j] < pos[i]
                blocks[edge_index(pos[i], pos[j])] = g.edge(i, j)
    return ChannelGenotype(tuple(blocks))


# ---------------------------------------------------------------- encoding
def test_edge_index_is_triangular_order() -> None:
    pairs = [edge_of_index(b) for b in range(10)]
    assert pairs == [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2), (4, 0), (4, 1), (4, 2), (4, 3)]
    assert all(edge_index(i, j) == b for b, (i, j) in enumerate(pairs))
    assert [nodes_for_blocks(b) for b in range(8)] == [None, 2, None, 3, None, None, 4, None]


def test_example_round_trip_and_contents(space: ChannelSpace) -> None:
    g = space.parse(EXAMPLE)
    assert space.format(g) == EXAMPLE
    assert g.num_nodes == 3
    assert g.edge(1, 0) == (0, 0, 2, 0, 0, 2, 0, 0)
    assert g.edge(2, 1) == (0, 1, 0, 0, 0, 0, 2, 1)
    assert g.node_channels(1) == 4 and g.node_channels(2) == 3 + 4
    assert hash(g) == hash(space.parse(EXAMPLE)) and g == space.parse(EXAMPLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.edges = ()  # frozen


def test_registered_under_fne() -> None:
    s = get_space("channels", max_nodes=4)
    assert isinstance(s, ChannelSpace) and s.name == "channels" and s.max_nodes == 4
    assert s.ops == cell_operations.DARTS_OPS


def test_sampled_round_trip_and_properties(space: ChannelSpace) -> None:
    rng = np.random.default_rng(0)
    sizes, zeros, total = set(), 0, 0
    for _ in range(50):
        g = space.sample(rng)
        space.validate(g)
        text = space.format(g)
        assert space.parse(text) == g and space.format(space.parse(text)) == text
        assert 3 <= g.num_nodes <= space.max_nodes
        assert all(g.live_nodes()), text
        assert max(max(b) for b in g.edges) <= space.max_channels
        sizes.add(g.num_nodes)
        zeros += sum(c == 0 for b in g.edges for c in b)
        total += sum(len(b) for b in g.edges)
    assert len(sizes) >= 3
    assert zeros / total > 0.75


def test_sample_is_reproducible(space: ChannelSpace) -> None:
    a = [space.sample(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    assert space.sample(np.random.default_rng(8)) != a[0] or space.sample(np.random.default_rng(9)) != a[0]


def test_sample_respects_small_bounds() -> None:
    s = ChannelSpace(ops=["skip_connect", "nor_conv_3x3"], max_nodes=3, max_channels=2)
    rng = np.random.default_rng(1)
    for _ in range(20):
        g = s.sample(rng)
        assert g.num_nodes == 3 and max(max(b) for b in g.edges) <= 2


# -------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "edges, needle",
    [
        ([(0,) * 8, (0,) * 8], "triangular"),
        ([(0,) * 7], "7 counts"),
        ([(0,) * 7 + (-1,)], "-1"),
        ([(0,) * 7 + (1.5,)], "1.5"),
        ([(0,) * 7 + (True,)], "True"),
        ([(0,) * 7 + (9,)], "max_channels"),
        ([(0, 0, 0, 1, 0, 0, 0, 0), (0,) * 8, (0,) * 8], "output node 2 receives nothing"),
        ([(0,) * 8] * 21, "max_nodes"),
    ],
)
def test_validate_rejects(space: ChannelSpace, edges: list, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        space.validate(ChannelGenotype(tuple(edges)))


def test_validate_rejects_other_types(space: ChannelSpace) -> None:
    with pytest.raises(ValueError, match="ChannelGenotype"):
        space.validate(EXAMPLE)
    with pytest.raises(ValueError, match="sequence"):
        ChannelGenotype(3)


def test_output_fed_only_through_unfed_node_is_invalid(space: ChannelSpace) -> None:
    g = _cell(3, {(1, 2): {"skip_connect": 1}})  # node 1 receives nothing
    assert g.fed_nodes() == (True, False, False)
    with pytest.raises(ValueError, match="receives nothing"):
        space.validate(g)


def test_unfed_and_dead_nodes_are_valid_and_ignored(space: ChannelSpace) -> None:
    g = _cell(
        5,
        {
            (0, 1): {"sep_conv_3x3": 2},  # 1: dead (no way to the output)
            (2, 3): {"skip_connect": 1},  # 2: unfed; its edge to 3 is ignored
            (0, 3): {"dil_conv_3x3": 1},
            (3, 4): {"max_pool_3x3": 3},
        },
    )
    space.validate(g)
    assert g.fed_nodes() == (True, True, False, True, True)
    assert g.live_nodes() == (True, False, False, True, True)
    assert g.node_channels(2) == 0 and g.node_channels(3) == 1
    assert g.pruned() == _cell(3, {(0, 1): {"dil_conv_3x3": 1}, (1, 2): {"max_pool_3x3": 3}})
    cell = ChannelCell(g, space.ops, 4, 6, reduction=False, channel_scale=2)
    assert cell.node_widths == [4, 2, 6]
    assert cell(torch.randn(1, 4, 5, 5)).shape == (1, 6, 5, 5)


def test_space_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="no_such_op"):
        ChannelSpace(ops=["skip_connect", "no_such_op"])
    with pytest.raises(ValueError, match="distinct"):
        ChannelSpace(ops=["skip_connect", "skip_connect"])
    with pytest.raises(ValueError, match="at least one"):
        ChannelSpace(ops=[])
    with pytest.raises(ValueError, match="max_nodes"):
        ChannelSpace(max_nodes=1)
    with pytest.raises(ValueError, match="max_channels"):
        ChannelSpace(max_channels=0)


# ------------------------------------------------------------- parse errors
GOOD = "0|0|2|0|0|2|0|0"


@pytest.mark.parametrize(
    "text, needles",
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("0|0|x|0|0|2|0|0", ["'x'", "block 1 (edge 0->1)", "count 3", "avg_pool_3x3"]),
        ("0|0|2|0|0|2|0|0  1|0|0|-1|1|0|0|0  " + GOOD, ["'-1'", "negative", "block 2 (edge 0->2)", "count 4"]),
        ("0|0|2|0|0|2|0|0  " * 2 + "0|1|0|0|0|0|2", ["block 3 (edge 1->2)", "7 counts", "expected 8"]),
        (GOOD + "  " + GOOD, ["2 blocks", "triangular"]),
        (GOOD + " " + GOOD + "  " + GOOD, ["block 1", "whitespace", "two spaces"]),
        (GOOD + "   " + GOOD + "  " + GOOD, ["block 2", "whitespace"]),
        (GOOD + "    " + GOOD + "  " + GOOD, ["block 2", "empty"]),
        ("0||2|0|0|2|0|0", ["''", "count 2"]),
        ("0|0|02|0|0|2|0|0", ["'02'", "leading zero"]),
        ("0|0|+2|0|0|2|0|0", ["'+2'", "count 3"]),
        ("0|0|2.0|0|0|2|0|0", ["'2.0'"]),
        ("0|0|9|0|0|2|0|0", ["max_channels", "count 3"]),
    ],
)
def test_malformed_text_names_the_problem(space: ChannelSpace, text: str, needles: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        space.parse(text)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_parse_tolerates_surrounding_whitespace(space: ChannelSpace) -> None:
    assert space.parse("  " + EXAMPLE + "\n") == space.parse(EXAMPLE)


# ---------------------------------------------------------------- canonical
def test_canonical_merges_relabelled_cells(space: ChannelSpace) -> None:
    a = _cell(
        4,
        {
            (0, 1): {"sep_conv_3x3": 2},
            (0, 2): {"max_pool_3x3": 1},
            (1, 3): {"skip_connect": 1},
            (2, 3): {"dil_conv_5x5": 3},
        },
    )
    b = _cell(
        4,
        {
            (0, 2): {"sep_conv_3x3": 2},
            (0, 1): {"max_pool_3x3": 1},
            (2, 3): {"skip_connect": 1},
            (1, 3): {"dil_conv_5x5": 3},
        },
    )
    assert a != b
    assert space.canonical(a) == space.canonical(b)
    assert space.canonical(space.format(a)) == space.canonical(a)
    c = space.canonical_genotype(a)
    assert c in (a, b) and space.canonical(c) == space.canonical(a)


def test_canonical_drops_dead_nodes(space: ChannelSpace) -> None:
    base = _cell(3, {(0, 1): {"sep_conv_3x3": 2}, (1, 2): {"skip_connect": 1}})
    extra = _cell(
        4, {(0, 2): {"sep_conv_3x3": 2}, (2, 3): {"skip_connect": 1}, (0, 1): {"avg_pool_3x3": 4}}
    )  # node 1 is dead
    assert space.canonical(extra) == space.canonical(base) == space.format(base)


def test_canonical_keeps_different_cells_apart(space: ChannelSpace) -> None:
    a = _cell(3, {(0, 1): {"sep_conv_3x3": 2}, (1, 2): {"skip_connect": 1}})
    other_op = _cell(3, {(0, 1): {"sep_conv_5x5": 2}, (1, 2): {"skip_connect": 1}})
    other_count = _cell(3, {(0, 1): {"sep_conv_3x3": 3}, (1, 2): {"skip_connect": 1}})
    other_wiring = _cell(3, {(0, 1): {"sep_conv_3x3": 2}, (0, 2): {"skip_connect": 1}})
    keys = {space.canonical(g) for g in (a, other_op, other_count, other_wiring)}
    assert len(keys) == 4


def test_canonical_invariant_under_random_relabelling() -> None:
    s = ChannelSpace(max_nodes=8)
    rng = np.random.default_rng(3)
    for _ in range(20):
        g = s.sample(rng)
        h = _random_relabel(g, rng)
        s.validate(h)
        assert s.canonical(h) == s.canonical(g)


def test_canonical_fast_on_eight_nodes_with_free_order() -> None:
    s = ChannelSpace(max_nodes=8)
    edges = {(0, i): {"sep_conv_3x3": i} for i in range(1, 7)}
    edges.update({(i, 7): {"skip_connect": 1} for i in range(1, 7)})
    g = _cell(8, edges)  # six independent intermediates: 720 orders
    c = s.canonical_genotype(g)
    assert [c.edge(i, 0)[4] for i in range(1, 7)] == [1, 2, 3, 4, 5, 6]
    assert s.canonical(_random_relabel(g, np.random.default_rng(0))) == s.format(c)


def _isomorphism_key(g: ChannelGenotype) -> tuple:
    """A complete invariant by brute force: the smallest edges tuple over all topological orders."""
    p = g.pruned()
    n = p.num_nodes
    best = None
    for perm in itertools.permutations(range(1, n - 1)):
        order = [0, *perm, n - 1]
        pos = {v: k for k, v in enumerate(order)}
        if all(pos[j] < pos[i] for i in range(1, n) for j in range(i) if any(p.edge(i, j))):
            edges = tuple(
                p.edge(order[b], order[a]) if order[a] < order[b] else (0,) * len(p.edges[0])
                for b in range(1, n)
                for a in range(b)
            )
            best = edges if best is None or edges < best else best
    return best


def _random_cell(rng: np.random.Generator, n: int, density: float, counts: list[int]) -> ChannelGenotype:
    """A random valid two-op cell of ``n`` nodes with few distinct counts (many ties)."""
    while True:
        blocks = []
        for _ in range(n * (n - 1) // 2):
            block = [0, 0]
            if rng.random() < density:
                block[int(rng.integers(2))] = int(rng.choice(counts))
            blocks.append(tuple(block))
        g = ChannelGenotype(tuple(blocks))
        if g.fed_nodes()[-1]:
            return g


def test_canonical_is_a_complete_invariant() -> None:
    """Equal keys exactly for isomorphic cells (checked against brute force on small cells)."""
    s = ChannelSpace(ops=("skip_connect", "sep_conv_3x3"), max_nodes=7, max_channels=2)
    rng = np.random.default_rng(21)
    keys_by_class: dict = {}
    for _t in range(400):
        g = _random_cell(rng, int(rng.integers(3, 8)), float(rng.choice([0.2, 0.4, 0.7])), [1, 1, 2])
        key = s.canonical(g)
        assert s.canonical(_random_relabel(g, rng)) == key
        assert _isomorphism_key(s.parse(key)) == _isomorphism_key(g)
        keys_by_class.setdefault(_isomorphism_key(g), set()).add(key)
    assert all(len(keys) == 1 for keys in keys_by_class.values())
    assert len(keys_by_class) > 150


def _worst_case_cell(n: int) -> ChannelGenotype:
    """Intermediate nodes without edges between them, alike but for their edge to the output."""
    edges = {(0, i): {"sep_conv_3x3": 1} for i in range(1, n - 1)}
    edges.update({(i, n - 1): {"skip_connect": i} for i in range(1, n - 1)})
    return _cell(n, edges)


def _cycle_cell(m: int) -> ChannelGenotype:
    """0 -> a_1..a_m -> b_1..b_m -> output, b_i reading a_i and a_(i+1): a symmetric cell."""
    edges = {(0, a): {"sep_conv_3x3": 1} for a in range(1, m + 1)}
    for i in range(m):
        b = m + 1 + i
        edges.update(
            {
                (1 + i, b): {"skip_connect": 1},
                (1 + (i + 1) % m, b): {"skip_connect": 1},
                (b, 2 * m + 1): {"max_pool_3x3": 1},
            }
        )
    return _cell(2 * m + 2, edges)


def test_canonical_at_the_node_cap() -> None:
    n = MAX_NODES_LIMIT
    s = ChannelSpace(max_nodes=n, max_channels=n)
    worst = _worst_case_cell(n)  # (n - 2)! topological orders, all equal but for the output row
    c = s.canonical_genotype(worst)
    skip = cell_operations.DARTS_OPS.index("skip_connect")
    assert [c.edge(n - 1, i)[skip] for i in range(1, n - 1)] == list(range(1, n - 1))
    assert all(c.edge(i, 0) == worst.edge(1, 0) for i in range(1, n - 1))
    rng = np.random.default_rng(4)
    for g in (worst, _cycle_cell((n - 2) // 2)):
        key = s.canonical(g)
        for _ in range(5):
            assert s.canonical(_random_relabel(g, rng)) == key
        assert s.canonical(s.parse(key)) == key and sorted(s.parse(key).edges) == sorted(g.edges)


def test_max_nodes_is_capped() -> None:
    assert ChannelSpace(max_nodes=MAX_NODES_LIMIT).max_nodes == MAX_NODES_LIMIT
    with pytest.raises(
        ValueError, match=f"max_nodes={MAX_NODES_LIMIT + 1} is above the cap of {MAX_NODES_LIMIT} nodes"
    ):
        ChannelSpace(max_nodes=MAX_NODES_LIMIT + 1)
    with pytest.raises(ValueError, match="max_nodes must be an int"):
        ChannelSpace(max_nodes=True)


# -------------------------------------------------------------------- build
def test_build_forward_backward(space: ChannelSpace) -> None:
    torch.manual_seed(0)
    net = space.build(EXAMPLE, num_classes=10, **SMALL)
    x = torch.randn(2, 3, 32, 32)
    out = net(x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.square().mean().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    assert any(gr.abs().sum() > 0 for gr in grads)
    assert EXAMPLE in str(net)


def test_build_layout_and_widths(space: ChannelSpace) -> None:
    g = space.parse(EXAMPLE)
    net = space.build(g, C=4, num_cells=2, num_stages=3, channel_scale=3, in_channels=1, num_classes=5)
    cells = list(net.cells)
    assert len(cells) == 3 * 2 + 2
    assert [c.reduction for c in cells] == [False, False, True, False, False, True, False, False]
    assert [c.C_out for c in cells] == [4, 4, 8, 8, 8, 16, 16, 16]
    assert cells[0].node_widths == [4, 3 * 4, 3 * 7]
    assert sum(len(m) for m in cells[0].nodes) == sum(c > 0 for b in g.edges for c in b)
    assert net(torch.randn(1, 1, 16, 16)).shape == (1, 5)


def test_reduction_cell_halves_resolution(space: ChannelSpace) -> None:
    cell = ChannelCell(space.parse(EXAMPLE), space.ops, 4, 8, reduction=True, channel_scale=2)
    assert cell(torch.randn(2, 4, 9, 9)).shape == (2, 8, 5, 5)


def test_build_rejects_bad_sizes(space: ChannelSpace) -> None:
    with pytest.raises(ValueError, match="channel_scale"):
        space.build(EXAMPLE, channel_scale=0)
    with pytest.raises(ValueError, match="count"):
        space.build("0|0|x|0|0|2|0|0")


# ----------------------------------------------------------------- user ops
@pytest.fixture
def my_op() -> Iterator[str]:
    name = "fne_test_my_op"

    @cell_operations.register_op(name)
    def _factory(C_in: int, C_out: int, stride: int, affine: bool) -> nn.Module:
        return nn.Sequential(nn.Conv2d(C_in, C_out, 1, stride, bias=False), nn.BatchNorm2d(C_out, affine=affine))

    try:
        yield name
    finally:
        cell_operations.unregister_op(name)


def test_user_registered_op(my_op: str) -> None:
    s = ChannelSpace(ops=["skip_connect", my_op])
    g = s.parse("0|2  1|0  0|3")
    net = s.build(g, **SMALL)
    (op,) = net.cells[0].nodes[0]
    assert isinstance(op, nn.Sequential) and op[0].kernel_size == (1, 1) and op[0].out_channels == 2 * 2
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    assert "0|2  1|0  0|3" in str(net)


@pytest.mark.parametrize("token", ["\u0663", "\u00b2", "\uff11", "-\u0663", "1\u0660"])
def test_counts_must_be_ascii_digits(space: ChannelSpace, token: str) -> None:
    with pytest.raises(ValueError) as info:
        space.parse(f"0|0|{token}|0|0|2|0|0")
    message = str(info.value)
    assert repr(token) in message and "block 1 (edge 0->1), count 3" in message
    assert "ASCII" in message and "is negative" not in message
