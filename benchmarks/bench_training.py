"""Test accuracy and time per epoch of a cell trained with fne's default recipe on each dataset.

Trains one fixed NB201 cell (by default the benchmark's best CIFAR-10 cell) at the space's
full size with the default recipe (batch scaled to the data, crop and flip where they suit
it) for ``--epochs`` epochs on each dataset, tests it, and prints the accuracy and the
seconds per epoch; writes JSON::

    python benchmarks/bench_training.py --epochs 1

Datasets: Fashion-MNIST (10,000 train / 10,000 test, 28 x 28 grayscale) and the CIFAR-10
subset (5,000 train / 10,000 test) of ``../shared/data``. Run it with nothing else busy.

Recipe settings are chosen without the test images: ``--holdout 0.2`` trains on 80% of the
training images and reports the accuracy on the other 20% (a seeded, stratified split), and
``--set FIELD=JSON`` changes a :class:`TrainConfig` field, e.g.::

    python benchmarks/bench_training.py --datasets fashion_mnist --holdout 0.2 --set 'augment="crop"'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np

from fne.data import load_dataset
from fne.data.sampling import train_val_split
from fne.genotopheno import get_space
from fne.options import json_fields
from fne.training.recipe import TrainConfig, scaled_batch_size
from fne.training.train_cell import train_cell

SHARED = ROOT.parent / "shared" / "data"
BEST_NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
DATASETS = {"fashion_mnist": SHARED / "fashion_mnist", "cifar10_subset": SHARED}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default=BEST_NB201, help="NB201 cell to train")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (one process runs)")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        help="train on the rest of the training images and test on this share of them (0: test on the test images)",
    )
    ap.add_argument(
        "--set", action="append", default=[], metavar="FIELD=JSON", help="change a TrainConfig field (repeatable)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_training.json")
    args = ap.parse_args(argv)
    if not 0.0 <= args.holdout < 1.0:
        ap.error(f"--holdout must be in [0, 1), got {args.holdout}")
    try:
        args.changes = json_fields(args.set, [f.name for f in dataclasses.fields(TrainConfig)])
    except ValueError as err:
        ap.error(str(err))
    return args


def _with_holdout(data: Any, share: float, seed: int) -> Any:
    """``data`` whose test split is a held-out part of its training images."""
    if share <= 0.0:
        return data
    train, held = train_val_split(data.train, share, np.random.default_rng(seed))
    return dataclasses.replace(data, train=train, test=held)


def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    data = _with_holdout(load_dataset(DATASETS[name]), args.holdout, args.seed)
    config = TrainConfig(**args.changes)
    with tempfile.TemporaryDirectory() as folder:
        report = train_cell(
            get_space("nb201"),
            args.arch,
            data,
            out=Path(folder),
            epochs=args.epochs,
            seed=args.seed,
            config=config,
            progress=False,
        )
    batch = scaled_batch_size(len(data.train), config.batch_size, config.min_steps, epochs=args.epochs)
    entry = {
        "dataset": data.describe(),
        "train_images": len(data.train),
        "test_images": len(data.test),
        "tested_on": "held-out training images" if args.holdout else "test images",
        "config": config.to_dict(),
        "batch": batch,
        "steps_per_epoch": len(data.train) // batch,
        "epochs": args.epochs,
        "test_accuracy": report["test_accuracy"],
        "seconds_per_epoch": report["seconds_per_epoch"],
    }
    print(
        f"{name:16s} {entry['test_accuracy']:6.2f}% after {args.epochs} epoch(s), batch {batch} "
        f"({entry['steps_per_epoch']} steps/epoch), {entry['seconds_per_epoch']:.1f} s/epoch",
        flush=True,
    )
    return entry


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    results = {name: run_one(name, args) for name in args.datasets}
    doc = {
        "arch": args.arch,
        "space": "nb201",
        "build": "full preset (C=16, N=5)",
        "threads": args.threads,
        "holdout": args.holdout,
        "changes": args.changes,
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    print(f"wrote {args.out}")
    return doc


if __name__ == "__main__":
    main()
