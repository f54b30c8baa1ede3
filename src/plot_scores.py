"""Score sampled cells of a benchmark table with training-free proxies and plot them.

    python src/plot_scores.py --space nb201 --ground-truth ../shared/data/nb201/nb201_cifar10.csv \
        --metric c10_test_200ep --n 200 --seed 0 --data-dir ../shared/data --out out/scores

Samples ``--n`` rows (with ``--seed``) of a CSV that has an ``arch_str`` column and the
``--metric`` column, scores their cells on one seeded batch of CIFAR-10 training images,
and writes to ``--out``:

* ``scores.csv``: ``arch_str``, one column per proxy, the metric;
* ``correlations.json``: ``{proxy: {"spearman", "kendall", "failed"}}`` plus ``combined``,
  the equal-weight rank aggregation of the ``--combine`` proxies (nothing fitted to the metric);
* ``timing.json``: cells scored, seconds, cells per second, device, backend, workers and threads;
* ``<proxy>.png`` per proxy (score against the metric, rho and tau in the title) and
  ``ntk_vs_grad_corr.png`` (the two proxies against each other, coloured by the metric).

A bad option, file or table row is a usage error (``plot_scores.py: error: ...``, exit
status 2) found before any cell is scored or any file written.

Only this script and the benchmark read ground truth; the scorer never does.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from fne.evolution.dataset import expected_layouts, load_cifar10, locate_cifar10, sample_batch
from fne.evolution.evaluator import add_evaluator_args, default_workers, evaluator_for, resolve_backend
from fne.evolution.fitness import (COMBINED_PROXIES, DEFAULT_PROXIES, Scorer, list_proxies,
                                   proxy_build_kwargs, resolve_device)
from fne.evolution.fitness.groundtruth import column, correlation_report, read_rows, sample_rows
from fne.evolution.fitness.plots import scatter_png
from fne.evolution.fitness.units import proxy_label, uses_log_scale
from fne.genotopheno import get_space, list_spaces

logger = logging.getLogger("plot_scores")


def build_arg(text: str) -> tuple:
    """Parse ``KEY=VALUE`` (VALUE as int, float or text) for ``--build-arg``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, value


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    ap = argparse.ArgumentParser(prog="plot_scores.py",
                                 description="Score benchmark cells with training-free proxies.")
    ap.add_argument("--space", default="nb201", choices=list_spaces())
    ap.add_argument("--ground-truth", type=Path, required=True, help="CSV with arch_str and --metric")
    ap.add_argument("--metric", required=True, help="ground-truth column, e.g. c10_test_200ep")
    ap.add_argument("--n", type=int, default=200, help="rows to sample")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample, batch and proxies")
    ap.add_argument("--data-dir", type=Path, required=True, help="folder holding CIFAR-10")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--proxies", nargs="+", default=list(DEFAULT_PROXIES), choices=list_proxies())
    ap.add_argument("--combine", nargs="+", default=list(COMBINED_PROXIES), choices=list_proxies(),
                    help="proxies of the combined ranking (scored too)")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--batch", type=int, default=64, help="images in the scoring batch")
    ap.add_argument("--build-arg", type=build_arg, action="append", default=None, metavar="KEY=VALUE",
                    help="proxy network build argument (repeatable; default: the library's)")
    ap.add_argument("--cache", type=Path, default=None, help="JSON score cache file")
    add_evaluator_args(ap)
    return ap


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line (``argv``, or ``sys.argv`` when None)."""
    return build_parser().parse_args(argv)


# --------------------------------------------------------------------------- checks before scoring


def check_out(out: Path) -> None:
    """``--out`` must be a folder or creatable as one.

    Raises:
        NotADirectoryError: ``out`` or one of its parents exists and is not a folder.
    """
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(f"--out {out}: {parent} is a file, not a folder")


def check_options(args: argparse.Namespace) -> None:
    """Ranges of the numeric options, ``--device``, ``--cache`` and the evaluator options.

    Raises:
        ValueError: naming the option that is wrong.
    """
    check_ranges(args)
    if args.cache is not None and args.cache.is_dir():
        raise ValueError(f"--cache {args.cache} is a folder; give a JSON file")
    try:
        resolve_device(args.device)
    except ValueError as err:
        raise ValueError(f"--device: {err}") from None
    resolve_backend(args.backend, resolved_workers(args), args.ray_address)


def check_ranges(args: argparse.Namespace) -> None:
    """``--n``, ``--batch`` and ``--threads`` must be in range.

    Raises:
        ValueError: naming the option and its value.
    """
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    if args.batch < 2:
        raise ValueError(f"--batch must be at least 2 images, got {args.batch}")
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")


def resolved_workers(args: argparse.Namespace) -> int:
    """``--workers``, or when not given one for ``--backend serial`` or a GPU, else the usable cores."""
    if args.workers is not None:
        return args.workers
    return 1 if args.backend == "serial" else default_workers(str(resolve_device(args.device)))


def check_header(path: Path, metric: str) -> None:
    """The table must be a readable CSV with ``arch_str`` and ``metric`` columns.

    Raises:
        FileNotFoundError: ``path`` is missing or not a file.
        ValueError: unreadable, or a column is missing (named with the file's columns).
    """
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"--ground-truth {path} {what}")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"--ground-truth {path} is not a readable CSV file ({err})") from None
    missing = [f"{name!r}{' (--metric)' if name == metric else ''}"
               for name in dict.fromkeys(("arch_str", metric)) if name not in header]
    if missing:
        raise ValueError(f"--ground-truth {path} has no {' and no '.join(missing)} column; "
                         f"its columns are {', '.join(header) or 'none'}")


def _bad_rows(reader: csv.DictReader, space_name: str) -> List[str]:
    """Descriptions of the rows whose non-empty ``arch_str`` is not a genotype of the space."""
    space = get_space(space_name)
    bad = []
    for number, row in enumerate(reader, start=1):
        text = (row.get("arch_str") or "").strip()
        if not text:
            continue
        try:
            space.parse(text)
        except ValueError as err:
            bad.append(f"row {number} (line {reader.line_num}): arch_str {text!r} is not a "
                       f"{space_name} genotype ({err})")
    return bad


def check_genotypes(path: Path, space_name: str) -> None:
    """Every non-empty ``arch_str`` of the table must parse as a genotype of the space.

    Raises:
        ValueError: naming the file, the first bad row (1 = first data row), its text and
            how many rows are bad; or the file is not readable text CSV.
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            bad = _bad_rows(csv.DictReader(fh), space_name)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"--ground-truth {path} is not a readable CSV file ({err})") from None
    if bad:
        more = f"; {len(bad) - 1} more bad rows" if len(bad) > 1 else ""
        raise ValueError(f"--ground-truth {path}: {bad[0]}{more}; is --space {space_name} right?")


def load_rows(args: argparse.Namespace) -> List[Dict[str, str]]:
    """The ``--n`` sampled rows of ``--ground-truth``, after checking the whole table.

    Raises:
        FileNotFoundError, ValueError: see :func:`check_header` and :func:`check_genotypes`;
            ``--n`` larger than the usable rows.
    """
    check_header(args.ground_truth, args.metric)
    check_genotypes(args.ground_truth, args.space)
    rows = read_rows(args.ground_truth, ("arch_str", args.metric))
    if args.n > len(rows):
        raise ValueError(f"--n {args.n} is out of range: {args.ground_truth} has {len(rows)} usable rows "
                         f"(with an arch_str and a finite {args.metric}); use --n 1..{len(rows)}")
    return sample_rows(rows, args.n, args.seed)


def load_batch(args: argparse.Namespace) -> Tuple[torch.Tensor, torch.Tensor]:
    """The seeded ``--batch`` of CIFAR-10 training images from ``--data-dir``.

    Raises:
        FileNotFoundError: the folder is missing or holds no CIFAR-10.
        NotADirectoryError: ``--data-dir`` is a file.
        ValueError: unreadable CIFAR-10 files, or ``--batch`` larger than the training split.
    """
    folder = args.data_dir
    if not folder.exists():
        raise FileNotFoundError(f"--data-dir {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"--data-dir {folder} is not a folder")
    if locate_cifar10(folder) is None:
        raise FileNotFoundError(f"--data-dir {folder} holds no CIFAR-10; expected {expected_layouts(folder)}")
    try:
        data = load_cifar10(folder)
    except (ValueError, FileNotFoundError) as err:
        raise ValueError(f"--data-dir {folder}: {err}") from None
    if args.batch > len(data.train):
        raise ValueError(f"--batch {args.batch} is larger than the {len(data.train)} training images "
                         f"in --data-dir {folder}")
    return sample_batch(data.train, args.batch, torch.Generator().manual_seed(args.seed))


def build_kwargs(args: argparse.Namespace, probe: str) -> Dict[str, Any]:
    """The proxy network's build arguments, checked by building the ``probe`` cell.

    Raises:
        ValueError: the ``--build-arg`` values do not build a network of ``--space``.
    """
    if not args.build_arg:
        return proxy_build_kwargs(args.space)
    build = dict(args.build_arg)
    space = get_space(args.space)
    try:
        space.build(space.parse(probe), **build)
    except (TypeError, ValueError, RuntimeError) as err:
        given = " ".join(f"{k}={v}" for k, v in build.items())
        raise ValueError(f"--build-arg {given}: cannot build a {args.space} network ({err})") from None
    return build


def score_rows(args: argparse.Namespace, rows: List[Dict[str, str]],
               proxies: List[str]) -> List[Dict[str, float]]:
    """Scores of the rows' cells on a seeded CIFAR-10 training batch.

    Everything is checked (data, batch, build arguments, evaluator) before the first cell
    is scored.
    """
    x, y = load_batch(args)
    build = build_kwargs(args, rows[0]["arch_str"])
    evaluator = evaluator_for(args.backend, resolved_workers(args), args.ray_address, threads=args.threads,
                              device=str(resolve_device(args.device)))
    try:
        scorer = Scorer(args.space, proxies, inputs=x, targets=y, device=args.device, seed=args.seed,
                        cache_file=args.cache, build_kwargs=build, evaluator=evaluator)
        return scorer.score_many([r["arch_str"] for r in rows], progress=True)
    finally:
        evaluator.close()


def write_scores_csv(path: Path, rows: List[Dict[str, str]], scores: List[Dict[str, float]],
                     proxies: List[str], metric: str) -> None:
    """``arch_str``, one column per proxy (empty when failed), the metric."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str"] + proxies + [metric])
        for row, score in zip(rows, scores):
            values = ["" if not math.isfinite(score[p]) else repr(score[p]) for p in proxies]
            writer.writerow([row["arch_str"]] + values + [row[metric]])


def _log_x(name: str, values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return uses_log_scale(name) and finite.size > 0 and bool((finite > 0).all())


def write_plots(out: Path, scores: List[Dict[str, float]], proxies: List[str], truth: np.ndarray,
                report: Dict[str, Dict[str, float]], metric: str) -> List[Path]:
    """One scatter plot per proxy against the metric, and NTK against grad_corr."""
    paths = []
    for name in proxies:
        values = np.array([s[name] for s in scores], dtype=float)
        entry = report[name]
        title = (f"{name}: rho={entry['spearman']:.3f} tau={entry['kendall']:.3f} "
                 f"(n={len(scores)}, failed={entry['failed']})")
        log = _log_x(name, values)
        paths.append(scatter_png(out / f"{name}.png", values, truth, title=title,
                                 xlabel=proxy_label(name, log), ylabel=metric, log_x=log))
    if "ntk" in proxies and "grad_corr" in proxies:
        ntk = np.array([s["ntk"] for s in scores], dtype=float)
        gc = np.array([s["grad_corr"] for s in scores], dtype=float)
        log = _log_x("ntk", ntk)
        paths.append(scatter_png(out / "ntk_vs_grad_corr.png", ntk, gc,
                                 title="NTK against gradient correlation",
                                 xlabel=proxy_label("ntk", log), ylabel=proxy_label("grad_corr"), color=truth,
                                 color_label=metric, log_x=log))
    return paths


def timing_entry(args: argparse.Namespace, cells: int, seconds: float) -> Dict[str, Any]:
    """``timing.json``: cells, seconds, cells per second, device, backend and workers."""
    workers = resolved_workers(args)
    timing = {"cells": cells, "seconds": seconds, "device": str(resolve_device(args.device)),
              "backend": resolve_backend(args.backend, workers, args.ray_address), "workers": workers,
              "threads": args.threads}
    timing["cells_per_second"] = cells / max(seconds, 1e-9)
    logger.info("scored %d cells in %.1f s: %.2f cells/s on %s", cells, seconds, timing["cells_per_second"],
                timing["device"])
    return timing


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Check every option, sample, score, and write ``scores.csv``, ``correlations.json`` and the plots.

    Raises:
        ValueError, FileNotFoundError, NotADirectoryError: a bad option, file or row, found
            before anything is scored or written.
    """
    check_out(args.out)
    check_options(args)
    rows = load_rows(args)
    proxies = list(dict.fromkeys(list(args.proxies) + list(args.combine)))
    start = time.perf_counter()
    scores = score_rows(args, rows, proxies)
    timing = timing_entry(args, len(rows), time.perf_counter() - start)
    truth = column(rows, args.metric)
    report = correlation_report(scores, proxies, truth, args.combine)
    args.out.mkdir(parents=True, exist_ok=True)
    write_scores_csv(args.out / "scores.csv", rows, scores, proxies, args.metric)
    (args.out / "correlations.json").write_text(json.dumps(report, indent=2))
    (args.out / "timing.json").write_text(json.dumps(timing, indent=2))
    write_plots(args.out, scores, proxies, truth, report, args.metric)
    return report


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the script; returns the correlation report.

    Raises:
        SystemExit: status 2 with ``plot_scores.py: error: ...`` on stderr for a bad option,
            file or table row (as argparse does for malformed options).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = run(args)
    except (ValueError, FileNotFoundError, NotADirectoryError) as err:
        parser.error(str(err))
    for name, entry in report.items():
        logger.info("%-16s spearman %.3f  kendall %.3f", name, entry["spearman"], entry["kendall"])
    logger.info("wrote %s", args.out)
    return report


if __name__ == "__main__":
    main()
