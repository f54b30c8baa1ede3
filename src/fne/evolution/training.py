"""Short supervised training of a picked cell's network, and its test accuracy."""

from __future__ import annotations

import logging
from typing import Union

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .dataset import Split, iterate_minibatches

logger = logging.getLogger(__name__)

__all__ = ["train_and_test", "evaluate_accuracy"]

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


def train_and_test(net: nn.Module, train: Split, test: Split, *, epochs: int, device: Device = "cpu",
                   generator: torch.Generator, batch_size: int = 128, lr: float = 0.1,
                   weight_decay: float = 5e-4, progress: bool = True) -> float:
    """Train with SGD (Nesterov momentum 0.9, cosine schedule, crop+flip) and test.

    Args:
        net: the network (moved to ``device``).
        train: training images.
        test: test images.
        epochs: passes over ``train`` (>= 1).
        device: where to train.
        generator: CPU torch generator for shuffling and augmentation.
        batch_size: images per step.
        lr: initial learning rate.
        weight_decay: L2 penalty.
        progress: show a progress bar over epochs.

    Returns:
        Test accuracy in percent.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    net.to(device)
    batch_size = min(batch_size, len(train))
    steps = epochs * (len(train) // batch_size)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    for epoch in tqdm(range(epochs), desc="training", disable=not progress):
        net.train()
        for x, y in iterate_minibatches(train, batch_size, generator, device, augment=True):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()
            opt.step()
            sched.step()
        logger.debug("epoch %d done", epoch + 1)
    return evaluate_accuracy(net, test, device=device)
