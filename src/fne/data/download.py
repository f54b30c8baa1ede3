"""Fetching an archive with an md5 check, and extracting a tar archive safely.

A download goes to a temporary ``.part`` file beside the target and is renamed only once its
md5 matches, so a failed, interrupted or corrupt download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

logger = logging.getLogger(__name__)

__all__ = ["DownloadError", "file_md5", "fetch_file", "extract_archive"]


class DownloadError(RuntimeError):
    """A download that failed (offline, timed out, refused, HTTP error, wrong checksum); nothing
    of it is left behind."""


_NETWORK_ERRORS = (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException)


def file_md5(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex md5 digest of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_url(url: str, out: BinaryIO, timeout: float) -> str:
    """Stream ``url`` into ``out`` and return its md5 (network errors propagate)."""
    digest = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=timeout) as response:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def fetch_file(
    url: str, target: str | Path, md5: str, *, timeout: float = 60.0, what: str = "the file", hint: str = ""
) -> Path:
    """Download ``url`` to ``target``, keeping it only when its md5 is ``md5``.

    Args:
        url: Address to fetch (``http(s)://`` or ``file://``).
        target: Final file path; its folder is created.
        md5: Expected hex md5 of the file.
        timeout: Seconds to wait for the connection and for each read.
        what: What is downloaded, for messages (e.g. ``"CIFAR-100"``).
        hint: Appended to a network error message (e.g. how to place the data by hand).

    Returns:
        ``target``.

    Raises:
        DownloadError: offline, timed out, refused or an HTTP error; or a checksum mismatch.
            In every case the partial download is deleted.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got = _copy_url(url, out, timeout)
        if got != md5.lower():
            raise DownloadError(
                f"checksum mismatch for {what} from {url}: md5 {got}, expected {md5}; the download was discarded"
            )
        os.replace(tmp, target)
    except _NETWORK_ERRORS as err:
        raise DownloadError(
            f"could not download {what} from {url} into {target.parent} ({err}). {hint}".rstrip()
        ) from err
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _check_members(members: Sequence[tarfile.TarInfo], archive: Path, dest: Path) -> None:
    """Reject links, devices, absolute paths and paths escaping ``dest``."""
    root = dest.resolve()
    for member in members:
        parts = PurePosixPath(member.name).parts
        target = (root / member.name).resolve()
        unsafe = (
            not (member.isfile() or member.isdir())
            or member.name.startswith(("/", "\\"))
            or ".." in parts
            or (target != root and root not in target.parents)
        )
        if unsafe:
            raise ValueError(f"{archive}: unsafe archive member {member.name!r}; nothing extracted")


def _move_into(child: Path, dest: Path) -> Path:
    target = dest / child.name
    if target.exists():
        raise FileExistsError(f"{target} already exists; remove it before extracting again")
    os.replace(child, target)
    return target


def extract_archive(archive: str | Path, dest: str | Path) -> list[Path]:
    """Safely extract a tar archive into ``dest``; return the top-level paths created.

    Members are checked first (regular files and folders only, no absolute paths, no ``..``),
    extracted into a temporary folder inside ``dest`` and then moved into place.

    Raises:
        ValueError: not a readable tar archive, or an unsafe member (nothing is extracted).
        FileExistsError: a top-level entry already exists in ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(archive, "r:*")
    except tarfile.TarError as err:
        raise ValueError(f"{archive}: not a readable tar archive ({err})") from err
    with tar:
        members = tar.getmembers()
        _check_members(members, archive, dest)
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
        try:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, members=members, filter="data")
            else:
                tar.extractall(staging, members=members)
            return [_move_into(child, dest) for child in sorted(staging.iterdir())]
        finally:
            shutil.rmtree(staging, ignore_errors=True)
