"""The official python archives of CIFAR-10 and CIFAR-100: reading, finding and downloading.

* CIFAR-10, ``cifar-10-batches-py/``: pickled ``data_batch_1`` .. ``data_batch_5``,
  ``test_batch`` (``b'data'`` N x 3072 uint8 CHW rows, ``b'labels'``) and ``batches.meta``
  (``b'label_names'``).
* CIFAR-100, ``cifar-100-python/``: pickled ``train``, ``test`` (``b'data'``,
  ``b'fine_labels'``) and ``meta`` (``b'fine_label_names'``); the 100 fine classes are used.

Both are normalised with their published channel statistics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fne.data.download import extract_archive, fetch_file, file_md5
from fne.data.safe_pickle import unpickle_dict
from fne.data.split import Dataset, DataSource, Split, numbered_classes, read_split
from fne.data.stats import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD

logger = logging.getLogger(__name__)

__all__ = [
    "CifarSpec",
    "CIFAR10",
    "CIFAR100",
    "CIFAR_SPECS",
    "CIFAR10_CLASSES",
    "read_cifar_batch",
    "load_cifar_folder",
    "looks_like_cifar_folder",
    "locate_cifar_folder",
    "cifar_layout",
    "download_cifar",
]

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


@dataclass(frozen=True)
class CifarSpec:
    """What distinguishes one official CIFAR archive.

    Attributes:
        name: Dataset kind, ``"cifar10"`` or ``"cifar100"``.
        title: Name in messages, ``"CIFAR-10"``.
        url: Address of the official ``.tar.gz``.
        md5: Its published md5.
        folder: Folder the archive extracts to.
        train_files: Pickled training batch files in ``folder``.
        test_file: Pickled test batch file.
        meta_file: Pickled file with the class names.
        label_key: Key of the labels in a batch.
        names_key: Key of the class names in the meta file.
        num_classes: Number of classes.
        mean: Published per-channel mean.
        std: Published per-channel std.
        default_classes: Names used when the meta file is missing (None: numbered).
    """

    name: str
    title: str
    url: str
    md5: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: bytes
    names_key: bytes
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    default_classes: tuple[str, ...] | None = None

    @property
    def archive_name(self) -> str:
        """File name of the downloaded archive."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def remedy(self) -> str:
        """What to do about a damaged file, for messages."""
        return (
            "replace it with the file from the official archive (delete the folder and run "
            f"again with --download, or re-extract {self.archive_name})"
        )


CIFAR10 = CifarSpec(
    "cifar10",
    "CIFAR-10",
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
    "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test_batch",
    "batches.meta",
    b"labels",
    b"label_names",
    10,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR10_CLASSES,
)
CIFAR100 = CifarSpec(
    "cifar100",
    "CIFAR-100",
    "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    "eb9058c3a382ffc7106e4002c42a8d85",
    "cifar-100-python",
    ("train",),
    "test",
    "meta",
    b"fine_labels",
    b"fine_label_names",
    100,
    CIFAR100_MEAN,
    CIFAR100_STD,
)
CIFAR_SPECS = {spec.name: spec for spec in (CIFAR10, CIFAR100)}


def _batch_array(path: Path, value: object, key: str, spec: CifarSpec) -> np.ndarray:
    """``value`` as a numeric array; a ragged or non-numeric value names ``key`` and ``path``."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {key} is not an array ({err}); {spec.remedy}") from err
    if array.dtype.hasobject:
        raise ValueError(f"{path}: {key} holds Python objects, not numbers; {spec.remedy}")
    return array


def read_cifar_batch(path: str | Path, spec: CifarSpec = CIFAR10, name: str | None = None) -> Split:
    """Read one official batch file (``b'data'`` N x 3072 uint8 CHW rows and the labels).

    Args:
        path: The pickled batch file.
        spec: Which archive it belongs to (:data:`CIFAR10` or :data:`CIFAR100`).
        name: Split name (default: the file name).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unreadable, a key missing, wrong shape/dtype, or a label out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{spec.title} batch file {path} does not exist")
    batch = unpickle_dict(path, f"{spec.title} batch file", spec.remedy)
    missing = [k.decode() for k in (b"data", spec.label_key) if k not in batch]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}; found {sorted(map(repr, batch))}; {spec.remedy}")
    data = _batch_array(path, batch[b"data"], "b'data'", spec)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: b'data' must be uint8 (N, 3072), got {data.dtype} {data.shape}; {spec.remedy}")
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    labels = _batch_array(path, batch[spec.label_key], repr(spec.label_key), spec)
    return read_split(path, images, labels, name or path.name, (spec.mean, spec.std), spec.num_classes)


def _read_class_names(folder: Path, spec: CifarSpec) -> tuple[str, ...]:
    meta_path = folder / spec.meta_file
    if not meta_path.is_file():
        logger.warning(
            "%s has no %s; using %s class names",
            folder,
            spec.meta_file,
            "the usual" if spec.default_classes else "numbered",
        )
        return spec.default_classes or numbered_classes(spec.num_classes)
    names = unpickle_dict(meta_path, f"{spec.title} meta file", spec.remedy).get(spec.names_key)
    if not isinstance(names, (list, tuple)) or len(names) != spec.num_classes:
        raise ValueError(f"{meta_path}: {spec.names_key!r} must list {spec.num_classes} class names; {spec.remedy}")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _concat(parts: tuple[Split, ...], name: str, source: Path) -> Split:
    if len(parts) == 1:
        return Split(parts[0].images, parts[0].labels, name, source, parts[0].mean, parts[0].std)
    return Split(
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.labels for p in parts]),
        name,
        source,
        parts[0].mean,
        parts[0].std,
    )


def load_cifar_folder(folder: str | Path, spec: CifarSpec = CIFAR10) -> Dataset:
    """Load an official ``cifar-10-batches-py`` or ``cifar-100-python`` folder.

    Args:
        folder: The extracted archive folder.
        spec: :data:`CIFAR10` or :data:`CIFAR100`.

    Returns:
        A :class:`Dataset` with ``source.kind == spec.name``, the published statistics and the
        class names of the meta file.

    Raises:
        FileNotFoundError: a batch file is missing (all missing ones are named).
        ValueError: a batch or meta file is corrupt.
    """
    folder = Path(folder)
    missing = [n for n in spec.train_files + (spec.test_file,) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{spec.title} folder {folder} lacks {', '.join(missing)}")
    parts = tuple(read_cifar_batch(folder / n, spec) for n in spec.train_files)
    train = _concat(parts, "train", folder)
    test = read_cifar_batch(folder / spec.test_file, spec, "test")
    data = Dataset(train, test, DataSource(spec.name, folder), _read_class_names(folder, spec), name=spec.name)
    logger.info("loaded %s", data.describe())
    return data


def looks_like_cifar_folder(folder: Path, spec: CifarSpec) -> bool:
    """Whether ``folder`` holds a batch file of ``spec`` (a CIFAR-100 folder not named
    ``cifar-100-python`` must also hold its ``meta`` file, ``train`` being a common name)."""
    has_batch = any((folder / n).is_file() for n in spec.train_files + (spec.test_file,))
    if spec.name == CIFAR10.name or folder.name == spec.folder:
        return has_batch
    return has_batch and (folder / spec.meta_file).is_file()


def locate_cifar_folder(data_dir: str | Path, spec: CifarSpec) -> Path | None:
    """``<data_dir>/<spec.folder>`` or ``<data_dir>`` when it is an official folder, else None."""
    data_dir = Path(data_dir)
    return next((f for f in (data_dir / spec.folder, data_dir) if looks_like_cifar_folder(f, spec)), None)


def cifar_layout(data_dir: str | Path, spec: CifarSpec) -> str:
    """The official layout of ``spec`` under ``data_dir``, for messages."""
    d = Path(data_dir)
    files = (
        "data_batch_1..5 and test_batch"
        if spec is CIFAR10
        else " and ".join(spec.train_files + (spec.test_file, spec.meta_file))
    )
    return f"{d / spec.folder}/ or {d}/ holding {files} (official {spec.title} python version)"


def download_cifar(
    root: str | Path,
    spec: CifarSpec = CIFAR10,
    *,
    url: str | None = None,
    md5: str | None = None,
    timeout: float = 60.0,
    hint: str | None = None,
) -> Path:
    """Download and extract the official python archive of ``spec`` into ``root``.

    An existing ``root/<spec.folder>`` is returned as is; an archive already in ``root``
    with the right md5 is not fetched again.

    Args:
        root: Folder to put the ``.tar.gz`` and the extracted folder in.
        spec: :data:`CIFAR10` or :data:`CIFAR100`.
        url: Archive address (default ``spec.url``).
        md5: Expected md5 of the archive (default ``spec.md5``).
        timeout: Network timeout in seconds.
        hint: Layouts to name when offline (default: the official layout).

    Returns:
        The extracted folder.

    Raises:
        RuntimeError: offline/timeout, checksum mismatch (nothing is left behind), or an
            archive without the expected folder.
    """
    root = Path(root)
    folder = root / spec.folder
    if looks_like_cifar_folder(folder, spec):
        return folder
    url, md5 = url or spec.url, (md5 or spec.md5).lower()
    archive = root / spec.archive_name
    if not (archive.is_file() and file_md5(archive) == md5):
        layouts = hint or cifar_layout(root, spec)
        logger.info("downloading %s to %s", url, archive)
        fetch_file(
            url,
            archive,
            md5,
            timeout=timeout,
            what=spec.title,
            hint=f"Without network access, place the data yourself: expected {layouts}; "
            "then point --data-dir at it (and leave out --download).",
        )
    extract_archive(archive, root)
    if not looks_like_cifar_folder(folder, spec):
        raise RuntimeError(f"{archive} did not contain {spec.folder}/ with {spec.title} batches")
    return folder
