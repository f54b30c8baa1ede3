"""``fne export``: a trained ``model.pt`` (one network or an ensemble) as TorchScript, a
``torch.export`` program or ONNX, for deployment without fne.

    fne export --model runs/fm_train/model.pt --out runs/fm_train/model.ts
    fne export --model runs/fm_train/model.pt --format program        # runs/fm_train/model.pt2
    fne export --model runs/fm_train/model.pt --format onnx           # runs/fm_train/model.onnx
    fne export --sample 50 --out device_sample                        # 50 cells to time on your device

The export takes float images in ``[0, 1]`` (``N x C x H x W``, any batch size) and normalises
them itself. It is compared with the network on random images before it is kept; the command
prints the largest difference. ONNX needs the ``onnx`` extra (``pip install 'fne[onnx]'``).

``--sample N`` exports instead N cells of ``--space`` that cover it (every op on every edge, a
spread of sizes; :mod:`fne.costs.sample_export`) with ``cells.csv`` and ``time_cells.py``, a timing
script that needs only torch: run it on the device, then search with ``--cost table --cost-table
measured.csv --cost-column latency_ms``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass

from fne.cli.common import config_parser, run_guarded
from fne.costs.sample_export import SAMPLE_FORMATS, export_sample
from fne.genotopheno import list_spaces
from fne.model_file import EXPORT_FORMATS, Export, export_model, read_model_info
from fne.options import check_options, from_args, option

__all__ = ["ExportConfig", "build_parser", "main"]

DESCRIPTION = "Export a trained model.pt to TorchScript, a torch.export program or ONNX."


@dataclass(frozen=True)
class ExportConfig:
    """The options of ``fne export``."""

    model: str = option("", "the model.pt to export")
    format: str = option(
        "torchscript",
        "torchscript (model.ts), program (a torch.export program, model.pt2) or onnx (model.onnx; "
        "needs pip install 'fne[onnx]')",
        choices=EXPORT_FORMATS,
    )
    out: str | None = option(
        None, "the file to write (default: model.ts, model.pt2 or model.onnx beside the model); with --sample, a folder"
    )
    sample: int = option(0, "export N cells of --space to time on a device instead of a model (0: no)", low=0)
    space: str = option("nb201", "the space --sample draws from", choices=list_spaces)
    seed: int = option(0, "seed of the --sample choice", low=0)
    in_channels: int = option(3, "image channels of the --sample networks", low=1)
    image_size: int = option(32, "image side of the --sample networks", low=1)
    num_classes: int = option(10, "classes of the --sample networks", low=1)


def export(config: ExportConfig) -> Export:
    """Export ``config.model``; return what was written and how closely it matches the network."""
    check_options(config)
    if not config.model:
        raise ValueError("--model must name a model.pt")
    return export_model(config.model, config.out, format=config.format)


def export_cells(config: ExportConfig) -> str:
    """Export ``config.sample`` cells of ``config.space`` to the folder ``config.out``; return the folder."""
    check_options(config)
    if not config.out:
        raise ValueError("--sample needs --out FOLDER for the networks, cells.csv and time_cells.py")
    if config.format not in SAMPLE_FORMATS:
        raise ValueError(f"--sample exports {' or '.join(SAMPLE_FORMATS)} networks, not {config.format}")
    folder = export_sample(
        config.space,
        config.sample,
        config.out,
        build_kwargs={"num_classes": config.num_classes},
        input_shape=(config.in_channels, config.image_size, config.image_size),
        seed=config.seed,
        fmt=config.format,
    )
    return str(folder)


def build_parser(prog: str | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``fne export``, generated from :class:`ExportConfig`."""
    return config_parser(ExportConfig, DESCRIPTION, prog, parser)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Export as the parsed options ask and print where, with the check's result."""
    config = from_args(ExportConfig, args)
    if config.sample:
        folder = run_guarded(parser, lambda: export_cells(config))
        print(json.dumps({"sample": config.sample, "folder": folder, "time_with": f"python {folder}/time_cells.py"}))
        return 0
    written = run_guarded(parser, lambda: export(config))
    info = read_model_info(config.model)
    printed = {
        config.format: str(written.path),
        "input": [info.channels, *info.image_size],
        "classes": list(info.classes),
        "max_abs_diff": written.max_abs_diff,
        "checked_with": written.checked_with,
    }
    if info.is_ensemble:
        printed["ensemble"] = len(info.members)
    print(json.dumps(printed, indent=2))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` and export."""
    parser = build_parser(prog)
    return run(parser, parser.parse_args(argv), argv)
