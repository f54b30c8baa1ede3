"""Per-channel normalisation statistics: the published CIFAR numbers, or computed from images."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["Stats", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR100_MEAN", "CIFAR100_STD", "channel_stats"]

Stats = tuple[tuple[float, ...], tuple[float, ...]]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

_LEVELS = np.arange(256, dtype=np.float64) / 255.0


def _channel_moments(values: np.ndarray) -> tuple[float, float]:
    """Mean and population std of ``values / 255`` (uint8), exact from a 256-bin histogram."""
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    mean = float(hist @ _LEVELS / total)
    var = float(hist @ (_LEVELS - mean) ** 2 / total)
    return mean, float(np.sqrt(var))


def channel_stats(images: np.ndarray) -> Stats:
    """Per-channel mean and standard deviation of uint8 NHWC images scaled to ``[0, 1]``.

    The result does not depend on the order of the images. A channel with a single value
    everywhere gets std 1.0 (so normalising it only shifts it).

    Args:
        images: uint8 array ``(N, H, W, C)`` with ``N >= 1``.

    Returns:
        ``(mean, std)``, each a tuple of C floats.

    Raises:
        ValueError: not a non-empty uint8 NHWC array.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
            f"channel statistics need uint8 (N, H, W, C) images, got "
            f"{getattr(images, 'dtype', type(images).__name__)} "
            f"{getattr(images, 'shape', '')}"
        )
    if images.size == 0:
        raise ValueError(f"channel statistics need at least one image, got shape {images.shape}")
    moments = [_channel_moments(images[..., c]) for c in range(images.shape[3])]
    mean = tuple(m for m, _ in moments)
    std = tuple(s if s > 0 else 1.0 for _, s in moments)
    if any(s == 0 for _, s in moments):
        logger.warning("a channel of the images is constant; its std is taken as 1.0")
    return mean, std
