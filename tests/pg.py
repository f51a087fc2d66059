"""A throwaway PostgreSQL server for the tests: initdb in a temporary directory, a unix socket there, trust auth.

Started once per test session when the server binaries can be found (PATH, /usr/local/bin, the Debian packages'
/usr/lib/postgresql/*/bin), stopped at the end of the session however it ends. PostgreSQL refuses to run as root:
as root, the server runs as the `postgres` system user, in a directory it owns. Each test gets a fresh database,
copied from a template migrated once per session (CREATE DATABASE ... TEMPLATE is a file copy: fast).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import asyncpg

from storage.postgres.store import PostgresStore

T = TypeVar("T")

SKIP_REASON = "PostgreSQL tests skipped: no initdb/pg_ctl found (apt install postgresql)"
_SEARCHED = (Path("/usr/local/bin"), Path("/usr/lib/postgresql"))


def _version(folder: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", folder.parent.name)) or (0,)


def server_binaries() -> Path | None:
    """A folder holding both initdb and pg_ctl, the newest PostgreSQL found; None when there is none."""
    candidates: list[Path] = []
    for name in ("pg_ctl", "initdb"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found).resolve().parent)
    candidates.append((_SEARCHED[0] / "pg_ctl").resolve().parent)
    candidates += sorted(_SEARCHED[1].glob("*/bin"), key=_version, reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


@dataclass
class Cluster:
    """A running throwaway server: connect through `socket_dir` as role postgres."""

    binaries: Path
    root: Path
    user: str | None  # the system user the server runs as (None: the current one)
    names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    TEMPLATE: ClassVar[str] = "fieldbot_template"  # migrated once per session; each test's database is a copy

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def _run(self, *args: str) -> None:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    @classmethod
    def start(cls, binaries: Path, *, durable: bool = False) -> Cluster:
        """Start a server; `durable`: with fsync, as a production server runs (for timings), else without."""
        user = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="fieldbot-pg-"))
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster = cls(binaries, root, user)
        atexit.register(cluster.stop)  # should the session's own teardown never run (the process is interrupted)
        data = root / "data"
        try:
            cluster._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale")
            # Only a unix socket in our directory (no TCP port to collide with); durability is not needed here.
            options = f"-k {root} -c listen_addresses='' -c max_connections=200"
            if not durable:
                options += " -c fsync=off -c full_page_writes=off"
            cluster._run("pg_ctl", "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            if (self.root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    async def create_database(self, template: str | None = None, name: str | None = None) -> str:
        """A new empty database (or a copy of `template`); returns its name."""
        name = name or f"t{next(self.names)}"
        connection = await asyncpg.connect(self.url("postgres"))
        try:
            copy = f" TEMPLATE {template}" if template else ""
            await connection.execute(f"CREATE DATABASE {name}{copy}")
        finally:
            await connection.close()
        return name

    async def drop_database(self, name: str) -> None:
        connection = await asyncpg.connect(self.url("postgres"))
        try:
            await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await connection.close()


def run_aside(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on an event loop of its own, in another thread: session set-up reached from
    inside a test's running loop cannot run a loop of its own on that thread."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, work).result()


_shared: list[Cluster] = []


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def shared_cluster() -> Cluster | None:
    """The process's one throwaway server, started on first use and stopped when the process ends (atexit);
    None where no server binaries are found."""
    if not _shared:
        binaries = server_binaries()
        if binaries is None or (os.geteuid() == 0 and not _has_user("postgres")):
            return None  # as root the server runs as `postgres`, which the Debian package creates
        cluster = Cluster.start(binaries)
        run_aside(_migrate_template(cluster))
        _shared.append(cluster)
    return _shared[0]


async def _migrate_template(cluster: Cluster) -> None:
    await cluster.create_database(name=Cluster.TEMPLATE)
    store = await PostgresStore.open(cluster.url(Cluster.TEMPLATE))
    await store.close()
