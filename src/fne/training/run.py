"""A training run as ``fne train`` makes it: its options (:class:`TrainCommandConfig`) and
:func:`run_training`, which checks them, trains and tests the cell and writes ``--out``::

    config = TrainCommandConfig(arch=arch, data_dir="../shared/data/fashion_mnist", epochs=1, out="runs/fm")
    report = run_training(config)                   # runs/fm/model.pt and runs/fm/train.json
    report["balanced_accuracy"], report["confusion_matrix"], report["history"]

An interrupted run continues by epoch with ``resume=True`` (see :func:`fne.training.train_cell.train_cell`).
``from_run`` trains a member of a finished search's quality-cost front instead of ``arch``: the one
at ``front`` (0: the search's pick), or the best one within the limits (``max_params``, ...)::

    run_training(TrainCommandConfig(from_run="runs/front", front=3, data_dir=..., out="runs/front3"))
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fne.compute import ComputeOptions, resolve_device
from fne.costs.options import LimitOptions
from fne.data import DataOptions, load_dataset
from fne.files import atomic_write_json, check_out_folder
from fne.genotopheno import get_space, list_spaces
from fne.options import check_options, option
from fne.run_report import write_run_report
from fne.search.front import front_member, read_result
from fne.training.recipe import TrainConfig
from fne.training.train_cell import MODEL, TRAIN_STATE, train_cell

__all__ = ["TrainCommandConfig", "REPORT", "run_training"]

logger = logging.getLogger(__name__)

REPORT = "train.json"
"""The file of ``--out`` that holds what :func:`run_training` returns."""


@dataclass(frozen=True)
class TrainCommandConfig(DataOptions, ComputeOptions, LimitOptions):
    """The options of ``fne train`` (the limits choose a front member of ``from_run``)."""

    threads: int = option(0, "torch threads (0: every usable core, fewer while other work makes fewer faster)", low=0)
    space: str = option("nb201", "search space of the cell", choices=list_spaces)
    arch: str = option("", "the cell's text (for instance result.json's best arch)")
    from_run: str | None = option(
        None,
        "train a cell of this finished search's front (--front K, or the best within --max-*)",
        flag="from",
        metavar="RUN",
    )
    front: int | None = option(
        None, "with --from: the front member to train (0: the search's pick)", low=0, metavar="K"
    )
    epochs: int = option(1, "training epochs", low=1)
    seed: int = option(0, "seed of the weights, shuffling and augmentation", low=0)
    out: str = option("runs/train", "output folder for model.pt and train.json")
    resume: bool = option(False, "continue an interrupted training in --out")
    training: TrainConfig = option(help="training recipe", default_factory=TrainConfig)
    build_kwargs: dict[str, Any] | None = option(
        None, "network size (repeatable; default: the space's full preset)", flag="build-arg"
    )

    def chosen(self) -> TrainCommandConfig:
        """This configuration with ``arch`` and ``space`` of the ``from_run`` front member it names.

        Raises:
            ValueError: ``--from`` beside ``--arch``, ``--front`` or a limit without ``--from``, or
                a member the front does not have (:func:`fne.search.front.front_member`).
            FileNotFoundError: no ``result.json`` in ``from_run``.
        """
        if self.from_run is None:
            if self.front is not None or self.limits():
                raise ValueError("--front and --max-* choose a cell of a finished search: give --from RUN")
            return self
        if self.arch:
            raise ValueError("give the cell with --arch or with --from, not both")
        result = read_result(self.from_run)
        index = self.front if self.front is not None or self.limits() else 0
        entry = front_member(result, index, self.limits())
        space = result.get("config", {}).get("space", self.space)
        return replace(self, arch=entry["arch"], space=space)

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
        (test accuracy and the figures of imbalanced data, the training's course) plus
        ``config`` and ``data`` (the dataset's description).

    Raises:
        ValueError, FileNotFoundError, NotADirectoryError: a bad option, cell, dataset or
            ``--out``, found before any training.
    """
    config = config.chosen()
    config.validate()
    out = _check_out(config)
    data = load_dataset(config.data_dir, config.dataset, download=config.download)
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
        threads=config.threads or None,
    )
    report.update(config=asdict(config), data=data.describe())
    atomic_write_json(out / REPORT, report)
    try:
        write_run_report(out)
    except (OSError, ValueError) as err:  # the page is a view of train.json, which is written
        logger.warning("report.html not written: %s", err)
    return report
