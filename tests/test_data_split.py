"""Tests of fne.data.split: the checks of a Split and a Dataset, subsets and class counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data_fakes import make_split
from fne import data as fd


def test_split_coerces_labels_to_int64() -> None:
    split = fd.Split(np.zeros((3, 32, 32, 3), np.uint8), np.array([1, 2, 3], np.uint8))
    assert split.labels.dtype == np.int64 and len(split) == 3


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((2, 32, 32, 3), np.float32), [0, 1], "uint8"),
        (np.zeros((2, 3, 32, 32), np.uint8), [0, 1], "shape"),
        (np.zeros((2, 32, 32, 3), np.uint8), [0, 1, 2], "labels must have shape"),
        (np.zeros((2, 32, 32, 3), np.uint8), [0.0, 1.0], "integers"),
        (np.zeros((3, 32, 32, 3), np.uint8), [0, 10, -1], "label -1 at index 2"),
    ],
)
def test_split_rejects_bad_arrays(images, labels, message) -> None:
    with pytest.raises(ValueError, match=message):
        fd.Split(images, np.asarray(labels), "bad")


def test_dataset_rejects_labels_beyond_its_classes() -> None:
    split = fd.Split(np.zeros((3, 32, 32, 3), np.uint8), np.array([0, 10, 1]), "bad")
    good = fd.Split(np.zeros((2, 32, 32, 3), np.uint8), np.array([0, 1]), "test")
    with pytest.raises(ValueError, match="split 'bad': label 10 at index 1 is outside 0..9"):
        fd.Dataset(split, good, fd.DataSource("npz", Path("x")), fd.CIFAR10_CLASSES)


def test_subset_and_class_counts() -> None:
    split = make_split(n_per_class=3)
    sub = split.subset([0, 3, 4])
    assert sub.labels.tolist() == [0, 1, 1]
    assert np.array_equal(sub.images[1], split.images[3])
    assert split.class_counts().tolist() == [3] * 10
