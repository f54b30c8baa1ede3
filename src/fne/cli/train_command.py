"""``fne train``: train one cell's network on a dataset, test it and save ``model.pt``.

    fne train --space nb201 --arch '|nor_conv_3x3~0|+|...|' --data-dir ../shared/data/fashion_mnist \
        --epochs 1 --out runs/fm_train
    fne train ... --resume          # continue an interrupted training by epoch

Writes ``--out/model.pt`` (load it with :func:`fne.load_model`) and ``--out/train.json`` (the
test figures, among them ``balanced_accuracy``, ``per_class_recall``, ``confusion_matrix`` and,
for two classes, ``roc_auc``; and the training's course epoch by epoch); the training itself is
:func:`fne.training.run.run_training`. It uses every usable core unless ``--threads`` says how
many.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from fne.cli.common import config_parser, resume_command, run_guarded
from fne.options import from_args
from fne.training.run import TrainCommandConfig, run_training

__all__ = ["build_parser", "main"]

DESCRIPTION = "Train a cell's network on a dataset, test it and save model.pt."
PRINTED = (
    "epochs",
    "best_epoch",
    "val_accuracy",
    "test_accuracy",
    "balanced_accuracy",
    "roc_auc",
    "seconds_per_epoch",
    "model",
)
"""The keys of the training report that the command prints (``roc_auc`` for two classes only)."""


def build_parser(prog: str | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``fne train``, generated from :class:`TrainCommandConfig`."""
    return config_parser(TrainCommandConfig, DESCRIPTION, prog, parser, skip=("workers", "backend", "ray_address"))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Train as the parsed options ask and print the report."""
    report = run_guarded(
        parser, lambda: run_training(from_args(TrainCommandConfig, args)), resume=resume_command(parser.prog, argv)
    )
    shown = {k: report[k] for k in PRINTED if k != "roc_auc" or report[k] is not None}
    print(json.dumps(shown, indent=2))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` and train."""
    parser = build_parser(prog)
    return run(parser, parser.parse_args(argv), argv)
