"""The NAS-Bench-201 space:
its genotype text and network (:mod:`.space`), its variation operators (:mod:`.variation`)."""

from fne.genotopheno.nb201.space import NB201Genotype, NB201Space

# isort: split
from fne.genotopheno.nb201 import variation  # noqa: F401  (registers the space"s crossovers and mutations)

__all__ = ["NB201Genotype", "NB201Space"]
