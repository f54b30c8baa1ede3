"""Tests of fne.data.transforms and fne.data.stats: tensors from uint8 images, the CIFAR-10
normalisation and the crop-and-flip augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data_fakes import make_split
from fne import data as fd


def test_normalisation_constants_are_the_published_ones() -> None:
    assert fd.CIFAR10_MEAN == (0.4914, 0.4822, 0.4465)
    assert fd.CIFAR10_STD == (0.2470, 0.2435, 0.2616)


def test_to_tensor_layout_and_normalisation() -> None:
    images = np.zeros((2, 4, 5, 3), np.uint8)
    images[..., 0], images[..., 1], images[..., 2] = 255, 0, 128
    x = fd.to_tensor(images, "cpu", mean=fd.CIFAR10_MEAN, std=fd.CIFAR10_STD)
    assert x.shape == (2, 3, 4, 5) and x.dtype == torch.float32
    stats = zip((255, 0, 128), fd.CIFAR10_MEAN, fd.CIFAR10_STD, strict=False)
    expected = [(v / 255 - m) / s for v, m, s in stats]
    assert torch.allclose(x[:, :, 1, 2], torch.tensor([expected, expected]), atol=1e-6)
    raw = fd.to_tensor(images)
    assert raw.min() == 0.0 and raw.max() == 1.0
    with pytest.raises(ValueError, match="uint8"):
        fd.to_tensor(images.astype(np.float32))


def test_augment_batch_is_crop_and_flip() -> None:
    x = torch.rand(6, 3, 8, 8)
    gen = torch.Generator().manual_seed(3)
    assert torch.equal(fd.augment_batch(x, gen, padding=0, flip=False), x)
    flipped = fd.augment_batch(x, gen, padding=0)
    was_flipped = [torch.equal(flipped[n], x[n].flip(-1)) for n in range(6)]
    assert all(f or torch.equal(flipped[n], x[n]) for n, f in enumerate(was_flipped))
    assert 0 < sum(was_flipped) < 6
    out = fd.augment_batch(x, gen, padding=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for n in range(6):
        options = [padded[n, :, i : i + 8, j : j + 8] for i in range(5) for j in range(5)]
        options += [o.flip(-1) for o in options]
        assert any(torch.equal(out[n], o) for o in options)
    assert not torch.equal(out, x)
    gen = torch.Generator().manual_seed(0)
    aug = list(fd.iterate_minibatches(make_split(), 10, gen, augment=True))
    assert aug[0][0].shape == (10, 3, 8, 8)
