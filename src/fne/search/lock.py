"""An exclusive lock on a run's output folder, held for the run's lifetime.

Two runs writing into one folder would overwrite each other's files, the last writer
winning. :class:`FolderLock` takes an ``fcntl`` lock on ``<folder>/.lock`` that the kernel
releases when the holding process ends, however it ends; the file records the holder's
process id and start time, so that a second run can say who holds the folder, and so
that a lock file left by a dead process is recognised (and taken over, with a message).
The file is removed when the lock is released::

    with FolderLock(out):
        ...  # write the run's files
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["FolderLock", "FolderBusyError", "LOCK_NAME"]

LOCK_NAME = ".lock"


class FolderBusyError(ValueError):
    """Another live process holds the folder's lock."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


class FolderLock:
    """Exclusive lock on ``folder`` (created if missing) for one run.

    Args:
        folder: the run's output folder.

    Raises (from :meth:`acquire`):
        FolderBusyError: another live process holds the lock (the message names it).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock, or raise :class:`FolderBusyError` at once if it is held."""
        self.folder.mkdir(parents=True, exist_ok=True)
        while self._fd is None:
            previous = _read_holder(self.path)
            fd = self._lock_file()
            if _same_file(fd, self.path):
                self._fd = fd
                self._note_stale(previous)
            else:  # the file was removed by a run releasing it meanwhile: lock the new one
                os.close(fd)
        self._write_holder()
        return self

    def _lock_file(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES):
                raise FolderBusyError(self._busy_message(_read_holder(self.path))) from None
            raise
        return fd

    def _busy_message(self, holder: dict[str, Any]) -> str:
        who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
        since = holder.get("started")
        when = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" if since else ""
        return (
            f"--out {self.folder} is in use by another run ({who}{when}); wait for it to finish "
            "or choose another --out (nothing was changed)"
        )

    def _note_stale(self, previous: dict[str, Any]) -> None:
        pid = previous.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and previous.get("host") == socket.gethostname():
            state = "still running but not holding it" if _pid_alive(pid) else "no longer running"
            logger.warning("taking over the lock of %s left by process %d (%s)", self.folder, pid, state)

    def _write_holder(self) -> None:
        assert self._fd is not None
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text.encode("utf-8"), 0)

    def release(self) -> None:
        """Remove the lock file and release the lock."""
        if self._fd is None:
            return
        try:
            if _same_file(self._fd, self.path):
                self.path.unlink()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
