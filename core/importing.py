"""Streaming readers for the historical-data CSV imports: detect the encoding, validate every cell, yield typed rows.

The records reader is here; the common reader is core/importing_base.py and the baseline reader
core/importing_baseline.py (their public names are importable from here too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from core.counts import UNKNOWN
from core.csvfile import ErrorList, SourceFile, has_control
from core.dates import normalise
from core.i18n import t
from core.importing_base import (
    FIRST_DATE,
    FIRST_FISCAL_YEAR,
    ImportKind,
    Lookup,
    Reader,
    area_lookup,
    dimension_lookup,
    nfkc,
    whole_number,
)
from core.importing_baseline import (
    BASELINE_COUNT_MAX,
    BASELINE_DIMENSIONS,
    BASELINE_REQUIRED,
    BaselineDimension,
    BaselineReader,
    BaselineRow,
)
from core.taxonomy import Taxonomy
from core.text import has_hidden

__all__ = [
    "BASELINE_COUNT_MAX",
    "BASELINE_DIMENSIONS",
    "BASELINE_REQUIRED",
    "FIRST_DATE",
    "FIRST_FISCAL_YEAR",
    "BaselineDimension",
    "BaselineReader",
    "BaselineRow",
    "ConsultationRow",
    "ImportKind",
    "OutingRow",
    "RecordRow",
    "RecordsReader",
    "reader_for",
    "record_header",
]

HEADCOUNT_MAX: Final = 100_000
STAFF_NAME_MAX: Final = 64
DATES_CACHED: Final = 10_000

_DATE: Final = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:T?0{1,2}:00(?::00)?)?$")

RECORD_REQUIRED: Final = ("kind", "date", "staff", "activity", "destination", "consulter")
# Columns whose cells may be empty on every row may be left out of the file altogether. area and channel are
# among them: a council's old data rarely has them, and an empty cell is counted as 不明 (core.counts.UNKNOWN).
RECORD_OPTIONAL: Final = (
    "area",
    "channel",
    "headcount",
    "consulter_category",
    "topic",
    "agencies",
    "at_outing",
    "from_agency",
    "referrals",
    "place",
)
# The columns in the order of the usual file (the hint for an unknown column, the message for an empty file).
RECORD_HINT: Final = (
    "kind",
    "date",
    "staff",
    "area",
    "activity",
    "destination",
    "channel",
    "consulter",
    "headcount",
    "consulter_category",
    "topic",
    "agencies",
    "at_outing",
    "from_agency",
    "referrals",
    "place",
)
RECORD_USUAL: Final = RECORD_HINT[:8]
# Written by `fieldbot export`, read back by the import; not named in the hint of an unknown column (a person
# writing a file leaves it out: the import gives every record an id of its own).
RECORD_ID: Final = "record_id"
RECORD_ID_MAX: Final = 100
OUTING_ONLY: Final = ("activity", "destination", "headcount", "place")
PLACE_MAX: Final = 64
CONSULTATION_ONLY: Final = (
    "channel",
    "consulter",
    "consulter_category",
    "topic",
    "agencies",
    "at_outing",
    "from_agency",
    "referrals",
)
# The columns of a records file (export order), each also accepted under its Japanese header (records.column.*).
RECORD_COLUMNS: Final = (
    "kind",
    "date",
    "staff",
    "area",
    "activity",
    "destination",
    "headcount",
    "channel",
    "consulter",
    "consulter_category",
    "from_agency",  # the agency that consulted (関係機関からの相談 only)
    "topic",  # its topic (関係機関からの相談 only)
    "referrals",  # the agencies it was connected to (つなぎ先), any group, separated by "|"
    "at_outing",
    "place",  # the registered place an outing went to (its name; the area says which place it is)
    RECORD_ID,  # the same in every database that holds the record; an import skips one it already has
)


def record_header(column: str) -> str:
    """The Japanese header of a column of a records file (what `fieldbot export` writes; the import reads both)."""
    return t(f"records.column.{column}")


# ---- rows ----


@dataclass(frozen=True, slots=True)
class OutingRow:
    line: int
    date: date
    staff: str
    area: str  # UNKNOWN when the file does not say
    activity: str
    destination: str
    headcount: int | None
    record_id: str | None = None  # the id an export gave it; None: a record the file brings for the first time
    place: str | None = None  # a registered place's name (in the row's area); registered if new, to confirm


@dataclass(frozen=True, slots=True)
class ConsultationRow:
    line: int
    date: date
    staff: str
    area: str  # UNKNOWN when the file does not say
    channel: str  # UNKNOWN when the file does not say
    consulter: str
    consulter_category: str | None  # None: historical data without it; counted in the group only
    topic: str | None  # only for the group whose consultations came from an agency
    agencies: tuple[str, ...]  # referrals (つなぎ先): the agencies the consultation was connected to
    at_outing: bool
    record_id: str | None = None
    from_agency: str | None = None  # the agency that consulted (the agency group only); None: not said


RecordRow = OutingRow | ConsultationRow


class RecordsReader(Reader[RecordRow]):
    """Rows of `fieldbot import records`: outings and consultations, every category as a code or a label.

    Columns (any order, each by its English name or its Japanese header as `fieldbot export` writes it): kind,
    date, staff, activity, destination, consulter are required; area, channel, headcount, consulter_category,
    topic, agencies, at_outing, from_agency, referrals may be left out (their cells may be empty anyway; an empty
    area or channel is counted as 不明). A cell that belongs to the other kind of row (a channel on an outing row,
    say) must be empty. record_id (written by `fieldbot export`) may be empty, and is unique in the file: rows
    added by hand have none.

    from_agency (the agency that consulted, one) and topic are for the group whose consultations came from an
    agency (関係機関からの相談) only; referrals (several, `|`) for any group. The older column agencies: on a row of
    that group without a from_agency, one agency there is the agency that consulted; otherwise it lists referrals.
    """

    kind: ImportKind = "records"
    required = RECORD_REQUIRED
    optional = RECORD_OPTIONAL
    unlisted = (RECORD_ID,)
    hint = RECORD_HINT
    usual = RECORD_USUAL

    def __init__(self, source: SourceFile, taxonomy: Taxonomy, *, today: date, errors: ErrorList | None = None) -> None:
        super().__init__(source, taxonomy, today=today, errors=errors)
        self._area = area_lookup(taxonomy)
        self._activity = dimension_lookup(taxonomy, "activity")
        self._destination = dimension_lookup(taxonomy, "destination")
        self._channel = dimension_lookup(taxonomy, "channel")
        self._consulter = dimension_lookup(taxonomy, "consulter")
        self._topic = dimension_lookup(taxonomy, "topic")
        self._agency = dimension_lookup(taxonomy, "agency")
        self._categories: dict[str, Lookup] = {}
        self._dates: dict[str, date | str] = {}
        self._record_lines: dict[str, int] = {}  # record_id -> its line (only files that have the column)
        self._unknown = (UNKNOWN, t("report.misc.unknown"))
        self._kinds = {"outing": "outing", "consultation": "consultation"}
        self._kinds |= {t(f"records.value.{kind}"): kind for kind in ("outing", "consultation")}
        self._answers = {"yes": True, "no": False, t("records.value.yes"): True, t("records.value.no"): False}

    def aliases(self) -> dict[str, str]:
        return {nfkc(record_header(column)).lower(): column for column in RECORD_COLUMNS}

    def _canonical(self, row: RecordRow) -> tuple[object, ...]:
        staff, day, record_id = nfkc(row.staff), row.date.toordinal(), row.record_id or ""
        if isinstance(row, OutingRow):
            outing = ("outing", day, staff, row.area, row.activity, row.destination, row.headcount, record_id)
            return outing if row.place is None else (*outing, nfkc(row.place))  # only when set: old files
        canonical: tuple[object, ...] = (
            "consultation",
            day,
            staff,
            row.area,
            row.channel,
            row.consulter,
            row.consulter_category,
            row.topic,
            tuple(sorted(row.agencies)),
            row.at_outing,
            record_id,
        )
        # Only when set: the rows of files written before the column existed keep their fingerprint.
        return canonical if row.from_agency is None else (*canonical, row.from_agency)

    def _row(self, line: int, cells: dict[str, str]) -> RecordRow | None:
        kind_text = cells.get("kind", "")
        kind = self._kinds.get(kind_text.lower(), "")
        if not kind:
            self._error(
                line, "kind", "must be outing or consultation" if kind_text else "required, but empty", kind_text
            )
        day = self._date(line, cells.get("date", ""))
        staff = self._staff(line, cells.get("staff", ""))
        area = self._optional(line, cells, "area", self._area, "an area")
        record_id = self._record_id(line, cells.get(RECORD_ID, ""))
        if kind == "outing":
            self._empty(line, cells, CONSULTATION_ONLY, "an outing")
            activity = self._required(line, cells, "activity", self._activity, "an activity")
            destination = self._required(line, cells, "destination", self._destination, "a destination")
            headcount = self._headcount(line, cells.get("headcount", ""))
            place = cells.get("place", "") or None
            if place is not None and (len(place) > PLACE_MAX or has_hidden(place)):
                self._error(line, "place", f"1 to {PLACE_MAX} characters without control characters", place)
            return OutingRow(line, day, staff, area, activity, destination, headcount, record_id, place)
        if kind == "consultation":
            return self._consultation(line, cells, day, staff, area, record_id)
        return None

    def _consultation(
        self, line: int, cells: dict[str, str], day: date, staff: str, area: str, record_id: str | None
    ) -> ConsultationRow:
        self._empty(line, cells, OUTING_ONLY, "a consultation")
        channel = self._optional(line, cells, "channel", self._channel, "a channel")
        consulter = self._required(line, cells, "consulter", self._consulter, "a consulter group")
        category = self._consulter_category(line, consulter, cells.get("consulter_category", ""))
        from_group = bool(consulter) and consulter == self.taxonomy.agency_group
        if not from_group and consulter:
            # Who consulted and about what describe a consultation from an agency only.
            only = f" (only group {self.taxonomy.agency_group} has it)" if self.taxonomy.agency_group else ""
            for column in ("from_agency", "topic"):
                if text := cells.get(column, ""):
                    self._error(line, column, f"must be empty on a row of consulter group {consulter}{only}", text)
        topic_cell = cells.get("topic", "") if from_group else ""
        topic = self._topic(topic_cell) if topic_cell else None
        if topic_cell and topic is None:
            self._error(line, "topic", "not a code or label of a topic", topic_cell)
        from_agency = self._from_agency(line, cells.get("from_agency", "")) if from_group else None
        agencies = self._agencies(line, "agencies", cells.get("agencies", ""))
        if from_group and from_agency is None and len(agencies) == 1 and not cells.get("from_agency", ""):
            # The older format: the one agency of a consultation from an agency is the agency that consulted.
            from_agency, agencies = agencies[0], ()
        referrals = self._agencies(line, "referrals", cells.get("referrals", ""))
        for code in referrals:
            if code in agencies:
                self._error(line, "referrals", "the same agency is listed twice", self.taxonomy.agency.label(code))
        at_outing = self._at_outing(line, cells.get("at_outing", ""), channel)
        return ConsultationRow(
            line,
            day,
            staff,
            area,
            channel,
            consulter,
            category,
            topic,
            (*agencies, *(code for code in referrals if code not in agencies)),
            at_outing,
            record_id,
            from_agency,
        )

    def _required(self, line: int, cells: dict[str, str], column: str, lookup: Lookup, what: str) -> str:
        text = cells.get(column, "")
        if not text:
            self._error(line, column, "required, but empty")
            return ""
        code = lookup(text)
        if code is None:
            self._error(line, column, f"not a code or label of {what}", text)
            return ""
        return code

    def _optional(self, line: int, cells: dict[str, str], column: str, lookup: Lookup, what: str) -> str:
        """A cell that old data may leave empty: UNKNOWN then (and for 不明 or ? written by an export)."""
        text = cells.get(column, "")
        if not text or text in self._unknown:
            return UNKNOWN
        code = lookup(text)
        if code is None:
            self._error(line, column, f"not a code or label of {what}", text)
            return ""
        return code

    def _empty(self, line: int, cells: dict[str, str], columns: tuple[str, ...], what: str) -> None:
        for column in columns:
            if text := cells.get(column, ""):
                self._error(line, column, f"must be empty on {what} row", text)

    def _date(self, line: int, text: str) -> date:
        found = self._dates.get(text)
        if found is None:
            found = self._parse_date(text)
            if len(self._dates) < DATES_CACHED:
                self._dates[text] = found
        if isinstance(found, str):
            self._error(line, "date", found, text)
            return self.today
        return found

    def _parse_date(self, text: str) -> date | str:
        """The date, or what is wrong with it. A time of midnight after it (a date cell of a spreadsheet saved
        as text: 2020-06-01 00:00:00) is the same date."""
        if not text:
            return "required, but empty"
        match = _DATE.match(normalise(text))
        if not match:
            return "not a date like 2020-06-01 or 2020/6/1"
        try:
            day = date(*(int(g) for g in match.groups()))
        except ValueError:
            return "not a real date"
        if day > self.today:
            return f"in the future (today is {self.today.isoformat()})"
        if day < FIRST_DATE:
            return f"before {FIRST_DATE.isoformat()}, the first day of FY{FIRST_FISCAL_YEAR}"
        return day

    def _staff(self, line: int, text: str) -> str:
        if not text:
            self._error(line, "staff", "required, but empty")
        elif len(text) > STAFF_NAME_MAX:
            self._error(line, "staff", f"a name longer than {STAFF_NAME_MAX} characters", text)
        elif has_control(text):
            self._error(line, "staff", "a name with control characters", text)
        return text

    def _record_id(self, line: int, text: str) -> str | None:
        if not text:
            return None
        if len(text) > RECORD_ID_MAX:
            self._error(line, RECORD_ID, f"an id longer than {RECORD_ID_MAX} characters", text)
        elif has_control(text):
            self._error(line, RECORD_ID, "an id with control characters", text)
        elif (first := self._record_lines.get(text)) is not None:
            self._error(line, RECORD_ID, f"the same record_id as line {first}", text)
        else:
            self._record_lines[text] = line
        return text

    def _headcount(self, line: int, text: str) -> int | None:
        if not text:
            return None
        number = whole_number(text)
        if number is None or number > HEADCOUNT_MAX:
            self._error(line, "headcount", f"must be a whole number from 0 to {HEADCOUNT_MAX}", text)
            return None
        return number

    def _consulter_category(self, line: int, group: str, text: str) -> str | None:
        # Empty is allowed for every group: older records often lack the sub-category, and such a
        # consultation is counted in its group's total only.
        if not text or not group:
            return None
        lookup = self._categories.get(group)
        if lookup is None:
            categories = self.taxonomy.categories_of(group)

            def resolve(value: str) -> str | None:
                found = categories.resolve(value)
                return found.code if found else None

            lookup = self._categories[group] = Lookup(resolve)
        code = lookup(text)
        if code is None:
            if not len(self.taxonomy.categories_of(group)):
                self._error(line, "consulter_category", f"consulter group {group} has no sub-categories", text)
            else:
                self._error(line, "consulter_category", f"not a sub-category of consulter group {group}", text)
        return code

    def _from_agency(self, line: int, text: str) -> str | None:
        if not text:
            return None  # an agency consultation that does not say who consulted: counted as 不明
        if "|" in text:
            self._error(line, "from_agency", "one agency only (the agency that consulted)", text)
            return None
        code = self._agency(text)
        if code is None:
            self._error(line, "from_agency", "not a code or label of an agency", text)
        return code

    def _agencies(self, line: int, column: str, text: str) -> tuple[str, ...]:
        if not text:
            return ()
        codes: list[str] = []
        for part in text.split("|"):
            name = part.strip()
            if not name:
                self._error(line, column, "an empty name between '|' separators", text)
                continue
            code = self._agency(name)
            if code is None:
                self._error(line, column, "not a code or label of an agency", name)
            elif code in codes:
                self._error(line, column, "the same agency is listed twice", name)
            else:
                codes.append(code)
        return tuple(codes)

    def _at_outing(self, line: int, text: str, channel: str) -> bool:
        if not text:
            return channel == self.taxonomy.outing_channel
        answer = self._answers.get(text.lower())
        if answer is None:
            self._error(line, "at_outing", "must be yes, no or empty", text)
        return bool(answer)


def reader_for(
    kind: ImportKind, source: SourceFile, taxonomy: Taxonomy, *, today: date, errors: ErrorList | None = None
) -> RecordsReader | BaselineReader:
    if kind == "records":
        return RecordsReader(source, taxonomy, today=today, errors=errors)
    return BaselineReader(source, taxonomy, today=today, errors=errors)
