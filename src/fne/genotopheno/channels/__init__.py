"""The channel-count space:
its genotype text and network (:mod:`.space`), its variation operators (:mod:`.variation`)."""

from fne.genotopheno.channels.space import ChannelGenotype, ChannelSpace

# isort: split
from fne.genotopheno.channels import variation  # noqa: F401  (registers the space"s crossovers and mutations)

__all__ = ["ChannelGenotype", "ChannelSpace"]
