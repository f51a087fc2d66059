"""Which engine holds a deployment's data: PostgreSQL when DATABASE_URL is set, else SQLite at DATABASE_PATH."""

from __future__ import annotations

from pathlib import Path

from core.crypto import Sealer
from storage.postgres.store import PostgresStore
from storage.sqlite.store import SqlStore, Store


async def open_store(
    path: Path,
    url: str | None = None,
    sealer: Sealer | None = None,
    *,
    busy_timeout_ms: int = 5000,
    schema: str | None = None,
) -> SqlStore:
    """Open (and migrate) the deployment's store: the PostgreSQL database at `url` when given (in `schema`, a
    council's own, when given), else the SQLite file at `path` (the default)."""
    if url:
        return await PostgresStore.open(url, sealer, schema=schema)
    return await Store.open(path, sealer, busy_timeout_ms=busy_timeout_ms)
