"""A training run as ``fne train`` makes it: its options (:class:`TrainCommandConfig`) and
:func:`run_training`, which checks them, trains and tests the cell and writes ``--out``::

    config = TrainCommandConfig(arch=arch, data_dir="../shared/data/fashion_mnist", epochs=1, out="runs/fm")
    report = run_training(config)                   # runs/fm/model.pt and runs/fm/train.json

An interrupted run continues by epoch with ``resume=True`` (see :func:`fne.training.train_cell.train_cell`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fne.compute import ComputeOptions, resolve_device, torch_threads
from fne.data import DataOptions, load_dataset
from fne.files import atomic_write_json, check_out_folder
from fne.genotopheno import get_space, list_spaces
from fne.options import check_options, option
from fne.training.recipe import TrainConfig
from fne.training.train_cell import MODEL, TRAIN_STATE, train_cell

__all__ = ["TrainCommandConfig", "REPORT", "run_training"]

REPORT = "train.json"
"""The file of ``--out`` that holds what :func:`run_training` returns."""


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
    """Before anything is written: ``--out`` can hold this training (or holds the one to resume).

    Raises:
        NotADirectoryError: ``--out`` is, or lies below, a file.
        FileNotFoundError: ``--resume`` without a training state in ``--out``.
        ValueError: ``--out`` already holds a training and ``--resume`` is not given.
    """
    out = check_out_folder(config.out, NotADirectoryError)
    if config.resume and not (out / TRAIN_STATE).exists():
        raise FileNotFoundError(f"--resume: no training state {out / TRAIN_STATE} to continue")
    if not config.resume and ((out / TRAIN_STATE).exists() or (out / MODEL).exists()):
        raise ValueError(
            f"--out {out} already holds a training; pass --resume to continue it or choose "
            "another --out (nothing was overwritten)"
        )
    return out


def run_training(config: TrainCommandConfig, *, progress: bool = True) -> dict[str, Any]:
    """Check the options, train, test and save ``model.pt`` and ``train.json`` in ``config.out``.

    Args:
        config: The options of the training.
        progress: Show progress over the training steps.

    Returns:
        What ``train.json`` holds: the report of :func:`fne.training.train_cell.train_cell`
        plus ``config`` and ``data`` (the dataset's description).

    Raises:
        ValueError, FileNotFoundError, NotADirectoryError: a bad option, cell, dataset or
            ``--out``, found before any training.
    """
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
    atomic_write_json(out / REPORT, report)
    return report
