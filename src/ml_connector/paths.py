"""Where ml-connector keeps its data (database, written files, logs), kept private.

The data directory holds the SQLite databases, the encryption key file, run files,
reports, held rows and HTTP logs: it is created ``0700`` and every file the product
writes is ``0600`` (:func:`make_private` sets the process umask to ``077``). A data
directory that other users can write is refused. :func:`lock_data_dir` keeps a
second worker off a data directory whose SQLite databases one worker already runs.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import TextIO

from ml_connector.errors import ConfigurationError

__all__ = [
    "ENV_HOME",
    "PRIVATE_UMASK",
    "DataDirLock",
    "default_data_dir",
    "ensure_data_dir",
    "lock_data_dir",
    "make_private",
]

#: environment variable that overrides the data directory
ENV_HOME = "ML_CONNECTOR_HOME"
#: files 0600, directories 0700
PRIVATE_UMASK = 0o077
LOCK_FILENAME = "worker.lock"


def default_data_dir() -> Path:
    """``$ML_CONNECTOR_HOME``, else ``~/.ml-connector``."""
    configured = os.environ.get(ENV_HOME)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".ml-connector"


def make_private() -> None:
    """Make every file and directory this process creates readable by its user only."""
    os.umask(PRIVATE_UMASK)


def ensure_data_dir(path: Path) -> Path:
    """Create ``path`` as ``0700`` (or tighten it to that); refuse one others can write."""
    make_private()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigurationError(
            f"data directory {path} can be written by other users (mode {mode:04o})",
            hint=f"run: chmod 700 {path}",
        )
    if mode & 0o077:
        path.chmod(0o700)
    return path


class DataDirLock:
    """An exclusive lock on a data directory, held while a worker runs on it."""

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle

    def release(self) -> None:
        """Give the data directory free for the next worker."""
        if not self._handle.closed:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()


def lock_data_dir(path: Path) -> DataDirLock:
    """Lock ``path`` for this process; a clear error when another process holds it.

    The operating system drops the lock when the process ends, also on a crash.
    """
    ensure_data_dir(path)
    handle = (path / LOCK_FILENAME).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise ConfigurationError(
            f"another ml-connector worker (pid {holder}) is running on the data directory {path}",
            hint="stop it first, or run several workers on PostgreSQL (--store-url and "
            "--system-db-url)",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return DataDirLock(handle)
