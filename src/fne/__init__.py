"""fne: fast neural evolution, training-free neural architecture search.

Importing :mod:`fne` is cheap: networks, data and search machinery live in the
subpackages :mod:`fne.genotopheno` and :mod:`fne.evolution`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
