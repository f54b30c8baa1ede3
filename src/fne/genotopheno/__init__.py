"""Genotype to phenotype: search spaces, genotype strings and the networks they build.

One package per space (:mod:`.nb201`, :mod:`.darts`, :mod:`.channels`, :mod:`.sss`) holds its genotype
text, canonical key, network, presets and variation operators (set as the space's
``variation``); :mod:`.ops` holds the operations cells are built from, :mod:`.space` the
interface every space implements, :mod:`.variation` the operators' common part.
"""

from fne.genotopheno.ops import create_op, get_op, list_ops, register_op, unregister_op
from fne.genotopheno.space import SearchSpace, get_space, get_space_class, list_spaces, register_space
from fne.genotopheno.variation import VariationOperators, get_variation, list_variations, register_variation

# isort: split
# Spaces register in this order, the default first: nb201, darts, channels, sss.
from fne.genotopheno.nb201 import NB201Genotype, NB201Space

# isort: split
from fne.genotopheno.darts import DartsGenotype, DartsSpace

# isort: split
from fne.genotopheno.channels import ChannelGenotype, ChannelSpace

# isort: split
from fne.genotopheno.sss import SizeGenotype, SizeSpace

__all__ = [
    "SearchSpace",
    "get_space",
    "get_space_class",
    "list_spaces",
    "register_space",
    "create_op",
    "get_op",
    "list_ops",
    "register_op",
    "unregister_op",
    "VariationOperators",
    "get_variation",
    "list_variations",
    "register_variation",
    "NB201Genotype",
    "NB201Space",
    "DartsGenotype",
    "DartsSpace",
    "ChannelGenotype",
    "ChannelSpace",
    "SizeGenotype",
    "SizeSpace",
]
