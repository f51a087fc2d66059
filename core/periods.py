"""Report periods: ISO weeks (Monday–Sunday), calendar months, fiscal years (1 April – 31 March), date ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from core.era import fiscal_year_label
from core.i18n import t

PeriodKind = Literal["week", "month", "fy", "range"]
# How a comparison period relates to the period it is compared with; decides the footnote (前年度比, 前週比, …).
Basis = Literal["previous-period", "previous-year", "custom"]

_ONE_DAY = timedelta(days=1)
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})[-/](\d{1,2})$")
_FISCAL_YEAR = re.compile(r"^(?:FY)?(\d{4})$", re.IGNORECASE)


class PeriodError(ValueError):
    """A period that does not exist (2021-W53, month 13) or is badly written; the message says which."""


@dataclass(frozen=True, slots=True)
class Period:
    """A closed span of days (`end` included) of one kind, with its label from the catalogue.

    Build periods with the constructors below rather than directly: they check the shape of each kind
    (a week is a Monday–Sunday ISO week, a month a whole calendar month, a fiscal year 1 April – 31 March).
    The label is filled in from the catalogue when not given and takes no part in equality.
    """

    kind: PeriodKind
    start: date
    end: date
    label: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"period ends ({self.end}) before it starts ({self.start})")
        if self.kind == "week" and (self.start.isoweekday() != 1 or self.end - self.start != timedelta(days=6)):
            raise PeriodError(f"a week runs Monday to Sunday: {self.start}..{self.end}")
        if self.kind == "month" and (self.start.day != 1 or self.end != _month_end(self.start.year, self.start.month)):
            raise PeriodError(f"a month runs from its first to its last day: {self.start}..{self.end}")
        if self.kind == "fy" and (
            (self.start.month, self.start.day) != (4, 1) or self.end != date(self.start.year + 1, 3, 31)
        ):
            raise PeriodError(f"a fiscal year runs 1 April to 31 March: {self.start}..{self.end}")
        if not self.label:
            object.__setattr__(self, "label", _label(self.kind, self.start, self.end))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def fiscal_year(self) -> int:
        """The fiscal year the period starts in (FY2020 = 2020-04-01 .. 2021-03-31)."""
        return _fiscal_year_number(self.start)

    @property
    def key(self) -> str:
        """A stable ASCII name: 2026-W47, 2026-11, FY2026, 2026-11-01..2026-11-30 (for outboxes and file names)."""
        if self.kind == "week":
            iso = self.start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        if self.kind == "fy":
            return f"FY{self.start.year}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first_of_next - _ONE_DAY


def _fiscal_year_number(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def _day_label(day: date) -> str:
    return t("report.period.day", year=day.year, month=day.month, day=day.day)


def _label(kind: PeriodKind, start: date, end: date) -> str:
    if kind == "week":
        iso = start.isocalendar()
        return t(
            "report.period.week",
            year=iso.year,
            week=iso.week,
            start_month=start.month,
            start_day=start.day,
            end_month=end.month,
            end_day=end.day,
        )
    if kind == "month":
        return t("report.period.month", year=start.year, month=start.month)
    if kind == "fy":
        return fiscal_year_label(start.year)
    if start == end:
        return _day_label(start)
    return t("report.period.range", start=_day_label(start), end=_day_label(end))


def weeks_in_iso_year(year: int) -> int:
    """52 or 53: 28 December always falls in the last ISO week of its year."""
    return date(year, 12, 28).isocalendar().week


def iso_week(year: int, week: int) -> Period:
    """ISO week `week` of ISO year `year`: Monday to Sunday; week 1 is the week with the year's first Thursday."""
    if not 1 <= week <= weeks_in_iso_year(year):
        raise PeriodError(f"{year} has no ISO week {week} (it has {weeks_in_iso_year(year)})")
    start = date.fromisocalendar(year, week, 1)
    return Period("week", start, start + timedelta(days=6))


def week_containing(day: date) -> Period:
    iso = day.isocalendar()
    return iso_week(iso.year, iso.week)


def last_complete_week(today: date) -> Period:
    """The last week that has fully ended before `today` (on a Sunday, still the week before: today is not over)."""
    return week_containing(today - timedelta(days=today.isoweekday()))


def month(year: int, m: int) -> Period:
    if not 1 <= m <= 12:
        raise PeriodError(f"there is no month {m}")
    return Period("month", date(year, m, 1), _month_end(year, m))


def month_containing(day: date) -> Period:
    return month(day.year, day.month)


def fiscal_year(fy: int) -> Period:
    """FY2020 = 2020-04-01 .. 2021-03-31 (令和2年度)."""
    return Period("fy", date(fy, 4, 1), date(fy + 1, 3, 31))


def fiscal_year_of(day: date) -> Period:
    """The fiscal year `day` falls in: 31 March belongs to the year before, 1 April starts a new one."""
    return fiscal_year(_fiscal_year_number(day))


def date_range(start: date, end: date) -> Period:
    """Any span of days, both ends included."""
    return Period("range", start, end)


def parse_week(text: str) -> Period:
    """2026-W47 (also 2026W47, 2026-w47)."""
    match = _WEEK.match(text.strip())
    if not match:
        raise PeriodError(f"not an ISO week (expected like 2026-W47): {text!r}")
    return iso_week(int(match.group(1)), int(match.group(2)))


def parse_month(text: str) -> Period:
    """2026-11 (also 2026/11)."""
    match = _MONTH.match(text.strip())
    if not match:
        raise PeriodError(f"not a month (expected like 2026-11): {text!r}")
    return month(int(match.group(1)), int(match.group(2)))


def parse_fiscal_year(text: str) -> Period:
    """2020 or FY2020: the fiscal year starting 1 April 2020."""
    match = _FISCAL_YEAR.match(text.strip())
    if not match:
        raise PeriodError(f"not a fiscal year (expected like 2020): {text!r}")
    return fiscal_year(int(match.group(1)))


def previous_period(period: Period) -> Period:
    """The week, month or fiscal year before; for a range, the range of the same length that ends the day before."""
    if period.kind == "week":
        return week_containing(period.start - timedelta(days=7))
    if period.kind == "month":
        return month_containing(period.start - _ONE_DAY)
    if period.kind == "fy":
        return fiscal_year(period.start.year - 1)
    end = period.start - _ONE_DAY
    return date_range(end - timedelta(days=period.days - 1), end)


def _year_before(day: date) -> date:
    # 29 February has no counterpart a year earlier: it maps to 28 February.
    if (day.month, day.day) == (2, 29):
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def same_period_last_year(period: Period) -> Period:
    """The same period a year earlier.

    Weeks: the same ISO week number of the previous ISO year; week 53 maps to week 52 when the previous year has
    only 52 weeks (2026-W53 → 2025-W52). Months: the same month. Fiscal years: the one before. Ranges: both ends a
    year earlier, 29 February becoming 28 February (so 2024-02-01..2024-02-29 → 2023-02-01..2023-02-28).
    """
    if period.kind == "week":
        iso = period.start.isocalendar()
        return iso_week(iso.year - 1, min(iso.week, weeks_in_iso_year(iso.year - 1)))
    if period.kind == "month":
        return month(period.start.year - 1, period.start.month)
    if period.kind == "fy":
        return fiscal_year(period.start.year - 1)
    return date_range(_year_before(period.start), _year_before(period.end))


CompareMode = Literal["previous-year", "previous-period"]


def comparison_period(period: Period, mode: CompareMode | None = None) -> Period:
    """The period to compare with: by default the year before for fiscal years, the period before otherwise."""
    if mode is None:
        mode = "previous-year" if period.kind == "fy" else "previous-period"
    return same_period_last_year(period) if mode == "previous-year" else previous_period(period)


def basis_of(period: Period, compare: Period) -> Basis:
    """How `compare` relates to `period` (by their days, whatever their kinds)."""
    # A fiscal year's previous period is also last year's: both read 前年度比, so the year wins.
    last_year = same_period_last_year(period)
    if (compare.start, compare.end) == (last_year.start, last_year.end):
        return "previous-year"
    before = previous_period(period)
    if (compare.start, compare.end) == (before.start, before.end):
        return "previous-period"
    return "custom"


def so_far(period: Period, today: date, mode: CompareMode | None = None) -> tuple[Period, Period]:
    """A period that has not ended yet, cut at `today`, and the same span of its comparison period.

    This fiscal year so far compares with last fiscal year up to the same date (前年同期), not with the whole
    of it; this week so far with the same weekdays of last week. A period already over is returned whole.
    """
    before = comparison_period(period, mode)
    if today >= period.end:
        return period, before
    if today < period.start:
        raise PeriodError(f"{period.key} has not started on {today}")
    length = today - period.start
    current = Period("range", period.start, today, label=_so_far_label(period.label, today))
    end = min(before.start + length, before.end)
    return current, Period("range", before.start, end, label=_so_far_label(before.label, end))


def _so_far_label(label: str, end: date) -> str:
    return t("report.period.so_far", label=label, month=end.month, day=end.day)
