"""Shared fixtures: the ``../shared/data`` folder beside the checkout, when present."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NB201_CSV = SHARED_DATA / "nb201" / "nb201_cifar10.csv"
CIFAR_DIR = SHARED_DATA / "cifar10"


@pytest.fixture(scope="session")
def nb201_csv() -> Path:
    """Path of the NB201 table; skips the test when the shared data is absent."""
    if not NB201_CSV.is_file():
        pytest.skip(f"shared NB201 table not found at {NB201_CSV}")
    return NB201_CSV


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared data folder (holds ``cifar10/``); skips when absent."""
    if not CIFAR_DIR.is_dir():
        pytest.skip(f"shared CIFAR-10 data not found at {CIFAR_DIR}")
    return SHARED_DATA


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run the test with one torch thread (steady timings, no oversubscription), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_script(path: Path, name: str) -> ModuleType:
    """Import a script (``src/*.py``, ``examples/*.py``, ``benchmarks/*.py``) as a fresh module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module
