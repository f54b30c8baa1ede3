"""Supervised training of a cell's network (the NAS-Bench-201 recipe) and its test accuracy.

The recipe follows NAS-Bench-201: SGD with Nesterov momentum 0.9, learning rate 0.1 with
cosine decay to zero, weight decay 5e-4, batch 256, random crop after zero padding and a
horizontal flip where it suits the images. Two adjustments keep short trainings useful:

* the batch is halved (not below 16) until the whole training has at least ``min_steps``
  steps: one epoch of 4,000 images at batch 256 is only 15 steps, too few to learn
  anything; 200 epochs of 50,000 CIFAR-10 images keep batch 256;
* ``augment="auto"`` trains without augmentation when the training is shorter than
  :data:`AUGMENT_MIN_EPOCHS` epochs: augmentation guards against overfitting, which a
  network that sees each image a few times does not do, and it slows learning (one epoch
  on 8,000 Fashion-MNIST images: 82.6% validation accuracy without, 78.6% with crops;
  three epochs: 88.0% against 85.3%).

With a ``checkpoint`` file, the network, optimiser, schedule and random state are saved after
every epoch, and a later call with the same file continues from the last finished epoch to the
same weights an uninterrupted run would reach::

    seconds = train_network(net, data.train, epochs=5, generator=torch.Generator().manual_seed(0),
                            config=TrainConfig(), checkpoint=Path("runs/x/train_state.pt"))
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fne.data import Device, Split, iterate_minibatches
from fne.files import atomic_save_torch
from fne.options import option
from fne.progress import progress_bar

logger = logging.getLogger(__name__)

__all__ = [
    "TrainConfig",
    "AUGMENTATIONS",
    "AUGMENT_MIN_EPOCHS",
    "scaled_batch_size",
    "train_network",
    "evaluate_accuracy",
    "augmentation_for",
]

AUGMENTATIONS = ("auto", "crop+flip", "crop", "none")
TRAIN_STATE_FORMAT = "fne-train-state"
AUGMENT_MIN_EPOCHS = 10
"""Shortest training (in epochs) that ``augment="auto"`` augments."""


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe (NAS-Bench-201's by default)."""

    batch_size: int = option(
        256, "largest training batch; halved for short trainings (see --min-steps)", low=1, flag="train-batch"
    )
    min_steps: int = option(250, "halve the batch (not below 16) until the whole training has this many steps", low=1)
    lr: float = option(0.1, "initial learning rate (cosine decay to 0)", low=0.0)
    momentum: float = option(0.9, "SGD momentum", low=0.0, high=1.0)
    nesterov: bool = option(True, "Nesterov momentum")
    weight_decay: float = option(5e-4, "L2 weight decay", low=0.0)
    augment: str = option(
        "auto",
        "crop+flip, crop or none; auto: none for trainings of fewer than "
        f"{AUGMENT_MIN_EPOCHS} epochs, else crop+flip on colour images and crop only "
        "on grayscale ones (digits and letters change meaning when flipped)",
        choices=AUGMENTATIONS,
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def scaled_batch_size(
    n_images: int, batch_size: int = 256, min_steps: int = 250, smallest: int = 16, epochs: int = 1
) -> int:
    """The batch for ``epochs`` epochs of ``n_images``: ``batch_size`` halved until the training
    has ``min_steps`` steps in all.

    Never below ``smallest`` (nor above ``n_images``).
    """
    if n_images < 1:
        raise ValueError(f"no training images (got {n_images})")
    batch = batch_size
    while batch > smallest and epochs * (n_images // batch) < min_steps:
        batch //= 2
    return max(1, min(batch, n_images))


def augmentation_for(choice: str, channels: int, epochs: int = AUGMENT_MIN_EPOCHS) -> str:
    """The augmentation ``choice`` resolves to for ``epochs`` epochs of ``channels``-channel images."""
    if choice not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {choice!r}")
    if choice != "auto":
        return choice
    if epochs < AUGMENT_MIN_EPOCHS:
        return "none"
    return "crop+flip" if channels >= 3 else "crop"


def evaluate_accuracy(net: nn.Module, split: Split, *, device: Device = "cpu", batch_size: int = 256) -> float:
    """Top-1 accuracy of ``net`` on ``split``, in percent (eval mode, no gradients)."""
    net.eval()
    correct = 0
    with torch.no_grad():
        for x, y in iterate_minibatches(
            split, min(batch_size, len(split)), torch.Generator(), device, shuffle=False, drop_last=False
        ):
            correct += int((net(x).argmax(1) == y).sum())
    return 100.0 * correct / len(split)


@dataclass
class _Training:
    """The state that one epoch advances."""

    net: nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    generator: torch.Generator
    batch: int
    epoch: int = 0

    def state(self, config: TrainConfig, epochs: int) -> dict[str, Any]:
        return {
            "format": TRAIN_STATE_FORMAT,
            "epoch": self.epoch,
            "epochs": epochs,
            "config": config.to_dict(),
            "net": self.net.state_dict(),
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "generator": self.generator.get_state(),
        }


def _setup(net: nn.Module, n_images: int, epochs: int, config: TrainConfig, generator: torch.Generator) -> _Training:
    batch = scaled_batch_size(n_images, config.batch_size, config.min_steps, epochs=epochs)
    opt = torch.optim.SGD(
        net.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov and config.momentum > 0,
        weight_decay=config.weight_decay,
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs * (n_images // batch), 1))
    return _Training(net, opt, sched, generator, batch)


def _resume(training: _Training, path: Path, config: TrainConfig, epochs: int) -> None:
    """Load ``path`` into ``training`` when it holds a compatible state."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise ValueError(
            f"training checkpoint {path} is unreadable ({type(err).__name__}: {err}); move it "
            "away to train from the start"
        ) from None
    if not isinstance(state, dict) or state.get("format") != TRAIN_STATE_FORMAT:
        raise ValueError(f"{path} is not an fne training checkpoint; move it away to train from the start")
    if state.get("config") != config.to_dict() or state.get("epochs") != epochs:
        raise ValueError(
            f"training checkpoint {path} belongs to another training (recipe or epochs differ); "
            "move it away to train from the start"
        )
    training.net.load_state_dict(state["net"])
    training.opt.load_state_dict(state["opt"])
    training.sched.load_state_dict(state["sched"])
    training.generator.set_state(state["generator"])
    training.epoch = int(state["epoch"])
    logger.info("resuming training at epoch %d of %d from %s", training.epoch, epochs, path)


def _save(training: _Training, path: Path, config: TrainConfig, epochs: int) -> None:
    """Write the training state to ``path`` atomically (a crash keeps the previous epoch's)."""
    atomic_save_torch(path, training.state(config, epochs))


def _one_epoch(training: _Training, train: Split, batch: int, augment: str, device: Device, bar: Any = None) -> float:
    """Train one epoch (advancing ``bar`` by a step each step); return the mean training loss."""
    training.net.train()
    total, steps = 0.0, 0
    for x, y in iterate_minibatches(
        train, batch, training.generator, device, augment=augment != "none", flip=augment == "crop+flip"
    ):
        training.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(training.net(x), y)
        loss.backward()
        training.opt.step()
        training.sched.step()
        total, steps = total + loss.item(), steps + 1
        if bar is not None:
            bar.update(1)
    return total / max(steps, 1)


def train_network(
    net: nn.Module,
    train: Split,
    *,
    epochs: int,
    generator: torch.Generator,
    config: TrainConfig | None = None,
    device: Device = "cpu",
    progress: bool = True,
    checkpoint: Path | None = None,
) -> float:
    """Train ``net`` on ``train`` with the recipe ``config``.

    Args:
        net: the network (moved to ``device``).
        train: training images.
        epochs: passes over ``train`` (>= 1).
        generator: CPU torch generator for shuffling and augmentation.
        config: the recipe (default: :class:`TrainConfig`).
        device: where to train.
        progress: show progress over the training steps.
        checkpoint: save the training state here after every epoch and continue from it
            when it exists (None: no checkpoint).

    Returns:
        The seconds spent training in this call.

    Raises:
        ValueError: ``epochs`` < 1, or an unreadable or mismatched ``checkpoint``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    config = config or TrainConfig()
    start = time.perf_counter()
    net.to(device)
    augment = augmentation_for(config.augment, int(train.images.shape[3]), epochs)
    training = _setup(net, len(train), epochs, config, generator)
    batch = training.batch
    if checkpoint is not None and Path(checkpoint).is_file():
        _resume(training, Path(checkpoint), config, epochs)
    logger.info(
        "training %d epochs on %d images: batch %d (%d steps an epoch), lr %g, augment %s",
        epochs,
        len(train),
        batch,
        len(train) // batch,
        config.lr,
        augment,
    )
    steps = len(train) // batch
    with progress_bar(epochs * steps, "training", unit="step", enabled=progress) as bar:
        bar.update(training.epoch * steps)
        while training.epoch < epochs:
            loss = _one_epoch(training, train, batch, augment, device, bar)
            training.epoch += 1
            if checkpoint is not None:
                _save(training, Path(checkpoint), config, epochs)
            logger.info("epoch %d/%d: training loss %.3f", training.epoch, epochs, loss)
            bar.update(1)
    return time.perf_counter() - start
