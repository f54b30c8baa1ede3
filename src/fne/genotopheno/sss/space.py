"""The NATS-Bench size space: the NB201 network with its best cell, one channel count per layer.

The network is NB201's skeleton at one cell a stage: a stem, a cell, a residual reduction, a
cell, a residual reduction, a cell, then BN-ReLU, pooling and a linear head. Its five layers
(stem and first cell, first reduction, second cell, second reduction, third cell) each take a
channel count from ``8, 16, ..., 64``: 8^5 = 32,768 networks, all different. The cell is fixed
to the best NB201 cell (:data:`BEST_CELL`); an edge out of the cell's input maps the previous
layer's channels to the cell's own. Text form: the channel counts joined by ``:``, as the
NATS-Bench table writes them (``8:16:32:64:64``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from fne.genotopheno.nb201.space import NB201Cell, NB201Genotype, NB201Space, ResidualReduction
from fne.genotopheno.ops import create_op
from fne.genotopheno.space import (
    SearchDefaults,
    SearchSpace,
    check_positive_ints,
    is_ascii_digits,
    register_space,
)

__all__ = ["BEST_CELL", "CHANNEL_CHOICES", "NUM_LAYERS", "SEPARATOR", "SizeGenotype", "SizeSpace", "SizeNetwork"]

BEST_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
"""The cell of every network of the space (the best NB201 cell, as NATS-Bench fixes it)."""

CHANNEL_CHOICES = (8, 16, 24, 32, 40, 48, 56, 64)
"""The channel counts a layer may take."""

NUM_LAYERS = 5
"""Layers with a channel count of their own: three cells and the two reductions between them."""

SEPARATOR = ":"


@dataclass(frozen=True)
class SizeGenotype:
    """One channel count per layer (stem and cell, reduction, cell, reduction, cell)."""

    channels: tuple[int, ...]

    def __str__(self) -> str:
        return SEPARATOR.join(str(c) for c in self.channels)


@register_space("sss")
class SizeSpace(SearchSpace[SizeGenotype]):
    """The NATS-Bench size space: the channel counts of the five layers of the best NB201 cell's network.

    Args:
        choices: the channel counts a layer may take (positive ints; default :data:`CHANNEL_CHOICES`).

    Raises:
        ValueError: empty choices, or a choice that is not a positive int.
    """

    search_defaults = SearchDefaults(proxies=("expressivity",), ranking="mean_rank", weights={"expressivity": 1.0})
    """Chosen by ``benchmarks/bench_size_space.py`` on a seed-0 sample (500 random configurations and
    50 groups of equal parameter count): of NB201's search proxies and its ranking, the best mean
    of the overall and the within-group Spearman (0.788 and 0.184; NB201's ranking 0.379 and
    -0.315). On the seed-1 sample: 0.834 and 0.217 (parameters alone: 0.885 overall). See
    ``report/results/bench_size_space.json``."""

    presets = {"score": {}, "tournament": {}, "full": {}}
    """Every size is the benchmark's own network: the channel counts are the genotype, and at one
    cell a stage and at most 64 channels it is small enough to score and train as it is."""

    def __init__(self, choices: Sequence[int] = CHANNEL_CHOICES) -> None:
        if not choices:
            raise ValueError("the sss space needs at least one channel count to choose from")
        check_positive_ints(**{f"choices[{i}]": c for i, c in enumerate(choices)})
        self.choices = tuple(sorted(set(choices)))
        self.cell: NB201Genotype = NB201Space().parse(BEST_CELL)

    @property
    def ops(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.cell.ops))

    def parse(self, text: str) -> SizeGenotype:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"empty or non-string sss genotype: {text!r}")
        tokens = text.strip().split(SEPARATOR)
        if len(tokens) != NUM_LAYERS:
            raise ValueError(
                f"an sss genotype has {NUM_LAYERS} channel counts joined by {SEPARATOR!r} "
                f"(e.g. 8:16:32:64:64), got {len(tokens)} in {text!r}"
            )
        channels, pos = [], 0
        for layer, token in enumerate(tokens):
            if not is_ascii_digits(token):
                raise ValueError(f"channel count {token!r} of layer {layer} at position {pos} is not a number")
            channels.append(int(token))
            pos += len(token) + 1
        genotype = SizeGenotype(tuple(channels))
        self.validate(genotype)
        return genotype

    def format(self, genotype: SizeGenotype) -> str:
        self.validate(genotype)
        return str(genotype)

    def validate(self, genotype: Any) -> None:
        if not isinstance(genotype, SizeGenotype):
            raise ValueError(f"expected a SizeGenotype, got {type(genotype).__name__}")
        channels = genotype.channels
        if not isinstance(channels, tuple) or len(channels) != NUM_LAYERS:
            raise ValueError(f"an sss genotype has {NUM_LAYERS} channel counts, got {channels!r}")
        for layer, c in enumerate(channels):
            if isinstance(c, bool) or not isinstance(c, int) or c not in self.choices:
                raise ValueError(
                    f"channel count {c!r} of layer {layer} is not one of {', '.join(map(str, self.choices))}"
                )

    def canonical(self, genotype: SizeGenotype | str) -> str:
        """The text form: every configuration is a different network."""
        return str(self.coerce(genotype))

    def sample(self, rng: np.random.Generator) -> SizeGenotype:
        return SizeGenotype(tuple(self.choices[i] for i in rng.integers(len(self.choices), size=NUM_LAYERS)))

    def all_genotypes(self) -> list[SizeGenotype]:
        """Every configuration of the space, in lexicographic order."""
        return [SizeGenotype(c) for c in itertools.product(self.choices, repeat=NUM_LAYERS)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, choices={list(self.choices)})"

    def _build(self, genotype: SizeGenotype, *, num_classes: int, in_channels: int) -> SizeNetwork:
        """The NATS-Bench size-space network of ``genotype`` (the space has no size arguments of its own).

        Args:
            genotype: the channel counts.
            num_classes: width of the linear head.
            in_channels: image channels.
        """
        return SizeNetwork(genotype, self.cell, num_classes=num_classes, in_channels=in_channels)


class SizeCell(NB201Cell):
    """An NB201 cell whose edges out of its input map ``C_in`` to ``C_out`` channels (the others keep ``C_out``)."""

    def __init__(self, genotype: NB201Genotype, C_in: int, C_out: int) -> None:
        nn.Module.__init__(self)
        self.edges = nn.ModuleList(
            create_op(op, C_in if src == 0 else C_out, C_out, 1) for node in genotype.nodes for op, src in node
        )
        self.sources = [[src for _, src in node] for node in genotype.nodes]


class SizeNetwork(nn.Module):
    """Stem, cell, reduction, cell, reduction, cell at the genotype's channel counts, BN-ReLU, pooling, linear."""

    def __init__(
        self, genotype: SizeGenotype, cell: NB201Genotype, num_classes: int = 10, in_channels: int = 3
    ) -> None:
        super().__init__()
        self.genotype = genotype
        first = genotype.channels[0]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, first, 3, padding=1, bias=False), nn.BatchNorm2d(first))
        layers: list[nn.Module] = []
        previous = first
        for layer, width in enumerate(genotype.channels):
            layers.append(ResidualReduction(previous, width) if layer % 2 else SizeCell(cell, previous, width))
            previous = width
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(previous), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(previous, num_classes)

    def extra_repr(self) -> str:
        return f"genotype={self.genotype}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(out).flatten(1))
