"""End-to-end test of src/plot_scores.py on a tiny table and synthetic images."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fne import scoring

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
        np.savez(folder / f"{name}.npz", x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y=np.arange(n) % 10)
    return table, tmp_path / "data"


def _argv(table, data_dir, out, *extra):
    return [
        "--space",
        "nb201",
        "--ground-truth",
        str(table),
        "--metric",
        "acc",
        "--n",
        "6",
        "--seed",
        "1",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--batch",
        "8",
        "--build-arg",
        "C=4",
        "--build-arg",
        "N=1",
        "--threads",
        "1",
        "--workers",
        "1",
        "--combine",
        *PROXIES,
        "--combine-weight",
        "params=1",
        *extra,
    ]


def _replace(argv, option, value):
    """``argv`` with the value of ``option`` replaced by ``value``."""
    argv = list(argv)
    argv[argv.index(option) + 1] = str(value)
    return argv


def _usage_error(plot_scores, argv, capsys):
    """Run the script, expect a usage error (exit status 2) and return its stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        plot_scores.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "plot_scores.py: error: " in err
    return err


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
    assert list(rows[0]) == ["arch_str"] + PROXIES + ["combined", "acc"]
    from fne.evolution.defaults import space_defaults
    from fne.evolution.fitness.aggregate import aggregate

    parsed = [{p: float(r[p]) if r[p] else float("nan") for p in PROXIES} for r in rows]
    method = space_defaults("nb201").ranking  # the space's aggregator, equal weights here
    assert [float(r["combined"]) for r in rows] == pytest.approx(list(aggregate(parsed, PROXIES, method)))
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
    assert timing["workers"] == 1 and timing["threads"] == 1
    for name in PROXIES + ["ntk_vs_grad_corr"]:
        png = out / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_metric_column_is_named(plot_scores, inputs, tmp_path, capsys):
    table, data_dir = inputs
    argv = _replace(_argv(table, data_dir, tmp_path / "out"), "--metric", "c10_missing")
    err = _usage_error(plot_scores, argv, capsys)
    assert "'c10_missing' (--metric)" in err and str(table) in err and "arch_str, acc, other" in err


def test_missing_arch_str_column_is_named(plot_scores, inputs, tmp_path, capsys):
    table, data_dir = inputs
    other = tmp_path / "no_arch.csv"
    other.write_text("arch,acc\n" + "".join(f"{c},1.0\n" for c in CELLS))
    err = _usage_error(plot_scores, _argv(other, data_dir, tmp_path / "out"), capsys)
    assert "'arch_str'" in err and str(other) in err


def test_missing_ground_truth_file_is_named(plot_scores, inputs, tmp_path, capsys):
    table, data_dir = inputs
    missing = tmp_path / "nope.csv"
    err = _usage_error(
        plot_scores, _replace(_argv(table, data_dir, tmp_path / "out"), "--ground-truth", missing), capsys
    )
    assert f"--ground-truth {missing} does not exist" in err


def test_unreadable_ground_truth_file_is_named(plot_scores, inputs, tmp_path, capsys):
    table, data_dir = inputs
    binary = tmp_path / "table.npz"
    binary.write_bytes(b"\xff\xfe\x00\x9c binary, not text\n")
    err = _usage_error(
        plot_scores, _replace(_argv(table, data_dir, tmp_path / "out"), "--ground-truth", binary), capsys
    )
    assert f"--ground-truth {binary} is not a readable CSV" in err


def test_row_that_is_not_a_genotype_is_named_before_scoring(plot_scores, inputs, tmp_path, capsys, monkeypatch):
    table, data_dir = inputs
    lines = table.read_text().splitlines()
    lines[3] = lines[3].replace("nor_conv_3x3", "conv_7x7", 1)
    table.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(scoring.Scorer, "score_many", lambda *a, **k: pytest.fail("scored a cell"))
    out = tmp_path / "out"
    err = _usage_error(plot_scores, _argv(table, data_dir, out), capsys)
    assert str(table) in err and "row 4: arch_str" in err and "conv_7x7" in err and "nb201" in err
    assert not out.exists()


@pytest.mark.parametrize("n", ["50", "0"])
def test_n_out_of_range_says_how_many_rows_are_usable(plot_scores, inputs, tmp_path, capsys, n):
    table, data_dir = inputs
    err = _usage_error(plot_scores, _replace(_argv(table, data_dir, tmp_path / "out"), "--n", n), capsys)
    assert f"--n {n}" in err or f"--n must be an integer >= 1, got {n}" in err
    if n == "50":
        assert "6 usable rows" in err


def test_missing_data_dir_is_named(plot_scores, inputs, tmp_path, capsys):
    table, _ = inputs
    missing = tmp_path / "no_data"
    err = _usage_error(plot_scores, _argv(table, missing, tmp_path / "out"), capsys)
    assert f"--data-dir {missing} does not exist" in err


def test_data_dir_without_images_is_named(plot_scores, inputs, tmp_path, capsys):
    table, _ = inputs
    empty = tmp_path / "empty"
    empty.mkdir()
    err = _usage_error(plot_scores, _argv(table, empty, tmp_path / "out"), capsys)
    assert f"--data-dir {empty}: No dataset found" in err and "npz" in err and "--download" in err


def test_batch_larger_than_the_training_images(plot_scores, inputs, tmp_path, capsys):
    table, data_dir = inputs
    err = _usage_error(plot_scores, _replace(_argv(table, data_dir, tmp_path / "out"), "--batch", 100), capsys)
    assert "--batch 100 is larger than the 40 training images" in err


@pytest.mark.parametrize(
    "value, expected",
    [
        ("foo=1", "--build-arg C=4 N=1 foo=1: cannot build a nb201 network"),
        ("C=-3", "--build-arg C=-3 N=1: cannot build a nb201 network"),
        ("C8", "argument --build-arg: expected KEY=VALUE"),
    ],
)
def test_bad_build_arg_is_named(plot_scores, inputs, tmp_path, capsys, value, expected):
    table, data_dir = inputs
    argv = _argv(table, data_dir, tmp_path / "out", "--build-arg", value)
    assert expected in _usage_error(plot_scores, argv, capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("device", ["tpu", "cuda:x"])
def test_bad_device_is_named(plot_scores, inputs, tmp_path, capsys, device):
    table, data_dir = inputs
    err = _usage_error(plot_scores, _replace(_argv(table, data_dir, tmp_path / "out"), "--device", device), capsys)
    assert "--device" in err and device in err


def test_unknown_proxy_is_named(plot_scores, inputs, tmp_path, capsys):
    table, data_dir = inputs
    err = _usage_error(plot_scores, _argv(table, data_dir, tmp_path / "out", "--proxies", "no_such_proxy"), capsys)
    assert "--proxies" in err and "no_such_proxy" in err


@pytest.mark.parametrize(
    "extra, expected",
    [
        (("--backend", "serial", "--workers", "2"), "--backend serial runs one worker"),
        (("--ray-address", "127.0.0.1:1"), "--ray-address needs --backend ray"),
        (("--workers", "0"), "--workers must be an integer >= 1, got 0"),
        (("--threads", "0"), "--threads must be an integer >= 1, got 0"),
    ],
)
def test_contradictory_evaluator_options_are_named(plot_scores, inputs, tmp_path, capsys, extra, expected):
    table, data_dir = inputs
    assert expected in _usage_error(plot_scores, _argv(table, data_dir, tmp_path / "out", *extra), capsys)


def test_out_that_is_a_file_is_named(plot_scores, inputs, tmp_path, capsys):
    table, data_dir = inputs
    out = tmp_path / "out.txt"
    out.write_text("not a folder")
    err = _usage_error(plot_scores, _argv(table, data_dir, out), capsys)
    assert f"--out {out} exists and is not a folder" in err
    err = _usage_error(plot_scores, _argv(table, data_dir, out / "sub"), capsys)
    assert f"lies below {out}, which is a file, not a folder" in err


def test_cache_that_is_a_folder_is_named(plot_scores, inputs, tmp_path, capsys):
    table, data_dir = inputs
    err = _usage_error(plot_scores, _argv(table, data_dir, tmp_path / "out", "--cache", str(tmp_path)), capsys)
    assert f"--cache {tmp_path} is a folder" in err


def test_plots_label_proxies_with_units(plot_scores, tmp_path, monkeypatch):
    labels = {}

    def fake_scatter(path, x, y, **kw):
        labels[Path(path).stem] = (kw["xlabel"], kw["ylabel"], kw.get("log_x"))
        return Path(path)

    import fne.scoring as score_command

    monkeypatch.setattr(score_command, "scatter_png", fake_scatter)
    scores = [{"ntk": 10.0 * (i + 1), "grad_corr": -float(i), "params": 0.1 * i} for i in range(4)]
    report = {p: {"spearman": 0.0, "kendall": 0.0, "failed": 0} for p in ("ntk", "grad_corr", "params")}
    scoring.write_plots(tmp_path, scores, ["ntk", "grad_corr", "params"], np.arange(4.0), report, "acc")
    assert labels["ntk"] == ("ntk (condition number, lower is better; log scale)", "acc", True)
    assert labels["params"][0] == "params (M parameters, higher is better)"
    assert labels["ntk_vs_grad_corr"][:2] == (
        "ntk (condition number, lower is better; log scale)",
        "grad_corr (score, higher is better)",
    )


def test_build_arg_parsing(plot_scores):
    assert scoring.build_arg("C=8") == ("C", 8)
    assert scoring.build_arg("scale=0.5") == ("scale", 0.5)
    with pytest.raises(Exception, match="KEY=VALUE"):
        scoring.build_arg("C8")


@pytest.mark.parametrize(
    "extra", [["--workers", "2"], ["--workers", "3", "--backend", "process"], ["--workers", "2", "--backend", "ray"]]
)
def test_scores_csv_is_bit_identical_on_every_backend(plot_scores, inputs, tmp_path, extra):
    if "ray" in extra:
        pytest.importorskip("ray")
    table, data_dir = inputs
    plot_scores.main(_argv(table, data_dir, tmp_path / "serial"))
    argv = _replace(_argv(table, data_dir, tmp_path / "pooled"), "--workers", extra[1]) + extra[2:]
    plot_scores.main(argv)
    assert (tmp_path / "pooled" / "scores.csv").read_bytes() == (tmp_path / "serial" / "scores.csv").read_bytes()


def test_the_combined_column_follows_the_chosen_aggregator(plot_scores, inputs, tmp_path):
    table, data_dir = inputs
    reports = {}
    for method in ("mean_rank", "log_rank"):
        out = tmp_path / method
        reports[method] = plot_scores.main(
            _argv(
                table, data_dir, out, "--proxies", "ntk", "params", "--combine", "ntk", "params", "--aggregate", method
            )
        )
        with open(out / "scores.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert reports[method]["combined"]["aggregate"] == method
        values = np.array([float(r["combined"]) for r in rows])
        if method == "log_rank":
            assert (values <= 0).all()  # a sum of log(r / n) with r <= n
        else:
            assert values.max() <= -1.0  # minus a mean rank of at least 1


def test_the_default_combined_ranking_is_the_searchs(plot_scores, inputs, tmp_path, capsys):
    from fne.scoring import ScoreConfig
    from fne.search.config import SearchConfig

    score, search = ScoreConfig(), SearchConfig()
    assert score.combine == search.proxies and score.aggregate == search.ranking
    assert score.combine_weight_list() == search.objective_weights()
    table, data_dir = inputs
    err = _usage_error(plot_scores, _argv(table, data_dir, tmp_path / "o", "--combine-weight", "ntk=-1"), capsys)
    assert "--combine-weight values must be numbers >= 0" in err
