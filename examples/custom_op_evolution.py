"""Evolve cells that use a new operation.

Register the op once with ``@register_op``; name it in the space's op list; the
evolution's mutations and crossovers then draw it like any built-in op::

    python examples/custom_op_evolution.py --generations 3 --pop-size 8
"""

from __future__ import annotations

import argparse
import logging

import torch
from torch import nn

import fne.evolution as fe
from fne.genotopheno import get_space, list_ops, register_op

OP_NAME = "conv_1x5_5x1"


def conv_1x5_5x1(C_in: int, C_out: int, stride: int, affine: bool) -> nn.Module:
    """ReLU, a 1x5 then a 5x1 convolution (a factorised 5x5), batch norm."""
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(C_in, C_out, (1, 5), stride=(1, stride), padding=(0, 2), bias=False),
        nn.Conv2d(C_out, C_out, (5, 1), stride=(stride, 1), padding=(2, 0), bias=False),
        nn.BatchNorm2d(C_out, affine=affine),
    )


if OP_NAME not in list_ops():
    register_op(OP_NAME)(conv_1x5_5x1)


def run_example(
    *, generations: int = 2, pop_size: int = 6, seed: int = 0, images: int = 16, progress: bool = False
) -> fe.EvolutionResult:
    """Search an ``fne`` space whose ops include the custom op; return the result.

    The proxies are computed on random images here so that the example needs no data;
    a real search uses CIFAR-10 images (see ``src/NAS_on_cifar10.py``).
    """
    space = get_space("channels", ops=("skip_connect", "sep_conv_3x3", OP_NAME), max_nodes=4, max_channels=4)
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(images, 3, 16, 16, generator=gen)
    targets = torch.randint(0, 10, (images,), generator=gen)
    scorer = fe.Scorer(
        space,
        ("naswot", "grad_corr"),
        inputs=inputs,
        targets=targets,
        device="cpu",
        seed=seed,
        build_kwargs={"C": 4, "num_cells": 1, "num_stages": 2, "channel_scale": 1},
    )
    evolution = fe.Evolution(space=space, scorer=scorer, pop_size=pop_size, generations=generations, seed=seed)
    return evolution.run(progress=progress)


def main() -> None:
    """Parse the options and print the picked cell."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--pop-size", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    result = run_example(generations=args.generations, pop_size=args.pop_size, seed=args.seed, progress=True)
    print("picked cell:", result.best["arch"])
    print("scores:", result.best["scores"])


if __name__ == "__main__":
    main()
