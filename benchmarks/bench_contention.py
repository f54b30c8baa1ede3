"""The default search on a shared machine: alone, then beside another CPU-bound torch process.

Runs the default NB201 search of ``src/NAS_on_cifar10.py`` (seed ``--seed``) twice: once on
an idle machine, once while a second process trains a small convolutional network with
torch's default thread count for the whole duration of the search (the situation of a
laptop or a shared server). Prints both wall times, their ratio (a fair share of the cores
gives 2.0 on two cores), whether both runs picked the same cell, and writes JSON::

    python benchmarks/bench_contention.py --seed 0

Run it with nothing else busy on the machine.
"""

from __future__ import annotations

import argparse
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

from fne.compute import usable_cpus
from fne.search.config import SearchConfig
from fne.search.run import run_search

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
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_contention.json")
    return ap.parse_args(argv)


def timed_search(seed: int, data_dir: str, folder: Path) -> dict[str, Any]:
    """The default search into ``folder``: its pick, wall time and time breakdown."""
    start = time.perf_counter()
    result = run_search(SearchConfig(seed=seed, data_dir=data_dir, out=str(folder)), progress=False)
    return {"arch": result["best"]["arch"], "wall_s": time.perf_counter() - start, "timing": result["timing"]}


def with_hog(seed: int, data_dir: str, folder: Path) -> dict[str, Any]:
    """:func:`timed_search` while the hog process runs (started before, stopped after)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    hog = subprocess.Popen([sys.executable, "-c", HOG], env=env, stdout=subprocess.PIPE, text=True)
    try:
        threads = int(hog.stdout.readline().split()[-1])
        time.sleep(2.0)  # the hog is at full speed before the search starts
        run = timed_search(seed, data_dir, folder)
        run["hog_threads"] = threads
        run["hog_alive_at_end"] = hog.poll() is None
        return run
    finally:
        hog.kill()
        hog.wait()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fne-contention-") as tmp:
        alone = timed_search(args.seed, args.data_dir, Path(tmp) / "alone")
        shared = with_hog(args.seed, args.data_dir, Path(tmp) / "shared")
    ratio = shared["wall_s"] / alone["wall_s"]
    result = {
        "seed": args.seed,
        "usable_cpus": usable_cpus(),
        "alone": alone,
        "with_other_process": shared,
        "ratio": ratio,
        "same_pick": alone["arch"] == shared["arch"],
    }
    print(f"default search, seed {args.seed}, {usable_cpus()} usable cores")
    print(f"alone:                          {alone['wall_s']:7.1f} s")
    print(f"beside a {shared['hog_threads']}-thread torch process: {shared['wall_s']:7.1f} s")
    print(
        f"ratio {ratio:.2f} (half of the cores, a fair share beside one other busy process, gives 2.0); "
        f"same pick: {result['same_pick']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
