"""End-to-end test of src/plot_scores.py on a tiny table and synthetic images."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "src" / "plot_scores.py"
CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|none~0|skip_connect~1|avg_pool_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|",
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|",
]
PROXIES = ["ntk", "naswot", "grad_corr", "params"]


@pytest.fixture(scope="module")
def plot_scores():
    spec = importlib.util.spec_from_file_location("plot_scores", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def inputs(tmp_path):
    """A 7-row table (one row without accuracy) and a synthetic CIFAR-10 npz folder."""
    table = tmp_path / "table.csv"
    with open(table, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str", "acc", "other"])
        for i, cell in enumerate(CELLS):
            writer.writerow([cell, "" if i == 6 else 60.0 + 5 * i, i])
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "cifar10"
    folder.mkdir(parents=True)
    for name, n in (("tiny_train", 40), ("tiny_test", 10)):
        np.savez(folder / f"{name}.npz", x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                 y=np.arange(n) % 10)
    return table, tmp_path / "data"


def _argv(table, data_dir, out, *extra):
    return ["--space", "nb201", "--ground-truth", str(table), "--metric", "acc", "--n", "6",
            "--seed", "1", "--data-dir", str(data_dir), "--out", str(out), "--device", "cpu",
            "--batch", "8", "--build-arg", "C=4", "--build-arg", "N=1", "--threads", "1", *extra]


def test_main_writes_scores_correlations_and_plots(plot_scores, inputs, tmp_path):
    table, data_dir = inputs
    out = tmp_path / "out"
    threads = torch.get_num_threads()
    try:
        report = plot_scores.main(_argv(table, data_dir, out, "--proxies", "ntk", "naswot", "grad_corr"))
    finally:
        torch.set_num_threads(threads)
    with open(out / "scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["arch_str"] + PROXIES + ["acc"]
    assert sorted(r["arch_str"] for r in rows) == sorted(CELLS[:6])
    degenerate = [r for r in rows if r["arch_str"] == CELLS[3]]
    assert all(r[p] == "" for r in degenerate for p in PROXIES)
    saved = json.loads((out / "correlations.json").read_text())
    assert saved == report
    assert set(saved) == set(PROXIES) | {"combined"}
    for entry in saved.values():
        assert {"spearman", "kendall"} <= set(entry)
        assert -1.0 <= entry["spearman"] <= 1.0 and -1.0 <= entry["kendall"] <= 1.0
    timing = json.loads((out / "timing.json").read_text())
    assert timing["cells"] == 6 and timing["device"] == "cpu" and timing["backend"] == "serial"
    assert timing["cells_per_second"] > 0 and timing["seconds"] > 0
    for name in PROXIES + ["ntk_vs_grad_corr"]:
        png = out / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_metric_column_is_named(plot_scores, inputs, tmp_path):
    table, data_dir = inputs
    argv = _argv(table, data_dir, tmp_path / "out")
    argv[argv.index("acc")] = "c10_missing"
    with pytest.raises(ValueError, match="c10_missing"):
        plot_scores.main(argv)


def test_build_arg_parsing(plot_scores):
    assert plot_scores.build_arg("C=8") == ("C", 8)
    assert plot_scores.build_arg("scale=0.5") == ("scale", 0.5)
    with pytest.raises(Exception, match="KEY=VALUE"):
        plot_scores.build_arg("C8")
