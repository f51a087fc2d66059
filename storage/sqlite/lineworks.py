"""The LINE WORKS users fieldbot has met: each user id and the account number staff and drafts know them by
(core/accounts.py), so that a message for an account can be sent to its LINE WORKS user."""

from __future__ import annotations

from datetime import datetime

from core.accounts import lineworks_account
from core.clock import utc_iso
from storage.sql import Database
from storage.types import StorageError


class LineWorksUsers:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[int, str] = {}  # never changes once written: safe to keep across processes

    async def remember(self, user_id: str, now: datetime) -> int:
        """The account number of a LINE WORKS user, recorded the first time they are met."""
        account = lineworks_account(user_id)
        if self._known.get(account) == user_id:
            return account
        await self.db.execute(
            "INSERT INTO lineworks_users (account, user_id, first_seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (account, user_id, utc_iso(now)),
        )
        if await self.user_id(account) != user_id:
            # Two user ids whose 62-bit hashes meet: never seen, but not to be mixed up if it happens.
            raise StorageError("a LINE WORKS account number is taken by another user", kind="other")
        return account

    async def user_id(self, account: int) -> str | None:
        """The LINE WORKS user an account number stands for (None: not a LINE WORKS user we have met)."""
        known = self._known.get(account)
        if known is not None:
            return known
        row = await self.db.fetchone("SELECT user_id FROM lineworks_users WHERE account = ?", (account,))
        if row is None:
            return None
        self._known[account] = str(row[0])
        return self._known[account]
