"""Tests of fne.data.sampling: seeded and class-balanced batches, stratified train/validation
splits, training epochs, and clear errors for batches larger than the split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data_fakes import make_split, write_npz
from fne import data as fd


@pytest.mark.parametrize("make_gen", [lambda s: torch.Generator().manual_seed(s), np.random.default_rng])
def test_sample_batch_seeded(make_gen) -> None:
    split = make_split(n_per_class=20)
    x1, y1 = fd.sample_batch(split, 16, make_gen(5), "cpu")
    x2, y2 = fd.sample_batch(split, 16, make_gen(5), "cpu")
    x3, _ = fd.sample_batch(split, 16, make_gen(6), "cpu")
    assert x1.shape == (16, 3, 8, 8) and x1.dtype == torch.float32 and y1.dtype == torch.int64
    assert x1.device.type == "cpu"
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    ids = fd.sample_indices(split.labels, 16, make_gen(5))
    assert len(set(ids.tolist())) == 16


@pytest.mark.parametrize("batch, low, high", [(50, 5, 5), (53, 5, 6), (7, 0, 1)])
def test_sample_batch_balanced(batch: int, low: int, high: int) -> None:
    split = make_split(n_per_class=12)
    gen = torch.Generator().manual_seed(1)
    _, y = fd.sample_batch(split, batch, gen, balanced=True)
    counts = np.bincount(y.numpy(), minlength=10)
    assert counts.sum() == batch and counts.min() >= low and counts.max() <= high


def test_balanced_with_short_class_fills_from_others() -> None:
    labels = np.array([0] * 2 + [1] * 30 + [2] * 30)
    idx = fd.sample_indices(labels, 30, np.random.default_rng(0), balanced=True)
    assert len(set(idx.tolist())) == 30
    assert np.bincount(labels[idx], minlength=3).tolist() == [2, 14, 14]


def test_sample_batch_bad_arguments() -> None:
    split = make_split(n_per_class=1)
    with pytest.raises(ValueError, match="batch_size"):
        fd.sample_batch(split, 11, torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        fd.sample_batch(split, 2, 123)  # type: ignore[arg-type]


def test_train_val_split_stratified_and_seeded() -> None:
    labels = np.repeat(np.arange(10), [10, 20, 30, 40, 10, 20, 30, 40, 10, 20])
    split = fd.Split(np.zeros((labels.size, 2, 2, 3), np.uint8), labels)
    train, val = fd.train_val_split(split, 0.5, np.random.default_rng(0))
    assert (len(train), len(val)) == (115, 115)
    assert np.array_equal(val.class_counts(), split.class_counts() // 2)
    train_b, val_b = fd.train_val_split(split, 0.5, np.random.default_rng(0))
    assert np.array_equal(val.labels, val_b.labels)
    _, val7 = fd.train_val_split(split, 7, torch.Generator().manual_seed(0))
    assert len(val7) == 7 and val7.class_counts().max() <= 2


def test_train_val_split_largest_remainder() -> None:
    labels = np.repeat([0, 1, 2], [10, 2, 8])  # shares of 7: 3.5, 0.7, 2.8
    split = fd.Split(np.zeros((20, 2, 2, 3), np.uint8), labels)
    _, val = fd.train_val_split(split, 7, np.random.default_rng(0))
    assert val.class_counts()[:3].tolist() == [3, 1, 3]


def test_train_val_split_disjoint_cover_and_errors() -> None:
    split = make_split(n_per_class=10)
    tags = lambda s: set(s.images[:, 0, 0, 0].tolist())  # noqa: E731
    train, val = fd.train_val_split(split, 0.3, np.random.default_rng(1))
    _, other = fd.train_val_split(split, 0.3, np.random.default_rng(2))
    assert tags(train) | tags(val) == tags(split) and not tags(train) & tags(val)
    assert np.array_equal(val.class_counts(), [3] * 10) and tags(val) != tags(other)
    for bad in (0, 100, 0.0, 1.0):
        with pytest.raises(ValueError, match="val_size"):
            fd.train_val_split(split, bad, np.random.default_rng(0))


def test_iterate_minibatches_covers_epoch_once() -> None:
    split = make_split(n_per_class=5)
    std = torch.tensor(fd.CIFAR10_STD).view(1, 3, 1, 1)
    mean = torch.tensor(fd.CIFAR10_MEAN).view(1, 3, 1, 1)
    seen = []
    for x, y in fd.iterate_minibatches(split, 8, torch.Generator().manual_seed(0), drop_last=False):
        seen += ((x * std + mean)[:, 0, 0, 0] * 255).round().long().tolist()
        assert y.dtype == torch.int64 and x.shape[1:] == (3, 8, 8)
    assert sorted(seen) == list(range(50))
    batches = list(fd.iterate_minibatches(split, 8, torch.Generator().manual_seed(0)))
    assert len(batches) == 6
    again = list(fd.iterate_minibatches(split, 8, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again, strict=False))


def test_batch_larger_than_the_split_says_too_few_images(tmp_path: Path) -> None:
    path = tmp_path / "cifar10_train_tiny.npz"
    write_npz(path, n=6)
    split = fd.load_npz_split(path, "train")
    assert split.source == path
    with pytest.raises(ValueError) as info:
        fd.sample_batch(split, 64, torch.Generator().manual_seed(0), balanced=True)
    text = str(info.value)
    for needle in (
        "too few images",
        "'train'",
        str(path),
        "6 images",
        "64",
        "use more images or a smaller batch (proxy_batch in a search)",
    ):
        assert needle in text, (needle, text)
    search_train, _ = fd.train_val_split(split, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="too few images: split 'train-train' .* has 4 images"):
        fd.sample_batch(search_train, 64, torch.Generator())
    with pytest.raises(ValueError, match=f"too few images: split 'train' \\(read from {path}\\)"):
        next(fd.iterate_minibatches(split, 7, torch.Generator()))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_batch_size_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        fd.sample_batch(make_split(n_per_class=1), bad, torch.Generator())  # type: ignore[arg-type]
