"""What every ``fne`` subcommand shares: usage errors, Ctrl-C, logging."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from fne.data.download import DownloadError
from fne.options import add_options
from fne.progress import configure_logging

__all__ = ["USAGE_ERRORS", "run_guarded", "resume_command"]

T = TypeVar("T")
USAGE_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError)
"""What a bad option, file or folder raises; each ends the command with exit status 2."""


def resume_command(prog: str, argv: Sequence[str] | None) -> str:
    """The command line that continues a run: the same options plus ``--resume``."""
    args: list[str] = list(sys.argv[1:] if argv is None else argv)
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join([*shlex.split(prog), *args])


def run_guarded(parser: argparse.ArgumentParser, work: Callable[[], T], *, resume: str | None = None) -> T:
    """Run ``work`` with logging on; a usage error exits 2 with one line, Ctrl-C exits 130.

    Args:
        parser: the command's parser (names the program in messages).
        work: the command's work.
        resume: the command that continues after Ctrl-C (None: the run cannot be resumed).
    """
    configure_logging(logging.INFO)
    try:
        return work()
    except USAGE_ERRORS as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    except DownloadError as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    except KeyboardInterrupt:
        hint = f"; continue with: {resume}" if resume else ""
        parser.exit(130, f"\ninterrupted{hint}\n")
    raise AssertionError("unreachable")


def config_parser(
    config: type,
    description: str,
    prog: str | None = None,
    parser: argparse.ArgumentParser | None = None,
    skip: Sequence[str] = (),
) -> argparse.ArgumentParser:
    """The options of the configuration dataclass ``config`` (all but ``skip``), added to
    ``parser`` or to a new parser named ``prog``."""
    parser = parser or argparse.ArgumentParser(prog=prog, description=description)
    add_options(parser, config, skip=tuple(skip))
    return parser
