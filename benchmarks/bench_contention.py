"""A search or a training on a shared machine: alone, then beside another CPU-bound torch process.

``--mode search`` (the default) runs the default NB201 search of ``src/NAS_on_cifar10.py``
(seed ``--seed``); ``--mode training`` trains the NB201 optimum cell at full size on
``--train-images`` Fashion-MNIST images for ``--epochs`` epochs and tests it, as ``fne train``
does (every usable core, the thread count tuned). Each runs twice: once on an idle machine,
once while a second process trains a small convolutional network with torch's default thread
count for the whole duration (the situation of a laptop or a shared server). Prints both wall
times, their ratio (a fair share of the cores gives 2.0 beside one other busy process), and
writes JSON::

    python benchmarks/bench_contention.py --seed 0
    python benchmarks/bench_contention.py --mode training --train-images 10000 --epochs 1

Run it with nothing else busy on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np

from fne.compute import usable_cpus
from fne.data import load_dataset
from fne.data.sampling import train_val_split
from fne.genotopheno import get_space
from fne.options import key_value
from fne.search.config import SearchConfig
from fne.search.run import run_search
from fne.training.train_cell import train_cell

BEST_NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"

HOG = """
import torch, torch.nn as nn, torch.nn.functional as F
net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
print("hog threads", torch.get_num_threads(), flush=True)
while True:
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    opt.step()
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("search", "training"), default="search")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None, help="default: ../shared/data (training: its fashion_mnist)")
    ap.add_argument("--train-images", type=int, default=2000, help="training mode: images to train on (stratified)")
    ap.add_argument("--epochs", type=int, default=1, help="training mode: epochs")
    ap.add_argument("--build-arg", action="append", default=[], help="training mode: network size KEY=VALUE")
    ap.add_argument(
        "--out", type=Path, default=None, help="default: benchmarks/results/bench_contention[_training].json"
    )
    args = ap.parse_args(argv)
    if args.train_images < 1 or args.epochs < 1:
        ap.error("--train-images and --epochs must be >= 1")
    shared = ROOT.parent / "shared" / "data"
    args.data_dir = args.data_dir or str(shared / "fashion_mnist" if args.mode == "training" else shared)
    suffix = "_training" if args.mode == "training" else ""
    args.out = args.out or ROOT / "benchmarks" / "results" / f"bench_contention{suffix}.json"
    args.build_kwargs = dict(key_value(item) for item in args.build_arg) or None
    return args


def timed_search(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The default search into ``folder``: its pick, wall time and time breakdown."""
    start = time.perf_counter()
    result = run_search(SearchConfig(seed=args.seed, data_dir=args.data_dir, out=str(folder)), progress=False)
    return {"arch": result["best"]["arch"], "wall_s": time.perf_counter() - start, "timing": result["timing"]}


def timed_training(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The optimum cell trained and tested into ``folder``: wall time, threads used, test accuracy."""
    data = load_dataset(args.data_dir)
    if args.train_images < len(data.train):
        _, kept = train_val_split(data.train, args.train_images, np.random.default_rng(args.seed))
        data = dataclasses.replace(data, train=kept)
    start = time.perf_counter()
    report = train_cell(
        get_space("nb201"),
        BEST_NB201,
        data,
        out=folder,
        epochs=args.epochs,
        seed=args.seed,
        build_kwargs=args.build_kwargs,
        progress=False,
    )
    return {
        "arch": BEST_NB201,
        "wall_s": time.perf_counter() - start,
        "seconds_per_epoch": report["seconds_per_epoch"],
        "test_seconds": report["test_seconds"],
        "test_accuracy": report["test_accuracy"],
        "threads": report["threads"],
    }


def timed(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The run that ``--mode`` names."""
    return timed_training(args, folder) if args.mode == "training" else timed_search(args, folder)


def with_hog(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """:func:`timed` while the hog process runs (started before, stopped after)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    hog = subprocess.Popen([sys.executable, "-c", HOG], env=env, stdout=subprocess.PIPE, text=True)
    try:
        threads = int(hog.stdout.readline().split()[-1])
        time.sleep(2.0)  # the hog is at full speed before the search starts
        run = timed(args, folder)
        run["hog_threads"] = threads
        run["hog_alive_at_end"] = hog.poll() is None
        return run
    finally:
        hog.kill()
        hog.wait()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fne-contention-") as tmp:
        alone = timed(args, Path(tmp) / "alone")
        shared = with_hog(args, Path(tmp) / "shared")
    ratio = shared["wall_s"] / alone["wall_s"]
    result = {
        "mode": args.mode,
        "seed": args.seed,
        "usable_cpus": usable_cpus(),
        "alone": alone,
        "with_other_process": shared,
        "ratio": ratio,
        "same_pick": alone["arch"] == shared["arch"],
    }
    what = "default search" if args.mode == "search" else f"training ({args.train_images} images, {args.epochs} epochs)"
    print(f"{what}, seed {args.seed}, {usable_cpus()} usable cores")
    print(f"alone:                          {alone['wall_s']:7.1f} s")
    print(f"beside a {shared['hog_threads']}-thread torch process: {shared['wall_s']:7.1f} s")
    print(
        f"ratio {ratio:.2f} (half of the cores, a fair share beside one other busy process, gives 2.0); "
        f"same pick: {result['same_pick']}"
    )
    if args.mode == "training":
        print(
            f"steps at each thread count: alone {alone['threads']['steps_at']}, shared {shared['threads']['steps_at']}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
