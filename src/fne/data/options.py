"""The data options every command shares: where the images are and in which format."""

from __future__ import annotations

from dataclasses import dataclass

from fne.data.load import DATASET_KINDS
from fne.options import option

__all__ = ["DataOptions"]


@dataclass(frozen=True)
class DataOptions:
    """Where the images are and in which format (a base of the run configurations)."""

    data_dir: str = option(
        "../shared/data", "folder holding the images (CIFAR-10/100 archives, npz files or train/<class>/ image folders)"
    )
    dataset: str | None = option(None, "cifar10, cifar100, npz or folder (default: detected)", choices=DATASET_KINDS)
    download: bool = option(False, "download CIFAR-10 or CIFAR-100 into --data-dir when it is not there")
