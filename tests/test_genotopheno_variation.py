"""Variation operators: valid children, parents untouched, what each operator changes."""

from __future__ import annotations

import numpy as np
import pytest

from fne.genotopheno import get_space
from fne.genotopheno.channels import variation as vfne
from fne.genotopheno.channels.space import ChannelGenotype, ChannelSpace
from fne.genotopheno.darts import variation as vdarts
from fne.genotopheno.darts.genotype import NUM_INPUTS
from fne.genotopheno.darts.space import DartsSpace
from fne.genotopheno.nb201 import variation as vnb201
from fne.genotopheno.nb201.space import NB201Genotype
from fne.genotopheno.variation import get_variation, list_variations, register_variation

SPACES = {"nb201": lambda: get_space("nb201"), "darts": DartsSpace, "channels": ChannelSpace}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_every_operator_gives_valid_children_and_keeps_parents(name: str) -> None:
    space = SPACES[name]()
    ops = get_variation(space)
    rng = np.random.default_rng(0)
    pop = [space.sample(rng) for _ in range(8)]
    frozen = list(pop)
    for _ in range(60):
        a, b = pop[int(rng.integers(8))], pop[int(rng.integers(8))]
        for _, fn in ops.crossovers:
            space.validate(fn(space, a, b, rng))
        for _, fn in ops.mutations:
            space.validate(fn(space, a, rng))
    assert pop == frozen


@pytest.mark.parametrize("name", sorted(SPACES))
def test_variation_is_reproducible_from_the_seed(name: str) -> None:
    space = SPACES[name]()
    ops = get_variation(space)

    def chain(seed: int) -> list:
        rng = np.random.default_rng(seed)
        g = space.sample(rng)
        out = []
        for _ in range(10):
            g = ops.mutate(space, ops.crossover(space, g, space.sample(rng), rng), rng)
            out.append(space.format(g))
        return out

    assert chain(3) == chain(3)
    assert chain(3) != chain(4)


def test_nb201_uniform_crossover_takes_each_edge_from_a_parent() -> None:
    space = get_space("nb201")
    a = NB201Genotype.from_ops(["nor_conv_3x3"] * 6)
    b = NB201Genotype.from_ops(["skip_connect"] * 6)
    rng = np.random.default_rng(1)
    children = [vnb201.uniform_crossover(space, a, b, rng) for _ in range(50)]
    for child in children:
        assert all(op in ("nor_conv_3x3", "skip_connect") for op in child.ops)
    mixed = [c for c in children if len(set(c.ops)) == 2]
    assert len(mixed) > 40


def test_nb201_mutation_changes_exactly_one_edge() -> None:
    space = get_space("nb201")
    rng = np.random.default_rng(2)
    for _ in range(50):
        g = space.sample(rng)
        child = vnb201.mutate_op(space, g, rng)
        assert sum(x != y for x, y in zip(g.ops, child.ops, strict=False)) == 1


def test_darts_mutations_change_one_pair() -> None:
    space = DartsSpace()
    rng = np.random.default_rng(3)
    for _ in range(40):
        g = space.sample(rng)
        by_op = vdarts.mutate_op(space, g, rng)
        by_input = vdarts.mutate_input(space, g, rng)
        pairs = lambda x: list(x.normal) + list(x.reduce)  # noqa: E731
        op_diff = [(p, q) for p, q in zip(pairs(g), pairs(by_op), strict=False) if p != q]
        assert len(op_diff) == 1 and op_diff[0][0][1] == op_diff[0][1][1]
        assert op_diff[0][1][0] != "none"
        in_diff = [(i, p, q) for i, (p, q) in enumerate(zip(pairs(g), pairs(by_input), strict=False)) if p != q]
        assert len(in_diff) == 1
        i, old, new = in_diff[0]
        assert old[0] == new[0] and new[1] < NUM_INPUTS + (i % 8) // 2


def test_darts_crossover_takes_whole_nodes_from_a_parent() -> None:
    space = DartsSpace()
    rng = np.random.default_rng(4)
    mixed = 0
    for _ in range(30):
        a, b = space.sample(rng), space.sample(rng)
        child = vdarts.uniform_crossover(space, a, b, rng)
        for field in ("normal", "reduce"):
            nodes = [getattr(g, field) for g in (child, a, b)]
            sources = [[node[2 * j : 2 * j + 2] for node in nodes] for j in range(4)]
            assert all(c in (x, y) for c, x, y in sources)
            mixed += len({c == x for c, x, _ in sources}) == 2
    assert mixed > 20


def _repeated_inputs(g) -> list:
    """(cell, node, input) of every node whose two real (non-none) edges read the same input."""
    found = []
    for cell in ("normal", "reduce"):
        pairs = getattr(g, cell)
        for j in range(4):
            (op_a, in_a), (op_b, in_b) = pairs[2 * j], pairs[2 * j + 1]
            if in_a == in_b and "none" not in (op_a, op_b):
                found.append((cell, 2 + j, in_a))
    return found


@pytest.mark.parametrize("ops", [None, ("skip_connect", "sep_conv_3x3"), ("none", "skip_connect", "max_pool_3x3")])
def test_darts_variation_keeps_the_two_inputs_of_a_node_distinct(ops) -> None:
    space = DartsSpace(ops=ops)
    rng = np.random.default_rng(11)
    include_none = ops is not None and "none" in ops
    pop = [space.sample(rng, include_none=include_none) for _ in range(12)]
    pop += [space.canonical_genotype(g) for g in pop]  # none edges moved to input 0
    for _ in range(400):
        a, b = pop[int(rng.integers(len(pop)))], pop[int(rng.integers(len(pop)))]
        children = [
            vdarts.uniform_crossover(space, a, b, rng),
            vdarts.mutate_op(space, a, rng),
            vdarts.mutate_input(space, a, rng),
        ]
        for child in children:
            assert _repeated_inputs(child) == [], (space.format(a), space.format(child))
            space.validate(child)
        pop[int(rng.integers(len(pop)))] = children[int(rng.integers(3))]


def test_darts_mutate_input_never_gives_node_2_one_input_twice() -> None:
    space = DartsSpace()
    rng = np.random.default_rng(12)
    for _ in range(200):
        g = space.sample(rng)
        child = vdarts.mutate_input(space, g, rng)
        for field in ("normal", "reduce"):
            assert sorted(i for _, i in getattr(child, field)[:2]) == [0, 1]
        assert child != g


def _total(g: ChannelGenotype) -> int:
    return sum(sum(block) for block in g.edges)


def test_fne_channel_mutations_grow_and_shrink_by_one_unit() -> None:
    space = ChannelSpace()
    rng = np.random.default_rng(5)
    for _ in range(30):
        g = space.sample(rng)
        assert _total(vfne.grow_channels(space, g, rng)) == _total(g) + 1
        shrunk = vfne.shrink_channels(space, g, rng)
        assert _total(shrunk) == _total(g) - 1


def test_fne_node_mutations_change_the_node_count() -> None:
    space = ChannelSpace(max_nodes=6)
    rng = np.random.default_rng(6)
    for _ in range(30):
        g = space.sample(rng)
        grown = vfne.add_node(space, g, rng)
        assert grown.num_nodes == min(g.num_nodes + 1, 6)
        assert vfne.remove_node(space, g, rng).num_nodes == g.num_nodes - 1


def test_fne_min_crossover_keeps_only_shared_channels() -> None:
    space = ChannelSpace(ops=("skip_connect", "sep_conv_3x3"), max_nodes=3)
    a = space.parse("0|2  0|3  1|4")
    b = space.parse("1|1  0|5  0|2")
    child = vfne.min_crossover(space, a, b, np.random.default_rng(7))
    assert child == space.parse("0|1  0|3  0|2")


def test_fne_swap_blocks_permutes_edge_contents() -> None:
    space = ChannelSpace()
    rng = np.random.default_rng(8)
    for _ in range(20):
        g = space.sample(rng)
        child = vfne.swap_blocks(space, g, rng)
        assert sorted(child.edges) == sorted(g.edges)
        assert child != g


def test_custom_op_is_drawn_by_mutation() -> None:
    space = ChannelSpace(ops=("skip_connect", "sep_conv_3x3"))
    rng = np.random.default_rng(9)
    g = space.parse("1|0")
    seen = {vfne.mutate_op(space, g, rng) for _ in range(5)}
    assert seen == {space.parse("0|1")}


def test_registry_dispatch_and_errors() -> None:
    assert {"nb201", "darts", "channels"} <= set(list_variations())
    assert get_variation(get_space("nb201")).names == ["uniform", "op"]

    class Unknown:
        name = "no_such_space"

    with pytest.raises(ValueError, match="no variation operators registered for space 'no_such_space'"):
        get_variation(Unknown())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        register_variation("nb201", crossovers={"u": vnb201.uniform_crossover}, mutations={"m": vnb201.mutate_op})
    with pytest.raises(ValueError, match="at least one mutation"):
        register_variation("tmp_space", crossovers={"u": vnb201.uniform_crossover}, mutations={})
    with pytest.raises(ValueError, match="not callable"):
        register_variation(
            "tmp_space",
            crossovers={"u": 3},  # type: ignore[dict-item]
            mutations={"m": vnb201.mutate_op},
        )
