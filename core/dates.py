"""Reading the dates staff type (11/20, 2026-11-20, 11月20日, R8.11.20) and writing dates the way staff read them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from core.era import ERAS, era_of
from core.i18n import t

_FULL = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_SHORT = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})日?$")
# 和暦: R8.11.20, R8/11/20, 令和8年11月20日, 令和元年5月1日, H31.4.30 (NFKC has already made ㋿ 令和, and
# full-width letters and digits ASCII).
_ERA = re.compile(
    r"^(?:(?P<reiwa>R|令和)|(?P<heisei>H|平成))(?P<year>\d{1,2}|元)[-/.年](?P<month>\d{1,2})[-/.月](?P<day>\d{1,2})日?$",
    re.IGNORECASE,
)

# A date whose year was guessed is confirmed when it lands further than this from today (about six months).
FAR_DAYS = 183


@dataclass(frozen=True, slots=True)
class TypedDate:
    """A typed date, and whether its year was typed (2026-12-25, R8.12.25) or guessed (12/25)."""

    day: date
    year_given: bool


def normalise(text: str) -> str:
    """Full-width digits and punctuation to ASCII, spaces removed (phones often type full-width)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def read_date(text: str, today: date, *, prefer: str = "past") -> TypedDate | None:
    """A typed date, or None when it is not a real date (nor one of the era it names).

    A date without a year is taken in the year that puts it nearest to `today` on the preferred side:
    for an outing (prefer="past") 12/30 typed on 5 January means last year; for a due date
    (prefer="future") 1/5 typed on 30 December means next year.
    """
    cleaned = normalise(text)
    if match := _FULL.match(cleaned):
        year, month, day = (int(g) for g in match.groups())
        return _given(_make(year, month, day))
    if match := _ERA.match(cleaned):
        return _given(_era_date(match))
    if match := _SHORT.match(cleaned):
        month, day = (int(g) for g in match.groups())
        guessed = _guess_year(month, day, today, prefer)
        return None if guessed is None else TypedDate(guessed, year_given=False)
    return None


def parse_date(text: str, today: date, *, prefer: str = "past") -> date | None:
    """The day of `read_date`, whether its year was typed or guessed."""
    typed = read_date(text, today, prefer=prefer)
    return None if typed is None else typed.day


def _given(day: date | None) -> TypedDate | None:
    return None if day is None else TypedDate(day, year_given=True)


def _guess_year(month: int, day: int, today: date, prefer: str) -> date | None:
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


def _era_date(match: re.Match[str]) -> date | None:
    """令和8年11月20日 as a date; None outside its era (R1.4.30 is still 平成, H31.5.1 already 令和)."""
    code = "reiwa" if match["reiwa"] else "heisei"
    era = next(e for e in ERAS if e.code == code)
    era_year = int(match["year"]) if match["year"].isdigit() else 1  # 元年, the first year
    found = _make(era.start.year + era_year - 1, int(match["month"]), int(match["day"])) if era_year else None
    if found is None or era_of(found)[0] != era:
        return None
    return found


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def year_guessed_far(typed: TypedDate, today: date) -> bool:
    """Whether a date's year was guessed into another year than today's, or more than about six months away:
    such a guess is confirmed, not taken (12/25 typed on 1 December would otherwise be last year's)."""
    if typed.year_given:
        return False
    return typed.day.year != today.year or abs((typed.day - today).days) > FAR_DAYS


def year_choices(day: date, today: date, allowed: Callable[[date], bool]) -> list[date]:
    """The dates to offer for a guessed year: the guess, then the same day in the year before or after that is
    allowed too and nearest to today, if any."""
    others = [_make(day.year + step, day.month, day.day) for step in (-1, 1)]
    fitting = [d for d in others if d is not None and allowed(d)]
    fitting.sort(key=lambda d: abs((d - today).days))
    return [day, *fitting[:1]]


def as_number(day: date) -> int:
    """20271101: a date where only a number fits (a button's data)."""
    return day.year * 10000 + day.month * 100 + day.day


def from_number(number: int) -> date | None:
    """The date of `as_number`, or None when the number is no date (forged data)."""
    if number <= 0:
        return None
    return _make(number // 10000, number // 100 % 100, number % 100)


def short(day: date) -> str:
    """11/23(月)"""
    return t("date.short", month=day.month, day=day.day, weekday=t("date.weekdays")[day.weekday()])


def short_for(day: date, today: date) -> str:
    """11/23(月) in this year, 2025/12/25(木) in another: a date near New Year is never read in the wrong year."""
    if day.year == today.year:
        return short(day)
    weekday = t("date.weekdays")[day.weekday()]
    return t("date.short_with_year", year=day.year, month=day.month, day=day.day, weekday=weekday)


def moment(when: datetime, today: date | None = None) -> str:
    """12/4(金) 19:55, in the time zone `when` is given in (with its year when `today` is in another year)."""
    day = short(when.date()) if today is None else short_for(when.date(), today)
    return t("date.moment", date=day, hour=when.hour, minute=when.minute)


def long(day: date) -> str:
    """2026年11月23日(月)"""
    return t("date.long", year=day.year, month=day.month, day=day.day, weekday=t("date.weekdays")[day.weekday()])
