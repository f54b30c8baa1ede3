"""CIFAR-10 loading, batching and (on request) downloading.

Two on-disk layouts are read:

* the official python archive folder ``cifar-10-batches-py`` (pickled ``data_batch_1`` ..
  ``data_batch_5``, ``test_batch`` and ``batches.meta``), and
* ``.npz`` files holding ``x`` (uint8, ``N x 32 x 32 x 3``) and ``y`` (or ``y_first``), named
  ``*train*.npz`` and ``*test*.npz``, e.g. ``<data-dir>/cifar10/cifar10_train_5k_jpegq75.npz``.

Images stay uint8 NHWC in numpy (:class:`Split`) until a batch is asked for; batches come back
as normalised float NCHW tensors on the requested device::

    data = load_cifar10("../shared/data")
    x, y = sample_batch(data.train, 64, torch.Generator().manual_seed(0), "cpu", balanced=True)

Nothing is read at import time, and the network is only used by :func:`download_cifar10`
(or ``load_cifar10(..., download=True)``).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import pickle
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
OFFICIAL_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
NUM_CLASSES = 10
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
NPZ_SUBDIR = "cifar10"
PREFERRED_TRAIN_NPZ = ("cifar10_train_5k_jpegq75.npz",)
PREFERRED_TEST_NPZ = ("cifar10_test_10k_jpegq75.npz", "cifar10_test_846_lossless.npz")
NPZ_LABEL_KEYS = ("y", "y_first")

Device = Union[str, torch.device]
RandomSource = Union[torch.Generator, np.random.Generator]


# --------------------------------------------------------------------------- containers


@dataclass(frozen=True)
class Split:
    """Images and labels of one split.

    Attributes:
        images: uint8 array ``(N, H, W, 3)`` (NHWC).
        labels: int64 array ``(N,)`` with values in ``0 .. NUM_CLASSES - 1``.
        name: A label for messages, e.g. ``"train"``.
        source: The file (or folder) the images were read from, named in messages; None
            for images made in memory.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str = "split"
    source: Optional[Path] = None

    def __post_init__(self) -> None:
        labels = check_split_arrays(self.images, self.labels, self.name)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: Sequence[int], name: Optional[str] = None) -> "Split":
        """Return the split restricted to ``indices`` (in the given order), from the same source."""
        idx = np.asarray(indices, dtype=np.int64)
        return Split(self.images[idx], self.labels[idx], name or self.name, self.source)

    def describe(self) -> str:
        """The split for messages: ``split 'train' (read from /data/train.npz)``."""
        where = f" (read from {self.source})" if self.source is not None else ""
        return f"split {self.name!r}{where}"

    def class_counts(self) -> np.ndarray:
        """Number of images per class, shape ``(NUM_CLASSES,)``."""
        return np.bincount(self.labels, minlength=NUM_CLASSES)


@dataclass(frozen=True)
class DataSource:
    """Where CIFAR-10 was found: ``kind`` is ``"official"`` or ``"npz"``; ``path`` its folder."""

    kind: str
    path: Path


@dataclass(frozen=True)
class CIFAR10Data:
    """Train and test splits with the place they were read from."""

    train: Split
    test: Split
    source: DataSource
    classes: Tuple[str, ...] = field(default=CIFAR10_CLASSES)


def check_split_arrays(images: np.ndarray, labels: np.ndarray, name: str = "split") -> np.ndarray:
    """Check an image/label pair and return the labels as int64.

    Raises:
        ValueError: images not uint8 ``(N, H, W, 3)``, labels not 1-D integers of length N,
            or a label outside ``0 .. NUM_CLASSES - 1`` (the first one is named with its index).
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ValueError(f"{name}: images must be a uint8 numpy array, got "
                         f"{getattr(images, 'dtype', type(images).__name__)}")
    if images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"{name}: images must have shape (N, H, W, 3) (NHWC), got {images.shape}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{name}: labels must have shape ({images.shape[0]},), got {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: labels must be integers, got dtype {labels.dtype}")
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        raise ValueError(f"{name}: label {labels[bad[0]]} at index {bad[0]} is outside "
                         f"0..{NUM_CLASSES - 1} ({bad.size} bad labels)")
    return labels.astype(np.int64)


# --------------------------------------------------------------------------- official folder


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that only builds the numpy arrays and bytes found in CIFAR-10 batches."""

    _ALLOWED = {
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        if module.startswith("numpy.core."):
            try:
                return super().find_class("numpy._core." + module[len("numpy.core."):], name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


_REDOWNLOAD = ("replace it with the file from the official archive (delete the folder and run "
               "again with --download, or re-extract cifar-10-python.tar.gz)")

# What a damaged pickle raises: bad opcodes or lengths (a huge length is a MemoryError or an
# OverflowError before anything is allocated), wrong argument types, unknown codec names, and
# numpy's SystemError / RuntimeError for an array or dtype rebuilt from a damaged state.
_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                  LookupError, OverflowError, MemoryError, SystemError, RuntimeError)


def _unpickle(path: Path) -> dict:
    """Read one pickled batch file into a dict with bytes keys."""
    try:
        with open(path, "rb") as fh:
            obj = _BatchUnpickler(fh, encoding="bytes").load()
    except _PICKLE_ERRORS as err:
        reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise ValueError(f"{path}: not a readable CIFAR-10 batch file ({reason}); "
                         f"{_REDOWNLOAD}") from err
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}; {_REDOWNLOAD}")
    return obj


def read_official_batch(path: Union[str, Path], name: Optional[str] = None) -> Split:
    """Read one official batch file (``b'data'`` N x 3072 uint8 CHW, ``b'labels'``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a key is missing or has the wrong shape/dtype, or a label is out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch file {path} does not exist")
    batch = _unpickle(path)
    missing = [k.decode() for k in (b"data", b"labels") if k not in batch]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}; found {sorted(map(repr, batch))}; "
                         f"{_REDOWNLOAD}")
    data = _batch_array(path, batch[b"data"], "b'data'")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: b'data' must be uint8 (N, 3072), got {data.dtype} {data.shape}; "
                         f"{_REDOWNLOAD}")
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    labels = _batch_array(path, batch[b"labels"], "b'labels'")
    return _labelled_split(path, images, labels, name or path.name)


def _batch_array(path: Path, value: object, key: str) -> np.ndarray:
    """``value`` as a numeric array; a ragged or non-numeric value names ``key`` and ``path``."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {key} is not an array ({err}); {_REDOWNLOAD}") from err
    if array.dtype.hasobject:
        raise ValueError(f"{path}: {key} holds Python objects, not numbers; {_REDOWNLOAD}")
    return array


def _read_class_names(folder: Path) -> Tuple[str, ...]:
    meta_path = folder / "batches.meta"
    if not meta_path.is_file():
        return CIFAR10_CLASSES
    names = _unpickle(meta_path).get(b"label_names")
    if not isinstance(names, (list, tuple)) or len(names) != NUM_CLASSES:
        raise ValueError(f"{meta_path}: b'label_names' must list {NUM_CLASSES} class names")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _concat(parts: List[Split], name: str, source: Path) -> Split:
    return Split(np.concatenate([p.images for p in parts]),
                 np.concatenate([p.labels for p in parts]), name, source)


def load_official_folder(folder: Union[str, Path]) -> CIFAR10Data:
    """Load an official ``cifar-10-batches-py`` folder (50,000 train and 10,000 test images).

    Raises:
        FileNotFoundError: a batch file is missing (all missing ones are named).
        ValueError: a batch file is corrupt.
    """
    folder = Path(folder)
    missing = [n for n in TRAIN_BATCHES + (TEST_BATCH,) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"CIFAR-10 folder {folder} lacks {', '.join(missing)}")
    train = _concat([read_official_batch(folder / n) for n in TRAIN_BATCHES], "train", folder)
    test = read_official_batch(folder / TEST_BATCH, "test")
    logger.info("loaded CIFAR-10 from %s: %d train, %d test", folder, len(train), len(test))
    return CIFAR10Data(train, test, DataSource("official", folder), _read_class_names(folder))


# --------------------------------------------------------------------------- npz files


def load_npz_split(path: Union[str, Path], name: Optional[str] = None) -> Split:
    """Load one ``.npz`` split: ``x`` uint8 ``(N, 32, 32, 3)`` and ``y`` (or ``y_first``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not an npz archive (or a damaged one), a key missing, an array that is not
            plain numbers, wrong shape/dtype, or labels out of range; the message names the
            file and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 npz file {path} does not exist")
    arrays, keys = _read_npz(path)
    label_key = next((k for k in NPZ_LABEL_KEYS if k in arrays), None)
    if "x" not in arrays or label_key is None:
        raise ValueError(f"{path}: needs key 'x' and one of {list(NPZ_LABEL_KEYS)}; found {keys}")
    images = arrays["x"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(f"{path}: 'x' must be uint8 (N, 32, 32, 3), "
                         f"got {images.dtype} {images.shape}")
    return _labelled_split(path, images, arrays[label_key], name or path.stem)


_RECREATE_NPZ = "re-create it with numpy.savez or re-download it"
# What a damaged zip raises: bad CRC or headers, bad deflate data, and for members that are
# encrypted or use an unknown compression method, RuntimeError / NotImplementedError.
_ZIP_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError)


def _read_npz(path: Path) -> Tuple[dict, List[str]]:
    """The image and label arrays of the npz file ``path``, and all its keys."""
    with open(path, "rb") as fh:
        is_zip = zipfile.is_zipfile(fh)
    if not is_zip:
        raise ValueError(f"{path}: not a .npz archive (a zip of .npy arrays); {_RECREATE_NPZ}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
            arrays = {k: _npz_array(path, npz, k) for k in keys if k == "x" or k in NPZ_LABEL_KEYS}
    except _ZIP_ERRORS as err:
        raise ValueError(f"{path}: damaged .npz archive ({err}); {_RECREATE_NPZ}") from err
    return arrays, keys


def _npz_array(path: Path, npz: "np.lib.npyio.NpzFile", key: str) -> np.ndarray:
    """Array ``key`` of ``npz``, or a ValueError naming the file, the key and what is wrong."""
    if _npz_holds_objects(npz, key):
        raise ValueError(f"{path}: array {key!r} holds Python objects (dtype object), which are "
                         f"not loaded; save it as numbers (x uint8, y integers) with numpy.savez")
    try:
        value = npz[key]
    except ValueError as err:
        raise ValueError(f"{path}: array {key!r} is damaged ({err}); {_RECREATE_NPZ}") from err
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{path}: member {key!r} is not a .npy array; {_RECREATE_NPZ}")
    return value


def _npz_holds_objects(npz: "np.lib.npyio.NpzFile", key: str) -> bool:
    """Whether the ``.npy`` header of ``key`` declares an object dtype (False if unreadable)."""
    fmt = np.lib.format
    try:
        with npz.zip.open(f"{key}.npy") as fh:
            version = fmt.read_magic(fh)
            header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            return bool(header(fh)[2].hasobject)
    except (KeyError, ValueError) + _ZIP_ERRORS:
        return False


def _labelled_split(path: Path, images: np.ndarray, labels: np.ndarray, name: str) -> Split:
    """Build a Split read from ``path``, naming ``path`` in any label error."""
    try:
        return Split(images, labels, name, path)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


def _pick_npz(folder: Path, pattern: str, preferred: Sequence[str]) -> Optional[Path]:
    for fname in preferred:
        if (folder / fname).is_file():
            return folder / fname
    found = sorted(folder.glob(pattern))
    return found[0] if found else None


def load_npz_folder(folder: Union[str, Path], *, test_file: Optional[str] = None) -> CIFAR10Data:
    """Load the train and test ``.npz`` files of ``folder``.

    Args:
        folder: Folder holding ``*train*.npz`` and ``*test*.npz``.
        test_file: File name of the test split inside ``folder``; by default the 10,000-image
            file when present (``PREFERRED_TEST_NPZ`` order), else the first ``*test*.npz``.

    Raises:
        FileNotFoundError: no train or no test file.
    """
    folder = Path(folder)
    train_path = _pick_npz(folder, "*train*.npz", PREFERRED_TRAIN_NPZ)
    test_path = (folder / test_file if test_file
                 else _pick_npz(folder, "*test*.npz", PREFERRED_TEST_NPZ))
    if train_path is None or test_path is None or not test_path.is_file():
        raise FileNotFoundError(f"{folder}: need a *train*.npz and a *test*.npz file "
                                f"(found train={train_path}, test={test_path})")
    train = load_npz_split(train_path, "train")
    test = load_npz_split(test_path, "test")
    logger.info("loaded CIFAR-10 npz: %s (%d), %s (%d)",
                train_path, len(train), test_path, len(test))
    return CIFAR10Data(train, test, DataSource("npz", folder))


# --------------------------------------------------------------------------- discovery


def _looks_official(folder: Path) -> bool:
    return (folder / TRAIN_BATCHES[0]).is_file() or (folder / TEST_BATCH).is_file()


def _has_npz(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*train*.npz")) and any(folder.glob("*test*.npz"))


def locate_cifar10(data_dir: Union[str, Path]) -> Optional[DataSource]:
    """Find CIFAR-10 under ``data_dir`` without reading it.

    Looks, in order, at ``<dir>/cifar-10-batches-py``, ``<dir>`` as the official folder,
    ``<dir>/cifar10/*.npz`` and ``<dir>/*.npz``. Returns ``None`` when nothing is there.
    """
    data_dir = Path(data_dir)
    for folder in (data_dir / OFFICIAL_FOLDER, data_dir):
        if _looks_official(folder):
            return DataSource("official", folder)
    for folder in (data_dir / NPZ_SUBDIR, data_dir):
        if _has_npz(folder):
            return DataSource("npz", folder)
    return None


def expected_layouts(data_dir: Union[str, Path]) -> str:
    """Describe the layouts :func:`locate_cifar10` accepts, for error messages."""
    d = Path(data_dir)
    return (f"{d / OFFICIAL_FOLDER}/ or {d}/ holding data_batch_1..5 and test_batch "
            f"(official python version), or {d / NPZ_SUBDIR}/ or {d}/ holding *train*.npz and "
            "*test*.npz (x uint8 N x 32 x 32 x 3, y or y_first)")


def _missing_message(data_dir: Path) -> str:
    return (f"CIFAR-10 not found in {data_dir}. Expected {expected_layouts(data_dir)}. "
            "Point --data-dir at a directory with one of these layouts, or pass --download to "
            f"fetch {CIFAR10_URL} into it.")


def load_cifar10(data_dir: Union[str, Path], *, download: bool = False,
                 url: str = CIFAR10_URL, md5: str = CIFAR10_MD5, timeout: float = 60.0,
                 test_file: Optional[str] = None) -> CIFAR10Data:
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
        RuntimeError: the download failed (offline, timeout, checksum mismatch).
    """
    data_dir = Path(data_dir)
    source = locate_cifar10(data_dir) if data_dir.is_dir() else None
    if source is None and not download:
        if not data_dir.exists():
            raise FileNotFoundError(f"data directory {data_dir} does not exist. "
                                    + _missing_message(data_dir))
        raise FileNotFoundError(_missing_message(data_dir))
    if source is None:
        folder = download_cifar10(data_dir, url=url, md5=md5, timeout=timeout)
        source = DataSource("official", folder)
    if source.kind == "official":
        return load_official_folder(source.path)
    return load_npz_folder(source.path, test_file=test_file)


# --------------------------------------------------------------------------- download


def file_md5(path: Union[str, Path], chunk_size: int = 1 << 20) -> str:
    """Hex md5 digest of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_url(url: str, out: BinaryIO, timeout: float, root: Path) -> str:
    """Stream ``url`` into ``out``; return the md5. Network failures become RuntimeError."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError,
            http.client.HTTPException) as err:
        raise RuntimeError(f"could not download CIFAR-10 from {url} into {root} ({err}). "
                           f"Without network access, place the data yourself: expected "
                           f"{expected_layouts(root)}; then point --data-dir at it "
                           "(and leave out --download).") from err
    return digest.hexdigest()


def _fetch_archive(url: str, archive: Path, md5: str, timeout: float) -> None:
    """Download to a temporary file beside ``archive``; rename only once the md5 matches."""
    fd, tmp_name = tempfile.mkstemp(prefix=".cifar10-", suffix=".part", dir=archive.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got = _copy_url(url, out, timeout, archive.parent)
        if got != md5.lower():
            raise RuntimeError(f"checksum mismatch for {url}: md5 {got}, expected {md5}; "
                               "the download was discarded")
        os.replace(tmp, archive)
    finally:
        tmp.unlink(missing_ok=True)


def _check_members(members: Sequence[tarfile.TarInfo], archive: Path, dest: Path) -> None:
    """Reject links, devices, absolute paths and paths escaping ``dest``."""
    root = dest.resolve()
    for member in members:
        parts = PurePosixPath(member.name).parts
        target = (root / member.name).resolve()
        unsafe = (not (member.isfile() or member.isdir()) or member.name.startswith(("/", "\\"))
                  or ".." in parts or (target != root and root not in target.parents))
        if unsafe:
            raise ValueError(f"{archive}: unsafe archive member {member.name!r}; nothing extracted")


def extract_archive(archive: Union[str, Path], dest: Union[str, Path]) -> List[Path]:
    """Safely extract a tar archive into ``dest``; return the top-level paths created.

    Members are checked first (regular files and folders only, no absolute paths, no ``..``),
    extracted into a temporary folder inside ``dest`` and then moved into place.

    Raises:
        ValueError: an unsafe member (nothing is extracted).
        FileExistsError: a top-level entry already exists in ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(archive, "r:*")
    except tarfile.TarError as err:
        raise ValueError(f"{archive}: not a readable tar archive ({err})") from err
    with tar:
        members = tar.getmembers()
        _check_members(members, archive, dest)
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
        try:
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(staging, members=members, **extra)
            return [_move_into(child, dest) for child in sorted(staging.iterdir())]
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _move_into(child: Path, dest: Path) -> Path:
    target = dest / child.name
    if target.exists():
        raise FileExistsError(f"{target} already exists; remove it before extracting again")
    os.replace(child, target)
    return target


def download_cifar10(root: Union[str, Path], *, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5,
                     timeout: float = 60.0) -> Path:
    """Download and extract the official python archive into ``root``.

    An existing ``root/cifar-10-batches-py`` is returned as is; an archive already in ``root``
    with the right md5 is not fetched again.

    Args:
        root: Directory to put ``cifar-10-python.tar.gz`` and ``cifar-10-batches-py`` in.
        url: Archive address (the official one by default).
        md5: Expected md5 of the archive, as published with it.
        timeout: Network timeout in seconds.

    Returns:
        The extracted ``cifar-10-batches-py`` folder.

    Raises:
        RuntimeError: offline/timeout, checksum mismatch (nothing is left behind), or an
            archive without a ``cifar-10-batches-py`` folder.
    """
    root = Path(root)
    folder = root / OFFICIAL_FOLDER
    if _looks_official(folder):
        return folder
    root.mkdir(parents=True, exist_ok=True)
    archive = root / ARCHIVE_NAME
    if not (archive.is_file() and file_md5(archive) == md5.lower()):
        logger.info("downloading %s to %s", url, archive)
        _fetch_archive(url, archive, md5, timeout)
    extract_archive(archive, root)
    if not _looks_official(folder):
        raise RuntimeError(f"{archive} did not contain {OFFICIAL_FOLDER}/ with CIFAR-10 batches")
    return folder


# --------------------------------------------------------------------------- tensors


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Normalise float NCHW images in ``[0, 1]`` with the CIFAR-10 channel mean and std."""
    mean = torch.tensor(CIFAR10_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def _to_unit_float(images: np.ndarray, device: Device) -> torch.Tensor:
    """uint8 NHWC numpy -> float32 NCHW tensor in ``[0, 1]`` on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def to_tensor(images: np.ndarray, device: Device = "cpu", *,
              normalized: bool = True) -> torch.Tensor:
    """Convert uint8 NHWC images to a float32 NCHW tensor on ``device``.

    Args:
        images: uint8 array ``(N, H, W, 3)``.
        device: Target device.
        normalized: Apply :func:`normalize` (else values stay in ``[0, 1]``).
    """
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    x = _to_unit_float(images, device)
    return normalize(x) if normalized else x


def split_tensors(split: Split, device: Device = "cpu", *,
                  normalized: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """All of ``split`` as ``(images NCHW float32, labels int64)`` tensors on ``device``."""
    labels = torch.from_numpy(split.labels).to(device)
    return to_tensor(split.images, device, normalized=normalized), labels


# --------------------------------------------------------------------------- sampling


def _permutation(n: int, generator: RandomSource) -> np.ndarray:
    """A random permutation of ``range(n)`` drawn from a torch or numpy generator."""
    if isinstance(generator, torch.Generator):
        return torch.randperm(n, generator=generator, device=generator.device).cpu().numpy()
    if isinstance(generator, np.random.Generator):
        return generator.permutation(n)
    raise TypeError(f"generator must be a torch.Generator or numpy.random.Generator, "
                    f"got {type(generator).__name__}")


def _balanced_quotas(capacity: np.ndarray, total: int) -> np.ndarray:
    """Spread ``total`` over groups as evenly as ``capacity`` allows; earlier groups get extras."""
    quota = np.zeros_like(capacity)
    remaining = total
    while remaining > 0:
        open_groups = np.flatnonzero(quota < capacity)
        share, extra = divmod(remaining, open_groups.size)
        add = np.full(open_groups.size, share)
        add[:extra] += 1
        add = np.minimum(add, capacity[open_groups] - quota[open_groups])
        quota[open_groups] += add
        remaining -= int(add.sum())
    return quota


def _check_batch_size(batch_size: int, n: int, what: str, option: str = "") -> None:
    """Raise ``ValueError`` unless ``1 <= batch_size <= n``; ``option`` names the setting to lower."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size > n:
        flag = f" ({option})" if option else ""
        images = "1 image" if n == 1 else f"{n} images"
        raise ValueError(f"too few images: {what} has {images}, fewer than the batch_size of "
                         f"{batch_size} asked for; use more images or a smaller batch{flag}")


def sample_indices(labels: np.ndarray, batch_size: int, generator: RandomSource, *,
                   balanced: bool = False) -> np.ndarray:
    """Draw ``batch_size`` distinct indices into ``labels``.

    With ``balanced`` every class present gets ``batch_size // classes`` images (the remainder
    goes to randomly chosen classes); a class short of images gives its share to the others.
    The indices come back in random order.
    """
    labels = np.asarray(labels)
    _check_batch_size(batch_size, labels.shape[0], "the split")
    perm = _permutation(labels.shape[0], generator)
    if not balanced:
        return perm[:batch_size]
    shuffled = labels[perm]
    classes = shuffled[np.sort(np.unique(shuffled, return_index=True)[1])]
    pools = [np.flatnonzero(shuffled == c) for c in classes]
    quotas = _balanced_quotas(np.array([p.size for p in pools]), batch_size)
    positions = np.sort(np.concatenate([p[:q] for p, q in zip(pools, quotas)]))
    return perm[positions]


def sample_batch(split: Split, batch_size: int, generator: RandomSource,
                 device: Device = "cpu", *, balanced: bool = False,
                 normalized: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """A random fixed-size batch of ``split`` as tensors on ``device``.

    Args:
        split: Images to draw from.
        batch_size: Number of distinct images (at most ``len(split)``).
        generator: ``torch.Generator`` or ``numpy.random.Generator``; the same seed gives
            the same batch.
        device: Target device.
        balanced: Equal images per class as far as possible (see :func:`sample_indices`).
        normalized: Apply the CIFAR-10 normalisation.

    Returns:
        ``(images (B, 3, H, W) float32, labels (B,) int64)``.

    Raises:
        ValueError: ``batch_size`` is not a positive integer or exceeds ``len(split)``; the
            message names the split, its source file, both numbers and what to do.
    """
    _check_batch_size(batch_size, len(split), split.describe(), "proxy_batch in a search")
    idx = sample_indices(split.labels, batch_size, generator, balanced=balanced)
    return split_tensors(split.subset(idx), device, normalized=normalized)


def _stratified_counts(counts: np.ndarray, total: int) -> np.ndarray:
    """Per-class shares of ``total`` proportional to ``counts`` (largest remainder, exact)."""
    n = int(counts.sum())
    base, rest = np.divmod(counts * total, n)
    order = np.lexsort((np.arange(counts.size), -rest))
    base[order[: total - int(base.sum())]] += 1
    return base


def train_val_split(split: Split, val_size: Union[int, float],
                    generator: RandomSource) -> Tuple[Split, Split]:
    """Split ``split`` into seeded, class-stratified train and validation parts.

    Args:
        split: Images to divide.
        val_size: Validation images: a count (int) or a fraction in ``(0, 1)`` (float).
        generator: Random source choosing which images of each class go to validation.

    Returns:
        ``(train, val)``; both keep the original image order. Per class the validation
        count is proportional to the class size (largest remainder), summing to ``val_size``.
    """
    n = len(split)
    is_fraction = isinstance(val_size, (float, np.floating))
    n_val = int(round(val_size * n)) if is_fraction else int(val_size)
    if not 0 < n_val < n:
        raise ValueError(f"val_size {val_size!r} gives {n_val} validation images; need 1..{n - 1}")
    perm = _permutation(n, generator)
    shuffled = split.labels[perm]
    counts = np.bincount(shuffled, minlength=NUM_CLASSES)
    val_counts = _stratified_counts(counts, n_val)
    val_idx = np.concatenate([perm[shuffled == c][: val_counts[c]] for c in range(NUM_CLASSES)])
    is_val = np.zeros(n, dtype=bool)
    is_val[val_idx] = True
    return (split.subset(np.flatnonzero(~is_val), f"{split.name}-train"),
            split.subset(np.flatnonzero(is_val), f"{split.name}-val"))


# --------------------------------------------------------------------------- training batches


def augment_batch(x: torch.Tensor, generator: torch.Generator, *, padding: int = 4,
                  flip: bool = True) -> torch.Tensor:
    """Random crop after zero padding, and random horizontal flip, of NCHW images.

    Apply before :func:`normalize` so that padding is black as in the usual CIFAR pipeline.
    """
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator,
                            device=generator.device).to(x.device)
    rows = offsets[:, :1] + torch.arange(h, device=x.device)
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)
    if flip:
        flips = (torch.rand(n, generator=generator, device=generator.device) < 0.5).to(x.device)
        cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]


def iterate_minibatches(split: Split, batch_size: int, generator: torch.Generator,
                        device: Device = "cpu", *, shuffle: bool = True, augment: bool = False,
                        drop_last: bool = True) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of ``(images, labels)`` minibatches for short training runs.

    Args:
        split: Images to iterate over.
        batch_size: Images per batch.
        generator: ``torch.Generator`` for the shuffle and the augmentation.
        device: Target device.
        shuffle: Visit the images in a random order.
        augment: Random crop (4-pixel zero padding) and horizontal flip.
        drop_last: Skip a final batch smaller than ``batch_size``.
    """
    _check_batch_size(batch_size, len(split), split.describe())
    order = _permutation(len(split), generator) if shuffle else np.arange(len(split))
    stop = len(split) - len(split) % batch_size if drop_last else len(split)
    for start in range(0, stop, batch_size):
        part = split.subset(order[start:start + batch_size])
        x = _to_unit_float(part.images, device)
        if augment:
            x = augment_batch(x, generator)
        yield normalize(x), torch.from_numpy(part.labels).to(device)
