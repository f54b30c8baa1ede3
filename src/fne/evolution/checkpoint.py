"""Atomic files and search checkpoints.

Every file is written to a temporary file in the same folder, flushed to disk and then
renamed over the target, so a reader (or a run killed at any moment) sees either the
old or the new content, never a partial one. A checkpoint is a JSON document::

    {"format": "fne-evolution-checkpoint", "version": 1, "config": {...}, "state": {...}}

``config`` is what defines the search (space, population size, seed, ...); resuming with
a different one is refused, naming the differing keys. ``state`` is
:meth:`fne.evolution.evolution.Evolution.state_dict`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "config_mismatch",
]

CHECKPOINT_FORMAT = "fne-evolution-checkpoint"
CHECKPOINT_VERSION = 1

PathLike = str | Path


def current_umask() -> int:
    """The process's file-creation mask (read without changing it for longer than a call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename).

    The file gets the mode a plain ``open(path, "w")`` would give it (``0o666`` less the
    umask), not the private mode of the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(value: Any) -> Any:
    """Replace non-finite floats by None so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def atomic_write_json(path: PathLike, obj: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """Write ``obj`` as strict JSON (non-finite floats become ``null``) atomically."""
    text = json.dumps(_jsonable(obj), indent=indent, allow_nan=False, sort_keys=sort_keys)
    atomic_write_text(path, text + "\n")


def save_checkpoint(
    path: PathLike, *, config: Mapping[str, Any], state: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> None:
    """Write a checkpoint holding ``config``, ``state`` and ``extra`` keys atomically to ``path``."""
    doc = {
        **dict(extra or {}),
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": dict(config),
        "state": dict(state),
    }
    atomic_write_json(path, doc, indent=None)


def config_mismatch(saved: Mapping[str, Any], current: Mapping[str, Any], ignore: Iterable[str] = ()) -> dict[str, Any]:
    """``{key: (saved, current)}`` for every key whose value differs, ``ignore`` left out."""
    skip = set(ignore)
    keys = (set(saved) | set(current)) - skip
    return {
        k: (saved.get(k), current.get(k)) for k in sorted(keys) if _jsonable(saved.get(k)) != _jsonable(current.get(k))
    }


def load_checkpoint(
    path: PathLike, *, config: Mapping[str, Any] | None = None, ignore: Iterable[str] = ()
) -> dict[str, Any]:
    """Read a checkpoint and return its ``state`` (see :func:`read_checkpoint`)."""
    return read_checkpoint(path, config=config, ignore=ignore)["state"]


def read_checkpoint(
    path: PathLike, *, config: Mapping[str, Any] | None = None, ignore: Iterable[str] = ()
) -> dict[str, Any]:
    """Read a checkpoint and return the whole document (``config``, ``state``, extra keys).

    Args:
        path: the checkpoint file.
        config: when given, the checkpoint's config must equal it (keys in ``ignore`` aside).
        ignore: config keys allowed to differ.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: unreadable or truncated JSON, a different format or version, or a
            config that differs (the message lists each differing key).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"checkpoint {path} is corrupt (not valid JSON: {err})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an fne evolution checkpoint (format {_get(doc, 'format')!r})")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {path} has version {doc.get('version')!r}; this fne reads version {CHECKPOINT_VERSION}"
        )
    if not isinstance(doc.get("state"), dict) or not isinstance(doc.get("config"), dict):
        raise ValueError(f"checkpoint {path} is corrupt: 'state' or 'config' is missing")
    if config is not None:
        diff = config_mismatch(doc["config"], config, ignore)
        if diff:
            details = "; ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"checkpoint {path} belongs to a different search ({details})")
    return doc


def _get(doc: Any, key: str) -> Any:
    return doc.get(key) if isinstance(doc, dict) else None
