"""The NATS-Bench size space: text, canonical keys, exact parameter counts, variation, the network."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SHARED_DATA
from fne.evolution.defaults import search_proxies, space_defaults
from fne.genotopheno import SizeGenotype, SizeSpace, get_space, get_variation, list_spaces, list_variations
from fne.genotopheno.sss.space import BEST_CELL, CHANNEL_CHOICES, SizeCell
from fne.genotopheno.sss.variation import mutate_width, step_width, uniform_crossover

SSS_CSV = SHARED_DATA / "nats_sss" / "nats_sss_cifar10.csv"


@pytest.fixture(scope="module")
def space() -> SizeSpace:
    return get_space("sss")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    if not SSS_CSV.is_file():
        pytest.skip(f"shared NATS size table not found at {SSS_CSV}")
    with open(SSS_CSV, newline="") as fh:
        return list(csv.DictReader(fh))


def test_registered_with_variation_and_its_own_ranking(space) -> None:
    assert "sss" in list_spaces() and "sss" in list_variations() and isinstance(space, SizeSpace)
    assert space_defaults("sss").proxies == ("expressivity",)
    assert search_proxies("sss") == ("expressivity", "ntk", "naswot", "grad_corr")
    assert set(space.ops) == {"nor_conv_3x3", "skip_connect"}
    assert {size: space.preset(size) for size in ("score", "tournament", "full")} == {
        "score": {},
        "tournament": {},
        "full": {},
    }


def test_text_round_trip_and_canonical_keys(space) -> None:
    g = space.parse("8:16:32:64:64")
    assert g == SizeGenotype((8, 16, 32, 64, 64)) and space.format(g) == "8:16:32:64:64" == str(g)
    assert space.parse(" 8:16:32:64:64\n") == g
    assert space.canonical(g) == space.canonical("8:16:32:64:64") == "8:16:32:64:64"
    every = space.all_genotypes()
    assert len(every) == len(CHANNEL_CHOICES) ** 5 == 32768
    assert len({space.canonical(x) for x in every}) == 32768  # every configuration is its own network
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = space.sample(rng)
        assert space.parse(space.format(x)) == x


@pytest.mark.parametrize(
    "text, message",
    [
        ("8:16:32:64", "5 channel counts"),
        ("8:16:32:64:64:8", "5 channel counts"),
        ("8:16:x:64:64", "channel count 'x' of layer 2 at position 5 is not a number"),
        ("8:16:-8:64:64", "channel count '-8' of layer 2"),
        ("8:16:12:64:64", "channel count 12 of layer 2 is not one of 8, 16"),
        ("8:16:72:64:64", "channel count 72 of layer 2"),
        ("", "empty"),
    ],
)
def test_bad_text_is_refused_by_position(space, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        space.parse(text)


def test_bad_values_are_refused(space) -> None:
    for bad in (SizeGenotype((8, 16, 32)), SizeGenotype((8, 16, 32, 64, True)), "8:8:8:8:8"):
        with pytest.raises(ValueError):
            space.validate(bad)
    with pytest.raises(ValueError, match="at least one channel count"):
        SizeSpace(choices=())
    narrow = SizeSpace(choices=(4, 8))
    assert narrow.parse("4:8:4:8:4").channels == (4, 8, 4, 8, 4)
    with pytest.raises(ValueError, match="not one of 4, 8"):
        narrow.parse("8:16:32:64:64")


def test_parameter_counts_match_the_table_exactly(space, rows) -> None:
    assert len(rows) == 32768
    picks = np.random.default_rng(0).choice(len(rows), size=60, replace=False)
    sample = [rows[i] for i in picks] + [rows[0], rows[-1]]
    for row in sample:
        with torch.device("meta"):
            net = space.build(row["channels"], num_classes=10)
        assert sum(p.numel() for p in net.parameters()) == int(row["c10_params"]), row["channels"]


def test_the_network_is_the_best_cell_at_the_genotype_widths(space) -> None:
    torch.manual_seed(0)
    net = space.build("8:16:24:32:40", num_classes=7)
    cells = [m for m in net.cells if isinstance(m, SizeCell)]
    assert len(cells) == 3 and len(net.cells) == 5
    assert net.stem[0].out_channels == 8 and net.classifier.in_features == 40
    assert [c.edges[0][1].in_channels for c in cells] == [8, 16, 32]  # the edge 0->1 maps the previous width
    assert [c.edges[0][1].out_channels for c in cells] == [8, 24, 40]
    assert "8:16:24:32:40" in repr(net)
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    assert BEST_CELL == space.cell.__str__()


def test_variation_keeps_every_child_valid(space) -> None:
    rng = np.random.default_rng(1)
    ops = get_variation(space)
    assert ops.names == ["uniform", "width", "step"]
    for _ in range(200):
        a, b = space.sample(rng), space.sample(rng)
        child = ops.crossover(space, a, b, rng)
        assert all(c in (x, y) for c, x, y in zip(child.channels, a.channels, b.channels, strict=True))
        mutant = ops.mutate(space, child, rng)
        space.validate(mutant)
        assert sum(x != y for x, y in zip(mutant.channels, child.channels, strict=True)) <= 1
    g = space.parse("8:16:32:64:64")
    widened = mutate_width(space, g, rng)
    assert widened != g and sum(x != y for x, y in zip(widened.channels, g.channels, strict=True)) == 1
    for _ in range(20):
        stepped = step_width(space, g, rng)
        moved = [abs(x - y) for x, y in zip(stepped.channels, g.channels, strict=True) if x != y]
        assert moved == [8]
    one = SizeSpace(choices=(16,))
    only = one.parse("16:16:16:16:16")
    assert mutate_width(one, only, rng) is only and step_width(one, only, rng) is only
    assert uniform_crossover(space, g, g, rng) == g


def test_the_table_reads_as_sss_genotypes(space, rows) -> None:
    assert Path(SSS_CSV).is_file()
    for row in rows[:: len(rows) // 50]:
        assert space.format(space.parse(row["channels"])) == row["channels"]
