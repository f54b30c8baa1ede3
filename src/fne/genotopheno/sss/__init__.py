"""The NATS-Bench size space (``sss``): its genotype text and network (:mod:`.space`), its
variation operators (:mod:`.variation`), which are the space's ``variation``."""

from fne.genotopheno.sss import variation
from fne.genotopheno.sss.space import SizeGenotype, SizeSpace

SizeSpace.variation = variation.OPERATORS

__all__ = ["SizeGenotype", "SizeSpace"]
