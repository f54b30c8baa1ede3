"""CIFAR-10 loading, batching and downloading: the names of the search's original data module.

The general code lives in :mod:`fne.data` (any image-classification dataset: CIFAR-10,
CIFAR-100, npz files, image folders). This module keeps the CIFAR-10 entry points of before:
:func:`load_cifar10` reads only CIFAR-10 (the official ``cifar-10-batches-py`` folder, whose
:class:`DataSource` kind is called ``"official"`` here, or npz files of ``N x 32 x 32 x 3``
images with labels 0..9) and normalises with the published CIFAR-10 statistics::

    data = load_cifar10("../shared/data")
    x, y = sample_batch(data.train, 64, torch.Generator().manual_seed(0), "cpu", balanced=True)

Nothing is read at import time, and the network is only used by :func:`download_cifar10`
(or ``load_cifar10(..., download=True)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fne.data.cifar import (
    CIFAR10,
    CIFAR10_CLASSES,
    download_cifar,
    load_cifar_folder,
    locate_cifar_folder,
    read_cifar_batch,
)
from fne.data.download import extract_archive, file_md5
from fne.data.load import expected_layouts as _expected_layouts
from fne.data.load import missing_message
from fne.data.npz import (
    NPZ_LABEL_KEYS,
    NPZ_SUBDIR,
    PREFERRED_TEST_NPZ,
    PREFERRED_TRAIN_NPZ,
    locate_npz_folder,
    read_npz,
)
from fne.data.npz import load_npz_folder as _load_npz_folder
from fne.data.sampling import RandomSource, iterate_minibatches, sample_batch, sample_indices, train_val_split
from fne.data.split import CIFAR10Data, Dataset, DataSource, Split, check_split_arrays, read_split
from fne.data.stats import CIFAR10_MEAN, CIFAR10_STD
from fne.data.transforms import Device, augment_batch, split_tensors
from fne.data.transforms import normalize as _normalize
from fne.data.transforms import to_tensor as _to_tensor

__all__ = [
    "CIFAR10_URL",
    "CIFAR10_MD5",
    "ARCHIVE_NAME",
    "OFFICIAL_FOLDER",
    "TRAIN_BATCHES",
    "TEST_BATCH",
    "NUM_CLASSES",
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "NPZ_SUBDIR",
    "PREFERRED_TRAIN_NPZ",
    "PREFERRED_TEST_NPZ",
    "NPZ_LABEL_KEYS",
    "Device",
    "RandomSource",
    "Split",
    "DataSource",
    "CIFAR10Data",
    "Dataset",
    "check_split_arrays",
    "read_official_batch",
    "load_official_folder",
    "load_npz_split",
    "load_npz_folder",
    "locate_cifar10",
    "expected_layouts",
    "load_cifar10",
    "file_md5",
    "extract_archive",
    "download_cifar10",
    "normalize",
    "to_tensor",
    "split_tensors",
    "sample_indices",
    "sample_batch",
    "train_val_split",
    "augment_batch",
    "iterate_minibatches",
]

CIFAR10_URL = CIFAR10.url
CIFAR10_MD5 = CIFAR10.md5
ARCHIVE_NAME = CIFAR10.archive_name
OFFICIAL_FOLDER = CIFAR10.folder
TRAIN_BATCHES = CIFAR10.train_files
TEST_BATCH = CIFAR10.test_file
NUM_CLASSES = CIFAR10.num_classes
_OFFICIAL = "official"


def _as_official(data: Dataset) -> Dataset:
    """``data`` with its source kind named ``"official"`` as this module always did."""
    return dataclasses.replace(data, source=DataSource(_OFFICIAL, data.source.path))


def read_official_batch(path: str | Path, name: str | None = None) -> Split:
    """Read one official CIFAR-10 batch file (see :func:`fne.data.read_cifar_batch`)."""
    return read_cifar_batch(path, CIFAR10, name)


def load_official_folder(folder: str | Path) -> CIFAR10Data:
    """Load an official ``cifar-10-batches-py`` folder; ``source.kind`` is ``"official"``.

    Raises:
        FileNotFoundError: a batch file is missing (all missing ones are named).
        ValueError: a batch file is corrupt.
    """
    return _as_official(load_cifar_folder(folder, CIFAR10))


def load_npz_split(path: str | Path, name: str | None = None) -> Split:
    """Load one CIFAR-10 ``.npz`` split: ``x`` uint8 ``(N, 32, 32, 3)`` and ``y`` (or ``y_first``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not an npz archive (or a damaged one), a key missing, an array that is not
            plain numbers, wrong shape/dtype, or labels outside 0..9; the message names the file.
    """
    contents = read_npz(path)
    if contents.images.shape[1:] != (32, 32, 3):
        raise ValueError(
            f"{contents.path}: 'x' must be uint8 (N, 32, 32, 3), got {contents.images.dtype} {contents.images.shape}"
        )
    return read_split(
        contents.path,
        contents.images,
        contents.labels,
        name or contents.path.stem,
        (CIFAR10_MEAN, CIFAR10_STD),
        NUM_CLASSES,
    )


def load_npz_folder(folder: str | Path, *, test_file: str | None = None) -> CIFAR10Data:
    """Load the CIFAR-10 train and test ``.npz`` files of ``folder``
    (see :func:`fne.data.load_npz_folder`).

    Raises:
        FileNotFoundError: no train or no test file.
        ValueError: unreadable files, or files that are not CIFAR-10.
    """
    return _load_npz_folder(folder, test_file=test_file, cifar10=True)


def locate_cifar10(data_dir: str | Path) -> DataSource | None:
    """Find CIFAR-10 under ``data_dir`` without reading it.

    Looks, in order, at ``<dir>/cifar-10-batches-py``, ``<dir>`` as the official folder,
    ``<dir>/cifar10/*.npz`` and ``<dir>/*.npz``. Returns ``None`` when nothing is there.
    """
    official = locate_cifar_folder(data_dir, CIFAR10)
    if official is not None:
        return DataSource(_OFFICIAL, official)
    npz_folder = locate_npz_folder(data_dir)
    return DataSource("npz", npz_folder) if npz_folder is not None else None


def expected_layouts(data_dir: str | Path) -> str:
    """Describe the CIFAR-10 layouts :func:`locate_cifar10` accepts, for error messages."""
    return _expected_layouts(data_dir, CIFAR10.name)


def download_cifar10(
    root: str | Path, *, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5, timeout: float = 60.0
) -> Path:
    """Download and extract the official CIFAR-10 python archive into ``root``
    (see :func:`fne.data.download_cifar`); returns ``root/cifar-10-batches-py``.

    Raises:
        RuntimeError: offline/timeout, checksum mismatch (nothing is left behind), or an
            archive without a ``cifar-10-batches-py`` folder.
    """
    return download_cifar(root, CIFAR10, url=url, md5=md5, timeout=timeout, hint=expected_layouts(root))


def load_cifar10(
    data_dir: str | Path,
    *,
    download: bool = False,
    url: str = CIFAR10_URL,
    md5: str = CIFAR10_MD5,
    timeout: float = 60.0,
    test_file: str | None = None,
) -> CIFAR10Data:
    """Find and load CIFAR-10 under ``data_dir``.

    Args:
        data_dir: Directory to search (see :func:`locate_cifar10`).
        download: Fetch the official archive into ``data_dir`` when nothing is found.
        url: Archive address used when downloading.
        md5: Expected md5 of the archive.
        timeout: Network timeout in seconds.
        test_file: For the npz layout, the test file name to use (see :func:`load_npz_folder`).

    Raises:
        FileNotFoundError: nothing found and ``download`` is false; the message names the
            directory, the accepted layouts, ``--data-dir`` and ``--download``.
        ValueError: unreadable files, or npz files that are not CIFAR-10.
        RuntimeError: the download failed (offline, timeout, checksum mismatch).
    """
    data_dir = Path(data_dir)
    source = locate_cifar10(data_dir) if data_dir.is_dir() else None
    if source is None and not download:
        missing = missing_message(data_dir, CIFAR10.name)
        if not data_dir.exists():
            raise FileNotFoundError(f"data directory {data_dir} does not exist. {missing}")
        raise FileNotFoundError(missing)
    if source is None:
        source = DataSource(_OFFICIAL, download_cifar10(data_dir, url=url, md5=md5, timeout=timeout))
    if source.kind == _OFFICIAL:
        return load_official_folder(source.path)
    return load_npz_folder(source.path, test_file=test_file)


def normalize(
    x: torch.Tensor, mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD
) -> torch.Tensor:
    """Normalise float NCHW images in ``[0, 1]`` (default: the CIFAR-10 channel mean and std)."""
    return _normalize(x, mean, std)


def to_tensor(images: np.ndarray, device: Device = "cpu", *, normalized: bool = True) -> torch.Tensor:
    """Convert uint8 ``(N, H, W, 3)`` images to a float32 NCHW tensor on ``device``.

    Args:
        images: uint8 array ``(N, H, W, 3)``.
        device: Target device.
        normalized: Apply the CIFAR-10 :func:`normalize` (else values stay in ``[0, 1]``).
    """
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if not normalized:
        return _to_tensor(images, device)
    return _to_tensor(images, device, mean=CIFAR10_MEAN, std=CIFAR10_STD)
