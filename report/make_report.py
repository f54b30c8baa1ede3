"""Build ``report/README.md`` and its figures from benchmark runs.

Every figure in the report comes from a JSON file that a benchmark writes under
``report/results/`` (kept in the repository, so the report can be rebuilt and checked);
a benchmark whose file is missing (or every benchmark, with ``--rerun``) is run first.
Scratch folders of the runs (``report/results/*/``) are not kept::

    python report/make_report.py            # reuse existing results, run what is missing
    python report/make_report.py --rerun    # run every benchmark again (a few hours on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import kendalltau, spearmanr  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "report" / "results"
REPORT = ROOT / "report"
FIGURES = REPORT / "figures"
SHARED = ROOT.parent / "shared" / "data"
CSV = SHARED / "nb201" / "nb201_cifar10.csv"

# Published reference points on NAS-Bench-201 CIFAR-10 (not measured by fne).
BEST_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
"""The NB201 cell ``bench_training.py`` trains by default."""

ANCHORS = [
    ("optimum of NB201", "94.37", "-"),
    ("TE-NAS (published)", "93.9", "~1,500 GPU-s"),
    ("regularised evolution with training (published)", "93.92", "~12,000 s"),
    ("NASWOT, N=100 (published)", "92.8", "~30 s"),
]


SELECTIONS = {
    "nb201": RESULTS / "bench_proxies_nb201_select.json",
    "darts": RESULTS / "bench_proxies_darts_select.json",
}
"""The seed-0 selections behind the library's rankings (``bench_proxies.py --phase select``)."""


def search_command(
    data_dir: Path, csv: Path, out: Path, sets: Sequence[str] = (), methods: str | None = None, first_seed: int = 0
) -> list[str]:
    """The ``bench_search.py`` command writing ``out`` (5 seeds from ``first_seed``, one at a time
    with the default workers, so that the wall times are those of a user's search)."""
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_search.py"),
        "--seeds",
        "5",
        "--first-seed",
        str(first_seed),
        "--data-dir",
        str(data_dir),
        "--csv",
        str(csv),
        "--out",
        str(out),
    ]
    if methods:
        command += ["--methods", methods]
    for item in sets:
        command += ["--set", item]
    return command


def proxies_command(space: str, data_dir: Path, out: Path, report_seed: int = 1) -> list[str]:
    """The ``bench_proxies.py`` command writing ``out``: the report reuses the space's seed-0
    selection when it is there (the NB201 selection takes most of an hour), else runs both phases."""
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_proxies.py"),
        "--space",
        space,
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--report-seed",
        str(report_seed),
    ]
    if SELECTIONS[space].is_file():
        return command + ["--phase", "report", "--selection-from", str(SELECTIONS[space])]
    return command + ["--phase", "both", "--no-variants"]


def benchmark_jobs(data_dir: Path, csv: Path) -> dict[str, list[str]]:
    """Result file name -> command that writes it."""
    py, bench = sys.executable, ROOT / "benchmarks"
    return {
        "bench_proxies_all.json": [
            py,
            str(bench / "bench_proxies.py"),
            "--phase",
            "all",
            "--scores",
            str(RESULTS / "nb201_all_cell_scores.jsonl"),
            "--data-dir",
            str(data_dir),
            "--out",
            str(RESULTS / "bench_proxies_all.json"),
        ],
        "bench_proxies_all_fast.json": [
            py,
            str(bench / "bench_proxies.py"),
            "--phase",
            "all",
            "--max-cost",
            "1.6",
            "--scores",
            str(RESULTS / "nb201_all_cell_scores.jsonl"),
            "--data-dir",
            str(data_dir),
            "--out",
            str(RESULTS / "bench_proxies_all_fast.json"),
        ],
        "bench_proxies.json": proxies_command("nb201", data_dir, RESULTS / "bench_proxies.json"),
        "bench_proxies_seed2.json": proxies_command("nb201", data_dir, RESULTS / "bench_proxies_seed2.json", 2),
        "bench_proxies_darts.json": proxies_command("darts", data_dir, RESULTS / "bench_proxies_darts.json"),
        "bench_search.json": search_command(data_dir, csv, RESULTS / "bench_search.json", methods="fne,fne2021,random"),
        "bench_front.json": [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_front.py"),
            "--seeds",
            "5",
            "--costs",
            "flops",
            "--data-dir",
            str(data_dir),
            "--csv",
            str(csv),
            "--out",
            str(RESULTS / "bench_front.json"),
        ],
        "bench_front_params.json": [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_front.py"),
            "--seeds",
            "3",
            "--costs",
            "params",
            "--data-dir",
            str(data_dir),
            "--csv",
            str(csv),
            "--out",
            str(RESULTS / "bench_front_params.json"),
        ],
        "bench_front_devices.json": [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_front.py"),
            "--seeds",
            "5",
            "--methods",
            "fne",
            "--costs",
            "edgegpu_latency",
            "raspi4_latency",
            "edgetpu_latency",
            "pixel3_latency",
            "eyeriss_latency",
            "fpga_latency",
            "--data-dir",
            str(data_dir),
            "--csv",
            str(csv),
            "--out",
            str(RESULTS / "bench_front_devices.json"),
        ],
        "bench_front_sss.json": [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_front.py"),
            "--space",
            "sss",
            "--seeds",
            "1",
            "--out",
            str(RESULTS / "bench_front_sss.json"),
        ],
        "bench_search_unseen.json": search_command(
            data_dir, csv, RESULTS / "bench_search_unseen.json", methods="fne", first_seed=100
        ),
        "bench_cost_models.json": [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_cost_models.py"),
            "--out",
            str(RESULTS / "bench_cost_models.json"),
        ],
        "bench_evaluator.json": [
            py,
            str(bench / "bench_evaluator.py"),
            "--n",
            "60",
            "--workers",
            "1",
            "2",
            "--data-dir",
            str(data_dir),
            "--out",
            str(RESULTS / "bench_evaluator.json"),
        ],
        "bench_contention.json": [
            py,
            str(bench / "bench_contention.py"),
            "--seed",
            "0",
            "--data-dir",
            str(data_dir),
            "--out",
            str(RESULTS / "bench_contention.json"),
        ],
        "bench_training.json": [
            py,
            str(bench / "bench_training.py"),
            "--datasets",
            "fashion_mnist",
            "--epochs",
            "10",
            "--out",
            str(RESULTS / "bench_training.json"),
        ],
        "bench_training_fm1.json": [
            py,
            str(bench / "bench_training.py"),
            "--datasets",
            "fashion_mnist",
            "--epochs",
            "1",
            "--out",
            str(RESULTS / "bench_training_fm1.json"),
        ],
        "bench_training_c10.json": [
            py,
            str(bench / "bench_training.py"),
            "--datasets",
            "cifar10_subset",
            "--epochs",
            "30",
            "--out",
            str(RESULTS / "bench_training_c10.json"),
        ],
        "bench_contention_training.json": [
            py,
            str(bench / "bench_contention.py"),
            "--mode",
            "training",
            "--train-images",
            "10000",
            "--out",
            str(RESULTS / "bench_contention_training.json"),
        ],
        "report_run.json": [
            py,
            str(ROOT / "src" / "NAS_on_cifar10.py"),
            "--seed",
            "0",
            "--data-dir",
            str(data_dir),
            "--out",
            str(RESULTS / "report_run"),
            "--benchmark",
            str(csv),
        ],
    }


def ensure_results(data_dir: Path, csv: Path, rerun: bool, run_missing: bool = True) -> dict[str, Any]:
    """Run the benchmarks whose results are missing (all with ``rerun``; none without ``run_missing``,
    whose sections then say so); load every result there is."""
    loaded = {}
    for name, command in benchmark_jobs(data_dir, csv).items():
        path = RESULTS / name
        if not (rerun or path.is_file()) and not run_missing:
            print("missing, not run:", name, flush=True)
            continue
        if rerun or not path.is_file():
            if name == "report_run.json" and (RESULTS / "report_run").exists():
                shutil.rmtree(RESULTS / "report_run")
            print("running:", " ".join(command), flush=True)
            subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
            if name == "report_run.json":
                shutil.copyfile(RESULTS / "report_run" / "result.json", path)
                copy_run_plots(RESULTS / "report_run")
        loaded[name] = json.loads(path.read_text())
    return loaded


def _figure_row(label: str, f: dict[str, Any]) -> str:
    return f"| {label} | {f['spearman']:.3f} | {f['kendall']:.3f} | {f['top10_mean']:.2f} | {f['best_position']} |"


def proxy_table(proxies: dict[str, Any], with_proxies: bool = True) -> str:
    """Markdown: the library's ranking, each aggregator, every proxy (unless ``with_proxies`` is
    False) and the published proxies, all on the same report cells."""
    rep = proxies["report"]
    lines = [
        "| ranking or proxy | Spearman rho | Kendall tau | top-10 mean acc. | rank of the best cell |",
        "|---|---|---|---|---|",
    ]
    lines += [
        _figure_row(f"**{name}**" if name.startswith("chosen (") else name, f) for name, f in rep["rankings"].items()
    ]
    if with_proxies:
        lines += [_figure_row(f"fne `{name}`", f) for name, f in rep["proxies"].items()]
    lines += [_figure_row(f"published `{name}`", f) for name, f in rep["published"].items()]
    return "\n".join(lines)


def ranking_line(proxies: dict[str, Any], label: str = "The library's ranking") -> str:
    """Which ranking was chosen (``label``), what it costs per cell and its odds on the selection cells."""
    r, c = proxies["report"]["ranking"], proxies["report"]["cost"]
    weights = r["weights"] or {}
    members = ", ".join(
        f"`{p}`" + (f" (weight {weights[p]:g})" if weights.get(p, 1.0) != 1.0 else "") for p in r["proxies"]
    )
    line = (
        f"{label}: {members}, aggregated by `{r['aggregator']}`, scored on the network "
        f"{r['build_kwargs']}; {c['chosen_seconds_median']:.3f} s per cell (median), "
        f"{c['ratio_median']:.2f}x one forward+backward pass of that network."
    )
    chosen = proxies["selection"]["chosen"]
    if "odds" in chosen:
        line += (
            f" On the selection cells it met every target on {100 * chosen['odds']:.0f}% of the bootstrap "
            f"resamples the size of the report (seed-0 Spearman {chosen['spearman']:.3f})."
        )
    return line


def scatter_figure(proxies: dict[str, Any], path: Path) -> None:
    """Score against accuracy for every proxy, from the benchmark's per-cell scores."""
    cells = proxies["cells"]
    acc = np.array([c["c10_test_200ep"] for c in cells], dtype=float)
    names = [n for n in proxies["proxies"] if n != "combined" and n in cells[0]]
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        x = np.array([np.nan if c[name] is None else c[name] for c in cells], dtype=float)
        ok = np.isfinite(x) & (acc > 0)
        rho, tau = spearmanr(x[ok], acc[ok])[0], kendalltau(x[ok], acc[ok])[0]
        ax.scatter(x[ok], acc[ok], s=4, alpha=0.5)
        if name in ("ntk", "synflow", "params", "flops"):
            ax.set_xscale("log")
        ax.set_title(f"{name}: rho={rho:.3f}, tau={tau:.3f}", fontsize=9)
        ax.set_ylim(max(acc[ok].min(), 80), acc.max() + 0.5)
        if ax.get_xscale() == "linear":  # a few degenerate cells would squash the rest
            low, high = np.quantile(x[ok], [0.02, 1.0])
            pad = 0.05 * (high - low)
            ax.set_xlim(low - pad, high + pad)
        ax.set_xlabel(
            f"{name} score (2% lowest cut off)" if ax.get_xscale() == "linear" else f"{name} score", fontsize=8
        )
        ax.set_ylabel("CIFAR-10 test acc. (%)", fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def search_table(search: dict[str, Any]) -> str:
    """Markdown: the NB201 search results per method, then published anchors."""
    seeds = len(search["seeds"])
    workers = search.get("config_overrides", {}).get("workers")
    where = (
        f"{workers} worker{'s' if workers != 1 else ''}" if workers else "one worker per core"
    ) + ", one torch thread each"
    lines = [
        f"| method | CIFAR-10 test acc. (mean ± std over {seeds} seeds) | min / max | evaluations | "
        f"tournament training (candidates x steps) | wall time per seed ({where}) |",
        "|---|---|---|---|---|---|",
    ]
    for row in search["summary"]:
        lines.append(
            f"| {row['method']} | {row['mean']:.2f} ± {row['std']:.2f} | {row['min']:.2f} / "
            f"{row['max']:.2f} | {row['evaluations']:.0f} | {row.get('candidate_steps', 0):.0f} | "
            f"{row['wall_time_s']:.0f} s |"
        )
    for name, acc, cost in ANCHORS:
        lines.append(f"| {name} | {acc} | - | - | - | {cost} |")
    return "\n".join(lines)


def picks_table(search: dict[str, Any]) -> str:
    """Markdown: each seed's pick and its accuracy, per method."""
    methods = [row["method"] for row in search["summary"]]
    lines = ["| seed | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for seed, runs in search["runs"].items():
        cells = [f"{runs[m]['accuracy']:.2f}" if m in runs else "-" for m in methods]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed_table(proxies: dict[str, Any], evaluator: dict[str, Any], every: dict[str, Any]) -> str:
    """Markdown: seconds per cell and evaluator throughput (``every``: the all-cell result that
    chose the library's NB201 ranking)."""
    c = proxies["report"]["cost"]
    cells = every["all_cells"]
    lines = [
        "| measure | value |",
        "|---|---|",
        f"| the library's NB201 ranking per cell, in forward+backward passes of the scoring network (median "
        f"over {cells['cost_cells']} cells, 1 CPU thread) | {cells['chosen']['cost']:.2f}x |",
        f"| NB201 searches' ranking until 0.6.0 per cell, median | {c['chosen_seconds_median']:.3f} s |",
        f"| its ratio to one forward+backward of the same batch and network | {c['ratio_median']:.2f}x |",
        f"| ntk+naswot+grad_corr per cell, median | {c['mission_seconds_median']:.3f} s |",
        f"| forward+backward of the full-size NB201 network, batch 64 | "
        f"{c['full_network_forward_backward_median']:.3f} s |",
    ]
    n = evaluator["n"]
    for run in evaluator["runs"]:
        threads = run.get("threads", 1)
        same = run.get("identical_to_first", run.get("same_as_serial"))
        lines.append(
            f"| cells per second over {n} cells, {run['backend']} backend, {run['workers']} worker(s) x "
            f"{threads} thread(s), start-up included | {run['cells_per_second']:.2f} "
            f"(scores bit-identical to serial: {same}) |"
        )
    return "\n".join(lines)


def contention_table(contention: dict[str, Any]) -> str:
    """Markdown: the default search alone and beside another busy torch process."""
    alone, shared = contention["alone"], contention["with_other_process"]
    return "\n".join(
        [
            "| default search, seed {seed} | wall time | scoring | tournaments | pick |".format(**contention),
            "|---|---|---|---|---|",
            f"| alone on {contention['usable_cpus']} cores | {alone['wall_s']:.0f} s | "
            f"{alone['timing']['scoring_s']:.0f} s | {alone['timing']['tournaments_s']:.0f} s | `{alone['arch']}` |",
            f"| beside a {shared['hog_threads']}-thread torch training process | {shared['wall_s']:.0f} s | "
            f"{shared['timing']['scoring_s']:.0f} s | {shared['timing']['tournaments_s']:.0f} s | "
            f"{'the same' if contention['same_pick'] else '`' + shared['arch'] + '`'} |",
            f"| ratio | {contention['ratio']:.2f} | | | |",
        ]
    )


def training_table(*trainings: dict[str, Any]) -> str:
    """Markdown: test figures and time per epoch of the default training recipe, one row per run."""
    lines = [
        "| dataset | training images | batch (steps per epoch) | epochs (kept) | test accuracy | balanced | "
        "seconds per epoch | test pass |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for training in trainings:
        for name, r in training["results"].items():
            settings = r["settings"]
            lines.append(
                f"| {name} | {r['train_images']} | {settings['batch']} ({settings['steps_per_epoch']}) | "
                f"{r['epochs']} ({r['best_epoch']}) | {r['test_accuracy']:.2f}% | {r['balanced_accuracy']:.2f}% | "
                f"{r['seconds_per_epoch']:.0f} s | {r['test_seconds']:.0f} s |"
            )
    return "\n".join(lines)


def training_before(path: Path) -> str:
    """One line: the same 1-epoch training with fne 0.2.0's code, when its result file is there.

    ``bench_training_before.json`` is written by 0.2.0's own ``benchmarks/bench_training.py``
    (``git archive 67c2e07 src benchmarks``) with ``--datasets fashion_mnist --epochs 1 --threads 1``.
    """
    if not path.is_file():
        return ""
    before = json.loads(path.read_text())["results"]["fashion_mnist"]
    return (
        f"With fne 0.2.0 (one thread, fp32, no held-out images) the same 1-epoch training took "
        f"{before['seconds_per_epoch']:.0f} s per epoch and tested at {before['test_accuracy']:.2f}%."
    )


def training_contention(contention: dict[str, Any] | None) -> str:
    """One line: a training alone and beside another busy torch process (or that it was not measured)."""
    if contention is None:
        return (
            "A training beside another busy torch process (`bench_contention.py --mode training`) was not measured "
            "for this report."
        )
    return (
        f"Beside another CPU-bound torch process (`benchmarks/bench_contention.py --mode training`), the same "
        f"one-epoch training took {contention['with_other_process']['wall_s']:.0f} s against "
        f"{contention['alone']['wall_s']:.0f} s alone: a ratio of {contention['ratio']:.2f} (a fair share of "
        f"{contention['usable_cpus']} cores gives 2.0)."
    )


def run_accuracy(run: dict[str, Any]) -> str:
    """The example run's looked-up accuracy, or ``n/a``."""
    bench = run.get("benchmark")
    acc = bench.get("c10_test_200ep") if isinstance(bench, dict) else None
    return f"{acc:.2f}%" if isinstance(acc, (int, float)) else "n/a"


def gpu_note(proxies: dict[str, Any]) -> str:
    """A line on the GPU figures: measured, or why there are none."""
    if proxies["settings"].get("device") == "cuda":
        return "Measured on CUDA."
    return (
        "These figures were measured on a CPU; no GPU was available to the runs behind this report, "
        "so it has no GPU figures. `--device cuda` runs the same code with the batch kept on the GPU."
    )


def copy_run_plots(run: Path) -> list[str]:
    """Copy the example search's objective and Pareto-front plots into the report."""
    names = []
    FIGURES.mkdir(parents=True, exist_ok=True)
    for name in ("objectives.png", "pareto_front.png"):
        src = run / "plots" / name
        if src.is_file():
            shutil.copyfile(src, FIGURES / f"search_{name}")
            names.append(f"search_{name}")
    return names


def unseen_line(search: dict[str, Any]) -> str:
    """The default search's accuracy on unseen seeds: mean ± std and each seed's pick."""
    row = next(r for r in search["summary"] if r["method"] == "fne")
    picks = ", ".join(f"{run['fne']['accuracy']:.2f}" for run in search["runs"].values())
    mean, std = row["mean"], row["std"]
    return f"CIFAR-10 test accuracy {mean:.2f} ± {std:.2f} ({picks}), {row['evaluations']:.0f} cells scored"


ALL_CELL_COLUMNS = (
    ("spearman", "Spearman", 3),
    ("kendall", "Kendall", 3),
    ("within_level_spearman", "within-level Spearman", 3),
    ("level_regret", "level regret", 2),
    ("worst_level_regret", "worst level regret", 2),
    ("enumeration_igd", "enumeration IGD", 4),
    ("enumeration_hv", "enumeration HV", 4),
)


def all_cells_table(*results: dict[str, Any]) -> str:
    """The all-cell figures of the chosen rankings (one per result), the earlier rankings and each proxy."""
    header = "| ranking | " + " | ".join(label for _, label, _ in ALL_CELL_COLUMNS) + " |"
    lines = [header, "|---" * (len(ALL_CELL_COLUMNS) + 1) + "|"]

    def row(label: str, figs: dict[str, Any]) -> str:
        return f"| {label} | " + " | ".join(f"{figs[k]:.{d}f}" for k, _, d in ALL_CELL_COLUMNS) + " |"

    for result in results:
        cells = result["all_cells"]
        chosen = cells["chosen"]
        label = (
            f"**chosen, at most {result['settings'].get('max_cost', 3):g} passes** ({chosen['aggregator']}, "
            + ", ".join(f"{p} {w:g}" for p, w in chosen["weights"].items())
            + f"; {chosen['cost']:.2f} passes)"
        )
        lines.append(row(label, cells["rankings"]["chosen"]))
    first = results[0]["all_cells"]
    lines += [row(label, figs) for label, figs in list(first["rankings"].items())[1:]]
    lines += [row(name, figs) for name, figs in first["proxies"].items()]
    return "\n".join(lines)


def front_table(front: dict[str, Any]) -> str:
    """Markdown: IGD and hypervolume against the true NB201 front per cost and method."""
    seeds = front["settings"]["seeds"]
    lines = [
        f"| cost | method | IGD (mean ± std, {seeds} seed{'s' if seeds != 1 else ''}) | hypervolume | front cells "
        "(judged) | evaluations | seconds per seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in front["summary"]:
        lines.append(
            f"| {r['cost']} | {r['method']} | {r['igd_mean']:.4f} ± {r['igd_std']:.4f} | "
            f"{r['hv_mean']:.4f} ± {r['hv_std']:.4f} | {r['front_size_mean']:.1f} ({r['judged_mean']:.1f}) | "
            f"{r['evaluations_mean']:.0f} | {r['seconds_mean']:.0f} |"
        )
    for cost, hv in front["true_hv"].items():
        lines.append(f"| {cost} | true front (every measured cell) | 0 | {hv:.4f} | - | - | - |")
    if "flops" in front["true_hv"]:
        lines.append("| flops | E-TF-MOENAS (*published*) | 0.0113 | 0.8932 | - | 3,000 | - |")
    return "\n".join(lines)


def cost_model_table(models: dict[str, Any]) -> str:
    """Markdown: Spearman (and mean relative error) of device cost models fitted from few cells."""
    sizes = models["settings"]["sizes"]
    head = " | ".join(f"{n} cells: Spearman / rel. error" for n in sizes)
    lines = [f"| device | FLOPs' Spearman | {head} |", "|---|---|" + "---|" * len(sizes)]
    for device, v in models["devices"].items():
        cells = " | ".join(
            f"{v['sizes'][str(n)]['spearman_mean']:.3f} / {v['sizes'][str(n)]['median_relative_error_mean']:.1%}"
            for n in sizes
        )
        lines.append(f"| {device} | {v['flops_spearman']:.3f} | {cells} |")
    return "\n".join(lines)


def least_judged(front: dict[str, Any]) -> str:
    """The fne run whose front the indicators judged least of, in words."""
    cost, seed, run = min(
        ((cost, seed, runs["fne"]) for cost, by_seed in front["runs"].items() for seed, runs in by_seed.items()),
        key=lambda found: found[2]["judged"] / max(found[2]["front_size"], 1),
    )
    return f"{cost} seed {seed}: {run['judged']} of its {run['front_size']} cells judged, IGD {run['igd']:.3f}"


def cost_model_front_table(models: dict[str, Any], searched: dict[str, Any]) -> str:
    """Markdown: per device, the front of every cell ranked with the true cost, with the cost models'
    predictions, and the searches' fronts (IGD mean ± std over seeds, hypervolume)."""
    devices = {d: v for d, v in models["devices"].items() if "true_cost" in v}
    if not devices:
        return "(run without the all-cell score file: no fronts)"
    sizes = models["settings"]["sizes"]
    found = {row["cost"]: row for row in searched["summary"] if row["method"] == "fne"}
    n_search = searched["settings"]["seeds"]
    head = " | ".join(f"every cell, model of {n} cells" for n in sizes)
    lines = [
        f"| device | every cell, true cost | {head} | search, model of {searched['settings']['device_sample']} cells "
        f"({n_search} seeds) |",
        "|---|---|" + "---|" * len(sizes) + "---|",
    ]
    for device, v in devices.items():
        true = f"{v['true_cost']['enumeration_igd']:.4f} / {v['true_cost']['enumeration_hv']:.4f}"
        cells = " | ".join(
            f"{v['sizes'][str(n)]['enumeration_igd_mean']:.4f} ± {v['sizes'][str(n)]['enumeration_igd_std']:.4f} / "
            f"{v['sizes'][str(n)]['enumeration_hv_mean']:.4f}"
            for n in sizes
        )
        row = found.get(device)
        search = f"{row['igd_mean']:.4f} ± {row['igd_std']:.4f} / {row['hv_mean']:.4f}" if row else "-"
        lines.append(f"| {device} | {true} | {cells} | {search} |")
    return "\n".join(lines)


def write_report(results: dict[str, Any]) -> Path:
    """Render ``report/README.md`` from loaded results."""
    proxies, search = results["bench_proxies.json"], results["bench_search.json"]
    darts = results["bench_proxies_darts.json"]
    evaluator, run = results["bench_evaluator.json"], results["report_run.json"]
    FIGURES.mkdir(parents=True, exist_ok=True)
    scatter_figure(proxies, FIGURES / "proxies_vs_accuracy.png")
    plots = [p.name for p in sorted(FIGURES.glob("search_*.png"))]
    settings = proxies["settings"]
    training_runs = [
        results[name]
        for name in ("bench_training_fm1.json", "bench_training.json", "bench_training_c10.json")
        if name in results
    ]
    every = results["bench_proxies_all.json"]["all_cells"]
    text = TEMPLATE.format(
        all_cells_table=all_cells_table(results["bench_proxies_all.json"], results["bench_proxies_all_fast.json"]),
        all_select=every["selection_cells"],
        all_report=every["report_cells"],
        all_true_hv=every["true_front_hv"],
        n=proxies["report"]["cells"],
        seed=settings["report_seed"],
        batch=settings["batch"],
        select_n=proxies["selection"]["cells"],
        proxy_table=proxy_table(proxies),
        ranking=ranking_line(proxies, "The chosen ranking (NB201 searches' until 0.6.0)"),
        seed2_n=results["bench_proxies_seed2.json"]["report"]["cells"],
        seed2_table=proxy_table(results["bench_proxies_seed2.json"], with_proxies=False),
        darts_n=darts["report"]["cells"],
        darts_select_n=darts["selection"]["cells"],
        darts_table=proxy_table(darts),
        darts_ranking=ranking_line(darts),
        search_table=search_table(search),
        picks_table=picks_table(search),
        speed_table=speed_table(proxies, evaluator, results["bench_proxies_all_fast.json"]),
        contention_table=contention_table(results["bench_contention.json"]),
        run_arch=run["best"]["arch"],
        run_acc=run_accuracy(run),
        gpu_note=gpu_note(proxies),
        training_table=training_table(*training_runs),
        training_contention=training_contention(results.get("bench_contention_training.json")),
        training_before=training_before(RESULTS / "bench_training_before.json"),
        training_arch=training_runs[0]["arch"] if training_runs else BEST_CELL,
        training_threads=f"threads: {training_runs[0]['threads']}" if training_runs else "not measured for this report",
        run_evals=run["evaluations"],
        run_time=run["wall_time_s"],
        plots="\n\n".join(f"![{p}](figures/{p})" for p in plots),
        front_table="\n\n".join(
            front_table(results[name])
            for name in (
                "bench_front.json",
                "bench_front_params.json",
                "bench_front_devices.json",
                "bench_front_sss.json",
            )
        ),
        front_settings=results["bench_front.json"]["settings"],
        least_judged=least_judged(results["bench_front_devices.json"]),
        unseen=unseen_line(results["bench_search_unseen.json"]),
        cost_model_table=cost_model_table(results["bench_cost_models.json"]),
        cost_model_front_table=cost_model_front_table(
            results["bench_cost_models.json"], results["bench_front_devices.json"]
        ),
        cost_model_seeds=results["bench_cost_models.json"]["settings"]["seeds"],
    )
    out = REPORT / "README.md"
    out.write_text(text)
    return out


TEMPLATE = """# fne on NAS-Bench-201: what it does and how well

Every number and figure below was produced by `python report/make_report.py`, which runs the
benchmarks in `benchmarks/` (or reuses their JSON results in `report/results/`). Rows marked
*published* are reference figures from the literature, not fne measurements.

## Training-free ranking on every NB201 cell

`benchmarks/bench_proxies.py --phase all`: every unique NB201 cell is scored once, on its live
form (an op that cannot reach the output is dropped), on one batch of 64 CIFAR-10 training
images, and its scores stand for its isomorphs. The aggregator and weights were chosen on
{all_select} cells drawn with seed 0 from all 15,625 (coordinate ascent for the highest overall
plus within-level Spearman, within a cost per cell in forward+backward passes); the figures are
on the other {all_report} cells (every isomorph of a selection cell left out), against the
200-epoch CIFAR-10 test accuracy. Within-level figures: over the FLOPs levels holding at least 10
of these cells, the mean Spearman inside a level and the gap between a level's best cell and the
cell ranked first in it (mean and largest, accuracy points). Enumeration front: the cells of all
15,625 that no cell beats in both ranking and FLOPs, held against the true front of test error vs
FLOPs (IGD, and hypervolume against the reference box; the true front's is {all_true_hv:.4f}).
The first row is the choice within 3 passes per cell, the second the choice within 1.6, both
among candidates that include the path depths of the computation graph (`kernel_depth`: the
most spatial convolutions on one input-to-output path; `shortcut_depth`: the fewest
convolution, pooling or linear layers on one); the second is `search_defaults`, the library's
NB201 ranking of searches, fronts and `fne score`. The rows until 0.6.0 are the rankings the
library used before (the search's, where the selection's ascent starts, and the fronts').

{all_cells_table}

## Training-free ranking against accuracy (fne 0.2.0)

These proxy figures were measured with fne 0.2.0, whose `flops` proxy counted the
multiply-accumulates of convolutions and linear layers only; 0.3.0 counts FLOPs as NAS-Bench-201
does (pooling, batch norm and ReLU too), which moves cells of equal convolutions apart.

The proxies, aggregator and weights of NB201 searches' ranking until 0.6.0 were chosen by a fixed rule on
{select_n} NB201 cells drawn with seed 0 (`benchmarks/bench_proxies.py --phase select`): among
the sets within 3 forward+backward passes per cell, the one that most often meets both targets
(Spearman 0.91, top-10 mean 93.8) on bootstrap resamples of those cells the size of the report
(`benchmarks/selection_rule.py`). The figures below are on {n} other cells, drawn with seed {seed} from the
cells outside every seed-0 sample; each is scored on one batch of {batch} CIFAR-10 training images and held against its
200-epoch CIFAR-10 test accuracy. The published proxies are read from the benchmark table for
the same cells.

{ranking}

{proxy_table}

![proxies against accuracy](figures/proxies_vs_accuracy.png)

The same ranking on {seed2_n} more cells, drawn with seed 2 from the cells outside every seed-0
sample and outside the seed-1 sample above:

{seed2_table}

## Training-free ranking in the DARTS space

Chosen by the same rule, with the one target Spearman 0.60, on {darts_select_n} cells of the
NAS-Bench-301 table (a seed-0 half), reported on {darts_n} cells of the other half (NAS-Bench-301
surrogate validation accuracy).

{darts_ranking}

{darts_table}

## Search on NAS-Bench-201 (CIFAR-10)

Default settings of `src/NAS_on_cifar10.py` (no limit: the pick of the whole space) next to
fne's original design (`--preset fne2021`: NTK, linear regions and gradient correlation, Pareto
survival and pick, a tournament every third generation) and random search picked by the same
ranking with the same evaluations; the accuracy of the chosen cell is looked up in the benchmark
table only after the search.

{search_table}

The default search on five seeds no setting was chosen on (100 to 104): {unseen}.

Per seed (CIFAR-10 test accuracy of each method's pick):

{picks_table}

Example run, `src/NAS_on_cifar10.py --seed 0` with its defaults (one worker per core, one
torch thread each): picked `{run_arch}` (CIFAR-10 test accuracy {run_acc}) with {run_evals}
evaluations in {run_time:.0f} s. Every backend and worker count gives the same bits, so this is
also the benchmark's seed-0 pick. Proxy values per generation and the final population:

{plots}

## Quality-cost fronts against the true NB201 front

`benchmarks/bench_front.py`: fne's front (`--cost C --preset front`: survival along the front, 40
cells, 14 generations, no tournament: 600 evaluations) against random search with as many evaluations (its front under
the same ranking) and pymoo's NSGA-II on (SynFlow, JacCov, cost) as E-TF-MOENAS runs it (the
non-dominated set of everything it evaluated), seeds {front_settings[first_seed]} onwards (settings chosen on
seeds 10 and 11). Each front's cells are looked up only afterwards: IGD on (test error, cost
scaled to [0, 1] by the space's range) and hypervolume on (test error, cost) divided by the
reference box, reference point (0.9001, 220.12 MFLOPs) for FLOPs (E-TF-MOENAS's protocol) and the
largest cost of the space otherwise. Device rows search with `--cost table` fitted to the 50 cells
`fne export --sample 50` chooses, measured by HW-NAS-Bench, and are judged against that device's
measurements of every cell. Cells at chance accuracy (the 341 cells with no path from input to
output, the fastest networks on devices that skip dead operations) are left out of every front
(fne's fronts leave them out themselves), and so are cells the device did not measure (the Edge
TPU's 4,699): "judged" counts the front's cells the indicators see. A search does not know which
cells a device leaves unmeasured, so part of its front can go unjudged ({least_judged}).
The FLOPs, parameter and device rows ran with nothing else on the machine. The
last table is the NATS-Bench size space (`--space sss`: channel counts of the best NB201 cell's
network, cost parameters, against its 90-epoch test error), one seed.

{front_table}

## Device cost models from a few measured cells

`benchmarks/bench_cost_models.py`: HW-NAS-Bench's measurements of every NB201 network stand for
the device. The table cost is fitted to the cells `fne export --sample N` chooses and predicts all
others; Spearman against the measurements of the other cells and the median relative error,
mean over {cost_model_seeds} seeds, beside the Spearman of FLOPs.

{cost_model_table}

What the model does to a device's front: every measured cell ranked by NB201's search ranking
(on the all-cell score file of `bench_proxies.py --phase all`), the cells non-dominated in
(ranking, cost) judged at their measured cost against the device's true front, IGD (mean ± std
over seeds) / hypervolume, as in the table above. With the true cost of every cell it shows what
the ranking allows on the device, with the model's cost what the model leaves of it. The last
column is `fne search --preset front` with the model of 50 cells (the device rows of the table
above), which evaluates 600 cells; its searches score cells on their own images and
initialisation, and rank them against their random cells rather than against every cell, so they
can also land above the enumeration (Eyeriss, the FPGA).

{cost_model_front_table}

## Speed

{speed_table}

On a shared machine (`benchmarks/bench_contention.py`): every worker runs one torch thread, so
the search slows down by its share of the cores and no more.

{contention_table}

## Training the pick

`benchmarks/bench_training.py`: the cell `{training_arch}` in its full network, trained with the
default recipe (the batch halved, not below 32, until the training has at least 1,000 steps, the
learning rate scaled with it by its square root after a 5% warm-up, cosine decay, no augmentation
below 20 epochs, crops (and flips on colour images) from 20, the best epoch on a stratified tenth
of the training images kept) on Fashion-MNIST's 10,000 training images, tested on its 10,000 test
images, and on the 5,000-image CIFAR-10 subset, tested on CIFAR-10's 10,000 test images;
{training_threads}. Rows ran with nothing else on the machine. {training_before}

{training_table}

{training_contention}

{gpu_note}
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rerun", action="store_true", help="run every benchmark again")
    ap.add_argument("--data-dir", type=Path, default=SHARED)
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--no-run", action="store_true", help="use the results there are; run no benchmark")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.csv.is_file():
        raise SystemExit(f"benchmark table not found: {args.csv} (use --csv)")
    results = ensure_results(args.data_dir, args.csv, args.rerun, run_missing=not args.no_run)
    print("wrote", write_report(results))


if __name__ == "__main__":
    main()
