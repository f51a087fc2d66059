"""Streaming readers for the historical-data CSV imports: detect the encoding, validate every cell, yield typed rows."""

from __future__ import annotations

import csv
import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Generic, Literal, TypeVar

from core.csvfile import (
    QUOTE,
    ErrorList,
    LineReader,
    SourceFile,
    has_control,
    show,
    unescape_formula,
)
from core.dates import normalise
from core.periods import fiscal_year_of
from core.taxonomy import Taxonomy

ImportKind = Literal["records", "baseline"]

BaselineDimension = Literal["activity", "destination", "channel", "consulter", "topic", "agency", "consulter_category"]
BASELINE_DIMENSIONS: Final[tuple[BaselineDimension, ...]] = (
    "activity",
    "destination",
    "channel",
    "consulter",
    "topic",
    "agency",
    "consulter_category",
)

HEADCOUNT_MAX: Final = 100_000
BASELINE_COUNT_MAX: Final = 100_000_000
STAFF_NAME_MAX: Final = 64
# The first fiscal year of 平成; anything earlier in a council's history file is a typo.
FIRST_FISCAL_YEAR: Final = 1989
FIRST_DATE: Final = date(FIRST_FISCAL_YEAR, 4, 1)


_DATE: Final = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_FISCAL_YEAR: Final = re.compile(r"^(?:FY)?(\d{4})$", re.IGNORECASE)
_GROUPED_NUMBER: Final = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_CACHE_MAX: Final = 10_000
_SUM_MASK: Final = (1 << 256) - 1

RECORD_REQUIRED: Final = ("kind", "date", "staff", "area", "activity", "destination", "channel", "consulter")
# Columns whose cells may be empty on every row may be left out of the file altogether.
RECORD_OPTIONAL: Final = ("headcount", "consulter_category", "topic", "agencies", "at_outing")
# Written by `fieldbot export`, read back by the import; not named in the hint of an unknown column (a person
# writing a file leaves it out: the import gives every record an id of its own).
RECORD_ID: Final = "record_id"
RECORD_ID_MAX: Final = 100
OUTING_ONLY: Final = ("activity", "destination", "headcount")
CONSULTATION_ONLY: Final = ("channel", "consulter", "consulter_category", "topic", "agencies", "at_outing")
BASELINE_REQUIRED: Final = ("fiscal_year", "dimension", "category", "count")


# ---- rows ----


@dataclass(frozen=True, slots=True)
class OutingRow:
    line: int
    date: date
    staff: str
    area: str
    activity: str
    destination: str
    headcount: int | None
    record_id: str | None = None  # the id an export gave it; None: a record the file brings for the first time


@dataclass(frozen=True, slots=True)
class ConsultationRow:
    line: int
    date: date
    staff: str
    area: str
    channel: str
    consulter: str
    consulter_category: str | None  # None: historical data without it; counted in the group only
    topic: str | None
    agencies: tuple[str, ...]
    at_outing: bool
    record_id: str | None = None


RecordRow = OutingRow | ConsultationRow


@dataclass(frozen=True, slots=True)
class BaselineRow:
    line: int
    fiscal_year: int
    dimension: BaselineDimension
    category: str  # a code; for consulter_category "group/category" codes
    count: int


RowT = TypeVar("RowT", bound=OutingRow | ConsultationRow | BaselineRow)


class _Lookup:
    """A taxonomy resolver (code or label to code) with a bounded cache: most files repeat a few dozen values."""

    def __init__(self, resolve: Callable[[str], str | None]) -> None:
        self._resolve = resolve
        self._cache: dict[str, str | None] = {}

    def __call__(self, text: str) -> str | None:
        try:
            return self._cache[text]
        except KeyError:
            found = self._resolve(text)
            if len(self._cache) < _CACHE_MAX:
                self._cache[text] = found
            return found


def _dimension_lookup(taxonomy: Taxonomy, name: str) -> _Lookup:
    dimension = taxonomy.dimension(name)

    def resolve(text: str) -> str | None:
        found = dimension.resolve(text)
        return found.code if found else None

    return _Lookup(resolve)


def _area_lookup(taxonomy: Taxonomy) -> _Lookup:
    def resolve(text: str) -> str | None:
        found = taxonomy.resolve_area(text)
        return found.code if found else None

    return _Lookup(resolve)


@functools.lru_cache(maxsize=1024)
def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _whole_number(text: str) -> int | None:
    """A non-negative whole number, also written with full-width digits or thousands separators."""
    text = normalise(text)
    if _GROUPED_NUMBER.match(text):
        text = text.replace(",", "")
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text)


@dataclass(slots=True)
class _Header:
    index: dict[str, int] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    unnamed: list[int] = field(default_factory=list)  # positions of columns with an empty header cell
    width: int = 0
    ok: bool = True


class _Reader(Generic[RowT]):
    """The common part of both readers: lines, CSV parsing, the header, blank rows, line numbers, and the
    file's fingerprint (see `fingerprint`)."""

    kind: ImportKind
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()  # known columns left out of the hint for an unknown one

    def __init__(self, source: SourceFile, taxonomy: Taxonomy, *, today: date, errors: ErrorList | None = None) -> None:
        self.source = source
        self.taxonomy = taxonomy
        self.today = today
        self.errors = errors if errors is not None else ErrorList()
        self.rows = 0  # data rows read, valid or not
        self._digest: str | None = None
        self._header = _Header()
        self._row_sum = 0  # the sum of the valid rows' hashes, modulo 2**256
        self._row_count = 0
        self.fingerprinting = True  # False: no fingerprint (a second pass over a file already fingerprinted)

    @property
    def sha256(self) -> str | None:
        """The digest of the bytes read, once the file has been read to its end (None before)."""
        return self._digest

    @property
    def fingerprint(self) -> str | None:
        """What the file says, not how it is written: the same for every file that would write the same rows.

        Each valid row is hashed as the values it would write (codes for codes or labels, dates and numbers
        parsed, staff names NFKC-normalised, agencies as a set), so the encoding, BOM, line endings, column
        order, empty columns and blank lines, and what a spreadsheet changes when it saves the file again
        (2020/6/1 for 2020-06-01, １２ for 12, a label for a code), change nothing. The file's
        fingerprint hashes the count and the sum of the row hashes (modulo 2**256): the multiset of rows, in
        any order (rows sorted another way are the same records; the same row twice counts twice), in constant
        memory. None until the file has been read to its end. Only meaningful for a file without errors.
        """
        if self._digest is None or not self.fingerprinting:
            return None
        text = f"fieldbot-rows-1|{self.kind}|{self._row_count}|{self._row_sum:064x}"
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def _add_to_fingerprint(self, row: RowT) -> None:
        # The repr of a tuple of str, int, bool and None: unambiguous, stable, and quicker than JSON.
        digest = hashlib.sha256(repr(self._canonical(row)).encode("utf-8")).digest()
        self._row_sum = (self._row_sum + int.from_bytes(digest, "big")) & _SUM_MASK
        self._row_count += 1

    def _canonical(self, row: RowT) -> tuple[object, ...]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[RowT]:
        if self.source.encoding == "utf-16":
            self.errors.line(1, 'the file is UTF-16 text; save it from Excel as "CSV UTF-8" or "CSV" instead')
            return
        with self.source.path.open("rb") as stream:
            lines = LineReader(stream, self.source.encoding, self.errors)
            reader = csv.reader(lines)
            header_line = 0
            try:
                last = 0  # physical lines consumed before the current record
                for cells in reader:
                    line, last = last + 1, reader.line_num
                    if not "".join(cells).strip():
                        continue  # blank lines, trailing empty lines, rows of empty cells from Excel
                    if not header_line:
                        header_line = line
                        self._read_header(line, cells)
                        continue
                    row = self._data_row(line, cells)
                    if row is not None:
                        if self.fingerprinting:
                            self._add_to_fingerprint(row)
                        yield row
            except csv.Error as exc:
                reason = str(exc).split(" - ")[0]  # drop Python's hint about opening files in newline mode
                self.errors.line(reader.line_num, f"not readable as CSV ({reason}); reading stopped here")
                lines.stopped = True
            self._finish(lines, header_line)

    def _data_row(self, line: int, cells: list[str]) -> RowT | None:
        """One data row, checked; None when it has an error (recorded) or the header had one."""
        self.rows += 1
        if len(cells) != self._header.width:
            self.errors.line(line, f"{len(cells)} cells where the header has {self._header.width}")
            return None
        before = self.errors.total
        for at in self._header.unnamed:
            if value := cells[at].strip():
                self.errors.cell(line, f"#{at + 1}", "a value in a column with no header", value)
        # Stripped cells by column name; a column left out of the file is absent (read as ""). The ' that an
        # export puts before a cell a spreadsheet would take for a formula (=1+1 written '=1+1) is taken off.
        values = {name: cells[at].strip() for name, at in self._header.index.items()}
        if QUOTE in "".join(cells):  # rare: the check per cell would cost every row of a large file
            values = {name: unescape_formula(value) for name, value in values.items()}
        row = self._row(line, values)
        return row if row is not None and self.errors.total == before and self._header.ok else None

    def _finish(self, lines: LineReader, header_line: int) -> None:
        if lines.stopped:
            lines.drain()
        self._digest = lines.digest.hexdigest()
        if not header_line:
            self.errors.line(1, f"the file is empty: expected a header row ({','.join(self.required)})")
        elif not self.rows and not lines.stopped:
            self.errors.line(header_line, "the file has a header but no data rows")

    def _read_header(self, line: int, cells: list[str]) -> None:
        header = _Header(width=len(cells))
        before = self.errors.total
        known = set(self.required) | set(self.optional) | set(self.unlisted)
        for position, raw in enumerate(cells, start=1):
            name = raw.strip().lower()
            if not name:
                header.unnamed.append(position - 1)  # Excel's trailing empty columns: fine while they stay empty
            elif name not in known:
                expected = ", ".join((*self.required, *self.optional))
                self.errors.cell(line, show(name), f"unknown column (expected: {expected})")
            elif name in header.index:
                self.errors.cell(line, name, "the column appears twice")
            else:
                header.index[name] = position - 1
        for name in self.required:
            if name not in header.index:
                self.errors.cell(line, name, "required column is missing")
                header.missing.add(name)
        header.ok = self.errors.total == before
        self._header = header

    def _error(self, line: int, column: str, problem: str, value: str = "") -> None:
        # A missing column was reported once, on the header line: its empty cells are not errors again.
        if column not in self._header.missing:
            self.errors.cell(line, column, problem, value)

    def _row(self, line: int, cells: dict[str, str]) -> RowT | None:
        raise NotImplementedError


class RecordsReader(_Reader[RecordRow]):
    """Rows of `fieldbot import records`: outings and consultations, every category as a code or a label.

    Columns (any order): kind, date, staff, area, activity, destination, channel, consulter are required;
    headcount, consulter_category, topic, agencies, at_outing may be left out (their cells may be empty anyway).
    A cell that belongs to the other kind of row (a channel on an outing row, say) must be empty. record_id
    (written by `fieldbot export`) may be empty, and is unique in the file: rows added by hand have none.
    """

    kind: ImportKind = "records"
    required = RECORD_REQUIRED
    optional = RECORD_OPTIONAL
    unlisted = (RECORD_ID,)

    def __init__(self, source: SourceFile, taxonomy: Taxonomy, *, today: date, errors: ErrorList | None = None) -> None:
        super().__init__(source, taxonomy, today=today, errors=errors)
        self._area = _area_lookup(taxonomy)
        self._activity = _dimension_lookup(taxonomy, "activity")
        self._destination = _dimension_lookup(taxonomy, "destination")
        self._channel = _dimension_lookup(taxonomy, "channel")
        self._consulter = _dimension_lookup(taxonomy, "consulter")
        self._topic = _dimension_lookup(taxonomy, "topic")
        self._agency = _dimension_lookup(taxonomy, "agency")
        self._categories: dict[str, _Lookup] = {}
        self._dates: dict[str, date | str] = {}
        self._record_lines: dict[str, int] = {}  # record_id -> its line (only files that have the column)

    def _canonical(self, row: RecordRow) -> tuple[object, ...]:
        staff, day, record_id = _nfkc(row.staff), row.date.toordinal(), row.record_id or ""
        if isinstance(row, OutingRow):
            return ("outing", day, staff, row.area, row.activity, row.destination, row.headcount, record_id)
        return (
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

    def _row(self, line: int, cells: dict[str, str]) -> RecordRow | None:
        kind_text = cells.get("kind", "")
        kind = kind_text.lower()
        if kind not in ("outing", "consultation"):
            self._error(
                line, "kind", "must be outing or consultation" if kind_text else "required, but empty", kind_text
            )
        day = self._date(line, cells.get("date", ""))
        staff = self._staff(line, cells.get("staff", ""))
        area = self._required(line, cells, "area", self._area, "an area")
        record_id = self._record_id(line, cells.get(RECORD_ID, ""))
        if kind == "outing":
            self._empty(line, cells, CONSULTATION_ONLY, "an outing")
            activity = self._required(line, cells, "activity", self._activity, "an activity")
            destination = self._required(line, cells, "destination", self._destination, "a destination")
            headcount = self._headcount(line, cells.get("headcount", ""))
            return OutingRow(line, day, staff, area, activity, destination, headcount, record_id)
        if kind == "consultation":
            self._empty(line, cells, OUTING_ONLY, "a consultation")
            channel = self._required(line, cells, "channel", self._channel, "a channel")
            consulter = self._required(line, cells, "consulter", self._consulter, "a consulter group")
            category = self._consulter_category(line, consulter, cells.get("consulter_category", ""))
            topic_cell = cells.get("topic", "")
            topic = self._topic(topic_cell) if topic_cell else None
            if topic_cell and topic is None:
                self._error(line, "topic", "not a code or label of a topic", topic_cell)
            agencies = self._agencies(line, cells.get("agencies", ""))
            at_outing = self._at_outing(line, cells.get("at_outing", ""), channel)
            return ConsultationRow(
                line, day, staff, area, channel, consulter, category, topic, agencies, at_outing, record_id
            )
        return None

    def _required(self, line: int, cells: dict[str, str], column: str, lookup: _Lookup, what: str) -> str:
        text = cells.get(column, "")
        if not text:
            self._error(line, column, "required, but empty")
            return ""
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
            if len(self._dates) < _CACHE_MAX:
                self._dates[text] = found
        if isinstance(found, str):
            self._error(line, "date", found, text)
            return self.today
        return found

    def _parse_date(self, text: str) -> date | str:
        """The date, or what is wrong with it."""
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
        number = _whole_number(text)
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

            lookup = self._categories[group] = _Lookup(resolve)
        code = lookup(text)
        if code is None:
            if not len(self.taxonomy.categories_of(group)):
                self._error(line, "consulter_category", f"consulter group {group} has no sub-categories", text)
            else:
                self._error(line, "consulter_category", f"not a sub-category of consulter group {group}", text)
        return code

    def _agencies(self, line: int, text: str) -> tuple[str, ...]:
        if not text:
            return ()
        codes: list[str] = []
        for part in text.split("|"):
            name = part.strip()
            if not name:
                self._error(line, "agencies", "an empty name between '|' separators", text)
                continue
            code = self._agency(name)
            if code is None:
                self._error(line, "agencies", "not a code or label of an agency", name)
            elif code in codes:
                self._error(line, "agencies", "the same agency is listed twice", name)
            else:
                codes.append(code)
        return tuple(codes)

    def _at_outing(self, line: int, text: str, channel: str) -> bool:
        if not text:
            return channel == self.taxonomy.outing_channel
        answer = text.lower()
        if answer not in ("yes", "no"):
            self._error(line, "at_outing", "must be yes, no or empty", text)
        return answer == "yes"


class BaselineReader(_Reader[BaselineRow]):
    """Rows of `fieldbot import baseline`: fiscal_year,dimension,category,count (any column order).

    consulter_category cells are `group/sub-category`, each side a code or a label (labels such as その他
    repeat across groups). The same (fiscal year, dimension, category) twice in one file is an error.
    """

    kind: ImportKind = "baseline"
    required = BASELINE_REQUIRED

    def __init__(self, source: SourceFile, taxonomy: Taxonomy, *, today: date, errors: ErrorList | None = None) -> None:
        super().__init__(source, taxonomy, today=today, errors=errors)
        self.last_fiscal_year = fiscal_year_of(today).fiscal_year
        self._lookups = {
            name: _dimension_lookup(taxonomy, name) for name in BASELINE_DIMENSIONS if name != "consulter_category"
        }
        self._pairs = _Lookup(self._resolve_pair)
        self._seen: dict[tuple[int, str, str], int] = {}

    @property
    def keys(self) -> list[tuple[int, str, str]]:
        """(fiscal_year, dimension, category) of every valid row read so far."""
        return list(self._seen)

    def _canonical(self, row: BaselineRow) -> tuple[object, ...]:
        return (row.fiscal_year, row.dimension, row.category, row.count)

    def _row(self, line: int, cells: dict[str, str]) -> BaselineRow | None:
        year_text = cells.get("fiscal_year", "")
        year = self._fiscal_year(line, year_text)
        dimension_text = cells.get("dimension", "")
        dimension = next((d for d in BASELINE_DIMENSIONS if d == dimension_text.lower()), None)
        if dimension is None:
            problem = (
                "required, but empty" if not dimension_text else f"must be one of {', '.join(BASELINE_DIMENSIONS)}"
            )
            self._error(line, "dimension", problem, dimension_text)
        category_text = cells.get("category", "")
        category = self._category(line, dimension, category_text)
        count_text = cells.get("count", "")
        count = _whole_number(count_text) if count_text else None
        if count is None or count > BASELINE_COUNT_MAX:
            problem = (
                "required, but empty" if not count_text else f"must be a whole number from 0 to {BASELINE_COUNT_MAX}"
            )
            self._error(line, "count", problem, count_text)
            count = None
        if year is None or dimension is None or category is None or count is None:
            return None
        key = (year, dimension, category)
        first = self._seen.get(key)
        if first is not None:
            problem = f"the same fiscal year, dimension and category as line {first}"
            self._error(line, "category", problem, category_text)
            return None
        self._seen[key] = line
        return BaselineRow(line, year, dimension, category, count)

    def _fiscal_year(self, line: int, text: str) -> int | None:
        if not text:
            self._error(line, "fiscal_year", "required, but empty")
            return None
        match = _FISCAL_YEAR.match(normalise(text))
        if not match:
            self._error(line, "fiscal_year", "not a fiscal year like 2019 or FY2019", text)
            return None
        year = int(match.group(1))
        if not FIRST_FISCAL_YEAR <= year <= self.last_fiscal_year:
            self._error(line, "fiscal_year", f"must be from {FIRST_FISCAL_YEAR} to {self.last_fiscal_year}", text)
            return None
        return year

    def _category(self, line: int, dimension: BaselineDimension | None, text: str) -> str | None:
        if not text:
            self._error(line, "category", "required, but empty")
            return None
        if dimension is None:
            return None  # cannot be checked without its dimension, which is reported already
        if dimension == "consulter_category":
            if "/" not in text:
                self._error(
                    line, "category", "must be group/sub-category (codes or labels), like volunteer/other", text
                )
                return None
            pair = self._pairs(text)
            if pair is None:
                self._error(line, "category", "not a consulter group and one of its sub-categories", text)
            return pair
        code = self._lookups[dimension](text)
        if code is None:
            self._error(line, "category", f"not a code or label of {dimension}", text)
        return code

    def _resolve_pair(self, text: str) -> str | None:
        # A label may itself contain "/": try every split, group on the left and sub-category on the right.
        for at in (i for i, char in enumerate(text) if char == "/"):
            group = self.taxonomy.consulter.resolve(text[:at])
            if group is None:
                continue
            category = self.taxonomy.categories_of(group.code).resolve(text[at + 1 :])
            if category is not None:
                return f"{group.code}/{category.code}"
        return None


def reader_for(
    kind: ImportKind, source: SourceFile, taxonomy: Taxonomy, *, today: date, errors: ErrorList | None = None
) -> RecordsReader | BaselineReader:
    if kind == "records":
        return RecordsReader(source, taxonomy, today=today, errors=errors)
    return BaselineReader(source, taxonomy, today=today, errors=errors)
