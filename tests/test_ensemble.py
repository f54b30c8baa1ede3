"""Ensembles: members trained side by side in the evaluator's workers, joined into one model.pt
that loads, tests and exports like a single network; finished members read back; failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import fne
from fne.compute import ProcessEvaluator, SerialEvaluator
from fne.data import Dataset, DataSource, Split
from fne.genotopheno import get_space
from fne.model_file import Ensemble, export_model, read_model_info
from fne.training import ensemble as ensemble_module
from fne.training.ensemble import MEMBERS, train_ensemble
from fne.training.recipe import TrainConfig, evaluate_accuracy

PICK = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|"
OTHER = "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_1x1~2|"
CONFIG = TrainConfig(batch_size=32, min_steps=1)
SIZE = {"C": 4, "N": 1}


def _split(n: int, seed: int, name: str) -> Split:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 60, (n, 12, 12, 3)).astype(np.uint8)
    x[np.arange(n), :, :, y] += 150
    return Split(x, y, name)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return Dataset(_split(96, 0, "train"), _split(48, 1, "test"), DataSource("npz", Path("memory")), ("r", "g", "b"))


def _train(out: Path, data: Dataset, archs: list[str], **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"epochs": 1, "seed": 5, "config": CONFIG, "build_kwargs": SIZE, "progress": False}
    options.update(kwargs)
    return train_ensemble(get_space("nb201"), archs, data, out=out, **options)


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory: pytest.TempPathFactory, data: Dataset) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("ensemble")
    return out, _train(out, data, [PICK, OTHER, PICK], evaluator=SerialEvaluator())


def test_the_members_train_in_their_own_folders_and_join_in_one_model(
    serial_run: tuple[Path, dict[str, Any]], data: Dataset
) -> None:
    out, report = serial_run
    assert report["ensemble"] == 3 and report["epochs"] == 1 and report["model"] == str(out / "model.pt")
    assert [m["arch"] for m in report["members"]] == [PICK, OTHER, PICK]
    assert [m["seed"] for m in report["members"]] == [5, 6, 7]
    for i, member in enumerate(report["members"]):
        folder = out / MEMBERS / str(i)
        assert member["model"] == str(folder / "model.pt") and (folder / "model.pt").is_file()
        assert json.loads((folder / "train.json").read_text())["test_accuracy"] == member["test_accuracy"]
    accs = [m["test_accuracy"] for m in report["members"]]
    assert report["best_member_test_accuracy"] == max(accs)
    assert report["mean_member_test_accuracy"] == pytest.approx(sum(accs) / 3)

    net = fne.load_model(out / "model.pt")
    assert isinstance(net, Ensemble) and net.fne_info.members == (PICK, OTHER, PICK)
    assert net.fne_info.extra["test_accuracy"] == report["test_accuracy"]
    assert evaluate_accuracy(net, data.test) == report["test_accuracy"]
    members = [fne.load_model(m["model"]) for m in report["members"]]
    first, third = (dict(m.named_parameters()) for m in (members[0], members[2]))
    assert any(not torch.equal(first[k], third[k]) for k in first)  # the same cell, another seed
    x = torch.randn(4, 3, 12, 12)
    with torch.no_grad():
        mean = torch.stack([m(x).softmax(1) for m in members]).mean(0)
        assert torch.allclose(net(x).softmax(1), mean, atol=1e-6)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_the_ensemble_file_exports_like_one_network(serial_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = serial_run
    written = export_model(out / "model.pt", tmp_path / "ensemble.ts")
    info = read_model_info(out / "model.pt")
    exported = torch.jit.load(str(written.path))
    net = fne.load_model(out / "model.pt")
    x = torch.rand(5, 3, 12, 12)
    mean, std = torch.tensor(info.mean).view(1, -1, 1, 1), torch.tensor(info.std).view(1, -1, 1, 1)
    with torch.no_grad():
        assert torch.allclose(exported(x), net((x - mean) / std), atol=1e-5)


def test_members_train_side_by_side_in_worker_processes(data: Dataset, tmp_path: Path) -> None:
    evaluator = ProcessEvaluator(workers=2, threads=1)
    try:
        report = _train(tmp_path, data, [PICK, OTHER, PICK], evaluator=evaluator)
    finally:
        evaluator.close()
    assert "failed_members" not in report and [m["seed"] for m in report["members"]] == [5, 6, 7]
    for member in report["members"]:
        assert evaluate_accuracy(fne.load_model(member["model"]), data.test) == member["test_accuracy"]
    net = fne.load_model(tmp_path / "model.pt")
    assert evaluate_accuracy(net, data.test) == report["test_accuracy"]
    assert report["confusion_matrix"] and sum(map(sum, report["confusion_matrix"])) == len(data.test)


def test_finished_members_are_read_back_and_changed_ones_trained(
    data: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _train(tmp_path, data, [PICK, OTHER])
    trained: list[str] = []
    real = ensemble_module.train_cell

    def counting(space: Any, arch: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        trained.append(arch)
        return real(space, arch, *args, **kwargs)

    monkeypatch.setattr(ensemble_module, "train_cell", counting)
    again = _train(tmp_path, data, [PICK, OTHER])
    assert trained == [] and again["test_accuracy"] == first["test_accuracy"]
    (tmp_path / MEMBERS / "1" / "train_state.pt").write_bytes(b"state of the other cell")
    changed = _train(tmp_path, data, [PICK, PICK])  # member 1 is another cell now: its folder is cleared
    assert trained == [PICK] and changed["members"][0] == first["members"][0]
    assert read_model_info(tmp_path / "model.pt").members == (PICK, PICK) and "failed_members" not in changed
    assert not (tmp_path / MEMBERS / "1" / "train_state.pt").exists()


def test_a_failed_member_is_left_out_and_recorded(
    data: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ensemble_module._train_member

    def failing_second(member: Any) -> dict[str, Any]:
        if member.index == 1:
            raise RuntimeError("out of memory")
        return real(member)

    monkeypatch.setattr(ensemble_module, "_train_member", failing_second)
    report = _train(tmp_path, data, [PICK, OTHER])
    assert report["ensemble"] == 1 and [m["arch"] for m in report["members"]] == [PICK]
    assert report["failed_members"] == [{"arch": OTHER, "seed": 6, "error": "RuntimeError: out of memory"}]
    assert read_model_info(tmp_path / "model.pt").members == (PICK,)

    def failing(member: Any) -> dict[str, Any]:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(ensemble_module, "_train_member", failing)
    with pytest.raises(RuntimeError, match="every member of the ensemble failed.*out of memory"):
        _train(tmp_path / "none", data, [PICK])


def test_bad_ensembles_are_refused_before_training(data: Dataset, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one cell"):
        _train(tmp_path, data, [])
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        _train(tmp_path, data, [PICK], epochs=0)
    with pytest.raises(ValueError, match="unknown op"):
        _train(tmp_path, data, [PICK, "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
    assert not (tmp_path / MEMBERS).exists()
