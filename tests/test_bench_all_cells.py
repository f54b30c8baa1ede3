"""The all-cell ranking figures of bench_proxies: levels, regret, the enumeration front, the weight choice."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import load_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
all_cells = load_script(BENCHMARKS / "all_cells.py", "all_cells")

RNG = np.random.default_rng(0)
TRUTH = RNG.uniform(80.0, 95.0, 300)
LEVELS = np.repeat(np.arange(15), 20)


def test_within_levels_perfect_and_tied_rankings() -> None:
    perfect = all_cells.within_levels(TRUTH, TRUTH, LEVELS)
    assert perfect["within_level_spearman"] == pytest.approx(1.0)
    assert perfect["level_regret"] == 0.0 and perfect["levels"] == 15
    tied = all_cells.within_levels(LEVELS.astype(float), TRUTH, LEVELS)
    assert tied["within_level_spearman"] == 0.0
    worst = all_cells.within_levels(-TRUTH, TRUTH, LEVELS)
    spans = [TRUTH[LEVELS == k].max() - TRUTH[LEVELS == k].min() for k in range(15)]
    assert worst["level_regret"] == pytest.approx(np.mean(spans))
    assert worst["worst_level_regret"] == pytest.approx(max(spans))


def test_levels_with_few_cells_are_left_out() -> None:
    levels = LEVELS.copy()
    levels[:5] = 99  # five cells alone in a level
    assert all_cells.within_levels(TRUTH, TRUTH, levels)["levels"] == 15


def test_enumeration_front_of_the_truth_is_the_true_front() -> None:
    texts = [f"cell{i}" for i in range(len(TRUTH))]
    flops = RNG.uniform(10.0, 200.0, len(TRUTH))
    table = {t: {"error": 1 - a / 100, "flops": f} for t, a, f in zip(texts, TRUTH, flops, strict=True)}
    indicators = all_cells.Indicators(table, "flops")
    exact = all_cells.enumeration_front(TRUTH, texts, table, indicators)
    assert exact["enumeration_igd"] == pytest.approx(0.0)
    assert exact["enumeration_hv"] == pytest.approx(indicators(indicators.front)["hv"])
    noisy = all_cells.enumeration_front(TRUTH + RNG.normal(0, 5, len(TRUTH)), texts, table, indicators)
    assert noisy["enumeration_igd"] > 0 and noisy["enumeration_hv"] < exact["enumeration_hv"]


def test_cells_of_equal_flops_tie_exactly_and_one_of_them_reaches_the_front(nb201_csv: Path) -> None:
    import bench_front

    table = bench_front.read_table(nb201_csv)
    by_ops: dict[tuple[str, ...], set[float]] = {}
    for text, row in table.items():
        by_ops.setdefault(tuple(sorted(bench_front.edge_ops(text))), set()).add(row["flops"])
    assert len(by_ops) == 210 and all(len(values) == 1 for values in by_ops.values())  # one value per op multiset
    texts = [f"cell{i}" for i in range(6)]
    small = {t: {"error": 0.1 - 0.01 * i, "flops": 10.0 if i < 3 else 20.0} for i, t in enumerate(texts)}
    front = all_cells.enumeration_front(np.arange(6.0), texts, small, all_cells.Indicators(small, "flops"))
    assert front["enumeration_cells"] == 2  # each level's best-ranked cell only


def test_choose_weights_finds_the_informative_proxies() -> None:
    scores = [
        {"meco": a + RNG.normal(0, 1), "naswot": RNG.normal(), "flops": float(level)}
        for a, level in zip(TRUTH, LEVELS, strict=True)
    ]
    texts = [f"cell{i}" for i in range(len(TRUTH))]
    weights, trail = all_cells.choose_weights(
        scores, texts, TRUTH, LEVELS, {"naswot": 1.0}, ("meco", "naswot", "flops")
    )  # registered proxies, all higher-is-better: meco informative, naswot noise
    assert weights.get("meco", 0) > 0 and "naswot" not in weights
    assert trail[-1]["within_level_spearman"] > trail[0]["within_level_spearman"]


def test_the_score_file_resumes_and_scores_only_what_a_cell_lacks(tmp_path: Path) -> None:
    import json

    import torch

    cells = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    ]
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    build = {"C": 4, "N": 1}
    path = tmp_path / "scores.jsonl"
    first = all_cells.score_every_cell(cells, ["params"], x, y, build, 1, path)
    assert len(path.read_text().splitlines()) == 2
    both = all_cells.score_every_cell(cells, ["params", "flops"], x, y, build, 1, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 4 and set(lines[-1]["scores"]) == {"params", "flops"}
    assert {k: v["params"] for k, v in both.items()} == {k: v["params"] for k, v in first.items()}
    # a third call finds everything and scores nothing
    assert all_cells.score_every_cell(cells, ["flops", "params"], x, y, build, 1, path) == both
    assert len(path.read_text().splitlines()) == 4
