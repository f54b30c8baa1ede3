"""The ``fne`` command: ``fne search``, ``fne score``, ``fne train``, ``fne export``.

Every subcommand's options are generated from its configuration dataclass (see
:mod:`fne.options`); ``src/NAS_on_cifar10.py`` and ``src/plot_scores.py`` run the same code
as ``fne search`` and ``fne score``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from fne import __version__

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS = ("search", "score", "train", "export")


def _module(name: str) -> Any:
    from fne.cli import export_command, score_command, search_command, train_command

    return {"search": search_command, "score": score_command, "train": train_command, "export": export_command}[name]


def build_parser() -> argparse.ArgumentParser:
    """The ``fne`` parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(prog="fne", description="fne: training-free neural architecture search")
    parser.add_argument("--version", action="version", version=f"fne {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name in COMMANDS:
        module = _module(name)
        command = sub.add_parser(name, help=module.DESCRIPTION, description=module.DESCRIPTION)
        module.build_parser(parser=command)
        command.set_defaults(command_parser=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fne <command> [options]``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    result = _module(args.command).run(args.command_parser, args, argv[1:])
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
