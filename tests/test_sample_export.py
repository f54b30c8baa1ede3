"""The sampled export: which cells are chosen, and networks that load and run where only torch is."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fne.costs import NetworkSpec
from fne.costs.sample_export import CELLS_FILE, TIMING_SCRIPT, choose_cells, export_sample
from fne.costs.table import TableCost, cell_features
from fne.genotopheno import get_space

TINY = {"C": 4, "N": 1}


def spec(name: str = "nb201", **space_args) -> NetworkSpec:
    space = get_space(name, **space_args)
    return NetworkSpec(space, {**TINY} if name == "nb201" else {}, (3, 32, 32))


def test_the_choice_covers_every_op_on_every_edge_and_spreads_over_sizes() -> None:
    s = spec()
    chosen = choose_cells(s, 12, seed=0)
    keys = [s.space.canonical(g) for g in chosen]
    assert len(chosen) == 12 and len(set(keys)) == 12
    features = cell_features(s.space)
    held = features.matrix(chosen, features.additive) > 0
    assert held.any(axis=0).all()  # every op on every edge, and every op counted
    again = choose_cells(s, 12, seed=0)
    assert [s.space.format(g) for g in again] == [s.space.format(g) for g in chosen]
    assert [s.space.format(g) for g in choose_cells(s, 12, seed=1)] != [s.space.format(g) for g in chosen]
    sizes = [1.0 + i for i in range(10_000)]
    picked = choose_cells(s, 30, seed=0, size=lambda cells: sizes[: len(cells)])
    assert len({s.space.canonical(g) for g in picked}) == 30


def test_the_choice_of_a_size_space_covers_every_width_of_every_layer() -> None:
    s = spec("sss")
    chosen = choose_cells(s, 10, seed=0, size=lambda cells: [sum(g.channels) for g in cells])
    for layer in range(5):
        assert {g.channels[layer] for g in chosen} == set(s.space.choices)


def test_the_choice_refuses_more_cells_than_the_space_holds() -> None:
    small = spec(ops=("none", "skip_connect"))
    distinct = len({small.space.canonical(g) for g in small.space.all_genotypes()})
    assert len(choose_cells(small, distinct, seed=0)) == distinct
    with pytest.raises(ValueError, match=f"cannot choose {distinct + 1} distinct cells of the nb201 space"):
        choose_cells(small, distinct + 1, seed=0)
    with pytest.raises(ValueError, match="n >= 1"):
        choose_cells(small, 0)


RUN_WITHOUT_FNE = (
    "import runpy, sys; sys.modules['fne'] = None; "  # an import of fne fails: the script needs torch only
    "sys.argv = [sys.argv[1], '--repeats', '2', '--warmup', '1']; runpy.run_path(sys.argv[0], run_name='__main__')"
)


@pytest.mark.parametrize("fmt, suffix", [("torchscript", ".ts"), ("program", ".pt2")])
def test_exported_networks_load_and_run_in_a_fresh_process_with_torch_only(
    tmp_path: Path, fmt: str, suffix: str
) -> None:
    out = export_sample("nb201", 2, tmp_path / "sample", build_kwargs=TINY, seed=0, fmt=fmt)
    assert out == tmp_path / "sample"
    with open(out / CELLS_FILE, newline="") as fh:
        cells = list(csv.DictReader(fh))
    assert [c["file"] for c in cells] == [f"cell_0000{suffix}", f"cell_0001{suffix}"]
    assert all((out / c["file"]).is_file() and float(c["params"]) > 0 for c in cells)
    sample = json.loads((out / "sample.json").read_text())
    assert sample["format"] == fmt and sample["input_shape"] == [3, 32, 32] and sample["build_kwargs"]["C"] == 4
    script = out / TIMING_SCRIPT
    done = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_FNE, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "not measured" not in done.stderr and "2 timed, 0 not measured" in done.stdout
    with open(out / "measured.csv", newline="") as fh:
        measured = list(csv.DictReader(fh))
    assert [m["arch_str"] for m in measured] == [c["arch_str"] for c in cells]
    assert all(float(m["latency_ms"]) > 0 for m in measured)
    table = TableCost(out / "measured.csv", "latency_ms")
    assert table.table.texts == tuple(c["arch_str"] for c in cells) and table.table.not_measured == 0


def test_a_network_that_fails_is_recorded_as_not_measured(tmp_path: Path) -> None:
    out = export_sample("sss", 1, tmp_path / "s", seed=0)
    (out / "cell_0000.ts").write_bytes(b"not a network")
    done = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_FNE, str(out / TIMING_SCRIPT)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "cell_0000.ts: not measured" in done.stderr
    with open(out / "measured.csv", newline="") as fh:
        assert [row["latency_ms"] for row in csv.DictReader(fh)] == ["-1.0"]


def test_bad_export_requests_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sample format must be one of torchscript, program, got 'onnx'"):
        export_sample("nb201", 2, tmp_path / "a", fmt="onnx")
    with pytest.raises(ValueError, match="input_shape must be"):
        export_sample("nb201", 2, tmp_path / "a", input_shape=(3, 32))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        export_sample("nb201", 2, blocker)
    with pytest.raises(ValueError, match="no_such_space"):
        export_sample("no_such_space", 2, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
