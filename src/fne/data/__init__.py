"""Image-classification datasets: finding, reading, normalising and batching them.

One call finds and reads a dataset; images stay uint8 NHWC in numpy (:class:`Split`) until
a batch is asked for, and come back as normalised float NCHW tensors::

    import numpy as np
    import torch
    from fne.data import load_dataset, dataset_network_kwargs, sample_batch, train_val_split

    data = load_dataset("../shared/data")                 # detects the layout (here CIFAR-10 npz)
    data = load_dataset("../shared/data/fashion_mnist")   # 1 channel, 28 x 28, 10 classes
    data = load_dataset("/data", "cifar100", download=True, timeout=30.0)
    print(data.describe())
    kwargs = dataset_network_kwargs(data)                 # {"in_channels": 1, "num_classes": 10}
    train, val = train_val_split(data.train, 0.1, np.random.default_rng(0))
    x, y = sample_batch(train, 64, torch.Generator().manual_seed(0), "cpu", balanced=True)

Layouts (:data:`DATASET_KINDS`; ``kind=None`` detects them in this order):

* ``"cifar10"``: the official ``cifar-10-batches-py/`` folder (or CIFAR-10 npz files);
  ``download=True`` fetches https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz.
* ``"cifar100"``: the official ``cifar-100-python/`` folder (100 fine classes);
  ``download=True`` fetches https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz.
* ``"npz"``: ``<dir>/cifar10/`` or ``<dir>/`` holding ``*train*.npz`` and ``*test*.npz`` with
  ``x`` (uint8 ``N x H x W`` or ``N x H x W x C``), ``y`` (or ``y_first``), optional ``classes``.
* ``"folder"``: ``<dir>/train/<class>/*.png|jpg|jpeg|bmp`` and ``<dir>/test/<class>/...``.

Normalisation: CIFAR-10 and CIFAR-100 (also CIFAR-10 read from npz files) use their published
per-channel mean/std; other datasets use :func:`channel_stats` of their training images. A
:class:`Dataset` carries them (``data.mean``, ``data.std``) and so does each of its splits and
every subset, so :func:`sample_batch`, :func:`split_tensors` and :func:`iterate_minibatches`
normalise with the right numbers without being told.

Main API:

* :func:`load_dataset` ``(data_dir, kind=None, *, download=False, timeout=60.0,
  test_file=None) -> Dataset``; :func:`locate_dataset`, :func:`expected_layouts`.
* :class:`Dataset` ``(train, test, source, classes=(), mean=None, std=None, name="")`` with
  ``num_classes``, ``channels``, ``image_size`` ``(H, W)`` and ``describe()``;
  :class:`Split` ``(images, labels, name, source, mean, std)``; :class:`DataSource`
  ``(kind, path)``.
* :func:`dataset_network_kwargs` ``(dataset) -> {"in_channels": C, "num_classes": K}``.
* Batches: :func:`sample_indices`, :func:`sample_batch`, :func:`train_val_split`,
  :func:`iterate_minibatches`, :func:`split_tensors`, :func:`to_tensor`, :func:`normalize`,
  :func:`augment_batch`.
* Files: :func:`load_cifar_folder`, :func:`download_cifar`, :func:`load_npz_folder`,
  :func:`read_npz`, :func:`load_image_folder`, :func:`fetch_file`, :func:`extract_archive`.

Nothing is read at import time, and the network is only used when a download is asked for.
"""

from __future__ import annotations

from fne.data.cifar import (
    CIFAR10,
    CIFAR10_CLASSES,
    CIFAR100,
    CIFAR_SPECS,
    CifarSpec,
    download_cifar,
    load_cifar_folder,
    read_cifar_batch,
)
from fne.data.download import DownloadError, extract_archive, fetch_file, file_md5
from fne.data.image_folder import IMAGE_EXTENSIONS, load_image_folder
from fne.data.load import DATASET_KINDS, expected_layouts, load_dataset, locate_dataset
from fne.data.npz import load_npz_folder, load_npz_split, read_npz
from fne.data.options import DataOptions
from fne.data.sampling import RandomSource, iterate_minibatches, sample_batch, sample_indices, train_val_split
from fne.data.split import Dataset, DataSource, Split, dataset_network_kwargs
from fne.data.stats import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD, channel_stats
from fne.data.transforms import Device, augment_batch, normalize, split_tensors, to_tensor

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "CIFAR_SPECS",
    "CifarSpec",
    "DATASET_KINDS",
    "DataOptions",
    "DataSource",
    "Dataset",
    "Device",
    "DownloadError",
    "IMAGE_EXTENSIONS",
    "RandomSource",
    "Split",
    "augment_batch",
    "channel_stats",
    "dataset_network_kwargs",
    "download_cifar",
    "expected_layouts",
    "extract_archive",
    "fetch_file",
    "file_md5",
    "iterate_minibatches",
    "load_cifar_folder",
    "load_dataset",
    "load_image_folder",
    "load_npz_folder",
    "load_npz_split",
    "locate_dataset",
    "normalize",
    "read_cifar_batch",
    "read_npz",
    "sample_batch",
    "sample_indices",
    "split_tensors",
    "to_tensor",
    "train_val_split",
]
