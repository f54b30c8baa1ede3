"""``fne train``: train one cell's network on a dataset, test it and save ``model.pt``.

    fne train --space nb201 --arch '|nor_conv_3x3~0|+|...|' --data-dir ../shared/data/fashion_mnist \
        --epochs 1 --out runs/fm_train
    fne train ... --resume          # continue an interrupted training by epoch

Writes ``--out/model.pt`` (load it with :func:`fne.load_model`) and ``--out/train.json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fne.cli.common import resume_command, run_guarded
from fne.compute import ComputeOptions, torch_threads
from fne.data import load_dataset
from fne.evolution.fitness import resolve_device
from fne.files import atomic_write_json
from fne.genotopheno import get_space, list_spaces
from fne.options import add_options, check_options, from_args, option
from fne.search.config import DataOptions
from fne.training.recipe import TrainConfig
from fne.training.train_cell import MODEL, TRAIN_STATE, train_cell

__all__ = ["TrainCommandConfig", "build_parser", "main", "run_training"]

DESCRIPTION = "Train a cell's network on a dataset, test it and save model.pt."


@dataclass(frozen=True)
class TrainCommandConfig(DataOptions, ComputeOptions):
    """The options of ``fne train``."""

    space: str = option("nb201", "search space of the cell", choices=list_spaces)
    arch: str = option("", "the cell's text (for instance result.json's best arch)")
    epochs: int = option(1, "training epochs", low=1)
    seed: int = option(0, "seed of the weights, shuffling and augmentation", low=0)
    out: str = option("runs/train", "output folder for model.pt and train.json")
    resume: bool = option(False, "continue an interrupted training in --out")
    training: TrainConfig = option(help="training recipe", default_factory=TrainConfig)
    build_kwargs: dict[str, Any] | None = option(
        None, "network size (repeatable; default: the space's full preset)", flag="build-arg"
    )

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option (the cell is parsed too)."""
        check_options(self)
        if not self.arch:
            raise ValueError("--arch must give the cell to train")
        get_space(self.space).parse(self.arch)
        resolve_device(self.device)


def _check_out(config: TrainCommandConfig) -> Path:
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder")
    if config.resume and not (out / TRAIN_STATE).exists():
        raise FileNotFoundError(f"--resume: no training state {out / TRAIN_STATE} to continue")
    if not config.resume and ((out / TRAIN_STATE).exists() or (out / MODEL).exists()):
        raise ValueError(
            f"--out {out} already holds a training; pass --resume to continue it or choose "
            "another --out (nothing was overwritten)"
        )
    return out


def run_training(config: TrainCommandConfig, *, progress: bool = True) -> dict[str, Any]:
    """Check the options, train, test and save; return what ``train.json`` holds."""
    config.validate()
    out = _check_out(config)
    data = load_dataset(config.data_dir, config.dataset, download=config.download)
    with torch_threads(config.threads):
        report = train_cell(
            get_space(config.space),
            config.arch,
            data,
            out=out,
            epochs=config.epochs,
            seed=config.seed,
            config=config.training,
            build_kwargs=config.build_kwargs,
            device=resolve_device(config.device),
            progress=progress,
        )
    report.update(config=asdict(config), data=data.describe())
    atomic_write_json(out / "train.json", report)
    return report


def build_parser(prog: str | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``fne train``, generated from :class:`TrainCommandConfig`."""
    parser = parser or argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_options(parser, TrainCommandConfig, skip=("workers", "backend", "ray_address"))
    return parser


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Train as the parsed options ask and print the report."""
    report = run_guarded(
        parser, lambda: run_training(from_args(TrainCommandConfig, args)), resume=resume_command(parser.prog, argv)
    )
    print(json.dumps({k: report[k] for k in ("epochs", "test_accuracy", "seconds_per_epoch", "model")}, indent=2))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` and train."""
    parser = build_parser(prog)
    return run(parser, parser.parse_args(argv), argv)
