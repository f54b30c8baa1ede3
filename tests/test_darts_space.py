"""Tests of the DARTS search space: text, checks, canonical keys, sampling and networks."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from fne.genotopheno import ops as cell_operations
from fne.genotopheno.darts.genotype import DartsGenotype
from fne.genotopheno.darts.space import DARTS_V1, DARTS_V2, DartsSpace
from fne.genotopheno.space import get_space, list_spaces

V2_TEXT = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)
V1_TEXT = (
    "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
    "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])"
)


@pytest.fixture(scope="module")
def space() -> DartsSpace:
    return DartsSpace()


def _with(g: DartsGenotype, **changes: object) -> DartsGenotype:
    return g._replace(**changes)


# ----------------------------------------------------------------------------- text


@pytest.mark.parametrize("text, expected", [(V2_TEXT, DARTS_V2), (V1_TEXT, DARTS_V1)])
def test_published_genotypes_parse_and_round_trip(space, text, expected):
    g = space.parse(text)
    assert g == expected
    assert isinstance(g, DartsGenotype) and hash(g) == hash(expected)
    assert space.format(g) == text
    assert str(g) == text
    assert space.parse(space.format(g)) == g


def test_range_double_quotes_and_whitespace(space):
    text = V2_TEXT.replace("[2, 3, 4, 5]", "range(2, 6)").replace("'", '"')
    spaced = text.replace(", ", " ,\n\t ").replace("(", " ( ").replace("=", " = ")
    assert space.parse(text) == DARTS_V2
    assert space.parse(spaced) == DARTS_V2
    assert space.format(space.parse(spaced)) == V2_TEXT


def test_fields_in_any_order_and_partial_concat(space):
    text = (
        "Genotype(reduce_concat=[5, 2], reduce="
        + V2_TEXT.split("reduce=")[1].split(", reduce_concat")[0]
        + ", normal_concat=[3, 4], normal="
        + V2_TEXT.split("normal=")[1].split(", normal_concat")[0]
        + ")"
    )
    g = space.parse(text)
    assert g.normal == DARTS_V2.normal and g.reduce == DARTS_V2.reduce
    assert g.normal_concat == (3, 4) and g.reduce_concat == (5, 2)
    assert space.parse(space.format(g)) == g


def _pos(text: str, token: str) -> int:
    return text.index(token)


_BAD_CASES = [
    # (name, text, substrings the message must contain)
    (
        "missing ']'",
        V2_TEXT.replace("('dil_conv_3x3', 2)], ", "('dil_conv_3x3', 2), "),
        [f"position {len(V2_TEXT) - 2}: closing parenthesis ')' does not match opening parenthesis '['"],
    ),
    ("missing ')'", V2_TEXT[:-1], ["position 8: '(' was never closed"]),
    ("missing '('", V2_TEXT.replace("Genotype(", "Genotype "), [f"position {len(V2_TEXT) - 1}: unmatched ')'"]),
    ("unknown op", V2_TEXT.replace("dil_conv_3x3", "dil_conv_9x9"), ["'dil_conv_9x9'", "normal pair 8"]),
    (
        "too few pairs",
        V2_TEXT.replace(", ('max_pool_3x3', 1)], reduce_concat", "], reduce_concat"),
        ["reduce has 7 pairs", "']'"],
    ),
    (
        "too many pairs",
        V2_TEXT.replace("('dil_conv_3x3', 2)]", "('dil_conv_3x3', 2), ('skip_connect', 1)]"),
        ["normal has 9 pairs"],
    ),
    (
        "index out of range",
        V2_TEXT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 7)"),
        ["input index 7", "normal pair 8", "0..4"],
    ),
    (
        "index beyond node",
        V2_TEXT.replace("normal=[('sep_conv_3x3', 0)", "normal=[('sep_conv_3x3', 2)"),
        ["input index 2", "normal pair 1", "0..1"],
    ),
    (
        "negative index",
        V2_TEXT.replace("reduce=[('max_pool_3x3', 0)", "reduce=[('max_pool_3x3', -1)"),
        ["-1", "reduce pair 1"],
    ),
    (
        "bad concat",
        V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4, 6]"),
        ["node 6", "normal_concat"],
    ),
    (
        "duplicate concat",
        V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 3, 3]"),
        ["duplicate reduce_concat node 3"],
    ),
    ("unknown field", V2_TEXT.replace("reduce_concat=", "reduced_concat="), ["'reduced_concat'"]),
    ("missing field", V2_TEXT.replace(", reduce_concat=[2, 3, 4, 5]", ""), ["reduce_concat"]),
    ("trailing text", V2_TEXT + " extra", [f"position {len(V2_TEXT) + 1}: invalid syntax"]),
    ("op not quoted", V2_TEXT.replace("'skip_connect'", "skip_connect", 1), ["'skip_connect'", "quotes"]),
    ("garbage word", "hello world", ["not a valid literal at position 6: invalid syntax"]),
    ("garbage chars", "Genotype(@@)", ["position 9: invalid syntax"]),
    ("unterminated string", "Genotype(normal=[('sep_conv_3x3, 0)])", ["unterminated", "position 18"]),
    ("empty", "", ["position 0: invalid syntax"]),
]


@pytest.mark.parametrize("name, text, needles", _BAD_CASES, ids=[c[0] for c in _BAD_CASES])
def test_malformed_text_names_bad_token(space, name, text, needles):
    with pytest.raises(ValueError) as info:
        space.parse(text)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{name}: {needle!r} not in {message!r}"
    assert "position" in message


def test_parse_error_position_points_at_token(space):
    text = V2_TEXT.replace("reduce=[('max_pool_3x3', 0)", "reduce=[('max_pool_3x3', -1)")
    with pytest.raises(ValueError, match=f"position {_pos(text, '-1')}"):
        space.parse(text)
    text = V2_TEXT.replace("dil_conv_3x3", "dil_conv_9x9")
    with pytest.raises(ValueError, match=f"position {_pos(text, chr(39) + 'dil_conv_9x9')}"):
        space.parse(text)


# ----------------------------------------------------------------------------- validate / space


def test_validate_rejects_bad_genotypes(space):
    space.validate(DARTS_V2)
    bad = [
        (_with(DARTS_V2, normal=DARTS_V2.normal[:7]), "normal has 7 pairs"),
        (_with(DARTS_V2, reduce=list(DARTS_V2.reduce)), "tuple"),
        (_with(DARTS_V2, normal=(("conv_7x7", 0),) + DARTS_V2.normal[1:]), "'conv_7x7'"),
        (_with(DARTS_V2, normal=DARTS_V2.normal[:7] + (("skip_connect", 5),)), "input index 5"),
        (_with(DARTS_V2, reduce=(("skip_connect", -1),) + DARTS_V2.reduce[1:]), "negative"),
        (_with(DARTS_V2, normal_concat=(1, 2)), "normal_concat node 1"),
        (_with(DARTS_V2, reduce_concat=()), "reduce_concat is empty"),
        (_with(DARTS_V2, normal=(("skip_connect", True),) + DARTS_V2.normal[1:]), "pair 1"),
        (V2_TEXT, "DartsGenotype"),
    ]
    for genotype, needle in bad:
        with pytest.raises(ValueError, match=needle):
            space.validate(genotype)


def test_space_registry_and_ops():
    assert "darts" in list_spaces()
    space = get_space("darts")
    assert isinstance(space, DartsSpace)
    assert space.ops == cell_operations.DARTS_OPS
    assert get_space("darts", ops=["skip_connect", "sep_conv_3x3"]).ops == ("skip_connect", "sep_conv_3x3")
    with pytest.raises(ValueError, match="'conv_7x7'"):
        DartsSpace(ops=["skip_connect", "conv_7x7"])
    with pytest.raises(ValueError):
        DartsSpace(ops=[])


def test_restricted_space_rejects_other_ops():
    space = DartsSpace(ops=["sep_conv_3x3", "skip_connect", "max_pool_3x3", "dil_conv_3x3"])
    assert space.parse(V2_TEXT) == DARTS_V2
    with pytest.raises(ValueError, match="'avg_pool_3x3'.*reduce pair 8"):
        space.parse(V1_TEXT)


# ----------------------------------------------------------------------------- canonical


def _swap_node_edges(pairs, node):
    pairs = list(pairs)
    i = 2 * (node - 2)
    pairs[i], pairs[i + 1] = pairs[i + 1], pairs[i]
    return tuple(pairs)


def test_canonical_merges_swapped_edges_and_concat_order(space):
    key = space.canonical(DARTS_V2)
    swapped = _with(
        DARTS_V2,
        normal=_swap_node_edges(DARTS_V2.normal, 3),
        reduce=_swap_node_edges(DARTS_V2.reduce, 5),
        reduce_concat=(5, 4, 3, 2),
    )
    assert swapped != DARTS_V2
    assert space.canonical(swapped) == key
    assert space.canonical(DARTS_V1) != key
    assert space.parse(key) == space.canonical_genotype(DARTS_V2)
    assert space.canonical(space.parse(key)) == key


def test_canonical_merges_relabelled_nodes_and_none_inputs(space):
    # nodes 2 and 3 read only the inputs, so exchanging them (and fixing node 4's edge) is a relabelling
    a = _with(
        DARTS_V2,
        normal=(
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("dil_conv_3x3", 1),
            ("sep_conv_5x5", 2),
            ("max_pool_3x3", 3),
            ("skip_connect", 4),
            ("none", 3),
        ),
    )
    b = _with(
        DARTS_V2,
        normal=(
            ("dil_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("max_pool_3x3", 2),
            ("sep_conv_5x5", 3),
            ("none", 0),
            ("skip_connect", 4),
        ),
    )
    assert space.canonical(a) == space.canonical(b)
    params = [sum(p.numel() for p in space.build(g, C=4, layers=3).parameters()) for g in (a, b)]
    assert params[0] == params[1]
    # changing a real edge's input is not a relabelling
    c = _with(a, normal=a.normal[:7] + (("skip_connect", 3),))
    assert space.canonical(c) != space.canonical(a)


# ----------------------------------------------------------------------------- sample


def test_samples_round_trip_and_validate(space):
    rng = np.random.default_rng(0)
    samples = [space.sample(rng) for _ in range(200)]
    for g in samples:
        space.validate(g)
        assert space.parse(space.format(g)) == g
        for pairs in (g.normal, g.reduce):
            assert all(op != "none" for op, _ in pairs)
            assert all(pairs[2 * j][1] != pairs[2 * j + 1][1] for j in range(4))
    used = {op for g in samples for op, _ in g.normal + g.reduce}
    assert used == set(cell_operations.DARTS_OPS) - {"none"}
    assert {idx for g in samples for _, idx in g.normal[6:]} == {0, 1, 2, 3, 4}
    again = np.random.default_rng(0)
    assert [space.sample(again) for _ in range(5)] == samples[:5]
    with_none = [space.sample(rng, include_none=True) for _ in range(50)]
    assert any(op == "none" for g in with_none for op, _ in g.normal)


# ----------------------------------------------------------------------------- networks


def test_small_network_forward_backward_and_repr(space):
    torch.manual_seed(0)
    net = space.build(DARTS_V2, **space.preset("score"))
    assert net.C == 4 and len(net.cells) == 8
    assert [c.reduction for c in net.cells] == [False, False, True, False, False, True, False, False]
    x = torch.randn(2, 3, 32, 32)
    out = net(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert f"genotype={V2_TEXT}" in repr(net)
    assert repr(net) == repr(space.build(DARTS_V2, C=4, layers=8, stem_multiplier=1))


def test_darts_v2_parameter_count_matches_publication(space):
    net = space.build(DARTS_V2, C=36, layers=20, auxiliary=False)
    params_m = sum(p.numel() for p in net.parameters()) / 1e6
    assert round(params_m, 1) == 3.3  # DARTS (second order), CIFAR-10: 3.3M parameters


def test_auxiliary_and_drop_path(space):
    net = space.build(
        DARTS_V2,
        **space.preset("score"),
        auxiliary=True,
        drop_path_prob=0.5,
        generator=torch.Generator().manual_seed(1),
    )
    x = torch.randn(2, 3, 32, 32)
    net.train()
    logits = net(x)
    assert logits.shape == (2, 10) and net.aux_logits is not None and net.aux_logits.shape == (2, 10)
    net.generator.manual_seed(3)
    first = net(x)
    net.generator.manual_seed(3)
    assert torch.equal(net(x), first)
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))
    assert net.aux_logits is None
    with pytest.raises(ValueError, match="drop_path_prob"):
        space.build(DARTS_V2, **space.preset("score"), drop_path_prob=1.5)


def test_user_registered_op_in_darts_genotype():
    name = "test_darts_user_conv_1x1"

    @cell_operations.register_op(name)
    def _factory(C_in: int, C_out: int, stride: int, affine: bool) -> torch.nn.Module:
        return cell_operations.ReLUConvBN(C_in, C_out, 1, stride, 0, 1, affine)

    try:
        text = V2_TEXT.replace("sep_conv_3x3", name)
        with pytest.raises(ValueError, match=name):
            DartsSpace().parse(text)
        space = DartsSpace(ops=[name, "skip_connect", "max_pool_3x3", "dil_conv_3x3"])
        g = space.parse(text)
        assert g.normal[0] == (name, 0) and space.format(g) == text
        net = space.build(g, C=4, layers=3)
        assert any(
            isinstance(m, cell_operations.ReLUConvBN) and m[1].kernel_size == (1, 1)
            for cell in net.cells
            for m in cell.edges
        )
        assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)
        assert all(op in space.ops for op, _ in space.sample(np.random.default_rng(1)).normal)
    finally:
        cell_operations.unregister_op(name)


# ----------------------------------------------------------------------------- inputs, digits, text

NB301_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "nb301" / "nb301_cifar10_725.csv"


def _node_inputs(g: DartsGenotype):
    for cell in ("normal", "reduce"):
        pairs = getattr(g, cell)
        for j in range(4):
            yield cell, j + 2, pairs[2 * j], pairs[2 * j + 1]


def test_validate_rejects_a_node_reading_one_input_twice(space):
    twice = DARTS_V2.normal[:4] + (("sep_conv_3x3", 1), ("skip_connect", 1)) + DARTS_V2.normal[6:]
    with pytest.raises(ValueError) as info:
        space.validate(_with(DARTS_V2, normal=twice))
    assert "input 1 (normal pair 6)" in str(info.value) and "node 4" in str(info.value)
    text = V2_TEXT.replace(
        "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0)",
        "('sep_conv_3x3', 1), ('skip_connect', 1), ('skip_connect', 0)",
    )
    pos = text.index("('skip_connect', 1)") + len("('skip_connect', ")
    with pytest.raises(ValueError, match=f"input 1 at position {pos} \\(normal pair 6\\).*node 4"):
        space.parse(text)


def test_none_edges_may_share_an_input(space):
    # a none edge reads nothing, and canonical() moves its input to 0, so sharing is allowed
    g = _with(DARTS_V2, normal=(("none", 1), ("sep_conv_3x3", 0)) + DARTS_V2.normal[2:])
    key = space.canonical(g)
    assert space.canonical_genotype(g).normal[:2] == (("none", 0), ("sep_conv_3x3", 0))
    assert space.canonical(space.parse(key)) == key
    rng = np.random.default_rng(5)
    for _ in range(50):
        sampled = space.sample(rng, include_none=True)
        assert space.parse(space.canonical(sampled)) == space.canonical_genotype(sampled)


def test_published_cells_have_distinct_inputs(space):
    if not NB301_CSV.is_file():
        pytest.skip(f"NB301 table not found at {NB301_CSV}")
    with open(NB301_CSV, newline="") as fh:
        cells = [space.parse(row["arch_str"]) for row in csv.DictReader(fh)]
    assert len(cells) == 725
    for g in cells + [DARTS_V1, DARTS_V2]:
        assert all(a[1] != b[1] for _, _, a, b in _node_inputs(g))


@pytest.mark.parametrize("digit", ["\u0662", "\u00b2", "\uff12"])
def test_indices_must_be_ascii_digits(space, digit):
    text = V2_TEXT.replace("('dil_conv_3x3', 2)", f"('dil_conv_3x3', {digit})")
    with pytest.raises(ValueError, match=f"position {text.index(digit)}: invalid character '{digit}'"):
        space.parse(text)
    concat = V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", f"normal_concat=[{digit}, 3, 4, 5]")
    with pytest.raises(ValueError, match=f"position {concat.index(digit)}: invalid character '{digit}'"):
        space.parse(concat)


def test_build_and_canonical_take_text(space):
    torch.manual_seed(0)
    from_text = space.build(V2_TEXT, C=4, layers=3)
    assert repr(from_text) == repr(space.build(DARTS_V2, C=4, layers=3))
    assert space.build(V1_TEXT, **space.preset("score")).genotype == DARTS_V1
    assert space.canonical(V2_TEXT) == space.canonical(DARTS_V2)
    assert space.canonical_genotype(V1_TEXT) == space.canonical_genotype(DARTS_V1)
    with pytest.raises(ValueError, match="'dil_conv_9x9'"):
        space.build(V2_TEXT.replace("dil_conv_3x3", "dil_conv_9x9"))
