"""Test figures and time per epoch of a cell trained with fne's default recipe on each dataset.

Trains one fixed NB201 cell (by default the benchmark's best CIFAR-10 cell) at the space's
full size with the default recipe (batch and learning rate scaled to the data, warm-up, the
best epoch on held-out training images kept, crop and flip where they suit the images) for
``--epochs`` epochs on each dataset, tests it, and prints the accuracy, the balanced accuracy
and the seconds per epoch; writes JSON::

    python benchmarks/bench_training.py --epochs 1
    python benchmarks/bench_training.py --datasets fashion_mnist --epochs 10

Datasets: Fashion-MNIST (10,000 train / 10,000 test, 28 x 28 grayscale) and the CIFAR-10
subset (5,000 train / 10,000 test) of ``../shared/data``. Run it with nothing else busy:
training uses every usable core (``--threads N`` fixes the count).

Recipe settings are chosen without the test images: ``--holdout 0.2`` trains on 80% of the
training images and reports the accuracy on the other 20% (a seeded, stratified split; the
recipe's own ``val_split`` is then taken from the 80%), ``--train-images N`` trains on a
stratified subset for quick comparisons, and ``--set FIELD=JSON`` changes a
:class:`TrainConfig` field, e.g.::

    python benchmarks/bench_training.py --datasets fashion_mnist --holdout 0.2 --set 'augment="crop"'
    python benchmarks/bench_training.py --datasets fashion_mnist --holdout 0.2 --train-images 2000 \
        --set 'lr_scaling="sqrt"'
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

from fne.compute import usable_cpus
from fne.data import load_dataset
from fne.data.sampling import train_val_split
from fne.genotopheno import get_space
from fne.options import json_fields
from fne.training.recipe import TrainConfig
from fne.training.train_cell import train_cell

SHARED = ROOT.parent / "shared" / "data"
BEST_NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
DATASETS = {"fashion_mnist": SHARED / "fashion_mnist", "cifar10_subset": SHARED}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default=BEST_NB201, help="NB201 cell to train")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: every usable core, tuned)")
    ap.add_argument(
        "--train-images", type=int, default=0, help="train on a seeded, stratified subset of this many (0: all)"
    )
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
    if args.train_images < 0 or (args.threads is not None and args.threads < 1):
        ap.error("--train-images must be >= 0 and --threads >= 1")
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


def _subset(data: Any, images: int, seed: int) -> Any:
    """``data`` with a seeded, stratified subset of ``images`` training images (0: all)."""
    if images <= 0 or images >= len(data.train):
        return data
    _, kept = train_val_split(data.train, images, np.random.default_rng(seed + 1))
    return dataclasses.replace(data, train=kept)


def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    data = _subset(_with_holdout(load_dataset(DATASETS[name]), args.holdout, args.seed), args.train_images, args.seed)
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
            threads=args.threads,
        )
    keys = ("test_accuracy", "balanced_accuracy", "best_epoch", "val_accuracy", "epochs_run", "seconds_per_epoch")
    entry = {
        "dataset": data.describe(),
        "train_images": len(data.train),
        "test_images": len(data.test),
        "tested_on": "held-out training images" if args.holdout else "test images",
        "config": config.to_dict(),
        "epochs": args.epochs,
        **{key: report[key] for key in keys},
        "test_seconds": report["test_seconds"],
        "settings": report["settings"],
        "threads": report["threads"],
        "history": report["history"],
    }
    settings = report["settings"]
    print(
        f"{name:16s} {entry['test_accuracy']:6.2f}% (balanced {entry['balanced_accuracy']:.2f}%) after "
        f"{args.epochs} epoch(s), kept epoch {entry['best_epoch']}, batch {settings['batch']} "
        f"({settings['steps_per_epoch']} steps/epoch), lr {settings['lr']:.4g}, {settings['precision']}, "
        f"{entry['seconds_per_epoch']:.1f} s/epoch, test {entry['test_seconds']:.1f} s",
        flush=True,
    )
    return entry


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    results = {name: run_one(name, args) for name in args.datasets}
    doc = {
        "arch": args.arch,
        "space": "nb201",
        "build": "full preset (C=16, N=5)",
        "threads": args.threads or f"every usable core ({usable_cpus()}), tuned",
        "holdout": args.holdout,
        "train_images": args.train_images,
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
