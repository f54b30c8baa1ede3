"""Seeded sampling: fixed batches (optionally class-balanced), stratified train/validation
splits and training epochs (optionally drawn class-balanced), for any number of classes and
channels."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from fne.data.split import Split
from fne.data.transforms import Device, augment_batch, normalize, split_tensors, to_unit_float

__all__ = [
    "RandomSource",
    "permutation",
    "check_batch_size",
    "sample_indices",
    "sample_batch",
    "train_val_split",
    "class_balanced_indices",
    "iterate_minibatches",
]

RandomSource = torch.Generator | np.random.Generator


def permutation(n: int, generator: RandomSource) -> np.ndarray:
    """A random permutation of ``range(n)`` drawn from a torch or numpy generator.

    Raises:
        TypeError: ``generator`` is neither kind.
    """
    if isinstance(generator, torch.Generator):
        return torch.randperm(n, generator=generator, device=generator.device).cpu().numpy()
    if isinstance(generator, np.random.Generator):
        return generator.permutation(n)
    raise TypeError(f"generator must be a torch.Generator or numpy.random.Generator, got {type(generator).__name__}")


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


def check_batch_size(batch_size: int, n: int, what: str, option: str = "") -> None:
    """Raise ``ValueError`` unless ``1 <= batch_size <= n``; ``option`` names the setting to lower."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size > n:
        flag = f" ({option})" if option else ""
        images = "1 image" if n == 1 else f"{n} images"
        raise ValueError(
            f"too few images: {what} has {images}, fewer than the batch_size of "
            f"{batch_size} asked for; use more images or a smaller batch{flag}"
        )


def sample_indices(
    labels: np.ndarray, batch_size: int, generator: RandomSource, *, balanced: bool = False
) -> np.ndarray:
    """Draw ``batch_size`` distinct indices into ``labels``.

    With ``balanced`` every class present gets ``batch_size // classes`` images (the remainder
    goes to randomly chosen classes); a class short of images gives its share to the others.
    The indices come back in random order.
    """
    labels = np.asarray(labels)
    check_batch_size(batch_size, labels.shape[0], "the split")
    perm = permutation(labels.shape[0], generator)
    if not balanced:
        return perm[:batch_size]
    shuffled = labels[perm]
    classes = shuffled[np.sort(np.unique(shuffled, return_index=True)[1])]
    pools = [np.flatnonzero(shuffled == c) for c in classes]
    quotas = _balanced_quotas(np.array([p.size for p in pools]), batch_size)
    positions = np.sort(np.concatenate([p[:q] for p, q in zip(pools, quotas, strict=False)]))
    return perm[positions]


def sample_batch(
    split: Split,
    batch_size: int,
    generator: RandomSource,
    device: Device = "cpu",
    *,
    balanced: bool = False,
    normalized: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random fixed-size batch of ``split`` as tensors on ``device``.

    Args:
        split: Images to draw from.
        batch_size: Number of distinct images (at most ``len(split)``).
        generator: ``torch.Generator`` or ``numpy.random.Generator``; the same seed gives
            the same batch.
        device: Target device.
        balanced: Equal images per class as far as possible (see :func:`sample_indices`).
        normalized: Normalise with the split's ``mean`` and ``std``.

    Returns:
        ``(images (B, C, H, W) float32, labels (B,) int64)``.

    Raises:
        ValueError: ``batch_size`` is not a positive integer or exceeds ``len(split)``; the
            message names the split, its source file, both numbers and what to do.
    """
    check_batch_size(batch_size, len(split), split.describe(), "proxy_batch in a search")
    idx = sample_indices(split.labels, batch_size, generator, balanced=balanced)
    return split_tensors(split.subset(idx), device, normalized=normalized)


def _stratified_counts(counts: np.ndarray, total: int) -> np.ndarray:
    """Per-class shares of ``total`` proportional to ``counts`` (largest remainder, exact)."""
    n = int(counts.sum())
    base, rest = np.divmod(counts * total, n)
    order = np.lexsort((np.arange(counts.size), -rest))
    base[order[: total - int(base.sum())]] += 1
    return base


def train_val_split(split: Split, val_size: int | float, generator: RandomSource) -> tuple[Split, Split]:
    """Split ``split`` into seeded, class-stratified train and validation parts.

    Args:
        split: Images to divide.
        val_size: Validation images: a count (int) or a fraction in ``(0, 1)`` (float).
        generator: Random source choosing which images of each class go to validation.

    Returns:
        ``(train, val)``; both keep the original image order and the split's statistics.
        Per class the validation count is proportional to the class size (largest
        remainder), summing to ``val_size``.

    Raises:
        ValueError: ``val_size`` gives no validation or no training image.
    """
    n = len(split)
    is_fraction = isinstance(val_size, (float, np.floating))
    n_val = int(round(val_size * n)) if is_fraction else int(val_size)
    if not 0 < n_val < n:
        raise ValueError(f"val_size {val_size!r} gives {n_val} validation images; need 1..{n - 1}")
    perm = permutation(n, generator)
    shuffled = split.labels[perm]
    val_counts = _stratified_counts(np.bincount(shuffled), n_val)
    val_idx = np.concatenate([perm[shuffled == c][:k] for c, k in enumerate(val_counts)])
    is_val = np.zeros(n, dtype=bool)
    is_val[val_idx] = True
    return (
        split.subset(np.flatnonzero(~is_val), f"{split.name}-train"),
        split.subset(np.flatnonzero(is_val), f"{split.name}-val"),
    )


def class_balanced_indices(labels: np.ndarray, count: int, generator: RandomSource) -> np.ndarray:
    """``count`` indices into ``labels`` drawn with replacement, every class present equally likely.

    Each image is drawn with probability ``1 / (classes * images of its class)``, so a class of
    50 images comes up as often as one of 5,000 (its images repeat): class-balanced sampling.

    Raises:
        ValueError: ``labels`` is empty or ``count`` < 1.
    """
    labels = np.asarray(labels)
    if labels.size == 0 or count < 1:
        raise ValueError(f"need labels and count >= 1 to draw from, got {labels.size} labels and count {count}")
    weights = 1.0 / np.bincount(labels)[labels]
    if isinstance(generator, np.random.Generator):
        return generator.choice(labels.size, count, replace=True, p=weights / weights.sum())
    drawn = torch.multinomial(
        torch.from_numpy(weights).to(generator.device), count, replacement=True, generator=generator
    )
    return drawn.cpu().numpy()


def iterate_minibatches(
    split: Split,
    batch_size: int,
    generator: torch.Generator,
    device: Device = "cpu",
    *,
    shuffle: bool = True,
    augment: bool = False,
    flip: bool = True,
    crop: bool = True,
    drop_last: bool = True,
    balanced: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of normalised ``(images, labels)`` minibatches for short training runs.

    Args:
        split: Images to iterate over (normalised with its ``mean`` and ``std``).
        batch_size: Images per batch.
        generator: ``torch.Generator`` for the shuffle and the augmentation.
        device: Target device.
        shuffle: Visit the images in a random order.
        augment: Random crop after zero padding of ``max(1, H // 8)`` pixels (4 for 32).
        flip: With ``augment``, also flip images left-right at random (leave it out for
            images whose meaning changes when mirrored, e.g. digits).
        crop: With ``augment``, crop at random (False: flips only).
        drop_last: Skip a final batch smaller than ``batch_size``.
        balanced: Draw the epoch's ``len(split)`` images with replacement, every class
            equally often (:func:`class_balanced_indices`) instead of each image once.
    """
    check_batch_size(batch_size, len(split), split.describe())
    if balanced:
        order = class_balanced_indices(split.labels, len(split), generator)
    else:
        order = permutation(len(split), generator) if shuffle else np.arange(len(split))
    stop = len(split) - len(split) % batch_size if drop_last else len(split)
    for start in range(0, stop, batch_size):
        part = split.subset(order[start : start + batch_size])
        x = to_unit_float(part.images, device)
        if augment:
            x = augment_batch(x, generator, flip=flip, padding=None if crop else 0)
        yield normalize(x, *split.stats), torch.from_numpy(part.labels).to(device)
