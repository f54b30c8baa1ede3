"""Variation for the NATS-Bench size space: five channel counts, crossed and mutated layer by layer."""

from __future__ import annotations

import numpy as np

from fne.genotopheno.sss.space import NUM_LAYERS, SizeGenotype, SizeSpace
from fne.genotopheno.variation import VariationOperators

__all__ = ["OPERATORS", "uniform_crossover", "mutate_width", "step_width"]


def uniform_crossover(space: SizeSpace, a: SizeGenotype, b: SizeGenotype, rng: np.random.Generator) -> SizeGenotype:
    """Each layer's channel count comes from ``a`` or ``b`` with probability 1/2.

    Args:
        space: the size space.
        a: first parent.
        b: second parent.
        rng: random generator.

    Returns:
        The child genotype.
    """
    take_a = rng.random(NUM_LAYERS) < 0.5
    return SizeGenotype(tuple(x if t else y for x, y, t in zip(a.channels, b.channels, take_a, strict=True)))


def mutate_width(space: SizeSpace, genotype: SizeGenotype, rng: np.random.Generator) -> SizeGenotype:
    """Give one random layer a different channel count drawn from ``space.choices``.

    Args:
        space: the size space, whose ``choices`` are the counts.
        genotype: the parent.
        rng: random generator.

    Returns:
        The child; the parent itself when the space has a single choice.
    """
    channels = list(genotype.channels)
    layer = int(rng.integers(NUM_LAYERS))
    others = [c for c in space.choices if c != channels[layer]]
    if not others:
        return genotype
    channels[layer] = others[int(rng.integers(len(others)))]
    return SizeGenotype(tuple(channels))


def step_width(space: SizeSpace, genotype: SizeGenotype, rng: np.random.Generator) -> SizeGenotype:
    """Move one random layer's channel count to a neighbouring choice (one step wider or narrower).

    Args:
        space: the size space, whose sorted ``choices`` are the steps.
        genotype: the parent.
        rng: random generator.

    Returns:
        The child; the parent itself when the space has a single choice.
    """
    channels = list(genotype.channels)
    layer = int(rng.integers(NUM_LAYERS))
    at = space.choices.index(channels[layer])
    steps = [i for i in (at - 1, at + 1) if 0 <= i < len(space.choices)]
    if not steps:
        return genotype
    channels[layer] = space.choices[steps[int(rng.integers(len(steps)))]]
    return SizeGenotype(tuple(channels))


OPERATORS = VariationOperators.create(
    crossovers={"uniform": uniform_crossover},
    mutations={"width": mutate_width, "step": step_width},
    space_name="sss",
)
"""The crossovers and mutations of :class:`SizeSpace`, its ``variation``."""
