"""The NAS-Bench-201 space:
its genotype text and network (:mod:`.space`), its variation operators (:mod:`.variation`),
which are the space's ``variation``."""

from fne.genotopheno.nb201 import variation
from fne.genotopheno.nb201.space import NB201Genotype, NB201Space

NB201Space.variation = variation.OPERATORS

__all__ = ["NB201Genotype", "NB201Space"]
