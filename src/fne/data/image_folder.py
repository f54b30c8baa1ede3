"""Datasets stored as image files, one folder per class::

    <root>/train/<class>/*.png|jpg|jpeg|bmp
    <root>/test/<class>/*.png|jpg|jpeg|bmp

Classes are the sorted folder names of ``train`` (label = position); every ``test`` folder
must be one of them. All images share one size. The images stay grayscale (one channel) when
every file is grayscale, else all are read as RGB. Files are read with Pillow, in class order
and then file-name order; the statistics come from the training images.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fne.data.split import Dataset, DataSource, Split
from fne.data.stats import channel_stats

logger = logging.getLogger(__name__)

__all__ = [
    "IMAGE_EXTENSIONS",
    "GRAY_MODES",
    "image_class_names",
    "list_image_files",
    "looks_like_image_folder",
    "image_folder_layout",
    "load_image_folder",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
GRAY_MODES = ("1", "L", "LA")
ImageFile = tuple[Path, int]


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def image_class_names(train_dir: str | Path) -> tuple[str, ...]:
    """The sorted class folder names of ``train_dir``.

    Raises:
        FileNotFoundError: ``train_dir`` is not a folder.
        ValueError: it holds no class folder.
    """
    train_dir = Path(train_dir)
    if not train_dir.is_dir():
        raise FileNotFoundError(
            f"image folder {train_dir} does not exist; expected {train_dir}/<class>/*.png (one folder per class)"
        )
    classes = tuple(p.name for p in _subfolders(train_dir))
    if not classes:
        raise ValueError(f"{train_dir} holds no class folders; expected {train_dir}/<class>/*.png")
    return classes


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    if len(images) < len(files):
        logger.debug(
            "%s: skipped %d files that are not %s", folder, len(files) - len(images), "/".join(IMAGE_EXTENSIONS)
        )
    if not images:
        raise ValueError(f"class folder {folder} holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return images


def list_image_files(split_dir: str | Path, classes: Sequence[str]) -> list[ImageFile]:
    """``(file, label)`` for every image of ``split_dir``, in class then file-name order.

    Raises:
        FileNotFoundError: ``split_dir`` is not a folder.
        ValueError: a class folder not in ``classes``, or a class folder without images.
    """
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(
            f"image folder {split_dir} does not exist; expected "
            f"{split_dir}/<class>/*.png with the class folders of train"
        )
    label_of = {name: k for k, name in enumerate(classes)}
    files: list[ImageFile] = []
    for folder in _subfolders(split_dir):
        if folder.name not in label_of:
            raise ValueError(
                f"class folder {folder} is not a class of the train folder (train classes: {', '.join(classes)})"
            )
        files += [(p, label_of[folder.name]) for p in _image_files(folder)]
    if not files:
        raise ValueError(f"{split_dir} holds no class folders; expected {split_dir}/<class>/*.png")
    return files


def _unreadable(path: Path, err: Exception) -> ValueError:
    return ValueError(f"{path}: not an image Pillow can read ({type(err).__name__}: {err}); replace or delete the file")


def _probe(path: Path) -> tuple[tuple[int, int], str]:
    """``((width, height), mode)`` of an image, from its header."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size, image.mode
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
        raise _unreadable(path, err) from err


def _decode(path: Path, mode: str) -> np.ndarray:
    """The pixels of an image converted to ``mode`` (``"L"`` or ``"RGB"``), as uint8 HWC."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert(mode), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
        raise _unreadable(path, err) from err
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _common_size(probes: dict[Path, tuple[tuple[int, int], str]]) -> tuple[int, int]:
    """The one ``(width, height)`` of all images; else a ValueError naming a file of each size."""
    example: dict[tuple[int, int], Path] = {}
    for path, (size, _) in probes.items():
        example.setdefault(size, path)
    if len(example) > 1:
        found = "; ".join(f"{w}x{h} (width x height), e.g. {p}" for (w, h), p in example.items())
        raise ValueError(
            f"all images of a dataset must have one size, found {len(example)} sizes: {found}; resize them to one size"
        )
    return next(iter(example))


def _read_split(files: list[ImageFile], mode: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    channels = 1 if mode == "L" else 3
    images = np.empty((len(files), size[1], size[0], channels), dtype=np.uint8)
    for i, (path, _) in enumerate(files):
        images[i] = _decode(path, mode)
    return images, np.array([label for _, label in files], dtype=np.int64)


def looks_like_image_folder(data_dir: str | Path) -> bool:
    """Whether ``<data_dir>/train`` is a folder with at least one class folder."""
    train_dir = Path(data_dir) / "train"
    return train_dir.is_dir() and bool(_subfolders(train_dir))


def image_folder_layout(data_dir: str | Path) -> str:
    """The image-folder layout under ``data_dir``, for messages."""
    d = Path(data_dir)
    return (
        f"{d}/train/<class>/ and {d}/test/<class>/ holding {'/'.join(IMAGE_EXTENSIONS)} images "
        "of one size (image folder)"
    )


def load_image_folder(root: str | Path) -> Dataset:
    """Load ``<root>/train/<class>/*`` and ``<root>/test/<class>/*`` images.

    Returns:
        A :class:`Dataset` with ``source == DataSource("folder", root)``, the sorted train
        class names, one channel when every image is grayscale (else RGB) and the statistics
        of the training images.

    Raises:
        FileNotFoundError: ``root/train`` or ``root/test`` is missing.
        ValueError: no class folders, a test class not in train, an empty class folder, an
            unreadable image (named), or images of more than one size (a file of each named).
    """
    root = Path(root)
    classes = image_class_names(root / "train")
    train_files = list_image_files(root / "train", classes)
    test_files = list_image_files(root / "test", classes)
    probes = {path: _probe(path) for path, _ in train_files + test_files}
    size = _common_size(probes)
    mode = "L" if all(m in GRAY_MODES for _, m in probes.values()) else "RGB"
    train_x, train_y = _read_split(train_files, mode, size)
    test_x, test_y = _read_split(test_files, mode, size)
    stats = channel_stats(train_x)
    data = Dataset(
        Split(train_x, train_y, "train", root / "train", *stats),
        Split(test_x, test_y, "test", root / "test", *stats),
        DataSource("folder", root),
        classes,
        name=root.name,
    )
    logger.info("loaded %s", data.describe())
    return data
