"""How a training runs: every usable core by default (the thread tuner backs off while other
work makes fewer threads faster), ``--threads`` to fix the count, and the precision chosen."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fne.cli.train_command import build_parser
from fne.compute import torch_threads, usable_cpus
from fne.data import Dataset, DataSource, Split
from fne.genotopheno import get_space
from fne.options import from_args
from fne.training.execution import (
    ThreadTuner,
    cpu_has_bf16_units,
    grad_scaler,
    resolve_precision,
)
from fne.training.recipe import TrainConfig, predict
from fne.training.run import TrainCommandConfig
from fne.training.train_cell import train_cell

train_cell_module = importlib.import_module("fne.training.train_cell")
recipe_module = importlib.import_module("fne.training.recipe")
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _steps(tuner: ThreadTuner, clock: _Clock, cost: dict[int, float], n: int) -> None:
    for _ in range(n):
        with tuner.timed():
            clock.now += cost[tuner.current]


def test_the_tuner_backs_off_under_contention_and_returns_when_it_ends() -> None:
    clock = _Clock()
    with torch_threads(1):
        tuner = ThreadTuner(4, probe_steps=3, interval=30.0, clock=clock)
        assert tuner.current == 4 and torch.get_num_threads() == 4
        contended = {4: 2.0, 2: 0.8, 1: 1.0}
        _steps(tuner, clock, contended, 2 + 3 + 4 + 4)  # settle, then time 4, 2 and 1 threads
        assert tuner.current == 2 and torch.get_num_threads() == 2
        _steps(tuner, clock, contended, 5)  # holds the choice until the interval has passed
        assert tuner.current == 2
        alone = {4: 0.3, 2: 0.5, 1: 0.9}
        _steps(tuner, clock, alone, 70)
        assert tuner.current == 4 and torch.get_num_threads() == 4
        summary = tuner.summary()
    assert summary["threads"] == 4 and summary["tuned"] and set(summary["steps_at"]) == {"4", "2", "1"}
    assert sum(summary["steps_at"].values()) == 2 + 3 + 4 + 4 + 5 + 70


def test_a_collapsed_count_is_dropped_at_once_and_checked_less_and_less_often() -> None:
    clock = _Clock()
    at_two: list[float] = []
    with torch_threads(1):
        tuner = ThreadTuner(2, probe_steps=3, interval=30.0, longest=480.0, clock=clock)
        for _ in range(1000):
            with tuner.timed():
                if tuner.current == 2:
                    at_two.append(clock.now)
                clock.now += 10.0 if tuner.current == 2 else 1.0  # two threads collapse
        assert tuner.current == 1
    first, later = at_two[:5], at_two[5:]
    assert first == [0.0, 10.0, 20.0, 30.0, 40.0]  # two settling steps, three timed
    gaps = [b - a for a, b in zip(later, later[1:], strict=False)]
    # one step at two threads a round; the wait doubles (60, 120, 240, 480 s) beside each round's own 12 s
    assert gaps == [72.0, 132.0, 252.0, 492.0]
    assert tuner.summary()["steps_at"] == {"2": 10, "1": 990}


def test_a_given_thread_count_is_kept() -> None:
    clock = _Clock()
    with torch_threads(1):
        tuner = ThreadTuner(2, tune=False, clock=clock)
        _steps(tuner, clock, {2: 5.0, 1: 0.1}, 40)
        assert tuner.current == 2 and torch.get_num_threads() == 2
    assert tuner.summary() == {"threads": 2, "tuned": False, "steps_at": {"2": 40}}
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        ThreadTuner(0)


def test_precision_follows_the_hardware() -> None:
    assert resolve_precision("auto", "cpu") == ("bf16" if cpu_has_bf16_units() else "fp32")
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    assert grad_scaler("cpu", "fp16").is_enabled() and not grad_scaler("cpu", "bf16").is_enabled()
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", "cpu")


def _data() -> Dataset:
    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        y = np.arange(n) % 3
        x = rng.integers(0, 60, (n, 8, 8, 3)).astype(np.uint8)
        x[np.arange(n), :, :, y] += 150
        return Split(x, y)

    return Dataset(split(60), split(30), DataSource("npz", Path("memory")))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_cell_uses_every_core_whatever_its_caller_set(tmp_path: Path, precision: str) -> None:
    config = TrainConfig(batch_size=16, min_steps=1, precision=precision)
    with torch_threads(1):
        report = train_cell(
            get_space("nb201"),
            ARCH,
            _data(),
            out=tmp_path,
            epochs=1,
            config=config,
            build_kwargs={"C": 4, "N": 1},
            progress=False,
        )
        assert torch.get_num_threads() == 1
    assert report["threads"]["threads"] == usable_cpus() and report["threads"]["tuned"] == (usable_cpus() > 1)
    assert report["settings"]["precision"] == precision
    assert 0.0 <= report["test_accuracy"] <= 100.0 and (tmp_path / "model.pt").is_file()


def test_threads_given_fix_the_count(tmp_path: Path) -> None:
    report = train_cell(
        get_space("nb201"),
        ARCH,
        _data(),
        out=tmp_path,
        epochs=1,
        config=TrainConfig(batch_size=16, min_steps=1),
        build_kwargs={"C": 4, "N": 1},
        progress=False,
        threads=1,
    )
    assert report["threads"] == {"threads": 1, "tuned": False, "steps_at": {"1": 3}}


def test_predictions_in_shards_equal_one_pass_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    net = get_space("nb201").build(ARCH, C=4, N=1)
    images = _data().test
    whole = predict(net, images)
    threads_seen: list[int] = []
    original = recipe_module._predict

    def recording(*args: Any) -> np.ndarray:
        threads_seen.append(torch.get_num_threads())
        return original(*args)

    monkeypatch.setattr(recipe_module, "_predict", recording)
    with torch_threads(2):
        for shards in (1, 2, 3, len(images) + 5):  # more shards than images: one image each
            assert np.allclose(predict(net, images, shards=shards), whole, atol=1e-5)
        assert torch.get_num_threads() == 2  # the caller's count is back
    assert set(threads_seen) == {1} and len(threads_seen) == 1 + 2 + 3 + len(images)


def test_held_out_and_test_passes_run_one_shard_per_core_or_per_given_thread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[int] = []
    held_out: list[int] = []

    def recorder(calls: list[int]) -> Any:
        def recording(net: torch.nn.Module, split: Split, **kwargs: Any) -> np.ndarray:
            calls.append(int(kwargs["shards"]))
            return predict(net, split, **kwargs)

        return recording

    monkeypatch.setattr(train_cell_module, "predict", recorder(seen))
    monkeypatch.setattr(recipe_module, "predict", recorder(held_out))
    for threads, out in ((None, "a"), (3, "b")):
        train_cell(
            get_space("nb201"),
            ARCH,
            _data(),
            out=tmp_path / out,
            epochs=1,
            config=TrainConfig(batch_size=16, min_steps=1),
            build_kwargs={"C": 4, "N": 1},
            progress=False,
            threads=threads,
        )
    assert seen == held_out == [usable_cpus(), 3]  # one held-out pass (one epoch) and one test pass each


def test_fne_train_threads_default_to_every_core() -> None:
    parser = build_parser("fne train")
    config = from_args(TrainCommandConfig, parser.parse_args(["--arch", ARCH]))
    assert config.threads == 0
    assert from_args(TrainCommandConfig, parser.parse_args(["--arch", ARCH, "--threads", "3"])).threads == 3
    args = parser.parse_args(["--arch", ARCH, "--val-split", "0.2", "--patience", "3", "--balance", "sampler"])
    assert isinstance(args, argparse.Namespace)
    training = from_args(TrainCommandConfig, args).training
    assert (training.val_split, training.patience, training.balance) == (0.2, 3, "sampler")
