"""Containers: one split of images (:class:`Split`), where data was found (:class:`DataSource`)
and a train/test pair with its classes (:class:`Dataset`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fne.data.stats import CIFAR10_MEAN, CIFAR10_STD, Stats, channel_stats

__all__ = [
    "Split",
    "DataSource",
    "Dataset",
    "check_split_arrays",
    "check_stats",
    "read_split",
    "dataset_network_kwargs",
    "numbered_classes",
]


def _looks_channels_first(shape: tuple[int, ...]) -> bool:
    """``(N, C, H, W)`` with a small C and a larger last axis, e.g. ``(N, 3, 32, 32)``."""
    return shape[1] <= 4 < shape[3]


def check_split_arrays(images: np.ndarray, labels: np.ndarray, name: str = "split") -> np.ndarray:
    """Check an image/label pair and return the labels as int64.

    Args:
        images: uint8 ``(N, H, W, C)`` with ``C >= 1``.
        labels: ``N`` integers ``>= 0``.
        name: Split name used in messages.

    Raises:
        ValueError: images not uint8 NHWC (an array that looks channels-first is named so),
            labels not 1-D integers of length N, or a negative label (the first is named).
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ValueError(
            f"{name}: images must be a uint8 numpy array, got {getattr(images, 'dtype', type(images).__name__)}"
        )
    if images.ndim != 4 or min(images.shape[1:]) < 1:
        raise ValueError(f"{name}: images must have shape (N, H, W, C) (NHWC), got {images.shape}")
    if _looks_channels_first(images.shape):
        raise ValueError(
            f"{name}: images must have shape (N, H, W, C) (NHWC), got {images.shape}, "
            "which looks channels-first (N, C, H, W); transpose it to NHWC"
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{name}: labels must have shape ({images.shape[0]},), got {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: labels must be integers, got dtype {labels.dtype}")
    bad = np.flatnonzero(labels < 0)
    if bad.size:
        raise ValueError(f"{name}: label {labels[bad[0]]} at index {bad[0]} is negative ({bad.size} bad labels)")
    return labels.astype(np.int64, copy=False)


def check_stats(mean: Sequence[float], std: Sequence[float], channels: int, name: str = "split") -> Stats:
    """``(mean, std)`` as float tuples of length ``channels``.

    Raises:
        ValueError: wrong length, a value that is not finite, or a std that is not positive.
    """
    mean_t, std_t = tuple(float(m) for m in mean), tuple(float(s) for s in std)
    if len(mean_t) != channels or len(std_t) != channels:
        raise ValueError(
            f"{name}: mean and std need one value per channel ({channels}), got mean {mean_t} and std {std_t}"
        )
    if not all(np.isfinite(mean_t + std_t)) or min(std_t) <= 0:
        raise ValueError(f"{name}: mean must be finite and std positive, got mean {mean_t}, std {std_t}")
    return mean_t, std_t


def default_stats(images: np.ndarray) -> Stats:
    """The CIFAR-10 statistics for 3-channel images, else the images' own (see :class:`Split`)."""
    if images.shape[3] == 3:
        return CIFAR10_MEAN, CIFAR10_STD
    return channel_stats(images)


def _stats(mean: tuple[float, ...] | None, std: tuple[float, ...] | None) -> Stats:
    """``(mean, std)``, both set by ``__post_init__``."""
    if mean is None or std is None:
        raise ValueError("normalisation statistics are not set")
    return mean, std


@dataclass(frozen=True)
class Split:
    """Images and labels of one split, with the statistics to normalise them with.

    Attributes:
        images: uint8 array ``(N, H, W, C)`` (NHWC), any ``C >= 1``.
        labels: int64 array ``(N,)`` with values ``>= 0`` (the :class:`Dataset` checks the
            upper bound against its classes).
        name: A label for messages, e.g. ``"train"``.
        source: The file (or folder) the images were read from, named in messages; None
            for images made in memory.
        mean: Per-channel mean of ``images / 255`` used by normalisation (length C).
        std: Per-channel standard deviation used by normalisation (length C). When ``mean``
            and ``std`` are both left out, 3-channel images get the published CIFAR-10
            numbers (as before this package existed) and other channel counts the
            statistics of ``images`` themselves.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str = "split"
    source: Path | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        labels = check_split_arrays(self.images, self.labels, self.name)
        object.__setattr__(self, "labels", labels)
        if (self.mean is None) != (self.std is None):
            raise ValueError(f"{self.name}: give both mean and std, or neither")
        stats = default_stats(self.images) if self.mean is None or self.std is None else (self.mean, self.std)
        mean, std = check_stats(*stats, self.channels, self.name)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def stats(self) -> Stats:
        """``(mean, std)`` that normalise the images."""
        return _stats(self.mean, self.std)

    @property
    def channels(self) -> int:
        """Number of image channels C."""
        return int(self.images.shape[3])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of every image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> Split:
        """The split restricted to ``indices`` (in the given order), same source and statistics."""
        idx = np.asarray(indices, dtype=np.int64)
        return Split(self.images[idx], self.labels[idx], name or self.name, self.source, self.mean, self.std)

    def with_stats(self, mean: Sequence[float], std: Sequence[float]) -> Split:
        """The same images, to be normalised with ``mean`` and ``std``."""
        return dataclasses.replace(self, mean=tuple(mean), std=tuple(std))

    def describe(self) -> str:
        """The split for messages: ``split 'train' (read from /data/train.npz)``."""
        where = f" (read from {self.source})" if self.source is not None else ""
        return f"split {self.name!r}{where}"

    def class_counts(self, num_classes: int | None = None) -> np.ndarray:
        """Images per class, shape ``(num_classes,)`` (default: largest label + 1)."""
        return np.bincount(self.labels, minlength=num_classes or 0)


def read_split(
    source: Path,
    images: np.ndarray,
    labels: np.ndarray,
    name: str,
    stats: Stats | None = None,
    num_classes: int | None = None,
) -> Split:
    """A :class:`Split` read from ``source``, whose errors name ``source``.

    Args:
        source: File or folder the arrays came from.
        images: uint8 NHWC images.
        labels: Integer labels.
        name: Split name.
        stats: ``(mean, std)``; None for the :class:`Split` default.
        num_classes: When given, labels must be below it.

    Raises:
        ValueError: as :class:`Split`, or a label ``>= num_classes``; prefixed with ``source``.
    """
    mean, std = stats if stats is not None else (None, None)
    try:
        split = Split(images, labels, name, source, mean, std)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from err
    if num_classes is None:
        return split
    bad = np.flatnonzero(split.labels >= num_classes)
    if len(bad):
        raise ValueError(
            f"{source}: {name}: label {split.labels[bad[0]]} at index {bad[0]} is "
            f"outside 0..{num_classes - 1} ({len(bad)} bad labels)"
        )
    return split


@dataclass(frozen=True)
class DataSource:
    """Where a dataset was found.

    Attributes:
        kind: The layout read, one of ``"cifar10"`` / ``"cifar100"`` (official python
            archive folders), ``"npz"`` or ``"folder"`` (see :data:`fne.data.DATASET_KINDS`).
        path: The folder the files were read from.
    """

    kind: str
    path: Path


def numbered_classes(count: int) -> tuple[str, ...]:
    """Class names ``"0" .. str(count - 1)`` for data without names."""
    return tuple(str(k) for k in range(count))


@dataclass(frozen=True)
class Dataset:
    """Train and test splits, their classes, where they came from and how to normalise them.

    Both splits are normalised with the dataset's ``mean`` and ``std`` (by default those of
    the train split); construction re-stamps the test split with them.

    Attributes:
        train: Training images.
        test: Test images (same H, W and C as ``train``).
        source: Where the files were found.
        classes: Class names, index = label; empty means ``"0" .. "K-1"`` with K the largest
            label + 1.
        mean: Per-channel normalisation mean (default ``train.mean``).
        std: Per-channel normalisation std (default ``train.std``).
        name: Dataset name for logs, e.g. ``"cifar10"``; default: the source folder's name.

    Raises:
        ValueError: train and test differ in image size or channels, a label is not below
            the number of classes, or the class names are not unique.
    """

    train: Split
    test: Split
    source: DataSource
    classes: tuple[str, ...] = ()
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        self._check_shapes()
        classes = tuple(str(c) for c in self.classes) or numbered_classes(self._largest_label() + 1)
        if len(set(classes)) != len(classes):
            raise ValueError(f"{self.source.path}: class names must be unique, got {classes}")
        object.__setattr__(self, "classes", classes)
        train_mean, train_std = self.train.stats
        mean, std = self.mean or train_mean, self.std or train_std
        mean, std = check_stats(mean, std, self.channels, f"dataset {self.source.path}")
        for attr, value in (
            ("mean", mean),
            ("std", std),
            ("name", self.name or self.source.path.name),
            ("train", self.train.with_stats(mean, std)),
            ("test", self.test.with_stats(mean, std)),
        ):
            object.__setattr__(self, attr, value)
        for split in (self.train, self.test):
            self._check_labels(split)

    def _check_shapes(self) -> None:
        a, b = self.train.images.shape[1:], self.test.images.shape[1:]
        if a != b:
            raise ValueError(
                f"train and test images differ: {self.train.describe()} has H, W, C {a}, {self.test.describe()} has {b}"
            )

    def _largest_label(self) -> int:
        tops = [int(s.labels.max()) for s in (self.train, self.test) if len(s)]
        return max(tops, default=-1)

    def _check_labels(self, split: Split) -> None:
        bad = np.flatnonzero(split.labels >= self.num_classes)
        if bad.size:
            raise ValueError(
                f"{split.describe()}: label {split.labels[bad[0]]} at index {bad[0]} is "
                f"outside 0..{self.num_classes - 1} (the {self.num_classes} classes); "
                f"{bad.size} bad labels"
            )

    @property
    def num_classes(self) -> int:
        """Number of classes K."""
        return len(self.classes)

    @property
    def stats(self) -> Stats:
        """``(mean, std)`` that normalise both splits."""
        return _stats(self.mean, self.std)

    @property
    def channels(self) -> int:
        """Image channels C (1 for grayscale, 3 for RGB)."""
        return self.train.channels

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of every image."""
        return self.train.image_size

    def describe(self) -> str:
        """One line for logs: name, layout, folder, sizes, classes and channels."""
        h, w = self.image_size
        channels = "1 channel" if self.channels == 1 else f"{self.channels} channels"
        return (
            f"{self.name} ({self.source.kind} at {self.source.path}): {len(self.train)} train and "
            f"{len(self.test)} test images of {h}x{w} pixels with {channels}, "
            f"{self.num_classes} classes"
        )


def dataset_network_kwargs(dataset: Dataset) -> dict[str, int]:
    """Network build arguments that fit ``dataset``: ``{"in_channels": C, "num_classes": K}``."""
    return {"in_channels": dataset.channels, "num_classes": dataset.num_classes}
