"""A sample of cells to measure on a device: chosen to cover the space, exported to run without fne.

::

    export_sample("nb201", 50, "to_time", seed=0)   # to_time/cell_0000.ts ..., cells.csv, time_cells.py

writes to the folder:

* one network per cell (``cell_0000.ts``: TorchScript, or ``.pt2``: a ``torch.export``
  program, with ``fmt="program"``), each the cell's network as it will be trained (the
  space's ``full`` preset unless told otherwise), with random weights, taking float images of
  ``input_shape`` (any batch size) through the export's normalisation (mean 0, std 1);
* ``cells.csv``: ``file``, ``arch_str`` (the genotype text) and ``params`` (M) of each cell;
* ``sample.json``: the space, build arguments, input shape, seed and format;
* ``time_cells.py``: a script that needs only torch. Copied to the device with the folder, it
  times every network (median of repeated forward passes) and writes ``measured.csv``
  (``arch_str``, ``latency_ms``, ``spread``; -1 where a network failed), which
  ``get_cost("table", path="measured.csv", column="latency_ms")`` reads.

**Which cells** (:func:`choose_cells`, seeded): distinct cells (by canonical key) drawn at
random; first, greedily, cells that hold additive features (an op on an edge) no chosen cell
holds yet, until every op is on every edge (when ``n`` allows; spaces the cost model cannot
describe skip this step); then the rest spread over sizes: :data:`SPREAD_FACTOR` candidates
per remaining cell, sorted by parameter count and cut into equal groups, one cell drawn
from each group.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fne.costs.cost import NetworkSpec
from fne.costs.size import count_params
from fne.costs.table import cell_features
from fne.files import atomic_write_json, atomic_write_text, check_out_folder
from fne.genotopheno.space import SearchSpace, get_space
from fne.progress import progress_bar

logger = logging.getLogger(__name__)

__all__ = [
    "SAMPLE_FORMATS",
    "POOL_FACTOR",
    "MIN_POOL",
    "SPREAD_FACTOR",
    "CELLS_FILE",
    "TIMING_SCRIPT",
    "choose_cells",
    "export_sample",
]

SAMPLE_FORMATS = {"torchscript": ".ts", "program": ".pt2"}
"""The formats a sample is exported in, and the suffix of each network's file."""

POOL_FACTOR = 10
MIN_POOL = 1000
"""Random distinct cells the choice starts from: ``max(POOL_FACTOR * n, MIN_POOL)`` (fewer if the space has fewer)."""

SPREAD_FACTOR = 4
"""Candidates weighed per cell chosen for its size."""

CELLS_FILE = "cells.csv"
TIMING_SCRIPT = "time_cells.py"
SAMPLE_FILE = "sample.json"
MEASURED_FILE = "measured.csv"


def _pool(space: SearchSpace[Any], size: int, rng: np.random.Generator) -> list[Any]:
    """Up to ``size`` distinct random cells (by canonical key), in draw order."""
    distinct: dict[str, Any] = {}
    every = getattr(space, "all_genotypes", None)
    if callable(every):
        cells = list(every())
        if size * 2 >= len(cells):
            for i in rng.permutation(len(cells)):
                distinct.setdefault(space.canonical(cells[i]), cells[i])
            return list(distinct.values())[:size]
    for _ in range(20 * size):
        g = space.sample(rng)
        distinct.setdefault(space.canonical(g), g)
        if len(distinct) == size:
            break
    return list(distinct.values())


def _covering(space: SearchSpace[Any], pool: Sequence[Any], n: int) -> list[int]:
    """Indices of pool cells chosen greedily to hold every additive feature at least once (at most ``n``)."""
    try:
        features = cell_features(space)
    except ValueError:
        logger.info("the %s space has no cost-model features: the sample only spreads over sizes", space.name)
        return []
    held = features.matrix(pool, features.additive) > 0
    covered = np.zeros(held.shape[1], dtype=bool)
    chosen: list[int] = []
    free = np.ones(len(pool), dtype=bool)
    while len(chosen) < n:
        gains = np.where(free, (held & ~covered).sum(1), -1)
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        chosen.append(best)
        free[best] = False
        covered |= held[best]
    if not covered.all():
        logger.info("%d of %d features are in no chosen cell (n=%d)", int((~covered).sum()), covered.size, n)
    return chosen


def choose_cells(
    spec: NetworkSpec, n: int, *, seed: int = 0, size: Callable[[Sequence[Any]], Sequence[float]] | None = None
) -> list[Any]:
    """``n`` distinct cells of ``spec.space`` that cover the space (see the module doc), seeded.

    Args:
        spec: the network the cells become (its space; its build arguments give the sizes).
        n: cells to choose.
        seed: the seed of every random draw.
        size: ``size(cells) -> sizes`` (default: the parameter count of each cell's network).

    Returns:
        The cells, the covering ones first.

    Raises:
        ValueError: ``n`` below 1, or more than the distinct cells found.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the sample needs n >= 1 cells, got {n!r}")
    space = spec.space
    rng = np.random.default_rng(seed)
    pool = _pool(space, max(POOL_FACTOR * n, MIN_POOL), rng)
    if len(pool) < n:
        raise ValueError(f"cannot choose {n} distinct cells of the {space.name} space: found only {len(pool)}")
    chosen = _covering(space, pool, n)
    left = n - len(chosen)
    if left:
        taken = set(chosen)
        candidates = [i for i in range(len(pool)) if i not in taken][: max(SPREAD_FACTOR * left, left)]
        measure = size or (lambda cells: [count_params(spec.build(g, device="meta")) for g in cells])
        sizes = np.asarray(measure([pool[i] for i in candidates]), dtype=float)
        by_size = np.array(candidates)[np.argsort(sizes, kind="stable")]
        chosen.extend(int(group[rng.integers(len(group))]) for group in np.array_split(by_size, left))
    return [pool[i] for i in chosen]


def export_sample(
    space: SearchSpace[Any] | str,
    n: int,
    out: str | Path,
    *,
    build_kwargs: Mapping[str, Any] | None = None,
    input_shape: Sequence[int] = (3, 32, 32),
    seed: int = 0,
    fmt: str = "torchscript",
) -> Path:
    """Choose ``n`` cells (:func:`choose_cells`) and write their networks, ``cells.csv``,
    ``sample.json`` and ``time_cells.py`` to ``out`` (see the module doc).

    Args:
        space: the space or its registered name.
        n: cells to export.
        out: the folder (created when missing).
        build_kwargs: ``space.build`` arguments (default: the ``full`` preset); ``in_channels``
            comes from ``input_shape`` and ``num_classes`` defaults to 10.
        input_shape: ``(channels, height, width)`` of one image.
        seed: the seed of the choice and of the random weights.
        fmt: ``torchscript`` or ``program`` (:data:`SAMPLE_FORMATS`).

    Returns:
        The folder.

    Raises:
        ValueError: an unknown format or space, a bad input shape, build arguments the space
            rejects, ``n`` out of range, or ``out`` a file.
    """
    import torch

    from fne.model_file import export_model, save_model

    if fmt not in SAMPLE_FORMATS:
        raise ValueError(f"sample format must be one of {', '.join(SAMPLE_FORMATS)}, got {fmt!r}")
    shape = tuple(input_shape)
    if len(shape) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape):
        raise ValueError(f"input_shape must be (channels, height, width) of positive ints, got {list(input_shape)}")
    folder = check_out_folder(out)
    space = get_space(space) if isinstance(space, str) else space
    kwargs = {"num_classes": 10, **space.preset("full"), **dict(build_kwargs or {}), "in_channels": shape[0]}
    spec = NetworkSpec(space, kwargs, (shape[0], shape[1], shape[2]))
    cells = choose_cells(spec, n, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp, progress_bar(len(cells), "exporting", unit="cell") as bar:
        for i, cell in enumerate(cells):
            text = space.format(cell)
            net = spec.build(cell).eval()
            saved = save_model(
                Path(tmp) / "model.pt",
                net,
                space=space.name,
                genotype=text,
                build_kwargs=kwargs,
                mean=[0.0] * shape[0],
                std=[1.0] * shape[0],
                classes=[str(c) for c in range(int(kwargs["num_classes"]))],
                image_size=shape[1:],
            )
            name = f"cell_{i:04d}{SAMPLE_FORMATS[fmt]}"
            export_model(saved, folder / name, format=fmt)
            rows.append((name, text, count_params(net)))
            bar.update(1)
    atomic_write_text(folder / CELLS_FILE, _csv_text(("file", "arch_str", "params"), rows))
    atomic_write_json(
        folder / SAMPLE_FILE,
        {
            "space": space.name,
            "build_kwargs": kwargs,
            "input_shape": list(shape),
            "seed": seed,
            "format": fmt,
            "cells": len(cells),
        },
    )
    atomic_write_text(folder / TIMING_SCRIPT, TIME_CELLS_SCRIPT)
    logger.info(
        "exported %d %s cells to %s; time them with %s on the device", len(cells), space.name, folder, TIMING_SCRIPT
    )
    return folder


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


TIME_CELLS_SCRIPT = '''\
"""Time the networks of this folder on this machine and write the CSV fne's table cost reads.

Needs only torch. Copy the folder to the device and run, for example:

    python time_cells.py                                  # CPU, 1 thread -> measured.csv
    python time_cells.py --device cuda --repeats 50       # a GPU
    python time_cells.py --threads 4 --out pixel.csv

Each network is run --warmup times, then timed --repeats times on a batch of --batch zero
images; latency_ms is the median, spread the interquartile range over the median. A network
that fails to load or run gets -1 (not measured). Then, where fne runs:

    fne search ... --cost table --cost-table measured.csv --cost-column latency_ms
"""

import argparse
import csv
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def load(path, device):
    """The network in ``path`` (TorchScript .ts or a torch.export program .pt2) on ``device``."""
    if path.suffix == ".pt2":
        return torch.export.load(str(path)).module().to(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.load(str(path), map_location=device).eval()


def time_network(net, x, warmup, repeats, device):
    """Median and interquartile spread of the forward time of ``net`` on ``x``, in ms."""
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            net(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    median = statistics.median(times)
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else [median, median, median]
    return median, (quartiles[2] - quartiles[0]) / median if median > 0 else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description="Time the exported networks of this folder.")
    parser.add_argument("--folder", default=str(HERE), help="the exported folder (default: this script's)")
    parser.add_argument("--out", default=None, help="the CSV to write (default: measured.csv in the folder)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, mps")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--batch", type=int, default=1, help="images per forward pass")
    parser.add_argument("--warmup", type=int, default=5, help="untimed forward passes first")
    parser.add_argument("--repeats", type=int, default=20, help="timed forward passes")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    sample = json.loads((folder / "sample.json").read_text())
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    x = torch.zeros(args.batch, *sample["input_shape"], device=device)
    with open(folder / "cells.csv", newline="") as fh:
        cells = list(csv.DictReader(fh))
    out = Path(args.out) if args.out else folder / "measured.csv"
    failed = 0
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str", "latency_ms", "spread"])
        for i, cell in enumerate(cells, start=1):
            try:
                net = load(folder / cell["file"], device)
                latency, spread = time_network(net, x, args.warmup, args.repeats, device)
            except Exception as err:  # a network this device cannot run is recorded as not measured
                print(f"{cell['file']}: not measured ({type(err).__name__}: {err})", file=sys.stderr)
                latency, spread, failed = -1.0, -1.0, failed + 1
            writer.writerow([cell["arch_str"], repr(latency), repr(spread)])
            print(f"[{i}/{len(cells)}] {cell['file']}: {latency:.3f} ms", file=sys.stderr)
    print(f"wrote {out} ({len(cells) - failed} timed, {failed} not measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
"""The standalone timing script written beside the networks (needs only torch)."""
