"""Training tournament candidates one by one, so that workers can train them side by side.

With the ``each`` weight loss a tournament's candidates do not interact while their
weights are trained: each one minimises its own cross-entropy. Only the architecture
weights (alphas) see all of them, and the alpha step needs no more than every
candidate's logits on the step's validation batch. So each candidate is trained in a
job of its own (:func:`train_chunk`, a picklable top-level function that an evaluator
can run in any worker) that returns its validation logits, and :class:`AlphaState`
replays the alpha steps from those logits afterwards. The outcome is the same whatever
the number of workers.

Training runs in chunks of steps; between chunks the parent replays the alphas, reports
progress and can stop a tournament whose leader has settled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ChunkJob", "ChunkResult", "train_chunk", "AlphaState", "cosine_lr"]


def cosine_lr(base: float, step: int, total: int) -> float:
    """Cosine decay from ``base`` at step 0 towards 0 at step ``total``."""
    return 0.5 * base * (1.0 + math.cos(math.pi * step / max(1, total)))


@dataclass
class ChunkJob:
    """Steps ``start .. start + len(train_idx) - 1`` of one candidate's training.

    Attributes:
        net: the candidate network (its weights so far).
        optimizer_state: SGD state after the previous chunk (None at the start).
        train_x: ``(steps, batch, C, H, W)`` this chunk's training batches.
        train_y: ``(steps, batch)`` their labels.
        val_x: ``(steps, batch, C, H, W)`` validation batches; batch ``s`` is run before
            training step ``s`` when ``alpha_from[s]`` is true.
        alpha_from: per step of the chunk, whether an alpha step comes before it.
        start: index of the chunk's first step.
        total_steps: steps of the whole tournament (for the learning-rate schedule).
        lr: initial SGD learning rate; momentum 0.9, cosine decay.
        weight_decay: SGD weight decay.
        device: where to train.
        channels_last: train in the channels-last memory format (faster convolutions on CPUs).
    """

    net: nn.Module
    optimizer_state: dict[str, Any] | None
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    alpha_from: Sequence[bool]
    start: int
    total_steps: int
    lr: float
    weight_decay: float
    device: str = "cpu"
    channels_last: bool = True


@dataclass
class ChunkResult:
    """What a chunk hands back: the trained network, its optimizer state, and the
    validation logits ``(alpha steps, batch, classes)`` of the chunk's alpha steps."""

    net: nn.Module
    optimizer_state: dict[str, Any]
    val_logits: torch.Tensor


def _optimizer(net: nn.Module, lr: float, weight_decay: float, state: dict[str, Any] | None) -> torch.optim.SGD:
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    if state is not None:
        opt.load_state_dict(state)
    return opt


def train_chunk(job: ChunkJob) -> ChunkResult:
    """Train one candidate for one chunk; record its logits on the alpha steps' batches.

    The network runs in train mode throughout (batch statistics), as in the supernet.
    """
    device = torch.device(job.device)
    layout = torch.channels_last if job.channels_last else torch.contiguous_format
    net = job.net.to(device, memory_format=layout).train()  # type: ignore[call-overload]  # torch's stubs omit memory_format, which Module.to takes
    opt = _optimizer(net, job.lr, job.weight_decay, job.optimizer_state)
    logits: list[torch.Tensor] = []
    for s, use_alpha in enumerate(job.alpha_from):
        if use_alpha:
            with torch.no_grad():
                logits.append(net(job.val_x[s].to(device, memory_format=layout)).float().cpu())
        for group in opt.param_groups:
            group["lr"] = cosine_lr(job.lr, job.start + s, job.total_steps)
        opt.zero_grad(set_to_none=True)
        x = job.train_x[s].to(device, memory_format=layout)
        F.cross_entropy(net(x), job.train_y[s].to(device)).backward()
        opt.step()
    stacked = torch.stack(logits) if logits else torch.zeros(0)
    net = net.to("cpu", memory_format=torch.contiguous_format)
    return ChunkResult(net, _on_cpu(opt.state_dict()), stacked)


def _on_cpu(value: Any) -> Any:
    """``value`` with every tensor inside it moved to the CPU (for the trip between processes)."""
    if torch.is_tensor(value):
        return value.to("cpu", memory_format=torch.contiguous_format)
    if isinstance(value, dict):
        return {k: _on_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(v) for v in value)
    return value


@dataclass
class AlphaState:
    """The alphas of a tournament, advanced by Adam steps on recorded logits.

    Attributes:
        size: number of candidates.
        lr: Adam learning rate (betas 0.5, 0.999, as in DARTS).
        alive: per candidate, whether it still takes part (a candidate whose training
            failed is left out of the mixture and ends with weight 0).
    """

    size: int
    lr: float
    alive: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.alphas = torch.zeros(self.size, requires_grad=True)
        self.opt = torch.optim.Adam([self.alphas], lr=self.lr, betas=(0.5, 0.999))
        self.alive = self.alive or [True] * self.size

    def step(self, logits: Mapping[int, torch.Tensor], labels: torch.Tensor) -> None:
        """One Adam step on the cross-entropy of the mixed logits of the live candidates.

        Args:
            logits: each live candidate's logits on the batch, by candidate index.
            labels: the batch's labels.
        """
        live = [k for k in range(self.size) if self.alive[k]]
        if len(live) < 2:
            return
        weights = torch.softmax(self.alphas[live], dim=0)
        mixed = sum(w * logits[k] for w, k in zip(weights, live, strict=False))
        loss = F.cross_entropy(mixed, labels)
        (self.alphas.grad,) = torch.autograd.grad(loss, [self.alphas])
        self.opt.step()

    def weights(self) -> torch.Tensor:
        """Softmax of the live candidates' alphas; failed candidates get 0."""
        out = torch.zeros(self.size)
        live = [k for k in range(self.size) if self.alive[k]]
        if live:
            out[live] = torch.softmax(self.alphas.detach()[live], dim=0)
        return out
