"""The common part of the historical-data CSV readers: lines, CSV parsing, the header, blank rows, line
numbers, lookups of codes and labels, and the file's fingerprint (see core/importing.py for the records)."""

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
    show,
    unescape_formula,
)
from core.dates import normalise
from core.taxonomy import Taxonomy

ImportKind = Literal["records", "baseline"]

# The first fiscal year of 平成; anything earlier in a council's history file is a typo.
FIRST_FISCAL_YEAR: Final = 1989
FIRST_DATE: Final = date(FIRST_FISCAL_YEAR, 4, 1)

_GROUPED_NUMBER: Final = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_CACHE_MAX: Final = 10_000
_SUM_MASK: Final = (1 << 256) - 1

RowT = TypeVar("RowT")

__all__ = ["FIRST_DATE", "FIRST_FISCAL_YEAR", "ImportKind", "Lookup", "Reader"]


class Lookup:
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


def dimension_lookup(taxonomy: Taxonomy, name: str) -> Lookup:
    dimension = taxonomy.dimension(name)

    def resolve(text: str) -> str | None:
        found = dimension.resolve(text)
        return found.code if found else None

    return Lookup(resolve)


def area_lookup(taxonomy: Taxonomy) -> Lookup:
    def resolve(text: str) -> str | None:
        found = taxonomy.resolve_area(text)
        return found.code if found else None

    return Lookup(resolve)


@functools.lru_cache(maxsize=1024)
def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def whole_number(text: str) -> int | None:
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


class Reader(Generic[RowT]):
    """The common part of both readers: lines, CSV parsing, the header, blank rows, line numbers, and the
    file's fingerprint (see `fingerprint`)."""

    kind: ImportKind
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()  # known columns left out of the hint for an unknown one
    hint: tuple[str, ...] = ()  # the columns the hint for an unknown one names, in its order (default: all)
    usual: tuple[str, ...] = ()  # the header of a usual file, named when a file is empty (default: required)

    def aliases(self) -> dict[str, str]:
        """Other names of columns (their headers in another language) -> the column's name."""
        return {}

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
            self.errors.line(1, f"the file is empty: expected a header row ({','.join(self.usual or self.required)})")
        elif not self.rows and not lines.stopped:
            self.errors.line(header_line, "the file has a header but no data rows")

    def _read_header(self, line: int, cells: list[str]) -> None:
        header = _Header(width=len(cells))
        before = self.errors.total
        known = set(self.required) | set(self.optional) | set(self.unlisted)
        aliases = self.aliases()
        for position, raw in enumerate(cells, start=1):
            name = raw.strip().lower()
            name = aliases.get(nfkc(name), name)
            if not name:
                header.unnamed.append(position - 1)  # Excel's trailing empty columns: fine while they stay empty
            elif name not in known:
                expected = ", ".join(self.hint or (*self.required, *self.optional))
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
