"""Files written atomically, and the check that an output folder can be written.

Every writer here writes a temporary file in the target's folder, flushes it to disk and
renames it over the target, so a reader (or a process killed at any moment) sees either the
old or the new content, never a partial one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "PathLike",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_torch",
    "check_out_folder",
    "current_umask",
    "jsonable",
]

PathLike = str | Path


def current_umask() -> int:
    """The process's file-creation mask (read without changing it for longer than a call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: PathLike, write: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file, which is synced and renamed.

    The temporary file lies in the folder of ``path`` (created when missing) and is removed
    when ``write`` fails. The file gets the mode a plain ``open(path, "w")`` would give it
    (``0o666`` less the umask), not the private mode of the temporary file.

    Args:
        path: The file to write.
        write: Writes the whole content to the path it is given (it may reopen the file).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def jsonable(value: Any) -> Any:
    """Replace non-finite floats by None so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def atomic_write_json(path: PathLike, obj: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """Write ``obj`` as strict JSON (non-finite floats become ``null``) atomically."""
    text = json.dumps(jsonable(obj), indent=indent, allow_nan=False, sort_keys=sort_keys)
    atomic_write_text(path, text + "\n")


def atomic_save_torch(path: PathLike, obj: object) -> Path:
    """``torch.save(obj, path)`` atomically (see :func:`atomic_write`); read it with ``torch.load``."""
    import torch  # imported on use, so that writing JSON does not load torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def check_out_folder(out: PathLike, error: type[Exception] = ValueError) -> Path:
    """Check that the output folder ``out`` is a folder or can be created as one.

    Args:
        out: The ``--out`` folder of a command.
        error: The exception type to raise (each command keeps its own).

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        error: ``out`` is a file, or lies below one (the message names the file).
    """
    out = Path(out)
    blocker = next((folder for folder in (out, *out.parents) if folder.exists()), None)
    if blocker is None or blocker.is_dir():
        return out
    if blocker == out:
        raise error(f"--out {out} exists and is not a folder: {out} is a file, not a folder; choose another --out")
    raise error(f"--out {out} lies below {blocker}, which is a file, not a folder; choose another --out")
