"""Score benchmark cells with training-free proxies and hold them against an accuracy column.

``fne score`` and ``src/plot_scores.py`` run :func:`run_scoring`::

    fne score --space nb201 --ground-truth ../shared/data/nb201/nb201_cifar10.csv \
        --metric c10_test_200ep --n 200 --seed 0 --data-dir ../shared/data --out out/scores

Samples ``--n`` rows (with ``--seed``) of a CSV that has an ``arch_str`` column and the
``--metric`` column, scores their cells on one seeded batch of training images, and writes
to ``--out``:

* ``scores.csv``: ``arch_str``, one column per proxy, ``combined`` (the ``--aggregate``
  ranking of the ``--combine`` proxies: higher = ranked better), the metric;
* ``correlations.json``: ``{proxy: {"spearman", "kendall", "failed"}}`` plus ``combined``
  (nothing is fitted to the metric);
* ``timing.json``: cells scored, seconds, cells per second, device, backend, workers and threads;
* ``<proxy>.png`` per proxy (score against the metric, rho and tau in the title) and
  ``ntk_vs_grad_corr.png`` (the two proxies against each other, coloured by the metric).

A bad option, file or table row is a usage error (exit status 2) found before any cell is
scored or any file written. Only this command and the benchmarks read ground truth; the
scorer never does.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fne.compute import ComputeOptions, evaluator_for, resolve_backend, resolve_device
from fne.data import DataOptions, load_dataset, sample_batch
from fne.evolution.defaults import AGGREGATORS_HELP, fill_search_defaults
from fne.evolution.fitness import (
    DEFAULT_PROXIES,
    Scorer,
    check_proxy_names,
    list_proxies,
)
from fne.evolution.fitness.aggregate import aggregate, list_aggregators, named_weights
from fne.evolution.fitness.units import proxy_label, uses_log_scale
from fne.files import check_out_folder
from fne.genotopheno import get_space, list_spaces
from fne.options import check_options, key_value, option
from fne.plots import scatter_png
from fne.search.benchmark_table import ARCH_COLUMN, column, read_rows, sample_rows
from fne.search.ground_truth import correlation_report

logger = logging.getLogger(__name__)

__all__ = ["ScoreConfig", "run_scoring", "write_plots", "build_arg"]

build_arg = key_value


@dataclass(frozen=True)
class ScoreConfig(DataOptions, ComputeOptions):
    """The options of ``fne score``."""

    space: str = option("nb201", "search space of the table's cells", choices=list_spaces)
    ground_truth: str = option("", "CSV with arch_str and the --metric column (required)")
    metric: str = option("", "ground-truth column, e.g. c10_test_200ep (required)")
    n: int = option(200, "rows to sample", low=1)
    seed: int = option(0, "seed of the sample, batch and proxies", low=0)
    out: str = option("", "output folder (required)")
    proxies: tuple[str, ...] = option(DEFAULT_PROXIES, "proxies to score", choices=list_proxies)
    combine: tuple[str, ...] = option(
        None,
        "proxies of the combined ranking (scored too; default: the objectives of a search of --space)",
        choices=list_proxies,
    )
    aggregate: str = option(
        None, f"the combined ranking: {AGGREGATORS_HELP} (default: the space's)", choices=list_aggregators
    )
    combine_weights: dict[str, Any] = option(
        None, "weight of a proxy in --aggregate (repeatable PROXY=WEIGHT; default: the space's)", flag="combine-weight"
    )
    batch: int = option(64, "images in the scoring batch", low=2)
    build_kwargs: dict[str, Any] | None = option(
        None, "scoring network size (repeatable; default: the space's score preset)", flag="build-arg"
    )
    cache: str | None = option(None, "JSON score cache file")

    def __post_init__(self) -> None:
        """Fill ``combine``, ``aggregate`` and ``combine_weights`` left at None as a search of ``space`` would."""
        fill_search_defaults(self, proxies="combine", ranking="aggregate", weights="combine_weights")

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option."""
        for name in ("ground_truth", "metric", "out"):
            if not getattr(self, name):
                raise ValueError(f"--{name.replace('_', '-')} is required")
        for name in ("proxies", "combine"):
            check_proxy_names(getattr(self, name), f"--{name}")
        check_options(self)
        self.combine_weight_list()
        if self.cache is not None and Path(self.cache).is_dir():
            raise ValueError(f"--cache {self.cache} is a folder; give a JSON file")
        try:
            resolve_device(self.device)
        except ValueError as err:
            raise ValueError(f"--device: {err}") from None
        resolve_backend(self.backend, self.resolved_workers(), self.ray_address)

    def combine_weight_list(self) -> list[float] | None:
        """One weight per ``combine`` proxy, as the search weighs its objectives (None: equal).

        Raises:
            ValueError: a weight that is negative or not a number, or all weights zero.
        """
        return named_weights(self.combine_weights, self.combine, "--combine-weight")

    def all_proxies(self) -> list[str]:
        """The scored proxies: ``proxies`` then the ``combine`` ones not among them."""
        return list(dict.fromkeys(list(self.proxies) + list(self.combine)))


# --------------------------------------------------------------------------- checks before scoring


def load_rows(config: ScoreConfig) -> list[dict[str, str]]:
    """The ``--n`` sampled rows of ``--ground-truth``, after checking the whole table.

    Raises:
        FileNotFoundError, ValueError: see :func:`fne.search.benchmark_table.read_rows`;
            ``--n`` larger than the usable rows.
    """
    table = Path(config.ground_truth)
    rows = read_rows(
        table,
        (ARCH_COLUMN, config.metric),
        space=get_space(config.space),
        flag="--ground-truth",
        column_flags={config.metric: "--metric"},
    )
    if config.n > len(rows):
        raise ValueError(
            f"--n {config.n} is out of range: {table} has {len(rows)} usable rows "
            f"(with an arch_str and a finite {config.metric}); use --n 1..{len(rows)}"
        )
    return sample_rows(rows, config.n, config.seed)


def load_batch(config: ScoreConfig) -> tuple[torch.Tensor, torch.Tensor, dict[str, int]]:
    """The seeded ``--batch`` of training images from ``--data-dir``, and the network's data sizes.

    Raises:
        FileNotFoundError: the folder is missing or holds no dataset.
        NotADirectoryError: ``--data-dir`` is a file.
        ValueError: unreadable files, or ``--batch`` larger than the training split.
    """
    from fne.data import dataset_network_kwargs

    folder = Path(config.data_dir)
    if not folder.exists():
        raise FileNotFoundError(f"--data-dir {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"--data-dir {folder} is not a folder")
    try:
        data = load_dataset(folder, config.dataset, download=config.download)
    except (ValueError, FileNotFoundError) as err:
        raise ValueError(f"--data-dir {folder}: {err}") from None
    if config.batch > len(data.train):
        raise ValueError(
            f"--batch {config.batch} is larger than the {len(data.train)} training images in --data-dir {folder}"
        )
    x, y = sample_batch(data.train, config.batch, torch.Generator().manual_seed(config.seed))
    return x, y, dataset_network_kwargs(data)


def build_kwargs(config: ScoreConfig, probe: str, data_kwargs: dict[str, int]) -> dict[str, Any]:
    """The scoring network's build arguments, checked by building the ``probe`` cell.

    Raises:
        ValueError: the ``--build-arg`` values do not build a network of ``--space``.
    """
    space = get_space(config.space)
    if config.build_kwargs is None:
        return {**space.preset("score"), **data_kwargs}
    build = dict(config.build_kwargs)
    try:
        space.build(space.parse(probe), **build, **data_kwargs)
    except (TypeError, ValueError, RuntimeError) as err:
        given = " ".join(f"{k}={v}" for k, v in build.items())
        raise ValueError(f"--build-arg {given}: cannot build a {config.space} network ({err})") from None
    return {**build, **data_kwargs}


def score_rows(config: ScoreConfig, rows: list[dict[str, str]]) -> list[dict[str, float]]:
    """Scores of the rows' cells; everything is checked before the first cell is scored."""
    x, y, data_kwargs = load_batch(config)
    build = build_kwargs(config, rows[0]["arch_str"], data_kwargs)
    evaluator = evaluator_for(config)
    try:
        scorer = Scorer(
            config.space,
            config.all_proxies(),
            inputs=x,
            targets=y,
            device=config.device,
            seed=config.seed,
            cache_file=Path(config.cache) if config.cache else None,
            build_kwargs=build,
            evaluator=evaluator,
        )
        return scorer.score_many([r["arch_str"] for r in rows], progress=True)
    finally:
        evaluator.close()


# --------------------------------------------------------------------------- outputs


def write_scores_csv(
    path: Path,
    rows: list[dict[str, str]],
    scores: list[dict[str, float]],
    proxies: list[str],
    metric: str,
    combined: np.ndarray | None = None,
) -> None:
    """``arch_str``, one column per proxy (empty when failed), ``combined`` when given, the metric."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str"] + proxies + (["combined"] if combined is not None else []) + [metric])
        for i, (row, score) in enumerate(zip(rows, scores, strict=False)):
            values = ["" if not math.isfinite(score[p]) else repr(score[p]) for p in proxies]
            extra = [repr(float(combined[i]))] if combined is not None else []
            writer.writerow([row["arch_str"]] + values + extra + [row[metric]])


def _log_x(name: str, values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return uses_log_scale(name) and finite.size > 0 and bool((finite > 0).all())


def write_plots(
    out: Path,
    scores: list[dict[str, float]],
    proxies: list[str],
    truth: np.ndarray,
    report: dict[str, dict[str, float]],
    metric: str,
) -> list[Path]:
    """One scatter plot per proxy against the metric, and NTK against grad_corr."""
    paths = []
    for name in proxies:
        values = np.array([s[name] for s in scores], dtype=float)
        entry = report[name]
        title = (
            f"{name}: rho={entry['spearman']:.3f} tau={entry['kendall']:.3f} "
            f"(n={len(scores)}, failed={entry['failed']})"
        )
        log = _log_x(name, values)
        paths.append(
            scatter_png(
                out / f"{name}.png", values, truth, title=title, xlabel=proxy_label(name, log), ylabel=metric, log_x=log
            )
        )
    if "ntk" in proxies and "grad_corr" in proxies:
        ntk = np.array([s["ntk"] for s in scores], dtype=float)
        gc = np.array([s["grad_corr"] for s in scores], dtype=float)
        log = _log_x("ntk", ntk)
        paths.append(
            scatter_png(
                out / "ntk_vs_grad_corr.png",
                ntk,
                gc,
                title="NTK against gradient correlation",
                xlabel=proxy_label("ntk", log),
                ylabel=proxy_label("grad_corr"),
                color=truth,
                color_label=metric,
                log_x=log,
            )
        )
    return paths


def timing_entry(config: ScoreConfig, cells: int, seconds: float) -> dict[str, Any]:
    """``timing.json``: cells, seconds, cells per second, device, backend and workers."""
    workers = config.resolved_workers()
    timing = {
        "cells": cells,
        "seconds": seconds,
        "device": str(resolve_device(config.device)),
        "backend": resolve_backend(config.backend, workers, config.ray_address),
        "workers": workers,
        "threads": config.threads,
    }
    timing["cells_per_second"] = cells / max(seconds, 1e-9)
    logger.info(
        "scored %d cells in %.1f s: %.2f cells/s on %s", cells, seconds, timing["cells_per_second"], timing["device"]
    )
    return timing


def run_scoring(config: ScoreConfig) -> dict[str, Any]:
    """Check every option, sample, score, and write ``scores.csv``, ``correlations.json`` and the plots.

    Raises:
        ValueError, FileNotFoundError, NotADirectoryError: a bad option, file or row, found
            before anything is scored or written.
    """
    out = Path(config.out or ".")
    config.validate()
    check_out_folder(out, NotADirectoryError)
    rows = load_rows(config)
    proxies = config.all_proxies()
    start = time.perf_counter()
    scores = score_rows(config, rows)
    timing = timing_entry(config, len(rows), time.perf_counter() - start)
    truth = column(rows, config.metric)
    combined = aggregate(scores, config.combine, config.aggregate, config.combine_weight_list())
    report: dict[str, dict[str, Any]] = correlation_report(scores, proxies, truth, config.combine, combined)
    report["combined"] = {
        **report["combined"],
        "aggregate": config.aggregate,
        "proxies": list(config.combine),
        "weights": config.combine_weight_list(),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_scores_csv(out / "scores.csv", rows, scores, proxies, config.metric, combined)
    (out / "correlations.json").write_text(json.dumps(report, indent=2))
    (out / "timing.json").write_text(json.dumps(timing, indent=2))
    write_plots(out, scores, proxies, truth, report, config.metric)
    for name, entry in report.items():
        logger.info("%-16s spearman %.3f  kendall %.3f", name, entry["spearman"], entry["kendall"])
    logger.info("wrote %s", out)
    return report
