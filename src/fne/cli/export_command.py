"""``fne export``: a trained ``model.pt`` as TorchScript (or a ``torch.export`` program), for
deployment without fne.

    fne export --model runs/fm_train/model.pt --out runs/fm_train/model.ts
    fne export --model runs/fm_train/model.pt --format program        # runs/fm_train/model.pt2

The export takes float images in ``[0, 1]`` (``N x C x H x W``) and normalises them itself.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fne.cli.common import config_parser, run_guarded
from fne.model_file import EXPORT_FORMATS, export_program, export_torchscript, read_model_info
from fne.options import check_options, from_args, option

__all__ = ["ExportConfig", "build_parser", "main"]

DESCRIPTION = "Export a trained model.pt to TorchScript."


@dataclass(frozen=True)
class ExportConfig:
    """The options of ``fne export``."""

    model: str = option("", "the model.pt to export")
    format: str = option(
        "torchscript", "torchscript (model.ts) or program (a torch.export program, model.pt2)", choices=EXPORT_FORMATS
    )
    out: str | None = option(None, "the file to write (default: model.ts or model.pt2 beside the model)")


def export(config: ExportConfig) -> Path:
    """Export ``config.model``; return the TorchScript file written."""
    check_options(config)
    if not config.model:
        raise ValueError("--model must name a model.pt")
    if config.format == "program":
        return export_program(config.model, Path(config.out) if config.out else Path(config.model).with_suffix(".pt2"))
    return export_torchscript(config.model, Path(config.out) if config.out else Path(config.model).with_suffix(".ts"))


def build_parser(prog: str | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``fne export``, generated from :class:`ExportConfig`."""
    return config_parser(ExportConfig, DESCRIPTION, prog, parser)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Export as the parsed options ask and print where."""
    config = from_args(ExportConfig, args)
    path = run_guarded(parser, lambda: export(config))
    info = read_model_info(config.model)
    print(
        json.dumps(
            {config.format: str(path), "input": [info.channels, *info.image_size], "classes": list(info.classes)},
            indent=2,
        )
    )
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` and export."""
    parser = build_parser(prog)
    return run(parser, parser.parse_args(argv), argv)
