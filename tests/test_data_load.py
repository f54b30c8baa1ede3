"""Tests of fne.data.load: finding CIFAR-10 in each of its layouts, the message when it is
missing, the shared data, and an import that reads nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from data_fakes import OFFICIAL_FOLDER, SHARED, SHARED_NPZ, make_official_folder, needs_shared, write_npz
from fne import data as fd


def test_import_reads_no_data_files() -> None:
    code = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda ev, args: opened.append(str(args[0])) if ev == 'open' else None)\n"
        "import fne.data as d\n"
        "names = ('data_batch_1', 'test_batch', 'batches.meta')\n"
        "bad = [p for p in opened if p.endswith(('.npz', '.tar.gz')) or p.endswith(names)]\n"
        "print('BAD', bad)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(fd.__file__).parents[2]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert "BAD []" in out.stdout


def test_locate_all_layouts(tmp_path: Path) -> None:
    make_official_folder(tmp_path / "a" / OFFICIAL_FOLDER, n=2)
    make_official_folder(tmp_path / "b", n=2)
    for d in (tmp_path / "c" / "cifar10", tmp_path / "d"):
        d.mkdir(parents=True)
        write_npz(d / "cifar10_train_x.npz")
        write_npz(d / "cifar10_test_x.npz")
    (tmp_path / "e").mkdir()
    official_a = tmp_path / "a" / OFFICIAL_FOLDER
    assert fd.locate_dataset(tmp_path / "a", "cifar10") == fd.DataSource("cifar10", official_a)
    assert fd.locate_dataset(tmp_path / "b", "cifar10") == fd.DataSource("cifar10", tmp_path / "b")
    assert fd.locate_dataset(tmp_path / "c", "cifar10") == fd.DataSource("npz", tmp_path / "c" / "cifar10")
    assert fd.locate_dataset(tmp_path / "d", "cifar10") == fd.DataSource("npz", tmp_path / "d")
    assert fd.locate_dataset(tmp_path / "e", "cifar10") is None
    data = fd.load_dataset(tmp_path / "c", "cifar10")
    assert (len(data.train), len(data.test), data.source.kind) == (20, 20, "npz")


@pytest.mark.parametrize("exists", [True, False])
def test_missing_data_message(tmp_path: Path, exists: bool) -> None:
    target = tmp_path / "empty"
    if exists:
        target.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        fd.load_dataset(target, "cifar10")
    text = str(info.value)
    for needle in (str(target), OFFICIAL_FOLDER, "*train*.npz", "--data-dir", "--download"):
        assert needle in text


@needs_shared
def test_shared_npz_layout() -> None:
    data = fd.load_dataset(SHARED, "cifar10")
    assert data.source == fd.DataSource("npz", SHARED_NPZ)
    assert data.train.images.shape == (5000, 32, 32, 3) and data.train.images.dtype == np.uint8
    assert data.test.images.shape == (10000, 32, 32, 3) and data.test.labels.dtype == np.int64
    assert data.train.class_counts().tolist() == [500] * 10
    lossless = fd.load_dataset(SHARED_NPZ, "cifar10", test_file="cifar10_test_846_lossless.npz").test
    assert len(lossless) == 846
    assert np.array_equal(lossless.labels, data.test.labels[:846])


@needs_shared
def test_shared_normalised_stats_and_balanced_batch() -> None:
    split = fd.load_npz_split(SHARED_NPZ / "cifar10_train_5k_jpegq75.npz")
    x, _ = fd.split_tensors(split)
    mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    assert mean.abs().max() < 0.02 and (std - 1).abs().max() < 0.02
    _, y = fd.sample_batch(split, 100, torch.Generator().manual_seed(0), balanced=True)
    assert torch.bincount(y, minlength=10).tolist() == [10] * 10
