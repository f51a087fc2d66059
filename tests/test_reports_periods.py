"""Report periods and era labels: ISO weeks at New Year, fiscal-year edges, 29 February, the 令和 change."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.era import era_date, era_range_label, fiscal_year_label
from core.periods import (
    Period,
    PeriodError,
    basis_of,
    comparison_period,
    date_range,
    fiscal_year,
    fiscal_year_of,
    iso_week,
    last_complete_week,
    month,
    month_containing,
    parse_fiscal_year,
    parse_month,
    parse_week,
    previous_period,
    same_period_last_year,
    week_containing,
    weeks_in_iso_year,
)

days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


# ---- weeks ----


def test_a_week_runs_monday_to_sunday_and_is_labelled_with_its_days() -> None:
    week = parse_week("2026-W47")
    assert (week.kind, week.start, week.end) == ("week", date(2026, 11, 16), date(2026, 11, 22))
    assert week.start.isoweekday() == 1 and week.end.isoweekday() == 7
    assert week.label == "2026年第47週（11/16〜11/22）"
    assert week.key == "2026-W47"


def test_the_first_week_of_2026_starts_on_29_december_2025() -> None:
    week = iso_week(2026, 1)
    assert (week.start, week.end) == (date(2025, 12, 29), date(2026, 1, 4))
    assert week.label == "2026年第1週（12/29〜1/4）"
    assert week_containing(date(2025, 12, 31)) == week
    assert week_containing(date(2026, 1, 4)) == week
    assert week_containing(date(2026, 1, 5)) == iso_week(2026, 2)


def test_2020_has_a_53rd_week_that_ends_in_2021() -> None:
    week = parse_week("2020-W53")
    assert (week.start, week.end) == (date(2020, 12, 28), date(2021, 1, 3))
    assert week_containing(date(2021, 1, 1)) == week
    assert weeks_in_iso_year(2020) == 53 and weeks_in_iso_year(2021) == 52 and weeks_in_iso_year(2026) == 53


@pytest.mark.parametrize("text", ["2021-W53", "2026-W54", "2026-W00", "2026-47", "W47", "2026-W4x"])
def test_a_week_that_does_not_exist_or_is_badly_written_is_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_week(text)


def test_the_week_before_the_first_week_is_the_last_week_of_the_previous_iso_year() -> None:
    assert previous_period(iso_week(2021, 1)) == iso_week(2020, 53)
    assert previous_period(iso_week(2026, 1)) == iso_week(2025, 52)


def test_last_year_of_a_week_is_the_same_week_number_and_week_53_falls_back_to_52() -> None:
    assert same_period_last_year(parse_week("2026-W47")) == parse_week("2025-W47")
    # 2026 has 53 ISO weeks, 2025 only 52.
    assert same_period_last_year(parse_week("2026-W53")) == parse_week("2025-W52")
    # The other way round: the week after a 53-week year keeps its number.
    assert same_period_last_year(parse_week("2021-W01")) == parse_week("2020-W01")
    assert same_period_last_year(parse_week("2021-W52")) == parse_week("2020-W52")
    assert same_period_last_year(parse_week("2020-W53")) == parse_week("2019-W52")


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 23), "2026-W47"),  # Monday: last week is complete
        (date(2026, 11, 22), "2026-W46"),  # Sunday: this week is not over yet
        (date(2026, 11, 25), "2026-W47"),
        (date(2026, 1, 5), "2026-W01"),
        (date(2026, 1, 1), "2025-W52"),
    ],
)
def test_the_last_complete_week(today: date, expected: str) -> None:
    assert last_complete_week(today) == parse_week(expected)


@given(days)
def test_every_day_is_in_exactly_its_iso_week(day: date) -> None:
    week = week_containing(day)
    assert day in week and week.days == 7
    assert day - timedelta(days=7) not in week and day + timedelta(days=7) not in week
    assert previous_period(week).end + timedelta(days=1) == week.start
    assert parse_week(week.key) == week


# ---- months ----


def test_a_month_and_its_neighbours() -> None:
    november = parse_month("2026-11")
    assert (november.start, november.end, november.label) == (date(2026, 11, 1), date(2026, 11, 30), "2026年11月")
    assert previous_period(month(2026, 1)) == month(2025, 12)
    assert same_period_last_year(november) == month(2025, 11)
    assert parse_month("2026/2") == month(2026, 2)
    assert month(2024, 2).end == date(2024, 2, 29) and same_period_last_year(month(2024, 2)).end == date(2023, 2, 28)
    assert month_containing(date(2026, 12, 31)) == month(2026, 12)


@pytest.mark.parametrize("text", ["2026-13", "2026-0", "26-11", "2026-11-01"])
def test_a_month_that_does_not_exist_is_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_month(text)


# ---- fiscal years ----


def test_a_fiscal_year_runs_1_april_to_31_march() -> None:
    fy = fiscal_year(2020)
    assert (fy.start, fy.end, fy.label, fy.key) == (date(2020, 4, 1), date(2021, 3, 31), "令和2年度", "FY2020")
    assert parse_fiscal_year("2020") == fy == parse_fiscal_year("FY2020")


def test_31_march_belongs_to_the_fiscal_year_before_and_1_april_starts_a_new_one() -> None:
    assert fiscal_year_of(date(2021, 3, 31)) == fiscal_year(2020)
    assert fiscal_year_of(date(2021, 4, 1)) == fiscal_year(2021)
    assert fiscal_year_of(date(2021, 1, 1)) == fiscal_year(2020)
    assert fiscal_year_of(date(2020, 3, 31)).label == "令和元年度"


def test_a_fiscal_year_is_compared_with_the_one_before_by_default() -> None:
    fy = fiscal_year(2020)
    assert comparison_period(fy) == fiscal_year(2019) == previous_period(fy) == same_period_last_year(fy)
    assert basis_of(fy, fiscal_year(2019)) == "previous-year"


def test_other_periods_are_compared_with_the_period_before_by_default() -> None:
    week = parse_week("2026-W47")
    assert comparison_period(week) == parse_week("2026-W46")
    assert comparison_period(week, "previous-year") == parse_week("2025-W47")
    assert basis_of(week, parse_week("2026-W46")) == "previous-period"
    assert basis_of(week, parse_week("2025-W47")) == "previous-year"
    assert basis_of(week, parse_week("2026-W40")) == "custom"


@given(days)
def test_every_day_is_in_exactly_one_fiscal_year(day: date) -> None:
    fy = fiscal_year_of(day)
    assert day in fy and fy.days in (365, 366)
    assert previous_period(fy).end + timedelta(days=1) == fy.start


# ---- ranges ----


def test_a_range_includes_both_ends_and_the_range_before_has_the_same_length() -> None:
    days_of_november = date_range(date(2026, 11, 1), date(2026, 11, 30))
    assert days_of_november.label == "2026/11/01〜2026/11/30"
    assert days_of_november.days == 30
    before = previous_period(days_of_november)
    assert (before.start, before.end) == (date(2026, 10, 2), date(2026, 10, 31))
    assert date_range(date(2026, 11, 3), date(2026, 11, 3)).label == "2026/11/03"


def test_29_february_a_year_earlier_is_28_february() -> None:
    leap = date_range(date(2024, 2, 29), date(2024, 3, 31))
    last_year = same_period_last_year(leap)
    assert (last_year.start, last_year.end) == (date(2023, 2, 28), date(2023, 3, 31))
    ending = same_period_last_year(date_range(date(2024, 2, 1), date(2024, 2, 29)))
    assert (ending.start, ending.end) == (date(2023, 2, 1), date(2023, 2, 28))
    # And the leap day itself is inside its month, week and fiscal year.
    assert date(2024, 2, 29) in month(2024, 2) and date(2024, 2, 29) in fiscal_year(2023)
    assert date(2024, 2, 29) in week_containing(date(2024, 2, 29))


def test_a_range_cannot_end_before_it_starts_and_kinds_keep_their_shape() -> None:
    with pytest.raises(PeriodError):
        date_range(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(PeriodError):
        Period("week", date(2026, 11, 17), date(2026, 11, 23))  # a Tuesday
    with pytest.raises(PeriodError):
        Period("fy", date(2026, 1, 1), date(2026, 12, 31))


@given(days, st.integers(min_value=0, max_value=400))
def test_the_range_before_a_range_ends_the_day_before_and_has_its_length(start: date, length: int) -> None:
    period = date_range(start, start + timedelta(days=length))
    before = previous_period(period)
    assert before.days == period.days and before.end + timedelta(days=1) == period.start


# ---- era labels ----


@pytest.mark.parametrize(
    ("fy", "label"),
    [
        (1988, "昭和63年度"),
        (1989, "平成元年度"),
        (1990, "平成2年度"),
        (2018, "平成30年度"),
        (2019, "令和元年度"),
        (2020, "令和2年度"),
        (2026, "令和8年度"),
    ],
)
def test_fiscal_years_are_labelled_with_the_era(fy: int, label: str) -> None:
    assert fiscal_year_label(fy) == label


def test_the_reiwa_era_begins_on_1_may_2019() -> None:
    assert era_date(date(2019, 4, 30)) == "平成31年4月30日"
    assert era_date(date(2019, 5, 1)) == "令和元年5月1日"
    assert era_date(date(2020, 1, 1)) == "令和2年1月1日"
    assert era_date(date(1989, 1, 7)) == "昭和64年1月7日"
    assert era_date(date(1989, 1, 8)) == "平成元年1月8日"
    # FY2019 began under 平成31 but is written 令和元年度 as a whole.
    assert fiscal_year_of(date(2019, 4, 1)).label == "令和元年度"


def test_a_span_of_fiscal_years_reads_first_to_last() -> None:
    assert era_range_label(2018, 2020) == "平成30年度～令和2年度"
    assert era_range_label(2020, 2020) == "令和2年度"
    with pytest.raises(ValueError):
        era_range_label(2021, 2020)


def test_dates_before_showa_are_not_supported() -> None:
    with pytest.raises(ValueError):
        era_date(date(1926, 12, 24))


def test_a_period_still_running_is_compared_up_to_the_same_day() -> None:
    from core.periods import basis_of, so_far

    today = date(2026, 11, 23)
    current, against = so_far(fiscal_year(2026), today)
    assert (current.start, current.end, current.label) == (date(2026, 4, 1), today, "令和8年度（11/23まで）")
    assert (against.start, against.end, against.label) == (
        date(2025, 4, 1),
        date(2025, 11, 23),
        "令和7年度（11/23まで）",
    )
    assert basis_of(current, against) == "previous-year"  # footnoted 前年同期比
    _, week_before = so_far(week_containing(date(2026, 11, 25)), date(2026, 11, 25))  # a Wednesday
    assert (week_before.start, week_before.end) == (date(2026, 11, 16), date(2026, 11, 18))  # Monday to Wednesday
    month_now, month_before = so_far(month(2026, 3), date(2026, 3, 31))
    assert month_now == month(2026, 3) and month_before == month(2026, 2)  # over: whole periods
    _, short_month = so_far(month(2026, 3), date(2026, 3, 30))
    assert short_month.end == date(2026, 2, 28)  # no 30 February
