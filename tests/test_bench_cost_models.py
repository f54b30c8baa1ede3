"""bench_cost_models' fronts: every cell ranked, chosen on a cost (true or a model's) and judged at the true one."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import load_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
all_cells = load_script(BENCHMARKS / "all_cells.py", "all_cells")
cost_models = load_script(BENCHMARKS / "bench_cost_models.py", "bench_cost_models")

RNG = np.random.default_rng(1)
N = 200
TEXTS = [f"cell{i}" for i in range(N)]
ERROR = RNG.uniform(0.05, 0.3, N)
LATENCY = RNG.uniform(1.0, 10.0, N)


def _table() -> dict[str, dict[str, float]]:
    return {t: {"error": e, "ms": c} for t, e, c in zip(TEXTS, ERROR, LATENCY, strict=True)}


def test_a_front_chosen_on_the_true_cost_by_the_truth_is_the_true_front() -> None:
    table = _table()
    indicators = all_cells.Indicators(table, "ms")
    exact = all_cells.enumeration_front(-ERROR, TEXTS, table, indicators, judged="ms")
    assert exact["enumeration_igd"] == pytest.approx(0.0)
    assert exact["enumeration_hv"] == pytest.approx(indicators(indicators.front)["hv"])
    given = all_cells.enumeration_front(-ERROR, TEXTS, table, indicators, cost=LATENCY, judged="ms")
    assert given == exact


def test_a_wrong_cost_model_moves_the_front_away_from_the_true_one() -> None:
    table = _table()
    indicators = all_cells.Indicators(table, "ms")
    wrong = all_cells.enumeration_front(-ERROR, TEXTS, table, indicators, cost=RNG.permutation(LATENCY), judged="ms")
    assert wrong["enumeration_igd"] > 0.01
    assert wrong["enumeration_hv"] < indicators(indicators.front)["hv"]


def test_cells_at_chance_are_left_out_of_the_judged_front() -> None:
    table = _table()
    table["cell0"] = {"error": 0.9, "ms": 0.1}  # computes nothing, runs fastest
    indicators = all_cells.Indicators(table, "ms")
    values = -np.array([table[t]["error"] for t in TEXTS])
    front = all_cells.enumeration_front(values, TEXTS, table, indicators, judged="ms")
    without = all_cells.enumeration_front(values[1:], TEXTS[1:], table, indicators, judged="ms")
    assert front["enumeration_cells"] == without["enumeration_cells"] + 1  # chosen: cheapest of all
    assert front["enumeration_igd"] == pytest.approx(0.0)
    assert front["enumeration_hv"] == pytest.approx(without["enumeration_hv"], rel=1e-12)  # judged: left out


ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|",
]


def _score_file(path: Path, archs: list[str]) -> None:
    """Scores that put ``archs`` in their order on every proxy of NB201's ranking, each in its direction."""
    from fne.evolution.fitness.registry import get_proxy
    from fne.genotopheno import get_space

    space = get_space("nb201")
    chosen = type(space).search_defaults
    lines = []
    for rank, arch in enumerate(archs):
        scores = {p: float(-rank if get_proxy(p).higher_is_better else rank) for p in chosen.weights}
        lines.append(json.dumps({"key": space.canonical(arch), "arch_str": arch, "scores": scores}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_library_ranking_reads_the_score_file(tmp_path: Path) -> None:
    path = tmp_path / "scores.jsonl"
    _score_file(path, ARCHS)
    values = cost_models.library_ranking(ARCHS[::-1], path)
    assert values is not None
    assert np.argsort(-values).tolist() == [2, 1, 0]  # the file's order, read in each proxy's direction


def test_no_ranking_without_a_complete_score_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert cost_models.library_ranking(ARCHS, None) is None
    with caplog.at_level(logging.WARNING):
        assert cost_models.library_ranking(ARCHS, tmp_path / "absent.jsonl") is None
    assert "no all-cell score file" in caplog.text
    path = tmp_path / "scores.jsonl"
    _score_file(path, ARCHS[:2])
    with caplog.at_level(logging.WARNING):
        assert cost_models.library_ranking(ARCHS, path) is None
    assert "lacks 1 cells" in caplog.text
