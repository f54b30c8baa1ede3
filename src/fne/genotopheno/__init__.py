"""Genotype to phenotype: search spaces, genotype strings and the networks they build."""

from .cell_operations import create_op, get_op, list_ops, register_op, unregister_op
from .space import SearchSpace, get_space, list_spaces, register_space

# isort: split
# Spaces register in this order, the default first: nb201, darts, fne.
from .nb201 import NB201Genotype, NB201Space

# isort: split
from .darts import DartsGenotype, DartsSpace

# isort: split
from .fne_space import FneGenotype, FneSpace

__all__ = [
    "SearchSpace",
    "get_space",
    "list_spaces",
    "register_space",
    "create_op",
    "get_op",
    "list_ops",
    "register_op",
    "unregister_op",
    "NB201Genotype",
    "NB201Space",
    "DartsGenotype",
    "DartsSpace",
    "FneGenotype",
    "FneSpace",
]
