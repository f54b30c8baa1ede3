"""Datasets stored as ``.npz`` files (numpy zip archives of plain arrays, read without pickle).

Each file holds ``x`` (uint8 ``N x H x W`` for grayscale or ``N x H x W x C``), ``y`` (or
``y_first``) integer labels, and optionally ``classes`` (one name per class). A folder holds
a ``*train*.npz`` and a ``*test*.npz``; for the CIFAR-10 files of the shared data folder
(``cifar10/cifar10_train_5k_jpegq75.npz`` ...) the preferred names below are picked first.

Files recognised as CIFAR-10 (named ``cifar10...`` or in a ``cifar10`` folder, 32 x 32 x 3
images, labels 0..9) get the CIFAR-10 class names and published statistics; any other files
are normalised with the per-channel statistics of their training images.
"""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fne.data.cifar import CIFAR10, CIFAR10_CLASSES
from fne.data.split import Dataset, DataSource, Split, read_split
from fne.data.stats import channel_stats

logger = logging.getLogger(__name__)

__all__ = [
    "NPZ_LABEL_KEYS",
    "NPZ_CLASSES_KEY",
    "NPZ_SUBDIR",
    "PREFERRED_TRAIN_NPZ",
    "PREFERRED_TEST_NPZ",
    "NpzContents",
    "read_npz",
    "load_npz_split",
    "cifar10_mismatch",
    "has_npz_pair",
    "locate_npz_folder",
    "npz_layout",
    "load_npz_folder",
]

NPZ_LABEL_KEYS = ("y", "y_first")
NPZ_CLASSES_KEY = "classes"
NPZ_SUBDIR = "cifar10"
PREFERRED_TRAIN_NPZ = ("cifar10_train_5k_jpegq75.npz",)
PREFERRED_TEST_NPZ = ("cifar10_test_10k_jpegq75.npz", "cifar10_test_846_lossless.npz")

_RECREATE_NPZ = "re-create it with numpy.savez or re-download it"
# What a damaged zip raises: bad CRC or headers, bad deflate data, and for members that are
# encrypted or use an unknown compression method, RuntimeError / NotImplementedError.
_ZIP_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError)
_WANTED = ("x", NPZ_CLASSES_KEY) + NPZ_LABEL_KEYS
_CIFAR10_NAME = re.compile(r"^cifar[-_]?10(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class NpzContents:
    """The arrays of one npz file: ``images`` uint8 NHWC, ``labels``, optional ``classes``."""

    path: Path
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] | None


def _npz_holds_objects(npz: np.lib.npyio.NpzFile, key: str) -> bool:
    """Whether the ``.npy`` header of ``key`` declares an object dtype (False if unreadable)."""
    fmt = np.lib.format
    if npz.zip is None:  # a closed file
        return False
    try:
        with npz.zip.open(f"{key}.npy") as fh:
            version = fmt.read_magic(fh)
            header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            return bool(header(fh)[2].hasobject)
    except (KeyError, ValueError) + _ZIP_ERRORS:
        return False


def _npz_array(path: Path, npz: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    """Array ``key`` of ``npz``, or a ValueError naming the file, the key and what is wrong."""
    if _npz_holds_objects(npz, key):
        raise ValueError(
            f"{path}: array {key!r} holds Python objects (dtype object), which are "
            f"not loaded; save it as numbers (x uint8, y integers) or strings "
            f"(classes) with numpy.savez"
        )
    try:
        value = npz[key]
    except ValueError as err:
        raise ValueError(f"{path}: array {key!r} is damaged ({err}); {_RECREATE_NPZ}") from err
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{path}: member {key!r} is not a .npy array; {_RECREATE_NPZ}")
    return value


def _read_arrays(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """The image, label and class arrays of the npz file ``path``, and all its keys."""
    with open(path, "rb") as fh:
        is_zip = zipfile.is_zipfile(fh)
    if not is_zip:
        raise ValueError(f"{path}: not a .npz archive (a zip of .npy arrays); {_RECREATE_NPZ}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
            arrays = {k: _npz_array(path, npz, k) for k in keys if k in _WANTED}
    except _ZIP_ERRORS as err:
        raise ValueError(f"{path}: damaged .npz archive ({err}); {_RECREATE_NPZ}") from err
    return arrays, keys


def _images(path: Path, x: np.ndarray) -> np.ndarray:
    """``x`` as uint8 NHWC: ``N x H x W`` becomes one channel."""
    if x.dtype != np.uint8 or x.ndim not in (3, 4):
        raise ValueError(f"{path}: 'x' must be uint8 N x H x W (grayscale) or N x H x W x C, got {x.dtype} {x.shape}")
    return x[..., None] if x.ndim == 3 else x


def _class_names(path: Path, value: np.ndarray | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value.ndim != 1 or value.dtype.kind not in "US":
        raise ValueError(
            f"{path}: 'classes' must be a 1-D array of class names (strings), got {value.dtype} {value.shape}"
        )
    return tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in value.tolist())


def read_npz(path: str | Path) -> NpzContents:
    """Read one npz file: ``x``, ``y`` (or ``y_first``) and optional ``classes``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not an npz archive (or a damaged one), a key missing, an array that is
            not plain numbers/strings, or a wrong shape/dtype; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"npz file {path} does not exist")
    arrays, keys = _read_arrays(path)
    label_key = next((k for k in NPZ_LABEL_KEYS if k in arrays), None)
    if "x" not in arrays or label_key is None:
        raise ValueError(f"{path}: needs key 'x' and one of {list(NPZ_LABEL_KEYS)}; found {keys}")
    return NpzContents(
        path, _images(path, arrays["x"]), arrays[label_key], _class_names(path, arrays.get(NPZ_CLASSES_KEY))
    )


def load_npz_split(path: str | Path, name: str | None = None) -> Split:
    """One npz file as a :class:`Split` (default statistics; see :class:`Split`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: as :func:`read_npz`, or a negative label.
    """
    contents = read_npz(path)
    return read_split(contents.path, contents.images, contents.labels, name or contents.path.stem)


def cifar10_mismatch(contents: NpzContents) -> str | None:
    """Why ``contents`` cannot be CIFAR-10, or None when it fits (32 x 32 x 3, labels 0..9)."""
    if contents.images.shape[1:] != (32, 32, 3):
        return f"'x' must be uint8 (N, 32, 32, 3), got {contents.images.shape}"
    labels = np.asarray(contents.labels)
    if labels.size and np.issubdtype(labels.dtype, np.integer) and not 0 <= labels.min() <= labels.max() < 10:
        return f"labels must be 0..9, got {labels.min()}..{labels.max()}"
    if contents.classes is not None and contents.classes != CIFAR10_CLASSES:
        return f"its 'classes' {contents.classes} are not the CIFAR-10 classes"
    return None


def _pick(folder: Path, pattern: str, preferred: Sequence[str]) -> Path | None:
    for fname in preferred:
        if (folder / fname).is_file():
            return folder / fname
    found = sorted(folder.glob(pattern))
    return found[0] if found else None


def has_npz_pair(folder: Path) -> bool:
    """Whether ``folder`` holds a ``*train*.npz`` and a ``*test*.npz``."""
    return folder.is_dir() and any(folder.glob("*train*.npz")) and any(folder.glob("*test*.npz"))


def locate_npz_folder(data_dir: str | Path) -> Path | None:
    """``<data_dir>/cifar10`` or ``<data_dir>`` when it holds train and test npz files."""
    data_dir = Path(data_dir)
    return next((f for f in (data_dir / NPZ_SUBDIR, data_dir) if has_npz_pair(f)), None)


def npz_layout(data_dir: str | Path, cifar10_only: bool = False) -> str:
    """The npz layouts under ``data_dir``, for messages."""
    d = Path(data_dir)
    images = "uint8 N x 32 x 32 x 3" if cifar10_only else "uint8 N x H x W or N x H x W x C"
    return (
        f"{d / NPZ_SUBDIR}/ or {d}/ holding *train*.npz and *test*.npz (x {images}, y or y_first"
        f"{'' if cifar10_only else ', optional classes'})"
    )


def _is_cifar10(folder: Path, train: NpzContents, test: NpzContents, cifar10: bool | None) -> bool:
    """Decide whether the pair is CIFAR-10; ``cifar10=True`` makes a mismatch an error."""
    if cifar10 is False:
        return False
    named = bool(_CIFAR10_NAME.match(folder.name)) or all(_CIFAR10_NAME.match(c.path.name) for c in (train, test))
    if cifar10 is None and not named:
        return False
    for contents in (train, test):
        reason = cifar10_mismatch(contents)
        if reason and cifar10:
            raise ValueError(f"{contents.path}: not CIFAR-10: {reason}")
        if reason:
            logger.warning("%s is named like CIFAR-10 but %s; reading it as a generic dataset", contents.path, reason)
            return False
    return True


def _generic_classes(train: NpzContents, test: NpzContents) -> tuple[str, ...]:
    if train.classes and test.classes and train.classes != test.classes:
        raise ValueError(f"the 'classes' of {train.path} {train.classes} and of {test.path} {test.classes} differ")
    return train.classes or test.classes or ()


def _choose_files(folder: Path, train_file: str | None, test_file: str | None) -> tuple[Path, Path]:
    train_path = folder / train_file if train_file else _pick(folder, "*train*.npz", PREFERRED_TRAIN_NPZ)
    test_path = folder / test_file if test_file else _pick(folder, "*test*.npz", PREFERRED_TEST_NPZ)
    if train_path is None or test_path is None or not (train_path.is_file() and test_path.is_file()):
        raise FileNotFoundError(
            f"{folder}: need a *train*.npz and a *test*.npz file (found train={train_path}, test={test_path})"
        )
    return train_path, test_path


def load_npz_folder(
    folder: str | Path,
    *,
    train_file: str | None = None,
    test_file: str | None = None,
    cifar10: bool | None = None,
) -> Dataset:
    """Load the train and test ``.npz`` files of ``folder``.

    Args:
        folder: Folder holding ``*train*.npz`` and ``*test*.npz``.
        train_file: File name of the train split inside ``folder`` (default: the preferred
            CIFAR-10 name when present, else the first ``*train*.npz``).
        test_file: File name of the test split; by default the 10,000-image CIFAR-10 file
            when present (``PREFERRED_TEST_NPZ`` order), else the first ``*test*.npz``.
        cifar10: True: the files must be CIFAR-10; False: read them as a generic dataset;
            None: CIFAR-10 when named so and the contents fit.

    Returns:
        A :class:`Dataset` with ``source == DataSource("npz", folder)``; CIFAR-10 with its
        class names and published statistics, else the ``classes`` key (or numbered names)
        and the statistics of the training images.

    Raises:
        FileNotFoundError: no train or no test file.
        ValueError: an unreadable file, a label outside the classes, differing ``classes``
            keys, train and test of different image sizes, or (``cifar10=True``) non-CIFAR-10.
    """
    folder = Path(folder)
    train_path, test_path = _choose_files(folder, train_file, test_file)
    train, test = read_npz(train_path), read_npz(test_path)
    if train.images.shape[0] == 0:
        raise ValueError(f"{train_path}: holds no images; the train split needs at least one")
    classes: tuple[str, ...]
    if _is_cifar10(folder, train, test, cifar10):
        stats, classes, name = (CIFAR10.mean, CIFAR10.std), CIFAR10_CLASSES, CIFAR10.name
    else:
        stats, classes, name = channel_stats(train.images), _generic_classes(train, test), folder.name
    data = Dataset(
        read_split(train_path, train.images, train.labels, "train", stats),
        read_split(test_path, test.images, test.labels, "test", stats),
        DataSource("npz", folder),
        classes,
        name=name,
    )
    logger.info("loaded %s from %s and %s", data.describe(), train_path.name, test_path.name)
    return data
