"""Train one cell's network on a dataset, test it and save it as ``model.pt``.

The search trains its pick with this, and so does ``fne train`` for any cell; it uses every
usable core whatever the caller's torch thread count (unless ``threads`` is given)::

    data = load_dataset("../shared/data/fashion_mnist")
    report = train_cell(get_space("nb201"), arch, data, out=Path("runs/fm"), epochs=1, seed=0)
    net = fne.load_model(report["model"])

An interrupted training continues from ``out/train_state.pt`` by epoch (the weights of an
uninterrupted one, bit for bit with a fixed ``threads``); the state file is removed once
``model.pt`` is written.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fne.compute import usable_cpus
from fne.data import Dataset, Device, Split, dataset_network_kwargs
from fne.genotopheno.space import SearchSpace
from fne.model_file import save_model
from fne.training.metrics import classification_metrics
from fne.training.recipe import TrainConfig, predict, train_network

logger = logging.getLogger(__name__)

__all__ = ["train_cell", "test_figures", "MODEL", "TRAIN_STATE"]

MODEL = "model.pt"
TRAIN_STATE = "train_state.pt"


def train_cell(
    space: SearchSpace,
    arch: str,
    data: Dataset,
    *,
    out: Path,
    epochs: int,
    seed: int = 0,
    config: TrainConfig | None = None,
    build_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    clock: Any = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train ``arch``'s network on ``data.train``, test it on ``data.test``, save ``out/model.pt``.

    ``config.val_split`` of the training images (stratified) are held out to pick the best
    epoch, whose weights are tested and saved.

    Args:
        space: the cell's search space.
        arch: the cell's text.
        data: the dataset; its channels and classes size the network.
        out: folder for ``model.pt`` and the resumable ``train_state.pt``.
        epochs: training epochs (>= 1).
        seed: seed of the initial weights, the held-out split, the shuffling and the augmentation.
        config: the training recipe (default: :class:`TrainConfig`).
        build_kwargs: network size (default: the space's ``full`` preset).
        device: where to train.
        progress: show progress over the training steps.
        clock: optional :class:`fne.search.clock.RunClock` to add ``training`` and
            ``testing`` seconds to.
        threads: torch threads for training, and test shards (:func:`test_figures`), whatever
            the caller's count (None: every usable core; training at fewer while other work
            makes fewer faster).

    Returns:
        ``epochs``, ``test_accuracy`` (percent), ``seconds``, ``seconds_per_epoch``, ``model``,
        the test figures of :func:`fne.training.metrics.classification_metrics`
        (``balanced_accuracy``, ``per_class_recall``, ``confusion_matrix``, ``roc_auc``) with
        ``classes``, ``test_seconds``, and the training's course: ``epochs_run``,
        ``best_epoch``, ``val_accuracy``, ``val_balanced_accuracy``, ``stopped_early``,
        ``history``, ``settings``, ``threads`` (see :class:`fne.training.recipe.TrainingLog`).

    Raises:
        ValueError: an invalid cell, epochs < 1, or a training checkpoint of another training.
    """
    config = config or TrainConfig()
    kwargs = {**(space.preset("full") if build_kwargs is None else dict(build_kwargs)), **dataset_network_kwargs(data)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = space.build(space.parse(arch), **kwargs)
    out.mkdir(parents=True, exist_ok=True)
    log = train_network(
        net,
        data.train,
        epochs=epochs,
        device=device,
        config=config,
        progress=progress,
        generator=torch.Generator().manual_seed(seed),
        checkpoint=out / TRAIN_STATE,
        threads=threads,
    )
    if clock is not None:
        clock.add("training", log.seconds)
    test_start = time.perf_counter()
    with _timed(clock, "testing"):
        figures = test_figures(net, data.test, device, threads)
    test_seconds = time.perf_counter() - test_start
    acc = figures.pop("accuracy")
    mean, std = data.stats
    path = save_model(
        out / MODEL,
        net,
        space=space.name,
        genotype=arch,
        build_kwargs=kwargs,
        mean=mean,
        std=std,
        classes=data.classes,
        image_size=data.image_size,
        extra={
            "epochs": epochs,
            "best_epoch": log.best_epoch,
            "test_accuracy": acc,
            "balanced_accuracy": figures["balanced_accuracy"],
            "roc_auc": figures["roc_auc"],
            "seed": seed,
            "training": config.to_dict(),
        },
    )
    (out / TRAIN_STATE).unlink(missing_ok=True)
    logger.info(
        "trained %d epochs (kept epoch %d): test accuracy %.2f%%, balanced accuracy %.2f%%%s; saved %s",
        log.epochs_run,
        log.best_epoch,
        acc,
        figures["balanced_accuracy"],
        f", ROC AUC {figures['roc_auc']:.3f}" if figures["roc_auc"] is not None else "",
        path,
    )
    epoch_seconds = [entry["seconds"] for entry in log.history]
    return {
        "epochs": epochs,
        "test_accuracy": acc,
        **figures,
        "classes": list(data.classes),
        "seconds": log.seconds,
        "seconds_per_epoch": sum(epoch_seconds) / max(1, len(epoch_seconds)),
        "test_seconds": test_seconds,
        "model": str(path),
        "epochs_run": log.epochs_run,
        "best_epoch": log.best_epoch,
        "val_accuracy": log.val_accuracy,
        "val_balanced_accuracy": log.val_balanced_accuracy,
        "stopped_early": log.stopped_early,
        "history": log.history,
        "settings": log.settings,
        "threads": log.threads,
    }


def test_figures(net: nn.Module, test: Split, device: Device, threads: int | None = None) -> dict[str, Any]:
    """:func:`~fne.training.metrics.classification_metrics` of ``net`` on ``test``, predicted as
    one shard per thread (``threads``, default every usable core; see
    :func:`~fne.training.recipe.predict`)."""
    return classification_metrics(test.labels, predict(net, test, device=device, shards=threads or usable_cpus()))


@contextlib.contextmanager
def _timed(clock: Any, part: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        if clock is not None:
            clock.add(part, time.perf_counter() - start)
