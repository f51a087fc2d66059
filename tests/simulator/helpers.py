"""What the simulator's tests share: the simulated user's id, error patterns and keyboards."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

USER_ID = 1001


def bad(description: str) -> str:
    """A pattern for a BadRequest: PTB drops "Bad Request: " and capitalize()s the rest, lowercasing it."""
    return "(?i)" + re.escape(description)


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows])
