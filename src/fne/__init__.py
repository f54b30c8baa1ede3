"""fne: fast neural evolution, training-free neural architecture search.

Importing :mod:`fne` is cheap: networks, data and search machinery live in the
subpackages :mod:`fne.genotopheno`, :mod:`fne.data`, :mod:`fne.evolution`,
:mod:`fne.search` and :mod:`fne.training`.
:func:`fne.load_model` rebuilds a trained network from its ``model.pt``.
"""

from typing import Any

__version__ = "0.8.2"
"""The version of fne, declared here only (setup.cfg reads it)."""

__all__ = ["__version__", "load_model"]


def load_model(path: Any, device: Any = "cpu") -> Any:
    """Rebuild a trained network from ``model.pt`` (see :func:`fne.model_file.load_model`)."""
    from fne.model_file import load_model as _load

    return _load(path, device)
