"""NB201 space: round trip, canonical keys, exact parameter counts, bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from fne.genotopheno import NB201Genotype, get_space, list_spaces
from fne.genotopheno.nb201.space import NB201Cell

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


@pytest.fixture(scope="module")
def rows(nb201_csv: Path) -> list[dict[str, str]]:
    with open(nb201_csv, newline="") as fh:
        return list(csv.DictReader(fh))


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_registered() -> None:
    assert "nb201" in list_spaces()


def test_all_rows_round_trip_and_unique_count(space, rows) -> None:
    assert len(rows) == 15625
    keys = set()
    for row in rows:
        g = space.parse(row["arch_str"])
        assert space.format(g) == row["arch_str"]
        assert space.parse(space.format(g)) == g
        keys.add(space.canonical(g))
    assert len(keys) == 6466


def test_enumeration_covers_space(space, rows) -> None:
    every = space.all_genotypes()
    assert len(every) == 15625 == len(set(every))
    assert {space.format(g) for g in every} == {row["arch_str"] for row in rows}


def test_param_counts_equal_benchmark(space, rows) -> None:
    """Network count = fixed parts + 5 cells per stage; checked in full on a sample, then on every row."""
    with_params = [row for row in rows if row["c10_params"]]
    assert len(with_params) == 9445
    empty = n_params(space.build(space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")))
    rng = np.random.default_rng(0)
    for i in rng.choice(len(with_params), size=40, replace=False):
        g = space.parse(with_params[i]["arch_str"])
        cells = sum(n_params(NB201Cell(g, width)) for width in (16, 32, 64))
        assert n_params(space.build(g)) == empty + 5 * cells
    for row in with_params:
        g = space.parse(row["arch_str"])
        cells = sum(n_params(NB201Cell(g, width)) for width in (16, 32, 64))
        assert empty + 5 * cells == round(float(row["c10_params"]) * 1e6), row["arch_str"]


def test_canonical_merges_isomorphic_cells(space) -> None:
    a = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|skip_connect~2|")
    b = space.parse("|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|skip_connect~2|")
    c = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|skip_connect~2|")
    # node 1 is dead in a and b (its only way out is a none edge), so they compute the same function
    assert space.canonical(a) == space.canonical(b)
    assert space.canonical(a) != space.canonical(space.parse(BEST))
    d = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    e = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|none~2|")
    assert space.canonical(d) != space.canonical(e)
    assert space.canonical(c) != space.canonical(a)


def test_live_form_drops_dead_edges_only(space) -> None:
    dead_node = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|skip_connect~2|")
    assert str(space.live(dead_node)) == "|none~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|skip_connect~2|"
    zero_source = space.parse("|none~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|")
    assert str(space.live(zero_source)) == "|none~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|skip_connect~2|"
    assert space.live(space.parse(BEST)) == space.parse(BEST)
    nothing = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert set(space.live(nothing).ops) == {"none"}


def test_live_form_keeps_the_function(space) -> None:
    x = torch.randn(2, 3, 8, 8)
    connected = [g for g in space.all_genotypes() if set(space.live(g).ops) != {"none"}]
    changed = [g for g in connected if space.live(g) != g]
    assert len(changed) > 1000
    for g in changed[::97]:
        torch.manual_seed(0)
        net = space.build(g, C=4, N=1).eval()
        pruned = space.build(space.live(g), C=4, N=1).eval()
        assert not pruned.load_state_dict(net.state_dict(), strict=False).missing_keys
        with torch.no_grad():
            torch.testing.assert_close(pruned(x), net(x))


def test_sample_is_seeded_and_valid(space) -> None:
    a = [space.sample(np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    genotypes = [space.sample(np.random.default_rng(s)) for s in range(30)]
    assert len(set(genotypes)) > 20
    for g in genotypes:
        space.validate(g)
        assert space.parse(space.format(g)) == g


def test_genotype_is_immutable_and_hashable(space) -> None:
    g = space.parse(BEST)
    with pytest.raises(AttributeError):
        g.nodes = ()
    assert {g: 1}[space.parse(BEST)] == 1
    assert NB201Genotype.from_ops(g.ops) == g


def test_build_forward_backward_and_repr(space) -> None:
    net = space.build(space.parse(BEST), num_classes=7, C=8, N=1)
    x = torch.randn(2, 3, 32, 32)
    out = net(x)
    assert out.shape == (2, 7)
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    assert BEST in repr(net)


def test_best_cell_is_in_table(space, rows) -> None:
    best = max(rows, key=lambda row: float(row["c10_test_200ep"]))
    assert space.canonical(space.parse(best["arch_str"])) == space.canonical(space.parse(BEST))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "3 nodes"),
        ("|conv_7x7~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|", "'conv_7x7'"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~3|", "inputs"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|", "inputs"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~-2|", "'none~-2'"),
        ("|nor_conv_3x3-0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|", "'nor_conv_3x3-0'"),
        ("nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|", "malformed node"),
    ],
)
def test_malformed_text_rejected(space, text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        space.parse(text)


def test_error_names_position(space) -> None:
    with pytest.raises(ValueError, match="position 18"):
        space.parse("|nor_conv_3x3~0|+|bad~0|nor_conv_3x3~1|+|none~0|none~1|none~2|")


def test_unknown_build_argument_rejected(space) -> None:
    with pytest.raises(ValueError, match="unexpected build arguments"):
        space.build(space.parse(BEST), layers=3)


def test_validate_rejects_foreign_values(space) -> None:
    with pytest.raises(ValueError, match="NB201Genotype"):
        space.validate("|nor_conv_3x3~0|")
    with pytest.raises(ValueError, match="unknown space|unknown search space"):
        get_space("nb301")


@pytest.mark.parametrize("digit", ["\u0660", "\u0663", "\u00b2", "\uff10", "\u0968"])
def test_input_index_must_be_ascii_digits(space, digit: str) -> None:
    """'٠', '٣', '²', '０', '०' pass str.isdigit (and int() reads some of them) but are not indices."""
    text = BEST.replace("nor_conv_1x1~2", f"nor_conv_1x1~{digit}")
    pos = text.index(f"nor_conv_1x1~{digit}")
    with pytest.raises(ValueError) as info:
        space.parse(text)
    message = str(info.value)
    assert repr(f"nor_conv_1x1~{digit}") in message and f"position {pos}" in message
    assert "ASCII" in message
    first = BEST.replace("nor_conv_3x3~0", f"nor_conv_3x3~{digit}", 1)
    with pytest.raises(ValueError, match="position 1:"):
        space.parse(first)


def test_which_cells_compute(space) -> None:
    assert space.computes(space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|")) is False
    assert space.computes(space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")) is True
    assert sum(not space.computes(g) for g in space.all_genotypes()) == 341  # NB201's cells at chance accuracy
    assert get_space("darts").computes(get_space("darts").sample(np.random.default_rng(0))) is True
