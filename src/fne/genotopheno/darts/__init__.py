"""The DARTS space: its genotype and text (:mod:`.genotype`), the space's checks, sampling and
presets (:mod:`.space`), the network a genotype builds (:mod:`.network`) and its variation
operators (:mod:`.variation`), which are the space's ``variation``."""

from fne.genotopheno.darts import variation
from fne.genotopheno.darts.genotype import DartsGenotype
from fne.genotopheno.darts.space import DartsSpace

DartsSpace.variation = variation.OPERATORS

__all__ = ["DartsGenotype", "DartsSpace"]
