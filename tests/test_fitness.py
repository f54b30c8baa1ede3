"""Tests of the training-free fitness: proxies, registry, scoring, cache and objectives."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from fne.compute import resolve_device
from fne.evolution.fitness import (
    Scorer,
    check_proxy_names,
    get_proxy,
    list_proxies,
    non_dominated_ranks,
    register_proxy,
    run_proxy,
    score_genotype,
    to_objectives,
    unregister_proxy,
)
from fne.evolution.fitness.activation_patterns import hamming_kernel, image_patches
from fne.evolution.fitness.aggregate import aggregate
from fne.evolution.fitness.network_probes import batch_statistics_as_constants, preserved, reinitialise
from fne.evolution.fitness.ntk import ntk_gram
from fne.evolution.fitness.units import proxy_label, proxy_unit, uses_log_scale
from fne.genotopheno import get_space
from fne.search.benchmark_table import read_rows, sample_rows
from fne.search.ground_truth import correlation_report

TINY = {"C": 4, "N": 1}
GOOD = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"
OTHER = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors run fastest on one thread; restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


@pytest.fixture(scope="module")
def batch():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 16, 16, generator=gen), torch.randint(0, 10, (8,), generator=gen)


def tiny_net(space, text=GOOD, seed=0):
    torch.manual_seed(seed)
    return space.build(space.parse(text), **TINY)


@pytest.fixture
def counting_proxy():
    """A registered proxy that counts its calls (the mean output), removed afterwards."""
    calls = []

    def mean_output(net, inputs, targets):
        calls.append(inputs.shape[0])
        return float(inputs.mean())

    register_proxy("test_counting", higher_is_better=True)(mean_output)
    try:
        yield calls
    finally:
        unregister_proxy("test_counting")


# --------------------------------------------------------------------------- every proxy


@pytest.mark.parametrize("name", list_proxies())
def test_proxy_finite_and_deterministic(space, batch, name):
    x, y = batch
    net = tiny_net(space)
    torch.manual_seed(3)
    first = get_proxy(name)(net, x, y)
    torch.manual_seed(3)
    second = get_proxy(name)(net, x, y)
    assert isinstance(first, float) and math.isfinite(first)
    assert first == second


def _hook_dicts(module):
    return [module._forward_hooks, module._forward_pre_hooks, module._backward_hooks, module._backward_pre_hooks]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", list_proxies())
def test_proxy_leaves_no_hooks_and_no_state(space, batch, name, training):
    x, y = batch
    net = tiny_net(space).train(training)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    modes = [m.training for m in net.modules()]
    inplace = [getattr(m, "inplace", None) for m in net.modules()]
    get_proxy(name)(net, x, y)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)
    assert [m.training for m in net.modules()] == modes
    assert [getattr(m, "inplace", None) for m in net.modules()] == inplace
    assert all(not d for m in net.modules() for d in _hook_dicts(m))
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("name", list_proxies())
def test_degenerate_cell_gets_worst_score(space, batch, name):
    x, y = batch
    direct = get_proxy(name)(tiny_net(space, ALL_NONE), x, y)
    assert isinstance(direct, float)
    scores = [score_genotype("nb201", text, [name], x, y, "cpu", 0, TINY) for text in (GOOD, ALL_NONE, OTHER)]
    assert math.isnan(scores[1][name])
    objectives = to_objectives(scores, [name])
    assert np.isfinite(objectives).all()
    assert objectives[1, 0] > max(objectives[0, 0], objectives[2, 0])


# --------------------------------------------------------------------------- registry


def test_registry_rejects_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="already registered"):
        register_proxy("ntk", higher_is_better=False)(lambda net, x, y: 0.0)
    with pytest.raises(ValueError, match="unknown proxy 'nope'"):
        get_proxy("nope")
    with pytest.raises(ValueError, match="letters, digits"):
        register_proxy("bad name", higher_is_better=True)
    with pytest.raises(ValueError, match="must be a bool"):
        register_proxy("ok_name", higher_is_better="yes")


def test_registry_orientation_and_custom_proxy():
    assert get_proxy("ntk").higher_is_better is False
    assert all(get_proxy(n).higher_is_better for n in ("naswot", "grad_corr", "params", "synflow"))
    register_proxy("test_const", higher_is_better=False)(lambda net, x, y: 2.5)
    try:
        assert "test_const" in list_proxies()
        assert get_proxy("test_const")(nn.Identity(), None, None) == 2.5
    finally:
        unregister_proxy("test_const")
    assert "test_const" not in list_proxies()


def test_units_are_declared_at_registration():
    assert get_proxy("params").unit == "M parameters" and not get_proxy("params").log_scale
    assert get_proxy("ntk").unit == "condition number" and get_proxy("ntk").log_scale
    register_proxy("test_unit", higher_is_better=False, unit="seconds", log_scale=True)(lambda net, x, y: 1.0)
    register_proxy("test_no_unit", higher_is_better=True)(lambda net, x, y: 1.0)
    try:
        assert proxy_unit("test_unit") == "seconds" and uses_log_scale("test_unit")
        assert proxy_label("test_unit") == "test_unit (seconds, lower is better; log scale)"
        assert proxy_unit("test_no_unit") is None and not uses_log_scale("test_no_unit")
        assert proxy_label("test_no_unit") == "test_no_unit (higher is better)"
    finally:
        unregister_proxy("test_unit")
        unregister_proxy("test_no_unit")
    assert proxy_unit("test_unit") is None and proxy_label("test_unit") == "test_unit (objective, minimised)"
    with pytest.raises(ValueError, match="unit must be a non-empty string"):
        register_proxy("ok_name", higher_is_better=True, unit="")
    with pytest.raises(ValueError, match="log_scale must be a bool"):
        register_proxy("ok_name", higher_is_better=True, log_scale="yes")


def test_check_proxy_names_names_the_problem():
    check_proxy_names(["ntk", "params"], "--proxies")
    check_proxy_names(("naswot",), "--combine")
    for names, problem in (
        (["ntk", "bogus"], r"--x names \['bogus'\], which are not registered; "),
        (["ntk", "ntk"], r"--x names \['ntk'\] more than once; "),
        ([], "--x names no proxy, but at least one proxy is needed; "),
    ):
        with pytest.raises(ValueError, match=problem + r"--x must be distinct registered proxies \(meco, zico, ntk"):
            check_proxy_names(names, "--x")


# --------------------------------------------------------------------------- proxy internals


def test_ntk_gram_matches_per_sample_loop(space, batch):
    x, _ = batch
    net = tiny_net(space)
    with preserved(net):
        for m in net.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = False
        with batch_statistics_as_constants(net):
            gram = ntk_gram(net, x)
        weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
        rows = []
        for i in range(x.shape[0]):
            grads = torch.autograd.grad(net(x[i : i + 1]).sum(), weights, allow_unused=True)
            rows.append(
                torch.cat(
                    [
                        (g if g is not None else torch.zeros_like(w)).flatten()
                        for g, w in zip(grads, weights, strict=False)
                    ]
                )
            )
    jac = torch.stack(rows).double()
    assert torch.allclose(gram, jac @ jac.T, rtol=1e-4, atol=1e-6 * gram.abs().max().item())


def test_hamming_kernel_counts_agreements():
    gen = torch.Generator().manual_seed(1)
    codes = [torch.rand(5, 7, generator=gen) > 0.5, torch.rand(5, 3, generator=gen) > 0.5]
    full = torch.cat(codes, dim=1)
    expected = (full[:, None, :] == full[None, :, :]).sum(-1).double()
    assert torch.equal(hamming_kernel(codes), expected)


def test_reinitialise_is_seeded_and_checks_the_scheme(space):
    nets = [tiny_net(space), tiny_net(space), tiny_net(space)]
    for net, seed in zip(nets, (1, 1, 2), strict=False):
        reinitialise(net, torch.Generator().manual_seed(seed), "default")
    weights = [net.classifier.weight for net in nets]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    with pytest.raises(ValueError, match="unknown initialisation scheme 'xavier'"):
        reinitialise(nets[0], torch.Generator(), "xavier")


def test_image_patches_tile_each_image():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    patches = image_patches(x, 4)
    assert patches.shape == (8, 3, 4, 4)
    assert torch.equal(patches[1], x[0, :, 0:4, 4:8]) and torch.equal(patches[7], x[1, :, 4:8, 4:8])


def test_score_genotype_is_seeded_and_leaves_global_rng_alone(space, batch):
    x, y = batch
    state = torch.random.get_rng_state()
    first = score_genotype("nb201", GOOD, ["ntk", "naswot"], x, y, "cpu", 5, TINY)
    assert torch.equal(torch.random.get_rng_state(), state)
    alone = score_genotype(space, GOOD, ["naswot"], x, y, "cpu", 5, TINY)
    other_seed = score_genotype("nb201", GOOD, ["ntk"], x, y, "cpu", 6, TINY)
    assert alone["naswot"] == first["naswot"]
    assert other_seed["ntk"] != first["ntk"]


# --------------------------------------------------------------------------- OOM retry


def test_oom_retry_halves_batch_then_succeeds(space, batch):
    x, y = batch
    sizes = []

    def flaky(net, inputs, targets):
        sizes.append(inputs.shape[0])
        if len(sizes) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (fake)")
        return float(inputs.shape[0])

    register_proxy("test_flaky", higher_is_better=True)(flaky)
    try:
        scores = score_genotype("nb201", GOOD, ["test_flaky"], x, y, "cpu", 0, TINY)
    finally:
        unregister_proxy("test_flaky")
    assert sizes == [8, 4]
    assert scores["test_flaky"] == 4.0


def test_oom_every_time_marks_failed(space, batch):
    x, y = batch
    sizes = []

    def always(net, inputs, targets):
        sizes.append(inputs.shape[0])
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (fake)")

    register_proxy("test_always_oom", higher_is_better=True)(always)
    try:
        value = run_proxy(get_proxy("test_always_oom"), tiny_net(space), x, y, min_batch=2)
    finally:
        unregister_proxy("test_always_oom")
    assert sizes == [8, 4, 2]
    assert math.isnan(value)


# --------------------------------------------------------------------------- Scorer and cache


def test_memory_cache_serves_repeats(space, batch, counting_proxy):
    x, y = batch
    scorer = Scorer(space, ["test_counting"], inputs=x, targets=y, device="cpu", build_kwargs=TINY)
    first = scorer.score_many([GOOD, OTHER, GOOD], progress=False)
    assert len(counting_proxy) == 2 and scorer.num_evaluated == 2
    assert first[0] == first[2]
    again = scorer.score(space.parse(GOOD))
    assert again == first[0] and scorer.num_evaluated == 2 and len(counting_proxy) == 2
    assert scorer.num_cache_hits == 2


def test_isomorphic_cells_share_one_evaluation(space, batch, counting_proxy):
    x, y = batch
    a = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"
    b = "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert space.canonical(space.parse(a)) == space.canonical(space.parse(b))
    scorer = Scorer(space, ["test_counting"], inputs=x, targets=y, device="cpu", build_kwargs=TINY)
    scorer.score_many([a, b], progress=False)
    assert scorer.num_evaluated == 1 and len(counting_proxy) == 1


def test_disk_cache_is_reloaded_by_a_new_scorer(space, batch, tmp_path):
    x, y = batch
    path = tmp_path / "cache" / "scores.json"
    kwargs = dict(inputs=x, targets=y, device="cpu", seed=1, build_kwargs=TINY, cache_file=path)
    first = Scorer(space, ["naswot", "params"], **kwargs)
    values = first.score_many([GOOD, ALL_NONE], progress=False)
    assert first.num_evaluated == 2 and path.is_file()
    stored = json.loads(path.read_text())
    assert any(v["naswot"] is None for v in stored["entries"].values())
    second = Scorer(space, ["naswot", "params"], **kwargs)
    reloaded = second.score_many([GOOD, ALL_NONE], progress=False)
    assert second.num_evaluated == 0
    assert reloaded[0] == values[0] and math.isnan(reloaded[1]["naswot"])
    reseeded = Scorer(space, ["naswot"], **{**kwargs, "seed": 2})
    reseeded.score(GOOD)
    assert reseeded.num_evaluated == 1


def test_scorer_rejects_bad_arguments(space, batch, tmp_path):
    x, y = batch
    with pytest.raises(ValueError, match="unknown proxy"):
        Scorer(space, ["nope"], inputs=x, targets=y)
    with pytest.raises(ValueError, match="listed twice"):
        Scorer(space, ["ntk", "ntk"], inputs=x, targets=y)
    with pytest.raises(ValueError, match="image batch"):
        Scorer(space, inputs=x[0], targets=y)
    with pytest.raises(ValueError, match="targets"):
        Scorer(space, inputs=x, targets=y[:3])
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    scorer = Scorer(space, inputs=x, targets=y, cache_file=bad)  # only a cache: set aside, rebuilt
    assert not bad.exists() and scorer._cache == {}
    aside = list(tmp_path.glob("bad.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "[1, 2]"


def test_scorer_default_network_is_the_reduced_one(space, batch):
    x, y = batch
    scorer = Scorer(space, inputs=x, targets=y, device="cpu")
    assert scorer.build_kwargs == space.preset("score") == {"C": 8, "N": 2}
    assert Scorer("nb201", inputs=x, targets=y, device="cpu", build_kwargs={}).build_kwargs == {}


# --------------------------------------------------------------------------- objectives


def test_to_objectives_orientation_and_failure_rule():
    scores = [{"ntk": 10.0, "naswot": 5.0}, {"ntk": 20.0, "naswot": 7.0}, {"ntk": math.nan, "naswot": math.inf}]
    obj = to_objectives(scores, ["ntk", "naswot"])
    assert obj.shape == (3, 2)
    np.testing.assert_allclose(obj[:2], [[10.0, -5.0], [20.0, -7.0]])
    np.testing.assert_allclose(obj[2], [20.0 + 10.0, -5.0 + 2.0])
    same = to_objectives([{"params": 1.0}, {"params": 1.0}, {"params": math.nan}], ["params"])
    np.testing.assert_allclose(same[:, 0], [-1.0, -1.0, 0.0])
    np.testing.assert_allclose(to_objectives([{"ntk": math.nan}] * 2, ["ntk"]), [[0.0], [0.0]])
    assert to_objectives([], ["ntk"]).shape == (0, 1)
    with pytest.raises(ValueError, match="no value for proxy 'naswot'"):
        to_objectives([{"ntk": 1.0}], ["ntk", "naswot"])


def test_mean_rank_and_non_dominated_ranks():
    scores = [
        {"ntk": 1.0, "naswot": 9.0},
        {"ntk": 2.0, "naswot": 8.0},
        {"ntk": 3.0, "naswot": 9.5},
        {"ntk": math.nan, "naswot": math.nan},
    ]
    combined = aggregate(scores, ["ntk", "naswot"], "mean_rank")
    assert combined.argmax() == 0 and combined.argmin() == 3
    fronts = non_dominated_ranks(to_objectives(scores, ["ntk", "naswot"]))
    assert fronts.tolist() == [0, 1, 0, 2]


def _peeled_fronts(F: np.ndarray) -> list[int]:
    """Front numbers by definition: peel off the rows no remaining row dominates."""
    fronts, remaining, number = [-1] * len(F), set(range(len(F))), 0
    while remaining:
        front = {
            i for i in remaining if not any((F[j] <= F[i]).all() and (F[j] < F[i]).any() for j in remaining if j != i)
        }
        for i in front:
            fronts[i] = number
        remaining -= front
        number += 1
    return fronts


def test_non_dominated_ranks_with_ties_and_duplicate_rows():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, k = int(rng.integers(1, 25)), int(rng.integers(1, 4))
        F = rng.integers(0, 3, size=(n, k)).astype(float)  # many ties and equal rows
        assert non_dominated_ranks(F).tolist() == _peeled_fronts(F)
    assert non_dominated_ranks(np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0]])).tolist() == [0, 0, 0]


def test_ground_truth_reading_and_report(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("arch_str,acc\na,1.0\nb,\nc,3.0\nd,nan\ne,2.0\n")
    rows = read_rows(table, ("arch_str", "acc"))
    assert [r["arch_str"] for r in rows] == ["a", "c", "e"]
    assert sorted(r["arch_str"] for r in sample_rows(rows, 3, seed=0)) == ["a", "c", "e"]
    with pytest.raises(ValueError, match="cannot sample n=4"):
        sample_rows(rows, 4, seed=0)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['c10'\]"):
        read_rows(table, ("arch_str", "c10"))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_rows(tmp_path / "nope.csv")
    scores = [{"ntk": 3.0, "params": 1.0}, {"ntk": 1.0, "params": 3.0}, {"ntk": math.nan, "params": 2.0}]
    combined = aggregate(scores, ["ntk", "params"], "mean_rank")
    report = correlation_report(scores, ["ntk", "params"], np.array([1.0, 3.0, 2.0]), ["ntk", "params"], combined)
    assert report["params"]["spearman"] == pytest.approx(1.0)
    assert report["ntk"]["failed"] == 1 and report["combined"]["failed"] == 0
    assert set(report["combined"]) == {"spearman", "kendall", "failed"}


def test_resolve_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
