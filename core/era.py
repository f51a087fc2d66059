"""Japanese era (和暦) labels for fiscal years and dates: 令和2年度, 平成30年度～令和2年度, 令和元年5月1日."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.i18n import t


@dataclass(frozen=True, slots=True)
class Era:
    """An era: its catalogue key (era.name.<code>) and the day it began."""

    code: str
    start: date

    @property
    def name(self) -> str:
        return t(f"era.name.{self.code}")


# Newest first. Eras before 昭和 are not supported: no council keeps records that old.
ERAS: tuple[Era, ...] = (
    Era("reiwa", date(2019, 5, 1)),
    Era("heisei", date(1989, 1, 8)),
    Era("showa", date(1926, 12, 25)),
)

# Fiscal years whose label does not follow "the era in force on 1 April". FY2019 began on 1 April 2019 under
# 平成31, but 令和 began on 1 May 2019 and councils (like most public bodies after the change) write the whole
# year as 令和元年度; its budget, report and statistics all say so.
_FISCAL_YEAR_ERA: dict[int, str] = {2019: "reiwa"}


def era_of(day: date) -> tuple[Era, int]:
    """The era in force on `day` and the year within it (1 for the first year)."""
    for era in ERAS:
        if day >= era.start:
            return era, day.year - era.start.year + 1
    raise ValueError(f"{day.isoformat()} is before the Showa era, the oldest one supported")


def _era_by_code(code: str) -> Era:
    return next(era for era in ERAS if era.code == code)


def _year_text(year: int) -> str:
    # The first year of an era is written 元 (元年), not 1.
    return t("era.first_year") if year == 1 else str(year)


def fiscal_year_era(fy: int) -> tuple[Era, int]:
    """The era and era year a fiscal year (1 April fy – 31 March fy+1) is labelled with."""
    override = _FISCAL_YEAR_ERA.get(fy)
    if override is not None:
        era = _era_by_code(override)
        return era, fy - era.start.year + 1
    return era_of(date(fy, 4, 1))


def fiscal_year_label(fy: int) -> str:
    """令和2年度 for FY2020 (2020-04-01 – 2021-03-31); 令和元年度 for FY2019; 平成30年度 for FY2018."""
    era, year = fiscal_year_era(fy)
    return t("era.fiscal_year", era=era.name, year=_year_text(year))


def era_range_label(first_fy: int, last_fy: int) -> str:
    """平成30年度～令和2年度: the span of a multi-year table or chart; one fiscal year alone is just its label."""
    if last_fy < first_fy:
        raise ValueError(f"fiscal years out of order: {first_fy} > {last_fy}")
    if first_fy == last_fy:
        return fiscal_year_label(first_fy)
    return t("era.fiscal_range", first=fiscal_year_label(first_fy), last=fiscal_year_label(last_fy))


def era_date(day: date) -> str:
    """平成31年4月30日, 令和元年5月1日."""
    era, year = era_of(day)
    return t("era.date", era=era.name, year=_year_text(year), month=day.month, day=day.day)
