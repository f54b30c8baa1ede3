"""A search within a budget: costs on every cell, limits never crossed, the quality-cost front, presets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fne.cli.search_command import build_parser
from fne.genotopheno import get_space
from fne.options import from_args
from fne.search.config import SearchConfig
from fne.search.front import front_member, front_table, read_result
from fne.search.run import run_search

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(
    pop_size=4,
    generations=1,
    final_tournament_size=0,
    seed=3,
    device="cpu",
    workers=1,
    build_kwargs={"C": 4, "N": 1},
    proxy_batch=16,
    proxies=("naswot", "params", "synflow"),
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "cifar10").mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("tiny_train.npz", 120), ("tiny_test.npz", 20)):
        np.savez(root / "cifar10" / name, x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y=np.arange(n) % 10)
    return root


def config(data_dir: Path, out: Path, **changes: object) -> SearchConfig:
    return SearchConfig(data_dir=str(data_dir), out=str(out), **{**TINY, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def constrained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("runs") / "constrained"
    result = run_search(config(data_dir, out, max_params=0.3, survival="front"), progress=False)
    return result, out


def test_no_cell_over_the_limit_is_scored_picked_or_on_the_front(constrained: tuple[dict, Path]) -> None:
    result, out = constrained
    assert result["best"]["costs"]["params"] <= 0.3
    archive = json.loads((out / "checkpoint.json").read_text())["state"]["archive"]
    assert len(archive) == result["evaluations"] == 8
    assert all(costs["params"] <= 0.3 for _, _, costs in archive)
    assert result["budget"]["limits"] == {"params": 0.3} and result["budget"]["axis"] == "flops"


def test_the_front_is_the_quality_cost_front_of_everything_evaluated(constrained: tuple[dict, Path]) -> None:
    result, out = constrained
    front = result["front"]
    assert front[0]["arch"] == result["best"]["arch"] and front[0]["quality"] == 1.0
    flops = [entry["costs"]["flops"] for entry in front]
    quality = [entry["quality"] for entry in front]
    assert flops == sorted(flops, reverse=True) and len(set(flops)) == len(flops)
    assert quality == sorted(quality, reverse=True)
    space = get_space("nb201")
    assert all(space.computes(space.parse(entry["arch"])) for entry in front)
    archive = json.loads((out / "checkpoint.json").read_text())["state"]["archive"]
    cheapest = min(costs["flops"] for text, _, costs in archive if space.computes(space.parse(text)))
    assert flops[-1] == cheapest  # the cheapest cell evaluated that computes something ends the front
    assert (out / "plots" / "front.png").stat().st_size > 1000


def test_the_front_table_and_a_chosen_member(constrained: tuple[dict, Path]) -> None:
    result, out = constrained
    again = read_result(out)
    table = front_table(again)
    assert "quality" in table and "flops (M FLOPs)" in table and result["best"]["arch"] in table
    assert front_member(again, index=0)["arch"] == result["best"]["arch"]
    last = again["front"][-1]
    assert front_member(again, limits={"flops": last["costs"]["flops"]})["arch"] == last["arch"]
    with pytest.raises(ValueError, match="off the front"):
        front_member(again, index=len(again["front"]))
    with pytest.raises(ValueError, match="no cell of the run's front meets flops"):
        front_member(again, limits={"flops": last["costs"]["flops"] / 2})
    with pytest.raises(ValueError, match="holds no 'latency' cost"):
        front_member(again, limits={"latency": 1.0})
    with pytest.raises(FileNotFoundError, match="--from"):
        read_result(out / "nothing")


def test_a_budget_nothing_fits_stops_at_once_and_writes_nothing(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"no cell of the nb201 space fits the budget.*--max-params 0\.01"):
        run_search(config(data_dir, out, max_params=0.01), progress=False)
    assert not out.exists() or not any(p.name != ".lock" for p in out.iterdir())


def test_a_resumed_constrained_search_ends_as_an_uninterrupted_one(data_dir: Path, tmp_path: Path) -> None:
    whole = run_search(config(data_dir, tmp_path / "whole", max_flops=60.0, generations=2), progress=False)
    run_search(config(data_dir, tmp_path / "parts", max_flops=60.0, generations=1), progress=False)
    (tmp_path / "parts" / "result.json").unlink()  # as if stopped after generation 1
    resumed = run_search(
        config(data_dir, tmp_path / "parts", max_flops=60.0, generations=2, resume=True), progress=False
    )
    assert resumed["best"] == whole["best"] and resumed["front"] == whole["front"]
    assert all(entry["costs"]["flops"] <= 60.0 for entry in resumed["front"])


def test_latency_on_the_front_axis(data_dir: Path, tmp_path: Path) -> None:
    result = run_search(
        config(data_dir, tmp_path / "run", cost="latency", latency_repeats=2, latency_warmup=0, survival="front"),
        progress=False,
    )
    assert all(entry["costs"]["latency"] > 0 for entry in result["front"])
    described = result["budget"]["costs"]["latency"]
    assert described["repeats"] == 2 and described["median_relative_spread"] is not None


def test_the_fne2021_preset_sets_the_options_left_at_their_defaults() -> None:
    preset = SearchConfig(preset="fne2021")
    assert preset.proxies == ("ntk", "linear_regions", "grad_corr")
    assert (preset.survival, preset.ranking, preset.rank_scale, preset.tournament_every) == (
        "nsga2",
        "nondominated",
        "cells",
        3,
    )
    assert SearchConfig(preset="fne2021", tournament_every=2).tournament_every == 2
    parsed = from_args(SearchConfig, build_parser().parse_args(["--preset", "fne2021", "--survival", "front"]))
    assert parsed.survival == "front" and parsed.proxies == preset.proxies and parsed.final_tournament_size == 0
    front = SearchConfig(preset="front", pop_size=10)
    assert (front.survival, front.pop_size, front.generations, front.final_tournament_size) == ("front", 10, 14, 0)
    plain = SearchConfig(pop_size=10)  # a front ranks cells as the plain search does
    assert (front.proxies, front.ranking, front.ranking_weights) == (
        plain.proxies,
        plain.ranking,
        plain.ranking_weights,
    )
    assert SearchConfig(preset="front", proxies=("naswot",)).proxies == ("naswot",)
    with pytest.raises(ValueError, match="unknown search preset 'fne2020'"):
        SearchConfig(preset="fne2020")


def test_export_sample_needs_a_folder_and_a_network_format(tmp_path: Path) -> None:
    from fne.cli.export_command import ExportConfig, export_cells, main

    with pytest.raises(ValueError, match="--sample needs --out"):
        export_cells(ExportConfig(sample=3))
    with pytest.raises(ValueError, match="not onnx"):
        export_cells(ExportConfig(sample=3, out=str(tmp_path / "s"), format="onnx"))
    with pytest.raises(SystemExit) as exit_info:
        main(["--sample", "3", "--space", "nb201"])
    assert exit_info.value.code == 2


def test_fne_train_from_a_run_trains_the_chosen_front_member(
    constrained: tuple[dict, Path], data_dir: Path, tmp_path: Path
) -> None:
    from fne.training.run import TrainCommandConfig, run_training

    result, out = constrained
    last = len(result["front"]) - 1
    chosen = TrainCommandConfig(from_run=str(out), front=last).chosen()
    assert chosen.arch == result["front"][last]["arch"] and chosen.space == "nb201"
    assert TrainCommandConfig(from_run=str(out)).chosen().arch == result["best"]["arch"]
    cheapest = result["front"][last]["costs"]["flops"]
    assert TrainCommandConfig(from_run=str(out), max_flops=cheapest).chosen().arch == result["front"][last]["arch"]
    with pytest.raises(ValueError, match="not both"):
        TrainCommandConfig(from_run=str(out), arch=result["best"]["arch"]).chosen()
    with pytest.raises(ValueError, match="give --from RUN"):
        TrainCommandConfig(front=1).chosen()
    report = run_training(
        TrainCommandConfig(
            from_run=str(out),
            front=last,
            data_dir=str(data_dir),
            out=str(tmp_path / "member"),
            build_kwargs={"C": 4, "N": 1},
            threads=1,
        ),
        progress=False,
    )
    assert report["config"]["arch"] == result["front"][last]["arch"]
    assert (tmp_path / "member" / "model.pt").is_file()
