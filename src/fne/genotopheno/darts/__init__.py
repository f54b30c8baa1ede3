"""The DARTS space:
its genotype text and network (:mod:`.space`), its variation operators (:mod:`.variation`)."""

from fne.genotopheno.darts.space import DartsGenotype, DartsSpace

# isort: split
from fne.genotopheno.darts import variation  # noqa: F401  (registers the space"s crossovers and mutations)

__all__ = ["DartsGenotype", "DartsSpace"]
