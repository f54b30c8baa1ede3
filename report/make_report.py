"""Build ``report/README.md`` and its figures from benchmark runs.

Every figure in the report comes from a JSON file that a benchmark writes under
``report/results/`` (kept in the repository, so the report can be rebuilt and checked);
a benchmark whose file is missing (or every benchmark, with ``--rerun``) is run first.
Scratch folders of the runs (``report/results/*/``) are not kept::

    python report/make_report.py            # reuse existing results, run what is missing
    python report/make_report.py --rerun    # run every benchmark again (about an hour on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

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
ANCHORS = [
    ("optimum of NB201", "94.37", "-"),
    ("TE-NAS (published)", "93.9", "~1,500 GPU-s"),
    ("regularised evolution with training (published)", "93.92", "~12,000 s"),
    ("NASWOT, N=100 (published)", "92.8", "~30 s"),
]


# Other search settings, fne only, run next to the default search:
# result file -> (label, --set options, first seed).
VARIANTS: Dict[str, Any] = {
    "bench_search_seeds5-9.json": ("default settings on seeds 5-9, the sample the final tournament's length "
                                   "was chosen on", [], 5),
    "bench_search_steps150.json": ("a final tournament of 150 steps", ["final_tournament_steps=150"], 0),
}


def search_command(data_dir: Path, csv: Path, out: Path, sets: Sequence[str] = (),
                   methods: Optional[str] = None, first_seed: int = 0) -> List[str]:
    """The ``bench_search.py`` command writing ``out`` (5 seeds from ``first_seed``, one at a time
    with the default workers, so that the wall times are those of a user's search)."""
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_search.py"), "--seeds", "5",
               "--first-seed", str(first_seed), "--data-dir", str(data_dir), "--csv", str(csv), "--out", str(out)]
    if methods:
        command += ["--methods", methods]
    for item in sets:
        command += ["--set", item]
    return command


def benchmark_jobs(data_dir: Path, csv: Path) -> Dict[str, List[str]]:
    """Result file name -> command that writes it."""
    py, bench = sys.executable, ROOT / "benchmarks"
    variants = {name: search_command(data_dir, csv, RESULTS / name, sets, "fne", first)
                for name, (_, sets, first) in VARIANTS.items()}
    return {**variants,
        "bench_proxies.json": [py, str(bench / "bench_proxies.py"), "--n", "1000", "--seed", "0",
                               "--data-dir", str(data_dir), "--csv", str(csv),
                               "--out", str(RESULTS / "bench_proxies.json")],
        "bench_search.json": search_command(data_dir, csv, RESULTS / "bench_search.json"),
        "bench_evaluator.json": [py, str(bench / "bench_evaluator.py"), "--n", "60", "--workers", "1", "2",
                                 "--data-dir", str(data_dir), "--out", str(RESULTS / "bench_evaluator.json")],
        "bench_contention.json": [py, str(bench / "bench_contention.py"), "--seed", "0",
                                  "--data-dir", str(data_dir), "--out", str(RESULTS / "bench_contention.json")],
        "report_run.json": [py, str(ROOT / "src" / "NAS_on_cifar10.py"), "--seed", "0",
                                   "--data-dir", str(data_dir), "--out", str(RESULTS / "report_run"),
                                   "--benchmark", str(csv)],
    }


def ensure_results(data_dir: Path, csv: Path, rerun: bool) -> Dict[str, Any]:
    """Run the benchmarks whose results are missing (all with ``rerun``); load every result."""
    loaded = {}
    for name, command in benchmark_jobs(data_dir, csv).items():
        path = RESULTS / name
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


def proxy_table(proxies: Dict[str, Any]) -> str:
    """Markdown: fne's proxies and the published ones on the same cells."""
    lines = ["| proxy | Spearman rho | Kendall tau |", "|---|---|---|"]
    combined = "+".join(proxies["settings"]["combined"])
    for name, entry in proxies["proxies"].items():
        label = f"**combined** ({combined}, equal-weight mean rank)" if name == "combined" else f"fne `{name}`"
        lines.append(f"| {label} | {entry['spearman']:.3f} | {entry['kendall']:.3f} |")
    mission = proxies["combined_mission_only"]
    lines.append(f"| combined, ntk+naswot+grad_corr only | {mission['spearman']:.3f} | {mission['kendall']:.3f} |")
    for name, entry in proxies["published"].items():
        lines.append(f"| published `{name}` | {entry['spearman']:.3f} | {entry['kendall']:.3f} |")
    return "\n".join(lines)


def scatter_figure(proxies: Dict[str, Any], path: Path) -> None:
    """Score against accuracy for every proxy, from the benchmark's per-cell scores."""
    cells = proxies["cells"]
    acc = np.array([c["c10_test_200ep"] for c in cells], dtype=float)
    names = [n for n in proxies["proxies"] if n != "combined" and n in cells[0]]
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
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
        ax.set_xlabel(f"{name} score (2% lowest cut off)" if ax.get_xscale() == "linear" else f"{name} score",
                      fontsize=8)
        ax.set_ylabel("CIFAR-10 test acc. (%)", fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def search_table(search: Dict[str, Any]) -> str:
    """Markdown: the NB201 search results per method, then published anchors."""
    seeds = len(search["seeds"])
    workers = search.get("config_overrides", {}).get("workers")
    where = (f"{workers} worker{'s' if workers != 1 else ''}" if workers else "one worker per core") + \
        ", one torch thread each"
    lines = [f"| method | CIFAR-10 test acc. (mean ± std over {seeds} seeds) | min / max | evaluations | "
             f"wall time per seed ({where}) |", "|---|---|---|---|---|"]
    for row in search["summary"]:
        lines.append(f"| {row['method']} | {row['mean']:.2f} ± {row['std']:.2f} | {row['min']:.2f} / "
                     f"{row['max']:.2f} | {row['evaluations']:.0f} | {row['wall_time_s']:.0f} s |")
    for name, acc, cost in ANCHORS:
        lines.append(f"| {name} | {acc} | - | - | {cost} |")
    return "\n".join(lines)


def variant_table(results: Dict[str, Any]) -> str:
    """Markdown: fne with each variant of its settings, next to the default."""
    lines = ["| fne with | seeds | CIFAR-10 test acc. (mean ± std) | min / max | wall time per seed |",
             "|---|---|---|---|---|"]
    rows = [("default settings (final tournament of 8 cells, 75 steps)", results["bench_search.json"])]
    rows += [(label, results[name]) for name, (label, _, _) in VARIANTS.items()]
    for label, search in rows:
        row = next(r for r in search["summary"] if r["method"] == "fne")
        seeds = search["seeds"]
        workers = search.get("config_overrides", {}).get("workers")
        where = ("two seeds side by side" if search.get("jobs", 1) > 1 else "one seed at a time") + (
            f", {workers} worker{'s' if workers != 1 else ''} each" if workers else ", default workers")
        lines.append(f"| {label} | {seeds[0]}-{seeds[-1]} | {row['mean']:.2f} ± {row['std']:.2f} | "
                     f"{row['min']:.2f} / {row['max']:.2f} | {row['wall_time_s']:.0f} s ({where}) |")
    return "\n".join(lines)


def speed_table(proxies: Dict[str, Any], evaluator: Dict[str, Any]) -> str:
    """Markdown: seconds per cell and evaluator throughput."""
    s = proxies["speed"]
    threads = proxies["settings"].get("threads")
    lines = ["| measure | value |", "|---|---|",
             f"| ntk+naswot+grad_corr per cell, median ({threads} CPU thread) | {s['mission_seconds_median']:.3f} s |",
             f"| ratio to one forward+backward of the same batch and network | "
             f"{s['ratio_to_forward_backward_median']:.2f}x |",
             f"| forward+backward of the full-size NB201 network, batch 64 | "
             f"{s['full_network_forward_backward_median']:.3f} s |",
             f"| peak memory while scoring (process RSS) | {s['peak_rss_mib_while_scoring']:.0f} MiB |"]
    n = evaluator["n"]
    for run in evaluator["runs"]:
        threads = run.get("threads", 1)
        same = run.get("identical_to_first", run.get("same_as_serial"))
        lines.append(f"| cells per second over {n} cells, {run['backend']} backend, {run['workers']} worker(s) x "
                     f"{threads} thread(s), start-up included | {run['cells_per_second']:.2f} "
                     f"(scores bit-identical to serial: {same}) |")
    return "\n".join(lines)


def contention_table(contention: Dict[str, Any]) -> str:
    """Markdown: the default search alone and beside another busy torch process."""
    alone, shared = contention["alone"], contention["with_other_process"]
    return "\n".join([
        "| default search, seed {seed} | wall time | scoring | tournaments | pick |".format(**contention),
        "|---|---|---|---|---|",
        f"| alone on {contention['usable_cpus']} cores | {alone['wall_s']:.0f} s | "
        f"{alone['timing']['scoring_s']:.0f} s | {alone['timing']['tournaments_s']:.0f} s | `{alone['arch']}` |",
        f"| beside a {shared['hog_threads']}-thread torch training process | {shared['wall_s']:.0f} s | "
        f"{shared['timing']['scoring_s']:.0f} s | {shared['timing']['tournaments_s']:.0f} s | "
        f"{'the same' if contention['same_pick'] else '`' + shared['arch'] + '`'} |",
        f"| ratio | {contention['ratio']:.2f} | | | |"])


def run_accuracy(run: Dict[str, Any]) -> str:
    """The example run's looked-up accuracy, or ``n/a``."""
    bench = run.get("benchmark")
    acc = bench.get("c10_test_200ep") if isinstance(bench, dict) else None
    return f"{acc:.2f}%" if isinstance(acc, (int, float)) else "n/a"


def gpu_note(proxies: Dict[str, Any]) -> str:
    """A line on the GPU figures: measured, or why there are none."""
    settings, speed = proxies["settings"], proxies["speed"]
    if settings.get("device") == "cuda" and speed.get("peak_gpu_mib") is not None:
        return f"Measured on CUDA: peak GPU memory {speed['peak_gpu_mib']:.0f} MiB."
    return ("These figures were measured on a CPU; no GPU was available to the runs behind this report, "
            "so it has no GPU figures. `--device cuda` runs the same code with the batch kept on the GPU.")


def copy_run_plots(run: Path) -> List[str]:
    """Copy the example search's objective and Pareto-front plots into the report."""
    names = []
    FIGURES.mkdir(parents=True, exist_ok=True)
    for name in ("objectives.png", "pareto_front.png"):
        src = run / "plots" / name
        if src.is_file():
            shutil.copyfile(src, FIGURES / f"search_{name}")
            names.append(f"search_{name}")
    return names


def write_report(results: Dict[str, Any]) -> Path:
    """Render ``report/README.md`` from loaded results."""
    proxies, search = results["bench_proxies.json"], results["bench_search.json"]
    evaluator, run = results["bench_evaluator.json"], results["report_run.json"]
    contention = results["bench_contention.json"]
    FIGURES.mkdir(parents=True, exist_ok=True)
    scatter_figure(proxies, FIGURES / "proxies_vs_accuracy.png")
    plots = [p.name for p in sorted(FIGURES.glob("search_*.png"))]
    settings = proxies["settings"]
    text = TEMPLATE.format(
        n=settings["n"], seed=settings["seed"], batch=settings["batch"], build=settings["build_kwargs"],
        proxy_table=proxy_table(proxies), search_table=search_table(search), variant_table=variant_table(results),
        speed_table=speed_table(proxies, evaluator), contention_table=contention_table(contention),
        run_arch=run["best"]["arch"], run_acc=run_accuracy(run),
        gpu_note=gpu_note(proxies), run_evals=run["evaluations"], run_time=run["wall_time_s"],
        plots="\n\n".join(f"![{p}](figures/{p})" for p in plots))
    out = REPORT / "README.md"
    out.write_text(text)
    return out


TEMPLATE = """# fne on NAS-Bench-201: what it does and how well

Every number and figure below was produced by `python report/make_report.py`, which runs the
benchmarks in `benchmarks/` (or reuses their JSON results in `report/results/`). Rows marked
*published* are reference figures from the literature, not fne measurements.

## Training-free proxies against accuracy

{n} cells sampled (seed {seed}) from the NB201 cells that carry published zero-cost proxies;
each scored on one batch of {batch} real CIFAR-10 training images, on a reduced proxy network
({build}); correlation with the 200-epoch CIFAR-10 test accuracy. The published proxies are read
from the benchmark table for the same cells.

{proxy_table}

![proxies against accuracy](figures/proxies_vs_accuracy.png)

## Search on NAS-Bench-201 (CIFAR-10)

Default settings of `src/NAS_on_cifar10.py`; the accuracy of the chosen cell is looked up in the
benchmark table only after the search. Baselines use the same number of evaluations.

{search_table}

Other settings (fne only). The wall times of these rows depend on how they were run (noted in
each row; the sweeps shared the machine with other work), so compare them with each other
only; the table above has the times of a user's search.

{variant_table}

Example run, `src/NAS_on_cifar10.py --seed 0` with its defaults (one worker per core, one
torch thread each): picked `{run_arch}` (CIFAR-10 test accuracy {run_acc}) with {run_evals}
evaluations in {run_time:.0f} s. Every backend and worker count gives the same bits, so this is
also the benchmark's seed-0 pick. Proxy values per generation and the final population:

{plots}

## Speed

{speed_table}

On a shared machine (`benchmarks/bench_contention.py`): every worker runs one torch thread, so
the search slows down by its share of the cores and no more.

{contention_table}

{gpu_note}
"""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rerun", action="store_true", help="run every benchmark again")
    ap.add_argument("--data-dir", type=Path, default=SHARED)
    ap.add_argument("--csv", type=Path, default=CSV)
    return ap.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if not args.csv.is_file():
        raise SystemExit(f"benchmark table not found: {args.csv} (use --csv)")
    results = ensure_results(args.data_dir, args.csv, args.rerun)
    print("wrote", write_report(results))


if __name__ == "__main__":
    main()
