"""Tests of fne.data.cifar (with fne.data.safe_pickle): the official CIFAR-10 batch files and
folder, and clear errors for damaged or foreign ones."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from data_fakes import OFFICIAL_FOLDER, assert_clear, make_official_folder, make_split, write_batch
from fne import data as fd


def test_official_folder_loader(tmp_path: Path) -> None:
    written = make_official_folder(tmp_path / OFFICIAL_FOLDER)
    data = fd.load_cifar_folder(tmp_path / OFFICIAL_FOLDER)
    assert data.train.images.shape == (50, 32, 32, 3) and data.test.images.shape == (10, 32, 32, 3)
    assert data.train.labels.dtype == np.int64 and data.source.kind == "cifar10"
    assert np.array_equal(data.train.images[10:20], written["data_batch_2"][0])
    assert np.array_equal(data.test.labels, written["test_batch"][1])
    assert data.classes == fd.CIFAR10_CLASSES


@pytest.mark.parametrize("protocol, legacy_names", [(2, True), (2, False), (pickle.HIGHEST_PROTOCOL, False)])
def test_read_batch_pickle_variants(tmp_path: Path, protocol: int, legacy_names: bool) -> None:
    x = np.arange(4 * 3072, dtype=np.int64).reshape(4, 32, 32, 3).astype(np.uint8)
    write_batch(tmp_path / "b", x, [1, 2, 3, 4], protocol=protocol)
    if legacy_names:  # name numpy the way the original (numpy 1.x) archive does
        raw = (tmp_path / "b").read_bytes().replace(b"numpy._core.", b"numpy.core.")
        (tmp_path / "b").write_bytes(raw)
    split = fd.read_cifar_batch(tmp_path / "b")
    assert np.array_equal(split.images, x) and split.labels.tolist() == [1, 2, 3, 4]


def test_read_batch_rejects_foreign_globals_and_bad_data(tmp_path: Path) -> None:
    (tmp_path / "evil").write_bytes(pickle.dumps({b"data": io.BytesIO(), b"labels": []}))
    with pytest.raises(ValueError, match="not allowed"):
        fd.read_cifar_batch(tmp_path / "evil")
    short = {b"data": np.zeros((2, 100), np.uint8)}
    (tmp_path / "short").write_bytes(pickle.dumps(short, protocol=2))
    with pytest.raises(ValueError, match="labels"):
        fd.read_cifar_batch(tmp_path / "short")
    write_batch(tmp_path / "badlab", np.zeros((2, 32, 32, 3), np.uint8), [0, 11])
    with pytest.raises(ValueError, match="badlab.*label 11 at index 1"):
        fd.read_cifar_batch(tmp_path / "badlab")


def test_official_folder_missing_batch_is_named(tmp_path: Path) -> None:
    folder = tmp_path / OFFICIAL_FOLDER
    make_official_folder(folder, n=2)
    (folder / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4"):
        fd.load_cifar_folder(folder)


def test_damaged_official_batch_gives_a_clear_error(tmp_path: Path) -> None:
    write_batch(tmp_path / "codec", np.zeros((2, 32, 32, 3), np.uint8), [0, 1])
    (tmp_path / "codec").write_bytes((tmp_path / "codec").read_bytes().replace(b"latin1", b"lrtin1"))
    (tmp_path / "huge").write_bytes(b"\x80\x05\x96" + (2**64 - 1).to_bytes(8, "little"))
    (tmp_path / "random").write_bytes(os.urandom(300))
    ragged = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, [1, 2]]}
    (tmp_path / "ragged").write_bytes(pickle.dumps(ragged, protocol=2))
    for name in ("codec", "huge", "random", "ragged"):
        with pytest.raises(ValueError) as info:
            fd.read_cifar_batch(tmp_path / name)
        assert_clear(info, tmp_path / name, "--download")


def test_split_source_is_kept_by_subsets_and_official_folders(tmp_path: Path) -> None:
    assert make_split().source is None and "split 'synthetic'" == make_split().describe()
    make_official_folder(tmp_path / OFFICIAL_FOLDER, n=2)
    data = fd.load_cifar_folder(tmp_path / OFFICIAL_FOLDER)
    assert data.train.source == tmp_path / OFFICIAL_FOLDER
    assert data.test.source == tmp_path / OFFICIAL_FOLDER / fd.CIFAR10.test_file
    assert data.train.subset([0, 1]).source == data.train.source
    assert str(data.test.source) in data.test.describe()
