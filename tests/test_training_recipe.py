"""The recipe's schedule (learning rate scaled to the batch, warm-up, cosine decay), the held-out
split that picks the best epoch, early stopping and the progress total."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import fne.training.recipe as recipe
from fne.data import Split
from fne.genotopheno import get_space
from fne.training.recipe import REFERENCE_BATCH, TrainConfig, lr_factor, scaled_lr, train_network, warmup_steps

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|"


def _split(n: int, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.integers(0, 60, (n, 8, 8, 3)).astype(np.uint8)
    x[np.arange(n), :, :, y] += 150
    return Split(x, y)


def _net() -> torch.nn.Module:
    space = get_space("nb201")
    torch.manual_seed(0)
    return space.build(space.parse(ARCH), C=4, N=1, num_classes=3)


def test_the_learning_rate_scales_with_the_batch() -> None:
    assert scaled_lr(0.1, REFERENCE_BATCH) == pytest.approx(0.1)
    assert scaled_lr(0.1, 64) == pytest.approx(0.05) == scaled_lr(0.1, 64, "sqrt")
    assert scaled_lr(0.1, 32, "linear") == pytest.approx(0.0125)
    assert scaled_lr(0.1, 16, "none") == pytest.approx(0.1)
    with pytest.raises(ValueError, match="lr_scaling must be one of"):
        scaled_lr(0.1, 16, "cubic")


def test_the_learning_rate_warms_up_then_decays_to_zero() -> None:
    total, warm = 100, warmup_steps(100, 0.05)
    assert warm == 5 and warmup_steps(100, 0.0) == 0 and warmup_steps(3, 0.01) == 1
    rising = [lr_factor(step, total, warm) for step in range(warm + 1)]
    assert rising[0] == pytest.approx(1 / 6) and all(a < b for a, b in zip(rising, rising[1:], strict=False))
    assert rising[-1] == pytest.approx(1.0)
    falling = [lr_factor(step, total, warm) for step in range(warm, total + 1)]
    assert all(a >= b for a, b in zip(falling, falling[1:], strict=False))
    assert falling[-1] == pytest.approx(0.0, abs=1e-12)
    middle = warm + (total - warm) // 2
    assert lr_factor(middle, total, warm) == pytest.approx(0.5 * (1 + math.cos(math.pi * (middle - warm) / 95)))


def test_a_training_follows_the_scaled_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    """The optimiser's rate over a real training: peak lr x sqrt(batch / 256) after the warm-up."""
    seen: list[float] = []
    step = torch.optim.SGD.step

    def recording_step(self: torch.optim.SGD, *args: Any, **kwargs: Any) -> Any:
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", recording_step)
    config = TrainConfig(batch_size=16, min_steps=1, lr=0.2, lr_warmup=0.25, val_split=0.0)
    log = train_network(_net(), _split(64), epochs=2, generator=torch.Generator().manual_seed(0), config=config)
    peak = 0.2 * math.sqrt(16 / 256)
    assert log.settings["batch"] == 16 and log.settings["lr"] == pytest.approx(peak)
    assert log.settings["warmup_steps"] == 2 and len(seen) == 8
    assert seen[:3] == pytest.approx([peak / 3, 2 * peak / 3, peak])
    assert all(a > b for a, b in zip(seen[2:], seen[3:], strict=False))


def _scripted_validation(monkeypatch: pytest.MonkeyPatch, accuracies: list[float]) -> list[dict[str, torch.Tensor]]:
    """Make the held-out accuracy after epoch i be ``accuracies[i]``; return the weights seen then."""
    weights: list[dict[str, torch.Tensor]] = []

    def scripted(net: torch.nn.Module, split: Split, **kwargs: Any) -> np.ndarray:
        weights.append({k: v.clone() for k, v in net.state_dict().items()})
        right = round(accuracies[len(weights) - 1] / 100 * len(split))
        classes = np.where(np.arange(len(split)) < right, split.labels, (split.labels + 1) % 3)
        return np.eye(3)[classes]

    monkeypatch.setattr(recipe, "predict", scripted)
    return weights


def test_the_best_epoch_on_held_out_images_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    weights = _scripted_validation(monkeypatch, [50.0, 87.5, 75.0])
    net = _net()
    config = TrainConfig(batch_size=16, min_steps=1, val_split=0.25)
    log = train_network(net, _split(96), epochs=3, generator=torch.Generator().manual_seed(0), config=config)
    assert log.settings["val_images"] == 24 and log.settings["train_images"] == 72
    assert log.settings["class_counts"] == [24, 24, 24]  # stratified
    assert [h["val_accuracy"] for h in log.history] == pytest.approx([50.0, 87.5, 75.0])
    assert log.best_epoch == 2 and log.epochs_run == 3 and not log.stopped_early
    assert log.val_accuracy == pytest.approx(87.5)
    for name, value in net.state_dict().items():
        assert torch.equal(value, weights[1][name]), name
    assert not torch.equal(net.state_dict()["classifier.weight"], weights[2]["classifier.weight"])


def test_patience_stops_a_training_that_no_longer_improves(monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted_validation(monkeypatch, [80.0, 60.0, 50.0, 40.0, 30.0])
    config = TrainConfig(batch_size=16, min_steps=1, val_split=0.25, patience=2)
    log = train_network(_net(), _split(96), epochs=5, generator=torch.Generator().manual_seed(0), config=config)
    assert log.stopped_early and log.epochs_run == 3 and log.best_epoch == 1 and len(log.history) == 3


def test_without_held_out_images_the_last_epoch_is_kept() -> None:
    config = TrainConfig(batch_size=16, min_steps=1, val_split=0.0)
    log = train_network(_net(), _split(48), epochs=2, generator=torch.Generator().manual_seed(0), config=config)
    assert log.best_epoch == 2 and log.val_accuracy is None and "val_accuracy" not in log.history[0]
    with pytest.raises(ValueError, match="patience needs held-out images"):
        train_network(
            _net(), _split(48), epochs=2, generator=torch.Generator(), config=TrainConfig(val_split=0.0, patience=1)
        )


class _Bar:
    """A progress bar that records its counts."""

    def __init__(self, total: int, *args: Any, **kwargs: Any) -> None:
        self.total, self.n, self.most = total, 0, 0
        bars.append(self)

    def update(self, n: int = 1) -> None:
        self.n += n
        self.most = max(self.most, self.n)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


bars: list[_Bar] = []


def test_the_progress_line_stops_at_its_total(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bars.clear()
    monkeypatch.setattr(recipe, "progress_bar", _Bar)
    config = TrainConfig(batch_size=16, min_steps=1)
    state = tmp_path / "state.pt"
    train_network(_net(), _split(64), epochs=3, generator=torch.Generator().manual_seed(0), config=config)
    bar = bars[-1]
    assert bar.total == 3 * 3 and bar.n == bar.total and bar.most == bar.total
    original, saves = recipe._save, []

    def save_then_stop(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(recipe, "_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_network(
            _net(), _split(64), epochs=3, generator=torch.Generator().manual_seed(0), config=config, checkpoint=state
        )
    monkeypatch.setattr(recipe, "_save", original)
    train_network(
        _net(), _split(64), epochs=3, generator=torch.Generator().manual_seed(0), config=config, checkpoint=state
    )
    resumed = bars[-1]
    assert resumed.n == resumed.total == 9 and resumed.most == 9


def test_a_resumed_training_keeps_its_best_epoch_and_history(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = TrainConfig(batch_size=16, min_steps=1, val_split=0.25)
    whole = _net()
    expected = train_network(
        whole, _split(96), epochs=3, generator=torch.Generator().manual_seed(2), config=config, threads=1
    )
    state = tmp_path / "state.pt"
    original = recipe._save

    def save_then_stop(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(recipe, "_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_network(
            _net(),
            _split(96),
            epochs=3,
            generator=torch.Generator().manual_seed(2),
            config=config,
            checkpoint=state,
            threads=1,
        )
    monkeypatch.setattr(recipe, "_save", original)
    resumed = _net()
    log = train_network(
        resumed,
        _split(96),
        epochs=3,
        generator=torch.Generator().manual_seed(2),
        config=config,
        checkpoint=state,
        threads=1,
    )
    assert log.best_epoch == expected.best_epoch and log.val_accuracy == expected.val_accuracy
    assert [h["train_loss"] for h in log.history] == pytest.approx([h["train_loss"] for h in expected.history])
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
