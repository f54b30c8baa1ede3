"""Imbalanced classes: ``balance`` auto, none, weights and sampler, and the figures in train.json,
on a small two-class image folder written from Fashion-MNIST (9 T-shirts to 1 trouser)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import fne
from fne.data import load_dataset
from fne.data.sampling import class_balanced_indices, iterate_minibatches
from fne.training.recipe import TrainConfig, class_weights, predict, resolve_balance, train_network
from fne.training.run import TrainCommandConfig, run_training

FASHION = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion_mnist"
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
COUNTS = {"train": (180, 20), "test": (40, 40)}


@pytest.fixture(scope="module")
def imbalanced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image folder: train 180 T-shirts and 20 trousers, test 40 of each."""
    if not (FASHION / "fashion_mnist_train_10k.npz").is_file():
        pytest.skip(f"shared Fashion-MNIST not found at {FASHION}")
    from PIL import Image

    root = tmp_path_factory.mktemp("imbalanced")
    for split, counts in COUNTS.items():
        with np.load(FASHION / f"fashion_mnist_{split}_10k.npz", allow_pickle=False) as npz:
            x, y = npz["x"], npz["y"]
        for label, (name, count) in enumerate(zip(("shirt", "trouser"), counts, strict=True)):
            target = root / split / name
            target.mkdir(parents=True)
            for i, index in enumerate(np.flatnonzero(y == label)[:count]):
                Image.fromarray(x[index, :, :, 0], mode="L").save(target / f"{i:03d}.png")
    return root


def _config(folder: Path, out: Path, balance: str) -> TrainCommandConfig:
    return TrainCommandConfig(
        arch=CELL,
        data_dir=str(folder),
        dataset="folder",
        out=str(out),
        epochs=1,
        device="cpu",
        build_kwargs={"C": 4, "N": 1},
        training=TrainConfig(batch_size=32, min_steps=1, balance=balance),
    )


def test_auto_balance_weighs_an_imbalanced_folder_and_reports_its_figures(
    imbalanced: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="fne.training.recipe"):
        report = run_training(_config(imbalanced, tmp_path / "run", "auto"), progress=False)
    assert "imbalanced classes (the largest has 9.0 times the images of the smallest" in caplog.text
    assert report["settings"]["balance"] == "weights" and report["settings"]["class_counts"] == [162, 18]
    saved = json.loads((tmp_path / "run" / "train.json").read_text())
    for key in ("test_accuracy", "balanced_accuracy", "per_class_recall", "confusion_matrix", "roc_auc", "history"):
        assert saved[key] == report[key], key
    assert saved["classes"] == ["shirt", "trouser"]
    matrix = np.array(saved["confusion_matrix"])
    assert matrix.sum(1).tolist() == [40, 40]
    assert saved["per_class_recall"] == pytest.approx([100 * matrix[0, 0] / 40, 100 * matrix[1, 1] / 40])
    assert saved["balanced_accuracy"] == pytest.approx(np.mean(saved["per_class_recall"]))
    assert saved["test_accuracy"] == pytest.approx(100 * np.trace(matrix) / 80)
    assert 0.0 <= saved["roc_auc"] <= 1.0
    # the figures are those of the saved network
    net = fne.load_model(tmp_path / "run" / "model.pt")
    data = load_dataset(imbalanced, "folder")
    predicted = predict(net, data.test).argmax(1)
    assert (
        np.bincount(data.test.labels * 2 + predicted, minlength=4).reshape(2, 2).tolist() == saved["confusion_matrix"]
    )


def test_balance_none_trains_on_the_plain_loss(
    imbalanced: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="fne.training.recipe"):
        report = run_training(_config(imbalanced, tmp_path / "run", "none"), progress=False)
    assert report["settings"]["balance"] == "none" and "imbalanced classes" not in caplog.text
    assert len(report["per_class_recall"]) == 2 and report["roc_auc"] is not None


def test_auto_balance_switches_on_beyond_three_to_one() -> None:
    assert resolve_balance("auto", np.array([100, 40])) == "none"
    assert resolve_balance("auto", np.array([100, 33, 0])) == "weights"
    assert resolve_balance("sampler", np.array([10, 10])) == "sampler"
    with pytest.raises(ValueError, match="balance must be one of"):
        resolve_balance("oversample", np.array([1, 1]))


def test_class_weights_make_every_class_weigh_the_same() -> None:
    counts = np.array([180, 20, 0])
    weights = class_weights(counts)
    assert weights.tolist() == pytest.approx([200 / 360, 200 / 40, 0.0])
    assert (weights * counts)[:2].tolist() == pytest.approx([100.0, 100.0])
    assert class_weights(np.array([5, 5])).tolist() == [1.0, 1.0]


def _losses_seen(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    original = torch.nn.functional.cross_entropy

    def recording(logits: torch.Tensor, y: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append({"labels": y.clone(), "weight": kwargs.get("weight")})
        return original(logits, y, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", recording)
    return calls


def test_weights_and_sampler_reach_the_training(imbalanced: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fne.genotopheno import get_space

    train = load_dataset(imbalanced, "folder").train
    space = get_space("nb201")

    def run(balance: str) -> list[dict[str, Any]]:
        calls = _losses_seen(monkeypatch)
        net = space.build(space.parse(CELL), C=4, N=1, in_channels=1, num_classes=2)
        config = TrainConfig(batch_size=20, min_steps=1, balance=balance, val_split=0.0)
        train_network(net, train, epochs=1, generator=torch.Generator().manual_seed(0), config=config, progress=False)
        return calls

    weighted = run("weights")
    assert len(weighted) == 10 and all(c["weight"] is not None for c in weighted)
    assert weighted[0]["weight"].tolist() == pytest.approx([200 / 360, 5.0])
    plain = run("none")
    assert all(c["weight"] is None for c in plain)
    assert float(torch.cat([c["labels"] for c in plain]).float().mean()) == pytest.approx(0.1)
    sampled = run("sampler")
    assert all(c["weight"] is None for c in sampled)
    assert 0.35 < float(torch.cat([c["labels"] for c in sampled]).float().mean()) < 0.65


def test_class_balanced_sampling_draws_every_class_equally_often() -> None:
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    for generator in (torch.Generator().manual_seed(0), np.random.default_rng(0)):
        drawn = class_balanced_indices(labels, 30_000, generator)
        shares = np.bincount(labels[drawn], minlength=3) / drawn.size
        assert shares == pytest.approx([1 / 3] * 3, abs=0.02)
    assert np.array_equal(
        class_balanced_indices(labels, 50, torch.Generator().manual_seed(3)),
        class_balanced_indices(labels, 50, torch.Generator().manual_seed(3)),
    )
    with pytest.raises(ValueError, match="count >= 1"):
        class_balanced_indices(labels, 0, torch.Generator())


def test_a_balanced_epoch_has_the_usual_number_of_batches() -> None:
    from fne.data import Split

    labels = np.array([0] * 90 + [1] * 10)
    split = Split(np.zeros((100, 4, 4, 1), dtype=np.uint8), labels)
    batches = list(iterate_minibatches(split, 10, torch.Generator().manual_seed(0), balanced=True))
    seen = torch.cat([y for _, y in batches])
    assert len(batches) == 10 and 30 < int(seen.sum()) < 70
