"""The DARTS CIFAR network a genotype builds: stem, cells, auxiliary head and drop path."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fne.genotopheno.darts.genotype import NUM_INPUTS, DartsGenotype, Pair, format_genotype
from fne.genotopheno.ops import FactorizedReduce, ReLUConvBN, create_op
from fne.genotopheno.space import check_positive_ints


def drop_path(x: torch.Tensor, drop_prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob`` and rescale the rest."""
    keep = 1.0 - drop_prob
    mask = torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device) < keep
    return x * mask.to(x.dtype) / keep


class DartsCell(nn.Module):
    """One DARTS cell: preprocess both inputs to ``C`` channels, sum edge pairs, concat nodes."""

    def __init__(
        self,
        pairs: Sequence[Pair],
        concat: Sequence[int],
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (
            FactorizedReduce(C_prev_prev, C, 2) if reduction_prev else ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        )
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        self.edges = nn.ModuleList(
            create_op(op, C, C, 2 if reduction and idx < NUM_INPUTS else 1, True) for op, idx in pairs
        )
        self.indices = tuple(idx for _, idx in pairs)
        self.concat = tuple(concat)
        self.multiplier = len(self.concat)

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(len(self.edges) // 2):
            total = None
            for e in (2 * node, 2 * node + 1):
                h = self.edges[e](states[self.indices[e]])
                if drop_prob > 0.0 and not isinstance(self.edges[e], nn.Identity):
                    h = drop_path(h, drop_prob, generator)
                total = h if total is None else total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """The DARTS CIFAR auxiliary classifier for 8x8 feature maps."""

    def __init__(self, C: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class DartsNetwork(nn.Module):
    """The DARTS CIFAR network: stem, ``layers`` cells (reductions at 1/3 and 2/3), pool, linear.

    ``drop_path_prob`` may be changed between epochs; drop path acts only in training mode.
    """

    def __init__(
        self,
        genotype: DartsGenotype,
        *,
        C: int,
        num_classes: int,
        layers: int,
        auxiliary: bool = False,
        drop_path_prob: float = 0.0,
        stem_multiplier: int = 3,
        in_channels: int = 3,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        check_positive_ints(
            C=C, num_classes=num_classes, layers=layers, stem_multiplier=stem_multiplier, in_channels=in_channels
        )
        if not 0.0 <= drop_path_prob < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {drop_path_prob!r}")
        self.genotype, self.C, self.layers, self.num_classes = genotype, C, layers, num_classes
        self.drop_path_prob, self.generator = drop_path_prob, generator
        self.aux_logits: torch.Tensor | None = None
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        self.aux_index = 2 * layers // 3
        self.cells, C_prev, C_aux = self._make_cells(genotype, C_curr, C, layers)
        self.auxiliary_head = AuxiliaryHead(C_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def _make_cells(self, genotype: DartsGenotype, C_stem: int, C: int, layers: int) -> tuple[nn.ModuleList, int, int]:
        cells = nn.ModuleList()
        C_prev_prev, C_prev, C_curr, C_aux = C_stem, C_stem, C, C_stem
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            C_curr *= 2 if reduction else 1
            pairs, concat = (
                (genotype.reduce, genotype.reduce_concat) if reduction else (genotype.normal, genotype.normal_concat)
            )
            cell = DartsCell(pairs, concat, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            cells.append(cell)
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            C_aux = C_prev if i == self.aux_index else C_aux
        return cells, C_prev, C_aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for ``x`` of shape ``(N, 3, H, W)``; sets ``aux_logits`` when training."""
        self.aux_logits = None
        drop_prob = self.drop_path_prob if self.training else 0.0
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, drop_prob, self.generator)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                self.aux_logits = self.auxiliary_head(s1)
        return self.classifier(self.global_pooling(s1).flatten(1))

    def extra_repr(self) -> str:
        return (
            f"genotype={format_genotype(self.genotype)}, C={self.C}, layers={self.layers}, "
            f"num_classes={self.num_classes}, auxiliary={self.auxiliary_head is not None}, "
            f"drop_path_prob={self.drop_path_prob}"
        )
