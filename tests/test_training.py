"""The training recipe: batch scaling, augmentation choice, resume by epoch, checkpoint checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from fne.data import Split
from fne.genotopheno import get_space
from fne.options import check_options
from fne.training.recipe import (
    AUGMENT_MIN_EPOCHS,
    TrainConfig,
    augmentation_for,
    ema_decay,
    scaled_batch_size,
    train_network,
)
from fne.training.run import TrainCommandConfig, run_training
from fne.training.train_cell import MODEL, TRAIN_STATE

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|"


@pytest.mark.parametrize(
    "n, epochs, batch",
    [
        (50_000, 200, 256),
        (50_000, 1, 32),
        (10_000, 10, 64),
        (10_000, 20, 128),
        (10_000, 1, 32),
        (4_000, 1, 32),
        (10, 1, 10),
    ],
)
def test_the_batch_shrinks_until_the_training_has_enough_steps(n: int, epochs: int, batch: int) -> None:
    assert scaled_batch_size(n, 256, 1000, epochs=epochs) == batch
    assert scaled_batch_size(n, 256, 1000, epochs=epochs) == scaled_batch_size(n, epochs=epochs)
    assert scaled_batch_size(5_000, 256, 250, smallest=16) == 16


def test_augmentation_suits_the_images_and_the_length_of_the_training() -> None:
    assert augmentation_for("auto", 3) == "crop+flip"
    assert augmentation_for("auto", 1) == "crop"
    assert augmentation_for("auto", 3, epochs=AUGMENT_MIN_EPOCHS - 1) == "none"
    assert augmentation_for("auto", 1, epochs=200) == "crop"
    assert augmentation_for("crop+flip", 3, epochs=1) == "crop+flip"
    assert augmentation_for("none", 3) == "none"
    assert augmentation_for("flip", 1, epochs=1) == "flip"
    with pytest.raises(ValueError, match="augment must be one of"):
        augmentation_for("rotate", 3)


def _split(n: int, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 60, (n, 16, 16, 3)).astype(np.uint8)
    x[np.arange(n), :, :, y] += 150
    return Split(x, y)


def _net() -> torch.nn.Module:
    space = get_space("nb201")
    torch.manual_seed(0)
    return space.build(space.parse(ARCH), C=4, N=1, num_classes=3)


CONFIG = TrainConfig(batch_size=32, min_steps=1)


@pytest.mark.parametrize("config", [CONFIG, TrainConfig(batch_size=32, min_steps=1, ema=0.9)], ids=["plain", "ema"])
def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path: Path, config: TrainConfig) -> None:
    train = _split(96)
    whole = _net()
    train_network(
        whole, train, epochs=3, generator=torch.Generator().manual_seed(1), config=config, progress=False, threads=1
    )
    state = tmp_path / "train_state.pt"
    part = _net()
    train_network(
        part,
        train,
        epochs=3,
        generator=torch.Generator().manual_seed(1),
        config=config,
        progress=False,
        checkpoint=state,
        threads=1,
    )
    saved = torch.load(state, weights_only=True)
    assert saved["epoch"] == 3
    # stop after the first epoch: rewind the saved state to epoch 1 by training that far alone
    first = _net()
    state.unlink()
    with pytest.raises(KeyboardInterrupt):
        _train_then_interrupt(first, train, state, after_epochs=1, config=config)
    assert torch.load(state, weights_only=True)["epoch"] == 1
    resumed = _net()
    train_network(
        resumed,
        train,
        epochs=3,
        generator=torch.Generator().manual_seed(1),
        config=config,
        progress=False,
        checkpoint=state,
        threads=1,
    )
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=False):
        assert torch.equal(a, b)


def _train_then_interrupt(
    net: torch.nn.Module, train: Split, state: Path, after_epochs: int, config: TrainConfig = CONFIG
) -> None:
    import fne.training.recipe as training

    original = training._save
    calls = []

    def save_then_stop(*args, **kwargs):
        original(*args, **kwargs)
        calls.append(1)
        if len(calls) == after_epochs:
            raise KeyboardInterrupt

    training._save = save_then_stop
    try:
        train_network(
            net,
            train,
            epochs=3,
            generator=torch.Generator().manual_seed(1),
            config=config,
            progress=False,
            checkpoint=state,
            threads=1,
        )
    finally:
        training._save = original


def test_a_checkpoint_of_another_training_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "train_state.pt"
    train_network(
        _net(),
        _split(64),
        epochs=1,
        generator=torch.Generator().manual_seed(0),
        config=CONFIG,
        progress=False,
        checkpoint=state,
    )
    with pytest.raises(ValueError, match="belongs to another training"):
        train_network(
            _net(),
            _split(64),
            epochs=1,
            generator=torch.Generator().manual_seed(0),
            config=TrainConfig(batch_size=16, min_steps=1),
            progress=False,
            checkpoint=state,
        )
    state.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="unreadable"):
        train_network(
            _net(),
            _split(64),
            epochs=1,
            generator=torch.Generator().manual_seed(0),
            config=CONFIG,
            progress=False,
            checkpoint=state,
        )


def test_epochs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        train_network(_net(), _split(32), epochs=0, generator=torch.Generator(), progress=False)


def test_a_training_run_checks_its_out_folder_before_reading_data(tmp_path: Path) -> None:
    def run(out: Path, resume: bool = False) -> None:
        config = TrainCommandConfig(arch=ARCH, out=str(out), resume=resume, data_dir=str(tmp_path / "no_data"))
        run_training(config, progress=False)

    blocker = tmp_path / "file"
    blocker.write_text("mine")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        run(blocker)
    with pytest.raises(NotADirectoryError, match=f"lies below {blocker}, which is a file"):
        run(blocker / "run")
    with pytest.raises(FileNotFoundError, match="--resume: no training state"):
        run(tmp_path / "new", resume=True)
    for name in (MODEL, TRAIN_STATE):
        done = tmp_path / f"done_{name}"
        done.mkdir()
        (done / name).write_bytes(b"x")
        with pytest.raises(ValueError, match="already holds a training; pass --resume"):
            run(done)
        assert (done / name).read_bytes() == b"x"
    assert blocker.read_text() == "mine"


def test_label_smoothing_reaches_the_training_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []
    original = torch.nn.functional.cross_entropy

    def recording(*args: object, **kwargs: object) -> torch.Tensor:
        seen.append(float(kwargs.get("label_smoothing", 0.0)))  # type: ignore[arg-type]
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", recording)
    config = TrainConfig(batch_size=32, min_steps=1, val_split=0.0, label_smoothing=0.2)
    log = train_network(_net(), _split(64), epochs=1, generator=torch.Generator().manual_seed(0), config=config)
    assert seen == [0.2, 0.2]
    # a smoothed loss never reaches 0: at best it is the entropy of the smoothed target
    assert log.history[0]["train_loss"] > 0.0
    with pytest.raises(ValueError, match="--label-smoothing must be a number <= 0.5"):
        check_options(TrainConfig(label_smoothing=0.9))


def test_a_weight_average_is_what_the_training_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ema_decay(0.999, 0) == pytest.approx(0.1)
    assert ema_decay(0.999, 10) == pytest.approx(11 / 20)
    assert ema_decay(0.999, 10**6) == 0.999
    seen: list[dict[str, torch.Tensor]] = []
    original = AveragedModel.update_parameters

    def recording(self: AveragedModel, model: torch.nn.Module) -> None:
        seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        original(self, model)

    monkeypatch.setattr(AveragedModel, "update_parameters", recording)
    net = _net()
    config = TrainConfig(batch_size=16, min_steps=1, val_split=0.0, ema=0.6)
    train_network(net, _split(64), epochs=2, generator=torch.Generator().manual_seed(0), config=config, threads=1)
    assert len(seen) == 8  # 2 epochs of 4 steps
    for name, kept in net.state_dict().items():
        if not kept.is_floating_point():
            continue
        expected = seen[0][name].double()
        for n, weights in enumerate(seen[1:], start=1):
            keep = ema_decay(0.6, n)
            expected = expected * keep + weights[name].double() * (1 - keep)
        assert torch.allclose(kept.double(), expected, atol=1e-5), name
    assert any(not torch.equal(v, seen[-1][k]) for k, v in net.state_dict().items())  # not the last weights
    with pytest.raises(ValueError, match="--ema must be a number <= 0.9999"):
        check_options(TrainConfig(ema=1.0))
