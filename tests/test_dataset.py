"""Tests of fne.evolution.dataset: loading, discovery, tensors, sampling, splitting, download."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from fne.evolution import dataset as ds

SHARED = Path(__file__).parents[2] / "shared" / "data"
SHARED_NPZ = SHARED / "cifar10"
needs_shared = pytest.mark.skipif(
    not (SHARED_NPZ / "cifar10_train_5k_jpegq75.npz").is_file(), reason="shared CIFAR-10 npz files not present"
)


# --------------------------------------------------------------------------- helpers


def make_split(n_per_class: int = 6, classes: int = 10, seed: int = 0, size: int = 8) -> ds.Split:
    """A synthetic split whose image i has pixel [0, 0, 0] == i % 256 (to track images)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    images = rng.integers(0, 256, size=(labels.size, size, size, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(labels.size) % 256
    return ds.Split(images, labels, "synthetic")


def write_batch(path: Path, images_nhwc: np.ndarray, labels: np.ndarray, protocol: int = 2) -> None:
    """Write an official-format batch: b'data' N x 3072 (CHW rows), b'labels' list."""
    data = images_nhwc.transpose(0, 3, 1, 2).reshape(len(images_nhwc), -1)
    payload = {b"batch_label": b"fake", b"data": data, b"labels": [int(v) for v in labels]}
    path.write_bytes(pickle.dumps(payload, protocol=protocol))


def make_official_folder(folder: Path, n: int = 10, seed: int = 1) -> dict:
    """Fake cifar-10-batches-py with n images per batch; returns the written arrays."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name in ds.TRAIN_BATCHES + (ds.TEST_BATCH,):
        x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, size=n)
        write_batch(folder / name, x, y)
        written[name] = (x, y)
    names = [c.encode() for c in ds.CIFAR10_CLASSES]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return written


def make_archive(path: Path, src_root: Path) -> str:
    """tar.gz of src_root/cifar-10-batches-py; returns its md5."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src_root / ds.OFFICIAL_FOLDER, arcname=ds.OFFICIAL_FOLDER)
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_npz(path: Path, n: int = 20, label_key: str = "y", **override) -> None:
    rng = np.random.default_rng(3)
    arrays = {"x": rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), label_key: np.arange(n) % 10}
    arrays.update(override)
    np.savez(path, **arrays)


# --------------------------------------------------------------------------- import


def test_import_reads_no_data_files() -> None:
    code = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda ev, args: opened.append(str(args[0])) if ev == 'open' else None)\n"
        "import fne.evolution.dataset as d\n"
        "names = ('data_batch_1', 'test_batch', 'batches.meta')\n"
        "bad = [p for p in opened if p.endswith(('.npz', '.tar.gz')) or p.endswith(names)]\n"
        "print('BAD', bad)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(ds.__file__).parents[2]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert "BAD []" in out.stdout


# --------------------------------------------------------------------------- Split checks


def test_split_coerces_labels_to_int64() -> None:
    split = ds.Split(np.zeros((3, 32, 32, 3), np.uint8), np.array([1, 2, 3], np.uint8))
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
        ds.Split(images, np.asarray(labels), "bad")


def test_dataset_rejects_labels_beyond_its_classes() -> None:
    split = ds.Split(np.zeros((3, 32, 32, 3), np.uint8), np.array([0, 10, 1]), "bad")
    good = ds.Split(np.zeros((2, 32, 32, 3), np.uint8), np.array([0, 1]), "test")
    with pytest.raises(ValueError, match="split 'bad': label 10 at index 1 is outside 0..9"):
        ds.CIFAR10Data(split, good, ds.DataSource("npz", Path("x")), ds.CIFAR10_CLASSES)


def test_subset_and_class_counts() -> None:
    split = make_split(n_per_class=3)
    sub = split.subset([0, 3, 4])
    assert sub.labels.tolist() == [0, 1, 1]
    assert np.array_equal(sub.images[1], split.images[3])
    assert split.class_counts().tolist() == [3] * 10


# --------------------------------------------------------------------------- npz


def test_npz_split_with_y_and_y_first(tmp_path: Path) -> None:
    write_npz(tmp_path / "a.npz")
    write_npz(tmp_path / "b.npz", label_key="y_first", y_all10000=np.zeros(50, np.uint8))
    a, b = ds.load_npz_split(tmp_path / "a.npz"), ds.load_npz_split(tmp_path / "b.npz")
    assert a.images.shape == (20, 32, 32, 3) and a.images.dtype == np.uint8
    assert a.labels.dtype == np.int64 and b.labels.tolist() == (np.arange(20) % 10).tolist()


@pytest.mark.parametrize(
    "override, message",
    [
        ({"y": None}, "needs key 'x'"),
        ({"x": np.zeros((20, 3, 32, 32), np.uint8)}, r"\(N, 32, 32, 3\)"),
        ({"x": np.zeros((20, 32, 32, 3), np.float32)}, "uint8"),
        ({"y": np.full(20, 12)}, "label 12 at index 0"),
    ],
)
def test_npz_corrupt_contents(tmp_path: Path, override: dict, message: str) -> None:
    arrays = {k: v for k, v in override.items() if v is not None}
    if "y" in override and override["y"] is None:
        np.savez(tmp_path / "bad.npz", x=np.zeros((20, 32, 32, 3), np.uint8), z=np.zeros(20))
    else:
        write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message) as info:
        ds.load_npz_split(tmp_path / "bad.npz")
    assert "bad.npz" in str(info.value)


def test_npz_not_an_archive_and_missing(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="junk.npz"):
        ds.load_npz_split(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        ds.load_npz_split(tmp_path / "nope.npz")


# --------------------------------------------------------------------------- official folder


def test_official_folder_loader(tmp_path: Path) -> None:
    written = make_official_folder(tmp_path / ds.OFFICIAL_FOLDER)
    data = ds.load_official_folder(tmp_path / ds.OFFICIAL_FOLDER)
    assert data.train.images.shape == (50, 32, 32, 3) and data.test.images.shape == (10, 32, 32, 3)
    assert data.train.labels.dtype == np.int64 and data.source.kind == "official"
    assert np.array_equal(data.train.images[10:20], written["data_batch_2"][0])
    assert np.array_equal(data.test.labels, written["test_batch"][1])
    assert data.classes == ds.CIFAR10_CLASSES


@pytest.mark.parametrize("protocol, legacy_names", [(2, True), (2, False), (pickle.HIGHEST_PROTOCOL, False)])
def test_read_batch_pickle_variants(tmp_path: Path, protocol: int, legacy_names: bool) -> None:
    x = np.arange(4 * 3072, dtype=np.int64).reshape(4, 32, 32, 3).astype(np.uint8)
    write_batch(tmp_path / "b", x, [1, 2, 3, 4], protocol=protocol)
    if legacy_names:  # name numpy the way the original (numpy 1.x) archive does
        raw = (tmp_path / "b").read_bytes().replace(b"numpy._core.", b"numpy.core.")
        (tmp_path / "b").write_bytes(raw)
    split = ds.read_official_batch(tmp_path / "b")
    assert np.array_equal(split.images, x) and split.labels.tolist() == [1, 2, 3, 4]


def test_read_batch_rejects_foreign_globals_and_bad_data(tmp_path: Path) -> None:
    (tmp_path / "evil").write_bytes(pickle.dumps({b"data": io.BytesIO(), b"labels": []}))
    with pytest.raises(ValueError, match="not allowed"):
        ds.read_official_batch(tmp_path / "evil")
    short = {b"data": np.zeros((2, 100), np.uint8)}
    (tmp_path / "short").write_bytes(pickle.dumps(short, protocol=2))
    with pytest.raises(ValueError, match="labels"):
        ds.read_official_batch(tmp_path / "short")
    write_batch(tmp_path / "badlab", np.zeros((2, 32, 32, 3), np.uint8), [0, 11])
    with pytest.raises(ValueError, match="badlab.*label 11 at index 1"):
        ds.read_official_batch(tmp_path / "badlab")


def test_official_folder_missing_batch_is_named(tmp_path: Path) -> None:
    folder = tmp_path / ds.OFFICIAL_FOLDER
    make_official_folder(folder, n=2)
    (folder / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4"):
        ds.load_official_folder(folder)


# --------------------------------------------------------------------------- discovery


def test_locate_all_layouts(tmp_path: Path) -> None:
    make_official_folder(tmp_path / "a" / ds.OFFICIAL_FOLDER, n=2)
    make_official_folder(tmp_path / "b", n=2)
    for d, _sub in ((tmp_path / "c" / "cifar10", "c"), (tmp_path / "d", "d")):
        d.mkdir(parents=True)
        write_npz(d / "cifar10_train_x.npz")
        write_npz(d / "cifar10_test_x.npz")
    (tmp_path / "e").mkdir()
    official_a = tmp_path / "a" / ds.OFFICIAL_FOLDER
    assert ds.locate_cifar10(tmp_path / "a") == ds.DataSource("official", official_a)
    assert ds.locate_cifar10(tmp_path / "b") == ds.DataSource("official", tmp_path / "b")
    assert ds.locate_cifar10(tmp_path / "c") == ds.DataSource("npz", tmp_path / "c" / "cifar10")
    assert ds.locate_cifar10(tmp_path / "d") == ds.DataSource("npz", tmp_path / "d")
    assert ds.locate_cifar10(tmp_path / "e") is None
    data = ds.load_cifar10(tmp_path / "c")
    assert (len(data.train), len(data.test), data.source.kind) == (20, 20, "npz")


@pytest.mark.parametrize("exists", [True, False])
def test_missing_data_message(tmp_path: Path, exists: bool) -> None:
    target = tmp_path / "empty"
    if exists:
        target.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        ds.load_cifar10(target)
    text = str(info.value)
    for needle in (str(target), ds.OFFICIAL_FOLDER, "*train*.npz", "--data-dir", "--download"):
        assert needle in text


# --------------------------------------------------------------------------- tensors


def test_normalisation_constants_are_the_published_ones() -> None:
    assert ds.CIFAR10_MEAN == (0.4914, 0.4822, 0.4465)
    assert ds.CIFAR10_STD == (0.2470, 0.2435, 0.2616)


def test_to_tensor_layout_and_normalisation() -> None:
    images = np.zeros((2, 4, 5, 3), np.uint8)
    images[..., 0], images[..., 1], images[..., 2] = 255, 0, 128
    x = ds.to_tensor(images, "cpu")
    assert x.shape == (2, 3, 4, 5) and x.dtype == torch.float32
    stats = zip((255, 0, 128), ds.CIFAR10_MEAN, ds.CIFAR10_STD, strict=False)
    expected = [(v / 255 - m) / s for v, m, s in stats]
    assert torch.allclose(x[:, :, 1, 2], torch.tensor([expected, expected]), atol=1e-6)
    raw = ds.to_tensor(images, normalized=False)
    assert raw.min() == 0.0 and raw.max() == 1.0
    with pytest.raises(ValueError, match="uint8"):
        ds.to_tensor(images.astype(np.float32))


# --------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("make_gen", [lambda s: torch.Generator().manual_seed(s), np.random.default_rng])
def test_sample_batch_seeded(make_gen) -> None:
    split = make_split(n_per_class=20)
    x1, y1 = ds.sample_batch(split, 16, make_gen(5), "cpu")
    x2, y2 = ds.sample_batch(split, 16, make_gen(5), "cpu")
    x3, _ = ds.sample_batch(split, 16, make_gen(6), "cpu")
    assert x1.shape == (16, 3, 8, 8) and x1.dtype == torch.float32 and y1.dtype == torch.int64
    assert x1.device.type == "cpu"
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    ids = ds.sample_indices(split.labels, 16, make_gen(5))
    assert len(set(ids.tolist())) == 16


@pytest.mark.parametrize("batch, low, high", [(50, 5, 5), (53, 5, 6), (7, 0, 1)])
def test_sample_batch_balanced(batch: int, low: int, high: int) -> None:
    split = make_split(n_per_class=12)
    gen = torch.Generator().manual_seed(1)
    _, y = ds.sample_batch(split, batch, gen, balanced=True)
    counts = np.bincount(y.numpy(), minlength=10)
    assert counts.sum() == batch and counts.min() >= low and counts.max() <= high


def test_balanced_with_short_class_fills_from_others() -> None:
    labels = np.array([0] * 2 + [1] * 30 + [2] * 30)
    idx = ds.sample_indices(labels, 30, np.random.default_rng(0), balanced=True)
    assert len(set(idx.tolist())) == 30
    assert np.bincount(labels[idx], minlength=3).tolist() == [2, 14, 14]


def test_sample_batch_bad_arguments() -> None:
    split = make_split(n_per_class=1)
    with pytest.raises(ValueError, match="batch_size"):
        ds.sample_batch(split, 11, torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        ds.sample_batch(split, 2, 123)


def test_train_val_split_stratified_and_seeded() -> None:
    labels = np.repeat(np.arange(10), [10, 20, 30, 40, 10, 20, 30, 40, 10, 20])
    split = ds.Split(np.zeros((labels.size, 2, 2, 3), np.uint8), labels)
    train, val = ds.train_val_split(split, 0.5, np.random.default_rng(0))
    assert (len(train), len(val)) == (115, 115)
    assert np.array_equal(val.class_counts(), split.class_counts() // 2)
    train_b, val_b = ds.train_val_split(split, 0.5, np.random.default_rng(0))
    assert np.array_equal(val.labels, val_b.labels)
    _, val7 = ds.train_val_split(split, 7, torch.Generator().manual_seed(0))
    assert len(val7) == 7 and val7.class_counts().max() <= 2


def test_train_val_split_largest_remainder() -> None:
    labels = np.repeat([0, 1, 2], [10, 2, 8])  # shares of 7: 3.5, 0.7, 2.8
    split = ds.Split(np.zeros((20, 2, 2, 3), np.uint8), labels)
    _, val = ds.train_val_split(split, 7, np.random.default_rng(0))
    assert val.class_counts()[:3].tolist() == [3, 1, 3]


def test_train_val_split_disjoint_cover_and_errors() -> None:
    split = make_split(n_per_class=10)
    tags = lambda s: set(s.images[:, 0, 0, 0].tolist())  # noqa: E731
    train, val = ds.train_val_split(split, 0.3, np.random.default_rng(1))
    _, other = ds.train_val_split(split, 0.3, np.random.default_rng(2))
    assert tags(train) | tags(val) == tags(split) and not tags(train) & tags(val)
    assert np.array_equal(val.class_counts(), [3] * 10) and tags(val) != tags(other)
    for bad in (0, 100, 0.0, 1.0):
        with pytest.raises(ValueError, match="val_size"):
            ds.train_val_split(split, bad, np.random.default_rng(0))


# --------------------------------------------------------------------------- training batches


def test_iterate_minibatches_covers_epoch_once() -> None:
    split = make_split(n_per_class=5)
    std = torch.tensor(ds.CIFAR10_STD).view(1, 3, 1, 1)
    mean = torch.tensor(ds.CIFAR10_MEAN).view(1, 3, 1, 1)
    seen = []
    for x, y in ds.iterate_minibatches(split, 8, torch.Generator().manual_seed(0), drop_last=False):
        seen += ((x * std + mean)[:, 0, 0, 0] * 255).round().long().tolist()
        assert y.dtype == torch.int64 and x.shape[1:] == (3, 8, 8)
    assert sorted(seen) == list(range(50))
    batches = list(ds.iterate_minibatches(split, 8, torch.Generator().manual_seed(0)))
    assert len(batches) == 6
    again = list(ds.iterate_minibatches(split, 8, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again, strict=False))


def test_augment_batch_is_crop_and_flip() -> None:
    x = torch.rand(6, 3, 8, 8)
    gen = torch.Generator().manual_seed(3)
    assert torch.equal(ds.augment_batch(x, gen, padding=0, flip=False), x)
    flipped = ds.augment_batch(x, gen, padding=0)
    was_flipped = [torch.equal(flipped[n], x[n].flip(-1)) for n in range(6)]
    assert all(f or torch.equal(flipped[n], x[n]) for n, f in enumerate(was_flipped))
    assert 0 < sum(was_flipped) < 6
    out = ds.augment_batch(x, gen, padding=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for n in range(6):
        options = [padded[n, :, i : i + 8, j : j + 8] for i in range(5) for j in range(5)]
        options += [o.flip(-1) for o in options]
        assert any(torch.equal(out[n], o) for o in options)
    assert not torch.equal(out, x)
    gen = torch.Generator().manual_seed(0)
    aug = list(ds.iterate_minibatches(make_split(), 10, gen, augment=True))
    assert aug[0][0].shape == (10, 3, 8, 8)


# --------------------------------------------------------------------------- download


def test_download_offline_error(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(RuntimeError) as info:
        ds.load_cifar10(root, download=True, url="http://127.0.0.1:9/cifar-10-python.tar.gz", timeout=2.0)
    text = str(info.value)
    for needle in (str(root), ds.OFFICIAL_FOLDER, "--data-dir", "--download", "127.0.0.1:9"):
        assert needle in text
    assert list(root.iterdir()) == []


def test_download_fake_archive_verifies_and_extracts(tmp_path: Path) -> None:
    written = make_official_folder(tmp_path / "src" / ds.OFFICIAL_FOLDER, n=3)
    archive = tmp_path / "served.tar.gz"
    md5 = make_archive(archive, tmp_path / "src")
    root = tmp_path / "data"
    data = ds.load_cifar10(root, download=True, url=archive.as_uri(), md5=md5)
    assert data.source == ds.DataSource("official", root / ds.OFFICIAL_FOLDER)
    assert np.array_equal(data.test.images, written["test_batch"][0])
    assert sorted(p.name for p in root.iterdir()) == sorted([ds.ARCHIVE_NAME, ds.OFFICIAL_FOLDER])
    # a verified archive already present is reused without the network
    (root / ds.OFFICIAL_FOLDER).rename(tmp_path / "moved")
    folder = ds.download_cifar10(root, url="http://127.0.0.1:9/x.tar.gz", md5=md5, timeout=1.0)
    assert (folder / "data_batch_5").is_file()


def test_download_checksum_mismatch_leaves_nothing(tmp_path: Path) -> None:
    make_official_folder(tmp_path / "src" / ds.OFFICIAL_FOLDER, n=2)
    archive = tmp_path / "served.tar.gz"
    make_archive(archive, tmp_path / "src")
    root = tmp_path / "data"
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        ds.download_cifar10(root, url=archive.as_uri(), md5="0" * 32)
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
        ds.extract_archive(archive, dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "evil").exists()


# --------------------------------------------------------------------------- shared real data


@needs_shared
def test_shared_npz_layout() -> None:
    data = ds.load_cifar10(SHARED)
    assert data.source == ds.DataSource("npz", SHARED_NPZ)
    assert data.train.images.shape == (5000, 32, 32, 3) and data.train.images.dtype == np.uint8
    assert data.test.images.shape == (10000, 32, 32, 3) and data.test.labels.dtype == np.int64
    assert data.train.class_counts().tolist() == [500] * 10
    lossless = ds.load_cifar10(SHARED_NPZ, test_file="cifar10_test_846_lossless.npz").test
    assert len(lossless) == 846
    assert np.array_equal(lossless.labels, data.test.labels[:846])


@needs_shared
def test_shared_normalised_stats_and_balanced_batch() -> None:
    split = ds.load_npz_split(SHARED_NPZ / "cifar10_train_5k_jpegq75.npz")
    x, _ = ds.split_tensors(split)
    mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    assert mean.abs().max() < 0.02 and (std - 1).abs().max() < 0.02
    _, y = ds.sample_batch(split, 100, torch.Generator().manual_seed(0), balanced=True)
    assert torch.bincount(y, minlength=10).tolist() == [10] * 10


# --------------------------------------------------------------------------- unreadable data


def _assert_clear(err: pytest.ExceptionInfo, path: Path, *needles: str) -> None:
    text = str(err.value)
    assert str(path) in text, text
    assert "allow_pickle" not in text and "pickle.load" not in text, text
    for needle in needles:
        assert needle in text, (needle, text)


def test_random_bytes_npz_is_named_not_a_npz_archive(tmp_path: Path) -> None:
    path = tmp_path / "x_train.npz"
    path.write_bytes(os.urandom(1000))
    with pytest.raises(ValueError) as info:
        ds.load_npz_split(path)
    _assert_clear(info, path, "not a .npz archive (a zip of .npy arrays)", "numpy.savez", "re-download")
    np.save(tmp_path / "plain.npy", np.zeros((2, 32, 32, 3), np.uint8))  # an .npy, not an .npz
    (tmp_path / "plain.npy").rename(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="not a .npz archive"):
        ds.load_npz_split(tmp_path / "plain.npz")


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
        ds.load_npz_split(path)
    _assert_clear(info, path, needle, "numpy.savez")


def test_damaged_official_batch_gives_a_clear_error(tmp_path: Path) -> None:
    write_batch(tmp_path / "codec", np.zeros((2, 32, 32, 3), np.uint8), [0, 1])
    (tmp_path / "codec").write_bytes((tmp_path / "codec").read_bytes().replace(b"latin1", b"lrtin1"))
    (tmp_path / "huge").write_bytes(b"\x80\x05\x96" + (2**64 - 1).to_bytes(8, "little"))
    (tmp_path / "random").write_bytes(os.urandom(300))
    ragged = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, [1, 2]]}
    (tmp_path / "ragged").write_bytes(pickle.dumps(ragged, protocol=2))
    for name in ("codec", "huge", "random", "ragged"):
        with pytest.raises(ValueError) as info:
            ds.read_official_batch(tmp_path / name)
        _assert_clear(info, tmp_path / name, "--download")


# --------------------------------------------------------------------------- too few images


def test_batch_larger_than_the_split_says_too_few_images(tmp_path: Path) -> None:
    path = tmp_path / "cifar10_train_tiny.npz"
    write_npz(path, n=6)
    split = ds.load_npz_split(path, "train")
    assert split.source == path
    with pytest.raises(ValueError) as info:
        ds.sample_batch(split, 64, torch.Generator().manual_seed(0), balanced=True)
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
    search_train, _ = ds.train_val_split(split, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="too few images: split 'train-train' .* has 4 images"):
        ds.sample_batch(search_train, 64, torch.Generator())
    with pytest.raises(ValueError, match=f"too few images: split 'train' \\(read from {path}\\)"):
        next(ds.iterate_minibatches(split, 7, torch.Generator()))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_batch_size_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        ds.sample_batch(make_split(n_per_class=1), bad, torch.Generator())  # type: ignore[arg-type]


def test_split_source_is_kept_by_subsets_and_official_folders(tmp_path: Path) -> None:
    assert make_split().source is None and "split 'synthetic'" == make_split().describe()
    make_official_folder(tmp_path / ds.OFFICIAL_FOLDER, n=2)
    data = ds.load_official_folder(tmp_path / ds.OFFICIAL_FOLDER)
    assert data.train.source == tmp_path / ds.OFFICIAL_FOLDER
    assert data.test.source == tmp_path / ds.OFFICIAL_FOLDER / ds.TEST_BATCH
    assert data.train.subset([0, 1]).source == data.train.source
    assert str(data.test.source) in data.test.describe()
