"""Whose chat an account number is: a person's Telegram user id, or the number fieldbot gives a LINE WORKS user.

Staff, drafts, reminders and the note form's links name a person's chat by one integer (`Staff.telegram_id`,
`Draft.chat_id`). Telegram user ids have at most 52 significant bits (Bot API: "at most 52 significant bits"); a
LINE WORKS user id is a string (a UUID or an email-like id). A LINE WORKS user's account number is 62 bits of the
SHA-256 of their user id with bit 62 set: never a Telegram id, never negative (a Telegram group chat), and fitting a
signed 64-bit column on both engines. The store remembers which user id each number stands for (to send to it).
"""

from __future__ import annotations

import hashlib

LINEWORKS_FLOOR = 1 << 62  # every LINE WORKS account number is at least this; every Telegram id is far below
# A LINE WORKS room (channel) that gets counts, as a Telegram group does, is known by "channel:<channel id>" (no
# LINE WORKS user id starts so: they are UUIDs or email-like ids).
CHANNEL_PREFIX = "channel:"


def lineworks_account(user_id: str) -> int:
    """The account number of a LINE WORKS user (the same user id: the same number, on every machine)."""
    digest = int.from_bytes(hashlib.sha256(user_id.encode("utf-8")).digest()[:8], "big")
    return LINEWORKS_FLOOR | (digest & (LINEWORKS_FLOOR - 1))


def lineworks_channel(channel_id: str) -> str:
    """What the store records for a LINE WORKS room in place of a user id (see CHANNEL_PREFIX)."""
    return f"{CHANNEL_PREFIX}{channel_id}"


def is_lineworks(account: int) -> bool:
    """Whether an account number names a LINE WORKS user (else a Telegram user or chat)."""
    return account >= LINEWORKS_FLOOR
