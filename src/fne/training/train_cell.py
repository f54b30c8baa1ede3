"""Train one cell's network on a dataset, test it and save it as ``model.pt``.

The search trains its pick with this, and so does ``fne train`` for any cell::

    data = load_dataset("../shared/data/fashion_mnist")
    report = train_cell(get_space("nb201"), arch, data, out=Path("runs/fm"), epochs=1, seed=0)
    net = fne.load_model(report["model"])

An interrupted training continues from ``out/train_state.pt`` by epoch (same weights as an
uninterrupted one); the state file is removed once ``model.pt`` is written.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from fne.data import Dataset, dataset_network_kwargs
from fne.genotopheno.space import SearchSpace
from fne.model_file import save_model
from fne.training.recipe import TrainConfig, evaluate_accuracy, train_network

logger = logging.getLogger(__name__)

__all__ = ["train_cell", "MODEL", "TRAIN_STATE"]

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
) -> dict[str, Any]:
    """Train ``arch``'s network on ``data.train``, test it on ``data.test``, save ``out/model.pt``.

    Args:
        space: the cell's search space.
        arch: the cell's text.
        data: the dataset; its channels and classes size the network.
        out: folder for ``model.pt`` and the resumable ``train_state.pt``.
        epochs: training epochs (>= 1).
        seed: seed of the initial weights, the shuffling and the augmentation.
        config: the training recipe (default: :class:`TrainConfig`).
        build_kwargs: network size (default: the space's ``full`` preset).
        device: where to train.
        progress: show progress over the training steps.
        clock: optional :class:`fne.search.clock.RunClock` to add ``training`` and
            ``testing`` seconds to.

    Returns:
        ``{"epochs", "test_accuracy", "seconds", "seconds_per_epoch", "model"}``.

    Raises:
        ValueError: an invalid cell, epochs < 1, or a training checkpoint of another training.
    """
    config = config or TrainConfig()
    kwargs = {**(space.preset("full") if build_kwargs is None else dict(build_kwargs)), **dataset_network_kwargs(data)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = space.build(space.parse(arch), **kwargs)
    out.mkdir(parents=True, exist_ok=True)
    seconds = train_network(
        net,
        data.train,
        epochs=epochs,
        device=device,
        config=config,
        progress=progress,
        generator=torch.Generator().manual_seed(seed),
        checkpoint=out / TRAIN_STATE,
    )
    with _timed(clock, "testing"):
        acc = evaluate_accuracy(net, data.test, device=device)
    if clock is not None:
        clock.add("training", seconds)
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
        extra={"epochs": epochs, "test_accuracy": acc, "seed": seed, "training": config.to_dict()},
    )
    (out / TRAIN_STATE).unlink(missing_ok=True)
    logger.info("trained %d epochs: test accuracy %.2f%%; saved %s", epochs, acc, path)
    return {
        "epochs": epochs,
        "test_accuracy": acc,
        "seconds": seconds,
        "seconds_per_epoch": seconds / epochs,
        "model": str(path),
    }


@contextlib.contextmanager
def _timed(clock: Any, part: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        if clock is not None:
            clock.add(part, time.perf_counter() - start)
