"""Tests of fne.data.npz: npz splits and CIFAR-10 npz files, and clear errors for damaged ones."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from data_fakes import assert_clear, write_npz
from fne import data as fd


def test_npz_split_with_y_and_y_first(tmp_path: Path) -> None:
    write_npz(tmp_path / "a.npz")
    write_npz(tmp_path / "b.npz", label_key="y_first", y_all10000=np.zeros(50, np.uint8))
    a, b = fd.load_npz_split(tmp_path / "a.npz"), fd.load_npz_split(tmp_path / "b.npz")
    assert a.images.shape == (20, 32, 32, 3) and a.images.dtype == np.uint8
    assert a.labels.dtype == np.int64 and b.labels.tolist() == (np.arange(20) % 10).tolist()


@pytest.mark.parametrize(
    "override, message",
    [
        ({"y": None}, "needs key 'x'"),
        ({"x": np.zeros((20, 3, 32, 32), np.uint8)}, r"\(N, 32, 32, 3\)"),
        ({"x": np.zeros((20, 32, 32, 3), np.float32)}, "uint8"),
        ({"y": np.full(20, 12)}, r"labels must be 0\.\.9, got 12\.\.12"),
    ],
)
def test_cifar10_npz_corrupt_contents(tmp_path: Path, override: dict, message: str) -> None:
    arrays = {k: v for k, v in override.items() if v is not None}
    if "y" in override and override["y"] is None:
        np.savez(tmp_path / "bad.npz", x=np.zeros((20, 32, 32, 3), np.uint8), z=np.zeros(20))
    else:
        write_npz(tmp_path / "bad.npz", **arrays)
    write_npz(tmp_path / "good_test.npz")
    with pytest.raises(ValueError, match=message) as info:
        fd.load_npz_folder(tmp_path, train_file="bad.npz", test_file="good_test.npz", cifar10=True)
    assert "bad.npz" in str(info.value)


def test_npz_not_an_archive_and_missing(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="junk.npz"):
        fd.load_npz_split(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        fd.load_npz_split(tmp_path / "nope.npz")


def test_random_bytes_npz_is_named_not_a_npz_archive(tmp_path: Path) -> None:
    path = tmp_path / "x_train.npz"
    path.write_bytes(os.urandom(1000))
    with pytest.raises(ValueError) as info:
        fd.load_npz_split(path)
    assert_clear(info, path, "not a .npz archive (a zip of .npy arrays)", "numpy.savez", "re-download")
    np.save(tmp_path / "plain.npy", np.zeros((2, 32, 32, 3), np.uint8))  # an .npy, not an .npz
    (tmp_path / "plain.npy").rename(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="not a .npz archive"):
        fd.load_npz_split(tmp_path / "plain.npz")


def _damaged(path: Path, kind: str) -> None:
    good = dict(x=np.zeros((20, 32, 32, 3), np.uint8), y=np.arange(20) % 10)
    if kind == "object array":
        np.savez(path, x=np.array([{"a": 1}, None], dtype=object), y=np.arange(2))
    elif kind == "not an array":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x.npy", b"hello world")
            archive.writestr("y.npy", b"hello world")
    elif kind == "bad crc":
        np.savez(path, **good)
        raw = bytearray(path.read_bytes())
        raw[300:310] = b"\x01" * 10
        path.write_bytes(bytes(raw))
    elif kind == "bad deflate":
        np.savez_compressed(path, **good)
        raw = bytearray(path.read_bytes())
        raw[100:110] = b"\xff" * 10
        path.write_bytes(bytes(raw))
    else:  # truncated
        np.savez(path, **good)
        path.write_bytes(path.read_bytes()[:5000])


@pytest.mark.parametrize(
    "kind, needle",
    [
        ("object array", "holds Python objects"),
        ("not an array", "is not a .npy array"),
        ("bad crc", "damaged .npz archive"),
        ("bad deflate", "damaged .npz archive"),
        ("truncated", "not a .npz archive"),
    ],
)
def test_damaged_npz_gives_a_clear_error(tmp_path: Path, kind: str, needle: str) -> None:
    path = tmp_path / "cifar10_train_x.npz"
    _damaged(path, kind)
    with pytest.raises(ValueError) as info:
        fd.load_npz_split(path)
    assert_clear(info, path, needle, "numpy.savez")
