"""An ensemble of trained cells: K networks trained side by side and saved as one ``model.pt``.

Each member is trained, tested and saved by :func:`fne.training.train_cell.train_cell` in its own
folder (``out/members/<i>/``, with its ``model.pt`` and ``train.json``), one member per call of the
evaluator, so members train in parallel in the evaluator's workers. The members are then joined
into one :class:`fne.model_file.Ensemble`, whose output averages their class probabilities,
tested and saved as ``out/model.pt``: :func:`fne.load_model`, ``fne export`` and the run report
read it as they read a single network::

    report = train_ensemble(space, [pick, runner_up, third], data, out=Path("runs/fm"), epochs=10,
                            evaluator=make_evaluator("process", workers=3))
    report["test_accuracy"], [m["test_accuracy"] for m in report["members"]]

Member ``i`` is seeded with ``seed + i``, so the same cell listed twice gives two differently
initialised networks. A member already trained by an interrupted call with the same cell, seed,
epochs, recipe and size is read back instead of trained again; an unfinished one continues by
epoch; a folder that held another member is cleared before it is used.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fne.compute import Evaluator, Failed, SerialEvaluator
from fne.data import Dataset
from fne.files import atomic_write_json, jsonable
from fne.genotopheno.space import SearchSpace
from fne.model_file import Ensemble, ModelInfo, load_model, save_model
from fne.training.recipe import TrainConfig
from fne.training.run import REPORT
from fne.training.train_cell import MODEL, TRAIN_STATE, test_figures, train_cell

logger = logging.getLogger(__name__)

__all__ = ["train_ensemble", "MEMBERS"]

MEMBERS = "members"
"""The folder of ``out`` that holds one sub-folder per member."""


@dataclass(frozen=True)
class _Member:
    """One member's training, as sent to a worker (picklable)."""

    index: int
    space: SearchSpace
    arch: str
    data: Dataset
    out: Path
    epochs: int
    seed: int
    config: TrainConfig
    build_kwargs: dict[str, Any] | None
    device: str
    threads: int | None = None
    progress: bool = field(default=False, compare=False)

    def identity(self) -> dict[str, Any]:
        """What a finished member's ``train.json`` must record to be reused."""
        return {
            "arch": self.arch,
            "seed": self.seed,
            "epochs": self.epochs,
            "training": self.config.to_dict(),
            "build_kwargs": self.build_kwargs,
        }


def _train_member(member: _Member) -> dict[str, Any]:
    """Train, test and save one member (in a worker); return its report, also written to its ``train.json``.

    The member's ``train.json`` names the member (cell, seed, epochs, recipe) from the start of
    its training: a folder left by another member's training (its resumable state, its model)
    is cleared first, so that a training is only ever continued from a state of its own.
    """
    recorded = _recorded(member.out / REPORT)
    identity = jsonable(member.identity())
    if recorded is not None and all(recorded.get(k) == v for k, v in identity.items()):
        if "test_accuracy" in recorded and (member.out / MODEL).is_file():
            logger.info("ensemble member %d (%s) is already trained; reading it back", member.index, member.arch)
            return recorded
    else:
        for name in (TRAIN_STATE, MODEL):
            (member.out / name).unlink(missing_ok=True)
        atomic_write_json(member.out / REPORT, identity)
    report = train_cell(
        member.space,
        member.arch,
        member.data,
        out=member.out,
        epochs=member.epochs,
        seed=member.seed,
        config=member.config,
        build_kwargs=member.build_kwargs,
        device=member.device,
        progress=member.progress,
        threads=member.threads,
    )
    report.update(identity)
    atomic_write_json(member.out / REPORT, report)
    return report


def _recorded(path: Path) -> dict[str, Any] | None:
    """The member report in ``path``, or None when there is none (or an unreadable one)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return report if isinstance(report, dict) else None


def train_ensemble(
    space: SearchSpace,
    archs: Sequence[str],
    data: Dataset,
    *,
    out: Path,
    epochs: int,
    seed: int = 0,
    config: TrainConfig | None = None,
    build_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    evaluator: Evaluator | None = None,
    progress: bool = True,
    clock: Any = None,
) -> dict[str, Any]:
    """Train one network per cell of ``archs`` side by side, join them and save ``out/model.pt``.

    Args:
        space: the cells' search space.
        archs: the members' cells, best first (the first names the ensemble's ``genotype``);
            a cell may be listed more than once (the members differ by their seeds).
        data: the dataset; its channels and classes size the networks.
        out: folder for ``model.pt`` (the ensemble) and ``members/<i>/`` (each member's
            ``model.pt`` and ``train.json``).
        epochs: training epochs of every member (>= 1).
        seed: member ``i`` is seeded with ``seed + i``.
        config: the training recipe (default: :class:`TrainConfig`).
        build_kwargs: network size (default: the space's ``full`` preset).
        device: where to train and test.
        evaluator: runs one member per call, in parallel when it has several workers, each
            member with the evaluator's torch threads (default: one after another in this
            process, each with every usable core).
        progress: show progress over the members (and over the training steps when the
            members train in this process).
        clock: optional :class:`fne.search.clock.RunClock` to add ``training`` and ``testing``
            seconds to.

    Returns:
        The ensemble's figures as :func:`~fne.training.train_cell.train_cell` reports them for
        one network: ``test_accuracy`` (percent), ``balanced_accuracy``, ``per_class_recall``,
        ``confusion_matrix``, ``roc_auc``, ``classes``, ``test_seconds``, ``epochs``,
        ``seconds``, ``seconds_per_epoch`` (wall time of the members' training) and ``model``;
        with ``ensemble`` (the number of members), ``members`` (each trained member's report:
        its cell, seed, test figures, per-epoch history, model), ``best_member_test_accuracy``,
        ``mean_member_test_accuracy`` and, when members failed, ``failed_members``.

    Raises:
        ValueError: no cell, an invalid cell, or epochs < 1.
        RuntimeError: every member failed to train.
    """
    if not archs:
        raise ValueError("an ensemble needs at least one cell")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    for arch in archs:
        space.parse(arch)
    config = config or TrainConfig()
    evaluator = evaluator or SerialEvaluator()
    out = Path(out)
    members = [
        _Member(
            i,
            space,
            arch,
            data,
            out / MEMBERS / str(i),
            epochs,
            seed + i,
            config,
            None if build_kwargs is None else dict(build_kwargs),
            str(device),
            None if evaluator.workers == 1 else evaluator.threads,
            progress and evaluator.workers == 1,
        )
        for i, arch in enumerate(archs)
    ]
    logger.info(
        "training an ensemble of %d cells, %d epochs each, on %d worker(s)", len(archs), epochs, evaluator.workers
    )
    start = time.perf_counter()
    results = evaluator.map(_train_member, members, desc="ensemble", progress=progress)
    seconds = time.perf_counter() - start
    if clock is not None:
        clock.add("training", seconds)
    trained, failed = [], []
    for member, result in zip(members, results, strict=True):
        if isinstance(result, Failed):
            logger.warning("ensemble member %s (seed %d) failed: %s", member.arch, member.seed, result.error)
            failed.append({"arch": member.arch, "seed": member.seed, "error": result.error})
        else:
            trained.append(result)
    if not trained:
        raise RuntimeError(f"every member of the ensemble failed to train; first error: {failed[0]['error']}")
    report = _join(space, data, out, trained, epochs, seed, config, device, clock)
    report.update(seconds=seconds, seconds_per_epoch=seconds / epochs)
    if failed:
        report["failed_members"] = failed
    return report


def _join(
    space: SearchSpace,
    data: Dataset,
    out: Path,
    reports: list[dict[str, Any]],
    epochs: int,
    seed: int,
    config: TrainConfig,
    device: str | torch.device,
    clock: Any,
) -> dict[str, Any]:
    """Load the trained members, test their ensemble and save it as ``out/model.pt``."""
    nets = [load_model(r["model"], device) for r in reports]
    infos: list[ModelInfo] = [net.fne_info for net in nets]  # type: ignore[misc]  # set by load_model
    ensemble = Ensemble(nets).eval()
    start = time.perf_counter()
    figures = test_figures(ensemble, data.test, device)
    test_seconds = time.perf_counter() - start
    if clock is not None:
        clock.add("testing", test_seconds)
    acc = figures.pop("accuracy")
    member_accs = [float(r["test_accuracy"]) for r in reports]
    archs = [info.genotype for info in infos]
    first = infos[0]
    path = save_model(
        out / MODEL,
        ensemble,
        space=space.name,
        genotype=archs[0],
        build_kwargs=first.build_kwargs,
        mean=first.mean,
        std=first.std,
        classes=first.classes,
        image_size=first.image_size,
        members=archs,
        extra={
            "epochs": epochs,
            "test_accuracy": acc,
            "balanced_accuracy": figures["balanced_accuracy"],
            "roc_auc": figures["roc_auc"],
            "seed": seed,
            "training": config.to_dict(),
            "members": [{"arch": r["arch"], "seed": r["seed"], "test_accuracy": r["test_accuracy"]} for r in reports],
        },
    )
    logger.info(
        "ensemble of %d: test accuracy %.2f%% (members %s); saved %s",
        len(reports),
        acc,
        ", ".join(f"{a:.2f}%" for a in member_accs),
        path,
    )
    return {
        "ensemble": len(reports),
        "epochs": epochs,
        "test_accuracy": acc,
        **figures,
        "classes": list(first.classes),
        "test_seconds": test_seconds,
        "best_member_test_accuracy": max(member_accs),
        "mean_member_test_accuracy": sum(member_accs) / len(member_accs),
        "model": str(path),
        "members": reports,
    }
