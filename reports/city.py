"""The city table (「24区社協合計」): the counts of several councils side by side, and their sum.

A parent council (市社協) publishes its children's (区社協) figures in one table: a column per child in the
configured order and a last column summing them. Councils share category codes (they start from the same
default taxonomy); a category one child does not have in its taxonomy is not a zero there but "not counted":
the cell is None (written －) and the sum adds only the children that count it. Rows follow the parent's order
of categories; a code only some children have comes after the parent's, in the first such child's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from core.counts import UNKNOWN, Counts
from core.i18n import t
from core.taxonomy import Dimension, Taxonomy

CitySection = Literal["totals", "activity", "destination", "channel", "consulter", "agency", "topic", "referral"]
# The flat lists of the published tables, in the order the report prints them.
_LISTS: tuple[CitySection, ...] = ("activity", "destination", "channel", "consulter", "agency", "topic", "referral")


@dataclass(frozen=True, slots=True)
class Member:
    """One child council in the table: its code, the short name that heads its column, its taxonomy, its counts."""

    code: str
    name: str
    taxonomy: Taxonomy
    counts: Counts


class CityRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    section: CitySection
    code: str
    label: str
    values: list[int | None]  # one per member, then the sum; None: the member does not count this category


class CityTable(BaseModel):
    """Columns are the members' names and 合計; `members` their council codes, in the same order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    members: list[str]
    columns: list[str]
    rows: list[CityRow]
    notes: list[str] = []


def _codes(section: CitySection, parent: Taxonomy, members: Sequence[Member]) -> list[tuple[str, Dimension]]:
    """The codes a section lists with the dimension that labels each: the parent's categories still offered,
    then any other code a member offers or counted, in that member's order."""
    listed: dict[str, Dimension] = {c.code: parent.dimension(section) for c in parent.dimension(section).active()}
    for member in members:
        own = member.taxonomy.dimension(section)
        counted = {code for code, n in member.counts.dimension(section).items() if n}
        extra = [c.code for c in own.active()] + sorted(counted, key=lambda code: (own.order_of(code), code))
        for code in extra:
            if code not in listed:
                listed[code] = parent.dimension(section) if code in parent.dimension(section) else own
    return list(listed.items())


def _value(member: Member, section: CitySection, code: str) -> int | None:
    found = member.counts.dimension(section).get(code, 0)
    if found or code == UNKNOWN or code in member.taxonomy.dimension(section):
        return found
    return None  # not a category of this council: not counted there, which is not a zero


def _row(section: CitySection, code: str, label: str, values: list[int | None]) -> CityRow:
    counted = [v for v in values if v is not None]
    total = sum(counted) if counted else None
    return CityRow(section=section, code=code, label=label, values=[*values, total])


def city_table(parent: Taxonomy, members: Sequence[Member]) -> CityTable:
    """The table of `members` (in the order given) labelled by the parent's taxonomy."""
    rows = [
        _row("totals", "outings", t("report.city.outings"), [m.counts.outings for m in members]),
        _row("totals", "consultations", t("report.city.consultations"), [m.counts.consultations for m in members]),
    ]
    for section in _LISTS:
        for code, dimension in _codes(section, parent, members):
            rows.append(_row(section, code, dimension.label(code), [_value(m, section, code) for m in members]))
    notes = [t("report.city.note_none")] if any(None in row.values[:-1] for row in rows) else []
    return CityTable(
        members=[m.code for m in members],
        columns=[*(m.name for m in members), t("report.table.total")],
        rows=rows,
        notes=notes,
    )


# ---- renderings ---------------------------------------------------------------------------------------------


def _section_title(section: CitySection) -> str:
    return t("report.city.totals") if section == "totals" else t(f"report.section.{section}")


def _sections(table: CityTable) -> list[tuple[CitySection, list[CityRow]]]:
    found: dict[CitySection, list[CityRow]] = {}
    for row in table.rows:
        found.setdefault(row.section, []).append(row)
    return list(found.items())


def _count(value: int | None) -> str:
    return t("report.table.none") if value is None else t("report.table.count", value=value)


def city_sections(table: CityTable) -> list[list[str]]:
    """The table as text sections: each line a category, its sum first, then the members that count it."""
    sections = []
    for section, rows in _sections(table):
        lines = [t("report.heading", title=_section_title(section))]
        for row in rows:
            cells = [t("report.table.cell", column=table.columns[-1], value=_count(row.values[-1]))]
            cells += [
                t("report.table.cell", column=name, value=_count(value))
                for name, value in zip(table.columns[:-1], row.values[:-1], strict=True)
                if value  # the text lists who counted any; CSV and XLSX show every cell, － included
            ]
            lines.append(t("report.table.line", label=row.label, cells=t("report.table.separator").join(cells)))
        sections.append(lines)
    if table.notes:
        sections[-1] = [*sections[-1], *table.notes]
    return sections


def city_rows(table: CityTable) -> list[list[str | int]]:
    """The header and the rows of cells (CSV and the XLSX sheet): 区分, 項目, a column per member, 合計."""
    none = t("report.table.none")
    out: list[list[str | int]] = [[t("report.table.column.section"), t("report.table.column.label"), *table.columns]]
    for row in table.rows:
        values = [none if v is None else v for v in row.values]
        out.append([_section_title(row.section), row.label, *values])
    return out
