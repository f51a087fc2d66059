"""One writer per database: the running bot, and the terminal commands that rewrite data, hold an exclusive lock.

SQLite lets two processes write one file, one transaction at a time; fieldbot's caches (who is who, drafts in
progress) and its encryption key are held in memory by the process that writes. A second `fieldbot run`, or a
`rotate-key`, `restore`, `import` or `demo --reset` while the bot runs, would write behind its back. The lock is
an advisory lock (flock) on `<database>.lock`: the kernel releases it when the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from storage.types import StorageError


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class WriterLock:
    """Held from `acquire` until `release` (or the end of the process)."""

    def __init__(self, path: Path, descriptor: int, *, shared: bool = False) -> None:
        self.path = path
        self._descriptor: int | None = descriptor
        self._shared = shared  # the last shared holder to start is named in the file; others may still hold it

    @classmethod
    def acquire(cls, database: Path, what: str, *, shared: bool = False) -> WriterLock:
        """Take the lock for `what` (e.g. "the bot", "rotate-key"), or raise StorageError naming who holds it.

        `shared`: the processes of one webhook deployment (`fieldbot serve` and its `fieldbot work` processes),
        which write the same database together and keep no cache another of them could make stale; they hold it
        shared with each other, and still exclude `fieldbot run`, imports, rotate-key and restore."""
        path = lock_path(database)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 200).decode("utf-8", "replace").strip() or "another fieldbot process"
            os.close(descriptor)
            raise StorageError(
                f"{database}: in use by {holder}; stop it first (one writer at a time: the bot, an import, "
                "rotate-key, restore or demo --reset)",
                "busy",
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{what} (pid {os.getpid()})".encode())
        return cls(path, descriptor, shared=shared)

    def release(self) -> None:
        if self._descriptor is None:
            return
        with contextlib.suppress(OSError):
            if not self._shared:
                os.ftruncate(self._descriptor, 0)
        os.close(self._descriptor)  # closing the descriptor releases the lock
        self._descriptor = None

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
