"""Tensors from uint8 images: scaling, normalisation and training augmentation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fne.data.split import Split

__all__ = ["Device", "normalize", "to_unit_float", "to_tensor", "split_tensors", "default_padding", "augment_batch"]

Device = str | torch.device


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x - mean) / std`` per channel for float NCHW images in ``[0, 1]``.

    Raises:
        ValueError: ``mean`` or ``std`` does not have one value per channel of ``x``.
    """
    c = x.shape[1]
    if len(mean) != c or len(std) != c:
        raise ValueError(
            f"normalisation needs {c} means and stds for {c}-channel images, got "
            f"mean {tuple(mean)} and std {tuple(std)}"
        )
    mean_t = torch.tensor(tuple(mean), dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    std_t = torch.tensor(tuple(std), dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    return (x - mean_t) / std_t


def to_unit_float(images: np.ndarray, device: Device = "cpu") -> torch.Tensor:
    """uint8 NHWC numpy -> float32 NCHW tensor in ``[0, 1]`` on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def to_tensor(
    images: np.ndarray,
    device: Device = "cpu",
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> torch.Tensor:
    """Convert uint8 NHWC images to a float32 NCHW tensor on ``device``.

    Args:
        images: uint8 array ``(N, H, W, C)``.
        device: Target device.
        mean: Per-channel mean to normalise with; with ``std`` left out too, values stay
            in ``[0, 1]``.
        std: Per-channel standard deviation to normalise with.

    Raises:
        ValueError: ``images`` is not uint8 NHWC, or only one of ``mean``/``std`` is given.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
            f"images must be uint8 (N, H, W, C), got "
            f"{getattr(images, 'dtype', type(images).__name__)} "
            f"{getattr(images, 'shape', '')}"
        )
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std to normalise, or neither")
    x = to_unit_float(images, device)
    return x if mean is None or std is None else normalize(x, mean, std)


def split_tensors(
    split: Split, device: Device = "cpu", *, normalized: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """All of ``split`` as ``(images NCHW float32, labels int64)`` tensors on ``device``.

    With ``normalized`` the images are normalised with ``split.mean`` and ``split.std``.
    """
    labels = torch.from_numpy(split.labels).to(device)
    if not normalized:
        return to_unit_float(split.images, device), labels
    return to_tensor(split.images, device, mean=split.mean, std=split.std), labels


def default_padding(height: int) -> int:
    """Crop padding for ``height``-pixel images: ``max(1, height // 8)`` (4 for 32 pixels)."""
    return max(1, height // 8)


def augment_batch(
    x: torch.Tensor, generator: torch.Generator, *, padding: int | None = None, flip: bool = True
) -> torch.Tensor:
    """Random crop after zero padding, and optional random horizontal flip, of NCHW images.

    Apply before :func:`normalize` so that padding is black as in the usual CIFAR pipeline.

    Args:
        x: Float images ``(N, C, H, W)``.
        generator: Random source for the offsets and flips.
        padding: Zero padding on each side before cropping back to ``H x W``; default
            :func:`default_padding` of ``H``.
        flip: Also flip each image left-right with probability 1/2.
    """
    n, c, h, w = x.shape
    padding = default_padding(h) if padding is None else padding
    padded = F.pad(x, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=generator.device).to(x.device)
    rows = offsets[:, :1] + torch.arange(h, device=x.device)
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)
    if flip:
        flips = (torch.rand(n, generator=generator, device=generator.device) < 0.5).to(x.device)
        cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]
