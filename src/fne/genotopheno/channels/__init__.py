"""The channel-count space:
its genotype text and network (:mod:`.space`), its variation operators (:mod:`.variation`),
which are the space's ``variation``."""

from fne.genotopheno.channels import variation
from fne.genotopheno.channels.space import ChannelGenotype, ChannelSpace

ChannelSpace.variation = variation.OPERATORS

__all__ = ["ChannelGenotype", "ChannelSpace"]
