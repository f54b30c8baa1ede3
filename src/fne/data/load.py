"""Finding a dataset under a folder and loading it: :func:`load_dataset`."""

from __future__ import annotations

import logging
from pathlib import Path

from fne.data.cifar import CIFAR10, CIFAR_SPECS, cifar_layout, download_cifar, load_cifar_folder, locate_cifar_folder
from fne.data.image_folder import image_folder_layout, load_image_folder, looks_like_image_folder
from fne.data.npz import load_npz_folder, locate_npz_folder, npz_layout
from fne.data.split import Dataset, DataSource

logger = logging.getLogger(__name__)

__all__ = ["DATASET_KINDS", "locate_dataset", "expected_layouts", "missing_message", "load_dataset"]

DATASET_KINDS = ("cifar10", "cifar100", "npz", "folder")
_DOWNLOADABLE = tuple(CIFAR_SPECS)


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in DATASET_KINDS:
        raise ValueError(
            f"unknown dataset kind {kind!r}; choose one of {', '.join(DATASET_KINDS)} "
            "(or leave it out to detect the layout)"
        )


def locate_dataset(data_dir: str | Path, kind: str | None = None) -> DataSource | None:
    """Find a dataset under ``data_dir`` without reading it.

    With ``kind`` None the layouts are tried in this order: the official CIFAR-10 folder
    (``<dir>/cifar-10-batches-py`` or ``<dir>``), the official CIFAR-100 folder
    (``<dir>/cifar-100-python`` or ``<dir>``), npz files in ``<dir>/cifar10/`` then in
    ``<dir>``, and the image folder ``<dir>/train/<class>/``. With ``kind="cifar10"`` the
    official folder and then CIFAR-10 npz files are looked for.

    Returns:
        Where the data is (``kind`` ``"cifar10"``, ``"cifar100"``, ``"npz"`` or ``"folder"``),
        or None when nothing of the asked kind is there.

    Raises:
        ValueError: an unknown ``kind``.
    """
    _check_kind(kind)
    data_dir = Path(data_dir)
    for name, spec in CIFAR_SPECS.items():
        folder = locate_cifar_folder(data_dir, spec) if kind in (None, name) else None
        if folder is not None:
            return DataSource(name, folder)
    npz_folder = locate_npz_folder(data_dir) if kind in (None, "npz", CIFAR10.name) else None
    if npz_folder is not None:
        return DataSource("npz", npz_folder)
    if kind in (None, "folder") and looks_like_image_folder(data_dir):
        return DataSource("folder", data_dir)
    return None


def expected_layouts(data_dir: str | Path, kind: str | None = None) -> str:
    """Describe the layouts :func:`locate_dataset` accepts for ``kind``, for error messages."""
    _check_kind(kind)
    if kind in CIFAR_SPECS:
        layouts = [cifar_layout(data_dir, CIFAR_SPECS[kind])]
        if kind == CIFAR10.name:
            layouts.append(npz_layout(data_dir, cifar10_only=True))
    elif kind == "npz":
        layouts = [npz_layout(data_dir)]
    elif kind == "folder":
        layouts = [image_folder_layout(data_dir)]
    else:
        layouts = [cifar_layout(data_dir, spec) for spec in CIFAR_SPECS.values()]
        layouts += [npz_layout(data_dir), image_folder_layout(data_dir)]
    return ", or ".join(layouts)


def _headline(data_dir: Path, kind: str | None) -> str:
    if kind in CIFAR_SPECS:
        return f"{CIFAR_SPECS[kind].title} not found in {data_dir}"
    what = {"npz": "npz dataset", "folder": "image-folder dataset"}.get(kind or "", "dataset")
    return f"No {what} found in {data_dir}"


def missing_message(data_dir: Path, kind: str | None = None) -> str:
    """Why nothing was loaded from ``data_dir`` and what to do, naming the layouts."""
    if kind in CIFAR_SPECS:
        fetch = f", or pass --download to fetch {CIFAR_SPECS[kind].url} into it"
    elif kind is None:
        fetch = ", or pass --download with the dataset kind cifar10 or cifar100 to fetch one"
    else:
        fetch = ""
    return (
        f"{_headline(data_dir, kind)}. Expected {expected_layouts(data_dir, kind)}. Point "
        f"--data-dir at a directory with one of these layouts{fetch}."
    )


def _check_data_dir(data_dir: Path, kind: str | None, download: bool) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise ValueError(f"data directory {data_dir} is a file, not a folder. " + missing_message(data_dir, kind))
    if not data_dir.exists() and not download:
        raise FileNotFoundError(f"data directory {data_dir} does not exist. " + missing_message(data_dir, kind))


def _download(data_dir: Path, kind: str | None, timeout: float) -> DataSource:
    if kind not in _DOWNLOADABLE:
        given = "no kind was given" if kind is None else f"not {kind!r}"
        raise ValueError(
            f"nothing to load in {data_dir}, and download is available for the kinds "
            f"{', '.join(_DOWNLOADABLE)} only ({given}). " + missing_message(data_dir, kind)
        )
    hint = expected_layouts(data_dir, kind)
    return DataSource(kind, download_cifar(data_dir, CIFAR_SPECS[kind], timeout=timeout, hint=hint))


def _read(source: DataSource, kind: str | None, test_file: str | None) -> Dataset:
    if source.kind in CIFAR_SPECS:
        return load_cifar_folder(source.path, CIFAR_SPECS[source.kind])
    if source.kind == "npz":
        return load_npz_folder(source.path, test_file=test_file, cifar10=True if kind == CIFAR10.name else None)
    return load_image_folder(source.path)


def load_dataset(
    data_dir: str | Path,
    kind: str | None = None,
    *,
    download: bool = False,
    timeout: float = 60.0,
    test_file: str | None = None,
) -> Dataset:
    """Find and load an image-classification dataset under ``data_dir``.

    Args:
        data_dir: Folder to search (see :func:`locate_dataset` for the layouts).
        kind: One of :data:`DATASET_KINDS`, or None to detect the layout.
        download: For ``"cifar10"`` and ``"cifar100"``: fetch the official archive into
            ``data_dir`` (checked against its md5) when the data is not there.
        timeout: Network timeout in seconds for the download.
        test_file: For npz layouts, the test file name to use (see
            :func:`fne.data.npz.load_npz_folder`).

    Returns:
        The :class:`Dataset`, normalisation statistics included.

    Raises:
        ValueError: unknown ``kind``, a needed download for a kind other than ``"cifar10"``
            / ``"cifar100"``, ``data_dir`` is a file, or unreadable/inconsistent data (the file is named).
        FileNotFoundError: nothing of the asked kind found and no download; the message
            names the folder and the accepted layouts.
        RuntimeError: the download failed (offline, timeout, checksum mismatch); nothing
            half-written is left.
    """
    _check_kind(kind)
    data_dir = Path(data_dir)
    _check_data_dir(data_dir, kind, download)
    source = locate_dataset(data_dir, kind) if data_dir.is_dir() else None
    if source is None and not download:
        raise FileNotFoundError(missing_message(data_dir, kind))
    if source is None:
        source = _download(data_dir, kind, timeout)
    data = _read(source, kind, test_file)
    logger.info("dataset: %s", data.describe())
    return data
