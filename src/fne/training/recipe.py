"""Supervised training of a cell's network (the NAS-Bench-201 recipe, adjusted for short
trainings and imbalanced classes) and its predictions.

The recipe follows NAS-Bench-201: SGD with Nesterov momentum 0.9, learning rate 0.1 at batch
256 with cosine decay to zero, weight decay 5e-4, random crop after zero padding and a
horizontal flip where it suits the images. Adjustments:

* the batch is halved (not below 32) until the whole training has at least ``min_steps``
  steps: one epoch of 4,000 images at batch 256 is only 15 steps, too few to learn
  anything; 200 epochs of 50,000 CIFAR-10 images keep batch 256. 1,000 steps, chosen on
  held-out training images: 10 epochs on 8,000 Fashion-MNIST images (tested on 2,000 others)
  reached 91.35% at batch 64 (1,120 steps) against 89.45% at batch 256 (280 steps);
* the learning rate follows the batch (``lr_scaling="sqrt"``: ``lr * sqrt(batch / 256)``),
  rising linearly from zero over the first ``lr_warmup`` share of the steps before the cosine
  decay. Chosen on held-out training images: one epoch on 2,000 Fashion-MNIST images (batch
  16, tested on 2,000 other training images, seeds 0, 1, 2) reached 73.0, 71.7 and 72.0%
  with the square-root rule, 71.0, 68.0 and 66.3% with the linear rule (``lr * batch / 256``)
  and 70.7% (seed 0) with 0.1 whatever the batch. Trainings of batch 256 are not changed;
* ``augment="auto"`` trains without augmentation when the training is shorter than
  :data:`AUGMENT_MIN_EPOCHS` epochs: augmentation guards against overfitting, which a
  network that sees each image a few times does not do, and it slows learning (one epoch
  on 8,000 Fashion-MNIST images: 82.6% validation accuracy without, 78.6% with crops;
  three epochs: 88.0% against 85.3%; ten epochs at batch 64: 91.35% against 91.2%, and 26
  against 40 seconds an epoch);
* ``val_split`` holds out a stratified share of the training images; after each epoch the
  network is scored on them, and the best epoch's weights are the ones kept (``patience``
  stops a training whose held-out accuracy no longer improves);
* ``ema`` (off by default) validates and keeps a moving average of the weights instead of
  the last ones (on two held-out Fashion-MNIST splits it gained 0.35 points on one and lost
  1.35 on the other);
* ``balance`` counters imbalanced classes with a class-weighted loss or class-balanced
  sampling; ``auto`` weighs the loss when the largest class has more than
  :data:`BALANCE_RATIO` times the images of the smallest (and says so). The best epoch is
  then the one of the best balanced accuracy.

Speed: every usable core (tuned while other work shares them, see
:class:`fne.training.execution.ThreadTuner`), channels-last tensors, and mixed precision
where the hardware has it (``precision``).

With a ``checkpoint`` file, the network, optimiser, schedule, random state and best epoch so
far are saved after every epoch, and a later call with the same file continues from the last
finished epoch to the same weights an uninterrupted run would reach (bit for bit with a fixed
``threads``: a different thread count may sum in another order)::

    log = train_network(net, data.train, epochs=5, generator=torch.Generator().manual_seed(0),
                        config=TrainConfig(), checkpoint=Path("runs/x/train_state.pt"))
    log.best_epoch, log.val_accuracy, log.history
"""

from __future__ import annotations

import functools
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from fne.compute import torch_threads, usable_cpus
from fne.data import Device, Split, iterate_minibatches, train_val_split
from fne.files import atomic_save_torch
from fne.options import option
from fne.progress import progress_bar
from fne.training.execution import (
    MEMORY_FORMAT,
    PRECISIONS,
    ThreadTuner,
    autocast,
    grad_scaler,
    resolve_precision,
    set_memory_format,
)
from fne.training.metrics import classification_metrics

logger = logging.getLogger(__name__)

__all__ = [
    "TrainConfig",
    "TrainingLog",
    "AUGMENTATIONS",
    "AUGMENT_MIN_EPOCHS",
    "BALANCES",
    "BALANCE_RATIO",
    "LR_SCALINGS",
    "REFERENCE_BATCH",
    "scaled_batch_size",
    "scaled_lr",
    "lr_factor",
    "resolve_balance",
    "class_weights",
    "eval_batch_size",
    "train_network",
    "predict",
    "evaluate_accuracy",
    "augmentation_for",
]

AUGMENTATIONS = ("auto", "crop+flip", "crop", "flip", "none")
BALANCES = ("auto", "none", "weights", "sampler")
LR_SCALINGS = ("linear", "sqrt", "none")
TRAIN_STATE_FORMAT = "fne-train-state"
AUGMENT_MIN_EPOCHS = 20
"""Shortest training (in epochs) that ``augment="auto"`` augments."""
BALANCE_RATIO = 3.0
"""``balance="auto"`` weighs the loss when the largest class has more than this many times
the training images of the smallest."""
REFERENCE_BATCH = 256
"""The batch that ``TrainConfig.lr`` is given for."""
EVAL_PIXELS = 1 << 20
"""Images times pixels of one test batch (1,024 images of 32 x 32): bounds its memory."""
EVAL_BATCH = {"cpu": 256, "cuda": 1024}
"""Largest test batch by device type: on a CPU larger batches are no faster (2,048 Fashion-MNIST
images through the NB201 optimum cell, one thread: 7.3 s at batch 128, 7.5-8.0 s at 256, 8.8 s
at 512, 11.8 s at 1,024); a GPU fills up with more."""


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe (NAS-Bench-201's, adjusted for short trainings; see the module)."""

    batch_size: int = option(
        256, "largest training batch; halved for short trainings (see --min-steps)", low=1, flag="train-batch"
    )
    min_steps: int = option(1000, "halve the batch (not below 32) until the whole training has this many steps", low=1)
    lr: float = option(
        0.1,
        f"learning rate at batch {REFERENCE_BATCH}, scaled to the batch used (--lr-scaling); "
        "warm-up, then cosine decay to 0",
        low=0.0,
    )
    lr_scaling: str = option(
        "sqrt",
        f"how the learning rate follows the batch: sqrt (lr x sqrt(batch / {REFERENCE_BATCH})), "
        f"linear (lr x batch / {REFERENCE_BATCH}) or none",
        choices=LR_SCALINGS,
    )
    lr_warmup: float = option(
        0.05, "share of the training steps over which the learning rate rises linearly from 0", low=0.0, high=0.5
    )
    momentum: float = option(0.9, "SGD momentum", low=0.0, high=1.0)
    nesterov: bool = option(True, "Nesterov momentum")
    weight_decay: float = option(5e-4, "L2 weight decay", low=0.0)
    ema: float = option(
        0.0,
        "decay per step of an exponential moving average of the weights (and batch-norm statistics) that "
        "is validated and kept instead of the last weights, lower over the first steps (at most "
        "(1 + steps) / (10 + steps)); 0: off",
        low=0.0,
        high=0.9999,
    )
    label_smoothing: float = option(
        0.0, "share of each target spread evenly over all classes in the training loss", low=0.0, high=0.5
    )
    augment: str = option(
        "auto",
        "crop+flip, crop, flip or none; auto: none for trainings of fewer than "
        f"{AUGMENT_MIN_EPOCHS} epochs, else crop+flip on colour images and crop only "
        "on grayscale ones (digits and letters change meaning when flipped)",
        choices=AUGMENTATIONS,
    )
    val_split: float = option(
        0.1,
        "share of the training images held out (stratified by class) to pick the best epoch, whose "
        "weights are kept (0: keep the last epoch's); apart from a search's --val-fraction",
        low=0.0,
        high=0.5,
    )
    patience: int = option(
        0, "stop when the held-out accuracy has not improved for this many epochs (0: train every epoch)", low=0
    )
    balance: str = option(
        "auto",
        "imbalanced classes: weights (class-weighted loss), sampler (class-balanced sampling) or none; "
        f"auto: weights when the largest class has more than {BALANCE_RATIO:g} times the images of the smallest",
        choices=BALANCES,
    )
    precision: str = option(
        "auto",
        "fp32, or mixed precision bf16 or fp16; auto: bf16 on a GPU that has it (else fp16) and on a CPU "
        "with bf16 matrix units (AMX), else fp32",
        choices=PRECISIONS,
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def scaled_batch_size(
    n_images: int, batch_size: int = 256, min_steps: int = 1000, smallest: int = 32, epochs: int = 1
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


def scaled_lr(lr: float, batch: int, scaling: str = "sqrt") -> float:
    """The peak learning rate for ``batch`` when ``lr`` suits batch :data:`REFERENCE_BATCH`.

    Raises:
        ValueError: an unknown ``scaling``.
    """
    if scaling not in LR_SCALINGS:
        raise ValueError(f"lr_scaling must be one of {', '.join(LR_SCALINGS)}, got {scaling!r}")
    ratio = batch / REFERENCE_BATCH
    return lr * {"linear": ratio, "sqrt": math.sqrt(ratio), "none": 1.0}[scaling]


def warmup_steps(total: int, share: float) -> int:
    """Steps of the warm-up: ``share`` of ``total``, at least one when ``share`` > 0."""
    return 0 if share <= 0 else max(1, min(total - 1, round(share * total)))


def lr_factor(step: int, total: int, warmup: int) -> float:
    """The learning rate of step ``step`` (from 0) as a share of the peak: a linear rise over
    ``warmup`` steps, then a cosine decay that reaches 0 after ``total`` steps."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def ema_decay(decay: float, updates: int) -> float:
    """The weight of the average so far after ``updates`` updates: ``decay``, but at most
    ``(1 + updates) / (10 + updates)``, so that the first steps' weights soon fade from it."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


def ema_update(average: torch.Tensor, current: torch.Tensor, updates: torch.Tensor, *, decay: float) -> torch.Tensor:
    """One step of the weight average (see :func:`ema_decay`)."""
    keep = ema_decay(decay, int(updates))
    return average * keep + current * (1.0 - keep)


def augmentation_for(choice: str, channels: int, epochs: int = AUGMENT_MIN_EPOCHS) -> str:
    """The augmentation ``choice`` resolves to for ``epochs`` epochs of ``channels``-channel images."""
    if choice not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {choice!r}")
    if choice != "auto":
        return choice
    if epochs < AUGMENT_MIN_EPOCHS:
        return "none"
    return "crop+flip" if channels >= 3 else "crop"


def resolve_balance(choice: str, counts: np.ndarray) -> str:
    """What ``choice`` means for training images of ``counts`` per class: ``none``, ``weights``
    or ``sampler`` (``auto``: weights beyond a :data:`BALANCE_RATIO` imbalance, logged).

    Raises:
        ValueError: an unknown ``choice``.
    """
    if choice not in BALANCES:
        raise ValueError(f"balance must be one of {', '.join(BALANCES)}, got {choice!r}")
    present = np.asarray(counts)[np.asarray(counts) > 0]
    ratio = float(present.max() / present.min()) if present.size else 1.0
    if choice != "auto":
        return choice
    if ratio > BALANCE_RATIO:
        logger.info(
            "imbalanced classes (the largest has %.1f times the images of the smallest, more than %g): "
            "weighting the loss by class (--balance weights; --balance none to train without)",
            ratio,
            BALANCE_RATIO,
        )
        return "weights"
    return "none"


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Loss weights ``images / (classes * images of the class)``: every class weighs the same
    in all, and an image of balanced data weighs 1 (0 for a class without images)."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def eval_batch_size(image_size: tuple[int, int], device: Device = "cpu") -> int:
    """Test batch for images of ``image_size`` on ``device``: :data:`EVAL_BATCH` for small images,
    fewer for large ones (at most :data:`EVAL_PIXELS` pixels in all, at least 16 images)."""
    largest = EVAL_BATCH.get(torch.device(device).type, EVAL_BATCH["cpu"])
    return max(16, min(largest, EVAL_PIXELS // max(1, image_size[0] * image_size[1])))


def predict(
    net: nn.Module,
    split: Split,
    *,
    device: Device = "cpu",
    precision: str = "fp32",
    batch_size: int | None = None,
    shards: int | None = None,
) -> np.ndarray:
    """Class probabilities ``(N, K)`` of ``net`` for ``split`` (eval mode, inference mode).

    Args:
        net: the network, already on ``device``.
        split: the images.
        device: where to run.
        precision: ``fp32``, or ``bf16``/``fp16`` autocast.
        batch_size: images a batch (default: :func:`eval_batch_size`).
        shards: on a CPU, the images are cut into this many runs of consecutive images,
            predicted side by side in threads of one torch thread each (None: one pass with the
            caller's torch threads; 1: one pass with one thread). Shards never wait for each
            other inside an operation, so they keep their pace beside other busy processes
            where threads of one pass stall:
            4,000 Fashion-MNIST test images through the NB201 optimum cell on two cores took
            3.0 s as two shards and 3.2-3.6 s with two threads in one pass; beside another
            process training with two threads, 6.5-6.9 s against 15-18 s (one thread: 6.4-7.5 s).
    """
    net.eval()
    if shards is None or torch.device(device).type != "cpu":
        return _predict(net, split, device, precision, batch_size)
    pieces = np.array_split(np.arange(len(split)), max(1, min(shards, len(split))))
    with torch_threads(1):  # the shards' threads compute; this one waits
        if len(pieces) == 1:
            return _predict(net, split, device, precision, batch_size)
        with ThreadPoolExecutor(
            len(pieces), thread_name_prefix="fne-predict", initializer=torch.set_num_threads, initargs=(1,)
        ) as pool:
            parts = pool.map(lambda piece: _predict(net, split.subset(piece), device, precision, batch_size), pieces)
            return np.concatenate(list(parts))


def _predict(net: nn.Module, split: Split, device: Device, precision: str, batch_size: int | None) -> np.ndarray:
    batch = min(batch_size or eval_batch_size(split.image_size, device), len(split))
    parts = []
    with torch.inference_mode(), autocast(device, precision):
        for x, _ in iterate_minibatches(split, batch, torch.Generator(), device, shuffle=False, drop_last=False):
            parts.append(F.softmax(net(x.contiguous(memory_format=MEMORY_FORMAT)).float(), 1).cpu())
    return torch.cat(parts).numpy()


def evaluate_accuracy(
    net: nn.Module, split: Split, *, device: Device = "cpu", batch_size: int | None = None, precision: str = "fp32"
) -> float:
    """Top-1 accuracy of ``net`` on ``split``, in percent (see :func:`predict`)."""
    probabilities = predict(net, split, device=device, batch_size=batch_size, precision=precision)
    return 100.0 * float((probabilities.argmax(1) == split.labels).mean())


@dataclass
class TrainingLog:
    """What a training did (:func:`train_network`'s answer).

    Attributes:
        seconds: time spent in this call (training and validation).
        epochs: the epochs asked for.
        epochs_run: the epochs trained (fewer when stopped early).
        best_epoch: the epoch whose weights were kept (1-based; the last without validation).
        val_accuracy: held-out accuracy of the kept weights, in percent (None without validation).
        val_balanced_accuracy: their held-out balanced accuracy, in percent (None without validation).
        stopped_early: the held-out accuracy stopped improving (``patience``).
        history: one entry per epoch: ``epoch``, ``train_loss``, ``lr`` (at its end), ``seconds``,
            and with validation ``val_accuracy`` and ``val_balanced_accuracy``.
        settings: the recipe as resolved for this training: ``batch``, ``steps_per_epoch``,
            ``lr`` (peak), ``warmup_steps``, ``augment``, ``balance``, ``precision``,
            ``train_images``, ``val_images``, ``class_counts``.
        threads: torch threads: the most, whether tuned, steps run at each count.
    """

    seconds: float
    epochs: int
    epochs_run: int
    best_epoch: int
    val_accuracy: float | None
    val_balanced_accuracy: float | None
    stopped_early: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    threads: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass
class _Training:
    """The state that one epoch advances (and a checkpoint holds)."""

    net: nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    scaler: torch.amp.GradScaler
    generator: torch.Generator
    batch: int
    weight: torch.Tensor | None = None
    smoothing: float = 0.0
    average: AveragedModel | None = None
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -1.0
    best_net: dict[str, torch.Tensor] | None = None
    stopped: bool = False

    def kept(self) -> nn.Module:
        """The network whose weights a training keeps: the weight average, if any."""
        return self.net if self.average is None else self.average.module

    def state(self, config: TrainConfig, epochs: int) -> dict[str, Any]:
        return {
            "format": TRAIN_STATE_FORMAT,
            "epoch": self.epoch,
            "epochs": epochs,
            "config": config.to_dict(),
            "net": self.net.state_dict(),
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "average": None if self.average is None else self.average.state_dict(),
            "generator": self.generator.get_state(),
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "best_net": self.best_net,
            "stopped": self.stopped,
        }


def _setup(
    net: nn.Module, train: Split, epochs: int, config: TrainConfig, generator: torch.Generator, precision: str
) -> _Training:
    n_images = len(train)
    batch = scaled_batch_size(n_images, config.batch_size, config.min_steps, epochs=epochs)
    opt = torch.optim.SGD(
        net.parameters(),
        lr=scaled_lr(config.lr, batch, config.lr_scaling),
        momentum=config.momentum,
        nesterov=config.nesterov and config.momentum > 0,
        weight_decay=config.weight_decay,
    )
    total = max(epochs * (n_images // batch), 1)
    warmup = warmup_steps(total, config.lr_warmup)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, total, warmup))
    device = next(net.parameters()).device
    average = None
    if config.ema > 0:
        average = AveragedModel(net, avg_fn=functools.partial(ema_update, decay=config.ema), use_buffers=True)
    return _Training(
        net,
        opt,
        sched,
        grad_scaler(device, precision),
        generator,
        batch,
        smoothing=config.label_smoothing,
        average=average,
    )


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
    if state.get("config") != config.to_dict() or state.get("epochs") != epochs or "history" not in state:
        raise ValueError(
            f"training checkpoint {path} belongs to another training (recipe or epochs differ); "
            "move it away to train from the start"
        )
    training.net.load_state_dict(state["net"])
    training.opt.load_state_dict(state["opt"])
    training.sched.load_state_dict(state["sched"])
    training.scaler.load_state_dict(state["scaler"])
    if training.average is not None:
        training.average.load_state_dict(state["average"])
    training.generator.set_state(state["generator"])
    training.epoch = int(state["epoch"])
    training.history = list(state["history"])
    training.best_epoch, training.best_score = int(state["best_epoch"]), float(state["best_score"])
    training.best_net, training.stopped = state["best_net"], bool(state["stopped"])
    logger.info("resuming training at epoch %d of %d from %s", training.epoch, epochs, path)


def _save(training: _Training, path: Path, config: TrainConfig, epochs: int) -> None:
    """Write the training state to ``path`` atomically (a crash keeps the previous epoch's)."""
    atomic_save_torch(path, training.state(config, epochs))


def _loss(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None, smoothing: float = 0.0) -> torch.Tensor:
    if weight is not None and weight.numel() < logits.shape[1]:  # classes above every training label
        weight = torch.cat([weight, weight.new_ones(logits.shape[1] - weight.numel())])
    return F.cross_entropy(logits.float(), y, weight=weight, label_smoothing=smoothing)


def _one_epoch(
    training: _Training,
    train: Split,
    augment: str,
    balance: str,
    device: Device,
    precision: str,
    tuner: ThreadTuner,
    bar: Any = None,
) -> float:
    """Train one epoch (advancing ``bar`` by a step each step); return the mean training loss."""
    training.net.train()
    total, steps = torch.zeros((), device=device), 0
    batches = iterate_minibatches(
        train,
        training.batch,
        training.generator,
        device,
        augment=augment != "none",
        flip="flip" in augment,
        crop="crop" in augment,
        balanced=balance == "sampler",
    )
    for x, y in batches:
        with tuner.timed():
            training.opt.zero_grad(set_to_none=True)
            with autocast(device, precision):
                logits = training.net(x.contiguous(memory_format=MEMORY_FORMAT))
                loss = _loss(logits, y, training.weight, training.smoothing)
            training.scaler.scale(loss).backward()
            training.scaler.step(training.opt)
            training.scaler.update()
            training.sched.step()
            if training.average is not None:
                training.average.update_parameters(training.net)
            total += loss.detach()
        steps += 1
        if bar is not None:
            bar.update(1)
    return float(total) / max(steps, 1)


def _validate(
    training: _Training, val: Split, device: Device, precision: str, balance: str, shards: int
) -> dict[str, float]:
    """Score the network (its weight average with ``ema``) on ``val``, in ``shards`` shards (see
    :func:`predict`); keep its weights when they are the best so far."""
    net = training.kept()
    figures = classification_metrics(val.labels, predict(net, val, device=device, precision=precision, shards=shards))
    scores = {"val_accuracy": figures["accuracy"], "val_balanced_accuracy": figures["balanced_accuracy"]}
    score = scores["val_balanced_accuracy" if balance != "none" else "val_accuracy"]
    if score > training.best_score:
        training.best_score, training.best_epoch = score, training.epoch
        training.best_net = {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
    return scores


def _hold_out(train: Split, share: float, generator: torch.Generator) -> tuple[Split, Split | None]:
    """``train`` less its held-out share, and that share (None when ``share`` is 0 or leaves
    no image on either side, which is logged)."""
    if share <= 0:
        return train, None
    held = round(share * len(train))
    if not 0 < held < len(train):
        logger.warning(
            "%d training images are too few to hold out %g of them: keeping the last epoch's weights",
            len(train),
            share,
        )
        return train, None
    return train_val_split(train, held, generator)


def _check_epochs(epochs: Any, config: TrainConfig) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if config.patience > 0 and config.val_split <= 0:
        raise ValueError("patience needs held-out images to watch: set val_split (--val-split) above 0")


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
    threads: int | None = None,
) -> TrainingLog:
    """Train ``net`` on ``train`` with the recipe ``config``; keep the best epoch's weights.

    Args:
        net: the network (moved to ``device``; left in eval mode and the usual memory format).
        train: training images; ``config.val_split`` of them (stratified) are held out to
            pick the best epoch.
        epochs: passes over the training images (>= 1).
        generator: CPU torch generator for the held-out split, shuffling and augmentation.
        config: the recipe (default: :class:`TrainConfig`).
        device: where to train.
        progress: show progress over the training steps.
        checkpoint: save the training state here after every epoch and continue from it
            when it exists (None: no checkpoint).
        threads: torch threads (None: every usable core, fewer while other work makes fewer
            faster; see :class:`fne.training.execution.ThreadTuner`).

    Returns:
        The :class:`TrainingLog`.

    Raises:
        ValueError: ``epochs`` < 1, ``patience`` without ``val_split``, or an unreadable or
            mismatched ``checkpoint``.
    """
    config = config or TrainConfig()
    _check_epochs(epochs, config)
    start = time.perf_counter()
    device = torch.device(device)
    set_memory_format(net.to(device), MEMORY_FORMAT)
    precision = resolve_precision(config.precision, device)
    train, val = _hold_out(train, config.val_split, generator)
    counts = train.class_counts()
    balance = resolve_balance(config.balance, counts)
    augment = augmentation_for(config.augment, train.channels, epochs)
    training = _setup(net, train, epochs, config, generator, precision)
    if balance == "weights":
        training.weight = torch.as_tensor(class_weights(counts), dtype=torch.float32, device=device)
    if checkpoint is not None and Path(checkpoint).is_file():
        _resume(training, Path(checkpoint), config, epochs)
    steps = len(train) // training.batch
    settings = {
        "batch": training.batch,
        "steps_per_epoch": steps,
        "lr": training.opt.param_groups[0]["initial_lr"],
        "warmup_steps": warmup_steps(max(epochs * steps, 1), config.lr_warmup),
        "augment": augment,
        "balance": balance,
        "precision": precision,
        "train_images": len(train),
        "val_images": len(val) if val is not None else 0,
        "class_counts": counts.tolist(),
    }
    logger.info(
        "training %d epochs on %d images (%d held out): batch %d (%d steps an epoch), lr %.4g, %d warm-up steps, "
        "augment %s, balance %s, precision %s",
        epochs,
        len(train),
        settings["val_images"],
        training.batch,
        steps,
        settings["lr"],
        settings["warmup_steps"],
        augment,
        balance,
        precision,
    )
    most = threads or usable_cpus()
    with torch_threads(most):
        tuner = ThreadTuner(most, tune=threads is None and device.type == "cpu")
        with progress_bar(epochs * steps, "training", unit="step", enabled=progress) as bar:
            bar.update(training.epoch * steps)
            while training.epoch < epochs and not training.stopped:
                epoch_start = time.perf_counter()
                loss = _one_epoch(training, train, augment, balance, device, precision, tuner, bar)
                training.epoch += 1
                entry: dict[str, Any] = {
                    "epoch": training.epoch,
                    "train_loss": loss,
                    "lr": training.opt.param_groups[0]["lr"],
                    "seconds": time.perf_counter() - epoch_start,
                }
                if val is not None:
                    entry.update(_validate(training, val, device, precision, balance, most))
                    waited = training.epoch - training.best_epoch
                    training.stopped = 0 < config.patience <= waited and training.epoch < epochs
                training.history.append(entry)
                if checkpoint is not None:
                    _save(training, Path(checkpoint), config, epochs)
                logger.info(
                    "epoch %d/%d: training loss %.3f%s",
                    training.epoch,
                    epochs,
                    loss,
                    f", held-out accuracy {entry['val_accuracy']:.2f}%" if val is not None else "",
                )
        if training.stopped:
            logger.info(
                "stopping early after epoch %d: no better held-out accuracy for %d epochs",
                training.epoch,
                config.patience,
            )
        threads_used = tuner.summary()
    return _finish(training, val is not None, epochs, time.perf_counter() - start, settings, threads_used)


def _finish(
    training: _Training, validated: bool, epochs: int, seconds: float, settings: dict[str, Any], threads: dict
) -> TrainingLog:
    """Put the best epoch's weights back and describe the training."""
    net = training.net
    if validated and training.best_net is not None:
        net.load_state_dict(training.best_net)
    elif training.average is not None:
        net.load_state_dict(training.kept().state_dict())
        if training.best_epoch != training.epoch:
            logger.info("keeping the weights of epoch %d, the best on the held-out images", training.best_epoch)
    set_memory_format(net, torch.contiguous_format)
    net.eval()
    best = training.history[training.best_epoch - 1] if validated and training.best_epoch else {}
    return TrainingLog(
        seconds=seconds,
        epochs=epochs,
        epochs_run=training.epoch,
        best_epoch=training.best_epoch if validated else training.epoch,
        val_accuracy=best.get("val_accuracy"),
        val_balanced_accuracy=best.get("val_balanced_accuracy"),
        stopped_early=training.stopped,
        history=training.history,
        settings=settings,
        threads=threads,
    )
