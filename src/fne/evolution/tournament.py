"""DARTS tournament: candidate cells compete inside one supernet, softmax weights decide.

Each candidate's network is built with the same (small) size arguments, and the
networks are placed side by side: the supernet's logits are
``sum_k softmax(alpha)_k * logits_k(x)``, one architecture weight ``alpha_k`` per
candidate. Mixing at the logits keeps every candidate's network intact (stem, cells,
head), so the weights compare whole cells and not how well their intermediate feature
maps happen to add up.

Training is first-order DARTS on real images: each step updates the alphas with Adam on
a validation batch (cross-entropy of the mixed logits), then the network weights with SGD
on a training batch. With ``weight_loss="mixture"`` (the default, classic DARTS) the weights
minimise the cross-entropy of the mixed logits, so a candidate's gradient is scaled by its
weight. With ``"each"`` they minimise the sum of every candidate's own cross-entropy, so
each candidate trains at the full learning rate whatever its alpha and the alphas compare
how well the candidates have learnt, without that rich-get-richer coupling. The alpha step
needs no gradient through the networks, so it costs forward passes only. The candidates
with the largest alphas win::

    tournament = DartsTournament(train=(x_tr, y_tr), val=(x_va, y_va), steps=60,
                                 build_kwargs={"C": 8, "N": 1})
    result = tournament.run(space, genotypes, torch.Generator().manual_seed(0))
    winners = [genotypes[i] for i in result.winners]

The evolution calls :meth:`DartsTournament.run` through the :class:`Tournament` protocol, so
another strategy can be swapped in, or ``None`` given to switch tournaments off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fne.genotopheno.space import SearchSpace

logger = logging.getLogger(__name__)

__all__ = ["Tournament", "TournamentResult", "DartsTournament", "Supernet", "build_supernet",
           "SMALL_BUILD_KWARGS", "TOURNAMENT_BUILD_KWARGS", "WEIGHT_LOSSES"]

Device = Union[str, torch.device]

SMALL_BUILD_KWARGS: Dict[str, Dict[str, Any]] = {
    "nb201": {"C": 8, "N": 1},
    "darts": {"C": 8, "layers": 3, "stem_multiplier": 1},
    "fne": {"C": 8, "num_cells": 1, "channel_scale": 2},
}
"""Small network sizes per space, for fast scoring on a CPU."""

TOURNAMENT_BUILD_KWARGS: Dict[str, Dict[str, Any]] = {**SMALL_BUILD_KWARGS, "nb201": {"C": 8, "N": 3}}
"""Network sizes per space for tournaments. For NB201 three cells a stage rather than the
scoring network's one: in a deeper stack a cell whose skip connection keeps the network
trainable can show it, at about three times the cost per step."""

WEIGHT_LOSSES = ("each", "mixture")


@dataclass(frozen=True)
class TournamentResult:
    """Outcome of one tournament.

    Attributes:
        weights: softmax of the final alphas, one per candidate (sums to 1).
        winners: indices of the candidates that survive, largest weight first.
    """

    weights: np.ndarray
    winners: Tuple[int, ...]


class Tournament(Protocol):
    """A strategy that picks the survivors among candidate genotypes."""

    size: int

    def run(self, space: SearchSpace, genotypes: Sequence[Any],
            generator: torch.Generator) -> TournamentResult:
        """Return the weights of and the winners among ``genotypes``."""


class Supernet(nn.Module):
    """Candidate networks side by side, their logits mixed by ``softmax(alphas)``.

    Attributes:
        candidates: the candidate networks.
        alphas: one architecture parameter per candidate (initially zero).
    """

    def __init__(self, networks: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(networks) < 2:
            raise ValueError(f"a supernet needs at least 2 candidate networks, got {len(networks)}")
        self.candidates = nn.ModuleList(networks)
        self.alphas = nn.Parameter(torch.zeros(len(networks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(self.candidate_logits(x))

    def candidate_logits(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Every candidate's logits for ``x``."""
        return [net(x) for net in self.candidates]

    def mix(self, logits: Sequence[torch.Tensor]) -> torch.Tensor:
        """``sum_k softmax(alphas)_k * logits[k]``."""
        weights = torch.softmax(self.alphas, dim=0)
        return sum(w * z for w, z in zip(weights, logits))

    def weight_parameters(self) -> List[nn.Parameter]:
        """Every parameter except the alphas."""
        return [p for name, p in self.named_parameters() if name != "alphas"]


def build_supernet(space: SearchSpace, genotypes: Sequence[Any], *, seed: int,
                   build_kwargs: Optional[Mapping[str, Any]] = None, device: Device = "cpu") -> Supernet:
    """Build the candidates' networks (initialised from ``seed``) and join them.

    The global torch random state is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        nets = [space.build(g, **dict(build_kwargs or {})) for g in genotypes]
    return Supernet(nets).to(device)


def _batch(data: Tuple[torch.Tensor, torch.Tensor], size: int, generator: torch.Generator,
           device: Device) -> Tuple[torch.Tensor, torch.Tensor]:
    x, y = data
    idx = torch.randint(0, len(x), (size,), generator=generator)
    return x[idx].to(device), y[idx].to(device)


def _check_data(name: str, data: Any) -> Tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"{name} must be an (images, labels) pair of tensors")
    x, y = data
    if not (torch.is_tensor(x) and torch.is_tensor(y)) or x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{name} must be images (N, C, H, W) and labels (N,) tensors of equal length")
    if len(x) < 1:
        raise ValueError(f"{name} holds no images")
    return x, y.long()


class DartsTournament:
    """First-order DARTS between candidate cells on a train/validation split of real images.

    Args:
        train: ``(images, labels)`` tensors the network weights are trained on.
        val: ``(images, labels)`` tensors the alphas are trained on.
        size: number of candidates per tournament (>= 2).
        keep: number of winners (1..size-1).
        steps: training steps; each updates the weights, and after the warm-up also the alphas.
        warmup: share of the steps, at the start, that train the weights only (uniform
            mixture), so that the alphas judge networks that have begun to learn.
        batch_size: images per step and split.
        weight_lr: SGD learning rate of the weights (momentum 0.9, cosine decay to 0).
        alpha_lr: Adam learning rate of the alphas.
        weight_decay: SGD weight decay.
        weight_loss: ``"each"`` (sum of the candidates' own cross-entropies) or
            ``"mixture"`` (cross-entropy of the mixed logits); see the module docstring.
        build_kwargs: network size arguments for ``space.build`` (default: full size).
        device: where to train.

    Raises:
        ValueError: for out-of-range arguments or malformed data.
    """

    def __init__(self, *, train: Tuple[torch.Tensor, torch.Tensor], val: Tuple[torch.Tensor, torch.Tensor],
                 size: int = 4, keep: int = 2, steps: int = 60, warmup: float = 0.0, batch_size: int = 32,
                 weight_lr: float = 0.05, alpha_lr: float = 0.05, weight_decay: float = 3e-4,
                 weight_loss: str = "mixture", build_kwargs: Optional[Mapping[str, Any]] = None,
                 device: Device = "cpu") -> None:
        self.train, self.val = _check_data("train", train), _check_data("val", val)
        _require(isinstance(size, int) and size >= 2, f"size must be an int >= 2, got {size!r}")
        _require(isinstance(keep, int) and 1 <= keep < size,
                 f"keep must be in 1..size-1={size - 1}, got {keep!r}")
        _require(isinstance(steps, int) and steps >= 1, f"steps must be a positive int, got {steps!r}")
        _require(isinstance(warmup, (int, float)) and 0.0 <= warmup < 1.0,
                 f"warmup must be in [0, 1), got {warmup!r}")
        _require(isinstance(batch_size, int) and batch_size >= 2,
                 f"batch_size must be an int >= 2, got {batch_size!r}")
        for name, value in (("weight_lr", weight_lr), ("alpha_lr", alpha_lr)):
            _require(value > 0, f"{name} must be positive, got {value!r}")
        _require(weight_decay >= 0, f"weight_decay must be >= 0, got {weight_decay!r}")
        _require(weight_loss in WEIGHT_LOSSES, f"weight_loss must be one of {WEIGHT_LOSSES}, got {weight_loss!r}")
        self.weight_loss = weight_loss
        self.size, self.keep, self.steps, self.batch_size = size, keep, steps, batch_size
        self.warmup = float(warmup)
        self.weight_lr, self.alpha_lr, self.weight_decay = weight_lr, alpha_lr, weight_decay
        self.build_kwargs = dict(build_kwargs or {})
        self.device = device

    def __repr__(self) -> str:
        return (f"DartsTournament(size={self.size}, keep={self.keep}, steps={self.steps}, "
                f"warmup={self.warmup}, batch_size={self.batch_size}, weight_loss={self.weight_loss!r}, "
                f"build_kwargs={self.build_kwargs})")

    def run(self, space: SearchSpace, genotypes: Sequence[Any], generator: torch.Generator) -> TournamentResult:
        """Train a supernet of ``genotypes`` and return the alphas' softmax and the winners.

        Args:
            space: the space the genotypes belong to.
            genotypes: 2 or more distinct candidates (at most ``size`` are expected).
            generator: CPU torch generator for the initialisation and the batches.
        """
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        net = build_supernet(space, genotypes, seed=seed, build_kwargs=self.build_kwargs, device=self.device)
        self._train(net, generator)
        weights = torch.softmax(net.alphas.detach(), 0).cpu().numpy().astype(float)
        order = np.lexsort((np.arange(len(weights)), -weights))
        keep = min(self.keep, len(genotypes) - 1)
        logger.info("tournament weights %s", np.round(weights, 3).tolist())
        return TournamentResult(weights=weights, winners=tuple(int(i) for i in order[:keep]))

    def _train(self, net: Supernet, generator: torch.Generator) -> None:
        w_opt = torch.optim.SGD(net.weight_parameters(), lr=self.weight_lr, momentum=0.9,
                                weight_decay=self.weight_decay)
        a_opt = torch.optim.Adam([net.alphas], lr=self.alpha_lr, betas=(0.5, 0.999))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, self.steps)
        net.train()
        weights = net.weight_parameters()
        first_alpha_step = int(self.warmup * self.steps)
        for step in range(self.steps):
            if step >= first_alpha_step:
                self._alpha_step(net, a_opt, _batch(self.val, self.batch_size, generator, self.device))
            self._weight_step(net, weights, w_opt, _batch(self.train, self.batch_size, generator, self.device))
            sched.step()

    @staticmethod
    def _alpha_step(net: Supernet, opt: torch.optim.Optimizer, batch: Tuple[torch.Tensor, torch.Tensor]) -> None:
        """One Adam step on the alphas; the candidates' logits are computed without a graph."""
        with torch.no_grad():
            logits = net.candidate_logits(batch[0])
        loss = F.cross_entropy(net.mix(logits), batch[1])
        (net.alphas.grad,) = torch.autograd.grad(loss, [net.alphas])
        opt.step()

    def _weight_step(self, net: Supernet, params: List[nn.Parameter], opt: torch.optim.Optimizer,
                     batch: Tuple[torch.Tensor, torch.Tensor]) -> None:
        """One SGD step on the network weights (the alphas get no gradient)."""
        logits = net.candidate_logits(batch[0])
        if self.weight_loss == "each":
            loss = sum(F.cross_entropy(z, batch[1]) for z in logits)
        else:
            loss = F.cross_entropy(net.mix(logits), batch[1])
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
