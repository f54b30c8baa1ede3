"""Tests of fne.data: every layout (CIFAR-10/100 archives, npz, image folders), detection,
statistics, downloads without the network, and clear errors."""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fne import data as fd
from fne.data.transforms import default_padding

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FASHION = SHARED / "fashion_mnist"
CIFAR10_NPZ = SHARED / "cifar10"


# --------------------------------------------------------------------------- helpers


def rng_images(n: int, h: int, w: int, c: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, c), dtype=np.uint8)


def write_cifar100(folder: Path, n_train: int = 30, n_test: int = 10, seed: int = 2) -> dict[str, tuple]:
    """A tiny official-format cifar-100-python folder; returns the written arrays."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        fine, coarse = rng.integers(0, 100, size=n), rng.integers(0, 20, size=n)
        payload = {
            b"filenames": [b"f%d.png" % i for i in range(n)],
            b"batch_label": name.encode(),
            b"fine_labels": fine.tolist(),
            b"coarse_labels": coarse.tolist(),
            b"data": x.transpose(0, 3, 1, 2).reshape(n, -1),
        }
        (folder / name).write_bytes(pickle.dumps(payload, protocol=2))
        written[name] = (x, fine)
    meta = {
        b"fine_label_names": [b"fine%02d" % k for k in range(100)],
        b"coarse_label_names": [b"coarse%02d" % k for k in range(20)],
    }
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return written


def write_cifar10(folder: Path, n: int = 4, seed: int = 1) -> dict[str, tuple]:
    """A tiny official-format cifar-10-batches-py folder."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name in fd.CIFAR10.train_files + (fd.CIFAR10.test_file,):
        x, y = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=n)
        payload = {b"data": x.transpose(0, 3, 1, 2).reshape(n, -1), b"labels": y.tolist()}
        (folder / name).write_bytes(pickle.dumps(payload, protocol=2))
        written[name] = (x, y)
    return written


def tar_folder(archive: Path, folder: Path) -> str:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return hashlib.md5(archive.read_bytes()).hexdigest()


def write_png_folder(root: Path, split: str, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> None:
    """``root/split/<class>/<index>.png`` for each image (grayscale when C == 1)."""
    for i, (img, label) in enumerate(zip(images, labels, strict=False)):
        folder = root / split / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0] if img.shape[2] == 1 else img).save(folder / f"{i:05d}.png")


def folder_name(cls: str) -> str:
    return cls.replace("/", "-")


# --------------------------------------------------------------------------- Fashion-MNIST


def _fashion_subset(path: Path, per_class: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    with np.load(path, allow_pickle=False) as npz:
        x, y, classes = npz["x"], npz["y"], tuple(npz["classes"].tolist())
    idx = np.concatenate([np.flatnonzero(y == k)[:per_class] for k in range(len(classes))])
    return x[idx], y[idx], classes


@pytest.mark.skipif(
    not (FASHION / "fashion_mnist_train_10k.npz").is_file(),
    reason=f"shared Fashion-MNIST npz files not found in {FASHION}",
)
def test_fashion_mnist_npz_and_image_folder_agree(tmp_path: Path) -> None:
    whole = fd.load_dataset(FASHION)
    assert (whole.source, whole.channels, whole.image_size) == (fd.DataSource("npz", FASHION), 1, (28, 28))
    assert whole.classes[0] == "T-shirt/top" and whole.num_classes == 10
    assert fd.dataset_network_kwargs(whole) == {"in_channels": 1, "num_classes": 10}
    assert whole.mean == fd.channel_stats(whole.train.images)[0]

    parts = {
        "train": _fashion_subset(FASHION / "fashion_mnist_train_10k.npz", 20),
        "test": _fashion_subset(FASHION / "fashion_mnist_test_10k.npz", 5),
    }
    names = tuple(folder_name(c) for c in parts["train"][2])
    npz_dir, img_dir = tmp_path / "npz", tmp_path / "images"
    npz_dir.mkdir()
    for split, (x, y, classes) in parts.items():
        np.savez(npz_dir / f"fmnist_{split}.npz", x=x, y=y, classes=np.array(classes))
        write_png_folder(img_dir, split, x, y, names)
    from_npz, from_png = fd.load_dataset(npz_dir), fd.load_dataset(img_dir)
    assert from_png.source == fd.DataSource("folder", img_dir)
    assert from_png.classes == tuple(sorted(names))
    assert (from_png.channels, from_png.image_size, len(from_png.train), len(from_png.test)) == (1, (28, 28), 200, 50)
    for a, b in ((from_npz.train, from_png.train), (from_npz.test, from_png.test)):
        named_a = [folder_name(from_npz.classes[k]) for k in a.labels]
        named_b = [from_png.classes[k] for k in b.labels]
        order = np.argsort(named_a, kind="stable")  # the folder reads class by class, in file order
        assert [named_a[i] for i in order] == named_b
        assert np.array_equal(a.images[order], b.images)
        xa, _ = fd.split_tensors(a.subset(order))
        xb, _ = fd.split_tensors(b)
        assert xa.shape == (len(b), 1, 28, 28) and torch.equal(xa, xb)
    assert from_npz.mean == from_png.mean and from_npz.std == from_png.std
    assert from_png.mean == fd.channel_stats(parts["train"][0])[0] != whole.mean


# --------------------------------------------------------------------------- CIFAR archives


@pytest.mark.parametrize("nested", [True, False])
def test_cifar100_official_layout(tmp_path: Path, nested: bool) -> None:
    folder = tmp_path / "cifar-100-python" if nested else tmp_path / "c100"
    written = write_cifar100(folder)
    root = tmp_path if nested else folder
    data = fd.load_dataset(root)
    assert data.source == fd.DataSource("cifar100", folder) and data.name == "cifar100"
    assert data.num_classes == 100 and data.classes[7] == "fine07"
    assert np.array_equal(data.train.images, written["train"][0])
    assert np.array_equal(data.test.labels, written["test"][1])
    assert (data.mean, data.std) == ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
    assert data.test.mean == data.mean and data.train.subset([0, 1]).std == data.std
    assert fd.load_dataset(root, "cifar100").source == data.source


def test_cifar100_meta_and_labels_are_checked(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    write_cifar100(folder)
    (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": [b"a"] * 3}, protocol=2))
    with pytest.raises(ValueError, match=r"meta: b'fine_label_names' must list 100 class names"):
        fd.load_dataset(tmp_path)
    payload = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}  # CIFAR-10 keys
    (folder / "test").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ValueError, match=r"test: missing key\(s\) \['fine_labels'\]"):
        fd.read_cifar_batch(folder / "test", fd.CIFAR100)


def test_cifar10_official_layout(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    written = write_cifar10(folder)
    data = fd.load_dataset(tmp_path)
    assert data.source == fd.DataSource("cifar10", folder) and data.classes == fd.CIFAR10_CLASSES
    assert np.array_equal(data.train.images[4:8], written["data_batch_2"][0])
    assert (data.mean, data.std) == (fd.CIFAR10_MEAN, fd.CIFAR10_STD)
    assert fd.dataset_network_kwargs(data) == {"in_channels": 3, "num_classes": 10}


@pytest.mark.skipif(
    not (CIFAR10_NPZ / "cifar10_train_5k_jpegq75.npz").is_file(),
    reason=f"shared CIFAR-10 npz files not found in {CIFAR10_NPZ}",
)
def test_shared_cifar10_npz_uses_the_published_statistics() -> None:
    for data in (fd.load_dataset(SHARED), fd.load_dataset(SHARED, "cifar10"), fd.load_dataset(SHARED, "npz")):
        assert data.source == fd.DataSource("npz", CIFAR10_NPZ) and data.name == "cifar10"
        assert (data.mean, data.std, data.classes) == (fd.CIFAR10_MEAN, fd.CIFAR10_STD, fd.CIFAR10_CLASSES)
        assert (len(data.train), len(data.test)) == (5000, 10000)


# --------------------------------------------------------------------------- npz files


def test_grayscale_npz_becomes_one_channel(tmp_path: Path) -> None:
    x = rng_images(24, 12, 10, 1)[..., 0]
    np.savez(tmp_path / "gray_train.npz", x=x, y=np.arange(24) % 4)
    np.savez(tmp_path / "gray_test.npz", x=x[:8], y_first=np.arange(8) % 4)
    data = fd.load_dataset(tmp_path)
    assert data.source == fd.DataSource("npz", tmp_path) and data.name == tmp_path.name
    assert data.train.images.shape == (24, 12, 10, 1) and data.image_size == (12, 10)
    assert data.classes == ("0", "1", "2", "3") and data.channels == 1
    expected = x.astype(np.float64) / 255
    assert np.allclose(data.mean, [expected.mean()], atol=1e-12)
    assert np.allclose(data.std, [expected.std()], atol=1e-12)
    xb, yb = fd.sample_batch(data.train, 8, torch.Generator().manual_seed(0), balanced=True)
    assert xb.shape == (8, 1, 12, 10) and torch.bincount(yb).tolist() == [2, 2, 2, 2]
    whole, _ = fd.split_tensors(data.train)
    assert abs(float(whole.mean())) < 1e-5 and abs(float(whole.std(unbiased=False)) - 1) < 1e-5


def test_rgb_npz_with_other_size_and_class_names(tmp_path: Path) -> None:
    x = rng_images(30, 40, 40, 3, seed=4)
    classes = np.array(["cat", "dog", "emu"])
    np.savez(tmp_path / "pets_train.npz", x=x, y=np.arange(30) % 3, classes=classes)
    np.savez(tmp_path / "pets_test.npz", x=x[:6], y=np.arange(6) % 3, classes=classes.astype("S"))
    data = fd.load_dataset(tmp_path, "npz")
    assert data.classes == ("cat", "dog", "emu") and data.num_classes == 3
    assert (data.channels, data.image_size) == (3, (40, 40))
    assert data.mean == fd.channel_stats(x)[0] != fd.CIFAR10_MEAN
    assert fd.dataset_network_kwargs(data) == {"in_channels": 3, "num_classes": 3}
    assert "3 classes" in data.describe() and "40x40" in data.describe()
    gen = torch.Generator().manual_seed(0)
    xb, _ = next(fd.iterate_minibatches(data.train, 10, gen, augment=True))
    assert xb.shape == (10, 3, 40, 40)


def test_npz_classes_key_is_checked(tmp_path: Path) -> None:
    x = rng_images(6, 8, 8, 1)
    np.savez(tmp_path / "a_train.npz", x=x, y=[0, 1, 2, 0, 1, 2], classes=np.array(["a", "b"]))
    np.savez(tmp_path / "a_test.npz", x=x, y=[0, 1, 0, 1, 0, 1], classes=np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"a_train.npz\): label 2 at index 2 is outside 0..1"):
        fd.load_dataset(tmp_path)
    np.savez(tmp_path / "a_train.npz", x=x, y=[0, 1, 0, 1, 0, 1], classes=np.array(["a", "c"]))
    with pytest.raises(ValueError, match="'classes' of .*a_train.npz .* differ"):
        fd.load_dataset(tmp_path)
    np.savez(tmp_path / "a_train.npz", x=x, y=[0, 1, 0, 1, 0, 1], classes=np.array([[1, 2]]))
    with pytest.raises(ValueError, match="a_train.npz: 'classes' must be a 1-D array of class names"):
        fd.load_dataset(tmp_path)


def test_npz_named_cifar10_with_other_contents_is_generic(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "cifar10"
    folder.mkdir()
    for split in ("train", "test"):
        np.savez(folder / f"cifar10_{split}.npz", x=rng_images(10, 28, 28, 3), y=np.arange(10))
    data = fd.load_dataset(tmp_path)
    assert data.classes == tuple(str(k) for k in range(10)) and data.mean != fd.CIFAR10_MEAN
    assert data.mean == fd.channel_stats(data.train.images)[0] and "named like CIFAR-10" in caplog.text
    with pytest.raises(ValueError, match=r"cifar10_train.npz: not CIFAR-10: 'x' must be uint8 \(N, 32, 32, 3\)"):
        fd.load_dataset(tmp_path, "cifar10")
    np.savez(tmp_path / "plain_train.npz", x=rng_images(10, 32, 32, 3), y=np.arange(10))
    np.savez(tmp_path / "plain_test.npz", x=rng_images(10, 32, 32, 3), y=np.arange(10))
    plain = fd.load_npz_folder(tmp_path)
    assert plain.mean != fd.CIFAR10_MEAN and plain.name == tmp_path.name
    assert fd.load_npz_folder(tmp_path, cifar10=True).mean == fd.CIFAR10_MEAN


def test_npz_channels_first_is_named(tmp_path: Path) -> None:
    np.savez(tmp_path / "x_train.npz", x=np.zeros((4, 3, 16, 16), np.uint8), y=np.arange(4))
    with pytest.raises(ValueError, match=r"x_train.npz: .*looks channels-first"):
        fd.load_npz_split(tmp_path / "x_train.npz")


# --------------------------------------------------------------------------- image folders


def test_image_folder_grayscale_and_mixed_modes(tmp_path: Path) -> None:
    x = rng_images(8, 6, 9, 1, seed=5)
    write_png_folder(tmp_path, "train", x, np.arange(8) % 2, ("b", "a"))
    write_png_folder(tmp_path, "test", x[:2], np.array([0, 0]), ("b", "a"))
    gray = fd.load_dataset(tmp_path)
    assert gray.classes == ("a", "b") and gray.channels == 1 and gray.image_size == (6, 9)
    assert np.array_equal(gray.train.images, x[np.r_[1:8:2, 0:8:2]])  # class "a" first, file order
    assert gray.train.labels.tolist() == [0] * 4 + [1] * 4 and gray.test.labels.tolist() == [1, 1]
    rgb = rng_images(1, 6, 9, 3, seed=6)[0]
    Image.fromarray(rgb).save(tmp_path / "test" / "b" / "zz.jpg", quality=100)
    Image.fromarray(rgb).save(tmp_path / "train" / "a" / "zz.bmp")
    mixed = fd.load_dataset(tmp_path, "folder")
    assert mixed.channels == 3 and np.array_equal(mixed.train.images[4], rgb)
    assert np.array_equal(mixed.train.images[0], np.repeat(x[1], 3, axis=2))


def test_image_folder_errors_name_the_file_or_folder(tmp_path: Path) -> None:
    write_png_folder(tmp_path, "train", rng_images(4, 8, 8, 3), np.array([0, 1, 0, 1]), ("a", "b"))
    write_png_folder(tmp_path, "test", rng_images(2, 8, 8, 3), np.array([0, 1]), ("a", "b"))
    odd = tmp_path / "test" / "b" / "odd.png"
    Image.fromarray(rng_images(1, 10, 12, 3)[0]).save(odd)
    with pytest.raises(ValueError) as info:
        fd.load_dataset(tmp_path)
    text = str(info.value)
    assert "one size" in text and str(odd) in text and "12x10" in text
    assert str(tmp_path / "train" / "a" / "00000.png") in text and "8x8" in text
    odd.write_bytes(b"definitely not a png")
    with pytest.raises(ValueError, match=re.escape(f"{odd}: not an image Pillow can read")):
        fd.load_dataset(tmp_path)
    odd.unlink()
    zebra = tmp_path / "test" / "zebra"
    zebra.mkdir()
    Image.fromarray(rng_images(1, 8, 8, 3)[0]).save(zebra / "z.png")
    with pytest.raises(ValueError, match=re.escape(f"class folder {zebra} is not a class of the train")):
        fd.load_dataset(tmp_path)
    (zebra / "z.png").rename(tmp_path / "train" / "a" / "notes.txt")
    zebra.rmdir()
    assert len(fd.load_dataset(tmp_path).train) == 4  # other file types are skipped
    (tmp_path / "train" / "c").mkdir()
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'train' / 'c'} holds no image files")):
        fd.load_dataset(tmp_path)


def test_image_folder_without_test_is_named(tmp_path: Path) -> None:
    write_png_folder(tmp_path, "train", rng_images(2, 8, 8, 3), np.array([0, 1]), ("a", "b"))
    with pytest.raises(FileNotFoundError, match=re.escape(f"image folder {tmp_path / 'test'} does not exist")):
        fd.load_dataset(tmp_path)


# --------------------------------------------------------------------------- detection & errors


def test_detection_of_each_kind(tmp_path: Path) -> None:
    write_cifar10(tmp_path / "a" / "cifar-10-batches-py")
    write_cifar100(tmp_path / "b" / "cifar-100-python")
    for sub in ("c/cifar10", "d"):
        (tmp_path / sub).mkdir(parents=True)
        np.savez(tmp_path / sub / "s_train.npz", x=rng_images(2, 8, 8, 1), y=[0, 1])
        np.savez(tmp_path / sub / "s_test.npz", x=rng_images(2, 8, 8, 1), y=[0, 1])
    write_png_folder(tmp_path / "e", "train", rng_images(2, 8, 8, 3), np.array([0, 1]), ("a", "b"))
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "train").write_bytes(b"a file named train is not CIFAR-100")
    expected = {
        "a": ("cifar10", "a/cifar-10-batches-py"),
        "b": ("cifar100", "b/cifar-100-python"),
        "c": ("npz", "c/cifar10"),
        "d": ("npz", "d"),
        "e": ("folder", "e"),
    }
    for sub, (kind, path) in expected.items():
        assert fd.locate_dataset(tmp_path / sub) == fd.DataSource(kind, tmp_path / path)
        assert fd.locate_dataset(tmp_path / sub, kind) == fd.DataSource(kind, tmp_path / path)
    assert fd.locate_dataset(tmp_path / "f") is None and fd.locate_dataset(tmp_path / "e", "npz") is None
    assert fd.locate_dataset(tmp_path / "c", "cifar10") == fd.DataSource("npz", tmp_path / "c" / "cifar10")


def test_unknown_kind_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset kind 'mnist'; choose one of cifar10, cifar100, npz, folder"):
        fd.load_dataset(tmp_path, "mnist")
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        fd.load_dataset(missing)
    for needle in (
        f"data directory {missing} does not exist",
        "cifar-10-batches-py",
        "cifar-100-python",
        "*train*.npz",
        "train/<class>/",
        "--data-dir",
    ):
        assert needle in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"CIFAR-100 not found in {tmp_path / 'empty'}") + ".*--download"
    ):
        fd.load_dataset(tmp_path / "empty", "cifar100")
    with pytest.raises(
        ValueError, match=r"download is available for the kinds cifar10, cifar100 only \(not 'folder'\)"
    ):
        fd.load_dataset(tmp_path / "empty", "folder", download=True)
    with pytest.raises(ValueError, match=r"only \(no kind was given\)"):
        fd.load_dataset(tmp_path / "empty", download=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        fd.load_dataset(tmp_path / "file")


def test_dataset_checks_shapes_and_labels() -> None:
    src = fd.DataSource("npz", Path("/nowhere"))
    train = fd.Split(rng_images(4, 8, 8, 1), np.array([0, 1, 0, 1]), "train")
    with pytest.raises(ValueError, match=r"train and test images differ.*\(8, 8, 1\).*\(8, 6, 1\)"):
        fd.Dataset(train, fd.Split(rng_images(2, 8, 6, 1), np.array([0, 1]), "test"), src)
    with pytest.raises(ValueError, match="split 'test': label 3 at index 1 is outside 0..1"):
        fd.Dataset(train, fd.Split(rng_images(2, 8, 8, 1), np.array([0, 3]), "test"), src, ("x", "y"))
    test = fd.Split(rng_images(2, 8, 8, 1, seed=9), np.array([1, 1]), "test")
    data = fd.Dataset(train, test, src, ("x", "y"))
    assert data.test.mean == data.train.mean == data.mean == fd.channel_stats(train.images)[0]
    assert data.name == "nowhere"
    with pytest.raises(ValueError, match="one value per channel"):
        fd.Split(rng_images(2, 8, 8, 1), np.array([0, 1]), mean=(0.5, 0.5), std=(0.2, 0.2))


def test_channel_stats_are_exact_and_order_free() -> None:
    x = rng_images(50, 7, 5, 2, seed=3)
    mean, std = fd.channel_stats(x)
    ref = x.astype(np.float64) / 255
    assert np.allclose(mean, ref.mean(axis=(0, 1, 2)), atol=1e-12)
    assert np.allclose(std, ref.std(axis=(0, 1, 2)), atol=1e-12)
    assert fd.channel_stats(x[::-1]) == (mean, std)
    assert fd.channel_stats(np.full((2, 3, 3, 1), 7, np.uint8))[1] == (1.0,)
    with pytest.raises(ValueError, match="at least one image"):
        fd.channel_stats(x[:0])


def test_augment_padding_scales_with_size() -> None:
    assert [default_padding(h) for h in (32, 28, 40, 8, 4)] == [4, 3, 5, 1, 1]
    x = torch.rand(40, 1, 16, 16)
    out = fd.augment_batch(x, torch.Generator().manual_seed(0), flip=False)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    crops = {(i, j) for i in range(5) for j in range(5)}
    found = {
        next(o for o in crops if torch.equal(out[n], padded[n, :, o[0] : o[0] + 16, o[1] : o[1] + 16]))
        for n in range(40)
    }
    assert {0, 4} & {i for i, _ in found}  # the 2-pixel offsets of a 16-pixel image are used


# --------------------------------------------------------------------------- download


class _FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager; can fail after ``fail_after`` bytes."""

    def __init__(self, payload: bytes, fail_after: int = -1) -> None:
        super().__init__(payload)
        self.fail_after = fail_after

    def read(self, size: int = -1) -> bytes:
        if 0 <= self.fail_after <= self.tell():
            raise TimeoutError("timed out")
        return super().read(size if self.fail_after < 0 else min(size, self.fail_after - self.tell()))


def test_download_offline_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    calls = []

    def offline(url, timeout=None):
        calls.append((url, timeout))
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = tmp_path / "data"
    with pytest.raises(RuntimeError) as info:
        fd.load_dataset(root, "cifar100", download=True, timeout=3.0)
    text = str(info.value)
    for needle in (
        "could not download CIFAR-100",
        fd.CIFAR100.url,
        str(root),
        "Network is unreachable",
        "cifar-100-python",
        "--data-dir",
        "--download",
    ):
        assert needle in text, (needle, text)
    assert calls == [(fd.CIFAR100.url, 3.0)] and list(root.iterdir()) == []


def test_download_from_unreachable_local_address(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="could not download CIFAR-10 from http://127.0.0.1:9/"):
        fd.download_cifar(tmp_path, fd.CIFAR10, url="http://127.0.0.1:9/c.tar.gz", timeout=2.0)
    assert list(tmp_path.iterdir()) == []


def test_download_cut_off_midway_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout=None: _FakeResponse(b"x" * 5000, fail_after=1000)
    )
    with pytest.raises(RuntimeError, match="timed out"):
        fd.fetch_file("https://example.invalid/a.tar.gz", tmp_path / "a.tar.gz", "0" * 32, timeout=1.0)
    assert list(tmp_path.iterdir()) == []


def test_download_checksum_mismatch_is_discarded(tmp_path: Path, monkeypatch) -> None:
    write_cifar100(tmp_path / "src" / "cifar-100-python")
    archive = tmp_path / "served.tar.gz"
    md5 = tar_folder(archive, tmp_path / "src" / "cifar-100-python")
    payload = archive.read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _FakeResponse(payload))
    root = tmp_path / "data"
    with pytest.raises(
        RuntimeError,
        match=f"checksum mismatch for CIFAR-100 .*md5 {md5}, expected {fd.CIFAR100.md5}; the download was discarded",
    ):
        fd.load_dataset(root, "cifar100", download=True)
    assert list(root.iterdir()) == []
    folder = fd.download_cifar(root, fd.CIFAR100, url="https://example.invalid/c.tar.gz", md5=md5)
    assert folder == root / "cifar-100-python"
    assert sorted(p.name for p in root.iterdir()) == ["cifar-100-python", "cifar-100-python.tar.gz"]
    assert fd.load_dataset(root, "cifar100").num_classes == 100


def test_minibatches_crop_without_flip() -> None:
    split = fd.Split(rng_images(12, 8, 8, 1, seed=8), np.arange(12) % 3, "gray")
    gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    x, _ = next(fd.iterate_minibatches(split, 12, gen_a, shuffle=False, augment=True, flip=False))
    raw = fd.to_tensor(split.images)
    expected = fd.normalize(fd.augment_batch(raw, gen_b, flip=False), split.mean, split.std)
    assert x.shape == (12, 1, 8, 8) and torch.equal(x, expected)
    padded = torch.nn.functional.pad(raw, (1, 1, 1, 1))
    for n in range(12):
        crops = [padded[n, :, i : i + 8, j : j + 8] for i in range(3) for j in range(3)]
        assert any(torch.equal(fd.normalize(c[None], split.mean, split.std)[0], x[n]) for c in crops)


def test_minibatches_flip_without_crop() -> None:
    split = fd.Split(rng_images(12, 8, 8, 1, seed=9), np.arange(12) % 3, "gray")
    x, _ = next(fd.iterate_minibatches(split, 12, torch.Generator().manual_seed(2), shuffle=False, crop=False))
    plain = fd.normalize(fd.to_tensor(split.images), split.mean, split.std)
    assert torch.equal(x, plain)  # without augment nothing changes
    x, _ = next(
        fd.iterate_minibatches(split, 12, torch.Generator().manual_seed(2), shuffle=False, augment=True, crop=False)
    )
    mirrored = [torch.equal(x[n], plain[n].flip(-1)) for n in range(12)]
    assert all(m or torch.equal(x[n], plain[n]) for n, m in enumerate(mirrored))
    assert 0 < sum(mirrored) < 12
