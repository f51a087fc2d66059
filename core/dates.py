"""Reading the dates staff type (11/20, 2026-11-20, 11月20日) and writing dates the way staff read them."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from core.i18n import t

_FULL = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_SHORT = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})日?$")


def normalise(text: str) -> str:
    """Full-width digits and punctuation to ASCII, spaces removed (phones often type full-width)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def parse_date(text: str, today: date, *, prefer: str = "past") -> date | None:
    """A typed date, or None when it is not a real date.

    A date without a year is taken in the year that puts it nearest to `today` on the preferred side:
    for an outing (prefer="past") 12/30 typed on 5 January means last year; for a due date
    (prefer="future") 1/5 typed on 30 December means next year.
    """
    cleaned = normalise(text)
    if match := _FULL.match(cleaned):
        year, month, day = (int(g) for g in match.groups())
        return _make(year, month, day)
    if match := _SHORT.match(cleaned):
        month, day = (int(g) for g in match.groups())
        candidate = _make(today.year, month, day)
        if candidate is None:
            # 2/29 in a common year: try the neighbouring year on the preferred side.
            other = today.year - 1 if prefer == "past" else today.year + 1
            return _make(other, month, day)
        if prefer == "past" and candidate > today:
            return _make(today.year - 1, month, day)
        if prefer == "future" and candidate < today:
            return _make(today.year + 1, month, day)
        return candidate
    return None


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def short(day: date) -> str:
    """11/23(月)"""
    return t("date.short", month=day.month, day=day.day, weekday=t("date.weekdays")[day.weekday()])


def moment(when: datetime) -> str:
    """12/4(金) 19:55, in the time zone `when` is given in."""
    return t("date.moment", date=short(when.date()), hour=when.hour, minute=when.minute)


def long(day: date) -> str:
    """2026年11月23日(月)"""
    return t("date.long", year=day.year, month=day.month, day=day.day, weekday=t("date.weekdays")[day.weekday()])
