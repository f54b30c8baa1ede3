"""Short supervised training of a picked cell's network, and its test accuracy."""

from __future__ import annotations

import logging
import time
from typing import Union

import torch
import torch.nn.functional as F
from torch import nn
from fne.progress import progress_bar

from .dataset import Split, iterate_minibatches

logger = logging.getLogger(__name__)

__all__ = ["train_network", "train_and_test", "evaluate_accuracy"]

Device = Union[str, torch.device]


def evaluate_accuracy(net: nn.Module, split: Split, *, device: Device = "cpu", batch_size: int = 256) -> float:
    """Top-1 accuracy of ``net`` on ``split``, in percent (eval mode, no gradients)."""
    net.eval()
    correct = 0
    with torch.no_grad():
        for x, y in iterate_minibatches(split, min(batch_size, len(split)), torch.Generator(), device,
                                        shuffle=False, drop_last=False):
            correct += int((net(x).argmax(1) == y).sum())
    return 100.0 * correct / len(split)


def train_network(net: nn.Module, train: Split, *, epochs: int, device: Device = "cpu",
                  generator: torch.Generator, batch_size: int = 128, lr: float = 0.1,
                  weight_decay: float = 5e-4, progress: bool = True) -> float:
    """Train with SGD (Nesterov momentum 0.9, cosine schedule, crop+flip).

    Args:
        net: the network (moved to ``device``).
        train: training images.
        epochs: passes over ``train`` (>= 1).
        device: where to train.
        generator: CPU torch generator for shuffling and augmentation.
        batch_size: images per step.
        lr: initial learning rate.
        weight_decay: L2 penalty.
        progress: show progress over epochs.

    Returns:
        The seconds spent training.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    start = time.perf_counter()
    net.to(device)
    batch_size = min(batch_size, len(train))
    steps = epochs * (len(train) // batch_size)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    with progress_bar(epochs, "training", unit="epoch", enabled=progress) as bar:
        for epoch in range(epochs):
            net.train()
            for x, y in iterate_minibatches(train, batch_size, generator, device, augment=True):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x), y).backward()
                opt.step()
                sched.step()
            logger.debug("epoch %d done", epoch + 1)
            bar.update(1)
    return time.perf_counter() - start


def train_and_test(net: nn.Module, train: Split, test: Split, *, epochs: int, device: Device = "cpu",
                   generator: torch.Generator, batch_size: int = 128, lr: float = 0.1,
                   weight_decay: float = 5e-4, progress: bool = True) -> float:
    """:func:`train_network`, then :func:`evaluate_accuracy` on ``test``; returns the accuracy in percent."""
    train_network(net, train, epochs=epochs, device=device, generator=generator, batch_size=batch_size,
                  lr=lr, weight_decay=weight_decay, progress=progress)
    return evaluate_accuracy(net, test, device=device)
