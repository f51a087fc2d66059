"""The register of a deployment's councils, in SQLite: a small file beside the councils' folders.

It holds who the councils are and how they nest, never their data (each council has its own database). Read at
start-up and by the terminal's admin commands only, so it uses the standard library's connection directly.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

from core.clock import utc_iso
from core.councils import Council, CouncilExists, UnknownCouncil

_SCHEMA = """
CREATE TABLE IF NOT EXISTS councils (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    short_name  TEXT NOT NULL DEFAULT '',
    parent      TEXT REFERENCES councils (code),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    added_at    TEXT NOT NULL,
    seq         INTEGER NOT NULL
);
"""
_COLUMNS = "code, name, short_name, parent, enabled"


def _council(row: tuple[str, str, str, str | None, int]) -> Council:
    return Council(code=row[0], name=row[1], short_name=row[2], parent=row[3], enabled=bool(row[4]))


class CouncilRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path.touch(mode=0o600)
        connection = sqlite3.connect(self.path, isolation_level=None)
        connection.execute("PRAGMA foreign_keys = ON")
        connection.executescript(_SCHEMA)
        return connection

    def all(self) -> list[Council]:
        """Every council, enabled or not, in the order they were added."""
        if not self.path.exists():
            return []
        with closing(self._connect()) as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM councils ORDER BY seq").fetchall()
        return [_council(r) for r in rows]

    def get(self, code: str) -> Council | None:
        return next((c for c in self.all() if c.code == code), None)

    def add(self, council: Council, now: datetime) -> None:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM councils WHERE code = ?", (council.code,)).fetchone():
                    raise CouncilExists(council.code)
                if (
                    council.parent is not None
                    and not db.execute("SELECT 1 FROM councils WHERE code = ?", (council.parent,)).fetchone()
                ):
                    raise UnknownCouncil(council.parent)
                db.execute(
                    f"INSERT INTO councils ({_COLUMNS}, added_at, seq) VALUES (?, ?, ?, ?, ?, ?, "
                    "(SELECT coalesce(max(seq), 0) + 1 FROM councils))",
                    (council.code, council.name, council.short_name, council.parent, 1, utc_iso(now)),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def set_enabled(self, code: str, enabled: bool) -> bool:
        """Enable or disable a council (its data stays); False when there is no such council."""
        with closing(self._connect()) as db:
            cursor = db.execute("UPDATE councils SET enabled = ? WHERE code = ?", (int(enabled), code))
            return cursor.rowcount == 1
