"""DARTS tournament: candidate cells compete, softmax weights over them decide.

Each candidate's network is built with the same (small) size arguments, and their logits
are mixed: ``sum_k softmax(alpha)_k * logits_k(x)``, one architecture weight ``alpha_k`` per
candidate. Mixing at the logits keeps every candidate's network intact (stem, cells,
head), so the weights compare whole cells and not how well their intermediate feature
maps happen to add up.

Training is first-order DARTS on real images: each step updates the alphas with Adam on
a validation batch (cross-entropy of the mixed logits), then the network weights with SGD
on a training batch. With ``weight_loss="each"`` the weights minimise every candidate's own
cross-entropy, so each candidate trains at the full learning rate whatever its alpha, and
the alphas compare how well the candidates have learnt. The candidates are then
independent apart from the alpha step, which needs only their logits: each is trained in
jobs of its own through an evaluator (in parallel workers when it has several), and the
alpha steps are replayed from the recorded logits (:mod:`fne.evolution.candidate_training`);
the outcome is the same with one worker or many. With ``"mixture"`` (classic DARTS) the
weights minimise the cross-entropy of the mixed logits, so a candidate's gradient is scaled
by its weight; the candidates are coupled and train together in one supernet in this
process. The candidates with the largest alphas win::

    tournament = DartsTournament(train=(x_tr, y_tr), val=(x_va, y_va), steps=60,
                                 weight_loss="each", build_kwargs={"C": 8, "N": 1})
    result = tournament.run(space, genotypes, torch.Generator().manual_seed(0))
    winners = [genotypes[i] for i in result.winners]

The evolution calls :meth:`DartsTournament.run` through the :class:`Tournament` protocol, so
another strategy can be swapped in, or ``None`` given to switch tournaments off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fne.compute import DEFAULT_THREADS, Evaluator, Failed, SerialEvaluator, torch_threads
from fne.data import Device
from fne.evolution.candidate_training import AlphaState, ChunkJob, cosine_lr, train_chunk
from fne.genotopheno.space import SearchSpace
from fne.progress import progress_bar

logger = logging.getLogger(__name__)

__all__ = ["Tournament", "TournamentResult", "DartsTournament", "Supernet", "build_supernet", "WEIGHT_LOSSES"]


WEIGHT_LOSSES = ("each", "mixture")


@dataclass(frozen=True)
class TournamentResult:
    """Outcome of one tournament.

    Attributes:
        weights: softmax of the final alphas, one per candidate (sums to 1).
        winners: indices of the candidates that survive, largest weight first.
        steps: training steps run (fewer than asked when the tournament settled early).
        trace: the weights after each chunk of steps (``each`` tournaments), for inspection.
    """

    weights: np.ndarray
    winners: tuple[int, ...]
    steps: int = 0
    trace: tuple[tuple[float, ...], ...] = ()


class Tournament(Protocol):
    """A strategy that picks the survivors among candidate genotypes."""

    size: int

    def run(self, space: SearchSpace, genotypes: Sequence[Any], generator: torch.Generator) -> TournamentResult:
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

    def candidate_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every candidate's logits for ``x``."""
        return [net(x) for net in self.candidates]

    def mix(self, logits: Sequence[torch.Tensor]) -> torch.Tensor:
        """``sum_k softmax(alphas)_k * logits[k]``."""
        weights = torch.softmax(self.alphas, dim=0)
        return sum(w * z for w, z in zip(weights, logits, strict=False))

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the alphas."""
        return [p for name, p in self.named_parameters() if name != "alphas"]


def build_supernet(
    space: SearchSpace,
    genotypes: Sequence[Any],
    *,
    seed: int,
    build_kwargs: Mapping[str, Any] | None = None,
    device: Device = "cpu",
) -> Supernet:
    """Build the candidates' networks (initialised from ``seed``) and join them.

    The global torch random state is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        nets = [space.build(g, **dict(build_kwargs or {})) for g in genotypes]
    return Supernet(nets).to(device)


def _check_data(name: str, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
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
        evaluator: backend that trains the candidates of an ``each`` tournament side by
            side (one job per candidate and chunk); None trains them in this process with
            one torch thread. A ``mixture`` tournament couples its candidates and always
            trains in this process, with the evaluator's thread count.
        chunk: steps per job of an ``each`` tournament; progress is reported after each.
        settle: stop an ``each`` tournament early when the leader has been the same
            candidate, with weight at least ``settle_weight``, after this many consecutive
            chunks (0: always train every step).
        settle_weight: see ``settle``.

    Raises:
        ValueError: for out-of-range arguments or malformed data.
    """

    def __init__(
        self,
        *,
        train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor],
        size: int = 4,
        keep: int = 2,
        steps: int = 60,
        warmup: float = 0.0,
        batch_size: int = 32,
        weight_lr: float = 0.05,
        alpha_lr: float = 0.05,
        weight_decay: float = 3e-4,
        weight_loss: str = "mixture",
        build_kwargs: Mapping[str, Any] | None = None,
        device: Device = "cpu",
        evaluator: Evaluator | None = None,
        chunk: int = 25,
        settle: int = 0,
        settle_weight: float = 0.5,
    ) -> None:
        self.train, self.val = _check_data("train", train), _check_data("val", val)
        _require(isinstance(size, int) and size >= 2, f"size must be an int >= 2, got {size!r}")
        _require(isinstance(keep, int) and 1 <= keep < size, f"keep must be in 1..size-1={size - 1}, got {keep!r}")
        _require(isinstance(steps, int) and steps >= 1, f"steps must be a positive int, got {steps!r}")
        _require(isinstance(warmup, (int, float)) and 0.0 <= warmup < 1.0, f"warmup must be in [0, 1), got {warmup!r}")
        _require(isinstance(batch_size, int) and batch_size >= 2, f"batch_size must be an int >= 2, got {batch_size!r}")
        for name, value in (("weight_lr", weight_lr), ("alpha_lr", alpha_lr)):
            _require(value > 0, f"{name} must be positive, got {value!r}")
        _require(weight_decay >= 0, f"weight_decay must be >= 0, got {weight_decay!r}")
        _require(weight_loss in WEIGHT_LOSSES, f"weight_loss must be one of {WEIGHT_LOSSES}, got {weight_loss!r}")
        _require(isinstance(chunk, int) and chunk >= 1, f"chunk must be a positive int, got {chunk!r}")
        _require(isinstance(settle, int) and settle >= 0, f"settle must be an int >= 0, got {settle!r}")
        self.weight_loss = weight_loss
        self.size, self.keep, self.steps, self.batch_size = size, keep, steps, batch_size
        self.warmup = float(warmup)
        self.weight_lr, self.alpha_lr, self.weight_decay = weight_lr, alpha_lr, weight_decay
        self.build_kwargs = dict(build_kwargs or {})
        self.device = device
        self.evaluator = evaluator
        self.chunk, self.settle, self.settle_weight = chunk, settle, float(settle_weight)
        self.seconds = 0.0
        self.steps_run = 0
        self.progress = True

    def __repr__(self) -> str:
        return (
            f"DartsTournament(size={self.size}, keep={self.keep}, steps={self.steps}, "
            f"warmup={self.warmup}, batch_size={self.batch_size}, weight_loss={self.weight_loss!r}, "
            f"build_kwargs={self.build_kwargs})"
        )

    @property
    def first_alpha_step(self) -> int:
        """The first step that also updates the alphas."""
        return int(self.warmup * self.steps)

    def run(self, space: SearchSpace, genotypes: Sequence[Any], generator: torch.Generator) -> TournamentResult:
        """Train the candidates and return the alphas' softmax and the winners.

        Args:
            space: the space the genotypes belong to.
            genotypes: 2 or more distinct candidates (at most ``size`` are expected).
            generator: CPU torch generator for the initialisation and the batches.
        """
        start = time.perf_counter()
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        net = build_supernet(space, genotypes, seed=seed, build_kwargs=self.build_kwargs, device="cpu")
        train_idx, val_idx = self._batch_indices(generator)
        steps_before = self.steps_run
        trace: list[tuple[float, ...]] = []
        if self.weight_loss == "each":
            weights = self._run_each(list(net.candidates), train_idx, val_idx, trace)
        else:
            weights = self._run_mixture(net, train_idx, val_idx)
        self.seconds += time.perf_counter() - start
        order = np.lexsort((np.arange(len(weights)), -weights))
        keep = min(self.keep, len(genotypes) - 1)
        logger.info("tournament weights %s", np.round(weights, 3).tolist())
        return TournamentResult(
            weights=weights,
            winners=tuple(int(i) for i in order[:keep]),
            steps=self.steps_run - steps_before,
            trace=tuple(trace),
        )

    def _batch_indices(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Every step's training and validation batch indices, drawn up front."""
        n_tr, n_va = len(self.train[0]), len(self.val[0])
        train_idx = torch.randint(0, n_tr, (self.steps, self.batch_size), generator=generator)
        val_idx = torch.randint(0, n_va, (self.steps, self.batch_size), generator=generator)
        return train_idx, val_idx

    # ------------------------------------------------------------------ each: candidates apart
    def _run_each(
        self, nets: list[nn.Module], train_idx: torch.Tensor, val_idx: torch.Tensor, trace: list[tuple[float, ...]]
    ) -> np.ndarray:
        alphas = AlphaState(len(nets), self.alpha_lr)
        states: list[dict[str, Any] | None] = [None] * len(nets)
        evaluator = self.evaluator or SerialEvaluator()
        settled, leader = 0, -1
        with progress_bar(self.steps, f"tournament of {len(nets)}", unit="step", enabled=self.progress) as bar:
            for lo in range(0, self.steps, self.chunk):
                hi = min(self.steps, lo + self.chunk)
                live = [k for k in range(len(nets)) if alphas.alive[k]]
                batches = self._chunk_batches(train_idx, val_idx, lo, hi)
                jobs = [self._chunk_job(nets[k], states[k], batches, lo, hi) for k in live]
                results = dict(zip(live, evaluator.map(train_chunk, jobs, progress=False), strict=False))
                self._absorb(results, nets, states, alphas)
                self._replay(alphas, results, val_idx, lo, hi)
                self.steps_run += hi - lo
                weights = alphas.weights()
                trace.append(tuple(round(float(w), 4) for w in weights))
                top = int(torch.argmax(weights))
                bar.set_postfix_str(f"leader {top} weight {float(weights[top]):.2f}", refresh=False)
                bar.update(hi - lo)
                settled = settled + 1 if top == leader and float(weights[top]) >= self.settle_weight else 0
                leader = top
                if self.settle and settled >= self.settle and hi < self.steps:
                    logger.info("tournament settled after %d of %d steps", hi, self.steps)
                    break
        return alphas.weights().numpy().astype(float)

    def _chunk_batches(
        self, train_idx: torch.Tensor, val_idx: torch.Tensor, lo: int, hi: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The images of steps ``lo .. hi - 1``: training batches, their labels, validation batches."""
        idx = train_idx[lo:hi]
        return self.train[0][idx], self.train[1][idx], self.val[0][val_idx[lo:hi]]

    def _chunk_job(
        self,
        net: nn.Module,
        state: dict[str, Any] | None,
        batches: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        lo: int,
        hi: int,
    ) -> ChunkJob:
        return ChunkJob(
            net=net,
            optimizer_state=state,
            train_x=batches[0],
            train_y=batches[1],
            val_x=batches[2],
            alpha_from=[s >= self.first_alpha_step for s in range(lo, hi)],
            start=lo,
            total_steps=self.steps,
            lr=self.weight_lr,
            weight_decay=self.weight_decay,
            device=str(self.device),
        )

    @staticmethod
    def _absorb(
        results: dict[int, Any], nets: list[nn.Module], states: list[dict[str, Any] | None], alphas: AlphaState
    ) -> None:
        """Keep each candidate's trained network; a failed candidate leaves the tournament."""
        for k, result in results.items():
            if isinstance(result, Failed):
                logger.warning("tournament candidate %d failed and is out: %s", k, result.error)
                alphas.alive[k] = False
            else:
                nets[k], states[k] = result.net, result.optimizer_state

    def _replay(self, alphas: AlphaState, results: dict[int, Any], val_idx: torch.Tensor, lo: int, hi: int) -> None:
        """The chunk's alpha steps, from the candidates' recorded validation logits."""
        steps = [s for s in range(lo, hi) if s >= self.first_alpha_step]
        logits = {k: r.val_logits for k, r in results.items() if not isinstance(r, Failed)}
        for j, s in enumerate(steps):
            labels = self.val[1][val_idx[s]]
            alphas.step({k: z[j] for k, z in logits.items()}, labels)

    # ------------------------------------------------------------------ mixture: one supernet
    def _run_mixture(self, net: Supernet, train_idx: torch.Tensor, val_idx: torch.Tensor) -> np.ndarray:
        threads = self.evaluator.threads if self.evaluator is not None else DEFAULT_THREADS
        with torch_threads(threads):
            net.to(self.device)
            self._train(net, train_idx, val_idx)
        return torch.softmax(net.alphas.detach(), 0).cpu().numpy().astype(float)

    def _train(self, net: Supernet, train_idx: torch.Tensor, val_idx: torch.Tensor) -> None:
        w_opt = torch.optim.SGD(
            net.weight_parameters(), lr=self.weight_lr, momentum=0.9, weight_decay=self.weight_decay
        )
        a_opt = torch.optim.Adam([net.alphas], lr=self.alpha_lr, betas=(0.5, 0.999))
        net.train()
        weights = net.weight_parameters()
        with progress_bar(
            self.steps, f"tournament of {len(net.candidates)}", unit="step", enabled=self.progress
        ) as bar:
            for step in range(self.steps):
                if step >= self.first_alpha_step:
                    self._alpha_step(net, a_opt, self._batch(self.val, val_idx[step]))
                for group in w_opt.param_groups:
                    group["lr"] = cosine_lr(self.weight_lr, step, self.steps)
                self._weight_step(net, weights, w_opt, self._batch(self.train, train_idx[step]))
                self.steps_run += 1
                self._show(bar, net)

    @staticmethod
    def _show(bar: Any, net: Supernet) -> None:
        weights = torch.softmax(net.alphas.detach(), 0)
        top = int(torch.argmax(weights))
        bar.set_postfix_str(f"leader {top} weight {float(weights[top]):.2f}", refresh=False)
        bar.update(1)

    def _batch(self, data: tuple[torch.Tensor, torch.Tensor], idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return data[0][idx].to(self.device), data[1][idx].to(self.device)

    @staticmethod
    def _alpha_step(net: Supernet, opt: torch.optim.Optimizer, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        """One Adam step on the alphas; the candidates' logits are computed without a graph."""
        with torch.no_grad():
            logits = net.candidate_logits(batch[0])
        loss = F.cross_entropy(net.mix(logits), batch[1])
        (net.alphas.grad,) = torch.autograd.grad(loss, [net.alphas])
        opt.step()

    def _weight_step(
        self,
        net: Supernet,
        params: list[nn.Parameter],
        opt: torch.optim.Optimizer,
        batch: tuple[torch.Tensor, torch.Tensor],
    ) -> None:
        """One SGD step on the weights for the mixed logits' loss (the alphas get no gradient).

        Only the ``mixture`` loss trains in the supernet; ``each`` candidates train apart.
        """
        loss = F.cross_entropy(net.mix(net.candidate_logits(batch[0])), batch[1])
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for p, g in zip(params, grads, strict=False):
            p.grad = g
        opt.step()


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
