"""Tests of fne.data.download (through fne.data.cifar.download_cifar): offline errors, a
verified archive extracted and reused, a checksum mismatch, and unsafe archive members."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from data_fakes import OFFICIAL_FOLDER, make_archive, make_official_folder
from fne import data as fd


def test_download_offline_error(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(RuntimeError) as info:
        fd.download_cifar(
            root,
            fd.CIFAR10,
            url="http://127.0.0.1:9/cifar-10-python.tar.gz",
            timeout=2.0,
            hint=fd.expected_layouts(root, "cifar10"),
        )
    text = str(info.value)
    for needle in (str(root), OFFICIAL_FOLDER, "--data-dir", "--download", "127.0.0.1:9"):
        assert needle in text
    assert list(root.iterdir()) == []


def test_download_fake_archive_verifies_and_extracts(tmp_path: Path) -> None:
    written = make_official_folder(tmp_path / "src" / OFFICIAL_FOLDER, n=3)
    archive = tmp_path / "served.tar.gz"
    md5 = make_archive(archive, tmp_path / "src")
    root = tmp_path / "data"
    fd.download_cifar(root, fd.CIFAR10, url=archive.as_uri(), md5=md5)
    data = fd.load_dataset(root, "cifar10")
    assert data.source == fd.DataSource("cifar10", root / OFFICIAL_FOLDER)
    assert np.array_equal(data.test.images, written["test_batch"][0])
    assert sorted(p.name for p in root.iterdir()) == sorted([fd.CIFAR10.archive_name, OFFICIAL_FOLDER])
    # a verified archive already present is reused without the network
    (root / OFFICIAL_FOLDER).rename(tmp_path / "moved")
    folder = fd.download_cifar(root, url="http://127.0.0.1:9/x.tar.gz", md5=md5, timeout=1.0)
    assert (folder / "data_batch_5").is_file()


def test_download_checksum_mismatch_leaves_nothing(tmp_path: Path) -> None:
    make_official_folder(tmp_path / "src" / OFFICIAL_FOLDER, n=2)
    archive = tmp_path / "served.tar.gz"
    make_archive(archive, tmp_path / "src")
    root = tmp_path / "data"
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        fd.download_cifar(root, url=archive.as_uri(), md5="0" * 32)
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_extract_rejects_unsafe_members(tmp_path: Path, kind: str) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        names = {"dotdot": "ok/../../evil", "absolute": "/tmp/evil", "symlink": "link"}
        info = tarfile.TarInfo(names[kind])
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="unsafe archive member"):
        fd.extract_archive(archive, dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "evil").exists()
