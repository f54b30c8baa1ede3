"""Small fake datasets for the tests of :mod:`fne.data`: splits, official CIFAR-10 batch files
and folders, archives and npz files."""

from __future__ import annotations

import hashlib
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fne import data as fd

OFFICIAL_FOLDER = fd.CIFAR10.folder
SHARED = Path(__file__).parents[2] / "shared" / "data"
SHARED_NPZ = SHARED / "cifar10"
needs_shared = pytest.mark.skipif(
    not (SHARED_NPZ / "cifar10_train_5k_jpegq75.npz").is_file(), reason="shared CIFAR-10 npz files not present"
)


def make_split(n_per_class: int = 6, classes: int = 10, seed: int = 0, size: int = 8) -> fd.Split:
    """A synthetic split whose image i has pixel [0, 0, 0] == i % 256 (to track images)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    images = rng.integers(0, 256, size=(labels.size, size, size, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(labels.size) % 256
    return fd.Split(images, labels, "synthetic")


def write_batch(path: Path, images_nhwc: np.ndarray, labels: Any, protocol: int = 2) -> None:
    """Write an official-format batch: b'data' N x 3072 (CHW rows), b'labels' list."""
    data = images_nhwc.transpose(0, 3, 1, 2).reshape(len(images_nhwc), -1)
    payload = {b"batch_label": b"fake", b"data": data, b"labels": [int(v) for v in labels]}
    path.write_bytes(pickle.dumps(payload, protocol=protocol))


def make_official_folder(folder: Path, n: int = 10, seed: int = 1) -> dict:
    """Fake cifar-10-batches-py with n images per batch; returns the written arrays."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name in fd.CIFAR10.train_files + (fd.CIFAR10.test_file,):
        x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, size=n)
        write_batch(folder / name, x, y)
        written[name] = (x, y)
    names = [c.encode() for c in fd.CIFAR10_CLASSES]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return written


def make_archive(path: Path, src_root: Path) -> str:
    """tar.gz of src_root/cifar-10-batches-py; returns its md5."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src_root / OFFICIAL_FOLDER, arcname=OFFICIAL_FOLDER)
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_npz(path: Path, n: int = 20, label_key: str = "y", **override: Any) -> None:
    """A CIFAR-10-shaped npz file: ``n`` random 32 x 32 x 3 images with labels ``0..9`` in turn."""
    rng = np.random.default_rng(3)
    arrays = {"x": rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), label_key: np.arange(n) % 10}
    arrays.update(override)
    np.savez(path, **arrays)


def assert_clear(err: pytest.ExceptionInfo, path: Path, *needles: str) -> None:
    """The error names ``path`` and each needle, and none of numpy's or pickle's internals."""
    text = str(err.value)
    assert str(path) in text, text
    assert "allow_pickle" not in text and "pickle.load" not in text, text
    for needle in needles:
        assert needle in text, (needle, text)
