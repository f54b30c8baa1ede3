"""Search checkpoints, written atomically (:mod:`fne.files`). A checkpoint is a JSON document::

    {"format": "fne-evolution-checkpoint", "version": 1, "config": {...}, "state": {...}}

``config`` is what defines the search (space, population size, seed, ...); resuming with
a different one is refused, naming the differing keys. ``state`` is
:meth:`fne.evolution.evolution.Evolution.state_dict`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fne.files import atomic_write_json, jsonable

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "save_checkpoint",
    "read_checkpoint",
    "config_mismatch",
]

CHECKPOINT_FORMAT = "fne-evolution-checkpoint"
CHECKPOINT_VERSION = 1

PathLike = str | Path


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
        k: (saved.get(k), current.get(k)) for k in sorted(keys) if jsonable(saved.get(k)) != jsonable(current.get(k))
    }


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
