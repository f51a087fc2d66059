"""The supervisors' tables (年度別, 月別, 担当者別, 地域別, 活動内容 × 支援先, 参加人数, 要フォローの対応結果) as pure
folds of counts, and the pydantic models that are their JSON boundary (`tables` in `fieldbot report --format json`).

Every table counts what the report of the same period and scope counts: the sums of its rows are the report's
totals (imported fiscal-year totals have no breakdown by staff, area or month: they are a row of their own in
担当者別 and 地域別, and a note elsewhere).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from core.counts import UNKNOWN, Counts
from core.era import fiscal_year_label
from core.i18n import t
from core.taxonomy import Dimension, Taxonomy

TableName = Literal["years", "month", "staff", "area", "cross", "headcount", "outcomes", "places"]
TABLE_NAMES: tuple[TableName, ...] = ("years", "month", "staff", "area", "cross", "headcount", "outcomes", "places")
# Months of a fiscal year, in its order: April … March.
FISCAL_MONTHS = (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)


class OutingCell(Protocol):
    """Outings of one month (YYYY-MM), activity and destination, with their headcounts (what storage's
    `outing_cells` returns)."""

    @property
    def month(self) -> str: ...
    @property
    def activity(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def outings(self) -> int: ...
    @property
    def people(self) -> int: ...
    @property
    def with_headcount(self) -> int: ...


# A cell of a grid: a count, an average, a date (the last outing), a label (a place's kind, area, status), or
# nothing (no value: －).
Value = int | float | date | str | None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class YearRow(_Model):
    """A category's count in each fiscal year; None for a year before the category was counted (－)."""

    code: str
    label: str
    counts: list[int | None]


class YearsTable(_Model):
    """活動内容別 and 支援先別 by fiscal year (平成30年度～令和2年度), with the notes of categories counted since a
    year shown (※市民社協からの働きかけは令和2年度からカウントしている)."""

    fiscal_years: list[int]
    activity: list[YearRow]
    destination: list[YearRow]
    notes: list[str] = []


class MonthRow(_Model):
    """One line of 月別: `dimension` is totals (code outings or consultations), activity, destination or
    consulter; `counts` are April … March."""

    dimension: str
    code: str
    label: str
    counts: list[int]


class MonthTable(_Model):
    fiscal_year: int
    months: list[str]
    rows: list[MonthRow]
    notes: list[str] = []


class GridRow(_Model):
    label: str
    values: list[Value]
    code: str | None = None


class GridTable(_Model):
    """A table of rows and named columns (担当者別, 地域別, 活動内容 × 支援先, 参加人数, 対応結果); `total` sums the
    rows column by column (an average: over the whole table)."""

    columns: list[str]
    rows: list[GridRow]
    total: GridRow | None = None
    notes: list[str] = []


AnyTable = YearsTable | MonthTable | GridTable


class NamedTable(_Model):
    """A table with its name (which says how to read it) and the label of the span it counts."""

    name: TableName
    period: str
    table: AnyTable


def _present(dimension: Dimension, counted: Collection[str]) -> list[str]:
    """The codes a table lists: every category still offered, in the configured order, and any other code
    with a count (retired, removed from the file, or 不明), after them."""
    codes = [c.code for c in dimension.active()]
    extra = sorted(set(counted) - set(codes), key=lambda code: (dimension.order_of(code), code))
    return codes + extra


def _column(key: str) -> str:
    return t(f"report.table.column.{key}")


def _total_row(values: list[Value]) -> GridRow:
    return GridRow(label=t("report.table.total"), values=values)


def _sum(rows: Iterable[GridRow], column: int) -> int:
    return sum(v for row in rows if isinstance(v := row.values[column], int))


# ---- 年度別 -------------------------------------------------------------------------------------------------


def years_table(taxonomy: Taxonomy, fiscal_years: Sequence[int], counts: Sequence[Counts]) -> YearsTable:
    """Activities and 支援先 of each fiscal year (oldest first), from the counts of each year as the report counts
    them (imported totals included). A year before a category's `counted_since` reads None, not 0."""
    notes: list[str] = []

    def rows(name: Literal["activity", "destination"]) -> list[YearRow]:
        dimension = taxonomy.dimension(name)
        found: list[YearRow] = []
        counted = {code for c in counts for code, n in c.dimension(name).items() if n}
        for code in _present(dimension, counted):
            category = dimension.get(code)
            since = category.counted_since if category else None
            values: list[int | None] = [
                None if since and fy < since else c.dimension(name).get(code, 0)
                for fy, c in zip(fiscal_years, counts, strict=True)
            ]
            found.append(YearRow(code=code, label=dimension.label(code), counts=values))
            if since and fiscal_years and fiscal_years[0] < since:
                label = dimension.label(code)
                notes.append(t("report.note.counted_since", label=label, year=fiscal_year_label(since)))
        return found

    activity, destination = rows("activity"), rows("destination")
    return YearsTable(fiscal_years=list(fiscal_years), activity=activity, destination=destination, notes=notes)


# ---- 月別 ---------------------------------------------------------------------------------------------------


def month_keys(fiscal_year: int) -> list[str]:
    """The months of a fiscal year as YYYY-MM, April … March."""
    return [f"{fiscal_year + (m < 4)}-{m:02d}" for m in FISCAL_MONTHS]


def month_table(
    taxonomy: Taxonomy,
    fiscal_year: int,
    cells: Sequence[OutingCell],
    consultations: Mapping[tuple[str, str], int],
    *,
    notes: Sequence[str] = (),
) -> MonthTable:
    """Outings and consultations of each month of a fiscal year: the totals, then 活動内容, 支援先 and 相談者種別
    (the categories with a count, in the configured order)."""
    keys = month_keys(fiscal_year)
    index = {key: i for i, key in enumerate(keys)}
    by: dict[tuple[str, str], list[int]] = {}

    def add(dimension: str, code: str, month: str, n: int) -> None:
        if month in index:
            by.setdefault((dimension, code), [0] * 12)[index[month]] += n

    for cell in cells:
        add("totals", "outings", cell.month, cell.outings)
        add("activity", cell.activity, cell.month, cell.outings)
        add("destination", cell.destination, cell.month, cell.outings)
    for (month, consulter), n in consultations.items():
        add("totals", "consultations", month, n)
        add("consulter", consulter, month, n)
    rows = [
        MonthRow(
            dimension="totals", code=code, label=t(f"report.total.{code}"), counts=by.get(("totals", code), [0] * 12)
        )
        for code in ("outings", "consultations")
    ]
    for name in ("activity", "destination", "consulter"):
        dimension = taxonomy.dimension(name)
        counted = {code for (d, code) in by if d == name}
        for code in sorted(counted, key=lambda code: (dimension.order_of(code), code)):
            counts = by[name, code]
            rows.append(MonthRow(dimension=name, code=code, label=dimension.label(code), counts=counts))
    months = [t("report.table.month", month=m) for m in FISCAL_MONTHS]
    return MonthTable(fiscal_year=fiscal_year, months=months, rows=rows, notes=list(notes))


# ---- 担当者別, 地域別 --------------------------------------------------------------------------------------------


def baseline_row(baseline: Counts | None, last: Value) -> list[GridRow]:
    """Imported totals of the year (no staff member, no area): a row of their own, so that the table still adds
    up to the report's totals. `last`: the value of the third column."""
    if baseline is None or not (baseline.outings or baseline.consultations):
        return []
    return [GridRow(label=t("report.table.baseline_row"), values=[baseline.outings, baseline.consultations, last])]


def staff_table(
    staff: Sequence[tuple[int, str]],
    counts: Mapping[int, tuple[int, int]],
    referrals: Mapping[int, int],
    *,
    baseline: Counts | None = None,
) -> GridTable:
    """Outings, consultations and referrals (つなぎ先) of each staff member listed, in the order given; anyone
    else with a count follows, so that the table adds up to the report's totals."""
    listed = dict(staff)
    ids = list(listed) + sorted((set(counts) | set(referrals)) - set(listed))
    rows = [
        GridRow(
            label=listed.get(i, str(i)),
            values=[counts.get(i, (0, 0))[0], counts.get(i, (0, 0))[1], referrals.get(i, 0)],
        )
        for i in ids
    ]
    rows += baseline_row(baseline, None if baseline is None else sum(baseline.referral.values()))
    columns = [t("report.total.outings"), t("report.total.consultations"), t("report.total.agency_links")]
    return GridTable(columns=columns, rows=rows, total=_total_row([_sum(rows, c) for c in range(3)]))


def area_table(
    taxonomy: Taxonomy,
    areas: Sequence[str],
    counts: Mapping[str, tuple[int, int]],
    last_outing: Mapping[str, date],
    *,
    baseline: Counts | None = None,
) -> GridTable:
    """Every area listed (none left out for having no outing), then any other area with a count (retired, or
    不明 for imported records without one); each with its outings, consultations and last outing date."""
    codes = list(areas) + sorted(set(counts) - set(areas), key=lambda code: (code == UNKNOWN, code))

    def label(code: str) -> str:
        return t("report.misc.unknown") if code == UNKNOWN else taxonomy.area_label(code)

    rows = [
        GridRow(
            code=code,
            label=label(code),
            values=[counts.get(code, (0, 0))[0], counts.get(code, (0, 0))[1], last_outing.get(code)],
        )
        for code in codes
    ]
    rows += baseline_row(baseline, None)
    columns = [t("report.total.outings"), t("report.total.consultations"), _column("last_outing")]
    last = max((d for code, d in last_outing.items() if code in codes), default=None)
    return GridTable(columns=columns, rows=rows, total=_total_row([_sum(rows, 0), _sum(rows, 1), last]))


# ---- 活動内容 × 支援先, 参加人数 -----------------------------------------------------------------------------------


def cross_table(taxonomy: Taxonomy, cells: Sequence[OutingCell], *, notes: Sequence[str] = ()) -> GridTable:
    """Outings by 活動内容 (rows) and 支援先 (columns), with a 合計 column and a 合計 row."""
    grid: dict[tuple[str, str], int] = {}
    for cell in cells:
        grid[cell.activity, cell.destination] = grid.get((cell.activity, cell.destination), 0) + cell.outings
    activities = _present(taxonomy.activity, {a for a, _ in grid})
    destinations = _present(taxonomy.destination, {d for _, d in grid})
    rows = []
    for activity in activities:
        values: list[Value] = [grid.get((activity, d), 0) for d in destinations]
        values.append(sum(grid.get((activity, d), 0) for d in destinations))
        rows.append(GridRow(code=activity, label=taxonomy.activity.label(activity), values=values))
    columns = [taxonomy.destination.label(d) for d in destinations] + [t("report.table.total")]
    total = _total_row([_sum(rows, c) for c in range(len(columns))])
    return GridTable(columns=columns, rows=rows, total=total, notes=list(notes))


def _average(people: int, told: int) -> float | None:
    return round(people / told, 1) if told else None


def headcount_table(taxonomy: Taxonomy, cells: Sequence[OutingCell], *, notes: Sequence[str] = ()) -> GridTable:
    """Per 支援先: outings, those without a headcount (left out of the average), the people counted and the
    average per outing that gave a headcount."""
    by: dict[str, list[int]] = {}
    for cell in cells:
        found = by.setdefault(cell.destination, [0, 0, 0])
        found[0] += cell.outings
        found[1] += cell.people
        found[2] += cell.with_headcount
    rows = []
    for code in _present(taxonomy.destination, set(by)):
        outings, people, told = by.get(code, [0, 0, 0])
        values: list[Value] = [outings, outings - told, people, _average(people, told)]
        rows.append(GridRow(code=code, label=taxonomy.destination.label(code), values=values))
    outings, people, told = (sum(v[i] for v in by.values()) for i in range(3))
    total = _total_row([outings, outings - told, people, _average(people, told)])
    columns = [_column(key) for key in ("outings", "no_headcount", "people", "average")]
    return GridTable(columns=columns, rows=rows, total=total, notes=list(notes))


# ---- 要フォローの対応結果 ------------------------------------------------------------------------------------------


def outcomes_table(taxonomy: Taxonomy, opened: Mapping[str | None, int], closed: Mapping[str, int]) -> GridTable:
    """Follow-ups opened in the period (by their outcome now; 対応中 while open) and closed in it, by 対応結果."""
    counted = {code for code in opened if code is not None} | set(closed)
    rows = [
        GridRow(code=code, label=taxonomy.outcome.label(code), values=[opened.get(code, 0), closed.get(code, 0)])
        for code in _present(taxonomy.outcome, counted)
    ]
    rows.append(GridRow(label=t("report.table.open"), values=[opened.get(None, 0), None]))
    columns = [_column("opened"), _column("closed")]
    return GridTable(columns=columns, rows=rows, total=_total_row([_sum(rows, 0), _sum(rows, 1)]))
